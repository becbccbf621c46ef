//! DTMF CLIP: caller ID sent as DTMF digits (`A…C`, `D…C`, `#`-terminated).

#[allow(unused_imports)]
use super::*;

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
