//! Audio frames, prompts and playback.
//!
//! Audio moves in [`Frame`]s: 20 ms of 8 kHz signed 16-bit mono PCM. Prompts are
//! rendered once (speech synthesis, see [`tts`]) into a [`PromptLibrary`] before calls
//! run; a [`Player`] per port plays them frame by frame without allocating.

pub mod tts;
pub mod wav;

use std::collections::HashMap;
use std::sync::Arc;

use crate::call::Prompt;
use crate::config::Config;
use crate::dsp::FRAME_SAMPLES;
use crate::dsp::tone::ToneGen;

/// 20 ms of 8 kHz 16-bit mono audio.
pub type Frame = [i16; FRAME_SAMPLES];

/// A silent frame.
pub const SILENCE: Frame = [0; FRAME_SAMPLES];

/// Built-in phrases (English for now; the greeting and announcement come from the
/// configuration).
pub fn phrase(p: Prompt) -> Option<&'static str> {
    match p {
        Prompt::InvalidChoice => Some("Sorry, that is not a valid choice."),
        Prompt::PleaseHold => Some("Please hold while we connect you."),
        Prompt::NobodyAvailable => Some("Sorry, no one is available right now. Goodbye."),
        Prompt::Goodbye => Some("Goodbye."),
        Prompt::Connecting => Some("Connecting."),
        Prompt::Closed => {
            Some("We are closed right now. Please call again during our support hours. Goodbye.")
        }
        Prompt::Greeting | Prompt::Announcement => None,
    }
}

/// Every prompt of every routing number: its text, voice and rendered audio.
#[derive(Default)]
pub struct PromptLibrary {
    clips: HashMap<(usize, Prompt), Clip>,
}

/// A rendered prompt.
#[derive(Clone)]
pub struct Clip {
    /// What is said.
    pub text: String,
    /// 8 kHz samples.
    pub samples: Arc<[i16]>,
}

/// All prompt texts that a configuration needs: `((routing index, prompt), voice, text)`.
pub fn prompt_texts(cfg: &Config) -> Vec<((usize, Prompt), String, String)> {
    let mut out = Vec::new();
    for (i, rn) in cfg.routing_numbers.iter().enumerate() {
        let voice = rn.language.get_ref().clone();
        for p in [
            Prompt::Greeting,
            Prompt::InvalidChoice,
            Prompt::PleaseHold,
            Prompt::NobodyAvailable,
            Prompt::Goodbye,
            Prompt::Announcement,
            Prompt::Connecting,
            Prompt::Closed,
        ] {
            let text = match p {
                Prompt::Greeting => rn.greeting_text(),
                Prompt::Announcement => rn.announcement_text(),
                other => phrase(other).unwrap_or_default().to_string(),
            };
            out.push(((i, p), voice.clone(), text));
        }
    }
    out
}

impl PromptLibrary {
    /// Adds a rendered clip.
    pub fn insert(&mut self, key: (usize, Prompt), text: String, samples: Vec<i16>) {
        self.clips.insert(
            key,
            Clip {
                text,
                samples: samples.into(),
            },
        );
    }

    /// The clip of a routing number's prompt.
    pub fn get(&self, routing: usize, p: Prompt) -> Option<&Clip> {
        self.clips.get(&(routing, p))
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        self.clips.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }
}

/// Hold music: a calm arpeggio below the DTMF bands (so echo of it can never look
/// like a digit), generated, not stored.
struct HoldMusic {
    tone: ToneGen,
    note: usize,
    pos: usize,
}

const HOLD_NOTES: [f32; 6] = [392.0, 494.0, 587.0, 494.0, 440.0, 523.0];
const HOLD_NOTE_SAMPLES: usize = 3200; // 400 ms
const HOLD_GAP_SAMPLES: usize = 400; // 50 ms
const HOLD_LEVEL_DBM0: f32 = -20.0;

