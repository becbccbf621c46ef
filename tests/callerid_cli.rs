//! `switchboard callerid gen|decode` through real WAV files and the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn run(args: &[&str], wav: &Path) -> Output {
    bin().args(args).arg(wav).output().unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "status {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn fsk_gen_then_decode_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (standard, format) in [
        ("bell202", "mdmf"),
        ("bell202", "sdmf"),
        ("v23", "mdmf"),
        ("v23", "sdmf"),
    ] {
        let wav = dir.path().join(format!("{standard}-{format}.wav"));
        let mut args = vec![
            "callerid",
            "gen",
            "--number",
            "0123456789",
            "--date",
            "11221403",
            "--standard",
            standard,
            "--format",
            format,
            "--level",
            "-30",
            "--baud-error",
            "-1",
            "--freq-error",
            "1",
        ];
        if format == "mdmf" {
            args.extend(["--name", "ACME Plumbing"]);
        }
        args.push("-o");
        ok(&run(&args, &wav));
        for listen in ["auto", standard] {
            let out = run(&["callerid", "decode", "--standard", listen], &wav);
            ok(&out);
            assert!(
                out.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let l = lines(&out);
            assert_eq!(l.len(), 1, "{l:?}");
            let m = &l[0];
            assert_eq!(m["valid"], true);
            assert_eq!(m["checksum_ok"], true);
            assert_eq!(m["standard"], standard);
            assert_eq!(m["format"], format);
            assert_eq!(m["number"], "0123456789");
            assert_eq!(m["date_time"]["month"], 11);
            assert_eq!(m["date_time"]["day"], 22);
            assert_eq!(m["date_time"]["hour"], 14);
            assert_eq!(m["date_time"]["minute"], 3);
            if format == "mdmf" {
                assert_eq!(m["name"], "ACME Plumbing");
            } else {
                assert!(m["name"].is_null());
            }
            assert!(
                (m["level_dbm0"].as_f64().unwrap() + 30.0).abs() < 1.5,
                "{m}"
            );
        }
        // The other FSK standard is named, and the exit status says nothing valid.
        let other = if standard == "v23" { "bell202" } else { "v23" };
        let out = run(&["callerid", "decode", "--standard", other], &wav);
        assert_eq!(out.status.code(), Some(1));
        let l = lines(&out);
        assert_eq!(l[0]["valid"], false);
        assert_eq!(l[0]["error_kind"], "other_standard");
        assert_eq!(l[0]["standard"], standard);
        assert!(String::from_utf8_lossy(&out.stderr).contains("rejected"));
    }
}

#[test]
fn withheld_numbers_and_dtmf_clip() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("p.wav");
    ok(&run(
        &[
            "callerid",
            "gen",
            "--withheld",
            "private",
            "--standard",
            "v23",
            "-o",
        ],
        &wav,
    ));
    let out = run(&["callerid", "decode"], &wav);
    ok(&out);
    let l = lines(&out);
    assert_eq!(l[0]["number_absent"], "private");
    assert!(l[0]["number"].is_null());

    for (codes, clip) in [("AC", "A5551234C"), ("D#", "D5551234#")] {
        let wav = dir.path().join(format!("d{}.wav", &codes[..1]));
        ok(&run(
            &[
                "callerid",
                "gen",
                "--number",
                "5551234",
                "--standard",
                "dtmf",
                "--clip-codes",
                codes,
                "-o",
            ],
            &wav,
        ));
        for listen in ["auto", "dtmf"] {
            let out = run(&["callerid", "decode", "--standard", listen], &wav);
            ok(&out);
            let l = lines(&out);
            assert_eq!(l.len(), 1, "{l:?}");
            assert_eq!(l[0]["standard"], "dtmf");
            assert_eq!(l[0]["clip"], clip);
            assert_eq!(l[0]["number"], "5551234");
            assert!(l[0]["checksum_ok"].is_null());
        }
        let out = run(&["callerid", "decode", "--standard", "bell202"], &wav);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
    }
    let wav = dir.path().join("u.wav");
    ok(&run(
        &[
            "callerid",
            "gen",
            "--withheld",
            "unavailable",
            "--standard",
            "dtmf",
            "-o",
        ],
        &wav,
    ));
    let l = lines(&run(&["callerid", "decode"], &wav));
    assert_eq!(l[0]["clip"], "B00C");
    assert_eq!(l[0]["number_absent"], "unavailable");
}

