//! Caller ID (on-hook data transmission): FSK demodulation (Bell 202 and ITU-T V.23,
//! 1200 baud), SDMF/MDMF message parsing with checksum, DTMF CLIP, and the matching
//! generators.
//!
//! The decoder takes audio; *when* to listen (between the first and the second ring,
//! or before ringing after a polarity reversal) is the line state machine's business.
//!
//! # Signal chain of [`FskDemodulator`]
//!
//! 1. Two 2nd-order high-pass sections at 600 Hz (DC and mains hum: −80 dB at 50 Hz)
//!    and a 2nd-order low-pass at 3 kHz.
//! 2. Two complex correlators over the last 7 samples (≈ one bit), one at the mark and
//!    one at the space frequency, scaled so that both tones give the same power
//!    through the filters. The bit decision is `mark power ≥ space power`.
//! 3. Carrier detection: smoothed correlator power above `min_level_dbm0`.
//! 4. An asynchronous receiver (8N1) that resynchronises on every start-bit edge and
//!    samples each bit where the correlation window covers exactly that bit.
//! 5. Framing: a message starts with a known message type after at least
//!    `min_mark_bits` of continuous mark (channel seizure characters are skipped),
//!    is `type, length, length bytes, checksum`, and is accepted only when the
//!    modulo-256 sum of all its bytes is zero.
//! 6. The mark and space frequencies are measured over the message (phase advance of
//!    the correlators), which tells Bell 202 (1200/2200 Hz) from V.23 (1300/2100 Hz).
//!
//! The streaming paths ([`FskDemodulator::push`], [`ClipDecoder::push`],
//! [`CallerIdDecoder::push`]) do not allocate; events carry fixed-size buffers, and
//! [`FskMessage::caller_id`] / [`ClipMessage::caller_id`] build the (allocating)
//! [`CallerId`] when the caller wants it.

use super::SAMPLE_RATE;
use super::dtmf::{DtmfDetector, DtmfEvent, DtmfGenParams, generate_with};
use super::level::dbm0_to_peak;

/// Baud rate of both FSK standards.
pub const BAUD: f32 = 1200.0;

/// SDMF caller ID message type (Bell GR-30 "single data message format").
pub const MSG_SDMF_CALLER_ID: u8 = 0x04;
/// SDMF message-waiting indicator.
pub const MSG_SDMF_MWI: u8 = 0x06;
/// MDMF caller ID (Bell) / ETSI "call set-up" message type.
pub const MSG_MDMF_CALL_SETUP: u8 = 0x80;
/// ETSI message-waiting indicator.
pub const MSG_MDMF_MWI: u8 = 0x82;
/// ETSI advice of charge.
pub const MSG_MDMF_AOC: u8 = 0x86;
/// ETSI short message service.
pub const MSG_MDMF_SMS: u8 = 0x89;

/// Message types the receiver accepts as the start of a message.
const KNOWN_TYPES: [u8; 6] = [
    MSG_SDMF_CALLER_ID,
    MSG_SDMF_MWI,
    MSG_MDMF_CALL_SETUP,
    MSG_MDMF_MWI,
    MSG_MDMF_AOC,
    MSG_MDMF_SMS,
];

/// MDMF parameter: date and time, 8 ASCII digits `MMDDHHMM`.
pub const PARAM_DATE_TIME: u8 = 0x01;
/// MDMF parameter: calling line identity (the number).
pub const PARAM_NUMBER: u8 = 0x02;
/// MDMF parameter (ETSI): called line identity.
pub const PARAM_CALLED_NUMBER: u8 = 0x03;
/// MDMF parameter: reason for absence of the number (`'O'` unavailable, `'P'` private).
pub const PARAM_NUMBER_ABSENT: u8 = 0x04;
/// MDMF parameter: calling party name.
pub const PARAM_NAME: u8 = 0x07;
/// MDMF parameter: reason for absence of the name (`'O'` unavailable, `'P'` private).
pub const PARAM_NAME_ABSENT: u8 = 0x08;
/// MDMF parameter (ETSI): call type.
pub const PARAM_CALL_TYPE: u8 = 0x11;

/// Largest message: type, length, 255 bytes, checksum.
pub const MAX_FRAME: usize = 258;

/// Longest DTMF CLIP string kept (start code, number, end code).
pub const MAX_CLIP: usize = 40;

// ---------------------------------------------------------------------------
// Standards
// ---------------------------------------------------------------------------

/// An FSK caller ID standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FskStandard {
    /// Telcordia GR-30 / Bell 202: mark 1200 Hz, space 2200 Hz.
    Bell202,
    /// ETSI EN 300 659 / ITU-T V.23: mark 1300 Hz, space 2100 Hz.
    V23,
}

impl FskStandard {
    /// Mark (binary 1) frequency, Hz.
    pub fn mark_hz(self) -> f32 {
        match self {
            Self::Bell202 => 1200.0,
            Self::V23 => 1300.0,
        }
    }

    /// Space (binary 0) frequency, Hz.
    pub fn space_hz(self) -> f32 {
        match self {
            Self::Bell202 => 2200.0,
            Self::V23 => 2100.0,
        }
    }

    /// Short name: `bell202` or `v23`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bell202 => "bell202",
            Self::V23 => "v23",
        }
    }

    /// The standard whose mark frequency is nearest to the measured one (the mark is
    /// the better measured tone: within a few Hz, against 100 Hz between the
    /// standards).
    pub fn classify(mark_hz: f32) -> Self {
        let d = |s: Self| (mark_hz - s.mark_hz()).abs();
        if d(Self::Bell202) <= d(Self::V23) {
            Self::Bell202
        } else {
            Self::V23
        }
    }
}

/// What a [`CallerIdDecoder`] listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signalling {
    /// Bell 202 and V.23 FSK (told apart by their measured frequencies) and DTMF CLIP.
    Auto,
    /// Bell 202 FSK only.
    Bell202,
    /// V.23 FSK only.
    V23,
    /// DTMF CLIP only.
    Dtmf,
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// Message layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageFormat {
    /// Single data message format (type below 0x80): fixed fields.
    Sdmf,
    /// Multiple data message format (type 0x80 and up): type-length-value parameters.
    Mdmf,
    /// DTMF CLIP string.
    DtmfClip,
}

impl MessageFormat {
    /// Short name: `sdmf`, `mdmf` or `dtmf`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sdmf => "sdmf",
            Self::Mdmf => "mdmf",
            Self::DtmfClip => "dtmf",
        }
    }
}

/// Why a number or name is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Absence {
    /// Unavailable / out of area (`'O'`, DTMF `B00C`).
    Unavailable,
    /// Withheld by the caller (`'P'`, DTMF `B10C`).
    Private,
    /// Another code (the raw byte, or the two-digit DTMF code).
    Other(u8),
}

impl Absence {
    fn from_byte(b: u8) -> Self {
        match b {
            b'O' => Self::Unavailable,
            b'P' => Self::Private,
            b => Self::Other(b),
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            Self::Unavailable => b'O',
            Self::Private => b'P',
            Self::Other(b) => b,
        }
    }

    /// `unavailable`, `private` or `other`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Private => "private",
            Self::Other(_) => "other",
        }
    }
}

/// Date and time of a call as sent by the exchange (no year, no time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
}

impl DateTime {
    /// Parses 8 ASCII digits `MMDDHHMM`, checking the ranges.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
        let dt = Self {
            month: two(0),
            day: two(2),
            hour: two(4),
            minute: two(6),
        };
        dt.is_valid().then_some(dt)
    }

    /// Whether all fields are in range.
    pub fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
    }

    /// The 8 ASCII digits `MMDDHHMM`.
    pub fn to_digits(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        for (i, v) in [self.month, self.day, self.hour, self.minute]
            .into_iter()
            .enumerate()
        {
            out[2 * i] = b'0' + (v / 10) % 10;
            out[2 * i + 1] = b'0' + v % 10;
        }
        out
    }
}

impl core::fmt::Display for DateTime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:02}-{:02} {:02}:{:02}",
            self.month, self.day, self.hour, self.minute
        )
    }
}

/// One MDMF parameter, raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Parameter type.
    pub kind: u8,
    /// Parameter value bytes.
    pub value: Vec<u8>,
}

/// A decoded caller ID message (or the content to encode).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallerId {
    /// Message type (0x04 SDMF, 0x80 MDMF / ETSI call set-up, …; 0 for DTMF CLIP).
    pub message_type: u8,
    /// Date and time of the call.
    pub date_time: Option<DateTime>,
    /// Calling number.
    pub number: Option<String>,
    /// Why the calling number is absent.
    pub number_absent: Option<Absence>,
    /// Calling name.
    pub name: Option<String>,
    /// Why the name is absent.
    pub name_absent: Option<Absence>,
    /// Called number (ETSI parameter 0x03).
    pub called_number: Option<String>,
    /// Call type (ETSI parameter 0x11).
    pub call_type: Option<u8>,
    /// All MDMF parameters in order of transmission (empty for SDMF and DTMF).
    pub params: Vec<Param>,
}

/// Why a message could not be parsed or encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// Fewer bytes than the header and the checksum need.
    TooShort {
        /// Bytes present.
        len: usize,
    },
    /// The length byte does not match the number of bytes.
    LengthMismatch {
        /// Length announced in the header.
        declared: usize,
        /// Bytes actually present between header and checksum.
        actual: usize,
    },
    /// The modulo-256 sum of the message is not zero.
    ChecksumMismatch {
        /// Checksum byte received.
        received: u8,
        /// Checksum computed over the rest of the message.
        computed: u8,
    },
    /// An MDMF parameter runs past the end of the message.
    ParamOverrun {
        /// Type of the offending parameter.
        kind: u8,
    },
    /// A field has an invalid value (e.g. a date that is not `MMDDHHMM`).
    BadField(&'static str),
    /// A DTMF CLIP string that follows no known layout.
    BadClip(String),
    /// Content that cannot be encoded (too long, characters outside Latin-1, …).
    Unencodable(String),
}

