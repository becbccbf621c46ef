//! FSK demodulator: Bell 202 / V.23 audio to bytes, 8N1 re-timed on each start bit.

#[allow(unused_imports)]
use super::*;

// FSK demodulator
// ---------------------------------------------------------------------------

/// Tuning of [`FskDemodulator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FskParams {
    /// Mark frequency the correlators are tuned to, Hz.
    pub mark_hz: f32,
    /// Space frequency, Hz.
    pub space_hz: f32,
    /// Baud rate.
    pub baud: f32,
    /// Carrier detection threshold, dBm0 (default −48).
    pub min_level_dbm0: f32,
    /// Continuous mark needed before a message type is accepted, bits (default 40;
    /// Bell sends 180, ETSI 80 ± 25).
    pub min_mark_bits: f32,
    /// Longest mark gap between two characters of a message, bits (default 30; ETSI
    /// allows 10).
    pub max_gap_bits: f32,
    /// Only report messages of this standard (others give
    /// [`DecodeErrorKind::OtherStandard`]); `None` reports both.
    pub only: Option<FskStandard>,
}

impl FskParams {
    /// Listens for both standards: correlators tuned between them (1250/2150 Hz),
    /// the standard is told from the measured frequencies.
    pub fn auto() -> Self {
        Self {
            mark_hz: 1250.0,
            space_hz: 2150.0,
            baud: BAUD,
            min_level_dbm0: -48.0,
            min_mark_bits: 40.0,
            max_gap_bits: 30.0,
            only: None,
        }
    }

    /// Listens for `standard` only.
    pub fn for_standard(standard: FskStandard) -> Self {
        Self {
            mark_hz: standard.mark_hz(),
            space_hz: standard.space_hz(),
            only: Some(standard),
            ..Self::auto()
        }
    }
}

/// Correlation window, samples (≈ one bit at 1200 baud).
const WIN: usize = 7;
/// Correlator outputs kept for the frequency measurement.
const ZHIST: usize = 6;

/// Mean phase advance per sample that a correlator with coefficients `c` shows for a
/// real tone of angular frequency `w`: `arg(|A|²·e^{jw} + |B|²·e^{−jw})` with
/// `A = Σ c_k e^{−jwk}` and `B = Σ c_k e^{jwk}` (the tone's image leaks through the
/// short window and pulls the estimate).
fn apparent_advance(w: f64, c: &[(f32, f32); WIN]) -> f64 {
    let (mut a, mut b) = ((0f64, 0f64), (0f64, 0f64));
    for (k, &(re, im)) in c.iter().enumerate() {
        let (re, im) = (f64::from(re), f64::from(im));
        let (sn, cs) = (w * k as f64).sin_cos();
        a.0 += re * cs + im * sn;
        a.1 += im * cs - re * sn;
        b.0 += re * cs - im * sn;
        b.1 += im * cs + re * sn;
    }
    let pa = a.0 * a.0 + a.1 * a.1;
    let pb = b.0 * b.0 + b.1 * b.1;
    let (sn, cs) = w.sin_cos();
    ((pa - pb) * sn).atan2((pa + pb) * cs)
}

/// The tone frequency (rad/sample) whose apparent advance is the measured `psi`.
fn debias(psi: f64, c: &[(f32, f32); WIN]) -> f64 {
    let mut w = psi;
    for _ in 0..4 {
        w -= apparent_advance(w, c) - psi;
    }
    w
}

/// Biquad, transposed direct form II.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f32; 3],
    a: [f32; 2],
    s: [f32; 2],
}

