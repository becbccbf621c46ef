//! DTMF (Q.23/Q.24) generation and detection.

use super::level::{dbm0_to_peak, energy_to_dbm0};
use super::tone::ToneGen;
use super::{SAMPLE_RATE, ms_to_samples, samples_to_ms};

/// Low-group (row) frequencies in Hz.
pub const DTMF_ROW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];

/// High-group (column) frequencies in Hz.
pub const DTMF_COL: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// Keypad layout: `DTMF_KEYS[row][col]`.
pub const DTMF_KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Row and column index of a digit (`'a'..='d'` accepted as `'A'..='D'`).
fn digit_pos(d: char) -> Option<(usize, usize)> {
    let d = d.to_ascii_uppercase();
    DTMF_KEYS
        .iter()
        .enumerate()
        .find_map(|(r, keys)| keys.iter().position(|&k| k == d).map(|c| (r, c)))
}

/// `(low, high)` frequencies in Hz of a DTMF digit: `'0'..='9'`, `'*'`, `'#'`,
/// `'A'..='D'` (lowercase `'a'..='d'` accepted). `None` for anything else.
pub fn digit_freqs(d: char) -> Option<(f32, f32)> {
    digit_pos(d).map(|(r, c)| (DTMF_ROW[r], DTMF_COL[c]))
}

/// Generator for one DTMF digit. The low tone has level `level_dbm0`, the
/// high tone `level_dbm0 + twist_db`. `None` for an invalid digit.
pub fn dtmf_tone(digit: char, level_dbm0: f32, twist_db: f32) -> Option<ToneGen> {
    let (lo, hi) = digit_freqs(digit)?;
    Some(ToneGen::dual(lo, level_dbm0, hi, level_dbm0 + twist_db))
}

/// Error from [`generate`]: a character that is not a DTMF digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidDigit {
    /// The offending character.
    pub digit: char,
    /// Its position (in chars) in the input string.
    pub position: usize,
}

impl core::fmt::Display for InvalidDigit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "invalid DTMF digit {:?} at position {}",
            self.digit, self.position
        )
    }
}

impl std::error::Error for InvalidDigit {}

/// Parameters of [`generate_with`]: tone and pause durations, level, twist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfGenParams {
    /// Tone duration per digit, ms.
    pub on_ms: u32,
    /// Pause after each digit, ms (also after the last one).
    pub off_ms: u32,
    /// Level of the low (row) tone, dBm0.
    pub level_dbm0: f32,
    /// Twist: level of the high tone minus level of the low tone, dB.
    pub twist_db: f32,
}

impl Default for DtmfGenParams {
    fn default() -> Self {
        Self {
            on_ms: 50,
            off_ms: 50,
            level_dbm0: -10.0,
            twist_db: 0.0,
        }
    }
}

/// Renders `digits` as DTMF with the given durations, level and twist. Each burst
/// starts at phase 0; every digit is followed by `off_ms` of silence.
pub fn generate_with(digits: &str, p: &DtmfGenParams) -> Result<Vec<i16>, InvalidDigit> {
    let on = ms_to_samples(p.on_ms);
    let off = ms_to_samples(p.off_ms);
    let mut tones = Vec::with_capacity(digits.len());
    for (position, digit) in digits.chars().enumerate() {
        tones.push(
            dtmf_tone(digit, p.level_dbm0, p.twist_db).ok_or(InvalidDigit { digit, position })?,
        );
    }
    let mut out = vec![0i16; tones.len().saturating_mul(on.saturating_add(off))];
    if on + off > 0 {
        for (chunk, tone) in out.chunks_mut(on + off).zip(tones.iter_mut()) {
            tone.fill(&mut chunk[..on]);
        }
    }
    Ok(out)
}

/// Renders `digits` as DTMF: for each digit `on_ms` of tone (both tones at
/// `level_dbm0`, no twist) followed by `off_ms` of silence, including the
/// trailing gap after the last digit. Each burst starts at phase 0.
pub fn generate(
    digits: &str,
    on_ms: u32,
    off_ms: u32,
    level_dbm0: f32,
) -> Result<Vec<i16>, InvalidDigit> {
    generate_with(
        digits,
        &DtmfGenParams {
            on_ms,
            off_ms,
            level_dbm0,
            twist_db: 0.0,
        },
    )
}

/// Detection event reported by [`DtmfDetector::push`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DtmfEvent {
    /// A digit was recognised (reported once it has lasted long enough, about 35 ms
    /// after its onset).
    Start {
        /// The digit (`'A'..='D'` in upper case).
        digit: char,
        /// Estimated onset: sample index (since creation or reset) of the first
        /// 6.4 ms analysis slot in which the digit's tones dominated.
        sample: u64,
        /// Level of the low (row) tone in dBm0 (strongest confirming block,
        /// corrected for the frequency offset).
        level_dbm0: f32,
        /// Level of the high (column) tone in dBm0.
        high_level_dbm0: f32,
    },
    /// The digit held since the matching `Start` ended.
    End {
        /// The digit.
        digit: char,
        /// Sample index one past the last slot in which the digit was present.
        sample: u64,
        /// `sample` of this event minus `sample` of the `Start`, in ms.
        duration_ms: u32,
    },
}