impl core::fmt::Display for MessageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort { len } => write!(f, "message too short ({len} bytes)"),
            Self::LengthMismatch { declared, actual } => write!(
                f,
                "message length byte says {declared} bytes but {actual} are present"
            ),
            Self::ChecksumMismatch { received, computed } => write!(
                f,
                "checksum mismatch: received 0x{received:02x}, computed 0x{computed:02x}"
            ),
            Self::ParamOverrun { kind } => {
                write!(f, "parameter 0x{kind:02x} runs past the end of the message")
            }
            Self::BadField(what) => write!(f, "invalid {what}"),
            Self::BadClip(s) => write!(f, "unrecognised DTMF CLIP string {s:?}"),
            Self::Unencodable(why) => write!(f, "cannot encode: {why}"),
        }
    }
}

impl std::error::Error for MessageError {}

/// Checksum byte for `bytes`: the two's complement of their modulo-256 sum, so that
/// the sum of the whole message including the checksum is zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |a, &b| a.wrapping_add(b))
        .wrapping_neg()
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

fn to_latin1(s: &str, what: &str) -> Result<Vec<u8>, MessageError> {
    s.chars()
        .map(|c| {
            u8::try_from(u32::from(c)).map_err(|_| {
                MessageError::Unencodable(format!(
                    "{what} {s:?} contains {c:?}, which is outside Latin-1"
                ))
            })
        })
        .collect()
}

/// Parses a complete FSK message (`type, length, data, checksum`), verifying the
/// length and the checksum.
pub fn parse_message(frame: &[u8]) -> Result<CallerId, MessageError> {
    if frame.len() < 3 {
        return Err(MessageError::TooShort { len: frame.len() });
    }
    let declared = usize::from(frame[1]);
    let actual = frame.len() - 3;
    if declared != actual {
        return Err(MessageError::LengthMismatch { declared, actual });
    }
    let (body, ck) = frame.split_at(frame.len() - 1);
    let computed = checksum(body);
    if computed != ck[0] {
        return Err(MessageError::ChecksumMismatch {
            received: ck[0],
            computed,
        });
    }
    let ty = frame[0];
    let data = &body[2..];
    let mut id = CallerId {
        message_type: ty,
        ..CallerId::default()
    };
    if ty & 0x80 == 0 {
        if ty == MSG_SDMF_CALLER_ID {
            if data.len() < 8 {
                return Err(MessageError::BadField("SDMF date/time (needs 8 digits)"));
            }
            id.date_time = Some(
                DateTime::parse(&data[..8])
                    .ok_or(MessageError::BadField("SDMF date/time (MMDDHHMM)"))?,
            );
            let num = &data[8..];
            match num {
                [b'O'] | [b'P'] => id.number_absent = Some(Absence::from_byte(num[0])),
                [] => {}
                _ => id.number = Some(latin1(num)),
            }
        }
        return Ok(id);
    }
    let mut i = 0;
    while i < data.len() {
        let kind = data[i];
        let len = usize::from(*data.get(i + 1).ok_or(MessageError::ParamOverrun { kind })?);
        let value = data
            .get(i + 2..i + 2 + len)
            .ok_or(MessageError::ParamOverrun { kind })?;
        match kind {
            PARAM_DATE_TIME => {
                id.date_time = Some(
                    DateTime::parse(value)
                        .ok_or(MessageError::BadField("date/time parameter (MMDDHHMM)"))?,
                )
            }
            PARAM_NUMBER => id.number = Some(latin1(value)),
            PARAM_CALLED_NUMBER => id.called_number = Some(latin1(value)),
            PARAM_NUMBER_ABSENT => {
                id.number_absent = value.first().map(|&b| Absence::from_byte(b));
            }
            PARAM_NAME => id.name = Some(latin1(value)),
            PARAM_NAME_ABSENT => id.name_absent = value.first().map(|&b| Absence::from_byte(b)),
            PARAM_CALL_TYPE => id.call_type = value.first().copied(),
            _ => {}
        }
        id.params.push(Param {
            kind,
            value: value.to_vec(),
        });
        i += 2 + len;
    }
    Ok(id)
}

fn finish_frame(ty: u8, data: Vec<u8>) -> Result<Vec<u8>, MessageError> {
    let len = u8::try_from(data.len()).map_err(|_| {
        MessageError::Unencodable(format!(
            "the message body is {} bytes, at most 255 fit",
            data.len()
        ))
    })?;
    let mut out = Vec::with_capacity(data.len() + 3);
    out.push(ty);
    out.push(len);
    out.extend(data);
    out.push(checksum(&out));
    Ok(out)
}

impl CallerId {
    /// A caller ID with just a number.
    pub fn with_number(number: &str) -> Self {
        Self {
            number: Some(number.to_string()),
            ..Self::default()
        }
    }

    /// Encodes as SDMF (type 0x04): date/time (required) and the number, or `O`/`P`
    /// when it is absent. The name is not representable in SDMF and is an error.
    pub fn encode_sdmf(&self) -> Result<Vec<u8>, MessageError> {
        let dt = self
            .date_time
            .ok_or_else(|| MessageError::Unencodable("SDMF needs a date and time".to_string()))?;
        if !dt.is_valid() {
            return Err(MessageError::Unencodable(format!("invalid date/time {dt}")));
        }
        if self.name.is_some() {
            return Err(MessageError::Unencodable(
                "SDMF has no name field; use MDMF".to_string(),
            ));
        }
        let mut data = dt.to_digits().to_vec();
        match (&self.number, self.number_absent) {
            (Some(n), _) => data.extend(to_latin1(n, "number")?),
            (None, Some(a)) => data.push(a.to_byte()),
            (None, None) => data.push(b'O'),
        }
        finish_frame(MSG_SDMF_CALLER_ID, data)
    }

    /// Encodes as MDMF (type 0x80): date/time, number or reason for its absence, name
    /// or reason for its absence, called number, call type, in that order.
    pub fn encode_mdmf(&self) -> Result<Vec<u8>, MessageError> {
        let mut data = Vec::new();
        let mut param = |kind: u8, v: &[u8]| -> Result<(), MessageError> {
            let len = u8::try_from(v.len()).map_err(|_| {
                MessageError::Unencodable(format!("parameter 0x{kind:02x} is over 255 bytes"))
            })?;
            data.push(kind);
            data.push(len);
            data.extend_from_slice(v);
            Ok(())
        };
        if let Some(dt) = self.date_time {
            if !dt.is_valid() {
                return Err(MessageError::Unencodable(format!("invalid date/time {dt}")));
            }
            param(PARAM_DATE_TIME, &dt.to_digits())?;
        }
        match (&self.number, self.number_absent) {
            (Some(n), _) => param(PARAM_NUMBER, &to_latin1(n, "number")?)?,
            (None, Some(a)) => param(PARAM_NUMBER_ABSENT, &[a.to_byte()])?,
            (None, None) => {}
        }
        match (&self.name, self.name_absent) {
            (Some(n), _) => param(PARAM_NAME, &to_latin1(n, "name")?)?,
            (None, Some(a)) => param(PARAM_NAME_ABSENT, &[a.to_byte()])?,
            (None, None) => {}
        }
        if let Some(c) = &self.called_number {
            param(PARAM_CALLED_NUMBER, &to_latin1(c, "called number")?)?;
        }
        if let Some(t) = self.call_type {
            param(PARAM_CALL_TYPE, &[t])?;
        }
        finish_frame(MSG_MDMF_CALL_SETUP, data)
    }

    /// Encodes as a DTMF CLIP string: `<start><number><end>` (e.g. `A0123456C`), or
    /// `B00C` (unavailable) / `B10C` (private) when the number is absent.
    pub fn encode_clip(&self, style: ClipStyle) -> Result<String, MessageError> {
        match (&self.number, self.number_absent) {
            (Some(n), _) => {
                if n.is_empty() || n.len() > MAX_CLIP - 2 || !n.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(MessageError::Unencodable(format!(
                        "DTMF CLIP numbers are 1 to {} digits 0-9, got {n:?}",
                        MAX_CLIP - 2
                    )));
                }
                Ok(format!("{}{n}{}", style.start, style.end))
            }
            (None, Some(Absence::Private)) => Ok("B10C".to_string()),
            (None, Some(Absence::Other(c))) if c < 100 => Ok(format!("B{c:02}C")),
            (None, _) => Ok("B00C".to_string()),
        }
    }
}

// ---------------------------------------------------------------------------
// DTMF CLIP
// ---------------------------------------------------------------------------

/// Start and end codes of a DTMF CLIP string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipStyle {
    /// Start code: `'A'` (ETSI EN 300 659-1 annex) or `'D'` (e.g. Denmark, Brazil).
    pub start: char,
    /// End code: `'C'` or `'#'`.
    pub end: char,
}

impl Default for ClipStyle {
    fn default() -> Self {
        Self {
            start: 'A',
            end: 'C',
        }
    }
}

