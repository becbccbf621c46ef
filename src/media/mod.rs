//! Audio frames, prompts and playback.
//!
//! Audio moves in [`Frame`]s: 20 ms of 8 kHz signed 16-bit mono PCM. Prompts are
//! rendered once (speech synthesis, see [`tts`]) into a [`PromptLibrary`] before calls
//! run; a [`Player`] per port plays them frame by frame without allocating.

pub mod ogg_opus;
pub mod recorder;
pub mod tts;
pub mod upload;
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

/// Languages with built-in phrases. Any other language gets the English phrases (and
/// `check-config` says so).
pub const PHRASE_LANGUAGES: &[&str] = &["en", "de"];

/// Built-in phrases in a language (`en`, `de`; a regional tag such as `de-at` uses its
/// primary language); `None` for prompts whose text comes from the configuration
/// (greeting, announcement, overflow message) and for languages without phrases.
pub fn phrase_in(p: Prompt, language: &str) -> Option<String> {
    let primary = language.split('-').next().unwrap_or(language);
    let de = match primary {
        "en" => false,
        "de" => true,
        _ => return None,
    };
    let t = |en: &str, de_text: &str| Some(if de { de_text } else { en }.to_string());
    match p {
        Prompt::InvalidChoice => t(
            "Sorry, that is not a valid choice.",
            "Diese Auswahl ist leider nicht gültig.",
        ),
        Prompt::PleaseHold => t(
            "Please hold while we connect you.",
            "Bitte bleiben Sie am Apparat, wir verbinden Sie.",
        ),
        Prompt::NobodyAvailable => t(
            "Sorry, no one is available right now. Goodbye.",
            "Leider ist gerade niemand erreichbar. Auf Wiederhören.",
        ),
        Prompt::Goodbye => t("Goodbye.", "Auf Wiederhören."),
        Prompt::Connecting => t("Connecting.", "Sie werden verbunden."),
        Prompt::Closed => t(
            "We are closed right now. Please call again during our support hours. Goodbye.",
            "Wir sind gerade nicht erreichbar. Bitte rufen Sie während unserer Servicezeiten wieder an. Auf Wiederhören.",
        ),
        Prompt::QueuePosition(n) => Some(if de {
            format!(
                "Alle Leitungen sind belegt. Sie sind Anrufer Nummer {n} in der Warteschlange. Bitte bleiben Sie am Apparat."
            )
        } else {
            format!(
                "All lines are busy. You are caller number {n} in line. Please stay on the line."
            )
        }),
        Prompt::ExpectedWait(n) => Some(match (de, n) {
            (false, 1) => "The expected wait is about one minute.".to_string(),
            (false, 10..) => "The expected wait is ten minutes or more.".to_string(),
            (false, n) => format!("The expected wait is about {n} minutes."),
            (true, 1) => "Die voraussichtliche Wartezeit beträgt etwa eine Minute.".to_string(),
            (true, 10..) => {
                "Die voraussichtliche Wartezeit beträgt zehn Minuten oder mehr.".to_string()
            }
            (true, n) => format!("Die voraussichtliche Wartezeit beträgt etwa {n} Minuten."),
        }),
        Prompt::QueueWait => t(
            "All lines are busy. Please stay on the line.",
            "Alle Leitungen sind belegt. Bitte bleiben Sie am Apparat.",
        ),
        Prompt::Blocked => t(
            "Sorry, calls from your number are not accepted here. Goodbye.",
            "Anrufe von Ihrer Nummer werden hier leider nicht angenommen. Auf Wiederhören.",
        ),
        Prompt::EnterPin => t(
            "Please enter your PIN, then press the hash key.",
            "Bitte geben Sie Ihre PIN ein und drücken Sie dann die Rautetaste.",
        ),
        Prompt::WrongPin => t("That PIN is not correct.", "Diese PIN ist nicht korrekt."),
        Prompt::Overflow => t(
            "All lines are busy. Please call again later. Goodbye.",
            "Alle Leitungen sind belegt. Bitte rufen Sie später wieder an. Auf Wiederhören.",
        ),
        Prompt::LeaveMessage => t(
            "Sorry, no one can take your call right now. Please leave a message after the tone, then press the hash key or hang up.",
            "Leider kann gerade niemand Ihren Anruf annehmen. Bitte hinterlassen Sie nach dem Signalton eine Nachricht und drücken Sie dann die Rautetaste oder legen Sie auf.",
        ),
        Prompt::MessageRecorded => t(
            "Thank you. Your message has been recorded. Goodbye.",
            "Vielen Dank. Ihre Nachricht wurde aufgezeichnet. Auf Wiederhören.",
        ),
        Prompt::Greeting
        | Prompt::Announcement
        | Prompt::Beep
        | Prompt::Step(_)
        | Prompt::StepInvalid(_)
        | Prompt::StepTimeout(_) => None,
    }
}

