//! Single-bin Goertzel filter.

use core::f32::consts::PI;

/// Single-bin Goertzel filter (f32), evaluating the spectrum of a block of
/// samples at one arbitrary frequency (not restricted to DFT bin centres).
///
/// Feed samples with [`Goertzel::push`], read the result with
/// [`Goertzel::power`], then [`Goertzel::reset`] for the next block.
///
/// # Scaling
///
/// With `X` the block DTFT at the filter frequency and `N` the number of
/// samples pushed since the last reset, [`Goertzel::power`] returns
/// `2·|X|²/N`. For a sine of peak amplitude `A` at exactly the filter
/// frequency this is `N·A²/2`, i.e. the same as the block energy `Σx²` of that
/// sine. So the result can be compared directly with the block energy (for
/// example "tone energy is 82 % of total energy"). spandsp's float Goertzel
/// returns `2·|X|²` and keeps the factor `N` in its constants instead (for
/// example `DTMF_TO_TOTAL_ENERGY = 83.868 = 0.822·102`). Here `N` is already
/// divided out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goertzel {
    coeff: f32,
    /// Filter frequency in radians per sample.
    omega: f32,
    s1: f32,
    s2: f32,
    n: u32,
}

impl Goertzel {
    /// Creates a filter tuned to `freq_hz` for signals sampled at `sample_rate` Hz.
    ///
    /// A `sample_rate` of 0 is treated as 1 so that construction never panics.
    pub fn new(freq_hz: f32, sample_rate: u32) -> Self {
        let fs = sample_rate.max(1) as f32;
        let omega = 2.0 * PI * freq_hz / fs;
        Self {
            coeff: 2.0 * omega.cos(),
            omega,
            s1: 0.0,
            s2: 0.0,
            n: 0,
        }
    }

    /// Clears the filter state so a new block can start.
    pub fn reset(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
        self.n = 0;
    }

    /// Feeds one sample.
    #[inline]
    pub fn push(&mut self, x: f32) {
        let s0 = x + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s0;
        self.n = self.n.saturating_add(1);
    }

    /// The recurrence coefficient `2·cos ω` (for banks that run many filters' recurrences
    /// side by side and hand the state back with [`Goertzel::set_state`]).
    pub fn coeff(&self) -> f32 {
        self.coeff
    }

    /// Sets the state as if `n` samples had been pushed, leaving `s1`, `s2` (the
    /// recurrence's last two outputs, newest first).
    pub fn set_state(&mut self, s1: f32, s2: f32, n: u32) {
        (self.s1, self.s2, self.n) = (s1, s2, n);
    }

    /// Number of samples pushed since the last reset.
    pub fn samples(&self) -> u32 {
        self.n
    }

    /// Power at the filter frequency for the samples pushed since the last
    /// reset: `2·|X|²/N`, comparable with the block energy `Σx²` (see the
    /// type documentation). Returns 0 when no sample has been pushed.
    pub fn power(&self) -> f32 {
        if self.n == 0 {
            return 0.0;
        }
        let mag2 = self.s1 * self.s1 + self.s2 * self.s2 - self.coeff * self.s1 * self.s2;
        (2.0 * mag2 / self.n as f32).max(0.0)
    }

    /// Complex spectrum `X = Σ x[n]·e^{−jωn}` of the samples pushed since the last
    /// reset, with `n = 0` at the first sample, as `(re, im)`. `power()` is
    /// `2·|X|²/N`. Blocks of equal length can be combined coherently with it
    /// (`X₁ + e^{−jωN}·X₂` is the spectrum of the two blocks back to back).
    pub fn dft(&self) -> (f32, f32) {
        if self.n == 0 {
            return (0.0, 0.0);
        }
        // y[N−1] = s1 − e^{−jω}·s2 = e^{jω(N−1)}·X.
        let (s, c) = self.omega.sin_cos();
        let yr = self.s1 - c * self.s2;
        let yi = s * self.s2;
        let a = -(f64::from(self.omega) * f64::from(self.n - 1)).rem_euclid(core::f64::consts::TAU);
        let (sa, ca) = (a as f32).sin_cos();
        (yr * ca - yi * sa, yr * sa + yi * ca)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    fn sine(freq: f32, amp: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..n).map(move |i| amp * (2.0 * PI * freq * i as f32 / 8000.0).sin())
    }

    #[test]
    fn on_bin_sine_power_matches_block_energy() {
        // N = 160, 1000 Hz is bin 20 exactly.
        let amp = 10_000.0f32;
        let mut g = Goertzel::new(1000.0, 8000);
        let mut energy = 0.0f64;
        for x in sine(1000.0, amp, 160) {
            g.push(x);
            energy += f64::from(x) * f64::from(x);
        }
        let expected = 160.0 * amp * amp / 2.0;
        let p = g.power();
        assert!((p - expected).abs() / expected < 1e-3, "{p} vs {expected}");
        assert!((f64::from(p) - energy).abs() / energy < 1e-3);
        assert_eq!(g.samples(), 160);
    }

    #[test]
    fn off_frequency_is_small_and_reset_clears() {
        let mut g = Goertzel::new(697.0, 8000);
        for x in sine(1633.0, 10_000.0, 102) {
            g.push(x);
        }
        let full = 102.0 * 10_000.0f32 * 10_000.0 / 2.0;
        assert!(g.power() < full * 1e-3, "leak {}", g.power() / full);
        g.reset();
        assert_eq!(g.power(), 0.0);
        assert_eq!(g.samples(), 0);
    }

    #[test]
    fn non_bin_frequency_is_exact() {
        // 697 Hz is not a bin centre for N = 102, but the filter is tuned to it.
        let amp = 5_000.0f32;
        let mut g = Goertzel::new(697.0, 8000);
        for x in sine(697.0, amp, 102) {
            g.push(x);
        }
        let expected = 102.0 * amp * amp / 2.0;
        assert!((g.power() - expected).abs() / expected < 0.03);
    }

    #[test]
    fn dft_matches_direct_sum() {
        let x: Vec<f32> = (0..160)
            .map(|i| 3000.0 * (0.37 * i as f32 + 0.5).sin() + 500.0 * (1.1 * i as f32).cos())
            .collect();
        for f in [425.0f32, 1100.0, 2100.0] {
            let mut g = Goertzel::new(f, 8000);
            x.iter().for_each(|&v| g.push(v));
            let w = 2.0 * PI * f / 8000.0;
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (n, &v) in x.iter().enumerate() {
                re += f64::from(v) * f64::from(w * n as f32).cos();
                im -= f64::from(v) * f64::from(w * n as f32).sin();
            }
            let (gr, gi) = g.dft();
            let mag = (re * re + im * im).sqrt();
            assert!(
                (f64::from(gr) - re).abs() < 1e-3 * mag + 1.0,
                "{f}: {gr} vs {re}"
            );
            assert!(
                (f64::from(gi) - im).abs() < 1e-3 * mag + 1.0,
                "{f}: {gi} vs {im}"
            );
            let p = 2.0 * (gr * gr + gi * gi) / 160.0;
            assert!((p - g.power()).abs() <= 1e-3 * g.power());
        }
        assert_eq!(Goertzel::new(100.0, 8000).dft(), (0.0, 0.0));
    }

    #[test]
    fn zero_sample_rate_does_not_panic() {
        let mut g = Goertzel::new(100.0, 0);
        g.push(1.0);
        assert!(g.power().is_finite());
    }
}