/// Tuning of [`DtmfDetector`]. `Default` gives the values that meet the receiver
/// requirements of `reference/dtmf-requirements.md` (see the README for the measured
/// boundaries).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfParams {
    /// Minimum level of each of the two tones, dBm0 (default −45).
    pub threshold_dbm0: f32,
    /// Maximum normal twist: how far the high tone may be *below* the low tone, dB (default 8).
    pub max_normal_twist_db: f32,
    /// Maximum reverse twist: how far the high tone may be *above* the low tone, dB (default 4).
    pub max_reverse_twist_db: f32,
    /// Tolerance added to both twist limits for measurement error, dB (default 1.5).
    pub twist_margin_db: f32,
    /// The strongest tone of each group must exceed every other tone of the group by
    /// this much in a block, dB (default 8).
    pub relative_peak_db: f32,
    /// Largest accepted frequency deviation of each tone, as a fraction of its
    /// nominal frequency (default 0.025: accept ±1.5 %, reject ±3.5 %).
    pub max_freq_dev: f32,
    /// Minimum share of a 12.75 ms block's energy carried by the two tones, after
    /// correcting their powers for the measured frequency offset (default 0.8).
    /// The main talk-off guard.
    pub energy_ratio: f32,
    /// Minimum share of a 6.4 ms slot's energy carried by the digit's two tones for
    /// the slot to count as "digit present" (default 0.5).
    pub slot_ratio: f32,
    /// Present slots needed to accept a digit (default 5: a 40 ms tone always gives
    /// at least 5, a 23 ms tone at most 4).
    pub min_present_slots: u32,
    /// Blocks that must classify as the digit before it is accepted (default 2).
    pub min_block_hits: u32,
    /// Consecutive absent slots that end a digit (default 4 ≈ 25 ms: a 10 ms
    /// dropout spoils at most 2, a 40 ms pause at least 5).
    pub end_absent_slots: u32,
    /// Largest deviation of each tone from its nominal frequency, as a fraction,
    /// measured over the whole digit before it is accepted (the amplitude-weighted
    /// phase advance over all its present slots; default 0.02). Tighter than the
    /// per-block window, whose estimate is disturbed at the edges of a tone.
    pub digit_freq_dev: f32,
    /// Minimum phase coherence of each tone over the digit: `|Σ p| / Σ |p|` of the
    /// slot-to-slot phase advances `p` (1 for a steady tone; default 0.9). Speech
    /// whose pitch wanders fails it.
    pub min_coherence: f32,
}

impl Default for DtmfParams {
    fn default() -> Self {
        Self {
            threshold_dbm0: -45.0,
            max_normal_twist_db: 8.0,
            max_reverse_twist_db: 4.0,
            twist_margin_db: 1.5,
            relative_peak_db: 8.0,
            max_freq_dev: 0.025,
            energy_ratio: 0.8,
            slot_ratio: 0.5,
            min_present_slots: 5,
            min_block_hits: 2,
            end_absent_slots: 4,
            digit_freq_dev: 0.02,
            min_coherence: 0.6,
        }
    }
}

fn db_to_power_ratio(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

/// Samples per analysis slot (6.375 ms). A block is two consecutive slots.
pub const SLOT: usize = 51;
/// Samples per analysis block (12.75 ms, bins 78 Hz wide, like spandsp).
pub const BLOCK: usize = 2 * SLOT;
/// Slot length padded to a multiple of 8 for the vector dot products.
const SLOT_PAD: usize = 56;
/// Fixed-point scale of the correlation tables (10 bits keeps
/// `51 · 32768 · 1024` inside an `i32`).
const TAB_SCALE: f32 = 1024.0;
/// Relative distance from an exact octave below which a pair is rejected.
const OCTAVE_GUARD: f32 = 0.02;
/// Halves kept for the retroactive presence count of a new candidate.
const HISTORY: usize = 8;

/// Complex number (f32), just what the detector needs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct C {
    re: f32,
    im: f32,
}

