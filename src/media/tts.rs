//! Speech synthesis of prompts with espeak-ng, cached on disk as 8 kHz WAV.
//!
//! espeak-ng writes 22.05 kHz WAV; we resample to 8 kHz (rubato) and keep the result in
//! `<data>/tts/<hash>.wav`, so each text is rendered once per box. This is I/O at the
//! edge: the call flow only ever sees the rendered samples.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};

use super::{PromptLibrary, prompt_texts};
use crate::config::Config;
use crate::dsp::SAMPLE_RATE;

/// Renders text to speech with a disk cache.
pub struct Tts {
    cache_dir: Option<PathBuf>,
    program: String,
    /// Keep what the disk cache gives in memory for the rest of the process.
    memo: bool,
    /// Uploaded recordings (`<data>/recordings`): a greeting there replaces the spoken
    /// one, hold music the generated one.
    recordings: Option<PathBuf>,
}

/// Stable 64-bit FNV-1a (the cache key must not change between builds).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Prompts read from a disk cache, kept in memory for the rest of the process: the
/// scenario runner renders the same texts for every run, and reading and parsing the
/// WAV files dominated short scenarios. Only renderers made with [`Tts::memoised`] and
/// a disk cache use it (what it returns is what the disk cache would return); the
/// service does not (it would hold a second copy of its prompts).
static MEMO: Mutex<Option<HashMap<String, Arc<[i16]>>>> = Mutex::new(None);
/// The memo is emptied when it would hold more samples than this (32 MB).
const MEMO_MAX_SAMPLES: usize = 16 << 20;

fn memo_get(key: &str) -> Option<Arc<[i16]>> {
    let memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    memo.as_ref().and_then(|m| m.get(key).cloned())
}

fn memo_put(key: String, samples: &Arc<[i16]>) {
    let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    let m = memo.get_or_insert_with(HashMap::new);
    let held: usize = m.values().map(|s| s.len()).sum();
    if held + samples.len() > MEMO_MAX_SAMPLES {
        m.clear();
    }
    m.insert(key, samples.clone());
}

