//! Generators of test conditions for the signal-processing code: DTMF bursts with
//! frequency offsets and twist, white noise at a given level, dial tone, synthetic
//! music and sung vowels, and the G.711 µ-law / A-law codecs.
//!
//! Signals are built in `f64` (so that mixing does not clip early) and quantised to
//! 16-bit PCM with [`quantize`]. Levels follow the module convention: dBm0 per tone,
//! 0 dBm0 = sine of peak 22826. A noise "level" in dBm0 is its total power relative to
//! the power of a 0 dBm0 sine (so "SNR 15 dB" against a −10 dBm0 tone is noise at
//! −25 dBm0).
//!
//! Everything is deterministic: randomness comes from [`Rng`] with an explicit seed.

use super::SAMPLE_RATE;
use super::dtmf::digit_freqs;
use super::level::dbm0_to_peak;

/// Small deterministic PRNG (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (core::f64::consts::TAU * u2).cos()
    }
}

/// Mean square of a sine at `dbm0` (the reference power for noise levels).
pub fn dbm0_power(dbm0: f32) -> f64 {
    let a = f64::from(dbm0_to_peak(dbm0));
    a * a / 2.0
}

/// Number of samples in `ms` milliseconds (may be fractional ms).
pub fn ms(ms: f64) -> usize {
    (ms * f64::from(SAMPLE_RATE) / 1000.0).round() as usize
}

/// `n` samples of silence.
pub fn silence(n: usize) -> Vec<f64> {
    vec![0.0; n]
}

/// Sum of sines `(frequency Hz, level dBm0)`, `n` samples, all starting at `phase`
/// (cycles).
pub fn tones(components: &[(f64, f32)], n: usize, phase: f64) -> Vec<f64> {
    let mut v = vec![0.0; n];
    for &(f, l) in components {
        let a = f64::from(dbm0_to_peak(l));
        let w = core::f64::consts::TAU * f / f64::from(SAMPLE_RATE);
        for (i, x) in v.iter_mut().enumerate() {
            *x += a * (w * i as f64 + core::f64::consts::TAU * phase).sin();
        }
    }
    v
}

/// One DTMF condition: level of the low tone, twist (high − low, dB) and relative
/// frequency deviations of each tone (0.015 = +1.5 %).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfSpec {
    /// Level of the low tone, dBm0.
    pub level_dbm0: f32,
    /// High-tone level minus low-tone level, dB.
    pub twist_db: f32,
    /// Relative deviation of the low tone.
    pub low_dev: f64,
    /// Relative deviation of the high tone.
    pub high_dev: f64,
}

impl Default for DtmfSpec {
    fn default() -> Self {
        Self {
            level_dbm0: -10.0,
            twist_db: 0.0,
            low_dev: 0.0,
            high_dev: 0.0,
        }
    }
}

/// `n` samples of `digit` under `spec`. Panics on an invalid digit (test helper).
pub fn dtmf(digit: char, spec: DtmfSpec, n: usize) -> Vec<f64> {
    let (lo, hi) = digit_freqs(digit).unwrap_or_else(|| panic!("not a DTMF digit: {digit:?}"));
    tones(
        &[
            (f64::from(lo) * (1.0 + spec.low_dev), spec.level_dbm0),
            (
                f64::from(hi) * (1.0 + spec.high_dev),
                spec.level_dbm0 + spec.twist_db,
            ),
        ],
        n,
        0.0,
    )
}

/// A digit sequence: for each digit `on` samples of tone then `off` samples of
/// silence, after `lead` samples of silence.
pub fn dtmf_sequence(digits: &str, spec: DtmfSpec, lead: usize, on: usize, off: usize) -> Vec<f64> {
    let mut v = silence(lead);
    for d in digits.chars() {
        v.extend(dtmf(d, spec, on));
        v.extend(silence(off));
    }
    v
}

/// Adds white Gaussian noise of total power `level_dbm0` (relative to a 0 dBm0 sine).
pub fn add_white_noise(v: &mut [f64], level_dbm0: f32, rng: &mut Rng) {
    let sigma = dbm0_power(level_dbm0).sqrt();
    for x in v.iter_mut() {
        *x += sigma * rng.gaussian();
    }
}