impl Biquad {
    /// RBJ cookbook high-pass (`high = true`) or low-pass, Q = 1/√2.
    fn new(fc: f64, high: bool) -> Self {
        let w = core::f64::consts::TAU * fc / f64::from(SAMPLE_RATE);
        let (sn, cs) = w.sin_cos();
        let alpha = sn / (2.0 * core::f64::consts::FRAC_1_SQRT_2);
        let a0 = 1.0 + alpha;
        let (b0, b1) = if high {
            ((1.0 + cs) / 2.0, -(1.0 + cs))
        } else {
            ((1.0 - cs) / 2.0, 1.0 - cs)
        };
        Self {
            b: [(b0 / a0) as f32, (b1 / a0) as f32, (b0 / a0) as f32],
            a: [(-2.0 * cs / a0) as f32, ((1.0 - alpha) / a0) as f32],
            s: [0.0; 2],
        }
    }

    #[inline]
    fn run(&mut self, x: f32) -> f32 {
        let y = self.b[0] * x + self.s[0];
        self.s[0] = self.b[1] * x - self.a[0] * y + self.s[1];
        self.s[1] = self.b[2] * x - self.a[1] * y;
        y
    }

    /// Magnitude response at `f` Hz.
    fn gain(&self, f: f64) -> f64 {
        let w = core::f64::consts::TAU * f / f64::from(SAMPLE_RATE);
        let z1 = (w.cos(), -w.sin());
        let z2 = ((2.0 * w).cos(), -(2.0 * w).sin());
        let poly = |c0: f64, c1: f64, c2: f64| {
            let re = c0 + c1 * z1.0 + c2 * z2.0;
            let im = c1 * z1.1 + c2 * z2.1;
            (re * re + im * im).sqrt()
        };
        let num = poly(
            f64::from(self.b[0]),
            f64::from(self.b[1]),
            f64::from(self.b[2]),
        );
        let den = poly(1.0, f64::from(self.a[0]), f64::from(self.a[1]));
        num / den
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Uart {
    /// Waiting for a start-bit edge.
    Hunt,
    /// Receiving a character: `t` samples since the edge, next bit `bit` (0 = start).
    Char { t: f32, bit: u8, byte: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Framer {
    Idle,
    Collect,
}

/// Streaming FSK caller ID demodulator (one standard or both).
#[derive(Debug, Clone)]
pub struct FskDemodulator {
    p: FskParams,
    hp1: Biquad,
    hp2: Biquad,
    lp: Biquad,
    hist: [f32; WIN],
    cm: [(f32, f32); WIN],
    cs: [(f32, f32); WIN],
    /// Correlator outputs of the last [`ZHIST`] samples, newest first.
    zhist: [((f32, f32), (f32, f32)); ZHIST],
    /// Samples per bit.
    spb: f32,
    power_avg: f32,
    carrier_on: f32,
    carrier_off: f32,
    carrier: bool,
    carrier_hold: u32,
    prev_mark: bool,
    /// Consecutive samples with the same decision (for the frequency measurement).
    same_run: u32,
    mark_run: u32,
    run_at_edge: u32,
    edge_sample: u64,
    uart: Uart,
    framer: Framer,
    frame: [u8; MAX_FRAME],
    flen: usize,
    fstart: u64,
    acc_m: (f64, f64),
    acc_s: (f64, f64),
    level_acc: f64,
    level_n: u32,
    samples: u64,
    /// Nothing but digital silence (exact zeros) heard so far: every filter and
    /// correlator state is exactly zero, so more zeros only move the counters (see
    /// [`FskDemodulator::push`]).
    pristine: bool,
}

impl FskDemodulator {
    /// A demodulator with the given tuning.
    pub fn new(p: FskParams) -> Self {
        let hp1 = Biquad::new(600.0, true);
        let hp2 = hp1;
        let lp = Biquad::new(3000.0, false);
        let g = |f: f32| {
            let f = f64::from(f);
            (hp1.gain(f) * hp2.gain(f) * lp.gain(f)) as f32
        };
        let table = |f: f32| {
            let w = core::f32::consts::TAU * f / SAMPLE_RATE as f32;
            let scale = 1.0 / g(f);
            let mut t = [(0f32, 0f32); WIN];
            for (k, c) in t.iter_mut().enumerate() {
                let (s, co) = (w * k as f32).sin_cos();
                *c = (co * scale, s * scale);
            }
            t
        };
        // Power of a correlator for a tone of peak A is (A·WIN/2)².
        let thr = |dbm0: f32| {
            let a = dbm0_to_peak(dbm0) * WIN as f32 / 2.0;
            a * a
        };
        Self {
            hp1,
            hp2,
            lp,
            hist: [0.0; WIN],
            cm: table(p.mark_hz),
            cs: table(p.space_hz),
            zhist: [((0.0, 0.0), (0.0, 0.0)); ZHIST],
            spb: SAMPLE_RATE as f32 / p.baud.max(1.0),
            power_avg: 0.0,
            carrier_on: thr(p.min_level_dbm0),
            carrier_off: thr(p.min_level_dbm0 - 3.0),
            carrier: false,
            carrier_hold: 0,
            prev_mark: true,
            same_run: 0,
            mark_run: 0,
            run_at_edge: 0,
            edge_sample: 0,
            uart: Uart::Hunt,
            framer: Framer::Idle,
            frame: [0; MAX_FRAME],
            flen: 0,
            fstart: 0,
            acc_m: (0.0, 0.0),
            acc_s: (0.0, 0.0),
            level_acc: 0.0,
            level_n: 0,
            samples: 0,
            pristine: true,
            p,
        }
    }

    /// The tuning.
    pub fn params(&self) -> &FskParams {
        &self.p
    }

    /// Samples consumed since creation.
    pub fn samples_seen(&self) -> u64 {
        self.samples
    }

    /// Whether a carrier (FSK-band energy above the threshold) is present now.
    pub fn carrier(&self) -> bool {
        self.carrier
    }

    /// Feeds audio; reports messages and errors.
    pub fn push(&mut self, samples: &[i16], mut on_event: impl FnMut(CallerIdEvent)) {
        let mut rest = samples;
        if self.pristine {
            // Digital silence on a demodulator that heard nothing else (an idle line
            // of the simulated board; every on-hook FXO port is listened to): zero in,
            // zero out of every filter and correlator, mark decided, no carrier. What
            // `sample` would do per zero is only this.
            let zeros = samples.iter().take_while(|&&x| x == 0).count();
            self.samples += zeros as u64;
            self.same_run = self
                .same_run
                .saturating_add(u32::try_from(zeros).unwrap_or(u32::MAX));
            self.mark_run = 0;
            rest = &samples[zeros..];
            if !rest.is_empty() {
                self.pristine = false;
            }
        }
        for &x in rest {
            self.sample(f32::from(x), &mut on_event);
        }
    }

    /// End of audio: reports a message still being received as truncated.
    pub fn finish(&mut self, mut on_event: impl FnMut(CallerIdEvent)) {
        self.abort(&mut on_event);
    }

    fn abort(&mut self, on_event: &mut impl FnMut(CallerIdEvent)) {
        if self.framer == Framer::Collect {
            let expected = (self.flen >= 2).then(|| u16::from(self.frame[1]) + 3);
            on_event(CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::Truncated {
                    message_type: self.frame[0],
                    received: self.flen as u16,
                    expected,
                },
                signalling: self.signalling(),
                sample: self.samples,
            }));
        }
        self.framer = Framer::Idle;
        self.flen = 0;
    }

    fn signalling(&self) -> Signalling {
        match self.p.only {
            None => Signalling::Auto,
            Some(FskStandard::Bell202) => Signalling::Bell202,
            Some(FskStandard::V23) => Signalling::V23,
        }
    }

    #[inline]
    fn sample(&mut self, x: f32, on_event: &mut impl FnMut(CallerIdEvent)) {
        let y = self.lp.run(self.hp2.run(self.hp1.run(x)));
        self.hist.copy_within(0..WIN - 1, 1);
        self.hist[0] = y;
        let mut zm = (0f32, 0f32);
        let mut zs = (0f32, 0f32);
        for k in 0..WIN {
            let h = self.hist[k];
            zm.0 += h * self.cm[k].0;
            zm.1 += h * self.cm[k].1;
            zs.0 += h * self.cs[k].0;
            zs.1 += h * self.cs[k].1;
        }
        let pm = zm.0 * zm.0 + zm.1 * zm.1;
        let ps = zs.0 * zs.0 + zs.1 * zs.1;
        let mark = pm >= ps;
        self.samples += 1;

        // Carrier detection with hysteresis and a short hold-over (a few samples of
        // low power at a phase-continuous transition must not drop it).
        self.power_avg += (pm.max(ps) - self.power_avg) * (1.0 / 16.0);
        if self.power_avg >= self.carrier_on {
            self.carrier = true;
            self.carrier_hold = 0;
        } else if self.carrier && self.power_avg < self.carrier_off {
            self.carrier_hold += 1;
            if self.carrier_hold > 2 * WIN as u32 {
                self.carrier = false;
                self.abort(on_event);
                self.uart = Uart::Hunt;
                self.mark_run = 0;
            }
        }

        // Frequency measurement: phase advance of the correlator of the current tone
        // between the windows ending 4 and 5 samples ago, taken only when both lie
        // wholly inside one run of that tone. The decision flips when the window is
        // half into the next bit, so with no flip for `same_run` samples the window
        // ending 4 samples ago cannot reach into the next bit yet, and it starts after
        // the run's first boundary once `same_run ≥ 8`.
        self.zhist.copy_within(0..ZHIST - 1, 1);
        self.zhist[0] = (zm, zs);
        if mark == self.prev_mark {
            self.same_run = self.same_run.saturating_add(1);
        } else {
            self.same_run = 0;
        }
        if self.carrier && self.same_run >= 8 {
            let pick = |h: ((f32, f32), (f32, f32))| if mark { h.0 } else { h.1 };
            let (a, b) = (pick(self.zhist[4]), pick(self.zhist[5]));
            let acc = if mark {
                &mut self.acc_m
            } else {
                &mut self.acc_s
            };
            acc.0 += f64::from(a.0 * b.0 + a.1 * b.1);
            acc.1 += f64::from(a.1 * b.0 - a.0 * b.1);
        }

        match self.uart {
            Uart::Hunt => {
                if !self.carrier {
                    self.mark_run = 0;
                } else if mark {
                    self.mark_run = self.mark_run.saturating_add(1);
                } else if self.prev_mark {
                    self.run_at_edge = self.mark_run;
                    self.edge_sample = self.samples - 1;
                    self.uart = Uart::Char {
                        t: 0.0,
                        bit: 0,
                        byte: 0,
                    };
                }
            }
            Uart::Char { t, bit, byte } => {
                let mut t = t + 1.0;
                if mark != self.prev_mark && bit > 0 {
                    // A transition inside the character: it should fall on the boundary
                    // before bit `bit`, `bit·spb` after the start edge. Pull the clock
                    // halfway towards it (absorbs baud-rate error and edge jitter).
                    let err = t - f32::from(bit) * self.spb;
                    t -= 0.5 * err;
                }
                // Bit k is centred in the window (k + ½)·spb samples after the edge
                // was seen; the edge is seen on average half a sample late.
                let due = (f32::from(bit) + 0.5) * self.spb - 0.5;
                if t + 0.5 < due {
                    self.uart = Uart::Char { t, bit, byte };
                } else {
                    self.level_acc += f64::from(pm.max(ps));
                    self.level_n += 1;
                    match bit {
                        0 if mark => {
                            // False start: a blip in the mark.
                            self.uart = Uart::Hunt;
                            self.mark_run = self.run_at_edge + t as u32;
                        }
                        0 => self.uart = Uart::Char { t, bit: 1, byte },
                        1..=8 => {
                            let byte = byte | (u8::from(mark) << (bit - 1));
                            self.uart = Uart::Char {
                                t,
                                bit: bit + 1,
                                byte,
                            };
                        }
                        _ => {
                            self.uart = Uart::Hunt;
                            self.mark_run = 0;
                            if mark {
                                let gap = self.run_at_edge as f32 / self.spb;
                                self.byte(byte, gap, on_event);
                            } else {
                                // Framing error: no stop bit.
                                self.abort(on_event);
                            }
                        }
                    }
                }
            }
        }
        self.prev_mark = mark || !self.carrier;
    }

    fn byte(&mut self, b: u8, gap_bits: f32, on_event: &mut impl FnMut(CallerIdEvent)) {
        if self.framer == Framer::Collect && gap_bits > self.p.max_gap_bits {
            self.abort(on_event);
        }
        if self.framer == Framer::Idle {
            if gap_bits >= self.p.min_mark_bits && KNOWN_TYPES.contains(&b) {
                self.framer = Framer::Collect;
                self.frame[0] = b;
                self.flen = 1;
                self.fstart = self.edge_sample;
                self.level_acc = 0.0;
                self.level_n = 0;
                // Keep the mark measurement of the preceding mark signal, restart the
                // space one (the seizure is not clean space).
                self.acc_s = (0.0, 0.0);
            } else {
                // Not a message start: restart the measurement for the next one.
                self.acc_m = (0.0, 0.0);
                self.acc_s = (0.0, 0.0);
            }
            return;
        }
        self.frame[self.flen] = b;
        self.flen += 1;
        if self.flen < 3 || self.flen < usize::from(self.frame[1]) + 3 {
            return;
        }
        // Complete.
        let n = self.flen;
        self.framer = Framer::Idle;
        self.flen = 0;
        let sum = self.frame[..n].iter().fold(0u8, |a, &x| a.wrapping_add(x));
        let sig = self.signalling();
        if sum != 0 {
            let received = self.frame[n - 1];
            on_event(CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::ChecksumMismatch {
                    message_type: self.frame[0],
                    received,
                    computed: checksum(&self.frame[..n - 1]),
                },
                signalling: sig,
                sample: self.samples,
            }));
            return;
        }
        let hz = |acc: (f64, f64), table: &[(f32, f32); WIN], dflt: f32| {
            if acc.0 == 0.0 && acc.1 == 0.0 {
                dflt
            } else {
                let w = debias(acc.1.atan2(acc.0), table);
                (w * f64::from(SAMPLE_RATE) / core::f64::consts::TAU) as f32
            }
        };
        let mark_hz = hz(self.acc_m, &self.cm, self.p.mark_hz);
        let space_hz = hz(self.acc_s, &self.cs, self.p.space_hz);
        let standard = FskStandard::classify(mark_hz);
        self.acc_m = (0.0, 0.0);
        self.acc_s = (0.0, 0.0);
        if let Some(want) = self.p.only
            && want != standard
        {
            on_event(CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::OtherStandard { detected: standard },
                signalling: sig,
                sample: self.samples,
            }));
            return;
        }
        let p = self.level_acc / f64::from(self.level_n.max(1));
        let peak = 2.0 * p.sqrt() / WIN as f64;
        let level_dbm0 = if peak > 0.0 {
            (20.0 * (peak / f64::from(crate::dsp::level::DBM0_PEAK)).log10()) as f32
        } else {
            crate::dsp::level::SILENCE_DBM0
        };
        let mut bytes = [0u8; MAX_FRAME];
        bytes[..n].copy_from_slice(&self.frame[..n]);
        on_event(CallerIdEvent::Fsk(FskMessage {
            bytes,
            len: n as u16,
            standard,
            mark_hz,
            space_hz,
            level_dbm0,
            start_sample: self.fstart,
            end_sample: self.samples,
        }));
    }
}

// ---------------------------------------------------------------------------