/// Parses a DTMF CLIP string:
///
/// * `A<digits>C`, `D<digits>C`, `A<digits>#`, `D<digits>#`: the calling number;
/// * `B<code>C`: information code, `00` unavailable, `10` private;
/// * `D1#` private, `D2#` / `D3#` unavailable (Danish special codes).
pub fn parse_clip(s: &str) -> Result<CallerId, MessageError> {
    let b = s.as_bytes();
    let bad = || MessageError::BadClip(s.to_string());
    if b.len() < 2 {
        return Err(bad());
    }
    let end = b[b.len() - 1];
    if end != b'C' && end != b'#' {
        return Err(bad());
    }
    let inner = &b[1..b.len() - 1];
    let mut id = CallerId::default();
    match b[0] {
        b'B' => {
            if inner.len() != 2 || !inner.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            let code = (inner[0] - b'0') * 10 + (inner[1] - b'0');
            id.number_absent = Some(match code {
                0 => Absence::Unavailable,
                10 => Absence::Private,
                c => Absence::Other(c),
            });
        }
        b'D' if end == b'#' && inner.len() == 1 && matches!(inner[0], b'1'..=b'3') => {
            id.number_absent = Some(if inner[0] == b'1' {
                Absence::Private
            } else {
                Absence::Unavailable
            });
        }
        b'A' | b'D' => {
            if inner.is_empty() || !inner.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            id.number = Some(latin1(inner));
        }
        _ => return Err(bad()),
    }
    Ok(id)
}

/// A DTMF CLIP string received by [`ClipDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipMessage {
    digits: [u8; MAX_CLIP],
    len: u8,
    /// Sample index of the first digit's onset.
    pub start_sample: u64,
    /// Sample index of the end code's onset.
    pub end_sample: u64,
}

impl ClipMessage {
    /// The received digits, start and end codes included.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or("")
    }

    /// Parses the digits (see [`parse_clip`]). Allocates.
    pub fn caller_id(&self) -> Result<CallerId, MessageError> {
        parse_clip(self.as_str())
    }
}

/// Streaming DTMF CLIP receiver on top of [`DtmfDetector`]: collects a string that
/// starts with `A`, `B` or `D` and ends with `C` or `#`.
#[derive(Debug, Clone)]
pub struct ClipDecoder {
    det: DtmfDetector,
    buf: [u8; MAX_CLIP],
    len: usize,
    start: u64,
    last: u64,
    /// Silence after the last digit that abandons an unterminated string, samples.
    timeout: u64,
}

impl Default for ClipDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClipDecoder {
    /// A decoder with the default DTMF detector; an unterminated string is abandoned
    /// after 1 s without digits.
    pub fn new() -> Self {
        Self {
            det: DtmfDetector::new(),
            buf: [0; MAX_CLIP],
            len: 0,
            start: 0,
            last: 0,
            timeout: u64::from(SAMPLE_RATE),
        }
    }

    /// Forgets any partial string and restarts the sample count.
    pub fn reset(&mut self) {
        self.det.reset();
        self.len = 0;
    }

    /// Feeds audio; reports complete strings and abandoned ones.
    pub fn push(&mut self, samples: &[i16], mut on_event: impl FnMut(CallerIdEvent)) {
        // The detector reports at most one digit per ~40 ms; process per 20 ms chunk so
        // the small local buffer never overflows.
        for chunk in samples.chunks(160) {
            let mut digits = [(0u8, 0u64); 4];
            let mut nd = 0;
            self.det.push(chunk, |e| {
                if let DtmfEvent::Start { digit, sample, .. } = e
                    && nd < digits.len()
                {
                    digits[nd] = (digit as u8, sample);
                    nd += 1;
                }
            });
            for &(d, s) in &digits[..nd] {
                self.digit(d, s, &mut on_event);
            }
            let now = self.det.samples_seen();
            if self.len > 0 && now.saturating_sub(self.last) > self.timeout {
                self.abandon(now, &mut on_event);
            }
        }
    }

    /// End of audio: reports a pending unterminated string.
    pub fn finish(&mut self, mut on_event: impl FnMut(CallerIdEvent)) {
        if self.len > 0 {
            let now = self.det.samples_seen();
            self.abandon(now, &mut on_event);
        }
    }

    fn abandon(&mut self, now: u64, on_event: &mut impl FnMut(CallerIdEvent)) {
        let mut partial = [0u8; MAX_CLIP];
        partial[..self.len].copy_from_slice(&self.buf[..self.len]);
        on_event(CallerIdEvent::Error(DecodeError {
            kind: DecodeErrorKind::UnterminatedClip {
                digits: partial,
                len: self.len as u8,
            },
            signalling: Signalling::Dtmf,
            sample: now,
        }));
        self.len = 0;
    }

    fn digit(&mut self, d: u8, sample: u64, on_event: &mut impl FnMut(CallerIdEvent)) {
        if self.len == 0 {
            if matches!(d, b'A' | b'B' | b'D') {
                self.buf[0] = d;
                self.len = 1;
                self.start = sample;
                self.last = sample;
            }
            return;
        }
        if matches!(d, b'A' | b'B') {
            // A new start code: the previous string was cut off.
            self.abandon(sample, on_event);
            self.digit(d, sample, on_event);
            return;
        }
        if self.len == MAX_CLIP {
            self.abandon(sample, on_event);
            return;
        }
        self.buf[self.len] = d;
        self.len += 1;
        self.last = sample;
        if matches!(d, b'C' | b'#') {
            on_event(CallerIdEvent::Clip(ClipMessage {
                digits: self.buf,
                len: self.len as u8,
                start_sample: self.start,
                end_sample: sample,
            }));
            self.len = 0;
        }
    }
}

/// Renders a DTMF CLIP string as audio: `on_ms` tone / `off_ms` pause per digit
/// (ETSI: 70 ms / 70 ms) at `level_dbm0` per tone.
pub fn clip_audio(clip: &str, level_dbm0: f32) -> Result<Vec<i16>, MessageError> {
    generate_with(
        clip,
        &DtmfGenParams {
            on_ms: 70,
            off_ms: 70,
            level_dbm0,
            twist_db: 0.0,
        },
    )
    .map_err(|e| MessageError::Unencodable(e.to_string()))
}

// ---------------------------------------------------------------------------
// FSK generator
// ---------------------------------------------------------------------------

/// Parameters of [`modulate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FskGenParams {
    /// Standard (mark and space frequencies).
    pub standard: FskStandard,
    /// Level of the FSK signal, dBm0 (GR-30: −13.5 dBm nominal; ETSI −13.5 dBV).
    pub level_dbm0: f32,
    /// Channel seizure: alternating bits, starting with 0 (Bell 300, ETSI 96–315).
    pub seizure_bits: u32,
    /// Mark bits between seizure and message (Bell 180, ETSI 80 ± 25).
    pub mark_bits: u32,
    /// Extra mark bits between characters of the message (ETSI allows up to 10).
    pub inter_char_mark_bits: u32,
    /// Mark bits after the checksum before the carrier stops.
    pub trailing_mark_bits: u32,
    /// Relative baud-rate error (0.01 = 1 % fast).
    pub baud_error: f64,
    /// Relative frequency error of both tones (0.01 = 1 % high).
    pub freq_error: f64,
    /// Silence before the signal, ms.
    pub lead_ms: u32,
    /// Silence after the signal, ms.
    pub tail_ms: u32,
}

impl FskGenParams {
    /// Nominal parameters of `standard` at −13 dBm0, 100 ms of silence on each side.
    pub fn new(standard: FskStandard) -> Self {
        Self {
            standard,
            level_dbm0: -13.0,
            seizure_bits: 300,
            mark_bits: match standard {
                FskStandard::Bell202 => 180,
                FskStandard::V23 => 80,
            },
            inter_char_mark_bits: 0,
            trailing_mark_bits: 2,
            baud_error: 0.0,
            freq_error: 0.0,
            lead_ms: 100,
            tail_ms: 100,
        }
    }
}

/// Phase-continuous FSK rendering of `message` (a whole frame with checksum, e.g.
/// from [`CallerId::encode_mdmf`]), as `f64` samples (unquantised).
pub fn modulate_f64(message: &[u8], p: &FskGenParams) -> Vec<f64> {
    let fs = f64::from(SAMPLE_RATE);
    let spb = fs / (f64::from(BAUD) * (1.0 + p.baud_error));
    let amp = f64::from(dbm0_to_peak(p.level_dbm0));
    let fm = f64::from(p.standard.mark_hz()) * (1.0 + p.freq_error);
    let fsp = f64::from(p.standard.space_hz()) * (1.0 + p.freq_error);
    let mut bits: Vec<bool> = Vec::new();
    bits.extend((0..p.seizure_bits).map(|i| i % 2 == 1));
    bits.extend((0..p.mark_bits).map(|_| true));
    for (i, &b) in message.iter().enumerate() {
        if i > 0 {
            bits.extend((0..p.inter_char_mark_bits).map(|_| true));
        }
        bits.push(false);
        bits.extend((0..8).map(|k| (b >> k) & 1 == 1));
        bits.push(true);
    }
    bits.extend((0..p.trailing_mark_bits).map(|_| true));
    let lead = super::ms_to_samples(p.lead_ms);
    let tail = super::ms_to_samples(p.tail_ms);
    let body = (bits.len() as f64 * spb).round() as usize;
    let mut out = vec![0.0; lead + body + tail];
    let mut phase = 0.0f64;
    for (n, o) in out[lead..lead + body].iter_mut().enumerate() {
        let bit = bits[((n as f64 / spb) as usize).min(bits.len() - 1)];
        *o = amp * (core::f64::consts::TAU * phase).sin();
        phase += if bit { fm } else { fsp } / fs;
        phase -= phase.floor();
    }
    out
}