impl C {
    #[inline]
    fn mul(self, o: C) -> C {
        C {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    #[inline]
    fn mul_conj(self, o: C) -> C {
        C {
            re: self.re * o.re + self.im * o.im,
            im: self.im * o.re - self.re * o.im,
        }
    }
    #[inline]
    fn add(self, o: C) -> C {
        C {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    #[inline]
    fn norm2(self) -> f32 {
        self.re * self.re + self.im * self.im
    }
}

/// Correlation tables shared by all detectors.
struct Tables {
    /// `tab[2k][n] = round(1024·cos ω_k n)`, `tab[2k+1][n] = round(−1024·sin ω_k n)`
    /// for n < 51, zero padding after.
    tab: [[i16; SLOT_PAD]; 16],
    /// Response of each (quantised) correlator to a constant 1: used to remove the
    /// slot mean (DC) exactly.
    dc: [C; 8],
    /// `e^{−jω_k·51}`: brings the second slot of a block to the phase reference of
    /// the first.
    rot: [C; 8],
    /// Nominal frequencies, rows then columns.
    freq: [f32; 8],
}

fn tables() -> &'static Tables {
    static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut freq = [0f32; 8];
        freq[..4].copy_from_slice(&DTMF_ROW);
        freq[4..].copy_from_slice(&DTMF_COL);
        let mut tab = [[0i16; SLOT_PAD]; 16];
        let mut dc = [C::default(); 8];
        let mut rot = [C::default(); 8];
        for (k, &f) in freq.iter().enumerate() {
            let w = core::f64::consts::TAU * f64::from(f) / f64::from(SAMPLE_RATE);
            let (mut sr, mut si) = (0i32, 0i32);
            #[allow(clippy::needless_range_loop)] // two tables filled per index
            for n in 0..SLOT {
                let c = (f64::from(TAB_SCALE) * (w * n as f64).cos()).round() as i16;
                let s = (-f64::from(TAB_SCALE) * (w * n as f64).sin()).round() as i16;
                tab[2 * k][n] = c;
                tab[2 * k + 1][n] = s;
                sr += i32::from(c);
                si += i32::from(s);
            }
            dc[k] = C {
                re: sr as f32 / TAB_SCALE,
                im: si as f32 / TAB_SCALE,
            };
            let a = w * SLOT as f64;
            rot[k] = C {
                re: a.cos() as f32,
                im: -a.sin() as f32,
            };
        }
        Tables { tab, dc, rot, freq }
    })
}

/// `Σ x[n]·t[n]` over one padded slot. Kept out of line so that the compiler
/// vectorises along `n` (`pmaddwd` on x86-64, `smlal` on AArch64) instead of
/// across the 16 tables.
#[inline(never)]
fn dot(x: &[i16; SLOT_PAD], t: &[i16; SLOT_PAD]) -> i32 {
    x.iter()
        .zip(t.iter())
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// `(Σ x, Σ x²)` over one padded slot.
#[inline(never)]
fn sum_and_energy(x: &[i16; SLOT_PAD]) -> (i32, i64) {
    let sum: i32 = x.iter().map(|&s| i32::from(s)).sum();
    // x² ≤ 2³⁰: sums of two fit in u32, and 28 such pairs fit in u64.
    let sq: u64 = x
        .chunks_exact(2)
        .map(|p| {
            let a = i32::from(p[0]);
            let b = i32::from(p[1]);
            u64::from((a * a) as u32 + (b * b) as u32)
        })
        .sum();
    (sum, sq as i64)
}

/// One analysed slot: the eight complex correlations (DC removed) and the AC energy.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    x: [C; 8],
    energy: f32,
}

/// Fast `atan2` (max error about 0.005 rad), enough for the frequency test.
#[inline]
fn atan2(y: f32, x: f32) -> f32 {
    use core::f32::consts::{FRAC_PI_2, PI};
    let ax = x.abs();
    let ay = y.abs();
    if ax == 0.0 && ay == 0.0 {
        return 0.0;
    }
    let (t, swap) = if ay > ax {
        (ax / ay, true)
    } else {
        (ay / ax, false)
    };
    let s = t * t;
    // Minimax polynomial for atan on [0, 1].
    let mut r = ((-0.046_496_473 * s + 0.159_314_22) * s - 0.327_622_77) * s * t + t;
    if swap {
        r = FRAC_PI_2 - r;
    }
    if x < 0.0 {
        r = PI - r;
    }
    if y < 0.0 { -r } else { r }
}

/// Power loss of a 102-sample rectangular block for a tone whose phase advances by
/// `phi` radians per slot relative to the nominal frequency:
/// `(sin φ / (102·sin(φ/102)))²`.
#[inline]
fn block_loss(phi: f32) -> f32 {
    let a = phi.abs();
    if a < 1e-4 {
        return 1.0;
    }
    let d = BLOCK as f32 * (a / BLOCK as f32).sin();
    let r = a.sin() / d;
    r * r
}

/// A tested block.
#[derive(Debug, Clone, Copy)]
struct Hit {
    digit: char,
    row: usize,
    col: usize,
    /// Corrected powers (comparable with block energy) of the two tones.
    row_power: f32,
    col_power: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Idle,
    /// A digit is being tracked but not yet accepted.
    Candidate,
    /// A digit has been reported by `Start`.
    Active,
}

/// Streaming DTMF receiver.
///
/// The signal is cut into 6.375 ms slots (51 samples). For each slot the detector
/// correlates the samples with the eight DTMF frequencies (16-bit fixed-point tables,
/// 32-bit accumulators, slot mean removed) and measures the AC energy. Every slot it
/// also tests the 12.75 ms block made of the last two slots (50 % overlap):
///
/// 1. best row and best column; every other tone of the group ≥ 8 dB below;
/// 2. **frequency**: the phase advance of each tone from the first to the second slot
///    gives its frequency offset; both tones must be within ±2.5 %;
/// 3. the tone powers are corrected for the rectangular window's loss at the measured
///    offset (so a tone 1.5 % off counts at its true level);
/// 4. **level** of each tone ≥ threshold, **twist** within −8 … +4 dB (+ margin);
/// 5. **energy ratio**: the two tones carry ≥ 80 % of the block energy.
///
/// A block that passes is a *hit* for its digit. A digit is tracked from its first
/// hit; each slot is *present* when the digit's two tones carry ≥ 50 % of the slot's
/// energy. The digit is accepted (`Start`) after 5 present slots (≥ 32 ms) and 2 hits,
/// once two talk-off guards measured over the whole digit agree:
///
/// - **digit frequency**: the amplitude-weighted phase advance of each tone over all
///   present slots puts it within ±2 % of nominal (the per-block ±2.5 % window is only
///   a first cut: a block straddling the tone's edge misreads it by up to 0.8 %), and
///   the advances are coherent (a voice whose pitch wanders is not);
/// - **harmonics**: if the two frequencies stand in a small-integer ratio (two
///   harmonics of one voice: 867 + 1442 Hz = 3 × and 5 × 289 Hz looks like a `9`), the
///   neighbouring harmonics in 500–2000 Hz must be empty (a candidate that fails is
///   never accepted);
///
/// and ends (`End`) after 4 consecutive absent slots (≈ 25 ms) or when a block hits
/// another digit. Durations are thus measured at slot resolution: 40 ms tones always
/// pass, 23 ms tones never do, 10 ms dropouts do not end a digit, 40 ms pauses do.
///
/// No allocation after construction; the tables are shared by all detectors.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    params: DtmfParams,
    // Derived thresholds.
    block_threshold: f32,
    slot_threshold: f32,
    normal_twist: f32,
    reverse_twist: f32,
    relative_peak: f32,
    max_phase: [f32; 8],
    // Signal path.
    buf: [i16; SLOT_PAD],
    /// The samples of the last `HISTORY` slots (slot `s` at `(s % HISTORY)·SLOT`), for
    /// the harmonic check of a digit about to be accepted.
    raw: [i16; HISTORY * SLOT],
    fill: usize,
    history: [Slot; HISTORY],
    /// Slots completed since creation or reset.
    slots: u64,
    /// Samples consumed so far.
    sample: u64,
    // Tracking.
    state: State,
    digit: char,
    row: usize,
    col: usize,
    present: u32,
    absent: u32,
    hits: u32,
    start: u64,
    last_present_end: u64,
    row_max: f32,
    col_max: f32,
    /// Sums of the slot-to-slot phase advances of the digit's two tones (rows, then
    /// columns) and of their magnitudes, over consecutive present slots.
    adv: [C; 2],
    adv_mag: [f32; 2],
    /// The candidate failed the harmonic check: it is never accepted.
    vetoed: bool,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Tables {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Tables")
    }
}

impl DtmfDetector {
    /// Detector with [`DtmfParams::default`].
    pub fn new() -> Self {
        Self::with_params(DtmfParams::default())
    }

    /// Detector with the given tuning.
    pub fn with_params(params: DtmfParams) -> Self {
        let t = tables();
        let amp = dbm0_to_peak(params.threshold_dbm0);
        // Power of a threshold-level sine as measured over a block / a slot.
        let block_threshold = BLOCK as f32 * amp * amp / 2.0;
        let slot_threshold = SLOT as f32 * amp * amp / 2.0 / 4.0;
        let margin = params.twist_margin_db;
        let max_phase = t.freq.map(|f| {
            core::f32::consts::TAU * f * params.max_freq_dev * SLOT as f32 / SAMPLE_RATE as f32
        });
        Self {
            params,
            block_threshold,
            slot_threshold,
            normal_twist: db_to_power_ratio(params.max_normal_twist_db + margin),
            reverse_twist: db_to_power_ratio(params.max_reverse_twist_db + margin),
            relative_peak: db_to_power_ratio(params.relative_peak_db),
            max_phase,
            buf: [0; SLOT_PAD],
            raw: [0; HISTORY * SLOT],
            fill: 0,
            history: [Slot::default(); HISTORY],
            slots: 0,
            sample: 0,
            state: State::Idle,
            digit: ' ',
            row: 0,
            col: 0,
            present: 0,
            absent: 0,
            hits: 0,
            start: 0,
            last_present_end: 0,
            row_max: 0.0,
            col_max: 0.0,
            adv: [C::default(); 2],
            adv_mag: [0.0; 2],
            vetoed: false,
        }
    }