#[test]
fn a_message_between_rings_in_a_stereo_44k_file() {
    // Generate at 8 kHz, then rebuild as a 44.1 kHz stereo float file with ring bursts
    // around it: decode converts rate and channels.
    let dir = tempfile::tempdir().unwrap();
    let cid = dir.path().join("cid.wav");
    ok(&run(
        &[
            "callerid",
            "gen",
            "--number",
            "4155550123",
            "--name",
            "J SMITH",
            "--date",
            "01020304",
            "-o",
        ],
        &cid,
    ));
    let r = hound::WavReader::open(&cid).unwrap();
    let s8: Vec<f32> = r
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    let wav = dir.path().join("rings.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    let ring = |w: &mut hound::WavWriter<_>| {
        for n in 0..88_200 {
            let t = n as f32 / 44_100.0;
            let v = 0.5 * (std::f32::consts::TAU * 25.0 * t).sin();
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
    };
    ring(&mut w);
    // Linear interpolation up to 44.1 kHz.
    let n44 = s8.len() * 44_100 / 8000;
    for i in 0..n44 {
        let x = i as f32 * 8000.0 / 44_100.0;
        let k = x as usize;
        let f = x - k as f32;
        let a = s8[k.min(s8.len() - 1)];
        let b = s8[(k + 1).min(s8.len() - 1)];
        let v = a + (b - a) * f;
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    ring(&mut w);
    w.finalize().unwrap();
    let out = run(&["callerid", "decode"], &wav);
    ok(&out);
    let l = lines(&out);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0]["number"], "4155550123");
    assert_eq!(l[0]["name"], "J SMITH");
    assert_eq!(l[0]["date_time"]["text"], "01-02 03:04");
    let start = l[0]["start_ms"].as_f64().unwrap();
    assert!(start > 2000.0 + 200.0, "{start}");
}

#[test]
fn nothing_found_bad_files_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    // DTMF dialling without CLIP codes is not caller ID.
    let wav = dir.path().join("digits.wav");
    let out = bin()
        .args(["dtmf", "gen", "5551234", "-o"])
        .arg(&wav)
        .output()
        .unwrap();
    ok(&out);
    let out = run(&["callerid", "decode"], &wav);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no caller ID message found"));

    let bad = dir.path().join("bad.wav");
    std::fs::write(&bad, b"not a wav").unwrap();
    let out = run(&["callerid", "decode"], &bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = run(&["callerid", "decode"], &dir.path().join("missing.wav"));
    assert_eq!(out.status.code(), Some(2));

    let o = dir.path().join("x.wav");
    for (args, needle) in [
        (
            vec![
                "callerid", "gen", "--number", "1", "--date", "99999999", "-o",
            ],
            "MMDDHHMM",
        ),
        (
            vec![
                "callerid", "gen", "--number", "1", "--name", "X", "--format", "sdmf", "-o",
            ],
            "SDMF has no name",
        ),
        (
            vec![
                "callerid",
                "gen",
                "--number",
                "12ab",
                "--standard",
                "dtmf",
                "-o",
            ],
            "DTMF CLIP numbers",
        ),
        (
            vec![
                "callerid",
                "gen",
                "--number",
                "1",
                "--clip-codes",
                "XY",
                "--standard",
                "dtmf",
                "-o",
            ],
            "start code",
        ),
    ] {
        let out = run(&args, &o);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