impl HoldMusic {
    fn new() -> Self {
        Self {
            tone: ToneGen::single(HOLD_NOTES[0], HOLD_LEVEL_DBM0),
            note: 0,
            pos: 0,
        }
    }

    fn fill(&mut self, out: &mut Frame) {
        for s in out.iter_mut() {
            if self.pos >= HOLD_NOTE_SAMPLES + HOLD_GAP_SAMPLES {
                self.pos = 0;
                self.note = (self.note + 1) % HOLD_NOTES.len();
                self.tone = ToneGen::single(HOLD_NOTES[self.note], HOLD_LEVEL_DBM0);
            }
            *s = if self.pos < HOLD_NOTE_SAMPLES {
                self.tone.next_sample()
            } else {
                0
            };
            self.pos += 1;
        }
    }
}

/// Plays a queue of clips, or hold music, or silence, into frames.
#[derive(Default)]
pub struct Player {
    queue: std::collections::VecDeque<Arc<[i16]>>,
    pos: usize,
    hold: Option<HoldMusic>,
}

impl Player {
    /// Replaces whatever plays with these clips.
    pub fn play(&mut self, clips: impl IntoIterator<Item = Arc<[i16]>>) {
        self.stop();
        self.queue.extend(clips);
    }

    /// Loops hold music until stopped or replaced.
    pub fn hold_music(&mut self) {
        self.stop();
        self.hold = Some(HoldMusic::new());
    }

    /// Silence.
    pub fn stop(&mut self) {
        self.queue.clear();
        self.pos = 0;
        self.hold = None;
    }

    /// Whether clips are queued.
    pub fn is_playing_clips(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Fills the next frame. Returns true exactly once, on the frame where the last
    /// queued clip ended.
    pub fn fill(&mut self, out: &mut Frame) -> bool {
        if let Some(h) = self.hold.as_mut() {
            h.fill(out);
            return false;
        }
        if self.queue.is_empty() {
            *out = SILENCE;
            return false;
        }
        let mut i = 0;
        while i < out.len() {
            let Some(clip) = self.queue.front() else {
                out[i..].fill(0);
                return true;
            };
            let n = (clip.len() - self.pos).min(out.len() - i);
            out[i..i + n].copy_from_slice(&clip[self.pos..self.pos + n]);
            i += n;
            self.pos += n;
            if self.pos >= clip.len() {
                self.queue.pop_front();
                self.pos = 0;
            }
        }
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn player_reports_done_once_and_pads_with_silence() {
        let mut p = Player::default();
        p.play([Arc::from(vec![100i16; 200]), Arc::from(vec![200i16; 50])]);
        let mut f = SILENCE;
        assert!(!p.fill(&mut f));
        assert!(f.iter().all(|&s| s == 100));
        assert!(p.fill(&mut f));
        assert_eq!(f[39], 100);
        assert_eq!(f[40], 200);
        assert_eq!(f[90], 0);
        assert!(!p.fill(&mut f));
        assert!(f.iter().all(|&s| s == 0));
    }

    #[test]
    fn hold_music_is_audible_and_free_of_dtmf() {
        let mut p = Player::default();
        p.hold_music();
        let mut det = crate::dsp::dtmf::DtmfDetector::new();
        let mut digits = 0;
        let mut loud = 0;
        for _ in 0..500 {
            let mut f = SILENCE;
            p.fill(&mut f);
            if crate::dsp::level::rms_dbm0(&f) > -30.0 {
                loud += 1;
            }
            det.push(&f, |_| digits += 1);
        }
        assert_eq!(digits, 0);
        assert!(loud > 400);
    }

    #[test]
    fn prompt_texts_cover_every_routing_number() {
        let cfg = Config::demo();
        let texts = prompt_texts(&cfg);
        assert_eq!(texts.len(), 16);
        assert!(texts.iter().any(|(k, _, t)| *k == (0, Prompt::Announcement)
            && t.starts_with("This is Emergency Hotline.")));
    }
}
