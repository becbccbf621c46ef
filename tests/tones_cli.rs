//! `switchboard tones gen|detect` through the built binary: every kind of every country
//! written to a WAV file and read back, the JSON-lines contract, and the exit codes.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn detect(wav: &std::path::Path, country: &str) -> Vec<serde_json::Value> {
    let out = bin()
        .args(["tones", "detect"])
        .arg(wav)
        .args(["--country", country])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn gen_then_detect_every_country_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    for country in ["US", "UK", "DE", "FR", "NL", "AU"] {
        for (kind, name) in [
            ("dial", "dial"),
            ("ringback", "ringback"),
            ("busy", "busy"),
            ("reorder", "congestion"),
            ("sit", "sit"),
            ("cng", "fax_cng"),
            ("ced", "fax_ced"),
        ] {
            let wav = dir.path().join(format!("{country}-{kind}.wav"));
            let out = bin()
                .args(["tones", "gen", kind, "--country", country, "-o"])
                .arg(&wav)
                .args(["--level", "-25"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let lines = detect(&wav, &country.to_lowercase());
            assert_eq!(lines.len(), 1, "{country} {kind}: {lines:?}");
            let l = &lines[0];
            assert_eq!(l["tone"], name, "{country} {kind}: {l}");
            assert_eq!(l["country"], country);
            assert_eq!(l["ms"], 0, "{l}");
            assert!(
                (l["level_dbm0"].as_f64().unwrap() + 25.0).abs() < 1.0,
                "{l}"
            );
            assert!(l["cycles"].as_u64().is_some());
            assert!(l["duration_ms"].as_u64().unwrap() > 0);
            assert!(l["detected_ms"].as_u64().unwrap() <= 9000, "{l}");
            assert!(!l["freq_hz"].as_array().unwrap().is_empty());
            assert!(l["cadence_ms"].is_array());
        }
    }
}

#[test]
fn busy_cycles_and_timing_in_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("busy.wav");
    let out = bin()
        .args([
            "tones",
            "gen",
            "busy",
            "--country",
            "de",
            "--seconds",
            "5.76",
            "-o",
        ])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines = detect(&wav, "DE");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let l = &lines[0];
    assert_eq!(l["tone"], "busy");
    assert_eq!(l["cycles"], 6, "{l}");
    let dur = l["duration_ms"].as_u64().unwrap();
    assert!(dur.abs_diff(5280) <= 40, "{l}");
    let cad: Vec<u64> = l["cadence_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(cad.len(), 2);
    assert!(cad.iter().all(|c| c.abs_diff(480) <= 40), "{cad:?}");
    assert!((l["freq_hz"][0].as_f64().unwrap() - 425.0).abs() < 1.0);
}

#[test]
fn nothing_found_prints_nothing_and_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // Silence: exit 0, no output.
    let wav = dir.path().join("silence.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for _ in 0..16000 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let out = bin()
        .args(["tones", "detect"])
        .arg(&wav)
        .args(["--country", "FR"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());

    // Unknown country: exit 2, the message lists the supported codes.
    let out = bin()
        .args(["tones", "detect"])
        .arg(&wav)
        .args(["--country", "XX"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"XX\"") && err.contains("US, UK, DE, FR, NL, AU"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // Unreadable and missing files: exit 2.
    let bad = dir.path().join("bad.wav");
    std::fs::write(&bad, b"RIFF nonsense").unwrap();
    for f in [bad, dir.path().join("missing.wav")] {
        let out = bin()
            .args(["tones", "detect"])
            .arg(&f)
            .args(["--country", "DE"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    }

    // gen: unknown kind, country-specific tone without --country.
    let out = bin()
        .args(["tones", "gen", "hum", "--country", "DE", "-o"])
        .arg(dir.path().join("x.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tone kind"));
    let out = bin()
        .args(["tones", "gen", "busy", "-o"])
        .arg(dir.path().join("x.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--country"));
}

#[test]
fn ced_with_phase_reversals_and_44k_stereo_input() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("ans.wav");
    let out = bin()
        .args(["tones", "gen", "ced", "--phase-reversals", "-o"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines = detect(&wav, "UK");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["tone"], "fax_ced");
    assert_eq!(lines[0]["phase_reversals"], 7, "{lines:?}");

    // A 44.1 kHz stereo float file of US busy tone is converted and detected.
    let wav = dir.path().join("busy44.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for n in 0..(44_100 * 4) {
        let t = n as f32 / 44_100.0;
        let on = (t % 1.0) < 0.5;
        let v = if on {
            0.05 * ((std::f32::consts::TAU * 480.0 * t).sin()
                + (std::f32::consts::TAU * 620.0 * t).sin())
        } else {
            0.0
        };
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
    let lines = detect(&wav, "us");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["tone"], "busy");
}
