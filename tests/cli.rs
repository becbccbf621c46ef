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
