//! Caller ID messages: SDMF and MDMF / ETSI parsing and encoding, with the checksum.

#[allow(unused_imports)]
use super::*;

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

pub(super) fn latin1(b: &[u8]) -> String {
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

pub(super) fn finish_frame(ty: u8, data: Vec<u8>) -> Result<Vec<u8>, MessageError> {
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
