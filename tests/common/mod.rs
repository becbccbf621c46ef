//! Helpers shared by the integration tests (each test file that needs them says
//! `mod common;`).

use std::process::Command;

use switchboard::media::tts::resample;

/// One espeak-ng utterance at 8 kHz, on the 16-bit scale (±32767) as `f64`.
/// `pitch` is espeak-ng's 0–99 (50 is its default), `speed` in words per minute.
pub fn speak(voice: &str, pitch: u32, speed: u32, text: &str) -> Vec<f64> {
    let out = Command::new("espeak-ng")
        .args([
            "-v",
            voice,
            "-p",
            &pitch.to_string(),
            "-s",
            &speed.to_string(),
        ])
        .args(["--stdout", text])
        .output()
        .expect(
            "`espeak-ng` is needed by this test: apt-get install espeak-ng (scripts/ensure-deps)",
        );
    assert!(out.status.success(), "espeak-ng failed for voice {voice}");
    let reader = hound::WavReader::new(std::io::Cursor::new(out.stdout)).expect("WAV from espeak");
    let rate = reader.spec().sample_rate;
    // Placeholder data length in the header: read until the samples run out.
    let x: Vec<f32> = reader
        .into_samples::<i16>()
        .map_while(|s| s.ok())
        .map(|s| f32::from(s) / 32768.0)
        .collect();
    resample(&x, rate, 8000)
        .expect("resample")
        .into_iter()
        .map(|v| f64::from(v) * 32767.0)
        .collect()
}

/// Runs `synth` (a speech synthesiser writing a WAV file to stdout) piped into `sox`,
/// which converts it to 8 kHz mono 16-bit raw PCM; returns it on the 16-bit scale as
/// `f64`. Used for the large talk-off corpus: sox's resampler is fast in debug builds.
#[allow(dead_code)] // only tests/dtmf_speech.rs uses it; each test crate compiles this file
pub fn synth_8k(mut synth: Command) -> Vec<f64> {
    use std::process::Stdio;
    let mut s = synth
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the speech synthesiser is needed by this test (scripts/ensure-deps installs it)");
    let out = Command::new("sox")
        .args(["-q", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16"])
        .args(["-e", "signed-integer", "-t", "raw", "-"])
        .stdin(s.stdout.take().expect("synthesiser stdout"))
        .stderr(Stdio::null())
        .output()
        .expect("`sox` is needed by this test: apt-get install sox (scripts/ensure-deps)");
    s.wait().ok();
    assert!(
        out.status.success(),
        "sox failed to convert synthesised speech"
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])))
        .collect()
}
