//! Dialling out on an FXO line: seize, wait for dial tone, send the number as DTMF,
//! then listen to the call-progress tones (`dsp::progress`) — ringback means it rings,
//! busy or congestion that it is busy, SIT that the number cannot be reached, and
//! *answer* is the ringback stopping while voice appears (energy that is not a
//! progress tone). Pure: frames and time in, a verdict out.

use std::time::{Duration, Instant};

use crate::dsp::goertzel::Goertzel;
use crate::dsp::progress::{Country, ProgressDetector, ToneEvent, ToneKind};
use crate::dsp::{FRAME_SAMPLES, SAMPLE_RATE};
use crate::media::Frame;

/// How long a seized line may stay silent before it counts as dead (no dial tone).
pub const DIAL_TONE_WAIT: Duration = Duration::from_secs(5);
/// A line found dead stays out of the pool this long, then is tried again.
pub const OUT_OF_SERVICE: Duration = Duration::from_secs(60);
/// Voice frames in a row (20 ms each) that count as an answer.
const VOICE_FRAMES: u32 = 15;
/// Below this a frame is silence, dBm0.
const VOICE_FLOOR_DBM0: f32 = -42.0;

/// Where the dial-out stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Off-hook, waiting for dial tone until the deadline.
    AwaitDialTone { deadline: Instant },
    /// The digits are being played.
    Dialling,
    /// Listening for progress tones or an answer.
    Listening,
}

/// What the line said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Dial tone heard: play the digits now.
    DialTone,
    /// Ringback: the far end rings.
    Ringing,
    /// Busy or congestion tone.
    Busy,
    /// Special information tone: the number cannot be reached.
    Unreachable,
    /// Ringback stopped and voice appeared: someone answered.
    Answered,
}

/// One dial-out in progress on an FXO port.
pub(super) struct DialOut {
    pub(super) phase: Phase,
    /// The digits to send.
    pub(super) digits: String,
    /// The number and the user, for re-dispatching the dial when the line is dead.
    pub(super) number: String,
    pub(super) user: String,
    detector: ProgressDetector,
    /// Goertzel filters at the country's progress-tone frequencies.
    tone_freqs: heapless::Vec<f32, 8>,
    voice_frames: u32,
    ringing_reported: bool,
}

impl DialOut {
    pub(super) fn new(
        plan: &'static Country,
        now: Instant,
        digits: String,
        number: String,
        user: String,
    ) -> Self {
        let mut tone_freqs: heapless::Vec<f32, 8> = heapless::Vec::new();
        for kind in [
            ToneKind::Dial,
            ToneKind::Ringback,
            ToneKind::Busy,
            ToneKind::Congestion,
        ] {
            for seg in plan.tone(kind).map_or(&[][..], |d| d.segments) {
                let (n, f) = seg.freqs.list();
                for &hz in &f[..n] {
                    if !tone_freqs.iter().any(|x| (x - hz).abs() < 1.0) {
                        let _ = tone_freqs.push(hz);
                    }
                }
            }
        }
        Self {
            phase: Phase::AwaitDialTone {
                deadline: now + DIAL_TONE_WAIT,
            },
            digits,
            number,
            user,
            detector: ProgressDetector::new(plan),
            tone_freqs,
            voice_frames: 0,
            ringing_reported: false,
        }
    }

    /// The dial-tone deadline, while waiting for it.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::AwaitDialTone { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// The digits have been played: listen from now on.
    pub(super) fn dialled(&mut self) {
        self.phase = Phase::Listening;
        self.detector.reset();
        self.voice_frames = 0;
    }

