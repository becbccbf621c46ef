//! Call flows on the command line: `check-config` points at the step of every problem
//! (file:line:col, its path in the file), `flow show` prints the compiled tree.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

const BAD_FLOW: &str = r#"[[user]]
id = "alice"
phone = ["+491701111111"]

[[routing_number]]
id = "support"
name = "Support"
port = "fxo1"
  [[routing_number.step]]
  name = "main"
  type = "menu"
  say = "For support, press 1. For the loop, press 2."
  keys = { "1" = "suport", "2" = "ping" }

  [[routing_number.step]]
  name = "ping"
  type = "message"
  say = "Ping."
  next = "pong"

  [[routing_number.step]]
  name = "pong"
  type = "message"
  say = "Pong."
  next = "ping"

  [[routing_number.step]]
  name = "orphan"
  type = "hangup"

  [[routing_number.step]]
  name = "mute"
  type = "message"
  next = "main"

  [[routing_number.step]]
  name = "call"
  type = "route"
  targets = ["user:alice", "team:ops"]
  order = "sideways"
"#;

#[test]
fn an_invalid_flow_is_rejected_with_the_step_and_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad-flow.toml");
    std::fs::write(&f, BAD_FLOW).unwrap();
    let out = bin().arg("check-config").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = f.display().to_string();
    for want in [
        // an unknown step name, at the key's value
        format!(
            "{file}:13:18: routing_number[0].step[0] (step `main`).keys.\"1\": no step named `suport`"
        ),
        // a loop without a caller action, at the step that closes it
        format!(
            "{file}:22:10: routing_number[0].step[2] (step `pong`).next: loop without a caller action: ping → pong → ping"
        ),
        // unreachable steps
        format!(
            "{file}:28:10: routing_number[0].step[3] (step `orphan`): step `orphan` is unreachable"
        ),
        // a silent message
        format!(
            "{file}:32:10: routing_number[0].step[4] (step `mute`).say: a message step without `say` is silent"
        ),
        // a bad target and a bad order
        format!(
            "{file}:39:28: routing_number[0].step[5] (step `call`).targets[1]: `team:ops` is not a target"
        ),
        format!(
            "{file}:40:11: routing_number[0].step[5] (step `call`).order: `sideways` is not an order"
        ),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
}

#[test]
fn flow_show_prints_the_compiled_tree() {
    let out = bin()
        .args([
            "flow",
            "show",
            "support",
            "--config",
            "hil-tests/configs/flows.toml",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Acme Support (support) on fxo1 — [[routing_number.step]]",
        "screen [block] +1900*",
        "  next: hours [hours]",
        "        key 3: tech [menu]",
        "          key 1: servers [route] user:bob, schedule:late-shift order=levels answer_timeout=15s rounds=2 pause=60s",
        "  then: blocked [hangup]",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // the classic shorthand compiles into a flow too
    let out = bin().args(["flow", "show", "fxo2"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("compiled from greeting, options and settings"),
        "{text}"
    );
    assert!(text.contains("key 1: option-1 [route] policy:"), "{text}");
    // an unknown number says which exist
    let out = bin().args(["flow", "show", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no routing number `nope`"));
}

const GOTO_LOOP: &str = r#"[[user]]
id = "alice"
phone = ["+491701111111"]

[[routing_number]]
id = "a"
name = "A"
port = "fxo1"
  [[routing_number.step]]
  name = "hello"
  type = "message"
  say = "A."
  next = "to-b"
  [[routing_number.step]]
  name = "to-b"
  type = "goto"
  routing_number = "b"

[[routing_number]]
id = "b"
name = "B"
port = "fxo2"
  [[routing_number.step]]
  name = "to-a"
  type = "goto"
  routing_number = "a"
"#;

#[test]
fn gotos_that_go_round_without_a_caller_action_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("goto-loop.toml");
    std::fs::write(&f, GOTO_LOOP).unwrap();
    let out = bin().arg("check-config").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "{}:15:10: routing_number[0].step[1] (step `to-b`).routing_number: goto loop without a caller action: a → b → a",
        f.display()
    );
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
}