/// [`modulate_f64`] rounded to 16-bit PCM.
pub fn modulate(message: &[u8], p: &FskGenParams) -> Vec<i16> {
    modulate_f64(message, p)
        .into_iter()
        .map(|x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/// An FSK message received with a correct checksum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FskMessage {
    bytes: [u8; MAX_FRAME],
    len: u16,
    /// Standard told from the measured frequencies.
    pub standard: FskStandard,
    /// Measured mark frequency, Hz (within a few Hz at usual levels).
    pub mark_hz: f32,
    /// Measured space frequency, Hz (over runs of two or more space bits only: less
    /// precise than the mark, within about 10 Hz at usual levels).
    pub space_hz: f32,
    /// Signal level, dBm0 (mean over the message's bits).
    pub level_dbm0: f32,
    /// Sample index of the message type's start bit.
    pub start_sample: u64,
    /// Sample index of the checksum's stop bit.
    pub end_sample: u64,
}

impl FskMessage {
    /// The whole message: type, length, data, checksum.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Message type byte.
    pub fn message_type(&self) -> u8 {
        self.bytes[0]
    }

    /// Layout of the message.
    pub fn format(&self) -> MessageFormat {
        if self.bytes[0] & 0x80 == 0 {
            MessageFormat::Sdmf
        } else {
            MessageFormat::Mdmf
        }
    }

    /// Parses the message (see [`parse_message`]). Allocates.
    pub fn caller_id(&self) -> Result<CallerId, MessageError> {
        parse_message(self.bytes())
    }
}

/// What went wrong in a [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecodeErrorKind {
    /// A complete FSK message whose checksum is wrong: it is rejected.
    ChecksumMismatch {
        /// Message type.
        message_type: u8,
        /// Checksum received.
        received: u8,
        /// Checksum computed over the received bytes.
        computed: u8,
    },
    /// The carrier stopped, a character gap was too long, or a character had no stop
    /// bit before the message was complete.
    Truncated {
        /// Message type.
        message_type: u8,
        /// Bytes received (type and length included).
        received: u16,
        /// Bytes the length byte announced (type, length and checksum included), if
        /// the length byte arrived.
        expected: Option<u16>,
    },
    /// A valid message of another FSK standard than the one asked for.
    OtherStandard {
        /// The standard the message was sent in.
        detected: FskStandard,
    },
    /// A DTMF CLIP string with a start code but no end code.
    UnterminatedClip {
        /// Digits received.
        digits: [u8; MAX_CLIP],
        /// Number of digits.
        len: u8,
    },
}

/// A message that started but could not be received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Which receiver saw it.
    pub signalling: Signalling,
    /// Sample index where it was noticed.
    pub sample: u64,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.kind {
            DecodeErrorKind::ChecksumMismatch {
                message_type,
                received,
                computed,
            } => write!(
                f,
                "FSK message type 0x{message_type:02x} rejected: checksum 0x{received:02x} received, 0x{computed:02x} computed"
            ),
            DecodeErrorKind::Truncated {
                message_type,
                received,
                expected,
            } => match expected {
                Some(e) => write!(
                    f,
                    "FSK message type 0x{message_type:02x} cut off after {received} of {e} bytes"
                ),
                None => write!(
                    f,
                    "FSK message type 0x{message_type:02x} cut off after {received} byte(s)"
                ),
            },
            DecodeErrorKind::OtherStandard { detected } => write!(
                f,
                "a valid {} message was found but another standard was asked for",
                detected.name()
            ),
            DecodeErrorKind::UnterminatedClip { digits, len } => write!(
                f,
                "DTMF CLIP {:?} has no end code (C or #)",
                core::str::from_utf8(&digits[..usize::from(len)]).unwrap_or("")
            ),
        }
    }
}

/// Output of the caller ID receivers.
// Events are handed by value to a callback, not stored in bulk; boxing the large
// variant would allocate in the streaming path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CallerIdEvent {
    /// An FSK message with a valid checksum.
    Fsk(FskMessage),
    /// A complete DTMF CLIP string.
    Clip(ClipMessage),
    /// A message that started but was rejected or cut off.
    Error(DecodeError),
}

// ---------------------------------------------------------------------------
// FSK demodulator
// ---------------------------------------------------------------------------

/// Tuning of [`FskDemodulator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FskParams {
    /// Mark frequency the correlators are tuned to, Hz.
    pub mark_hz: f32,
    /// Space frequency, Hz.
    pub space_hz: f32,
    /// Baud rate.
    pub baud: f32,
    /// Carrier detection threshold, dBm0 (default −48).
    pub min_level_dbm0: f32,
    /// Continuous mark needed before a message type is accepted, bits (default 40;
    /// Bell sends 180, ETSI 80 ± 25).
    pub min_mark_bits: f32,
    /// Longest mark gap between two characters of a message, bits (default 30; ETSI
    /// allows 10).
    pub max_gap_bits: f32,
    /// Only report messages of this standard (others give
    /// [`DecodeErrorKind::OtherStandard`]); `None` reports both.
    pub only: Option<FskStandard>,
}

impl FskParams {
    /// Listens for both standards: correlators tuned between them (1250/2150 Hz),
    /// the standard is told from the measured frequencies.
    pub fn auto() -> Self {
        Self {
            mark_hz: 1250.0,
            space_hz: 2150.0,
            baud: BAUD,
            min_level_dbm0: -48.0,
            min_mark_bits: 40.0,
            max_gap_bits: 30.0,
            only: None,
        }
    }

    /// Listens for `standard` only.
    pub fn for_standard(standard: FskStandard) -> Self {
        Self {
            mark_hz: standard.mark_hz(),
            space_hz: standard.space_hz(),
            only: Some(standard),
            ..Self::auto()
        }
    }
}

/// Correlation window, samples (≈ one bit at 1200 baud).
const WIN: usize = 7;
/// Correlator outputs kept for the frequency measurement.
const ZHIST: usize = 6;

/// Mean phase advance per sample that a correlator with coefficients `c` shows for a
/// real tone of angular frequency `w`: `arg(|A|²·e^{jw} + |B|²·e^{−jw})` with
/// `A = Σ c_k e^{−jwk}` and `B = Σ c_k e^{jwk}` (the tone's image leaks through the
/// short window and pulls the estimate).
fn apparent_advance(w: f64, c: &[(f32, f32); WIN]) -> f64 {
    let (mut a, mut b) = ((0f64, 0f64), (0f64, 0f64));
    for (k, &(re, im)) in c.iter().enumerate() {
        let (re, im) = (f64::from(re), f64::from(im));
        let (sn, cs) = (w * k as f64).sin_cos();
        a.0 += re * cs + im * sn;
        a.1 += im * cs - re * sn;
        b.0 += re * cs - im * sn;
        b.1 += im * cs + re * sn;
    }
    let pa = a.0 * a.0 + a.1 * a.1;
    let pb = b.0 * b.0 + b.1 * b.1;
    let (sn, cs) = w.sin_cos();
    ((pa - pb) * sn).atan2((pa + pb) * cs)
}

/// The tone frequency (rad/sample) whose apparent advance is the measured `psi`.
fn debias(psi: f64, c: &[(f32, f32); WIN]) -> f64 {
    let mut w = psi;
    for _ in 0..4 {
        w -= apparent_advance(w, c) - psi;
    }
    w
}

/// Biquad, transposed direct form II.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f32; 3],
    a: [f32; 2],
    s: [f32; 2],
}

impl Biquad {
    /// RBJ cookbook high-pass (`high = true`) or low-pass, Q = 1/√2.
    fn new(fc: f64, high: bool) -> Self {
        let w = core::f64::consts::TAU * fc / f64::from(SAMPLE_RATE);
        let (sn, cs) = w.sin_cos();
        let alpha = sn / (2.0 * core::f64::consts::FRAC_1_SQRT_2);
        let a0 = 1.0 + alpha;
        let (b0, b1) = if high {
            ((1.0 + cs) / 2.0, -(1.0 + cs))
        } else {
            ((1.0 - cs) / 2.0, 1.0 - cs)
        };
        Self {
            b: [(b0 / a0) as f32, (b1 / a0) as f32, (b0 / a0) as f32],
            a: [(-2.0 * cs / a0) as f32, ((1.0 - alpha) / a0) as f32],
            s: [0.0; 2],
        }
    }

    #[inline]
    fn run(&mut self, x: f32) -> f32 {
        let y = self.b[0] * x + self.s[0];
        self.s[0] = self.b[1] * x - self.a[0] * y + self.s[1];
        self.s[1] = self.b[2] * x - self.a[1] * y;
        y
    }

