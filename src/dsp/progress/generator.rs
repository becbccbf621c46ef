//! Streaming generator of a tone with its cadence.

#[allow(unused_imports)]
use super::*;

// Generator
// ---------------------------------------------------------------------------------------

/// Streaming generator of a tone with its cadence (phase-continuous within a burst;
/// each burst starts at phase 0). No allocation.
#[derive(Debug, Clone)]
pub struct CadenceGen<'a> {
    def: &'a ToneDef,
    level_dbm0: f32,
    freq_scale: f32,
    time_scale: f32,
    seg: usize,
    left: usize,
    osc: Option<ToneGen>,
    rev_len: usize,
    rev_left: usize,
    sign: bool,
}

impl<'a> CadenceGen<'a> {
    /// The tone at its nominal level, frequencies and cadence.
    pub fn new(def: &'a ToneDef) -> Self {
        Self::with(def, def.level_dbm0, 1.0, 1.0)
    }

    /// The tone at `level_dbm0` per component, every frequency multiplied by
    /// `freq_scale` (1.015 = +1.5 %) and every duration by `time_scale`.
    pub fn with(def: &'a ToneDef, level_dbm0: f32, freq_scale: f32, time_scale: f32) -> Self {
        let mut g = Self {
            def,
            level_dbm0,
            freq_scale,
            time_scale: time_scale.max(0.0),
            seg: 0,
            left: 0,
            osc: None,
            rev_len: 0,
            rev_left: 0,
            sign: false,
        };
        g.rev_len = ms_to_samples((def.phase_reversal_ms as f32 * g.time_scale) as u32);
        g.start_segment(0);
        g
    }

    fn start_segment(&mut self, i: usize) {
        let Some(s) = self.def.segments.get(i) else {
            self.osc = None;
            self.left = usize::MAX;
            return;
        };
        self.seg = i;
        self.left = if s.ms == 0 {
            usize::MAX
        } else {
            ms_to_samples((s.ms as f32 * self.time_scale).round() as u32).max(1)
        };
        let k = self.freq_scale;
        self.osc = match s.freqs {
            Freqs::Off => None,
            Freqs::Single(f) => Some(ToneGen::single(f * k, self.level_dbm0)),
            Freqs::Dual(a, b) => Some(ToneGen::dual(
                a * k,
                self.level_dbm0,
                b * k,
                self.level_dbm0,
            )),
        };
        self.rev_left = self.rev_len;
        self.sign = false;
    }

    /// Next sample.
    #[inline]
    pub fn next_sample(&mut self) -> i16 {
        if self.left == 0 {
            let next = (self.seg + 1) % self.def.segments.len().max(1);
            self.start_segment(next);
        }
        self.left = self.left.saturating_sub(1);
        let v = match &mut self.osc {
            Some(o) => o.next_sample(),
            None => 0,
        };
        if self.rev_len > 0 {
            if self.rev_left == 0 {
                self.sign = !self.sign;
                self.rev_left = self.rev_len;
            }
            self.rev_left -= 1;
        }
        if self.sign { v.saturating_neg() } else { v }
    }

    /// Overwrites `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out.iter_mut() {
            *o = self.next_sample();
        }
    }
}

/// `seconds` of `def` at `level_dbm0` per component (convenience over [`CadenceGen`]).
pub fn generate(def: &ToneDef, level_dbm0: f32, seconds: f32) -> Vec<i16> {
    let n = (seconds.max(0.0) * SAMPLE_RATE as f32) as usize;
    let mut v = vec![0i16; n];
    CadenceGen::with(def, level_dbm0, 1.0, 1.0).fill(&mut v);
    v
}

// ---------------------------------------------------------------------------------------
