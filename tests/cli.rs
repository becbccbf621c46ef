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