    /// Magnitude response at `f` Hz.
    fn gain(&self, f: f64) -> f64 {
        let w = core::f64::consts::TAU * f / f64::from(SAMPLE_RATE);
        let z1 = (w.cos(), -w.sin());
        let z2 = ((2.0 * w).cos(), -(2.0 * w).sin());
        let poly = |c0: f64, c1: f64, c2: f64| {
            let re = c0 + c1 * z1.0 + c2 * z2.0;
            let im = c1 * z1.1 + c2 * z2.1;
            (re * re + im * im).sqrt()
        };
        let num = poly(
            f64::from(self.b[0]),
            f64::from(self.b[1]),
            f64::from(self.b[2]),
        );
        let den = poly(1.0, f64::from(self.a[0]), f64::from(self.a[1]));
        num / den
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Uart {
    /// Waiting for a start-bit edge.
    Hunt,
    /// Receiving a character: `t` samples since the edge, next bit `bit` (0 = start).
    Char { t: f32, bit: u8, byte: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Framer {
    Idle,
    Collect,
}

/// Streaming FSK caller ID demodulator (one standard or both).
#[derive(Debug, Clone)]
pub struct FskDemodulator {
    p: FskParams,
    hp1: Biquad,
    hp2: Biquad,
    lp: Biquad,
    hist: [f32; WIN],
    cm: [(f32, f32); WIN],
    cs: [(f32, f32); WIN],
    /// Correlator outputs of the last [`ZHIST`] samples, newest first.
    zhist: [((f32, f32), (f32, f32)); ZHIST],
    /// Samples per bit.
    spb: f32,
    power_avg: f32,
    carrier_on: f32,
    carrier_off: f32,
    carrier: bool,
    carrier_hold: u32,
    prev_mark: bool,
    /// Consecutive samples with the same decision (for the frequency measurement).
    same_run: u32,
    mark_run: u32,
    run_at_edge: u32,
    edge_sample: u64,
    uart: Uart,
    framer: Framer,
    frame: [u8; MAX_FRAME],
    flen: usize,
    fstart: u64,
    acc_m: (f64, f64),
    acc_s: (f64, f64),
    level_acc: f64,
    level_n: u32,
    samples: u64,
}

impl FskDemodulator {
    /// A demodulator with the given tuning.
    pub fn new(p: FskParams) -> Self {
        let hp1 = Biquad::new(600.0, true);
        let hp2 = hp1;
        let lp = Biquad::new(3000.0, false);
        let g = |f: f32| {
            let f = f64::from(f);
            (hp1.gain(f) * hp2.gain(f) * lp.gain(f)) as f32
        };
        let table = |f: f32| {
            let w = core::f32::consts::TAU * f / SAMPLE_RATE as f32;
            let scale = 1.0 / g(f);
            let mut t = [(0f32, 0f32); WIN];
            for (k, c) in t.iter_mut().enumerate() {
                let (s, co) = (w * k as f32).sin_cos();
                *c = (co * scale, s * scale);
            }
            t
        };
        // Power of a correlator for a tone of peak A is (A·WIN/2)².
        let thr = |dbm0: f32| {
            let a = dbm0_to_peak(dbm0) * WIN as f32 / 2.0;
            a * a
        };
        Self {
            hp1,
            hp2,
            lp,
            hist: [0.0; WIN],
            cm: table(p.mark_hz),
            cs: table(p.space_hz),
            zhist: [((0.0, 0.0), (0.0, 0.0)); ZHIST],
            spb: SAMPLE_RATE as f32 / p.baud.max(1.0),
            power_avg: 0.0,
            carrier_on: thr(p.min_level_dbm0),
            carrier_off: thr(p.min_level_dbm0 - 3.0),
            carrier: false,
            carrier_hold: 0,
            prev_mark: true,
            same_run: 0,
            mark_run: 0,
            run_at_edge: 0,
            edge_sample: 0,
            uart: Uart::Hunt,
            framer: Framer::Idle,
            frame: [0; MAX_FRAME],
            flen: 0,
            fstart: 0,
            acc_m: (0.0, 0.0),
            acc_s: (0.0, 0.0),
            level_acc: 0.0,
            level_n: 0,
            samples: 0,
            p,
        }
    }

    /// The tuning.
    pub fn params(&self) -> &FskParams {
        &self.p
    }

    /// Samples consumed since creation.
    pub fn samples_seen(&self) -> u64 {
        self.samples
    }

    /// Whether a carrier (FSK-band energy above the threshold) is present now.
    pub fn carrier(&self) -> bool {
        self.carrier
    }

    /// Feeds audio; reports messages and errors.
    pub fn push(&mut self, samples: &[i16], mut on_event: impl FnMut(CallerIdEvent)) {
        for &x in samples {
            self.sample(f32::from(x), &mut on_event);
        }
    }

    /// End of audio: reports a message still being received as truncated.
    pub fn finish(&mut self, mut on_event: impl FnMut(CallerIdEvent)) {
        self.abort(&mut on_event);
    }

    fn abort(&mut self, on_event: &mut impl FnMut(CallerIdEvent)) {
        if self.framer == Framer::Collect {
            let expected = (self.flen >= 2).then(|| u16::from(self.frame[1]) + 3);
            on_event(CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::Truncated {
                    message_type: self.frame[0],
                    received: self.flen as u16,
                    expected,
                },
                signalling: self.signalling(),
                sample: self.samples,
            }));
        }
        self.framer = Framer::Idle;
        self.flen = 0;
    }

    fn signalling(&self) -> Signalling {
        match self.p.only {
            None => Signalling::Auto,
            Some(FskStandard::Bell202) => Signalling::Bell202,
            Some(FskStandard::V23) => Signalling::V23,
        }
    }

    #[inline]
    fn sample(&mut self, x: f32, on_event: &mut impl FnMut(CallerIdEvent)) {
        let y = self.lp.run(self.hp2.run(self.hp1.run(x)));
        self.hist.copy_within(0..WIN - 1, 1);
        self.hist[0] = y;
        let mut zm = (0f32, 0f32);
        let mut zs = (0f32, 0f32);
        for k in 0..WIN {
            let h = self.hist[k];
            zm.0 += h * self.cm[k].0;
            zm.1 += h * self.cm[k].1;
            zs.0 += h * self.cs[k].0;
            zs.1 += h * self.cs[k].1;
        }
        let pm = zm.0 * zm.0 + zm.1 * zm.1;
        let ps = zs.0 * zs.0 + zs.1 * zs.1;
        let mark = pm >= ps;
        self.samples += 1;

        // Carrier detection with hysteresis and a short hold-over (a few samples of
        // low power at a phase-continuous transition must not drop it).
        self.power_avg += (pm.max(ps) - self.power_avg) * (1.0 / 16.0);
        if self.power_avg >= self.carrier_on {
            self.carrier = true;
            self.carrier_hold = 0;
        } else if self.carrier && self.power_avg < self.carrier_off {
            self.carrier_hold += 1;
            if self.carrier_hold > 2 * WIN as u32 {
                self.carrier = false;
                self.abort(on_event);
                self.uart = Uart::Hunt;
                self.mark_run = 0;
            }
        }

        // Frequency measurement: phase advance of the correlator of the current tone
        // between the windows ending 4 and 5 samples ago, taken only when both lie
        // wholly inside one run of that tone. The decision flips when the window is
        // half into the next bit, so with no flip for `same_run` samples the window
        // ending 4 samples ago cannot reach into the next bit yet, and it starts after
        // the run's first boundary once `same_run ≥ 8`.
        self.zhist.copy_within(0..ZHIST - 1, 1);
        self.zhist[0] = (zm, zs);
        if mark == self.prev_mark {
            self.same_run = self.same_run.saturating_add(1);
        } else {
            self.same_run = 0;
        }
        if self.carrier && self.same_run >= 8 {
            let pick = |h: ((f32, f32), (f32, f32))| if mark { h.0 } else { h.1 };
            let (a, b) = (pick(self.zhist[4]), pick(self.zhist[5]));
            let acc = if mark {
                &mut self.acc_m
            } else {
                &mut self.acc_s
            };
            acc.0 += f64::from(a.0 * b.0 + a.1 * b.1);
            acc.1 += f64::from(a.1 * b.0 - a.0 * b.1);
        }

        match self.uart {
            Uart::Hunt => {
                if !self.carrier {
                    self.mark_run = 0;
                } else if mark {
                    self.mark_run = self.mark_run.saturating_add(1);
                } else if self.prev_mark {
                    self.run_at_edge = self.mark_run;
                    self.edge_sample = self.samples - 1;
                    self.uart = Uart::Char {
                        t: 0.0,
                        bit: 0,
                        byte: 0,
                    };
                }
            }
            Uart::Char { t, bit, byte } => {
                let mut t = t + 1.0;
                if mark != self.prev_mark && bit > 0 {
                    // A transition inside the character: it should fall on the boundary
                    // before bit `bit`, `bit·spb` after the start edge. Pull the clock
                    // halfway towards it (absorbs baud-rate error and edge jitter).
                    let err = t - f32::from(bit) * self.spb;
                    t -= 0.5 * err;
                }
                // Bit k is centred in the window (k + ½)·spb samples after the edge
                // was seen; the edge is seen on average half a sample late.
                let due = (f32::from(bit) + 0.5) * self.spb - 0.5;
                if t + 0.5 < due {
                    self.uart = Uart::Char { t, bit, byte };
                } else {
                    self.level_acc += f64::from(pm.max(ps));
                    self.level_n += 1;
                    match bit {
                        0 if mark => {
                            // False start: a blip in the mark.
                            self.uart = Uart::Hunt;
                            self.mark_run = self.run_at_edge + t as u32;
                        }
                        0 => self.uart = Uart::Char { t, bit: 1, byte },
                        1..=8 => {
                            let byte = byte | (u8::from(mark) << (bit - 1));
                            self.uart = Uart::Char {
                                t,
                                bit: bit + 1,
                                byte,
                            };
                        }
                        _ => {
                            self.uart = Uart::Hunt;
                            self.mark_run = 0;
                            if mark {
                                let gap = self.run_at_edge as f32 / self.spb;
                                self.byte(byte, gap, on_event);
                            } else {
                                // Framing error: no stop bit.
                                self.abort(on_event);
                            }
                        }
                    }
                }
            }
        }
        self.prev_mark = mark || !self.carrier;
    }

    fn byte(&mut self, b: u8, gap_bits: f32, on_event: &mut impl FnMut(CallerIdEvent)) {
        if self.framer == Framer::Collect && gap_bits > self.p.max_gap_bits {
            self.abort(on_event);
        }
        if self.framer == Framer::Idle {
            if gap_bits >= self.p.min_mark_bits && KNOWN_TYPES.contains(&b) {
                self.framer = Framer::Collect;
                self.frame[0] = b;
                self.flen = 1;
                self.fstart = self.edge_sample;
                self.level_acc = 0.0;
                self.level_n = 0;
                // Keep the mark measurement of the preceding mark signal, restart the
                // space one (the seizure is not clean space).
                self.acc_s = (0.0, 0.0);
            } else {
                // Not a message start: restart the measurement for the next one.
                self.acc_m = (0.0, 0.0);
                self.acc_s = (0.0, 0.0);
            }
            return;
        }
        self.frame[self.flen] = b;
        self.flen += 1;
        if self.flen < 3 || self.flen < usize::from(self.frame[1]) + 3 {
            return;
        }
        // Complete.
        let n = self.flen;
        self.framer = Framer::Idle;
        self.flen = 0;
        let sum = self.frame[..n].iter().fold(0u8, |a, &x| a.wrapping_add(x));
        let sig = self.signalling();
        if sum != 0 {
            let received = self.frame[n - 1];
            on_event(CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::ChecksumMismatch {
                    message_type: self.frame[0],
                    received,
                    computed: checksum(&self.frame[..n - 1]),
                },
                signalling: sig,
                sample: self.samples,
            }));
            return;
        }
        let hz = |acc: (f64, f64), table: &[(f32, f32); WIN], dflt: f32| {
            if acc.0 == 0.0 && acc.1 == 0.0 {
                dflt
            } else {
                let w = debias(acc.1.atan2(acc.0), table);
                (w * f64::from(SAMPLE_RATE) / core::f64::consts::TAU) as f32
            }
        };
        let mark_hz = hz(self.acc_m, &self.cm, self.p.mark_hz);
        let space_hz = hz(self.acc_s, &self.cs, self.p.space_hz);
        let standard = FskStandard::classify(mark_hz);
        self.acc_m = (0.0, 0.0);
        self.acc_s = (0.0, 0.0);
        if let Some(want) = self.p.only
            && want != standard
        {
            on_event(CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::OtherStandard { detected: standard },
                signalling: sig,
                sample: self.samples,
            }));
            return;
        }
        let p = self.level_acc / f64::from(self.level_n.max(1));
        let peak = 2.0 * p.sqrt() / WIN as f64;
        let level_dbm0 = if peak > 0.0 {
            (20.0 * (peak / f64::from(super::level::DBM0_PEAK)).log10()) as f32
        } else {
            super::level::SILENCE_DBM0
        };
        let mut bytes = [0u8; MAX_FRAME];
        bytes[..n].copy_from_slice(&self.frame[..n]);
        on_event(CallerIdEvent::Fsk(FskMessage {
            bytes,
            len: n as u16,
            standard,
            mark_hz,
            space_hz,
            level_dbm0,
            start_sample: self.fstart,
            end_sample: self.samples,
        }));
    }
}