impl Tts {
    /// A renderer caching under `cache_dir` (None: no cache).
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        Self {
            cache_dir,
            program: std::env::var("SWITCHBOARD_ESPEAK").unwrap_or_else(|_| "espeak-ng".into()),
            memo: false,
            recordings: None,
        }
    }

    /// The same renderer, also keeping rendered prompts in memory across renderers in
    /// this process (for runs that render the same prompts again and again).
    pub fn memoised(mut self) -> Self {
        self.memo = true;
        self
    }

    /// Also uses the uploaded recordings under `dir` (see [`super::upload`]).
    pub fn with_recordings(mut self, dir: PathBuf) -> Self {
        self.recordings = Some(dir);
        self
    }

    /// Speech for `text` in `voice` (espeak-ng voice name), 8 kHz mono.
    pub fn render(&self, voice: &str, text: &str) -> Result<Vec<i16>> {
        Ok(self.render_shared(voice, text)?.to_vec())
    }

    /// [`Tts::render`], shared: a memoised prompt is handed out without a copy (every
    /// scenario run, and every reload in it, renders the whole library again).
    pub fn render_shared(&self, voice: &str, text: &str) -> Result<Arc<[i16]>> {
        let key = format!("{:016x}", fnv1a(&["v1", voice, text]));
        let cached = self
            .cache_dir
            .as_ref()
            .map(|d| d.join(format!("{key}.wav")));
        let memo_key = cached
            .as_ref()
            .filter(|_| self.memo)
            .map(|p| p.display().to_string());
        if let Some(s) = memo_key.as_deref().and_then(memo_get) {
            return Ok(s);
        }
        if let Some(path) = &cached {
            if let Ok(samples) = read_wav_8k(path) {
                let samples: Arc<[i16]> = samples.into();
                if let Some(k) = memo_key {
                    memo_put(k, &samples);
                }
                return Ok(samples);
            }
        }
        let samples: Arc<[i16]> = if text.trim().is_empty() {
            Vec::new().into()
        } else {
            self.synthesize(voice, text)?.into()
        };
        if let Some(path) = &cached {
            if let Err(e) = write_wav_8k(path, &samples) {
                tracing::warn!(path = %path.display(), error = %e, "cannot cache rendered prompt");
            } else if let Some(k) = memo_key {
                memo_put(k, &samples);
            }
        }
        Ok(samples)
    }

    fn synthesize(&self, voice: &str, text: &str) -> Result<Vec<i16>> {
        check_prompt_text(text)?;
        let mut child = Command::new(&self.program)
            .args(["-v", voice, "-s", "165", "--stdout", text])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot run `{}` to render prompts: install it with `apt-get install espeak-ng`",
                    self.program
                )
            })?;
        let stdout = child.stdout.take().context("espeak-ng has no stdout")?;
        let result = read_speech(std::io::BufReader::new(stdout));
        if result.is_err() {
            // Stop a runaway synthesis; its exit status no longer matters.
            child.kill().ok();
        }
        let out = child.wait_with_output().context("waiting for espeak-ng")?;
        if !out.status.success() && result.is_ok() {
            bail!(
                "espeak-ng failed for voice `{voice}`: {} (is the voice installed? `espeak-ng --voices` lists them)",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        result
    }

    /// Renders every prompt a configuration needs, calling `progress(done, total)`.
    pub fn render_library(
        &self,
        cfg: &Config,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<PromptLibrary> {
        let texts = prompt_texts(cfg);
        let mut lib = PromptLibrary::default();
        let total = texts.len();
        for (n, (key, voice, text)) in texts.into_iter().enumerate() {
            let recorded = self.recorded_prompt(cfg, &key)?;
            let (text, samples) = match recorded {
                // the recording, then what is spoken after it (a greeting's menu)
                Some((mut rec, label, after)) => {
                    if !after.is_empty() {
                        rec.extend_from_slice(&self.render_shared(&voice, &after).with_context(
                            || format!("rendering the menu of routing number {}", key.0),
                        )?);
                    }
                    (format!("({label}) {after}").trim().to_string(), rec.into())
                }
                None => {
                    let samples = self.render_shared(&voice, &text).with_context(|| {
                        format!("rendering prompt {:?} of routing number {}", key.1, key.0)
                    })?;
                    (text, samples)
                }
            };
            lib.insert_shared(key, text, samples);
            progress(n + 1, total);
        }
        if let Some(dir) = &self.recordings {
            let p = super::upload::hold_music_path(dir);
            if p.exists() {
                lib.set_hold_music(
                    super::wav::read_wav_8k_mono(&p).with_context(|| {
                        format!("reading the uploaded hold music {}", p.display())
                    })?,
                );
            }
        }
        Ok(lib)
    }
}

impl Tts {
    /// An uploaded recording for prompt `key.1` of routing number `key.0` (see
    /// [`super::upload::recording_path`]): its samples, a label for the library's text,
    /// and the text to speak after it (a greeting's generated menu; empty otherwise).
    fn recorded_prompt(
        &self,
        cfg: &Config,
        key: &(String, super::Prompt),
    ) -> Result<Option<(Vec<i16>, &'static str, String)>> {
        let Some(dir) = &self.recordings else {
            return Ok(None);
        };
        let Some(p) = super::upload::recording_path(dir, &key.0, key.1) else {
            return Ok(None);
        };
        if !p.exists() {
            return Ok(None);
        }
        let Some(rn) = cfg.routing_numbers.iter().find(|r| r.key == key.0) else {
            return Ok(None);
        };
        let (label, after) = match key.1 {
            super::Prompt::Greeting => {
                let full = rn.greeting_text();
                let menu = full
                    .strip_prefix(rn.greeting.trim())
                    .unwrap_or("")
                    .trim()
                    .to_string();
                ("recorded greeting", menu)
            }
            _ => ("recorded voicemail prompt", String::new()),
        };
        let samples = super::wav::read_wav_8k_mono(&p)
            .with_context(|| format!("reading the uploaded recording {}", p.display()))?;
        Ok(Some((samples, label, after)))
    }
}

/// Band-limited resampling of mono audio (see [`super::wav::resample`]).
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    super::wav::resample(input, from, to)
}

/// Longest prompt text rendered, in characters (about four minutes of speech).
pub const MAX_PROMPT_CHARS: usize = 4000;
/// Longest rendered prompt, seconds (a runaway synthesis is stopped there).
pub const MAX_PROMPT_SECONDS: u32 = 300;

/// Refuses prompt texts longer than [`MAX_PROMPT_CHARS`].
pub fn check_prompt_text(text: &str) -> Result<()> {
    let n = text.chars().count();
    if n > MAX_PROMPT_CHARS {
        bail!(
            "prompt text has {n} characters; at most {MAX_PROMPT_CHARS} are rendered (about four minutes of speech)"
        );
    }
    Ok(())
}

/// Reads espeak-ng's WAV stream (placeholder data length: read until the samples run
/// out), mixes it to mono and converts it to 8 kHz on the fly; stops with an error at
/// [`MAX_PROMPT_SECONDS`].
fn read_speech(r: impl std::io::Read) -> Result<Vec<i16>> {
    let reader = hound::WavReader::new(r).context("espeak-ng did not produce a WAV stream")?;
    let spec = reader.spec();
    let ch = usize::from(spec.channels.max(1));
    let max = MAX_PROMPT_SECONDS as usize * SAMPLE_RATE as usize;
    let mut out: Vec<i16> = Vec::new();
    let too_long = std::cell::Cell::new(false);
    let mut sink = |y: &[f32]| {
        if out.len() + y.len() > max {
            too_long.set(true);
        } else {
            out.extend(
                y.iter()
                    .map(|x| (x * 32767.0).clamp(-32768.0, 32767.0) as i16),
            );
        }
    };
    let mut rs = (spec.sample_rate != SAMPLE_RATE)
        .then(|| super::wav::StreamResampler::new(spec.sample_rate, SAMPLE_RATE))
        .transpose()?;
    let mut chunk = Vec::with_capacity(1024);
    let mut frame = 0.0f32;
    let mut k = 0;
    let mut feed = |chunk: &mut Vec<f32>, sink: &mut dyn FnMut(&[f32])| -> Result<()> {
        match &mut rs {
            Some(r) => r.push(chunk, &mut |y: &[f32]| sink(y))?,
            None => sink(chunk),
        }
        chunk.clear();
        Ok(())
    };
    for s in reader.into_samples::<i16>().map_while(|s| s.ok()) {
        frame += f32::from(s) / 32768.0;
        k += 1;
        if k == ch {
            chunk.push(frame / ch as f32);
            frame = 0.0;
            k = 0;
            if chunk.len() == 1024 {
                feed(&mut chunk, &mut sink)?;
                if too_long.get() {
                    break;
                }
            }
        }
    }
    feed(&mut chunk, &mut sink)?;
    if let Some(r) = &mut rs {
        r.finish(&mut |y: &[f32]| sink(y))?;
    }
    if too_long.get() {
        bail!("the rendered prompt is longer than {MAX_PROMPT_SECONDS} s: shorten its text");
    }
    Ok(out)
}

