//! Every HIL scenario in `hil-tests/scenarios/` passes on the simulated board in
//! virtual time, through the real serial driver on a pseudo-terminal.

use std::path::{Path, PathBuf};

fn tts_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("tts-cache")
}

#[test]
fn every_scenario_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("hil-tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "the scenarios are missing from {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for f in &files {
        let (sc, out) = switchboard::hw::sim::scenario::run_file(f, Some(tts_cache())).unwrap();
        assert!(out.cdr.is_some(), "{}: no CDR", sc.name);
        if !out.passed() {
            failures.push(format!(
                "{}:\n  {}\n{}",
                f.display(),
                out.failures.join("\n  "),
                out.transcript.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_wrong_expectation_fails() {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("hil-tests/scenarios/02-first-declines-second-accepts.toml"),
    )
    .unwrap()
    .replace("accepted_by = \"bob\"", "accepted_by = \"alice\"");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("neg.toml");
    std::fs::write(&f, src).unwrap();
    let (_, out) = switchboard::hw::sim::scenario::run_file(&f, Some(tts_cache())).unwrap();
    assert_eq!(
        out.failures,
        vec!["accepted_by: expected \"alice\", got \"bob\"".to_string()]
    );
}

#[test]
fn a_call_runs_much_faster_than_real_time() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hil-tests/scenarios/01-accepted-by-first-responder.toml");
    // warm the prompt cache first so only the call itself is measured
    switchboard::hw::sim::scenario::run_file(&f, Some(tts_cache())).unwrap();
    let (_, out) = switchboard::hw::sim::scenario::run_file(&f, Some(tts_cache())).unwrap();
    assert!(
        out.virtual_time.as_secs() >= 40,
        "the call lasted {:?}",
        out.virtual_time
    );
    // Not a timing assertion on the machine's speed: a real-time loop would need the
    // full 40 s; anything virtual is orders of magnitude below that.
    assert!(
        out.real_time < out.virtual_time / 4,
        "took {:?}",
        out.real_time
    );
}