// ---------------------------------------------------------------------------
// Combined decoder
// ---------------------------------------------------------------------------

/// Caller ID receiver for one line: FSK (one or both standards) and/or DTMF CLIP,
/// per [`Signalling`].
#[derive(Debug, Clone)]
pub struct CallerIdDecoder {
    fsk: Option<FskDemodulator>,
    clip: Option<ClipDecoder>,
}

impl CallerIdDecoder {
    /// A decoder listening for `signalling`.
    pub fn new(signalling: Signalling) -> Self {
        let fsk = match signalling {
            Signalling::Auto => Some(FskParams::auto()),
            Signalling::Bell202 => Some(FskParams::for_standard(FskStandard::Bell202)),
            Signalling::V23 => Some(FskParams::for_standard(FskStandard::V23)),
            Signalling::Dtmf => None,
        };
        Self {
            fsk: fsk.map(FskDemodulator::new),
            clip: matches!(signalling, Signalling::Auto | Signalling::Dtmf).then(ClipDecoder::new),
        }
    }

    /// Feeds audio; reports messages and errors.
    pub fn push(&mut self, samples: &[i16], mut on_event: impl FnMut(CallerIdEvent)) {
        if let Some(f) = &mut self.fsk {
            f.push(samples, &mut on_event);
        }
        if let Some(c) = &mut self.clip {
            c.push(samples, &mut on_event);
        }
    }