fn read_wav_8k(path: &Path) -> Result<Vec<i16>> {
    let reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    if spec.sample_rate != SAMPLE_RATE || spec.channels != 1 || spec.bits_per_sample != 16 {
        bail!("not an 8 kHz mono 16-bit WAV");
    }
    Ok(reader.into_samples::<i16>().collect::<Result<_, _>>()?)
}

/// Writes 8 kHz mono 16-bit WAV (atomically: temp file + rename).
pub fn write_wav_8k(path: &Path, samples: &[i16]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("wav.tmp");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&tmp, spec)?;
    for &s in samples {
        w.write_sample(s)?;
    }
    w.finalize()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_keeps_a_tone() {
        let from = 22_050u32;
        let input: Vec<f32> = (0..from)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / from as f32).sin())
            .collect();
        let out = resample(&input, from, 8000).unwrap();
        assert_eq!(out.len(), 8000);
        let mut g = crate::dsp::goertzel::Goertzel::new(1000.0, 8000);
        for &x in &out[2000..2800] {
            g.push(x);
        }
        let energy: f32 = out[2000..2800].iter().map(|x| x * x).sum();
        assert!(g.power() > 0.9 * energy, "tone kept at 1 kHz");
    }

    #[test]
    fn long_prompt_texts_are_refused_before_rendering() {
        assert!(check_prompt_text(&"x".repeat(MAX_PROMPT_CHARS)).is_ok());
        let e = check_prompt_text(&"x".repeat(100_000)).unwrap_err();
        assert!(e.to_string().contains("100000 characters"), "{e}");
        let tts = Tts {
            cache_dir: None,
            program: "/nonexistent/espeak".into(),
            memo: false,
            recordings: None,
        };
        let e = tts.render("en", &"x".repeat(100_000)).unwrap_err();
        assert!(e.to_string().contains("at most 4000"), "{e}");
    }

    #[test]
    fn an_uploaded_voicemail_prompt_is_the_leave_message_clip_with_nothing_after_it() {
        use crate::call::Prompt;
        let src = crate::config::DEMO_CONFIG_TOML.replace(
            "greeting = \"Welcome to the Acme emergency hotline.\"\n",
            "greeting = \"Welcome to the Acme emergency hotline.\"\nvoicemail = { enabled = true }\n",
        );
        let cfg = Config::parse("t.toml", &src, &crate::config::BoardProfile::sim()).unwrap();
        let id = "emergency-hotline";
        assert!(cfg.routing_numbers.iter().any(|r| r.key == id));
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("recordings");
        let tone: Vec<i16> = (0..4000).map(|i| ((i % 40) * 300 - 6000) as i16).collect();
        let path = super::super::upload::recording_path(&rec, id, Prompt::LeaveMessage).unwrap();
        assert!(path.ends_with("emergency-hotline/voicemail.wav"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_wav_8k(&path, &tone).unwrap();
        let tts = Tts::new(Some(dir.path().join("tts"))).with_recordings(rec);
        let lib = tts.render_library(&cfg, |_, _| {}).unwrap();
        let clip = lib
            .get(id, Prompt::LeaveMessage)
            .expect("a voicemail prompt");
        assert_eq!(
            &clip.samples[..],
            &tone[..],
            "the recording, nothing spoken after it"
        );
        assert_eq!(clip.text, "(recorded voicemail prompt)");
        // the greeting of the same number is still spoken (no greeting uploaded)
        let g = lib.get(id, Prompt::Greeting).unwrap();
        assert!(g.text.starts_with("Welcome to the Acme"), "{}", g.text);
    }

    #[test]
    fn cache_key_is_stable() {
        assert_eq!(fnv1a(&["v1", "en", "Hello"]), fnv1a(&["v1", "en", "Hello"]));
        assert_ne!(fnv1a(&["v1", "en", "Hello"]), fnv1a(&["v1", "de", "Hello"]));
    }
}
