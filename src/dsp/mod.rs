//! Telephony signal processing primitives for 8 kHz, 16-bit linear PCM.
//!
//! Conventions used throughout the module:
//!
//! * sample rate [`SAMPLE_RATE`] (8 kHz), frames of [`FRAME_SAMPLES`] (20 ms);
//! * levels are expressed in dBm0 per tone: 0 dBm0 is a sine with peak
//!   amplitude [`level::DBM0_PEAK`] (22826), so a full-scale sine is +3.14 dBm0;
//! * twist is `level(high group) - level(low group)` in dB.
//!
//! Everything here is pure computation: no I/O, no clock, and the streaming
//! paths never allocate.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]
#![warn(missing_docs)]

/// Sample rate of all signals handled by this module, in Hz.
pub const SAMPLE_RATE: u32 = 8000;

/// Number of samples in one 20 ms frame at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 160;

pub mod callerid;
pub mod dtmf;
pub mod goertzel;
pub mod level;
pub mod progress;
pub mod testsignal;
pub mod tone;

/// Number of samples covering `ms` milliseconds at [`SAMPLE_RATE`] (rounded down).
pub fn ms_to_samples(ms: u32) -> usize {
    let n = u64::from(ms) * u64::from(SAMPLE_RATE) / 1000;
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Duration in milliseconds of `samples` samples at [`SAMPLE_RATE`] (rounded down,
/// saturating at `u32::MAX`).
pub fn samples_to_ms(samples: u64) -> u32 {
    let ms = samples.saturating_mul(1000) / u64::from(SAMPLE_RATE);
    u32::try_from(ms).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(ms_to_samples(20), FRAME_SAMPLES);
        assert_eq!(ms_to_samples(0), 0);
        assert_eq!(samples_to_ms(160), 20);
        assert_eq!(samples_to_ms(u64::MAX), u32::MAX);
    }
}
