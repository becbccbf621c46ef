//! The call-progress, SIT and fax tone detector: Goertzel probes per band and a cadence matcher.

#[allow(unused_imports)]
use super::*;

// Detector
// ---------------------------------------------------------------------------------------

/// Tuning of [`ProgressDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressParams {
    /// Minimum level of each component, dBm0 (default −44).
    pub threshold_dbm0: f32,
    /// Minimum share of the window energy carried by the tone's components (default 0.7).
    pub min_share: f32,
    /// Largest level difference between the two components of a dual tone, dB (default 8).
    pub max_twist_db: f32,
    /// Relative tolerance on segment durations (default 0.2 = ±20 %).
    pub tolerance: f32,
    /// Absolute slack added to the duration tolerance, ms (default 40: two ticks).
    pub slack_ms: u32,
    /// A continuous tone is dial tone after this long, ms (default 2000; raised to 1.5 ×
    /// the longest burst of the same frequencies, e.g. 2250 ms in FR).
    pub continuous_ms: u32,
    /// A 2100 Hz tone is CED after this long, ms (default 2200; V.25 sends ≥ 2.6 s).
    pub ced_ms: u32,
}

impl Default for ProgressParams {
    fn default() -> Self {
        Self {
            threshold_dbm0: -44.0,
            min_share: 0.7,
            max_twist_db: 8.0,
            tolerance: 0.2,
            slack_ms: 40,
            continuous_ms: 2000,
            ced_ms: 2200,
        }
    }
}

/// A detected tone, in [`ToneEvent`]s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneReport {
    /// What was recognised.
    pub kind: ToneKind,
    /// Sample index (since creation or reset) where the tone's first burst began.
    pub start_sample: u64,
    /// Sample index at which the tone was recognised.
    pub detected_sample: u64,
    /// Sample index one past the end of the last burst (for `Detected`: so far).
    pub end_sample: u64,
    /// Complete cadence cycles seen (bursts for CNG, sequences for SIT, 0 for a
    /// continuous tone).
    pub cycles: u32,
    /// Measured frequency of each burst component where it can be measured (single tones
    /// and each SIT segment), else the nominal one; 0 = unused.
    pub freqs_hz: [f32; 3],
    /// Mean level per component over the bursts, dBm0.
    pub level_dbm0: f32,
    /// Durations of the last observed cycle (on, off, on, off…), ms; `cadence_len` used.
    pub cadence_ms: [u32; 4],
    /// Number of valid entries of `cadence_ms`.
    pub cadence_len: usize,
    /// CED: phase reversals counted (V.25 ANS with echo-canceller disabling: every
    /// 450 ms); 0 for other tones.
    pub phase_reversals: u32,
}

impl ToneReport {
    /// Start of the first burst in ms since the detector's creation or reset.
    pub fn start_ms(&self) -> u64 {
        self.start_sample * 1000 / u64::from(SAMPLE_RATE)
    }

    /// From the start of the first burst to the end of the last, ms.
    pub fn duration_ms(&self) -> u64 {
        self.end_sample.saturating_sub(self.start_sample) * 1000 / u64::from(SAMPLE_RATE)
    }
}

/// Output of [`ProgressDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToneEvent {
    /// A tone was recognised (once per episode).
    Detected(ToneReport),
    /// The recognised tone stopped (or the stream ended, see [`ProgressDetector::finish`]).
    Ended(ToneReport),
}

const TICK: usize = 160;
const TICK_MS: u32 = 20;
const MAX_PROBES: usize = 24;
const MAX_SIGS: usize = 14;
const MAX_DEFS: usize = 4;
const HIST: usize = 16;
/// SIT probe frequencies per band: ITU 950/1400/1800 Hz ± 50 Hz, which includes the ANSI
/// T1.401 variants (913.8/985.2, 1370.6/1428.5, 1776.7 Hz).
/// Each band covers ±50 Hz around the ITU frequency with probes 30 Hz apart (the
/// frequency-offset correction covers ±20 Hz around each probe).
const SIT_BANDS: [[f32; 4]; 3] = [
    [905.0, 935.0, 965.0, 995.0],
    [1355.0, 1385.0, 1415.0, 1445.0],
    [1755.0, 1785.0, 1815.0, 1845.0],
];

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct C {
    re: f32,
    im: f32,
}

