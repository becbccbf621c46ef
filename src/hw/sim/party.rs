//! Simulated people: a caller on a line, a responder behind the modem.
//!
//! A party only knows what a person on a phone knows: the audio it hears and the keys
//! it presses. It finds the end of a prompt by listening for silence, presses keys as
//! real DTMF tones, and "talks" with a marker tone so that the far side can tell that
//! the bridge really carries audio.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::dsp::goertzel::Goertzel;
use crate::dsp::level::{Vad, rms_dbm0};
use crate::dsp::tone::ToneGen;
use crate::media::Frame;

/// Marker tone of callers ("the caller talks").
pub const CALLER_MARKER_HZ: f32 = 2000.0;
/// Marker tone of responders.
pub const RESPONDER_MARKER_HZ: f32 = 2400.0;
/// Level of the marker tones.
pub const MARKER_LEVEL_DBM0: f32 = -20.0;
const CONNECTED_FRAMES: u32 = 15; // 300 ms of the other side's marker

/// The level (dBm0) of a marker tone in recorded audio, measured over its steady
/// middle (a quarter in from either end) with a Goertzel filter: `None` when the middle
/// is not dominated by that tone.
pub fn marker_level_dbm0(samples: &[i16], hz: f32) -> Option<f32> {
    let n = samples.len();
    if n < 1600 {
        return None;
    }
    let mid = &samples[n / 4..n - n / 4];
    let (mut tone, mut total, mut frames, mut tonal) = (0.0f64, 0.0f64, 0usize, 0usize);
    for f in mid.chunks_exact(crate::dsp::FRAME_SAMPLES) {
        let mut g = Goertzel::new(hz, crate::dsp::SAMPLE_RATE);
        let mut energy = 0.0f32;
        for &s in f {
            let x = f32::from(s);
            g.push(x);
            energy += x * x;
        }
        frames += 1;
        if energy > 0.0 && g.power() > 0.6 * energy {
            tonal += 1;
        }
        tone += f64::from(g.power());
        total += f.len() as f64;
    }
    // the tone's own energy (Goertzel power is comparable with Σx²), as a level
    (frames > 0 && tonal * 10 >= frames * 9)
        .then(|| crate::dsp::level::energy_to_dbm0(tone, total as usize))
}

/// What a step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The party placed the call (the line or the SIM starts ringing for them).
    Dialed,
    /// The call was answered (by the box, or the responder picked up).
    Answered,
    /// A prompt ended (speech followed by silence).
    PromptEnd,
    /// The other side's voice is heard (the bridge is up).
    Connected,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Press these keys (DTMF, 80 ms on / 80 ms off).
    Press(String),
    /// Hang up.
    Hangup,
}

/// One scripted step: after `trigger` (and `delay`), do `act`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What to wait for.
    pub trigger: Trigger,
    /// Extra wait after the trigger.
    pub delay: Duration,
    /// What to do.
    pub act: Act,
}

/// A simulated person.
pub struct Party {
    /// Name for transcripts (`caller`, `alice`).
    pub name: String,
    steps: Vec<Step>,
    next: usize,
    armed: Option<Instant>,
    step_ready_since: Option<Instant>,
    connected_at: Option<Instant>,
    vad: Vad,
    speech_seen: bool,
    last_prompt_end: Option<Instant>,
    marker_rx: Goertzel,
    marker_rx_hz: f32,
    marker_frames: u32,
    heard_voice: Option<Instant>,
    /// Milliseconds of the other side's voice heard (proof the bridge carried audio).
    pub heard_other_ms: u32,
    tx: VecDeque<i16>,
    marker_tx: MarkerTx,
    talks: bool,
    /// The party hung up, or was hung up on.
    pub gone: bool,
    hangup_requested: bool,
    /// Sim-side transcript lines.
    pub log: Vec<(Instant, String)>,
}

/// A party's voice: its marker tone. A whole number of hertz repeats exactly every
/// second, so one second is generated once per process and played in a loop (the sine
/// per sample dominated the scenarios); other frequencies are generated as they go.
enum MarkerTx {
    Loop { second: Arc<[i16]>, pos: usize },
    Gen(ToneGen),
}

