//! Recordings the owner uploads (a greeting, hold music): any of WAV, MP3, Ogg Vorbis,
//! FLAC (symphonia) or Ogg Opus (our own decoder), mixed to mono and resampled to
//! 8 kHz, kept as 16-bit WAV under `<data>/recordings/`.
//!
//! Files: `<data>/recordings/<routing id>/greeting.wav` replaces the spoken greeting
//! of that routing number (the generated menu is still spoken after it);
//! `<data>/recordings/<routing id>/voicemail.wav` replaces its voicemail prompt
//! ("please leave a message after the tone"; nothing is spoken after it);
//! `<data>/recordings/hold-music.wav` replaces the generated hold music.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::Prompt;
use crate::dsp::SAMPLE_RATE;

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;
/// Longest recording accepted, seconds.
pub const MAX_RECORDING_SECONDS: u32 = 600;
/// The folder of the data directory with the uploads.
pub const RECORDINGS_DIR: &str = "recordings";
/// The hold music file name.
pub const HOLD_MUSIC_FILE: &str = "hold-music.wav";
/// The greeting file name (under the routing number's id).
pub const GREETING_FILE: &str = "greeting.wav";

/// The voicemail prompt file name (under the routing number's id).
pub const VOICEMAIL_PROMPT_FILE: &str = "voicemail.wav";

/// The prompts of a routing number that an uploaded recording can replace.
pub const RECORDABLE_PROMPTS: [Prompt; 2] = [Prompt::Greeting, Prompt::LeaveMessage];

/// Where the uploaded recording for prompt `p` of a routing number lives; None for a
/// prompt that cannot be replaced by a recording (see [`RECORDABLE_PROMPTS`]).
pub fn recording_path(recordings: &Path, routing_id: &str, p: Prompt) -> Option<PathBuf> {
    let file = match p {
        Prompt::Greeting => GREETING_FILE,
        Prompt::LeaveMessage => VOICEMAIL_PROMPT_FILE,
        _ => return None,
    };
    Some(recordings.join(routing_id).join(file))
}

/// Where the uploaded hold music lives.
pub fn hold_music_path(recordings: &Path) -> PathBuf {
    recordings.join(HOLD_MUSIC_FILE)
}

const FORMATS: &str = "WAV, MP3, Ogg (Vorbis or Opus) or FLAC";

/// Decodes an uploaded audio file to 8 kHz mono samples. `name` (the file name, if
/// known) helps to guess the format.
pub fn decode_upload(bytes: &[u8], name: Option<&str>) -> Result<Vec<i16>> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        bail!(
            "the file has {} bytes; at most {} MiB are accepted: shorten it or lower its bit rate",
            bytes.len(),
            MAX_UPLOAD_BYTES / (1024 * 1024)
        );
    }
    if bytes.is_empty() {
        bail!("the file is empty: choose a {FORMATS} file");
    }
    let samples =
        if bytes.starts_with(b"OggS") && bytes.windows(8).take(200).any(|w| w == b"OpusHead") {
            super::ogg_opus::decode(bytes)
                .map_err(|e| anyhow!("cannot read this Ogg Opus file: {e:#}"))?
        } else {
            let (mono, rate) = decode_symphonia(bytes, name)?;
            to_8k(&mono, rate)?
        };
    let max = MAX_RECORDING_SECONDS as usize * SAMPLE_RATE as usize;
    if samples.len() > max {
        bail!(
            "the recording lasts {:.0} s; at most {MAX_RECORDING_SECONDS} s are accepted: cut it shorter",
            samples.len() as f64 / f64::from(SAMPLE_RATE)
        );
    }
    if samples.is_empty() {
        bail!("the file holds no audio");
    }
    Ok(samples)
}

fn to_8k(mono: &[f32], rate: u32) -> Result<Vec<i16>> {
    super::wav::check_rate(rate)?;
    let y = if rate == SAMPLE_RATE {
        mono.to_vec()
    } else {
        super::wav::resample(mono, rate, SAMPLE_RATE)?
    };
    Ok(y.iter()
        .map(|x| (x * 32767.0).clamp(-32768.0, 32767.0) as i16)
        .collect())
}

