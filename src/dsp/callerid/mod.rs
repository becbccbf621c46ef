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

mod clip;
mod fsk_demod;
mod fsk_gen;
mod message;
pub use clip::*;
pub use fsk_demod::*;
pub use fsk_gen::*;
pub use message::*;

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
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
// tests read the clock once for a start instant
mod tests;