impl C {
    fn mul(self, o: C) -> C {
        C {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    fn conj(self) -> C {
        C {
            re: self.re,
            im: -self.im,
        }
    }
    fn add(self, o: C) -> C {
        C {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    fn norm2(self) -> f32 {
        self.re * self.re + self.im * self.im
    }
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    freq: f32,
    g: Goertzel,
    /// `e^{−jω·160}`.
    rot: C,
    /// Spectrum of the previous and of the current tick.
    prev: C,
    cur: C,
    /// 40 ms window ending at the previous tick.
    prev40: C,
    cur40: C,
    /// Corrected powers (for the measured frequency offset) of the tick and window.
    p20: f32,
    p40: f32,
    /// Uncorrected powers.
    r20: f32,
    r40: f32,
    /// Phase advance per tick relative to the probe frequency, tick and window.
    fp20: C,
    fp40: C,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    /// Call-progress tone (40 ms windows); summed components.
    Progress,
    /// One SIT band (20 ms); best of the band's probes.
    Sit(u8),
    /// Fax tone (20 ms).
    Fax(ToneKind),
}

#[derive(Debug, Clone, Copy)]
struct Sig {
    probes: [u8; 4],
    n: u8,
    class: Class,
    /// Episode group: SIT bands share one.
    group: u8,
    /// Country tone definitions with these frequencies.
    defs: [Option<&'static ToneDef>; MAX_DEFS],
    /// Longest silence inside a cadence of this group, ms.
    max_off_ms: u32,
    /// A continuous tone of this signature is recognised after this long, ms.
    continuous_ms: u32,
}

impl Sig {
    fn w40(&self) -> bool {
        self.class == Class::Progress
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Elem {
    ms: u32,
    /// Measured frequency of a burst (0: not measured / silence).
    freq: f32,
}

/// Statistics of a run of equal labels.
#[derive(Debug, Clone, Copy, Default)]
struct RunStats {
    fsum: C,
    psum: f32,
    pn: u32,
    freq: [C; 3],
}

#[derive(Debug, Clone, Copy, Default)]
struct Episode {
    active: bool,
    group: u8,
    sig: u8,
    start_tick: u64,
    /// First burst (possibly cut by the start of the recording).
    first: Option<Elem>,
    /// Elements after the first burst: off, on, off, on…
    elems: [Elem; HIST],
    n: usize,
    /// All elements after the first burst, including those dropped from `elems`.
    total: u32,
    kind: Option<ToneKind>,
    def: Option<&'static ToneDef>,
    detected_tick: u64,
    end_tick: u64,
    cycles: u32,
    psum: f32,
    pn: u32,
    freqs: [f32; 3],
    /// SIT: band of the last segments and their lengths/ends.
    sit: [(u8, u32, u64); 3],
    sit_n: usize,
    cadence: [u32; 4],
    cadence_len: usize,
    /// CED phase tracking: spectrum and tick of the last clean tick, sum of the phase
    /// advances per tick, reversals.
    rev_last: C,
    rev_tick: u64,
    rev_adv: C,
    revs: u32,
}

/// Streaming call-progress and fax tone detector for one country (see the module
/// documentation). Feed 8 kHz PCM with [`ProgressDetector::push`] in chunks of any size;
/// call [`ProgressDetector::finish`] at the end of a recording.
#[derive(Debug, Clone)]
pub struct ProgressDetector {
    country: &'static Country,
    params: ProgressParams,
    probes: [Probe; MAX_PROBES],
    np: usize,
    /// The probes' Goertzel recurrences during a tick, side by side (coefficient and
    /// last two outputs per probe) so the per-sample loop runs on vectors; handed to
    /// each probe's filter at the end of the tick. Same arithmetic, same results.
    bank_c: [f32; MAX_PROBES],
    bank_s1: [f32; MAX_PROBES],
    bank_s2: [f32; MAX_PROBES],
    sigs: [Sig; MAX_SIGS],
    ns: usize,
    thr20: f32,
    thr40: f32,
    twist: f32,
    // Tick accumulation.
    fill: usize,
    sum: f32,
    sq: f32,
    prev_energy: f32,
    tick: u64,
    prev_label: Option<u8>,
    // Debouncer.
    cur: Option<u8>,
    cur_start: u64,
    cur_stats: RunStats,
    pend: Option<u8>,
    pend_start: u64,
    pend_n: u32,
    pend_stats: RunStats,
    /// The last closed run was a 40 ms-window burst (its silence is one tick shorter).
    after_w40: bool,
    ep: Episode,
}

fn rel_ok(obs: u32, nominal: u32, tol: f32, slack: u32) -> bool {
    let d = (obs as f32 - nominal as f32).abs();
    d <= nominal as f32 * tol + slack as f32
}

impl ProgressDetector {
    /// A detector for `country` with default parameters.
    pub fn new(country: &'static Country) -> Self {
        Self::with_params(country, ProgressParams::default())
    }

    /// A detector for `country` with the given parameters.
    pub fn with_params(country: &'static Country, params: ProgressParams) -> Self {
        let blank_probe = Probe {
            freq: 0.0,
            g: Goertzel::new(0.0, SAMPLE_RATE),
            rot: C::default(),
            prev: C::default(),
            cur: C::default(),
            prev40: C::default(),
            cur40: C::default(),
            p20: 0.0,
            p40: 0.0,
            r20: 0.0,
            r40: 0.0,
            fp20: C::default(),
            fp40: C::default(),
        };
        let blank_sig = Sig {
            probes: [0; 4],
            n: 0,
            class: Class::Progress,
            group: 0,
            defs: [None; MAX_DEFS],
            max_off_ms: 0,
            continuous_ms: 0,
        };
        let a = dbm0_to_peak(params.threshold_dbm0);
        let mut d = Self {
            country,
            params,
            probes: [blank_probe; MAX_PROBES],
            np: 0,
            bank_c: [0.0; MAX_PROBES],
            bank_s1: [0.0; MAX_PROBES],
            bank_s2: [0.0; MAX_PROBES],
            sigs: [blank_sig; MAX_SIGS],
            ns: 0,
            thr20: TICK as f32 * a * a / 2.0,
            thr40: 2.0 * TICK as f32 * a * a / 2.0,
            twist: 10f32.powf(params.max_twist_db / 10.0),
            fill: 0,
            sum: 0.0,
            sq: 0.0,
            prev_energy: 0.0,
            tick: 0,
            prev_label: None,
            cur: None,
            cur_start: 0,
            cur_stats: RunStats::default(),
            pend: None,
            pend_start: 0,
            pend_n: 0,
            pend_stats: RunStats::default(),
            after_w40: false,
            ep: Episode::default(),
        };
        // Country tones: one signature per distinct set of frequencies (within 1.5 %).
        for t in country.tones {
            for s in t.segments {
                let (n, f) = s.freqs.list();
                if n == 0 {
                    continue;
                }
                let idx = d.find_or_add_sig(&f[..n]);
                let sig = &mut d.sigs[idx];
                if !sig.defs.iter().flatten().any(|x| core::ptr::eq(*x, t))
                    && let Some(slot) = sig.defs.iter_mut().find(|x| x.is_none())
                {
                    *slot = Some(t);
                }
            }
        }
        for i in 0..d.ns {
            let mut max_off = 0;
            let mut max_on = 0;
            for t in d.sigs[i].defs.iter().flatten() {
                for s in t.segments {
                    if s.freqs == Freqs::Off {
                        max_off = max_off.max(s.ms);
                    } else {
                        max_on = max_on.max(s.ms);
                    }
                }
            }
            d.sigs[i].max_off_ms = max_off;
            d.sigs[i].continuous_ms = params.continuous_ms.max(max_on * 3 / 2);
        }
        // SIT bands and fax tones.
        let sit_group = d.ns as u8;
        for (b, band) in SIT_BANDS.iter().enumerate() {
            let mut probes = [0u8; 4];
            for (j, &f) in band.iter().enumerate() {
                probes[j] = d.add_probe(f);
            }
            d.push_sig(Sig {
                probes,
                n: band.len() as u8,
                class: Class::Sit(b as u8),
                group: sit_group,
                defs: [Some(&SIT), None, None, None],
                max_off_ms: 1000,
                continuous_ms: u32::MAX,
            });
        }
        for (f, kind, t) in [
            (1100.0, ToneKind::FaxCng, &FAX_CNG),
            (2100.0, ToneKind::FaxCed, &FAX_CED),
        ] {
            let p = d.add_probe(f);
            let g = d.ns as u8;
            d.push_sig(Sig {
                probes: [p, 0, 0, 0],
                n: 1,
                class: Class::Fax(kind),
                group: g,
                defs: [Some(t), None, None, None],
                max_off_ms: if kind == ToneKind::FaxCng { 3000 } else { 0 },
                continuous_ms: if kind == ToneKind::FaxCed {
                    params.ced_ms
                } else {
                    u32::MAX
                },
            });
        }
        d
    }

    fn add_probe(&mut self, f: f32) -> u8 {
        if let Some(i) = self.probes[..self.np]
            .iter()
            .position(|p| (p.freq - f).abs() < 0.5)
        {
            return i as u8;
        }
        let i = self.np.min(MAX_PROBES - 1);
        let w = core::f64::consts::TAU * f64::from(f) / f64::from(SAMPLE_RATE) * TICK as f64;
        self.probes[i] = Probe {
            freq: f,
            g: Goertzel::new(f, SAMPLE_RATE),
            rot: C {
                re: w.cos() as f32,
                im: -w.sin() as f32,
            },
            prev: C::default(),
            cur: C::default(),
            prev40: C::default(),
            cur40: C::default(),
            p20: 0.0,
            p40: 0.0,
            r20: 0.0,
            r40: 0.0,
            fp20: C::default(),
            fp40: C::default(),
        };
        self.bank_c[i] = self.probes[i].g.coeff();
        self.np = (self.np + 1).min(MAX_PROBES);
        i as u8
    }

    fn push_sig(&mut self, s: Sig) -> usize {
        let i = self.ns.min(MAX_SIGS - 1);
        self.sigs[i] = s;
        self.ns = (self.ns + 1).min(MAX_SIGS);
        i
    }

    fn find_or_add_sig(&mut self, f: &[f32]) -> usize {
        for i in 0..self.ns {
            let s = self.sigs[i];
            if usize::from(s.n) == f.len()
                && f.iter().enumerate().all(|(j, &x)| {
                    let pf = self.probes[usize::from(s.probes[j])].freq;
                    (pf - x).abs() <= 0.015 * x
                })
            {
                return i;
            }
        }
        let mut probes = [0u8; 4];
        for (j, &x) in f.iter().enumerate().take(2) {
            probes[j] = self.add_probe(x);
        }
        let g = self.ns as u8;
        self.push_sig(Sig {
            probes,
            n: f.len() as u8,
            class: Class::Progress,
            group: g,
            defs: [None; MAX_DEFS],
            max_off_ms: 0,
            continuous_ms: 0,
        })
    }

    /// The country this detector was made for.
    pub fn country(&self) -> &'static Country {
        self.country
    }

    /// The parameters.
    pub fn params(&self) -> &ProgressParams {
        &self.params
    }

    /// Samples consumed since creation or [`ProgressDetector::reset`].
    pub fn samples_seen(&self) -> u64 {
        self.tick * TICK as u64 + self.fill as u64
    }

    /// Back to the initial state (same country and parameters).
    pub fn reset(&mut self) {
        *self = Self::with_params(self.country, self.params);
    }

    /// Processes `samples` and calls `emit` for each event.
    pub fn push(&mut self, samples: &[i16], mut emit: impl FnMut(ToneEvent)) {
        let np = self.np;
        for &s in samples {
            let x = f32::from(s);
            for ((c, s1), s2) in self.bank_c[..np]
                .iter()
                .zip(self.bank_s1[..np].iter_mut())
                .zip(self.bank_s2[..np].iter_mut())
            {
                let s0 = x + c * *s1 - *s2;
                *s2 = *s1;
                *s1 = s0;
            }
            self.sum += x;
            self.sq += x * x;
            self.fill += 1;
            if self.fill == TICK {
                self.end_tick(&mut emit);
            }
        }
    }

    /// Ends the stream: closes the segment in progress and reports the end of any
    /// recognised tone. The detector can then be reused (its clock keeps running).
    pub fn finish(&mut self, mut emit: impl FnMut(ToneEvent)) {
        let now = self.tick;
        self.close_run(now, true, &mut emit);
        self.end_episode(&mut emit);
        self.cur = None;
        self.cur_start = now;
        self.cur_stats = RunStats::default();
        self.pend = None;
        self.pend_n = 0;
    }

    fn end_tick(&mut self, emit: &mut impl FnMut(ToneEvent)) {
        let n = TICK as f32;
        let energy = (self.sq - self.sum * self.sum / n).max(0.0);
        let e40 = energy + self.prev_energy;
        // A 40 ms window judges a tone only when both halves sound: at the onset or end of
        // a burst, half a window of tone has a spectrum twice as wide.
        let balanced = energy.min(self.prev_energy) >= 0.1 * e40;
        for (k, p) in self.probes[..self.np].iter_mut().enumerate() {
            p.g.set_state(self.bank_s1[k], self.bank_s2[k], TICK as u32);
            (self.bank_s1[k], self.bank_s2[k]) = (0.0, 0.0);
            let (re, im) = p.g.dft();
            p.g.reset();
            p.prev = p.cur;
            p.cur = C { re, im };
            p.prev40 = p.cur40;
            p.cur40 = p.prev.add(p.rot.mul(p.cur));
            p.fp20 = p.cur.mul(p.prev.conj()).mul(p.rot);
            p.fp40 = p.cur40.mul(p.prev40.conj()).mul(p.rot);
            p.r20 = 2.0 * p.cur.norm2() / n;
            p.r40 = 2.0 * p.cur40.norm2() / (2.0 * n);
            p.p20 = p.r20 / window_loss(p.fp20, p.freq, TICK);
            p.p40 = p.r40 / window_loss(p.fp40, p.freq, 2 * TICK);
        }
        self.prev_energy = energy;
        self.sum = 0.0;
        self.sq = 0.0;
        self.fill = 0;

        // Best present signature: presence on the powers corrected for the measured
        // frequency offset, ranking on the raw ones (a tone between two probes of another
        // signature gets both corrected up, but not its raw power).
        let mut best: Option<(u8, f32, f32)> = None;
        for (i, s) in self.sigs[..self.ns].iter().enumerate() {
            let (thr, e) = if s.w40() {
                (self.thr40, e40)
            } else {
                (self.thr20, energy)
            };
            if e <= 0.0 || (s.w40() && !balanced) {
                continue;
            }
            let pw = |k: u8| {
                let p = &self.probes[usize::from(k)];
                if s.w40() { p.p40 } else { p.p20 }
            };
            let raw: f32 = s.probes[..usize::from(s.n)]
                .iter()
                .map(|&k| {
                    let p = &self.probes[usize::from(k)];
                    if s.w40() { p.r40 } else { p.r20 }
                })
                .fold(0.0, |a, b| if s.n > 2 { a.max(b) } else { a + b });
            let (total, level, ok) = match s.class {
                Class::Progress if s.n == 2 => {
                    let a = pw(s.probes[0]);
                    let b = pw(s.probes[1]);
                    // Twist on the raw powers: the correction would also lift the leakage
                    // of a single tone lying between the two probes.
                    // Each component must also be near its own probe: a single tone between
                    // the two probes shows a large offset in at least one of them.
                    let pa = &self.probes[usize::from(s.probes[0])];
                    let pb = &self.probes[usize::from(s.probes[1])];
                    let near = |p: &Probe| offset_hz(p.fp40).abs() <= 0.03 * p.freq;
                    let (ra, rb) = (pa.r40, pb.r40);
                    let ok = a >= thr
                        && b >= thr
                        && ra <= rb * self.twist
                        && rb <= ra * self.twist
                        && near(pa)
                        && near(pb);
                    (a + b, (a + b) / 2.0, ok)
                }
                Class::Sit(_) => {
                    let m = s.probes[..usize::from(s.n)]
                        .iter()
                        .map(|&k| pw(k))
                        .fold(0.0f32, f32::max);
                    (m, m, m >= thr)
                }
                _ => {
                    let a = pw(s.probes[0]);
                    (a, a, a >= thr)
                }
            };
            let share = total / e;
            let rank = raw / e;
            if ok && share >= self.params.min_share && best.is_none_or(|b| rank > b.1) {
                best = Some((i as u8, rank, level));
            }
        }
        let label = best.map(|b| b.0);
        self.track_reversals(energy);
        self.debounce(label, best.map_or(0.0, |b| b.2), emit);
        self.prev_label = label;
        self.tick += 1;
        self.check_open(emit);
    }

    /// Counts phase reversals of a CED episode: between two clean ticks (the 2100 Hz
    /// component has ≥ 80 % of the energy; a reversal spoils one or two ticks), the phase
    /// must advance by the tone's mean advance; a step of more than ±90° off it is a
    /// reversal.
    fn track_reversals(&mut self, energy: f32) {
        let s = self.sigs[usize::from(self.ep.sig)];
        if !self.ep.active || s.class != Class::Fax(ToneKind::FaxCed) {
            return;
        }
        let p = &self.probes[usize::from(s.probes[0])];
        if energy <= 0.0 || p.p20 < 0.8 * energy {
            return;
        }
        let ep = &mut self.ep;
        let gap = self.tick.saturating_sub(ep.rev_tick);
        if ep.rev_tick > 0 && (1..=3).contains(&gap) {
            let (mut rot, mut mg) = (p.rot, ep.rev_adv);
            for _ in 1..gap {
                rot = rot.mul(p.rot);
                mg = mg.mul(ep.rev_adv);
            }
            let m = ep.rev_adv;
            let z = p.cur.mul(ep.rev_last.conj()).mul(rot);
            if mg.norm2() > 0.0 && z.mul(mg.conj()).re < 0.0 {
                ep.revs += 1;
            } else if gap == 1 {
                let n = z.norm2().sqrt().max(1e-9);
                let u = C {
                    re: z.re / n,
                    im: z.im / n,
                };
                let a = m.add(u);
                let na = a.norm2().sqrt().max(1e-9);
                ep.rev_adv = C {
                    re: a.re / na,
                    im: a.im / na,
                };
            }
        }
        ep.rev_last = p.cur;
        ep.rev_tick = self.tick;
    }

    /// Tick statistics for a run of `label`.
    fn tick_stats(&self, label: Option<u8>, level: f32) -> RunStats {
        let mut st = RunStats::default();
        let Some(l) = label else { return st };
        let s = self.sigs[usize::from(l)];
        st.psum = level;
        st.pn = 1;
        if self.prev_label == label {
            for j in 0..usize::from(s.n).min(3) {
                let p = &self.probes[usize::from(s.probes[j])];
                st.freq[j] = if s.w40() { p.fp40 } else { p.fp20 };
            }
        }
        st.fsum = st.freq[0];
        st
    }

    fn debounce(&mut self, label: Option<u8>, level: f32, emit: &mut impl FnMut(ToneEvent)) {
        let st = self.tick_stats(label, level);
        let add = |a: &mut RunStats, b: &RunStats| {
            a.fsum = a.fsum.add(b.fsum);
            a.psum += b.psum;
            a.pn += b.pn;
            for j in 0..3 {
                a.freq[j] = a.freq[j].add(b.freq[j]);
            }
        };
        if label == self.cur {
            add(&mut self.cur_stats, &st);
            self.pend = None;
            self.pend_n = 0;
            return;
        }
        if self.pend == label && self.pend_n >= 1 {
            add(&mut self.pend_stats, &st);
            // Switch: the current run ends where the pending one started.
            let start = self.pend_start;
            self.close_run(start, false, emit);
            self.cur = label;
            self.cur_start = start;
            self.cur_stats = self.pend_stats;
            self.pend = None;
            self.pend_n = 0;
            self.open_run(emit);
        } else {
            self.pend = label;
            self.pend_start = self.tick;
            self.pend_n = 1;
            self.pend_stats = st;
        }
    }

    fn sig_freq(&self, sig: u8, st: &RunStats, j: usize) -> f32 {
        let s = self.sigs[usize::from(sig)];
        let p = &self.probes[usize::from(s.probes[j.min(2)])];
        let c = st.freq[j.min(2)];
        if c.norm2() <= 0.0 || s.n as usize <= j {
            return if (s.n as usize) > j { p.freq } else { 0.0 };
        }
        p.freq + offset_hz(c)
    }

    /// A run of `self.cur` starts at `self.cur_start`.
    fn open_run(&mut self, emit: &mut impl FnMut(ToneEvent)) {
        let Some(l) = self.cur else { return };
        let s = self.sigs[usize::from(l)];
        let start = if s.w40() {
            self.cur_start.saturating_sub(1)
        } else {
            self.cur_start
        };
        if !self.ep.active || self.ep.group != s.group {
            self.end_episode(emit);
            self.ep = Episode {
                active: true,
                group: s.group,
                sig: l,
                start_tick: start,
                ..Episode::default()
            };
        }
    }

    /// The run of `self.cur` ends at tick `end` (exclusive).
    fn close_run(&mut self, end: u64, at_finish: bool, emit: &mut impl FnMut(ToneEvent)) {
        let len = end.saturating_sub(self.cur_start);
        let st = self.cur_stats;
        match self.cur {
            None => {
                let mut ms = (len as u32).saturating_mul(TICK_MS);
                if self.after_w40 {
                    ms = ms.saturating_sub(TICK_MS);
                }
                if self.ep.active && !at_finish {
                    self.push_elem(Elem { ms, freq: 0.0 }, emit);
                }
            }
            Some(l) => {
                let s = self.sigs[usize::from(l)];
                let mut ms = (len as u32).saturating_mul(TICK_MS);
                if s.w40() {
                    ms += TICK_MS;
                }
                self.after_w40 = s.w40();
                let freq = if s.n == 1 {
                    self.sig_freq(l, &st, 0)
                } else {
                    0.0
                };
                if self.ep.active && self.ep.group == s.group {
                    self.ep.psum += st.psum;
                    self.ep.pn += st.pn;
                    self.ep.end_tick = end;
                    for j in 0..usize::from(s.n).min(2) {
                        self.ep.freqs[j] = self.sig_freq(l, &st, j);
                    }
                    if let Class::Sit(b) = s.class {
                        self.push_sit(b, ms, end, emit);
                    } else if !at_finish {
                        self.push_on(l, Elem { ms, freq }, emit);
                    }
                }
            }
        }
    }

    fn push_on(&mut self, sig: u8, e: Elem, emit: &mut impl FnMut(ToneEvent)) {
        let s = self.sigs[usize::from(sig)];
        if let Class::Fax(ToneKind::FaxCng) = s.class {
            // CNG: each 0.5 s burst (±15 %, + slack) counts.
            if rel_ok(e.ms, 500, 0.15, self.params.slack_ms) {
                self.ep.cycles += 1;
                if self.ep.kind.is_none() {
                    self.classify(ToneKind::FaxCng, Some(&FAX_CNG), emit);
                }
                self.ep.cadence_set(&[e.ms]);
            } else if self.ep.kind.is_some() {
                self.end_episode(emit);
            }
            return;
        }
        let continuous = match self.ep.kind {
            Some(ToneKind::Dial | ToneKind::FaxCed) => true,
            Some(ToneKind::Unknown) => self.ep.first.is_none(),
            _ => false,
        };
        if continuous {
            // A continuous tone ended.
            self.end_episode(emit);
            return;
        }
        if self.ep.first.is_none() && self.ep.n == 0 && self.ep.total == 0 {
            self.ep.first = Some(e);
            return;
        }
        self.push_elem(e, emit);
    }

    fn push_elem(&mut self, e: Elem, emit: &mut impl FnMut(ToneEvent)) {
        let ep = &mut self.ep;
        if ep.first.is_none() {
            // Silence before the first burst of the episode: nothing to match.
            return;
        }
        if ep.n == HIST {
            // Keep the most recent; the dropped burst becomes the (uncut) first one.
            ep.first = Some(ep.elems[1]);
            ep.elems.copy_within(2.., 0);
            ep.n -= 2;
        }
        ep.elems[ep.n] = e;
        ep.n += 1;
        ep.total += 1;
        self.evaluate(emit);
    }

    /// Checks the episode's cadence after a new element.
    fn evaluate(&mut self, emit: &mut impl FnMut(ToneEvent)) {
        let sig = self.sigs[usize::from(self.ep.sig)];
        if sig.class != Class::Progress {
            return;
        }
        let n = self.ep.n;
        if let Some(k) = self.ep.kind {
            if let Some(d) = self.ep.def
                && !d.is_continuous()
            {
                if self.match_def(d).is_some() {
                    let len = pattern_len(d);
                    self.ep.cycles = cycles(self.ep.total, len);
                    self.set_cadence_from_tail(len);
                    return;
                }
                // The cadence changed: the tone ended; the latest burst may start another.
                let last = self.ep.elems[n - 1];
                let is_on = n % 2 == 0;
                self.end_episode(emit);
                if is_on {
                    let s = self.ep.sig;
                    self.restart_episode(s, last);
                }
                return;
            }
            if k == ToneKind::Unknown {
                if !self.periodic(2) && !self.periodic(4) {
                    let last = self.ep.elems[n - 1];
                    let is_on = n % 2 == 0;
                    let s = self.ep.sig;
                    self.end_episode(emit);
                    if is_on {
                        self.restart_episode(s, last);
                    }
                } else {
                    self.ep.cycles = cycles(self.ep.total, 2);
                }
            }
            return;
        }
        // Unclassified: the best matching cadenced tone with enough elements.
        let mut best: Option<(&'static ToneDef, f32)> = None;
        for d in sig.defs.iter().flatten() {
            if d.is_continuous() {
                continue;
            }
            if (self.ep.total as usize) < pattern_len(d) {
                continue;
            }
            if let Some(err) = self.match_def(d)
                && best.is_none_or(|b| err < b.1)
            {
                best = Some((d, err));
            }
        }
        // Wait while a longer cadence of the same frequencies still fits what was seen.
        let longer_fits = |d: &ToneDef| {
            sig.defs.iter().flatten().any(|o| {
                !core::ptr::eq(*o, d)
                    && !o.is_continuous()
                    && (self.ep.total as usize) < pattern_len(o)
                    && self.match_def(o).is_some()
            })
        };
        if let Some((d, _)) = best.filter(|b| !longer_fits(b.0)) {
            let len = pattern_len(d);
            self.ep.cycles = cycles(self.ep.total, len);
            self.set_cadence_from_tail(len);
            self.classify(d.kind, Some(d), emit);
            return;
        }
        // A regular cadence that is in no table.
        if n >= 6 && (self.periodic(2) || self.periodic(4)) {
            // Bursts ≥ 150 ms, silences ≥ 120 ms, one steady frequency (±1.5 Hz): what a
            // tone generator makes, and sung notes with vibrato do not.
            let e = &self.ep.elems[..n];
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for x in e.iter().skip(1).step_by(2).filter(|x| x.freq > 0.0) {
                lo = lo.min(x.freq);
                hi = hi.max(x.freq);
            }
            let ons_ok = e.iter().skip(1).step_by(2).all(|x| x.ms >= 150)
                && e.iter().step_by(2).all(|x| x.ms >= 120)
                && (sig.n != 1 || hi - lo <= 3.0);
            let possible = sig
                .defs
                .iter()
                .flatten()
                .any(|d| !d.is_continuous() && (self.ep.total as usize) < pattern_len(d));
            if ons_ok && !possible {
                self.ep.cycles = cycles(self.ep.total, 2);
                self.set_cadence_from_tail(if self.periodic(2) { 2 } else { 4 });
                self.classify(ToneKind::Unknown, None, emit);
            }
        }
    }

    fn restart_episode(&mut self, sig: u8, first: Elem) {
        let s = self.sigs[usize::from(sig)];
        let start = self.tick.saturating_sub(u64::from(first.ms / TICK_MS));
        self.ep = Episode {
            active: true,
            group: s.group,
            sig,
            start_tick: start,
            first: Some(first),
            end_tick: self.tick,
            ..Episode::default()
        };
    }

    /// Are the last elements periodic with period `p` (elements)?
    fn periodic(&self, p: usize) -> bool {
        let n = self.ep.n;
        if n < p + 4 {
            return false;
        }
        let e = &self.ep.elems[..n];
        (0..n - p).all(|i| {
            let a = e[i].ms.max(e[i + p].ms);
            e[i].ms.abs_diff(e[i + p].ms) as f32
                <= a as f32 * self.params.tolerance + self.params.slack_ms as f32
        })
    }

    fn set_cadence_from_tail(&mut self, len: usize) {
        // The sequence first, e0, e1, …: bursts at even positions. Take the last `len`
        // elements starting with a burst.
        let n = self.ep.n;
        let len = len.min(4);
        let total = n + 1;
        let mut v = [0u32; 4];
        let mut k = 0;
        if total >= len {
            let start = (total - len) & !1;
            for i in start..(start + len).min(total) {
                v[k] = if i == 0 {
                    self.ep.first.map_or(0, |f| f.ms)
                } else {
                    self.ep.elems[i - 1].ms
                };
                k += 1;
            }
        }
        self.ep.cadence_set(&v[..k]);
    }

    /// Matches the episode against a cadenced tone; `Some(mean relative error)` if every
    /// element fits at some rotation.
    fn match_def(&self, d: &ToneDef) -> Option<f32> {
        let segs = d.segments;
        let m = segs.len();
        if m < 2 || m % 2 != 0 {
            return None;
        }
        let tol = self.params.tolerance;
        let slack = self.params.slack_ms;
        let first = self.ep.first?;
        let e = &self.ep.elems[..self.ep.n];
        let single = self.sigs[usize::from(self.ep.sig)].n == 1;
        let mut best: Option<f32> = None;
        // Rotation r: index in `segs` of the first element after the first burst (an off).
        'rot: for r in (1..m).step_by(2) {
            let f_nom = segs[r - 1].ms;
            if first.ms as f32 > f_nom as f32 * (1.0 + tol) + slack as f32 {
                continue;
            }
            let mut err = 0.0;
            let mut prev_on: (f32, f32) = (first.freq, nominal(segs[r - 1].freqs));
            for (i, el) in e.iter().enumerate() {
                let sg = segs[(r + i) % m];
                if !rel_ok(el.ms, sg.ms, tol, slack) {
                    continue 'rot;
                }
                err += (el.ms as f32 - sg.ms as f32).abs() / sg.ms.max(1) as f32;
                if i % 2 == 1 {
                    let nom = nominal(sg.freqs);
                    if single && el.freq > 0.0 && prev_on.0 > 0.0 {
                        let want = nom - prev_on.1;
                        let got = el.freq - prev_on.0;
                        if (got - want).abs() > 2.5 {
                            continue 'rot;
                        }
                    }
                    prev_on = (el.freq, nom);
                }
            }
            let err = err / e.len().max(1) as f32;
            if best.is_none_or(|b| err < b) {
                best = Some(err);
            }
        }
        best
    }

    fn push_sit(&mut self, band: u8, ms: u32, end: u64, emit: &mut impl FnMut(ToneEvent)) {
        let ep = &mut self.ep;
        if ep.sit_n == 3 {
            ep.sit.copy_within(1.., 0);
            ep.sit_n = 2;
        }
        ep.sit[ep.sit_n] = (band, ms, end);
        ep.sit_n += 1;
        if ep.sit_n < 3 {
            return;
        }
        let ok = ep
            .sit
            .iter()
            .enumerate()
            .all(|(i, &(b, ms, _))| usize::from(b) == i && (180..=500).contains(&ms))
            && ep.sit.windows(2).all(|w| {
                // gap between the end of one and the start of the next ≤ 60 ms
                let start_next = w[1].2.saturating_sub(u64::from(w[1].1 / TICK_MS));
                start_next <= w[0].2 + 3
            });
        if !ok {
            return;
        }
        let cad = [ep.sit[0].1, ep.sit[1].1, ep.sit[2].1];
        ep.cycles += 1;
        ep.sit_n = 0;
        ep.cadence_set(&cad);
        if ep.kind.is_none() {
            self.classify(ToneKind::Sit, Some(&SIT), emit);
        }
    }

    /// Per-tick checks of the open run: continuous tones, end of an episode after a long
    /// silence.
    fn check_open(&mut self, emit: &mut impl FnMut(ToneEvent)) {
        let len_ms = (self.tick.saturating_sub(self.cur_start) as u32).saturating_mul(TICK_MS);
        match self.cur {
            None => {
                if self.ep.active {
                    let s = self.sigs[usize::from(self.ep.sig)];
                    let limit = (s.max_off_ms as f32 * (1.0 + self.params.tolerance)) as u32
                        + self.params.slack_ms
                        + TICK_MS;
                    if len_ms > limit {
                        self.end_episode(emit);
                    }
                }
            }
            Some(l) => {
                let s = self.sigs[usize::from(l)];
                if len_ms < s.continuous_ms || !self.ep.active || self.ep.group != s.group {
                    return;
                }
                if self.ep.kind.is_some() {
                    if self.ep.def.is_some_and(|d| !d.is_continuous()) {
                        // A cadenced tone turned into a continuous one.
                        self.end_episode(emit);
                        let start = self.cur_start.saturating_sub(u64::from(s.w40()));
                        self.ep = Episode {
                            active: true,
                            group: s.group,
                            sig: l,
                            start_tick: start,
                            ..Episode::default()
                        };
                    } else {
                        return;
                    }
                }
                if self.ep.kind.is_none() {
                    self.ep.start_tick = self.cur_start.saturating_sub(u64::from(s.w40()));
                    self.ep.first = None;
                    self.ep.n = 0;
                    self.ep.total = 0;
                }
                self.ep.end_tick = self.tick;
                self.ep.psum += self.cur_stats.psum;
                self.ep.pn += self.cur_stats.pn;
                for j in 0..usize::from(s.n).min(2) {
                    self.ep.freqs[j] = self.sig_freq(l, &self.cur_stats, j);
                }
                // Stats now belong to the episode.
                self.cur_stats.psum = 0.0;
                self.cur_stats.pn = 0;
                let cont = s.defs.iter().flatten().find(|d| d.is_continuous()).copied();
                match (s.class, cont) {
                    (Class::Fax(ToneKind::FaxCed), _) => {
                        self.classify(ToneKind::FaxCed, None, emit)
                    }
                    (Class::Progress, Some(d)) => self.classify(d.kind, Some(d), emit),
                    // Continuous, but this frequency only has cadenced tones here.
                    (Class::Progress, None) if len_ms >= s.continuous_ms.max(3000) => {
                        self.classify(ToneKind::Unknown, None, emit)
                    }
                    _ => {}
                }
            }
        }
    }

    fn report(&self, kind: ToneKind) -> ToneReport {
        let ep = &self.ep;
        let t = TICK as u64;
        let mut freqs = ep.freqs;
        if let Class::Sit(_) = self.sigs[usize::from(ep.sig)].class {
            freqs = [950.0, 1400.0, 1800.0];
        }
        let n_win = if self.sigs[usize::from(ep.sig)].w40() {
            2 * TICK
        } else {
            TICK
        };
        ToneReport {
            kind,
            start_sample: ep.start_tick * t,
            detected_sample: ep.detected_tick * t,
            end_sample: ep.end_tick.max(ep.start_tick) * t,
            cycles: ep.cycles,
            freqs_hz: freqs,
            level_dbm0: if ep.pn > 0 {
                energy_to_dbm0(f64::from(ep.psum / ep.pn as f32), n_win)
            } else {
                crate::dsp::level::SILENCE_DBM0
            },
            cadence_ms: ep.cadence,
            cadence_len: ep.cadence_len,
            phase_reversals: ep.revs,
        }
    }

    fn classify(
        &mut self,
        kind: ToneKind,
        d: Option<&'static ToneDef>,
        emit: &mut impl FnMut(ToneEvent),
    ) {
        self.ep.kind = Some(kind);
        self.ep.def = d;
        self.ep.detected_tick = self.tick;
        if self.ep.end_tick < self.ep.start_tick {
            self.ep.end_tick = self.tick;
        }
        emit(ToneEvent::Detected(self.report(kind)));
    }

    fn end_episode(&mut self, emit: &mut impl FnMut(ToneEvent)) {
        if self.ep.active
            && let Some(k) = self.ep.kind
        {
            emit(ToneEvent::Ended(self.report(k)));
        }
        self.ep = Episode::default();
    }
}

impl Episode {
    fn cadence_set(&mut self, v: &[u32]) {
        let k = v.len().min(4);
        self.cadence = [0; 4];
        self.cadence[..k].copy_from_slice(&v[..k]);
        self.cadence_len = k;
    }
}

/// Offset in Hz of a tone from the probe frequency, from its phase advance per tick.
fn offset_hz(fp: C) -> f32 {
    fp.im.atan2(fp.re) / (core::f32::consts::TAU * TICK_MS as f32 / 1000.0)
}

/// Power loss of an `n`-sample rectangular window for a tone at the measured offset
/// (1 when the offset is larger than the tolerance we correct for: 3 % of the
/// frequency, at most 20 Hz).
fn window_loss(fp: C, freq: f32, n: usize) -> f32 {
    if fp.norm2() <= 0.0 {
        return 1.0;
    }
    let df = offset_hz(fp).abs();
    if df < 0.01 || df > (0.03 * freq).min(20.0) {
        return 1.0;
    }
    let x = core::f32::consts::PI * df / SAMPLE_RATE as f32;
    let r = (x * n as f32).sin() / (n as f32 * x.sin());
    (r * r).max(0.3)
}

/// Cadence cycles seen: bursts (the first one and one per two elements after it)
/// divided by the bursts per cycle of a pattern of `len` elements.
fn cycles(total: u32, len: usize) -> u32 {
    let bursts = 1 + total / 2;
    bursts / (len as u32 / 2).max(1)
}

fn pattern_len(d: &ToneDef) -> usize {
    d.segments.len()
}

fn nominal(f: Freqs) -> f32 {
    match f {
        Freqs::Off => 0.0,
        Freqs::Single(x) => x,
        Freqs::Dual(a, _) => a,
    }
}