/// Adds `src` into `dst` starting at `offset` (truncated at the end of `dst`).
pub fn mix_at(dst: &mut [f64], src: &[f64], offset: usize) {
    for (d, s) in dst.iter_mut().skip(offset).zip(src) {
        *d += s;
    }
}

/// Power (mean square) of `v`, expressed in dBm0 (−200 for silence).
pub fn power_dbm0(v: &[f64]) -> f32 {
    if v.is_empty() {
        return -200.0;
    }
    let p = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
    if p <= 0.0 {
        return -200.0;
    }
    (10.0 * (p / dbm0_power(0.0)).log10()) as f32
}

/// Scales `v` so that its power is `level_dbm0`.
pub fn set_power_dbm0(v: &mut [f64], level_dbm0: f32) {
    let cur = power_dbm0(v);
    if cur <= -200.0 {
        return;
    }
    let g = 10f64.powf(f64::from(level_dbm0 - cur) / 20.0);
    for x in v.iter_mut() {
        *x *= g;
    }
}

/// Rounds and saturates to 16-bit PCM.
pub fn quantize(v: &[f64]) -> Vec<i16> {
    v.iter()
        .map(|x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Converts 16-bit PCM to `f64`.
pub fn to_f64(v: &[i16]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// G.711 µ-law encoding of a 16-bit sample (14-bit magnitude, bias 33).
pub fn ulaw_encode(s: i16) -> u8 {
    const BIAS: i32 = 0x84;
    let mut x = i32::from(s) >> 2; // 14-bit
    let sign = if x < 0 {
        x = -x;
        0x7F
    } else {
        0xFF
    };
    let x = (x + (BIAS >> 2)).min(0x1FFF);
    let mut seg = 0;
    while seg < 8 && (x >> (seg + 6)) != 0 {
        seg += 1;
    }
    // seg = position of the segment (0..7)
    let seg = seg.min(7);
    let mant = (x >> (seg + 1)) & 0x0F;
    (((seg << 4) | mant) as u8) ^ sign as u8
}

/// G.711 µ-law decoding to 16-bit PCM.
pub fn ulaw_decode(u: u8) -> i16 {
    let u = !u;
    let sign = u & 0x80;
    let seg = i32::from((u >> 4) & 0x07);
    let mant = i32::from(u & 0x0F);
    let mag = (((mant << 3) + 0x84) << seg) - 0x84;
    (if sign != 0 { -mag } else { mag }) as i16
}

/// G.711 A-law encoding of a 16-bit sample.
pub fn alaw_encode(s: i16) -> u8 {
    let x = i32::from(s) >> 3; // 13-bit
    let (mask, mag) = if x >= 0 { (0xD5, x) } else { (0x55, -x - 1) };
    let mag = mag.min(0xFFF);
    let code = if mag < 32 {
        mag >> 1
    } else {
        let mut seg = 1;
        while seg < 7 && (mag >> (seg + 5)) != 0 {
            seg += 1;
        }
        (seg << 4) | ((mag >> seg) & 0x0F)
    };
    (code as u8) ^ mask
}

/// G.711 A-law decoding to 16-bit PCM.
pub fn alaw_decode(a: u8) -> i16 {
    let a = a ^ 0x55;
    let seg = i32::from((a & 0x70) >> 4);
    let mant = i32::from(a & 0x0F);
    let mag = if seg == 0 {
        (mant << 4) + 8
    } else {
        ((mant << 4) + 0x108) << (seg - 1)
    };
    (if a & 0x80 != 0 { mag } else { -mag }) as i16
}

/// Passes PCM through µ-law encode + decode.
pub fn ulaw_roundtrip(v: &[i16]) -> Vec<i16> {
    v.iter().map(|&s| ulaw_decode(ulaw_encode(s))).collect()
}

/// Passes PCM through A-law encode + decode.
pub fn alaw_roundtrip(v: &[i16]) -> Vec<i16> {
    v.iter().map(|&s| alaw_decode(alaw_encode(s))).collect()
}

/// Frequency of MIDI note `m` (A4 = 69 = 440 Hz).
fn midi(m: f64) -> f64 {
    440.0 * 2f64.powf((m - 69.0) / 12.0)
}

/// A harmonic note: fundamental `f0`, harmonic amplitudes `harm` (relative to the
/// fundamental), attack/decay envelope, optional vibrato; added into `out` at `at`.
fn note(out: &mut [f64], at: usize, len: usize, f0: f64, amp: f64, harm: &[f64], vib: f64) {
    let fs = f64::from(SAMPLE_RATE);
    let attack = (0.02 * fs) as usize;
    let mut phase = 0.0f64;
    for i in 0..len {
        let Some(o) = out.get_mut(at + i) else { break };
        let t = i as f64 / fs;
        let env = if i < attack {
            i as f64 / attack as f64
        } else {
            (-(t - 0.02) * 2.0).exp().max(0.2) * (1.0 - (i as f64 / len as f64).powi(8))
        };
        let f = f0 * (1.0 + vib * (core::f64::consts::TAU * 5.5 * t).sin());
        phase += f / fs;
        let mut s = 0.0;
        for (h, &a) in harm.iter().enumerate() {
            let fh = f0 * (h + 1) as f64;
            if fh < 3800.0 {
                s += a * (core::f64::consts::TAU * phase * (h + 1) as f64).sin();
            }
        }
        *o += amp * env * s;
    }
}

/// `seconds` of synthetic music at about `level_dbm0` mean power: melodies and
/// three-note chords in several keys and tempi, played on harmonic-rich timbres
/// (string-, brass-, reed-, piano-like spectra), with vibrato. Deterministic for a
/// seed.
pub fn music(seconds: f64, level_dbm0: f32, rng: &mut Rng) -> Vec<f64> {
    let fs = f64::from(SAMPLE_RATE);
    let n = (seconds * fs) as usize;
    let mut out = vec![0.0; n];
    let timbres: [&[f64]; 4] = [
        &[1.0, 0.7, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15], // string-like
        &[1.0, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3],        // brass-like
        &[1.0, 0.1, 0.6, 0.1, 0.4, 0.1, 0.3],        // reed-like (odd)
        &[1.0, 0.5, 0.33, 0.25, 0.2, 0.17, 0.14, 0.12], // sawtooth/piano-like
    ];
    let major = [0, 2, 4, 5, 7, 9, 11];
    let mut t = 0usize;
    while t < n {
        let key = 48.0 + (rng.uniform() * 24.0).floor();
        let beat = (rng.range(0.12, 0.5) * fs) as usize;
        let timbre = timbres[(rng.uniform() * 4.0) as usize % 4];
        let vib = if rng.uniform() < 0.5 { 0.006 } else { 0.0 };
        // A phrase of 8 beats: melody over a chord.
        let root = major[(rng.uniform() * 7.0) as usize % 7] as f64;
        for &iv in &[0.0, 4.0, 7.0] {
            note(
                &mut out,
                t,
                beat * 8,
                midi(key - 12.0 + root + iv),
                0.4,
                timbre,
                0.0,
            );
        }
        for b in 0..8 {
            let deg = major[(rng.uniform() * 7.0) as usize % 7] as f64;
            let oct = if rng.uniform() < 0.3 { 12.0 } else { 0.0 };
            note(
                &mut out,
                t + b * beat,
                beat,
                midi(key + deg + oct),
                1.0,
                timbre,
                vib,
            );
        }
        t += beat * 8;
    }
    set_power_dbm0(&mut out, level_dbm0);
    out
}

/// Formant frequencies (F1, F2, F3) of the vowels a, e, i, o, u (adult voice).
const VOWELS: [[f64; 3]; 5] = [
    [730.0, 1090.0, 2440.0],
    [530.0, 1840.0, 2480.0],
    [270.0, 2290.0, 3010.0],
    [570.0, 840.0, 2410.0],
    [300.0, 870.0, 2240.0],
];

/// Sung vowels: harmonic voice source at pitches from 100 to 700 Hz, shaped by the
/// formants of a/e/i/o/u, held for 0.4–1.2 s with vibrato and slight pitch glides,
/// at about `level_dbm0`. Deterministic for a seed.
pub fn sung_vowels(seconds: f64, level_dbm0: f32, rng: &mut Rng) -> Vec<f64> {
    let fs = f64::from(SAMPLE_RATE);
    let n = (seconds * fs) as usize;
    let mut out = vec![0.0; n];
    let mut t = 0;
    while t < n {
        let len = (rng.range(0.4, 1.2) * fs) as usize;
        let f0 = midi(rng.range(43.0, 77.0).floor());
        let v = VOWELS[(rng.uniform() * 5.0) as usize % 5];
        let glide = rng.range(-0.03, 0.03);
        let vib = rng.range(0.0, 0.02);
        let mut phase = 0.0;
        let nh = (3800.0 / f0) as usize;
        // Harmonic amplitudes: −12 dB/octave source times formant resonances.
        let amps: Vec<f64> = (1..=nh)
            .map(|h| {
                let f = f0 * h as f64;
                let src = 1.0 / h as f64;
                let res: f64 = v
                    .iter()
                    .map(|&fm| {
                        let bw = 80.0 + fm * 0.05;
                        1.0 / (1.0 + ((f - fm) / bw).powi(2)).sqrt()
                    })
                    .sum();
                src * res
            })
            .collect();
        for i in 0..len {
            let Some(o) = out.get_mut(t + i) else { break };
            let tt = i as f64 / fs;
            let f =
                f0 * (1.0 + glide * tt) * (1.0 + vib * (core::f64::consts::TAU * 5.0 * tt).sin());
            phase += f / fs;
            let env = (i as f64 / (0.03 * fs)).min(1.0) * ((len - i) as f64 / (0.03 * fs)).min(1.0);
            let mut s = 0.0;
            for (h, a) in amps.iter().enumerate() {
                s += a * (core::f64::consts::TAU * phase * (h + 1) as f64).sin();
            }
            *o += env * s;
        }
        t += len + (rng.range(0.0, 0.2) * fs) as usize;
    }
    set_power_dbm0(&mut out, level_dbm0);
    out
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    #[test]
    fn noise_level_is_as_asked() {
        let mut v = silence(80_000);
        add_white_noise(&mut v, -25.0, &mut Rng::new(7));
        assert!((power_dbm0(&v) + 25.0).abs() < 0.1, "{}", power_dbm0(&v));
    }

    #[test]
    fn dtmf_levels_and_twist() {
        let v = dtmf(
            '1',
            DtmfSpec {
                level_dbm0: -10.0,
                twist_db: -3.0,
                ..DtmfSpec::default()
            },
            8000,
        );
        // −10 and −13 dBm0: total −8.24 dBm0.
        let expect = 10.0 * (10f64.powf(-1.0) + 10f64.powf(-1.3)).log10();
        assert!((f64::from(power_dbm0(&v)) - expect).abs() < 0.05);
    }

    #[test]
    fn g711_roundtrip_is_close() {
        for s in (-32768i32..=32767).step_by(7) {
            let s = s as i16;
            for (name, r) in [
                ("ulaw", ulaw_decode(ulaw_encode(s))),
                ("alaw", alaw_decode(alaw_encode(s))),
            ] {
                let err = (i32::from(r) - i32::from(s)).abs();
                // Relative error of a logarithmic codec: ≤ 1/32 of the value (+ the
                // smallest step near zero).
                let tol = (i32::from(s).abs() / 24).max(40);
                assert!(err <= tol, "{name}: {s} -> {r}");
            }
        }
        // Known code points.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(alaw_decode(0xAA), 32256);
    }

    #[test]
    fn music_and_vowels_have_the_level() {
        let mut rng = Rng::new(1);
        let m = music(5.0, -15.0, &mut rng);
        assert!((power_dbm0(&m) + 15.0).abs() < 0.01);
        let v = sung_vowels(5.0, -12.0, &mut rng);
        assert!((power_dbm0(&v) + 12.0).abs() < 0.01);
    }
}