/// A built-in phrase in English (the fallback of every language).
pub fn phrase(p: Prompt) -> Option<String> {
    phrase_in(p, "en")
}

/// Every prompt a routing number can play.
pub fn prompts_of(rn: &crate::config::RoutingNumber) -> Vec<Prompt> {
    let mut v = vec![
        Prompt::Greeting,
        Prompt::InvalidChoice,
        Prompt::PleaseHold,
        Prompt::NobodyAvailable,
        Prompt::Goodbye,
        Prompt::Announcement,
        Prompt::Connecting,
        Prompt::Closed,
        Prompt::QueueWait,
        Prompt::Overflow,
    ];
    // positions count every caller waiting for the modem, whatever their routing number
    v.extend((1..=9).map(Prompt::QueuePosition));
    v.extend((1..=10).map(Prompt::ExpectedWait));
    if !rn.blocked.is_empty() {
        v.push(Prompt::Blocked);
    }
    if rn.pin.is_some() {
        v.extend([Prompt::EnterPin, Prompt::WrongPin]);
    }
    if uses_voicemail(rn) {
        // the beep is generated by the exchange, not spoken
        v.extend([Prompt::LeaveMessage, Prompt::MessageRecorded]);
    }
    if rn.flow.explicit {
        let kinds =
            |f: fn(&crate::call::flow::StepKind) -> bool| rn.flow.steps.iter().any(|s| f(&s.kind));
        use crate::call::flow::StepKind as K;
        if kinds(|k| matches!(k, K::Block { .. })) && !v.contains(&Prompt::Blocked) {
            v.push(Prompt::Blocked);
        }
        if kinds(|k| matches!(k, K::Pin { .. })) && rn.pin.is_none() {
            v.extend([Prompt::EnterPin, Prompt::WrongPin]);
        }
        if kinds(|k| matches!(k, K::Voicemail)) && !uses_voicemail(rn) {
            v.extend([Prompt::LeaveMessage, Prompt::MessageRecorded]);
        }
        for (i, s) in rn.flow.steps.iter().enumerate() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            if s.say.is_some() {
                v.push(Prompt::Step(i));
            }
            if let K::Menu(m) = &s.kind {
                if m.invalid.is_some() {
                    v.push(Prompt::StepInvalid(i));
                }
                if m.timeout_say.is_some() {
                    v.push(Prompt::StepTimeout(i));
                }
            }
        }
    }
    v
}

/// The text of a flow step's prompt, and the step's language if it has its own.
fn step_text(rn: &crate::config::RoutingNumber, p: Prompt) -> Option<(String, Option<String>)> {
    let (i, which) = match p {
        Prompt::Step(i) => (i, 0),
        Prompt::StepInvalid(i) => (i, 1),
        Prompt::StepTimeout(i) => (i, 2),
        _ => return None,
    };
    let s = rn.flow.steps.get(usize::from(i))?;
    let text = match (which, &s.kind) {
        (0, _) => s.say.clone(),
        (1, crate::call::flow::StepKind::Menu(m)) => m.invalid.clone(),
        (2, crate::call::flow::StepKind::Menu(m)) => m.timeout_say.clone(),
        _ => None,
    }?;
    Some((text, s.language.clone()))
}

/// Whether calls of a routing number can end in its voicemail.
pub fn uses_voicemail(rn: &crate::config::RoutingNumber) -> bool {
    rn.voicemail.enabled
        || rn.voicemail.only
        || rn.overflow_to == Some(crate::config::OverflowTo::Voicemail)
        || rn
            .overflow
            .as_ref()
            .is_some_and(|o| o.action.get_ref() == "voicemail")
        || rn
            .support_hours
            .as_ref()
            .is_some_and(|h| h.out_of_hours.get_ref() == "voicemail")
}

/// Every prompt of every routing number: its text, voice and rendered audio, keyed by
/// the routing number's stable id.
#[derive(Default)]
pub struct PromptLibrary {
    clips: HashMap<(String, Prompt), Clip>,
    /// Uploaded hold music (8 kHz), looped; None: the generated arpeggio.
    hold: Option<Arc<[i16]>>,
}

/// A rendered prompt.
#[derive(Clone)]
pub struct Clip {
    /// What is said.
    pub text: String,
    /// 8 kHz samples.
    pub samples: Arc<[i16]>,
}