    /// End of audio: reports messages cut off by it.
    pub fn finish(&mut self, mut on_event: impl FnMut(CallerIdEvent)) {
        if let Some(f) = &mut self.fsk {
            f.finish(&mut on_event);
        }
        if let Some(c) = &mut self.clip {
            c.finish(&mut on_event);
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;
    use crate::dsp::testsignal as ts;

    fn decode_with(sig: Signalling, audio: &[i16]) -> Vec<CallerIdEvent> {
        let mut d = CallerIdDecoder::new(sig);
        let mut ev = Vec::new();
        for chunk in audio.chunks(160) {
            d.push(chunk, |e| ev.push(e));
        }
        d.finish(|e| ev.push(e));
        ev
    }

    fn decode(audio: &[i16]) -> Vec<CallerIdEvent> {
        decode_with(Signalling::Auto, audio)
    }

    fn fsk_messages(ev: &[CallerIdEvent]) -> Vec<FskMessage> {
        ev.iter()
            .filter_map(|e| match e {
                CallerIdEvent::Fsk(m) => Some(*m),
                _ => None,
            })
            .collect()
    }

    fn sample_id() -> CallerId {
        CallerId {
            date_time: Some(DateTime {
                month: 11,
                day: 22,
                hour: 1,
                minute: 3,
            }),
            number: Some("0123456789".into()),
            name: Some("ACME Plumbing".into()),
            ..CallerId::default()
        }
    }

    /// Decodes `audio` and checks that exactly one valid message equal to `id` (as
    /// MDMF) of `standard` was found, with no errors.
    fn expect_one(audio: &[i16], standard: FskStandard, what: &str) -> FskMessage {
        let ev = decode(audio);
        let msgs = fsk_messages(&ev);
        assert_eq!(msgs.len(), 1, "{what}: {ev:?}");
        assert!(
            ev.iter().all(|e| !matches!(e, CallerIdEvent::Error(_))),
            "{what}: {ev:?}"
        );
        let m = msgs[0];
        assert_eq!(m.standard, standard, "{what}: {m:?}");
        m
    }

    fn mdmf_audio(p: &FskGenParams) -> Vec<f64> {
        modulate_f64(&sample_id().encode_mdmf().unwrap(), p)
    }

    #[test]
    fn checksum_and_encoding() {
        let f = sample_id().encode_mdmf().unwrap();
        assert_eq!(f[0], 0x80);
        assert_eq!(usize::from(f[1]), f.len() - 3);
        assert_eq!(f.iter().fold(0u8, |a, &b| a.wrapping_add(b)), 0);
        // Parameters: date (10 bytes), number (12), name (15).
        assert_eq!(&f[2..12], b"\x01\x0811220103");
        assert_eq!(&f[12..14], &[0x02, 10]);
        let id = parse_message(&f).unwrap();
        assert_eq!(id.number.as_deref(), Some("0123456789"));
        assert_eq!(id.name.as_deref(), Some("ACME Plumbing"));
        assert_eq!(id.date_time, sample_id().date_time);
        assert_eq!(id.params.len(), 3);

        let s = sample_id();
        assert!(s.encode_sdmf().is_err(), "SDMF has no name");
        let s = CallerId {
            name: None,
            ..sample_id()
        };
        let f = s.encode_sdmf().unwrap();
        assert_eq!(
            &f[..],
            b"\x04\x1211220103\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x53"
        );
        let id = parse_message(&f).unwrap();
        assert_eq!(id.number.as_deref(), Some("0123456789"));
        assert!(id.params.is_empty());
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let mut f = sample_id().encode_mdmf().unwrap();
        let last = f.len() - 1;
        f[last] ^= 0x10;
        assert!(matches!(
            parse_message(&f),
            Err(MessageError::ChecksumMismatch { .. })
        ));
        assert_eq!(
            parse_message(&[0x80]),
            Err(MessageError::TooShort { len: 1 })
        );
        assert!(matches!(
            parse_message(&[0x80, 5, 1, 0]),
            Err(MessageError::LengthMismatch { .. })
        ));
        // A parameter claiming more bytes than there are.
        let mut bad = vec![0x80, 3, 0x02, 9, b'1'];
        bad.push(checksum(&bad));
        assert_eq!(
            parse_message(&bad),
            Err(MessageError::ParamOverrun { kind: 0x02 })
        );
        // SDMF with a date that is not a date.
        let mut bad = vec![0x04, 9];
        bad.extend(b"13450000O");
        bad.push(checksum(&bad));
        assert!(matches!(
            parse_message(&bad),
            Err(MessageError::BadField(_))
        ));
        let e = parse_message(&f).unwrap_err().to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
    }

    #[test]
    fn etsi_parameters_are_parsed_generically() {
        let mut data = Vec::new();
        for (k, v) in [
            (0x01u8, &b"01020304"[..]),
            (0x03, b"5551234"),
            (0x04, b"P"),
            (0x08, b"O"),
            (0x11, &[0x01][..]),
            (0x99, b"xyz"),
        ] {
            data.push(k);
            data.push(v.len() as u8);
            data.extend_from_slice(v);
        }
        let f = finish_frame(0x80, data).unwrap();
        let id = parse_message(&f).unwrap();
        assert_eq!(id.called_number.as_deref(), Some("5551234"));
        assert_eq!(id.number_absent, Some(Absence::Private));
        assert_eq!(id.name_absent, Some(Absence::Unavailable));
        assert_eq!(id.call_type, Some(1));
        assert_eq!(id.number, None);
        assert_eq!(id.params.len(), 6);
        assert_eq!(id.params[5].kind, 0x99);
        assert_eq!(id.params[5].value, b"xyz");
    }

    #[test]
    fn bell202_sdmf_and_mdmf_nominal() {
        let p = FskGenParams::new(FskStandard::Bell202);
        let m = expect_one(&ts::quantize(&mdmf_audio(&p)), FskStandard::Bell202, "mdmf");
        assert_eq!(m.format(), MessageFormat::Mdmf);
        assert_eq!(m.caller_id().unwrap(), parse_message(m.bytes()).unwrap());
        let id = m.caller_id().unwrap();
        assert_eq!(id.number.as_deref(), Some("0123456789"));
        assert_eq!(id.name.as_deref(), Some("ACME Plumbing"));
        assert!((m.mark_hz - 1200.0).abs() < 6.0, "{m:?}");
        assert!((m.space_hz - 2200.0).abs() < 15.0, "{m:?}");
        assert!((m.level_dbm0 + 13.0).abs() < 1.5, "{m:?}");
        // The message starts after 100 ms lead, 300 seizure and 180 mark bits.
        let start = 800.0 + 480.0 * 8000.0 / 1200.0;
        assert!((m.start_sample as f64 - start).abs() < 8.0, "{m:?}");

        let sdmf = CallerId {
            name: None,
            ..sample_id()
        }
        .encode_sdmf()
        .unwrap();
        let m = expect_one(&modulate(&sdmf, &p), FskStandard::Bell202, "sdmf");
        assert_eq!(m.format(), MessageFormat::Sdmf);
        assert_eq!(m.bytes(), &sdmf[..]);
    }

    #[test]
    fn v23_etsi_nominal_with_inter_character_marks() {
        let mut p = FskGenParams::new(FskStandard::V23);
        let m = expect_one(&ts::quantize(&mdmf_audio(&p)), FskStandard::V23, "v23");
        assert!((m.mark_hz - 1300.0).abs() < 6.0, "{m:?}");
        assert!((m.space_hz - 2100.0).abs() < 15.0, "{m:?}");
        // ETSI allows up to 10 mark bits between characters, and a short mark signal.
        p.inter_char_mark_bits = 10;
        p.mark_bits = 55;
        p.seizure_bits = 96;
        expect_one(&ts::quantize(&mdmf_audio(&p)), FskStandard::V23, "gaps");
        // No channel seizure at all (e.g. a message during a call).
        p.seizure_bits = 0;
        expect_one(
            &ts::quantize(&mdmf_audio(&p)),
            FskStandard::V23,
            "no seizure",
        );
    }

    #[test]
    fn levels_from_minus_5_to_minus_40_dbm0() {
        for std in [FskStandard::Bell202, FskStandard::V23] {
            for level in [-3.0, -5.0, -10.0, -20.0, -30.0, -40.0, -44.0] {
                let p = FskGenParams {
                    level_dbm0: level,
                    ..FskGenParams::new(std)
                };
                let m = expect_one(
                    &ts::quantize(&mdmf_audio(&p)),
                    std,
                    &format!("{std:?} {level}"),
                );
                assert!((m.level_dbm0 - level).abs() < 1.5, "{level}: {m:?}");
            }
        }
    }

    #[test]
    fn below_the_carrier_threshold_nothing_is_reported() {
        let p = FskGenParams {
            level_dbm0: -55.0,
            ..FskGenParams::new(FskStandard::Bell202)
        };
        assert!(decode(&ts::quantize(&mdmf_audio(&p))).is_empty());
    }

    #[test]
    fn baud_and_frequency_offsets() {
        for std in [FskStandard::Bell202, FskStandard::V23] {
            for (baud, freq) in [
                (0.01, 0.0),
                (-0.01, 0.0),
                (0.0, 0.01),
                (0.0, -0.01),
                (0.01, 0.01),
                (-0.01, -0.01),
                (0.02, -0.02),
                (-0.02, 0.02),
            ] {
                let p = FskGenParams {
                    baud_error: baud,
                    freq_error: freq,
                    level_dbm0: -30.0,
                    ..FskGenParams::new(std)
                };
                let m = expect_one(
                    &ts::quantize(&mdmf_audio(&p)),
                    std,
                    &format!("{std:?} baud {baud} freq {freq}"),
                );
                // The measured frequencies follow the offset.
                let f = 1.0 + freq as f32;
                assert!((m.mark_hz - std.mark_hz() * f).abs() < 8.0, "{m:?}");
                assert!((m.space_hz - std.space_hz() * f).abs() < 20.0, "{m:?}");
            }
        }
    }

    #[test]
    fn white_noise_at_20_db_snr() {
        for std in [FskStandard::Bell202, FskStandard::V23] {
            for level in [-13.0f32, -30.0, -40.0] {
                for seed in 1..=4 {
                    let p = FskGenParams {
                        level_dbm0: level,
                        ..FskGenParams::new(std)
                    };
                    let mut v = mdmf_audio(&p);
                    // The signal's power is that of a sine at `level`.
                    ts::add_white_noise(&mut v, level - 20.0, &mut ts::Rng::new(seed));
                    expect_one(
                        &ts::quantize(&v),
                        std,
                        &format!("{std:?} {level} dBm0 seed {seed}"),
                    );
                }
            }
        }
    }

    #[test]
    fn g711_mu_law_round_trip() {
        for std in [FskStandard::Bell202, FskStandard::V23] {
            for level in [-5.0, -20.0, -40.0] {
                let p = FskGenParams {
                    level_dbm0: level,
                    ..FskGenParams::new(std)
                };
                let a = ts::ulaw_roundtrip(&ts::quantize(&mdmf_audio(&p)));
                expect_one(&a, std, &format!("µ-law {std:?} {level}"));
                let a = ts::alaw_roundtrip(&ts::quantize(&mdmf_audio(&p)));
                expect_one(&a, std, &format!("A-law {std:?} {level}"));
            }
        }
    }

    #[test]
    fn dc_offset_and_mains_hum() {
        for std in [FskStandard::Bell202, FskStandard::V23] {
            let p = FskGenParams {
                level_dbm0: -35.0,
                ..FskGenParams::new(std)
            };
            let mut v = mdmf_audio(&p);
            let hum = ts::tones(
                &[(50.0, -6.0), (150.0, -20.0), (250.0, -30.0)],
                v.len(),
                0.3,
            );
            for (x, h) in v.iter_mut().zip(hum) {
                *x += h + 3000.0;
            }
            expect_one(&ts::quantize(&v), std, &format!("hum {std:?}"));
            let mut v = mdmf_audio(&p);
            let hum = ts::tones(&[(60.0, -6.0), (180.0, -20.0)], v.len(), 0.0);
            for (x, h) in v.iter_mut().zip(hum) {
                *x += h - 2000.0;
            }
            expect_one(&ts::quantize(&v), std, &format!("60 Hz hum {std:?}"));
        }
    }

    #[test]
    fn a_wrong_checksum_is_rejected() {
        let mut f = sample_id().encode_mdmf().unwrap();
        let last = f.len() - 1;
        f[last] = f[last].wrapping_add(1);
        let ev = decode(&modulate(&f, &FskGenParams::new(FskStandard::Bell202)));
        assert!(fsk_messages(&ev).is_empty());
        assert_eq!(ev.len(), 1, "{ev:?}");
        let CallerIdEvent::Error(e) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(
            e.kind,
            DecodeErrorKind::ChecksumMismatch {
                message_type: 0x80,
                received: f[last],
                computed: f[last].wrapping_sub(1),
            }
        );
        assert!(e.to_string().contains("checksum"), "{e}");
        // A corrupted data byte is caught too.
        let mut f = sample_id().encode_mdmf().unwrap();
        f[15] ^= 0x04;
        let ev = decode(&modulate(&f, &FskGenParams::new(FskStandard::V23)));
        assert!(fsk_messages(&ev).is_empty());
        assert!(matches!(
            ev[..],
            [CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::ChecksumMismatch { .. },
                ..
            })]
        ));
    }

    #[test]
    fn a_message_cut_off_is_reported_as_truncated() {
        let f = sample_id().encode_mdmf().unwrap();
        let p = FskGenParams::new(FskStandard::Bell202);
        let a = modulate(&f, &p);
        // Cut in the middle of the name: carrier stops.
        let cut = 800 + ((480 + 10 * 25) as f64 * 8000.0 / 1200.0) as usize;
        let mut v = a[..cut].to_vec();
        v.extend(std::iter::repeat_n(0, 800));
        let ev = decode(&v);
        assert!(fsk_messages(&ev).is_empty());
        assert!(
            matches!(
                ev[..],
                [CallerIdEvent::Error(DecodeError {
                    kind: DecodeErrorKind::Truncated {
                        message_type: 0x80,
                        expected: Some(40),
                        ..
                    },
                    ..
                })]
            ),
            "{ev:?}"
        );
    }

    #[test]
    fn private_and_unavailable() {
        let p = FskGenParams::new(FskStandard::Bell202);
        for a in [Absence::Private, Absence::Unavailable] {
            let id = CallerId {
                date_time: sample_id().date_time,
                number_absent: Some(a),
                ..CallerId::default()
            };
            let m = expect_one(
                &modulate(&id.encode_sdmf().unwrap(), &p),
                p.standard,
                "sdmf",
            );
            let got = m.caller_id().unwrap();
            assert_eq!(got.number, None);
            assert_eq!(got.number_absent, Some(a));

            let id = CallerId {
                name_absent: Some(a),
                ..id
            };
            let m = expect_one(
                &modulate(&id.encode_mdmf().unwrap(), &p),
                p.standard,
                "mdmf",
            );
            let got = m.caller_id().unwrap();
            assert_eq!(got.number_absent, Some(a));
            assert_eq!(got.name_absent, Some(a));
            assert_eq!(got.name, None);
        }
    }

    #[test]
    fn asking_for_one_standard_rejects_the_other() {
        let a = ts::quantize(&mdmf_audio(&FskGenParams::new(FskStandard::V23)));
        let ev = decode_with(Signalling::Bell202, &a);
        assert!(
            matches!(
                ev[..],
                [CallerIdEvent::Error(DecodeError {
                    kind: DecodeErrorKind::OtherStandard {
                        detected: FskStandard::V23
                    },
                    ..
                })]
            ),
            "{ev:?}"
        );
        let ev = decode_with(Signalling::V23, &a);
        assert_eq!(fsk_messages(&ev).len(), 1);
        // DTMF only: the FSK is ignored.
        assert!(decode_with(Signalling::Dtmf, &a).is_empty());
    }

    /// A ring burst as it reaches the audio path of an FXO port: 25 Hz at a high level
    /// plus a little of its harmonics.
    fn ring_burst(n: usize) -> Vec<f64> {
        ts::tones(&[(25.0, 0.0), (75.0, -20.0)], n, 0.0)
    }

