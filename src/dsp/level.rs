//! Level conversions (dBm0) and an energy voice-activity detector.

/// Peak amplitude of a 0 dBm0 sine in 16-bit linear PCM.
pub const DBM0_PEAK: f32 = 22826.0;

/// Level of a full-scale (peak 32767) sine, about +3.14 dBm0.
pub const FULL_SCALE_DBM0: f32 = 3.1401;

/// Level returned for silence (and the lower clamp of [`rms_dbm0`]).
pub const SILENCE_DBM0: f32 = -100.0;

/// Peak amplitude of a sine of level `dbm0` (0 dBm0 -> 22826.0).
pub fn dbm0_to_peak(dbm0: f32) -> f32 {
    DBM0_PEAK * 10f32.powf(dbm0 / 20.0)
}

/// Level in dBm0 of a sine with peak amplitude `peak` (22826.0 -> 0 dBm0).
///
/// Non-positive (or NaN) amplitudes give [`SILENCE_DBM0`]; the result is
/// clamped to at least [`SILENCE_DBM0`].
pub fn peak_to_dbm0(peak: f32) -> f32 {
    if peak.is_nan() || peak <= 0.0 {
        return SILENCE_DBM0;
    }
    (20.0 * (peak / DBM0_PEAK).log10()).max(SILENCE_DBM0)
}

/// Level in dBm0 of a sine whose block energy `Σx²` over `n` samples is
/// `energy` (the sine's mean square is `A²/2`). Used to turn Goertzel powers
/// (see [`super::goertzel::Goertzel::power`]) and block energies into dBm0.
/// Clamped to at least [`SILENCE_DBM0`].
pub fn energy_to_dbm0(energy: f64, n: usize) -> f32 {
    if n == 0 || energy.is_nan() || energy <= 0.0 {
        return SILENCE_DBM0;
    }
    let mean_sq = energy / n as f64;
    let ref_sq = f64::from(DBM0_PEAK) * f64::from(DBM0_PEAK) / 2.0;
    ((10.0 * (mean_sq / ref_sq).log10()) as f32).max(SILENCE_DBM0)
}

/// RMS level of a block expressed in dBm0: a 0 dBm0 sine gives about 0.0.
///
/// Silence and empty blocks give [`SILENCE_DBM0`] (-100.0), which is also the
/// lower clamp.
pub fn rms_dbm0(samples: &[i16]) -> f32 {
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    energy_to_dbm0(energy, samples.len())
}

/// Energy voice-activity / silence detector with hangover, fed one frame at a
/// time.
///
/// A frame whose [`rms_dbm0`] is at or above the threshold makes the detector
/// active; it then stays active for `hangover_ms` worth of following samples
/// below the threshold before going inactive.
#[derive(Debug, Clone, PartialEq)]
pub struct Vad {
    threshold_dbm0: f32,
    hangover_samples: u64,
    remaining: u64,
    active: bool,
}

impl Vad {
    /// Creates a detector with the given activity threshold (dBm0) and hangover (ms).
    pub fn new(threshold_dbm0: f32, hangover_ms: u32) -> Self {
        Self {
            threshold_dbm0,
            hangover_samples: super::ms_to_samples(hangover_ms) as u64,
            remaining: 0,
            active: false,
        }
    }

    /// Processes one frame (any length) and returns `true` while active
    /// (speech/tone or within the hangover). An empty frame leaves the state
    /// unchanged.
    pub fn push_frame(&mut self, frame: &[i16]) -> bool {
        if frame.is_empty() {
            return self.active;
        }
        if rms_dbm0(frame) >= self.threshold_dbm0 {
            self.remaining = self.hangover_samples;
            self.active = true;
        } else if self.remaining > 0 {
            self.remaining = self.remaining.saturating_sub(frame.len() as u64);
            self.active = true;
        } else {
            self.active = false;
        }
        self.active
    }

    /// Result of the last [`Vad::push_frame`] (`false` before any frame).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Returns to the inactive state with no pending hangover.
    pub fn reset(&mut self) {
        self.remaining = 0;
        self.active = false;
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::super::FRAME_SAMPLES;
    use super::super::tone::ToneGen;
    use super::*;

    #[test]
    fn dbm0_peak_conversions() {
        assert!((dbm0_to_peak(0.0) - 22826.0).abs() < 0.01);
        assert!((dbm0_to_peak(-10.0) - 7218.0).abs() < 1.0);
        assert!((peak_to_dbm0(32767.0) - FULL_SCALE_DBM0).abs() < 0.001);
        assert!((peak_to_dbm0(dbm0_to_peak(-23.5)) + 23.5).abs() < 1e-3);
        assert_eq!(peak_to_dbm0(0.0), SILENCE_DBM0);
        assert_eq!(peak_to_dbm0(-5.0), SILENCE_DBM0);
    }

    #[test]
    fn rms_of_zero_dbm0_sine() {
        let mut buf = [0i16; FRAME_SAMPLES];
        ToneGen::single(1000.0, 0.0).fill(&mut buf);
        assert!(rms_dbm0(&buf).abs() < 0.2, "{}", rms_dbm0(&buf));
        let mut buf = [0i16; 800];
        ToneGen::single(697.0, -20.0).fill(&mut buf);
        assert!((rms_dbm0(&buf) + 20.0).abs() < 0.2);
    }

    #[test]
    fn rms_of_silence_is_clamped() {
        assert_eq!(rms_dbm0(&[0; 160]), SILENCE_DBM0);
        assert_eq!(rms_dbm0(&[]), SILENCE_DBM0);
        assert!(rms_dbm0(&[1; 160]) > SILENCE_DBM0);
    }

    #[test]
    fn vad_tone_then_silence() {
        let mut vad = Vad::new(-40.0, 200);
        let silence = [0i16; FRAME_SAMPLES];
        let mut tone = [0i16; FRAME_SAMPLES];
        let mut g = ToneGen::single(440.0, -20.0);

        assert!(!vad.push_frame(&silence));
        for _ in 0..5 {
            g.fill(&mut tone);
            assert!(vad.push_frame(&tone));
        }
        // 200 ms hangover = 10 frames of 20 ms.
        for i in 0..10 {
            assert!(vad.push_frame(&silence), "inactive too early at frame {i}");
        }
        assert!(!vad.push_frame(&silence));
        assert!(!vad.is_active());
        assert!(!vad.push_frame(&[]));

        // A tone below the threshold does not trigger it.
        let mut quiet = [0i16; FRAME_SAMPLES];
        ToneGen::single(440.0, -50.0).fill(&mut quiet);
        assert!(!vad.push_frame(&quiet));

        g.fill(&mut tone);
        assert!(vad.push_frame(&tone));
        vad.reset();
        assert!(!vad.is_active());
        assert!(!vad.push_frame(&silence));
    }
}
