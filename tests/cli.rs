//! The binary's command line: check-config errors, version, scenario exit codes.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

#[test]
fn version() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("switchboard {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_demo_and_example_configs_are_valid() {
    for f in ["config/demo.toml", "docs/example.toml"] {
        let out = bin()
            .args(["check-config", f])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": OK"));
    }
}

#[test]
fn a_broken_config_names_file_line_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(
        &f,
        "[[user]]\nid = \"ann\"\nphone = [\"0170 123\"]\n\n[[policy]]\nid = \"ops\"\n[[policy.level]]\nusers = [\"anne\"]\n",
    )
    .unwrap();
    let out = bin().arg("check-config").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = f.display().to_string();
    assert!(
        err.contains(&format!(
            "{file}:3:10: user[0].phone[0]: `0170 123` is not an E.164 number"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:8:10: policy[0].level[0].users[0]: no user with id `anne`"
        )),
        "{err}"
    );
}

#[test]
fn garbage_and_missing_files_get_clear_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("garbage.toml");
    std::fs::write(&f, b"\xff\xfe[[[ not toml").unwrap();
    for path in [f.clone(), dir.path().join("missing.toml")] {
        let out = bin().arg("check-config").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn scenario_exit_code_follows_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.toml");
    std::fs::write(
        &f,
        "name = \"menu failure\"\n[caller]\nport = \"fxo1\"\nstep = [{ after = \"prompt-end\", press = \"9\" }]\n[expect]\nend_reason = \"completed\"\n",
    )
    .unwrap();
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tts-cache");
    let out = bin()
        .args(["sim", "scenario", "-q", "--tts-cache"])
        .arg(&cache)
        .arg(&f)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("end_reason: expected completed, got menu_failed"),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn dtmf_gen_then_decode() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("d.wav");
    let out = bin()
        .args(["dtmf", "gen", "0123456789*#ABCD", "-o"])
        .arg(&wav)
        .args([
            "--on-ms", "45", "--off-ms", "48", "--level", "-20", "--twist", "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin().args(["dtmf", "decode"]).arg(&wav).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0123456789*#ABCD\n");
    assert!(out.stderr.is_empty());

    let out = bin()
        .args(["dtmf", "decode", "--events"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 16);
    assert_eq!(lines[1]["digit"], "1");
    let start = lines[1]["start_ms"].as_f64().unwrap();
    assert!((start - 93.0).abs() <= 7.0, "{start}");
    let dur = lines[1]["duration_ms"].as_f64().unwrap();
    assert!((dur - 45.0).abs() <= 7.0, "{dur}");
    assert!((lines[1]["low_dbm0"].as_f64().unwrap() + 20.0).abs() < 1.0);
    assert!((lines[1]["twist_db"].as_f64().unwrap() - 2.0).abs() < 1.0);
}

#[test]
fn dtmf_decode_converts_rate_and_channels_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    // 16 kHz stereo, 32-bit float.
    let wav = dir.path().join("s.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for &(lo, hi) in &[(697.0f32, 1209.0f32), (941.0, 1477.0)] {
        for n in 0..1600 {
            let t = n as f32 / 16_000.0;
            let v = if n < 1200 {
                0.2 * ((std::f32::consts::TAU * lo * t).sin()
                    + (std::f32::consts::TAU * hi * t).sin())
            } else {
                0.0
            };
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
    }
    w.finalize().unwrap();
    let out = bin().args(["dtmf", "decode"]).arg(&wav).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1#\n");

    let bad = dir.path().join("bad.wav");
    std::fs::write(&bad, b"not a wav").unwrap();
    let out = bin().args(["dtmf", "decode"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = bin()
        .args(["dtmf", "decode"])
        .arg(dir.path().join("missing.wav"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// A WAV header (PCM) with the given rate, channels, bits and declared data length.
fn wav_header(rate: u32, channels: u16, bits: u16, data_len: u32) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// Bad files and arguments get a clear error and exit 2, with bounded memory: a 1 Hz
/// header, 200 channels, a 4 GB file (sparse) and a huge --on-ms; a file whose header
/// claims 4 GB but holds 400 KB decodes what is there.
#[test]
fn bad_wav_files_and_huge_durations_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let decoders: [&[&str]; 3] = [
        &["dtmf", "decode"],
        &["callerid", "decode"],
        &["tones", "detect", "--country", "US"],
    ];
    let run = |args: &[&str], f: &std::path::Path| bin().args(args).arg(f).output().unwrap();

    let rate1 = dir.path().join("rate1.wav");
    let mut v = wav_header(1, 1, 16, 400_000);
    v.resize(v.len() + 400_000, 0);
    std::fs::write(&rate1, &v).unwrap();
    let chans = dir.path().join("chans.wav");
    let mut v = wav_header(8000, 200, 16, 400_000);
    v.resize(v.len() + 400_000, 0);
    std::fs::write(&chans, &v).unwrap();
    // 4 GB declared and (sparse) on disk: 74.6 hours at 8 kHz.
    let huge = dir.path().join("huge.wav");
    let f = std::fs::File::create(&huge).unwrap();
    use std::io::Write;
    (&f).write_all(&wav_header(8000, 1, 16, 0xFFFF_FFF0))
        .unwrap();
    f.set_len(44 + 0xFFFF_FFF0).unwrap();
    drop(f);
    for args in decoders {
        for (file, needle) in [
            (
                &rate1,
                "sample rate 1 Hz is outside the supported 4000–192000 Hz",
            ),
            (&chans, "200 channels; at most 8 are supported"),
            (&huge, "74.6 hours of audio"),
        ] {
            let out = run(args, file);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} {file:?}: {err}");
            assert!(err.contains(needle), "{args:?}: {err}");
            assert!(out.stdout.is_empty());
        }
    }

    // The header says 4 GB, the file holds 400 KB of digits: decoded, with a warning.
    let digits = dir.path().join("d.wav");
    let out = bin()
        .args(["dtmf", "gen", "159", "-o"])
        .arg(&digits)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut v = std::fs::read(&digits).unwrap();
    let data = v.split_off(44);
    let mut v = wav_header(8000, 1, 16, 0xFFFF_FFF0);
    v.extend_from_slice(&data);
    v.resize(400_044, 0);
    let liar = dir.path().join("liar.wav");
    std::fs::write(&liar, &v).unwrap();
    let out = run(&["dtmf", "decode"], &liar);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "159\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the data ends after 200000 of the"));

    // Generation: durations beyond the bounds.
    let o = dir.path().join("o.wav");
    for (args, needle) in [
        (
            vec!["dtmf", "gen", "123", "--on-ms", "4000000000", "-o"],
            "--on-ms and --off-ms must be at most 60000 ms",
        ),
        (
            vec!["dtmf", "gen", &"1".repeat(40_000), "-o"],
            "at most 3600 s are written",
        ),
        (
            vec![
                "callerid",
                "gen",
                "--number",
                "1",
                "--pad-ms",
                "4000000000",
                "-o",
            ],
            "--pad-ms must be at most 60000 ms",
        ),
    ] {
        let out = bin().args(&args).arg(&o).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{err}");
    }
    assert!(!o.exists());
}

/// A 100 KB greeting is refused by the configuration check (it would render minutes of
/// audio at start-up) with the field named.
#[test]
fn huge_greeting_text_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml"),
    )
    .unwrap();
    let big = "Welcome to the hotline. ".repeat(4200);
    let cfg = demo.replacen(
        "greeting = \"Welcome to the Acme emergency hotline.\"",
        &format!("greeting = \"{big}\""),
        1,
    );
    assert_ne!(cfg, demo);
    let f = dir.path().join("big.toml");
    std::fs::write(&f, cfg).unwrap();
    let out = bin().arg("check-config").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("routing_number[0].greeting: prompt text has")
            && err.contains("at most 4000 are rendered"),
        "{err}"
    );
}