    #[test]
    fn between_two_rings() {
        for std in [FskStandard::Bell202, FskStandard::V23] {
            let p = FskGenParams {
                lead_ms: 500,
                tail_ms: 300,
                level_dbm0: -25.0,
                ..FskGenParams::new(std)
            };
            let mut v = ring_burst(16_000);
            v.extend(mdmf_audio(&p));
            v.extend(ring_burst(16_000));
            v.extend(ts::silence(8000));
            let mut rng = ts::Rng::new(7);
            ts::add_white_noise(&mut v, -60.0, &mut rng);
            let m = expect_one(&ts::quantize(&v), std, "between rings");
            assert_eq!(m.caller_id().unwrap().number.as_deref(), Some("0123456789"));
            assert!(m.start_sample > 16_000 + 4000);
        }
    }

    #[test]
    fn speech_music_and_noise_give_nothing() {
        let mut rng = ts::Rng::new(3);
        for level in [-10.0, -25.0] {
            let v = ts::sung_vowels(20.0, level, &mut rng);
            assert!(decode(&ts::quantize(&v)).is_empty(), "vowels {level}");
            let v = ts::music(20.0, level, &mut rng);
            assert!(decode(&ts::quantize(&v)).is_empty(), "music {level}");
            let mut v = ts::silence(80_000);
            ts::add_white_noise(&mut v, level, &mut rng);
            assert!(decode(&ts::quantize(&v)).is_empty(), "noise {level}");
        }
        // Random bytes sent as FSK (valid framing, no message structure).
        let junk: Vec<u8> = (0..200).map(|_| (rng.next_u64() & 0xff) as u8).collect();
        let ev = decode(&modulate(&junk, &FskGenParams::new(FskStandard::Bell202)));
        assert!(fsk_messages(&ev).is_empty(), "{ev:?}");
    }

    fn clips(ev: &[CallerIdEvent]) -> Vec<ClipMessage> {
        ev.iter()
            .filter_map(|e| match e {
                CallerIdEvent::Clip(m) => Some(*m),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn dtmf_clip_variants() {
        let cases: [(&str, Option<&str>, Option<Absence>); 7] = [
            ("A0123456789C", Some("0123456789"), None),
            ("D0123456789C", Some("0123456789"), None),
            ("A5551234#", Some("5551234"), None),
            ("B00C", None, Some(Absence::Unavailable)),
            ("B10C", None, Some(Absence::Private)),
            ("D1#", None, Some(Absence::Private)),
            ("D3#", None, Some(Absence::Unavailable)),
        ];
        for (s, number, absent) in cases {
            for level in [-5.0, -25.0] {
                let mut a = vec![0i16; 4000];
                a.extend(clip_audio(s, level).unwrap());
                a.extend(vec![0i16; 4000]);
                let ev = decode(&a);
                let c = clips(&ev);
                assert_eq!(c.len(), 1, "{s}: {ev:?}");
                assert_eq!(c[0].as_str(), s);
                assert_eq!(ev.len(), 1, "{s}: {ev:?}");
                let id = c[0].caller_id().unwrap();
                assert_eq!(id.number.as_deref(), number, "{s}");
                assert_eq!(id.number_absent, absent, "{s}");
                let ev = decode_with(Signalling::Bell202, &a);
                assert!(ev.is_empty(), "{s}: FSK only: {ev:?}");
            }
        }
        // Encoding matches.
        let id = CallerId::with_number("0123456789");
        assert_eq!(
            id.encode_clip(ClipStyle::default()).unwrap(),
            "A0123456789C"
        );
        let style = ClipStyle {
            start: 'D',
            end: '#',
        };
        assert_eq!(id.encode_clip(style).unwrap(), "D0123456789#");
        let private = CallerId {
            number_absent: Some(Absence::Private),
            ..CallerId::default()
        };
        assert_eq!(private.encode_clip(style).unwrap(), "B10C");
        assert!(CallerId::with_number("12a").encode_clip(style).is_err());
    }

    #[test]
    fn dtmf_clip_errors() {
        // No end code.
        let a = clip_audio("A12345", -10.0).unwrap();
        let ev = decode_with(Signalling::Dtmf, &a);
        assert!(
            matches!(
                ev[..],
                [CallerIdEvent::Error(DecodeError {
                    kind: DecodeErrorKind::UnterminatedClip { len: 6, .. },
                    ..
                })]
            ),
            "{ev:?}"
        );
        // Digits without a start code are ignored (ordinary dialling).
        let a = clip_audio("5551234", -10.0).unwrap();
        assert!(decode_with(Signalling::Dtmf, &a).is_empty());
        // Bad layouts are parse errors, not panics.
        for s in ["AC", "A12*4C", "B1C", "Z12C", "A123", ""] {
            assert!(parse_clip(s).is_err(), "{s}");
        }
    }

    #[test]
    fn streaming_in_odd_chunks_gives_the_same_result() {
        let p = FskGenParams {
            level_dbm0: -20.0,
            ..FskGenParams::new(FskStandard::V23)
        };
        let a = ts::quantize(&mdmf_audio(&p));
        let whole = decode(&a);
        let mut d = CallerIdDecoder::new(Signalling::Auto);
        let mut ev = Vec::new();
        let mut i = 0;
        let mut k = 1;
        while i < a.len() {
            let j = (i + k).min(a.len());
            d.push(&a[i..j], |e| ev.push(e));
            i = j;
            k = k % 97 + 13;
        }
        d.finish(|e| ev.push(e));
        assert_eq!(ev, whole);
    }

    fn decoded_ok(audio: &[i16], std: FskStandard) -> bool {
        let ev = decode(audio);
        let m = fsk_messages(&ev);
        m.len() == 1
            && m[0].standard == std
            && m[0].bytes() == &sample_id().encode_mdmf().unwrap()[..]
    }

    #[test]
    fn worst_case_combination() {
        // −40 dBm0, 20 dB SNR, 1 % slow and 1 % low, hum, then G.711 µ-law. (The hum
        // is kept 15 dB above the signal: µ-law's quantisation noise follows the
        // instantaneous amplitude, so hum 30 dB above the signal leaves it an SNR of
        // about 8 dB.)
        for std in [FskStandard::Bell202, FskStandard::V23] {
            for seed in 1..=3 {
                let p = FskGenParams {
                    level_dbm0: -40.0,
                    baud_error: -0.01,
                    freq_error: -0.01,
                    ..FskGenParams::new(std)
                };
                let mut v = mdmf_audio(&p);
                ts::add_white_noise(&mut v, -60.0, &mut ts::Rng::new(seed));
                let hum = ts::tones(&[(50.0, -25.0)], v.len(), 0.0);
                for (x, h) in v.iter_mut().zip(hum) {
                    *x += h;
                }
                let a = ts::ulaw_roundtrip(&ts::quantize(&v));
                assert!(decoded_ok(&a, std), "{std:?} seed {seed} {:?}", decode(&a));
            }
        }
    }

    /// Sweeps level, SNR and offsets and prints the limits (README figures):
    /// `cargo test --lib dsp::callerid::tests::measure_limits -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn measure_limits() {
        const SEEDS: u64 = 20;
        for std in [FskStandard::Bell202, FskStandard::V23] {
            let rate = |f: &dyn Fn(u64) -> Vec<i16>| {
                (1..=SEEDS).filter(|&s| decoded_ok(&f(s), std)).count() as f64 / SEEDS as f64
            };
            // Lowest level (noise-free, and through µ-law).
            let mut lowest = 0.0;
            let mut lowest_ulaw = 0.0;
            for l in 0..=60 {
                let level = -(l as f32);
                let p = FskGenParams {
                    level_dbm0: level,
                    ..FskGenParams::new(std)
                };
                let a = ts::quantize(&mdmf_audio(&p));
                if decoded_ok(&a, std) {
                    lowest = level;
                }
                if decoded_ok(&ts::ulaw_roundtrip(&a), std) {
                    lowest_ulaw = level;
                }
            }
            // Lowest SNR with ≥ 95 % messages at −20 dBm0.
            let mut snr_min = f32::NAN;
            for snr in (0..=20).rev() {
                let r = rate(&|seed| {
                    let p = FskGenParams {
                        level_dbm0: -20.0,
                        ..FskGenParams::new(std)
                    };
                    let mut v = mdmf_audio(&p);
                    ts::add_white_noise(&mut v, -20.0 - snr as f32, &mut ts::Rng::new(seed));
                    ts::quantize(&v)
                });
                if r >= 0.95 {
                    snr_min = snr as f32;
                } else {
                    break;
                }
            }
            // Largest baud and frequency errors (both signs) at −20 dBm0, 20 dB SNR.
            let sweep = |baud: bool| {
                let mut best = 0.0;
                for k in 1..=40 {
                    let e = k as f64 * 0.0025;
                    let ok = [e, -e].iter().all(|&e| {
                        rate(&|seed| {
                            let p = FskGenParams {
                                level_dbm0: -20.0,
                                baud_error: if baud { e } else { 0.0 },
                                freq_error: if baud { 0.0 } else { e },
                                ..FskGenParams::new(std)
                            };
                            let mut v = mdmf_audio(&p);
                            ts::add_white_noise(&mut v, -40.0, &mut ts::Rng::new(seed));
                            ts::quantize(&v)
                        }) >= 0.95
                    });
                    if ok {
                        best = e;
                    } else {
                        break;
                    }
                }
                best * 100.0
            };
            println!(
                "{std:?}: lowest level {lowest} dBm0 (µ-law {lowest_ulaw}), lowest SNR {snr_min} dB at -20 dBm0, baud error ±{:.2} %, frequency error ±{:.2} %",
                sweep(true),
                sweep(false)
            );
        }
    }
}
