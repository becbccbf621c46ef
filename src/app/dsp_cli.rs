//! `switchboard dtmf decode|gen` and `switchboard bench dtmf`: the DSP on files.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::dsp::SAMPLE_RATE;
use crate::dsp::dtmf::{DtmfDetector, DtmfEvent, DtmfGenParams, generate_with};

pub use crate::media::wav::read_wav_8k_mono;
use crate::media::wav::stream_wav_8k_mono;

/// Streams a WAV file into `sink` (8 kHz mono blocks) and warns on stderr when the
/// data ends before the header's length.
fn stream_input(path: &Path, sink: impl FnMut(&[i16])) -> Result<()> {
    let st = stream_wav_8k_mono(path, sink)?;
    if st.truncated {
        eprintln!(
            "warning: {}: the data ends after {} of the {} frames its header declares; decoded what is there",
            path.display(),
            st.frames_read,
            st.declared_frames
        );
    }
    Ok(())
}

/// Writes 8 kHz mono 16-bit PCM.
pub fn write_wav_8k(path: &Path, samples: &[i16]) -> Result<()> {
    let mut w = wav_writer_8k(path)?;
    for &s in samples {
        w.write_sample(s)?;
    }
    w.finalize()?;
    Ok(())
}

fn wav_writer_8k(path: &Path) -> Result<hound::WavWriter<std::io::BufWriter<std::fs::File>>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(path, spec)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// `dtmf decode`: the digits as one line, or JSON lines of events with `--events`
/// (each printed when its digit ends). The file is streamed in blocks: memory does not
/// depend on its length.
pub fn dtmf_decode(path: &Path, events: bool, out: &mut impl Write) -> Result<()> {
    let mut det = DtmfDetector::new();
    let mut digits = String::new();
    let mut pending: Option<(char, u64, f32, f32)> = None;
    let mut write_err: Option<std::io::Error> = None;
    let ms = |s: u64| (s as f64 * 10_000.0 / f64::from(SAMPLE_RATE)).round() / 10.0;
    let print = |d: (char, u64, f32, f32), end: u64, out: &mut dyn Write| {
        let (digit, start, low, high) = d;
        let v = serde_json::json!({
            "digit": digit.to_string(),
            "start_ms": ms(start),
            "end_ms": ms(end),
            "duration_ms": ((ms(end) - ms(start)) * 10.0).round() / 10.0,
            "low_dbm0": (f64::from(low) * 10.0).round() / 10.0,
            "high_dbm0": (f64::from(high) * 10.0).round() / 10.0,
            "twist_db": (f64::from(high - low) * 10.0).round() / 10.0,
        });
        writeln!(out, "{v}")
    };
    let mut on_event = |e: DtmfEvent| match e {
        DtmfEvent::Start {
            digit,
            sample,
            level_dbm0,
            high_level_dbm0,
        } => {
            if events {
                pending = Some((digit, sample, level_dbm0, high_level_dbm0));
            } else {
                digits.push(digit);
            }
        }
        DtmfEvent::End { sample, .. } => {
            if let Some(d) = pending.take() {
                if let Err(e) = print(d, sample, out) {
                    write_err.get_or_insert(e);
                }
            }
        }
    };
    stream_input(path, |block| det.push(block, &mut on_event))?;
    // Trailing silence so that a digit running to the end of the file gets its end.
    det.push(&[0; 400], &mut on_event);
    if let Some(e) = write_err {
        return Err(e.into());
    }
    if !events {
        writeln!(out, "{digits}")?;
    }
    Ok(())
}

