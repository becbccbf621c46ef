//! The voicemail recorder: collects a caller's frames, tracks trailing silence (the
//! "caller stopped talking" end), and at the end trims leading and trailing silence and
//! says whether there was any speech at all (a message of only silence or line noise is
//! marked empty).
//!
//! Pure: frames in, a [`Recording`] out. Encoding and storage happen in the store
//! thread, never on the audio path.

use std::time::Duration;

use crate::dsp::level::rms_dbm0;
use crate::dsp::{FRAME_SAMPLES, SAMPLE_RATE};
use crate::media::Frame;

/// A frame at or above this level counts as sound (speech, a tone).
pub const SOUND_DBM0: f32 = -40.0;
/// A recording needs at least this much sound to count as a message.
pub const MIN_SPEECH: Duration = Duration::from_millis(300);
/// Silence kept before the first and after the last sound when trimming.
const PAD: Duration = Duration::from_millis(200);
/// Audio dropped from the end when the caller finished with `#` (the key's own tone).
const KEY_TAIL: Duration = Duration::from_millis(300);

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordEnd {
    /// The caller pressed `#`.
    Key,
    /// The caller was silent for the configured time.
    Silence,
    /// The maximum length was reached.
    MaxLength,
    /// The caller hung up (what was recorded is kept).
    Hangup,
    /// The service stopped.
    Shutdown,
}

impl RecordEnd {
    /// Name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordEnd::Key => "key",
            RecordEnd::Silence => "silence",
            RecordEnd::MaxLength => "max_length",
            RecordEnd::Hangup => "hangup",
            RecordEnd::Shutdown => "shutdown",
        }
    }
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// 8 kHz samples, trimmed.
    pub samples: Vec<i16>,
    /// Whether it contains speech (at least [`MIN_SPEECH`] of sound).
    pub speech: bool,
    /// Why it ended.
    pub ended: RecordEnd,
}

impl Recording {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / SAMPLE_RATE as f64
    }
}

/// Records one caller.
#[derive(Debug, Clone)]
pub struct Recorder {
    samples: Vec<i16>,
    max_samples: usize,
    /// Sound flags per frame.
    sound: Vec<bool>,
    silent_frames: u32,
}

fn frames_of(d: Duration) -> usize {
    (d.as_millis() / 20) as usize
}

impl Recorder {
    /// A recorder that keeps at most `max` of audio.
    pub fn new(max: Duration) -> Self {
        let max_samples = (max.as_millis() as usize * SAMPLE_RATE as usize) / 1000;
        Self {
            samples: Vec::with_capacity(max_samples.min(SAMPLE_RATE as usize * 60)),
            max_samples,
            sound: Vec::new(),
            silent_frames: 0,
        }
    }

    /// Adds a frame (ignored once the maximum is reached).
    pub fn push(&mut self, frame: &Frame) {
        if self.samples.len() + FRAME_SAMPLES > self.max_samples {
            return;
        }
        self.samples.extend_from_slice(frame);
        let loud = rms_dbm0(frame) >= SOUND_DBM0;
        self.sound.push(loud);
        if loud {
            self.silent_frames = 0;
        } else {
            self.silent_frames += 1;
        }
    }

    /// How long the caller has been silent (since the start, or the last sound).
    pub fn trailing_silence(&self) -> Duration {
        Duration::from_millis(u64::from(self.silent_frames) * 20)
    }

    /// Audio recorded so far.
    pub fn recorded(&self) -> Duration {
        Duration::from_millis(self.sound.len() as u64 * 20)
    }

    /// Ends the recording: drops the `#` tone, trims silence, decides about speech.
    pub fn finish(mut self, ended: RecordEnd) -> Recording {
        if ended == RecordEnd::Key {
            let drop = frames_of(KEY_TAIL).min(self.sound.len());
            self.sound.truncate(self.sound.len() - drop);
            self.samples.truncate(self.sound.len() * FRAME_SAMPLES);
        }
        let sound_frames = self.sound.iter().filter(|s| **s).count();
        let speech = sound_frames >= frames_of(MIN_SPEECH);
        let first = self.sound.iter().position(|s| *s);
        let last = self.sound.iter().rposition(|s| *s);
        let samples = match (first, last) {
            (Some(a), Some(b)) if speech => {
                let pad = frames_of(PAD);
                let from = a.saturating_sub(pad) * FRAME_SAMPLES;
                let to = ((b + 1 + pad).min(self.sound.len())) * FRAME_SAMPLES;
                self.samples[from..to.min(self.samples.len())].to_vec()
            }
            // nothing worth keeping: an empty message stays empty
            _ => Vec::new(),
        };
        Recording {
            samples,
            speech,
            ended,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::tone::ToneGen;

    fn tone_frame(g: &mut ToneGen) -> Frame {
        let mut f = [0i16; FRAME_SAMPLES];
        g.fill(&mut f);
        f
    }

    #[test]
    fn trims_silence_around_speech() {
        let mut r = Recorder::new(Duration::from_secs(60));
        let mut g = ToneGen::single(2000.0, -20.0);
        for _ in 0..100 {
            r.push(&[0; FRAME_SAMPLES]); // 2 s silence
        }
        assert_eq!(r.trailing_silence(), Duration::from_secs(2));
        for _ in 0..150 {
            r.push(&tone_frame(&mut g)); // 3 s talk
        }
        assert_eq!(r.trailing_silence(), Duration::ZERO);
        for _ in 0..250 {
            r.push(&[0; FRAME_SAMPLES]); // 5 s silence
        }
        let rec = r.finish(RecordEnd::Silence);
        assert!(rec.speech);
        // 3 s of talk plus 200 ms either side
        assert!((rec.seconds() - 3.4).abs() < 0.01, "{}", rec.seconds());
    }

    #[test]
    fn silence_only_is_empty() {
        let mut r = Recorder::new(Duration::from_secs(60));
        for _ in 0..250 {
            r.push(&[3; FRAME_SAMPLES]);
        }
        let rec = r.finish(RecordEnd::Silence);
        assert!(!rec.speech);
        assert!(rec.samples.is_empty());
    }

    #[test]
    fn stops_growing_at_the_maximum() {
        let mut r = Recorder::new(Duration::from_secs(1));
        let mut g = ToneGen::single(2000.0, -20.0);
        for _ in 0..200 {
            r.push(&tone_frame(&mut g));
        }
        assert_eq!(r.recorded(), Duration::from_secs(1));
        let rec = r.finish(RecordEnd::MaxLength);
        assert_eq!(rec.samples.len(), 8000);
    }

    #[test]
    fn hash_key_tone_is_cut() {
        let mut r = Recorder::new(Duration::from_secs(60));
        let mut g = ToneGen::single(2000.0, -20.0);
        for _ in 0..100 {
            r.push(&tone_frame(&mut g));
        }
        let rec = r.finish(RecordEnd::Key);
        // 2 s minus the 300 ms key tail
        assert!((rec.seconds() - 1.7).abs() < 0.01, "{}", rec.seconds());
    }
}