    /// The tuning in use.
    pub fn params(&self) -> &DtmfParams {
        &self.params
    }

    /// Returns to the freshly-created state (sample counter back to 0, no
    /// event emitted for a digit being held).
    pub fn reset(&mut self) {
        *self = Self::with_params(self.params);
    }

    /// Digit currently held (between its `Start` and `End`), if any.
    pub fn current(&self) -> Option<char> {
        (self.state == State::Active).then_some(self.digit)
    }

    /// Number of samples consumed since creation or reset.
    pub fn samples_seen(&self) -> u64 {
        self.sample
    }

    /// Feeds samples (any length, including 0) and calls `on_event` for each
    /// event, in order. Splitting a signal into different chunks gives the
    /// same events. Does not allocate.
    pub fn push(&mut self, samples: &[i16], mut on_event: impl FnMut(DtmfEvent)) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (SLOT - self.fill).min(rest.len());
            self.buf[self.fill..self.fill + take].copy_from_slice(&rest[..take]);
            self.fill += take;
            self.sample += take as u64;
            rest = &rest[take..];
            if self.fill == SLOT {
                self.fill = 0;
                self.slot(&mut on_event);
            }
        }
    }

    /// Analyses the slot in `buf` and runs the block test and the digit logic.
    fn slot(&mut self, on_event: &mut impl FnMut(DtmfEvent)) {
        let t = tables();
        let x = &self.buf;
        let mut acc = [0i32; 16];
        for (a, tab) in acc.iter_mut().zip(t.tab.iter()) {
            *a = dot(x, tab);
        }
        let (sum, sq) = sum_and_energy(x);
        let mean = sum as f32 / SLOT as f32;
        let energy = (sq as f64 - f64::from(sum) * f64::from(sum) / SLOT as f64).max(0.0) as f32;
        let mut cur = Slot {
            x: [C::default(); 8],
            energy,
        };
        for k in 0..8 {
            cur.x[k] = C {
                re: acc[2 * k] as f32 / TAB_SCALE - mean * t.dc[k].re,
                im: acc[2 * k + 1] as f32 / TAB_SCALE - mean * t.dc[k].im,
            };
        }
        let prev = self.history[(self.slots % HISTORY as u64) as usize];
        self.slots += 1;
        self.history[(self.slots % HISTORY as u64) as usize] = cur;
        let at = (self.slots % HISTORY as u64) as usize * SLOT;
        self.raw[at..at + SLOT].copy_from_slice(&self.buf[..SLOT]);
        let hit = if self.slots >= 2 {
            self.classify(&prev, &cur)
        } else {
            None
        };
        self.on_slot(hit, on_event);
    }

    /// Block test on the slots `a` (older) and `b`.
    fn classify(&self, a: &Slot, b: &Slot) -> Option<Hit> {
        let t = tables();
        let energy = a.energy + b.energy;
        let mut bb = [C::default(); 8];
        let mut p = [0f32; 8];
        for k in 0..8 {
            bb[k] = b.x[k].mul(t.rot[k]);
            p[k] = 2.0 * a.x[k].add(bb[k]).norm2() / BLOCK as f32;
        }
        let (row, col) = (best4(&p[..4]), 4 + best4(&p[4..]));
        let (pr, pc) = (p[row], p[col]);
        // Cheap rejections first (most blocks of speech and silence stop here). The
        // window loss at the largest accepted offset is 0.37 at most.
        let min_loss = 0.36;
        if pr < self.block_threshold * min_loss || pc < self.block_threshold * min_loss {
            return None;
        }
        if (pr + pc) < self.params.energy_ratio * energy * min_loss {
            return None;
        }
        let rp = self.relative_peak;
        if (0..4).any(|k| k != row && p[k] * rp > pr) || (4..8).any(|k| k != col && p[k] * rp > pc)
        {
            return None;
        }
        // Frequency offsets from the phase advance between the two slots.
        let phase = |k: usize| {
            let r = bb[k].mul_conj(a.x[k]);
            atan2(r.im, r.re)
        };
        let (phr, phc) = (phase(row), phase(col));
        if phr.abs() > self.max_phase[row] || phc.abs() > self.max_phase[col] {
            return None;
        }
        let row_power = pr / block_loss(phr);
        let col_power = pc / block_loss(phc);
        if row_power < self.block_threshold || col_power < self.block_threshold {
            return None;
        }
        if col_power > row_power * self.reverse_twist || row_power > col_power * self.normal_twist {
            return None;
        }
        if row_power + col_power < self.params.energy_ratio * energy {
            return None;
        }
        // Octave guard: a note and its second harmonic (ratio 2) is music, not DTMF.
        // Genuine pairs stay ≥ 1.25 % below 2 even with both tones 1.5 % off
        // (852/1633, 770/1477, 697/1336 have ratio 1.917).
        let fr = t.freq[row]
            * (1.0
                + phr / (core::f32::consts::TAU * t.freq[row] * SLOT as f32 / SAMPLE_RATE as f32));
        let fc = t.freq[col]
            * (1.0
                + phc / (core::f32::consts::TAU * t.freq[col] * SLOT as f32 / SAMPLE_RATE as f32));
        if (fc / fr - 2.0).abs() < OCTAVE_GUARD {
            return None;
        }
        Some(Hit {
            digit: DTMF_KEYS[row][col - 4],
            row,
            col,
            row_power,
            col_power,
        })
    }

    /// Whether the digit at (`row`, `col`) dominates slot `s`.
    fn present_in(&self, s: &Slot, row: usize, col: usize) -> bool {
        let pr = 2.0 * s.x[row].norm2() / SLOT as f32;
        let pc = 2.0 * s.x[col].norm2() / SLOT as f32;
        pr >= self.slot_threshold
            && pc >= self.slot_threshold
            && pr + pc >= self.params.slot_ratio * s.energy
    }

    /// Starts tracking the digit of `h`, counting the present slots just before.
    fn begin(&mut self, h: &Hit) {
        self.state = State::Candidate;
        self.digit = h.digit;
        self.row = h.row;
        self.col = h.col;
        self.hits = 1;
        self.vetoed = false;
        self.row_max = h.row_power;
        self.col_max = h.col_power;
        self.present = 0;
        self.absent = 0;
        let now = self.slots;
        let cur = self.history[(now % HISTORY as u64) as usize];
        let mut n = now;
        if !self.present_in(&cur, h.row, h.col) {
            self.absent = 1;
            n -= 1;
        }
        self.last_present_end = n * SLOT as u64;
        // Count back over the consecutive present slots ending at slot `n`.
        let oldest = now.saturating_sub(HISTORY as u64 - 1).max(1);
        let mut first = n + 1;
        while first > oldest {
            let s = self.history[((first - 1) % HISTORY as u64) as usize];
            if !self.present_in(&s, h.row, h.col) {
                break;
            }
            first -= 1;
            self.present += 1;
        }
        self.start = (first - 1) * SLOT as u64;
        self.adv = [C::default(); 2];
        self.adv_mag = [0.0; 2];
        for s in first + 1..=n {
            let a = self.history[((s - 1) % HISTORY as u64) as usize];
            let b = self.history[(s % HISTORY as u64) as usize];
            self.advance(&a, &b);
        }
    }

    /// Adds the phase advance of the digit's tones from slot `a` to the next slot `b`.
    fn advance(&mut self, a: &Slot, b: &Slot) {
        let t = tables();
        for (i, k) in [self.row, self.col].into_iter().enumerate() {
            let p = b.x[k].mul(t.rot[k]).mul_conj(a.x[k]);
            self.adv[i] = self.adv[i].add(p);
            self.adv_mag[i] += p.norm2().sqrt();
        }
    }

    /// Harmonic check: if the two measured frequencies stand in a ratio of small
    /// integers `p/q` (q < p ≤ 8, within 0.8 %), they may be harmonics `q` and `p` of a
    /// voice at `f0`; then the harmonics next to and between them (`q−1`, `q+1 … p−1`,
    /// `p+1`) that fall in 500–2000 Hz must be empty: together more than 6 dB below the
    /// weaker tone, over the digit's last present slots (up to 51 ms, bins about 20 Hz
    /// wide). A DTMF pair has nothing there; a voice does. Speech under a real digit
    /// (talk-down, 10 dB below each tone) reaches −8 dB there at worst; the voices that
    /// imitate a digit put −4.5 dB or more.
    fn harmonics_ok(&self) -> bool {
        let t = tables();
        let est = |i: usize, k: usize| {
            let a = self.adv[i];
            let per = core::f32::consts::TAU * t.freq[k] * SLOT as f32 / SAMPLE_RATE as f32;
            t.freq[k] * (1.0 + atan2(a.im, a.re) / per)
        };
        let (fr, fc) = (est(0, self.row), est(1, self.col));
        let ratio = fc / fr;
        let Some((p, q)) = (2..=7u32).find_map(|q| {
            (q + 1..=8)
                .find(|&p| {
                    gcd(p, q) == 1 && (ratio * q as f32 / p as f32 - 1.0).abs() < HARMONIC_TOL
                })
                .map(|p| (p, q))
        }) else {
            return true;
        };
        let f0 = (fr / q as f32 + fc / p as f32) / 2.0;
        // The last present slots still in the history.
        let last = self.last_present_end / SLOT as u64;
        let n_slots = (self.present as u64).min(HISTORY as u64 - 1).min(last);
        let first = last + 1 - n_slots;
        // Goertzel powers at the two tones and the neighbouring harmonics in the band
        // (below 500 Hz speech under a real digit is strongest: not counted), all in one
        // pass over the samples.
        let mut freqs = [0f32; 10];
        freqs[0] = fr;
        freqs[1] = fc;
        let mut n = 2;
        for k in q - 1..=p + 1 {
            let f = f0 * k as f32;
            if k != q && k != p && (HARMONIC_BAND.0..=HARMONIC_BAND.1).contains(&f) {
                freqs[n] = f;
                n += 1;
            }
        }
        let mut coeff = [0f32; 10];
        for (c, f) in coeff.iter_mut().zip(&freqs[..n]) {
            *c = 2.0 * (core::f32::consts::TAU * f / SAMPLE_RATE as f32).cos();
        }
        let (mut s1, mut s2) = ([0f32; 10], [0f32; 10]);
        for s in first..=last {
            let at = (s % HISTORY as u64) as usize * SLOT;
            for &x in &self.raw[at..at + SLOT] {
                let x = f32::from(x);
                for j in 0..10 {
                    let s0 = x + coeff[j] * s1[j] - s2[j];
                    s2[j] = s1[j];
                    s1[j] = s0;
                }
            }
        }
        let power = |j: usize| s1[j] * s1[j] + s2[j] * s2[j] - coeff[j] * s1[j] * s2[j];
        let weaker = power(0).min(power(1));
        let others: f32 = (2..n).map(power).sum();
        others < weaker * db_to_power_ratio(-HARMONIC_DB)
    }

    /// Whether the digit's tones, measured over all its present slots so far, are
    /// steady and near enough to their nominal frequencies.
    fn frequencies_ok(&self) -> bool {
        let t = tables();
        [self.row, self.col].into_iter().enumerate().all(|(i, k)| {
            let a = self.adv[i];
            let mag = self.adv_mag[i];
            let phi = atan2(a.im, a.re);
            let per_dev = core::f32::consts::TAU * t.freq[k] * SLOT as f32 / SAMPLE_RATE as f32;
            mag > 0.0
                && (phi / per_dev).abs() <= self.params.digit_freq_dev
                && a.norm2().sqrt() >= self.params.min_coherence * mag
        })
    }

    fn end(&mut self, on_event: &mut impl FnMut(DtmfEvent)) {
        if self.state == State::Active {
            on_event(DtmfEvent::End {
                digit: self.digit,
                sample: self.last_present_end,
                duration_ms: samples_to_ms(self.last_present_end - self.start),
            });
        }
        self.state = State::Idle;
    }

    /// Digit logic, run once per slot with the result of the block ending there.
    fn on_slot(&mut self, hit: Option<Hit>, on_event: &mut impl FnMut(DtmfEvent)) {
        if let Some(h) = hit {
            if self.state == State::Idle || h.digit != self.digit {
                self.end(on_event);
                self.begin(&h);
                self.maybe_accept(on_event);
                return;
            }
            self.hits += 1;
            self.row_max = self.row_max.max(h.row_power);
            self.col_max = self.col_max.max(h.col_power);
        }
        if self.state == State::Idle {
            return;
        }
        let cur = self.history[(self.slots % HISTORY as u64) as usize];
        if self.present_in(&cur, self.row, self.col) {
            if self.state == State::Candidate
                && self.last_present_end == (self.slots - 1) * SLOT as u64
                && self.slots >= 2
            {
                let prev = self.history[((self.slots - 1) % HISTORY as u64) as usize];
                self.advance(&prev, &cur);
            }
            self.present += 1;
            self.absent = 0;
            self.last_present_end = self.slots * SLOT as u64;
        } else {
            self.absent += 1;
            if self.absent >= self.params.end_absent_slots {
                self.end(on_event);
                return;
            }
        }
        self.maybe_accept(on_event);
    }

    fn maybe_accept(&mut self, on_event: &mut impl FnMut(DtmfEvent)) {
        if self.state == State::Candidate
            && self.present >= self.params.min_present_slots
            && self.hits >= self.params.min_block_hits
            && !self.vetoed
            && self.frequencies_ok()
        {
            if !self.harmonics_ok() {
                self.vetoed = true;
                return;
            }
            self.state = State::Active;
            on_event(DtmfEvent::Start {
                digit: self.digit,
                sample: self.start,
                level_dbm0: energy_to_dbm0(f64::from(self.row_max), BLOCK),
                high_level_dbm0: energy_to_dbm0(f64::from(self.col_max), BLOCK),
            });
        }
    }
}