/// `dtmf gen`: renders digits into an 8 kHz WAV file.
/// Refuses durations beyond [`MAX_GEN_MS`] per tone or pause and files longer than
/// [`MAX_GEN_SECONDS`]; writes the file one digit at a time.
pub fn dtmf_gen(digits: &str, path: &Path, p: &DtmfGenParams) -> Result<()> {
    if p.on_ms > MAX_GEN_MS || p.off_ms > MAX_GEN_MS {
        bail!(
            "--on-ms and --off-ms must be at most {MAX_GEN_MS} ms (got {} and {})",
            p.on_ms,
            p.off_ms
        );
    }
    if !(-60.0..=3.0).contains(&p.level_dbm0) || !(-30.0..=30.0).contains(&p.twist_db) {
        bail!(
            "--level must be between -60 and +3 dBm0 and --twist between -30 and +30 dB (got {} and {})",
            p.level_dbm0,
            p.twist_db
        );
    }
    let total_ms = digits.chars().count() as u64 * (u64::from(p.on_ms) + u64::from(p.off_ms));
    if total_ms > MAX_GEN_SECONDS * 1000 {
        bail!(
            "{} digits of {} ms + {} ms make {:.0} s of audio; at most {MAX_GEN_SECONDS} s are written",
            digits.chars().count(),
            p.on_ms,
            p.off_ms,
            total_ms as f64 / 1000.0
        );
    }
    // Validate every digit before creating the file.
    generate_with(
        digits,
        &DtmfGenParams {
            on_ms: 0,
            off_ms: 0,
            ..*p
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut w = wav_writer_8k(path)?;
    for d in digits.chars() {
        let audio = generate_with(&d.to_string(), p).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut i16w = w.get_i16_writer(audio.len() as u32);
        for s in audio {
            i16w.write_sample(s);
        }
        i16w.flush()?;
    }
    w.finalize()?;
    Ok(())
}

/// Longest tone or pause `dtmf gen` writes, ms.
pub const MAX_GEN_MS: u32 = 60_000;
/// Longest file `dtmf gen` writes, seconds.
pub const MAX_GEN_SECONDS: u64 = 3600;

/// CPU time of this process, seconds.
fn cpu_seconds() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
        .unwrap_or(0.0)
}

/// Result of [`bench_dtmf`].
#[derive(Debug, Clone, Copy)]
pub struct BenchResult {
    /// Audio seconds processed (all repetitions).
    pub audio_seconds: f64,
    /// CPU seconds spent detecting.
    pub cpu_seconds: f64,
    /// Digits detected per repetition.
    pub digits: usize,
}

/// Runs the detector over `audio` in 20 ms frames, `reps` times (a fresh detector
/// each time), and measures the CPU time.
pub fn bench_dtmf(audio: &[i16], reps: u32) -> BenchResult {
    let mut digits = 0;
    let t0 = cpu_seconds();
    for _ in 0..reps.max(1) {
        let mut det = DtmfDetector::new();
        digits = 0;
        for frame in audio.chunks(crate::dsp::FRAME_SAMPLES) {
            det.push(std::hint::black_box(frame), |e| {
                if matches!(e, DtmfEvent::Start { .. }) {
                    digits += 1
                }
            });
        }
    }
    let cpu = cpu_seconds() - t0;
    BenchResult {
        audio_seconds: audio.len() as f64 / f64::from(SAMPLE_RATE) * f64::from(reps.max(1)),
        cpu_seconds: cpu,
        digits,
    }
}

/// The standard benchmark signal: `seconds` of digits (50 ms on / 50 ms off, −4 …
/// −28 dBm0) alternating with 2 s stretches of white noise at −45 dBm0, deterministic.
pub fn bench_signal(seconds: u32) -> Vec<i16> {
    use crate::dsp::testsignal as ts;
    let n = seconds as usize * SAMPLE_RATE as usize;
    let mut rng = ts::Rng::new(1);
    let mut v = Vec::with_capacity(n + 16_000);
    let mut level = -4.0f32;
    while v.len() < n {
        let spec = ts::DtmfSpec {
            level_dbm0: level,
            ..ts::DtmfSpec::default()
        };
        v.extend(ts::dtmf_sequence("1234567890*#ABCD", spec, 0, 400, 400));
        v.extend(ts::silence(16_000));
        level = if level < -28.0 { -4.0 } else { level - 3.0 };
    }
    v.truncate(n);
    ts::add_white_noise(&mut v, -45.0, &mut rng);
    ts::quantize(&v)
}

/// Counts from [`callerid_decode`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallerIdSummary {
    /// Messages received intact and parsed.
    pub valid: usize,
    /// Messages that started but were rejected (checksum, cut off, bad field, …).
    pub rejected: usize,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn sample_ms(s: u64) -> f64 {
    round1(s as f64 * 1000.0 / f64::from(SAMPLE_RATE))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `valid` plus the caller ID fields, or `valid: false` and the error; counted.
fn add_verdict<E: std::fmt::Display>(
    o: &mut serde_json::Map<String, serde_json::Value>,
    summary: &mut CallerIdSummary,
    id: Result<crate::dsp::callerid::CallerId, E>,
) {
    use serde_json::json;
    match id {
        Ok(id) => {
            summary.valid += 1;
            o.insert("valid".into(), json!(true));
            o.extend(caller_id_json(&id));
        }
        Err(err) => {
            summary.rejected += 1;
            o.insert("valid".into(), json!(false));
            o.insert("error".into(), json!(err.to_string()));
        }
    }
}

fn caller_id_json(
    id: &crate::dsp::callerid::CallerId,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let mut m = serde_json::Map::new();
    m.insert("number".into(), json!(id.number));
    m.insert(
        "number_absent".into(),
        json!(id.number_absent.map(|a| a.name())),
    );
    m.insert("name".into(), json!(id.name));
    m.insert(
        "name_absent".into(),
        json!(id.name_absent.map(|a| a.name())),
    );
    m.insert(
        "date_time".into(),
        json!(id.date_time.map(|d| json!({
            "month": d.month, "day": d.day, "hour": d.hour, "minute": d.minute,
            "text": d.to_string(),
        }))),
    );
    m.insert("called_number".into(), json!(id.called_number));
    m.insert("call_type".into(), json!(id.call_type));
    m.insert(
        "params".into(),
        json!(
            id.params
                .iter()
                .map(|p| json!({"type": p.kind, "hex": hex(&p.value)}))
                .collect::<Vec<_>>()
        ),
    );
    m
}

/// `callerid decode`: one JSON line per caller ID message found in a WAV file (valid
/// ones and rejected ones, told apart by `"valid"`).
pub fn callerid_decode(
    path: &Path,
    signalling: crate::dsp::callerid::Signalling,
    out: &mut impl Write,
) -> Result<CallerIdSummary> {
    use crate::dsp::callerid::CallerIdDecoder;
    let mut dec = CallerIdDecoder::new(signalling);
    let mut events = Vec::new();
    let mut summary = CallerIdSummary::default();
    let mut write_err = None;
    stream_input(path, |block| {
        for frame in block.chunks(crate::dsp::FRAME_SAMPLES) {
            dec.push(frame, |e| events.push(e));
        }
        if let Err(e) = print_callerid_events(&mut events, &mut summary, out) {
            write_err.get_or_insert(e);
        }
    })?;
    // Trailing silence so that a message ending with the file is completed.
    dec.push(&[0; 1600], |e| events.push(e));
    dec.finish(|e| events.push(e));
    if let Some(e) = write_err {
        return Err(e);
    }
    print_callerid_events(&mut events, &mut summary, out)?;
    Ok(summary)
}

/// Prints (and drains) caller ID events as JSON lines, counting them in `summary`.
fn print_callerid_events(
    events: &mut Vec<crate::dsp::callerid::CallerIdEvent>,
    summary: &mut CallerIdSummary,
    out: &mut impl Write,
) -> Result<()> {
    use crate::dsp::callerid::{CallerIdEvent, DecodeErrorKind, Signalling};
    use serde_json::json;
    for e in events.drain(..) {
        let v = match e {
            CallerIdEvent::Fsk(m) => {
                let mut o = serde_json::Map::new();
                o.insert("standard".into(), json!(m.standard.name()));
                o.insert("format".into(), json!(m.format().name()));
                o.insert("message_type".into(), json!(m.message_type()));
                o.insert("checksum_ok".into(), json!(true));
                add_verdict(&mut o, summary, m.caller_id());
                o.insert("start_ms".into(), json!(sample_ms(m.start_sample)));
                o.insert("end_ms".into(), json!(sample_ms(m.end_sample)));
                o.insert("level_dbm0".into(), json!(round1(f64::from(m.level_dbm0))));
                o.insert("mark_hz".into(), json!(f64::from(m.mark_hz).round()));
                o.insert("space_hz".into(), json!(f64::from(m.space_hz).round()));
                o.insert("raw".into(), json!(hex(m.bytes())));
                serde_json::Value::Object(o)
            }
            CallerIdEvent::Clip(c) => {
                let mut o = serde_json::Map::new();
                o.insert("standard".into(), json!("dtmf"));
                o.insert("format".into(), json!("dtmf"));
                o.insert("checksum_ok".into(), serde_json::Value::Null);
                o.insert("clip".into(), json!(c.as_str()));
                add_verdict(&mut o, summary, c.caller_id());
                o.insert("start_ms".into(), json!(sample_ms(c.start_sample)));
                o.insert("end_ms".into(), json!(sample_ms(c.end_sample)));
                serde_json::Value::Object(o)
            }
            CallerIdEvent::Error(err) => {
                summary.rejected += 1;
                let (kind, standard, checksum_ok) = match err.kind {
                    DecodeErrorKind::ChecksumMismatch { .. } => {
                        ("checksum_mismatch", None, Some(false))
                    }
                    DecodeErrorKind::Truncated { .. } => ("truncated", None, None),
                    DecodeErrorKind::OtherStandard { detected } => {
                        ("other_standard", Some(detected.name()), Some(true))
                    }
                    DecodeErrorKind::UnterminatedClip { .. } => {
                        ("unterminated_clip", Some("dtmf"), None)
                    }
                };
                let standard = standard.or(match err.signalling {
                    Signalling::Bell202 => Some("bell202"),
                    Signalling::V23 => Some("v23"),
                    Signalling::Dtmf => Some("dtmf"),
                    Signalling::Auto => None,
                });
                json!({
                    "valid": false,
                    "standard": standard,
                    "error_kind": kind,
                    "error": err.to_string(),
                    "checksum_ok": checksum_ok,
                    "at_ms": sample_ms(err.sample),
                })
            }
        };
        writeln!(out, "{v}")?;
    }
    Ok(())
}

/// What `callerid gen` renders.
#[derive(Debug, Clone)]
pub struct CallerIdGen {
    /// Content (number or absence reason, name, date).
    pub id: crate::dsp::callerid::CallerId,
    /// `None` for DTMF CLIP.
    pub fsk: Option<crate::dsp::callerid::FskGenParams>,
    /// SDMF instead of MDMF (FSK only).
    pub sdmf: bool,
    /// DTMF CLIP start/end codes.
    pub clip_style: crate::dsp::callerid::ClipStyle,
    /// Level, dBm0 (DTMF: per tone).
    pub level_dbm0: f32,
    /// Silence before and after, ms.
    pub pad_ms: u32,
}

/// `callerid gen`: renders a caller ID message into an 8 kHz WAV file.
pub fn callerid_gen(g: &CallerIdGen, path: &Path) -> Result<()> {
    use crate::dsp::callerid::{clip_audio, modulate};
    if g.pad_ms > MAX_GEN_MS {
        bail!(
            "--pad-ms must be at most {MAX_GEN_MS} ms (got {})",
            g.pad_ms
        );
    }
    if !(-60.0..=3.0).contains(&g.level_dbm0) {
        bail!(
            "--level must be between -60 and +3 dBm0 (got {})",
            g.level_dbm0
        );
    }
    if let Some(p) = &g.fsk {
        if p.seizure_bits > 12_000 || p.mark_bits > 12_000 {
            bail!(
                "--seizure-bits and --mark-bits must be at most 12000 (10 s at 1200 baud; got {} and {})",
                p.seizure_bits,
                p.mark_bits
            );
        }
        if !(p.baud_error.abs() <= 0.2 && p.freq_error.abs() <= 0.2) {
            bail!("--baud-error and --freq-error must be within ±20 %");
        }
    }
    let audio = match &g.fsk {
        Some(p) => {
            let frame = if g.sdmf {
                g.id.encode_sdmf()
            } else {
                g.id.encode_mdmf()
            }
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            modulate(
                &frame,
                &crate::dsp::callerid::FskGenParams {
                    level_dbm0: g.level_dbm0,
                    lead_ms: g.pad_ms,
                    tail_ms: g.pad_ms,
                    ..*p
                },
            )
        }
        None => {
            if g.id.name.is_some() {
                bail!("DTMF CLIP carries only the number; drop --name or use an FSK standard");
            }
            let s =
                g.id.encode_clip(g.clip_style)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            let pad = vec![0i16; crate::dsp::ms_to_samples(g.pad_ms)];
            let mut v = pad.clone();
            v.extend(clip_audio(&s, g.level_dbm0).map_err(|e| anyhow::anyhow!("{e}"))?);
            v.extend(pad);
            v
        }
    };
    write_wav_8k(path, &audio)
}

/// `tones detect`: one JSON line per recognised call-progress or fax tone, in order of
/// start (nothing when none). Fields: `ms` (start of the first burst), `tone`
/// (`dial`, `ringback`, `busy`, `congestion`, `sit`, `fax_cng`, `fax_ced`, `unknown`),
/// `country`, `cycles`, `duration_ms` (to the end of the last burst), `detected_ms` (when
/// it was recognised), `freq_hz` (measured where possible), `level_dbm0` (per component),
/// `cadence_ms` (the last cycle seen: on, off, …); for `fax_ced` also `phase_reversals`.
pub fn tones_detect(path: &Path, country: &str, out: &mut impl Write) -> Result<()> {
    use crate::dsp::progress::{ProgressDetector, ToneEvent, country as lookup};
    let c = lookup(country)?;
    let mut det = ProgressDetector::new(c);
    let mut reports = Vec::new();
    let mut on = |e: ToneEvent| {
        if let ToneEvent::Ended(r) = e {
            reports.push(r)
        }
    };
    stream_input(path, |block| det.push(block, &mut on))?;
    det.finish(&mut on);
    reports.sort_by_key(|r| r.start_sample);
    let ms = |s: u64| s * 1000 / u64::from(SAMPLE_RATE);
    let r1 = |x: f32| (f64::from(x) * 10.0).round() / 10.0;
    for r in reports {
        let mut v = serde_json::json!({
            "ms": r.start_ms(),
            "tone": r.kind.name(),
            "country": c.code,
            "cycles": r.cycles,
            "duration_ms": r.duration_ms(),
            "detected_ms": ms(r.detected_sample),
            "freq_hz": r.freqs_hz.iter().filter(|f| **f > 0.0).map(|&f| r1(f)).collect::<Vec<_>>(),
            "level_dbm0": r1(r.level_dbm0),
            "cadence_ms": &r.cadence_ms[..r.cadence_len],
        });
        if r.kind == crate::dsp::progress::ToneKind::FaxCed {
            v["phase_reversals"] = r.phase_reversals.into();
        }
        writeln!(out, "{v}")?;
    }
    Ok(())
}

/// `tones gen`: writes `kind` (dial, ringback, busy, congestion, sit, cng, ced) of
/// `country` (needed for the first four) to an 8 kHz WAV file. Default length: 5 s for a
/// continuous tone, 4 s for CED, else two cycles (at least 4 s); default level: the
/// table's.
pub fn tones_gen(
    kind: &str,
    country: Option<&str>,
    path: &Path,
    seconds: Option<f32>,
    level_dbm0: Option<f32>,
    phase_reversals: bool,
) -> Result<()> {
    use crate::dsp::progress::{self as pr, ToneKind};
    let k = ToneKind::parse(kind)
        .filter(|k| *k != ToneKind::Unknown)
        .with_context(|| {
            format!(
                "unknown tone kind {kind:?}: use dial, ringback, busy, congestion, sit, cng or ced"
            )
        })?;
    let c = match country {
        Some(code) => pr::country(code)?,
        None if matches!(k, ToneKind::Sit | ToneKind::FaxCng | ToneKind::FaxCed) => {
            &pr::COUNTRIES[0]
        }
        None => bail!(
            "{} tones differ by country: add --country ({})",
            k.name(),
            pr::supported_countries()
        ),
    };
    let def = match k {
        ToneKind::FaxCed if phase_reversals => &pr::FAX_CED_PR,
        _ => c
            .tone(k)
            .with_context(|| format!("no {} tone for {}", k.name(), c.code))?,
    };
    if phase_reversals && k != ToneKind::FaxCed {
        bail!("--phase-reversals applies to ced only");
    }
    let secs = match seconds {
        Some(s) if !(s.is_finite() && s > 0.0 && s <= 3600.0) => {
            bail!("--seconds must be between 0 and 3600, got {s}")
        }
        Some(s) => s,
        None if def.is_continuous() => 5.0,
        None if k == ToneKind::FaxCed => 4.0,
        None => (2.0 * def.cycle_ms() as f32 / 1000.0).max(4.0),
    };
    let level = level_dbm0.unwrap_or(def.level_dbm0);
    if !(-60.0..=3.0).contains(&level) {
        bail!("--level must be between -60 and +3 dBm0, got {level}");
    }
    write_wav_8k(path, &pr::generate(def, level, secs))
}