impl MarkerTx {
    fn new(hz: f32) -> Self {
        if hz.fract() != 0.0 || !(1.0..4000.0).contains(&hz) {
            return Self::Gen(ToneGen::single(hz, MARKER_LEVEL_DBM0));
        }
        static SECONDS: Mutex<Vec<(u32, Arc<[i16]>)>> = Mutex::new(Vec::new());
        let mut cache = SECONDS.lock().unwrap_or_else(|e| e.into_inner());
        let key = hz.to_bits();
        let second = match cache.iter().find(|(k, _)| *k == key) {
            Some((_, s)) => s.clone(),
            None => {
                let mut s = vec![0i16; crate::dsp::SAMPLE_RATE as usize];
                ToneGen::single(hz, MARKER_LEVEL_DBM0).fill(&mut s);
                let s: Arc<[i16]> = s.into();
                cache.push((key, s.clone()));
                s
            }
        };
        Self::Loop { second, pos: 0 }
    }

    #[inline]
    fn next_sample(&mut self) -> i16 {
        match self {
            Self::Loop { second, pos } => {
                let v = second[*pos];
                *pos = (*pos + 1) % second.len();
                v
            }
            Self::Gen(g) => g.next_sample(),
        }
    }
}

impl Party {
    /// A party that talks with `marker_hz` and listens for `other_marker_hz`. `talks`:
    /// whether it speaks (marker) whenever it is connected and idle; an answering
    /// machine does not.
    pub fn new(
        name: &str,
        steps: Vec<Step>,
        marker_hz: f32,
        other_marker_hz: f32,
        talks: bool,
    ) -> Self {
        Self {
            name: name.to_string(),
            steps,
            next: 0,
            armed: None,
            step_ready_since: None,
            connected_at: None,
            vad: Vad::new(-40.0, 800),
            speech_seen: false,
            last_prompt_end: None,
            marker_rx: Goertzel::new(other_marker_hz, crate::dsp::SAMPLE_RATE),
            marker_rx_hz: other_marker_hz,
            marker_frames: 0,
            heard_voice: None,
            heard_other_ms: 0,
            tx: VecDeque::new(),
            marker_tx: MarkerTx::new(marker_hz),
            talks,
            gone: false,
            hangup_requested: false,
            log: Vec::new(),
        }
    }

    fn say(&mut self, now: Instant, s: String) {
        self.log.push((now, format!("{}: {s}", self.name)));
    }

    /// Queues audio the party will play first (an answering machine's greeting).
    pub fn queue_audio(&mut self, samples: &[i16]) {
        self.tx.extend(samples.iter().copied());
    }

    /// The party placed the call (it rings, or waits, at the box).
    pub fn on_dialed(&mut self, now: Instant) {
        self.event(now, Trigger::Dialed);
    }

    /// The call was answered / the party picked up.
    pub fn on_answered(&mut self, now: Instant) {
        if self.connected_at.is_none() {
            self.connected_at = Some(now);
            self.event(now, Trigger::Answered);
        }
    }

    /// The other side hung up on this party.
    pub fn on_hung_up(&mut self, now: Instant) {
        if !self.gone {
            self.gone = true;
            self.say(now, "hears the line go dead".into());
        }
    }

    /// Whether the party wants to hang up now (and so is gone).
    pub fn take_hangup(&mut self) -> bool {
        std::mem::take(&mut self.hangup_requested)
    }

    fn event(&mut self, now: Instant, t: Trigger) {
        if self.armed.is_none() {
            if let Some(step) = self.steps.get(self.next) {
                let ready = self.step_ready_since.unwrap_or(now);
                if step.trigger == t && now >= ready {
                    self.armed = Some(now + step.delay);
                }
            }
        }
    }

    /// The 20 ms frame this party hears.
    pub fn hear(&mut self, now: Instant, frame: &Frame) {
        if self.gone || self.connected_at.is_none() {
            return;
        }
        let active = self.vad.push_frame(frame);
        if active {
            self.speech_seen = true;
        } else if self.speech_seen {
            self.speech_seen = false;
            self.last_prompt_end = Some(now);
            self.event(now, Trigger::PromptEnd);
        }
        self.marker_rx.reset();
        let mut energy = 0.0f32;
        for &s in frame {
            let x = f32::from(s);
            self.marker_rx.push(x);
            energy += x * x;
        }
        let tonal =
            energy > 0.0 && self.marker_rx.power() > 0.6 * energy && rms_dbm0(frame) > -45.0;
        if tonal {
            self.marker_frames += 1;
            self.heard_other_ms += 20;
            if self.marker_frames == CONNECTED_FRAMES && self.heard_voice.is_none() {
                self.heard_voice = Some(now);
                let hz = self.marker_rx_hz;
                self.say(
                    now,
                    format!("hears the other side's voice ({hz} Hz marker)"),
                );
                self.event(now, Trigger::Connected);
            }
        } else {
            self.marker_frames = 0;
        }
    }