/// Greatest common divisor.
fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Relative tolerance of the harmonic-ratio match (see `harmonics_ok`).
const HARMONIC_TOL: f32 = 0.008;
/// How far below the weaker tone the neighbouring harmonics together must stay, dB.
const HARMONIC_DB: f32 = 6.0;
/// The band in which neighbouring harmonics are counted, Hz.
const HARMONIC_BAND: (f32, f32) = (500.0, 2000.0);

/// Index of the largest of four values (first one on ties).
#[inline]
fn best4(p: &[f32]) -> usize {
    let mut b = 0;
    for k in 1..p.len() {
        if p[k] > p[b] {
            b = k;
        }
    }
    b
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::super::testsignal::{self as ts, DtmfSpec, Rng};
    use super::*;

    const ALL: &str = "123A456B789C*0#D";

    /// A detected digit: (digit, start sample, end sample, low level, high level).
    type Det = (char, u64, u64, f32, f32);

    /// Runs a fresh detector, checks Start/End pairing, returns the digits.
    fn run_i16(sig: &[i16]) -> Vec<Det> {
        let mut det = DtmfDetector::new();
        let mut ev = Vec::new();
        det.push(sig, |e| ev.push(e));
        // Flush: silence ends a held digit.
        det.push(&[0; 400], |e| ev.push(e));
        assert_eq!(ev.len() % 2, 0, "unpaired events: {ev:?}");
        ev.chunks(2)
            .map(|p| match (p[0], p[1]) {
                (
                    DtmfEvent::Start {
                        digit,
                        sample,
                        level_dbm0,
                        high_level_dbm0,
                    },
                    DtmfEvent::End {
                        digit: d2,
                        sample: s2,
                        duration_ms,
                    },
                ) => {
                    assert_eq!(digit, d2);
                    assert!(s2 > sample);
                    assert_eq!(duration_ms, samples_to_ms(s2 - sample));
                    (digit, sample, s2, level_dbm0, high_level_dbm0)
                }
                other => panic!("bad event pair {other:?}"),
            })
            .collect()
    }

    fn run(sig: &[f64]) -> Vec<Det> {
        run_i16(&ts::quantize(sig))
    }

    fn digits(sig: &[f64]) -> String {
        run(sig).iter().map(|d| d.0).collect()
    }

    fn spec(level: f32) -> DtmfSpec {
        DtmfSpec {
            level_dbm0: level,
            ..DtmfSpec::default()
        }
    }

    /// One burst of `on` samples after `lead` samples of silence.
    fn burst(d: char, s: DtmfSpec, lead: usize, on: usize) -> Vec<f64> {
        ts::dtmf_sequence(&d.to_string(), s, lead, on, 400)
    }

    #[test]
    fn digit_table() {
        assert_eq!(digit_freqs('1'), Some((697.0, 1209.0)));
        assert_eq!(digit_freqs('0'), Some((941.0, 1336.0)));
        assert_eq!(digit_freqs('#'), Some((941.0, 1477.0)));
        assert_eq!(digit_freqs('d'), Some((941.0, 1633.0)));
        assert_eq!(digit_freqs('E'), None);
        assert!(dtmf_tone('x', -10.0, 0.0).is_none());
    }

    #[test]
    fn generate_layout_twist_and_errors() {
        let v = generate("12", 50, 30, -10.0).unwrap_or_default();
        assert_eq!(v.len(), 2 * (400 + 240));
        assert!(v[..400].iter().any(|&s| s != 0));
        assert!(v[400..640].iter().all(|&s| s == 0));
        assert_eq!(
            generate("12x4", 50, 50, -10.0),
            Err(InvalidDigit {
                digit: 'x',
                position: 2
            })
        );
        assert_eq!(generate("", 50, 50, -10.0), Ok(Vec::new()));
        let p = DtmfGenParams {
            on_ms: 100,
            off_ms: 0,
            level_dbm0: -20.0,
            twist_db: 3.0,
        };
        let v = generate_with("5", &p).unwrap_or_default();
        let d = run_i16(&v);
        assert_eq!(d.len(), 1);
        assert!(
            (d[0].3 + 20.0).abs() < 0.5 && (d[0].4 + 17.0).abs() < 0.5,
            "{d:?}"
        );
    }

    /// spandsp test 2: every digit ×10, 50 ms on / 50 ms off, −4 dBm0 per tone.
    /// Also checks onset/end positions and reported levels.
    #[test]
    fn decode_check_all_digits() {
        let text: String = ALL.repeat(10);
        let sig = ts::dtmf_sequence(&text, spec(-4.0), 0, 400, 400);
        let d = run(&sig);
        assert_eq!(d.iter().map(|x| x.0).collect::<String>(), text);
        for (i, &(_, start, end, lo, hi)) in d.iter().enumerate() {
            let onset = i as u64 * 800;
            assert!(
                start <= onset + SLOT as u64 && start + SLOT as u64 >= onset,
                "{i}: {start}"
            );
            assert!(end >= onset + 400 - SLOT as u64 && end <= onset + 400 + SLOT as u64);
            assert!(
                (lo + 4.0).abs() < 1.0 && (hi + 4.0).abs() < 1.0,
                "{lo} {hi}"
            );
        }
    }

    /// Operate: one or both tones off by up to ±1.5 %, any alignment.
    #[test]
    fn frequency_within_1_5_percent_detected() {
        let devs = [-0.015, 0.015];
        for d in ALL.chars() {
            for (i, (lo, hi)) in [
                (devs[0], 0.0),
                (devs[1], 0.0),
                (0.0, devs[0]),
                (0.0, devs[1]),
                (devs[0], devs[0]),
                (devs[0], devs[1]),
                (devs[1], devs[0]),
                (devs[1], devs[1]),
            ]
            .into_iter()
            .enumerate()
            {
                for level in [-4.0, -17.0, -25.0] {
                    let s = DtmfSpec {
                        level_dbm0: level,
                        low_dev: lo,
                        high_dev: hi,
                        ..DtmfSpec::default()
                    };
                    let lead = (i * 13) % SLOT;
                    let got = digits(&burst(d, s, lead, 400));
                    assert_eq!(got, d.to_string(), "{d} dev {lo} {hi} level {level}");
                }
            }
        }
    }

    /// Non-operate: one or both tones off by ±3.5 % or more.
    #[test]
    fn frequency_3_5_percent_or_more_rejected() {
        for d in ALL.chars() {
            for dev in [0.035, 0.04, 0.05, 0.06] {
                for sign in [-1.0, 1.0] {
                    let dv = dev * sign;
                    for (lo, hi) in [(dv, 0.0), (0.0, dv), (dv, dv), (dv, -dv)] {
                        for level in [-4.0, -17.0] {
                            let s = DtmfSpec {
                                level_dbm0: level,
                                low_dev: lo,
                                high_dev: hi,
                                ..DtmfSpec::default()
                            };
                            let got = digits(&burst(d, s, 7, 800));
                            assert_eq!(got, "", "{d} dev {lo} {hi} level {level}");
                        }
                    }
                }
            }
        }
    }

    /// Twist −8 … +4 dB accepted including both edges; gross twist rejected.
    #[test]
    fn twist_window() {
        for d in ALL.chars() {
            for level in [-6.0, -15.0, -20.0] {
                for twist in [-8.0, -6.0, -3.0, 0.0, 2.0, 4.0] {
                    let s = DtmfSpec {
                        level_dbm0: level,
                        twist_db: twist,
                        ..DtmfSpec::default()
                    };
                    assert_eq!(
                        digits(&burst(d, s, 11, 400)),
                        d.to_string(),
                        "{d} {twist} {level}"
                    );
                }
            }
            for twist in [-20.0, -16.0, 12.0, 16.0, 20.0] {
                let s = DtmfSpec {
                    level_dbm0: -10.0,
                    twist_db: twist,
                    ..DtmfSpec::default()
                };
                assert_eq!(digits(&burst(d, s, 11, 800)), "", "{d} twist {twist}");
            }
        }
    }

    /// Tones of 40 ms and longer detected; 23 ms and shorter rejected; any alignment.
    #[test]
    fn duration_40ms_accepted_23ms_rejected() {
        for lead in 0..SLOT {
            for d in ALL.chars() {
                let s = spec(-10.0);
                assert_eq!(
                    digits(&burst(d, s, lead, 320)),
                    d.to_string(),
                    "40 ms lead {lead}"
                );
                assert_eq!(digits(&burst(d, s, lead, 184)), "", "23 ms lead {lead}");
                if lead % 5 == 0 {
                    assert_eq!(digits(&burst(d, s, lead, 160)), "", "20 ms lead {lead}");
                    assert_eq!(digits(&burst(d, s, lead, 80)), "", "10 ms lead {lead}");
                }
            }
        }
    }

    /// 40 ms pauses separate digits, repeated ones too; 93 ms/digit (45 on, 48 off).
    #[test]
    fn pauses_separate_digits() {
        for lead in (0..SLOT).step_by(5) {
            let s = spec(-10.0);
            let sig = ts::dtmf_sequence("1155##DD", s, lead, 400, 320);
            assert_eq!(digits(&sig), "1155##DD", "lead {lead}");
            let sig = ts::dtmf_sequence("0123456789*#ABCD00", s, lead, 360, 384);
            assert_eq!(digits(&sig), "0123456789*#ABCD00", "velocity, lead {lead}");
            // Back to back, no pause: two different digits are still two.
            let mut v = ts::silence(lead);
            v.extend(ts::dtmf('1', s, 400));
            v.extend(ts::dtmf('9', s, 400));
            assert_eq!(digits(&v), "19");
        }
    }

    /// A 5 or 10 ms dropout inside a tone does not split it.
    #[test]
    fn dropouts_do_not_split() {
        for gap in [40usize, 80] {
            for lead in (0..SLOT).step_by(4) {
                for at in [160usize, 300, 420] {
                    let mut v = burst('5', spec(-10.0), lead, 800);
                    v[lead + at..lead + at + gap].fill(0.0);
                    assert_eq!(digits(&v), "5", "gap {gap} lead {lead} at {at}");
                }
            }
        }
    }

    /// Levels 0 … −25 dBm0 per tone (and below, to the threshold) detected; −55 rejected.
    #[test]
    fn level_range() {
        for d in ALL.chars() {
            for level in [
                -3.0f32, 0.0, -10.0, -20.0, -25.0, -30.0, -35.0, -40.0, -43.0,
            ] {
                let got = run(&burst(d, spec(level), 5, 400));
                assert_eq!(got.len(), 1, "{d} at {level}: {got:?}");
                // 0 dBm0 per tone clips (the pair peaks above full scale).
                if level <= -3.0 {
                    assert!((got[0].3 - level).abs() < 1.0, "{d}: {got:?}");
                    assert!((got[0].4 - level).abs() < 1.0, "{d}: {got:?}");
                }
            }
            for level in [-47.0, -50.0, -55.0, -60.0] {
                assert_eq!(digits(&burst(d, spec(level), 5, 800)), "", "{d} at {level}");
            }
        }
    }

    /// One tone at −10 dBm0 against white noise of total power 15 dB lower.
    #[test]
    fn white_noise_15db_snr() {
        let mut rng = Rng::new(99);
        for level in [-10.0f32, -25.0] {
            let text = ALL.repeat(6);
            let mut sig = ts::dtmf_sequence(&text, spec(level), 100, 400, 400);
            ts::add_white_noise(&mut sig, level - 15.0, &mut rng);
            assert_eq!(digits(&sig), text, "level {level}");
        }
        // Noise alone gives nothing.
        for level in [-50.0, -30.0, -10.0] {
            let mut v = ts::silence(80_000);
            ts::add_white_noise(&mut v, level, &mut rng);
            assert_eq!(digits(&v), "", "noise at {level}");
        }
    }

    /// Dial tone (350 + 440 Hz) 10 dB below the digits.
    #[test]
    fn dial_tone_10db_below() {
        for level in [-10.0f32, -15.0, -20.0] {
            let text = ALL.repeat(2);
            let mut sig = ts::dtmf_sequence(&text, spec(level), 100, 400, 400);
            let dial = ts::tones(
                &[(350.0, level - 10.0), (440.0, level - 10.0)],
                sig.len(),
                0.1,
            );
            ts::mix_at(&mut sig, &dial, 0);
            assert_eq!(digits(&sig), text, "level {level}");
        }
    }

    /// G.711 µ-law and A-law on the path, 0 … −35 dBm0.
    #[test]
    fn g711_codecs() {
        for level in [0.0f32, -10.0, -25.0, -35.0] {
            let sig = ts::quantize(&ts::dtmf_sequence(ALL, spec(level), 30, 400, 400));
            let s: String = run_i16(&ts::ulaw_roundtrip(&sig))
                .iter()
                .map(|d| d.0)
                .collect();
            assert_eq!(s, ALL, "µ-law {level}");
            let s: String = run_i16(&ts::alaw_roundtrip(&sig))
                .iter()
                .map(|d| d.0)
                .collect();
            assert_eq!(s, ALL, "A-law {level}");
        }
    }

    /// Talk-off on synthetic music and sung vowels: no digit at all.
    #[test]
    fn talk_off_music_and_singing() {
        let mut rng = Rng::new(2024);
        for level in [-25.0f32, -15.0, -5.0] {
            let m = ts::music(20.0, level, &mut rng);
            assert_eq!(run(&m), vec![], "music at {level}");
            let v = ts::sung_vowels(20.0, level, &mut rng);
            assert_eq!(run(&v), vec![], "sung vowels at {level}");
        }
    }

    #[test]
    fn single_tones_sweeps_and_dc_give_nothing() {
        for f in DTMF_ROW.iter().chain(DTMF_COL.iter()) {
            let v = ts::tones(&[(f64::from(*f), -5.0)], 4000, 0.0);
            assert_eq!(digits(&v), "", "{f} Hz");
        }
        for (secs, level) in [(1.0f64, -10.0f32), (4.0, -10.0), (4.0, 0.0), (10.0, -25.0)] {
            let n = (secs * 8000.0) as usize;
            let amp = f64::from(dbm0_to_peak(level));
            let mut phase = 0.0f64;
            let v: Vec<f64> = (0..n)
                .map(|i| {
                    let f = 300.0 + 3100.0 * i as f64 / n as f64;
                    phase = (phase + f / 8000.0).fract();
                    amp * (core::f64::consts::TAU * phase).sin()
                })
                .collect();
            assert_eq!(digits(&v), "", "sweep {secs}s {level}");
        }
        // A DC offset does not stop detection.
        let mut v = burst('8', spec(-30.0), 10, 400);
        v.iter_mut().for_each(|x| *x += 3000.0);
        assert_eq!(digits(&v), "8");
    }

    #[test]
    fn chunking_does_not_change_events() {
        let mut rng = Rng::new(5);
        let mut sig = ts::dtmf_sequence("159D*0#", spec(-20.0), 0, 480, 360);
        ts::add_white_noise(&mut sig, -40.0, &mut rng);
        let sig = ts::quantize(&sig);
        let mut whole = Vec::new();
        DtmfDetector::new().push(&sig, |e| whole.push(e));
        assert_eq!(whole.len(), 14);
        for seed in 1..20u64 {
            let mut rng = Rng::new(seed);
            let mut det = DtmfDetector::new();
            let mut ev = Vec::new();
            let mut rest = &sig[..];
            while !rest.is_empty() {
                let n = (rng.next_u64() % 300) as usize;
                let (a, b) = rest.split_at(n.min(rest.len()));
                det.push(a, |e| ev.push(e));
                rest = b;
            }
            assert_eq!(ev, whole, "seed {seed}");
            assert_eq!(det.samples_seen(), sig.len() as u64);
        }
    }

    #[test]
    fn current_tracks_held_digit_and_reset() {
        let mut det = DtmfDetector::default();
        let v = ts::quantize(&burst('7', spec(-10.0), 0, 800));
        let mut n = 0;
        det.push(&v[..600], |_| n += 1);
        assert_eq!(n, 1);
        assert_eq!(det.current(), Some('7'));
        det.push(&v[600..], |_| n += 1);
        assert_eq!(n, 2);
        assert_eq!(det.current(), None);
        det.push(&v[..600], |_| {});
        det.reset();
        assert_eq!(det.current(), None);
        assert_eq!(det.samples_seen(), 0);
        assert_eq!(det.params(), &DtmfParams::default());
    }

    #[test]
    fn atan2_and_loss_are_accurate() {
        for i in -180..=180 {
            let a = (i as f32).to_radians() * 0.999;
            let got = atan2(a.sin() * 3.0, a.cos() * 3.0);
            assert!((got - a).abs() < 0.006, "{a} {got}");
        }
        assert_eq!(atan2(0.0, 0.0), 0.0);
        assert!((block_loss(0.0) - 1.0).abs() < 1e-6);
        // Half a bin off (φ = π/2): the classic 3.9 dB scalloping loss.
        let l = block_loss(core::f32::consts::FRAC_PI_2);
        assert!((10.0 * l.log10() + 3.92).abs() < 0.05, "{l}");
    }
}