fn decode_symphonia(bytes: &[u8], name: Option<&str>) -> Result<(Vec<f32>, u32)> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = name
        .and_then(|n| Path::new(n).extension())
        .and_then(|e| e.to_str())
    {
        hint.with_extension(&ext.to_ascii_lowercase());
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| anyhow!("not an audio file this box can read ({e}): upload {FORMATS}"))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .context("the file has no audio track")?;
    let track_id = track.id;
    let rate = track
        .codec_params
        .sample_rate
        .context("the file does not say its sample rate")?;
    super::wav::check_rate(rate)?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| anyhow!("cannot decode this file's audio ({e}): upload {FORMATS}"))?;
    let max = (MAX_RECORDING_SECONDS as usize + 1) * rate as usize;
    let mut mono: Vec<f32> = Vec::new();
    let mut buf: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => bail!("the file is damaged ({e}): export it again"),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // a damaged frame: skip it, as players do
            Err(SymError::DecodeError(_)) => continue,
            Err(e) => bail!("the file is damaged ({e}): export it again"),
        };
        let spec = *decoded.spec();
        let ch = spec.channels.count().max(1);
        let b = buf.get_or_insert_with(|| SampleBuffer::new(decoded.capacity() as u64, spec));
        if b.capacity() < decoded.capacity() * ch {
            *b = SampleBuffer::new(decoded.capacity() as u64, spec);
        }
        b.copy_interleaved_ref(decoded);
        for frame in b.samples().chunks(ch) {
            mono.push(frame.iter().sum::<f32>() / ch as f32);
        }
        if mono.len() > max {
            bail!(
                "the recording lasts more than {MAX_RECORDING_SECONDS} s, the longest accepted: cut it shorter"
            );
        }
    }
    Ok((mono, rate))
}

/// Decodes an upload and stores it as 8 kHz WAV at `path` (written to a temporary
/// name first, so a failed upload never leaves half a file in use).
pub fn store_upload(bytes: &[u8], name: Option<&str>, path: &Path) -> Result<f64> {
    let samples = decode_upload(bytes, name)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("part");
    super::tts::write_wav_8k(&tmp, &samples)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot store {}", path.display()))?;
    Ok(samples.len() as f64 / f64::from(SAMPLE_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, seconds: f32) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut c, spec).unwrap();
        let n = (rate as f32 * seconds) as usize;
        for i in 0..n {
            let v =
                ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i16;
            for _ in 0..channels {
                w.write_sample(v).unwrap();
            }
        }
        w.finalize().unwrap();
        c.into_inner()
    }

    #[test]
    fn a_stereo_44k_wav_becomes_8k_mono_of_the_same_length() {
        let s = decode_upload(&wav(44_100, 2, 1.5), Some("x.wav")).unwrap();
        assert!((s.len() as i64 - 12_000).abs() < 200, "{}", s.len());
        assert!(s.iter().map(|x| x.unsigned_abs()).max().unwrap() > 4000);
    }

    #[test]
    fn bad_and_huge_files_are_named() {
        let e = format!(
            "{:#}",
            decode_upload(b"hello, not audio", Some("a.mp3")).unwrap_err()
        );
        assert!(e.contains("not an audio file"), "{e}");
        let e = format!(
            "{:#}",
            decode_upload(&vec![0u8; MAX_UPLOAD_BYTES + 1], None).unwrap_err()
        );
        assert!(e.contains("at most 16 MiB"), "{e}");
        let e = format!(
            "{:#}",
            decode_upload(&wav(8000, 1, 601.0), None).unwrap_err()
        );
        assert!(
            e.contains("at most 600 s") || e.contains("more than 600 s"),
            "{e}"
        );
        let e = format!("{:#}", decode_upload(b"", None).unwrap_err());
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn ogg_opus_is_read_too() {
        let tone: Vec<i16> = (0..8000)
            .map(|i| ((i as f32 * 0.3).sin() * 6000.0) as i16)
            .collect();
        let bytes = crate::media::ogg_opus::encode(&tone).unwrap();
        let s = decode_upload(&bytes, Some("v.opus")).unwrap();
        assert!((s.len() as i64 - 8000).abs() < 400, "{}", s.len());
    }
}