/// All prompt texts that a configuration needs: `((routing id, prompt), voice, text)`.
/// Fixed phrases come in the routing number's language, or English where there is no
/// translation.
pub fn prompt_texts(cfg: &Config) -> Vec<((String, Prompt), String, String)> {
    let mut out = Vec::new();
    for rn in &cfg.routing_numbers {
        let voice = rn.language.get_ref().clone();
        for p in prompts_of(rn) {
            if let Some((text, lang)) = step_text(rn, p) {
                let voice = lang.unwrap_or_else(|| voice.clone());
                out.push(((rn.key.clone(), p), voice, text));
                continue;
            }
            let text = match p {
                Prompt::Greeting => rn.greeting_text(),
                Prompt::Announcement => rn.announcement_text(),
                Prompt::LeaveMessage if rn.voicemail.prompt.is_some() => {
                    rn.voicemail.prompt.clone().unwrap_or_default()
                }
                Prompt::Overflow if rn.overflow.as_ref().is_some_and(|o| o.message.is_some()) => rn
                    .overflow
                    .as_ref()
                    .and_then(|o| o.message.clone())
                    .unwrap_or_default(),
                other => phrase_in(other, &voice)
                    .or_else(|| phrase(other))
                    .unwrap_or_default(),
            };
            out.push(((rn.key.clone(), p), voice.clone(), text));
        }
    }
    out
}

impl PromptLibrary {
    /// Adds a rendered clip.
    pub fn insert(&mut self, key: (String, Prompt), text: String, samples: Vec<i16>) {
        self.clips.insert(
            key,
            Clip {
                text,
                samples: samples.into(),
            },
        );
    }

    /// [`PromptLibrary::insert`] with samples already shared (no copy).
    pub fn insert_shared(&mut self, key: (String, Prompt), text: String, samples: Arc<[i16]>) {
        self.clips.insert(key, Clip { text, samples });
    }

    /// The clip of a routing number's prompt.
    pub fn get(&self, routing: &str, p: Prompt) -> Option<&Clip> {
        self.clips.get(&(routing.to_string(), p))
    }

    /// Uses an uploaded recording as hold music.
    pub fn set_hold_music(&mut self, samples: Vec<i16>) {
        self.hold = (!samples.is_empty()).then(|| samples.into());
    }

    /// The uploaded hold music, if any.
    pub fn hold_music(&self) -> Option<Arc<[i16]>> {
        self.hold.clone()
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
/// like a digit), generated, not stored — or an uploaded recording, looped.
enum Hold {
    Generated(HoldMusic),
    Recording(Arc<[i16]>, usize),
}

impl Hold {
    fn fill(&mut self, out: &mut Frame) {
        match self {
            Hold::Generated(h) => h.fill(out),
            Hold::Recording(clip, pos) => {
                for s in out.iter_mut() {
                    if *pos >= clip.len() {
                        *pos = 0;
                    }
                    *s = clip[*pos];
                    *pos += 1;
                }
            }
        }
    }
}

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
    hold: Option<Hold>,
}

impl Player {
    /// Replaces whatever plays with these clips.
    pub fn play(&mut self, clips: impl IntoIterator<Item = Arc<[i16]>>) {
        self.stop();
        self.queue.extend(clips);
    }

    /// Loops hold music until stopped or replaced: the uploaded recording if given,
    /// else the generated arpeggio.
    pub fn hold_music(&mut self, recording: Option<Arc<[i16]>>) {
        self.stop();
        self.hold = Some(match recording.filter(|r| !r.is_empty()) {
            Some(r) => Hold::Recording(r, 0),
            None => Hold::Generated(HoldMusic::new()),
        });
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
    fn uploaded_hold_music_loops_until_stopped() {
        let mut p = Player::default();
        let clip: Arc<[i16]> = (1..=250).collect::<Vec<i16>>().into();
        p.hold_music(Some(clip));
        let mut out = Vec::new();
        for _ in 0..4 {
            let mut f = SILENCE;
            assert!(!p.fill(&mut f), "hold music never ends by itself");
            out.extend_from_slice(&f);
        }
        assert_eq!(out[0], 1);
        assert_eq!(out[249], 250);
        assert_eq!(out[250], 1, "loops");
        p.stop();
        let mut f = SILENCE;
        p.fill(&mut f);
        assert!(f.iter().all(|&s| s == 0));
    }

    #[test]
    fn hold_music_is_audible_and_free_of_dtmf() {
        let mut p = Player::default();
        p.hold_music(None);
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
        // 10 fixed prompts, 9 queue positions and 10 expected waits per routing number
        assert_eq!(texts.len(), 2 * 29);
        assert!(texts.iter().any(|(k, _, t)| *k
            == ("emergency-hotline".to_string(), Prompt::Announcement)
            && t.starts_with("This is Emergency Hotline.")));
    }

    #[test]
    fn fixed_phrases_follow_the_language_and_fall_back_to_english() {
        let de = phrase_in(Prompt::QueuePosition(2), "de-at").unwrap();
        assert!(de.contains("Anrufer Nummer 2"), "{de}");
        assert_eq!(phrase_in(Prompt::Goodbye, "fr"), None);
        let mut cfg = Config::demo();
        cfg.routing_numbers[1].language = toml::Spanned::new(0..0, "fr".into());
        let texts = prompt_texts(&cfg);
        let bye = texts
            .iter()
            .find(|(k, _, _)| *k == ("facilities-line".to_string(), Prompt::Goodbye))
            .unwrap();
        assert_eq!(bye.2, "Goodbye.");
    }
}
