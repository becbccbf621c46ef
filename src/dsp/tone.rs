//! Phase-continuous sine generator (one or two components).

use super::SAMPLE_RATE;
use super::level::dbm0_to_peak;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Component {
    /// Current phase in cycles, kept in `[0, 1)`.
    phase: f64,
    /// Phase increment per sample, in cycles.
    step: f64,
    /// Peak amplitude in linear PCM units.
    amp: f64,
}

impl Component {
    fn new(freq_hz: f32, level_dbm0: f32) -> Self {
        Self {
            phase: 0.0,
            step: f64::from(freq_hz) / f64::from(SAMPLE_RATE),
            amp: f64::from(dbm0_to_peak(level_dbm0)),
        }
    }

    #[inline]
    fn next(&mut self) -> f64 {
        let v = self.amp * (core::f64::consts::TAU * self.phase).sin();
        self.phase += self.step;
        self.phase -= self.phase.floor();
        v
    }
}

/// Phase-continuous generator of one or two sine components at
/// [`SAMPLE_RATE`], levels given in dBm0 per component.
///
/// Successive calls to [`ToneGen::fill`] / [`ToneGen::add_to`] continue the
/// waveform without phase jumps. Output is rounded and saturated to `i16`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneGen {
    comps: [Component; 2],
    count: usize,
}

impl ToneGen {
    /// One sine at `freq_hz` with level `level_dbm0`, starting at phase 0.
    pub fn single(freq_hz: f32, level_dbm0: f32) -> Self {
        let c = Component::new(freq_hz, level_dbm0);
        Self {
            comps: [c, c],
            count: 1,
        }
    }

    /// Sum of two sines (`f1` at `l1_dbm0`, `f2` at `l2_dbm0`), both starting at phase 0.
    pub fn dual(f1: f32, l1_dbm0: f32, f2: f32, l2_dbm0: f32) -> Self {
        Self {
            comps: [Component::new(f1, l1_dbm0), Component::new(f2, l2_dbm0)],
            count: 2,
        }
    }

    /// Next sample as an unrounded, unsaturated value.
    #[inline]
    pub fn next_value(&mut self) -> f64 {
        let mut acc = 0.0;
        for c in self.comps.iter_mut().take(self.count) {
            acc += c.next();
        }
        acc
    }

    /// Next sample, rounded and saturated to `i16`.
    #[inline]
    pub fn next_sample(&mut self) -> i16 {
        to_i16(self.next_value())
    }

    /// Overwrites `out` with the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out.iter_mut() {
            *o = self.next_sample();
        }
    }

    /// Mixes the next `out.len()` samples into `out` (saturating add).
    pub fn add_to(&mut self, out: &mut [i16]) {
        for o in out.iter_mut() {
            *o = o.saturating_add(self.next_sample());
        }
    }
}

#[inline]
fn to_i16(v: f64) -> i16 {
    // `as` saturates (and maps NaN to 0); the clamp makes the intent explicit.
    v.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::super::goertzel::Goertzel;
    use super::super::level::rms_dbm0;
    use super::*;

    #[test]
    fn single_level_and_frequency() {
        let mut buf = [0i16; 160];
        ToneGen::single(1000.0, -10.0).fill(&mut buf);
        assert!((rms_dbm0(&buf) + 10.0).abs() < 0.05);
        let peak = buf.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((i32::from(peak) - 7218).abs() <= 2, "peak {peak}");
        let mut on = Goertzel::new(1000.0, 8000);
        let mut off = Goertzel::new(1200.0, 8000);
        for &s in &buf {
            on.push(f32::from(s));
            off.push(f32::from(s));
        }
        assert!(on.power() > 1000.0 * off.power());
    }

    #[test]
    fn phase_continuous_across_calls() {
        let mut whole = [0i16; 1000];
        ToneGen::dual(697.0, -10.0, 1209.0, -12.0).fill(&mut whole);
        let mut g = ToneGen::dual(697.0, -10.0, 1209.0, -12.0);
        let mut pieces = [0i16; 1000];
        for chunk in pieces.chunks_mut(37) {
            g.fill(chunk);
        }
        assert_eq!(whole, pieces);
    }

    #[test]
    fn dual_levels_and_add_to() {
        let mut a = [0i16; 400];
        ToneGen::dual(697.0, -10.0, 1633.0, -10.0).fill(&mut a);
        // Two equal components: total power is 3 dB above one.
        assert!((rms_dbm0(&a) - (-10.0 + 3.0103)).abs() < 0.1);

        let mut b = [0i16; 400];
        ToneGen::single(697.0, -10.0).fill(&mut b);
        ToneGen::single(1633.0, -10.0).add_to(&mut b);
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((i32::from(*x) - i32::from(*y)).abs() <= 1);
        }
    }

    #[test]
    fn saturates() {
        let mut buf = [0i16; 200];
        ToneGen::dual(500.0, 3.0, 500.0, 3.0).fill(&mut buf);
        assert!(buf.contains(&i16::MAX));
        assert!(buf.contains(&i16::MIN));
        let mut full = [i16::MAX; 10];
        ToneGen::single(2000.0, 0.0).add_to(&mut full);
        assert_eq!(full[1], i16::MAX); // sin(pi/2) > 0 saturates
    }
}
