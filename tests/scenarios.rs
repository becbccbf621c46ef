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
        let (sc, out) = switchboard::scenario::run_file(f, Some(tts_cache())).unwrap();
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
    let (_, out) = switchboard::scenario::run_file(&f, Some(tts_cache())).unwrap();
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
    switchboard::scenario::run_file(&f, Some(tts_cache())).unwrap();
    let (_, out) = switchboard::scenario::run_file(&f, Some(tts_cache())).unwrap();
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

/// The SIMCom serial PCM scenario: the audio really went through the PCM port as
/// bytes (both ways: the simulated modem's in-memory PCM line, the box's serial PCM
/// framing, clock and jitter buffer), `AT+CPCMREG` was toggled around the call, and the
/// run is deterministic in virtual time.
#[test]
fn simcom_serial_pcm_scenario_streams_through_the_pcm_port_deterministically() {
    let f =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("hil-tests/scenarios/15-simcom-serial-pcm.toml");
    let (_, a) = switchboard::scenario::run_file(&f, Some(tts_cache())).unwrap();
    assert!(a.passed(), "{:?}\n{}", a.failures, a.transcript.join("\n"));
    let (down, up) = a.pcm_frames.expect("the board has serial PCM");
    // alice talks for ~27 s: well over a thousand 20 ms frames each way
    assert!(down > 1000 && up > 1000, "frames: {down} down, {up} up");
    assert_eq!(
        down, up,
        "the box answers every modem frame with one uplink frame"
    );
    let pos = |c: &str| a.modem_commands.iter().position(|x| x == c);
    let on = pos("AT+CPCMREG=1").expect("AT+CPCMREG=1 sent");
    let off = pos("AT+CPCMREG=0").expect("AT+CPCMREG=0 sent");
    assert!(on < off, "{:?}", a.modem_commands);
    assert!(pos("AT+DDET=1").is_some_and(|d| d < on));
    // the transcript (every timed action, incl. the key alice presses after hearing
    // the announcement through the PCM port) is identical on a second run
    let (_, b) = switchboard::scenario::run_file(&f, Some(tts_cache())).unwrap();
    assert_eq!(a.transcript, b.transcript);
    assert_eq!(a.pcm_frames, b.pcm_frames);
}

#[test]
fn scenario_file_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "name = \"x\"\nstart = \"yesterday\"\n[caller]\nport = \"fxo1\"\n",
            "start:",
        ),
        (
            "name = \"x\"\n[caller]\nport = \"fxo1\"\nstep = [{ after = \"prompt-end\", press = \"x\" }]\n",
            "caller.step[0]: press: `x`",
        ),
        (
            "name = \"x\"\n[caller]\nport = \"fxo1\"\n[expect]\nend_reason = \"finished\"\n",
            "expect.end_reason: `finished`",
        ),
        (
            "name = \"x\"\n[[caller]]\nport = \"fxo1\"\n[[caller]]\nport = \"fxo9\"\n",
            "caller[1].port",
        ),
        (
            "name = \"x\"\n[caller]\nport = \"fxo1\"\n[expect]\ntranscript = [\"modem ready\"]\n",
            "expect.transcript: transcript text is no longer checked",
        ),
        (
            "name = \"x\"\n[caller]\nport = \"fxo1\"\n[[expect.event]]\nkind = \"modem_redy\"\n",
            "expect.event[0].kind: `modem_redy` is not an event kind",
        ),
        (
            "name = \"x\"\n[caller]\nport = \"fxo1\"\n[[expect.event]]\nkind = \"modem_reset\"\n[[expect.event]]\nkind = \"round\"\nrounds = 2\n",
            "expect.event[1]: unknown field `rounds`, expected `round` or `of`",
        ),
    ];
    for (i, (src, want)) in cases.iter().enumerate() {
        let f = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&f, src).unwrap();
        let err = switchboard::scenario::run_file(&f, Some(tts_cache()))
            .err()
            .unwrap_or_else(|| panic!("case {i} was accepted"));
        assert!(format!("{err:#}").contains(want), "case {i}: {err:#}");
    }
}