    /// The 20 ms frame this party sends.
    pub fn speak(&mut self, out: &mut Frame) {
        if self.gone || self.connected_at.is_none() {
            *out = [0; crate::dsp::FRAME_SAMPLES];
            return;
        }
        for s in out.iter_mut() {
            *s = match self.tx.pop_front() {
                Some(x) => x,
                None if self.talks => self.marker_tx.next_sample(),
                None => 0,
            };
        }
    }

    /// Fires a due step. Call whenever time passes.
    pub fn poll(&mut self, now: Instant) {
        let Some(at) = self.armed else { return };
        if now < at || self.gone {
            return;
        }
        self.armed = None;
        let Some(step) = self.steps.get(self.next).cloned() else {
            return;
        };
        self.next += 1;
        self.step_ready_since = Some(now);
        match step.act {
            Act::Press(keys) => {
                self.say(now, format!("presses {keys}"));
                match crate::dsp::dtmf::generate(&keys, 80, 80, -8.0) {
                    Ok(samples) => {
                        self.tx.clear();
                        self.tx.extend(samples);
                    }
                    Err(e) => self.say(now, format!("cannot press {keys}: {e}")),
                }
            }
            Act::Hangup => {
                self.say(now, "hangs up".into());
                self.gone = true;
                self.hangup_requested = true;
            }
        }
        // A trigger that already happened while this step ran counts for the next one
        // only if it happens again; Answered cannot, so chain it directly.
        if let Some(next) = self.steps.get(self.next) {
            if next.trigger == Trigger::Answered {
                self.armed = Some(now + next.delay);
            }
        }
    }

    /// When [`Party::poll`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.gone { None } else { self.armed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_looped_marker_is_the_generated_tone() {
        for hz in [CALLER_MARKER_HZ, RESPONDER_MARKER_HZ, 1000.0, 2400.5] {
            let mut looped = MarkerTx::new(hz);
            assert_eq!(matches!(looped, MarkerTx::Loop { .. }), hz.fract() == 0.0);
            let mut g = ToneGen::single(hz, MARKER_LEVEL_DBM0);
            // ten seconds: across the loop's seam many times
            for i in 0..80_000 {
                let (a, b) = (looped.next_sample(), g.next_sample());
                assert!(
                    (i32::from(a) - i32::from(b)).abs() <= 1,
                    "{hz} Hz, sample {i}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn presses_after_prompt_end_and_detects_marker() {
        let t0 = Instant::now();
        let mut p = Party::new(
            "caller",
            vec![Step {
                trigger: Trigger::PromptEnd,
                delay: Duration::from_millis(200),
                act: Act::Press("1".into()),
            }],
            CALLER_MARKER_HZ,
            RESPONDER_MARKER_HZ,
            true,
        );
        p.on_answered(t0);
        let mut speech = ToneGen::single(700.0, -15.0);
        let mut t = t0;
        let tick = Duration::from_millis(20);
        for _ in 0..50 {
            let mut f = [0i16; 160];
            speech.fill(&mut f);
            p.hear(t, &f);
            t += tick;
        }
        for _ in 0..60 {
            p.hear(t, &[0; 160]);
            p.poll(t);
            t += tick;
        }
        assert!(
            p.log.iter().any(|(_, s)| s.contains("presses 1")),
            "{:?}",
            p.log
        );
        // its own audio now carries the digit
        let mut det = crate::dsp::dtmf::DtmfDetector::new();
        let mut got = String::new();
        for _ in 0..20 {
            let mut f = [0i16; 160];
            p.speak(&mut f);
            det.push(&f, |e| {
                if let crate::dsp::dtmf::DtmfEvent::Start { digit, .. } = e {
                    got.push(digit)
                }
            });
        }
        assert_eq!(got, "1");
        // the other side's marker
        let mut m = ToneGen::single(RESPONDER_MARKER_HZ, -20.0);
        for _ in 0..30 {
            let mut f = [0i16; 160];
            m.fill(&mut f);
            p.hear(t, &f);
            t += tick;
        }
        assert!(p.heard_other_ms >= 500);
    }
}