    /// One frame heard on the line.
    pub(super) fn push(&mut self, frame: &Frame) -> Option<Verdict> {
        let mut tone = None;
        self.detector.push(frame, |e| {
            if let ToneEvent::Detected(r) = e {
                tone = Some(r.kind);
            }
        });
        match self.phase {
            Phase::AwaitDialTone { .. } => (tone == Some(ToneKind::Dial)).then(|| {
                self.phase = Phase::Dialling;
                Verdict::DialTone
            }),
            Phase::Dialling => None,
            Phase::Listening => match tone {
                Some(ToneKind::Ringback) if !self.ringing_reported => {
                    self.ringing_reported = true;
                    Some(Verdict::Ringing)
                }
                Some(ToneKind::Busy | ToneKind::Congestion) => Some(Verdict::Busy),
                Some(ToneKind::Sit) => Some(Verdict::Unreachable),
                _ => {
                    if self.is_voice(frame) {
                        self.voice_frames += 1;
                    } else {
                        self.voice_frames = 0;
                    }
                    (self.voice_frames == VOICE_FRAMES).then_some(Verdict::Answered)
                }
            },
        }
    }

    /// Energy above the floor that is mostly not at a progress-tone frequency.
    fn is_voice(&self, frame: &Frame) -> bool {
        let energy: f32 = frame.iter().map(|&s| f32::from(s) * f32::from(s)).sum();
        let floor = crate::dsp::level::dbm0_to_peak(VOICE_FLOOR_DBM0);
        // a sine of peak `floor` has energy N·floor²/2
        if energy < FRAME_SAMPLES as f32 * floor * floor / 2.0 {
            return false;
        }
        let mut tonal = 0.0;
        for &hz in &self.tone_freqs {
            let mut g = Goertzel::new(hz, SAMPLE_RATE);
            for &s in frame.iter() {
                g.push(f32::from(s));
            }
            tonal += g.power();
        }
        tonal < 0.5 * energy
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;
    use crate::dsp::progress::{self, CadenceGen};
    use crate::media::SILENCE;

    fn feed(d: &mut DialOut, samples: &[i16]) -> Vec<Verdict> {
        let mut out = Vec::new();
        for chunk in samples.chunks_exact(FRAME_SAMPLES) {
            let mut f = SILENCE;
            f.copy_from_slice(chunk);
            out.extend(d.push(&f));
        }
        out
    }

    fn tone(kind: ToneKind, secs: f32) -> Vec<i16> {
        let def = progress::country("US").unwrap().tone(kind).unwrap();
        let mut v = vec![0i16; (secs * 8000.0) as usize];
        CadenceGen::new(def).fill(&mut v);
        v
    }

    fn dialout() -> DialOut {
        DialOut::new(
            progress::country("US").unwrap(),
            Instant::now(),
            "0114917011".into(),
            "+4917011".into(),
            "alice".into(),
        )
    }

    #[test]
    fn dial_tone_then_ringback_then_voice_is_an_answer() {
        let mut d = dialout();
        assert_eq!(
            feed(&mut d, &tone(ToneKind::Dial, 3.0)),
            vec![Verdict::DialTone]
        );
        d.dialled();
        let got = feed(&mut d, &tone(ToneKind::Ringback, 12.0));
        assert_eq!(got, vec![Verdict::Ringing], "ringback bursts are not voice");
        let mut voice = vec![0i16; 8000];
        crate::dsp::tone::ToneGen::single(2400.0, -20.0).fill(&mut voice);
        assert_eq!(feed(&mut d, &voice), vec![Verdict::Answered]);
    }

    #[test]
    fn busy_tone_is_busy() {
        let mut d = dialout();
        feed(&mut d, &tone(ToneKind::Dial, 4.0));
        d.dialled();
        let got = feed(&mut d, &tone(ToneKind::Busy, 4.0));
        assert_eq!(got.first(), Some(&Verdict::Busy));
    }

    #[test]
    fn silence_is_neither_dial_tone_nor_an_answer() {
        let mut d = dialout();
        assert!(feed(&mut d, &vec![0i16; 8000 * 3]).is_empty());
        assert!(d.deadline().is_some());
    }
}
