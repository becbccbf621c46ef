//! `switchboard oncall`: the JSON contract, the hunt plan, the timeline and errors.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = bin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn json_contract_with_policy_plan() {
    // Wednesday 2026-01-07 21:00 Berlin: the nights layer (carol) beats the weekly one
    let v = json(&[
        "oncall",
        "--config",
        "config/demo.toml",
        "--at",
        "2026-01-07T20:00:00Z",
        "--policy",
        "rotation",
        "--seed",
        "7",
        "--json",
    ]);
    assert_eq!(v["at"], "2026-01-07T20:00:00Z");
    assert_eq!(
        v["on_call"]["netops-rotation"],
        serde_json::json!(["carol"])
    );
    assert_eq!(
        v["policies"]["rotation"],
        serde_json::json!([["carol"], ["alice", "bob"]])
    );
    assert_eq!(
        v["policies"]["netops"],
        serde_json::json!([["alice"], ["bob"]])
    );
    let plan = v["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 3);
    assert_eq!(
        plan[0],
        serde_json::json!({"level": 1, "user": "carol", "number": "+491703333333"})
    );
    let mut level2: Vec<_> = plan[1..]
        .iter()
        .map(|a| a["user"].as_str().unwrap())
        .collect();
    level2.sort();
    assert_eq!(level2, vec!["alice", "bob"]);
    assert!(plan[1..].iter().all(|a| a["level"] == 2));
    // the same seed gives the same plan
    let again = json(&[
        "oncall",
        "--config",
        "config/demo.toml",
        "--at",
        "2026-01-07T20:00:00Z",
        "--policy",
        "rotation",
        "--seed",
        "7",
        "--json",
    ]);
    assert_eq!(again["plan"], v["plan"]);
    // without --policy there is no plan
    let v = json(&[
        "oncall",
        "--config",
        "config/demo.toml",
        "--at",
        "2026-01-07T12:00:00Z",
        "--json",
    ]);
    assert!(v.get("plan").is_none());
    assert_eq!(
        v["on_call"]["netops-rotation"],
        serde_json::json!(["alice"])
    );
}

#[test]
fn feed_schedule_and_timeline_across_spring_forward() {
    let v = json(&[
        "oncall",
        "--config",
        "docs/example.toml",
        "--at",
        "2026-01-14T12:00:00Z",
        "--json",
    ]);
    assert_eq!(
        v["on_call"]["facilities-calendar"],
        serde_json::json!(["bob"])
    );
    let v = json(&[
        "oncall",
        "--config",
        "docs/example.toml",
        "--schedule",
        "netops-primary",
        "--from",
        "2026-03-27T00:00:00Z",
        "--to",
        "2026-03-31T00:00:00Z",
        "--json",
    ]);
    let h = v["handoffs"].as_array().unwrap();
    let at: Vec<&str> = h.iter().map(|x| x["at"].as_str().unwrap()).collect();
    // the weekly handoff at 09:00 local on Monday after the change is 07:00Z (CEST)
    assert!(at.contains(&"2026-03-30T07:00:00Z"), "{at:?}");
    assert_eq!(h[0]["at"], "2026-03-27T00:00:00Z");
}

#[test]
fn support_hours_in_json_give_the_text_answer() {
    let args = |at: &'static str| vec!["oncall", "--config", "docs/example.toml", "--at", at];
    let with_json = |at| {
        let mut a = args(at);
        a.push("--json");
        json(&a)
    };
    // Wednesday 2026-01-07 13:00 Berlin: in window 1 (mon-fri 08:00-18:00) until 17:00Z
    let v = with_json("2026-01-07T12:00:00Z");
    let hours = v["support_hours"].as_array().unwrap();
    assert_eq!(
        hours[0],
        serde_json::json!({
            "routing_number": "Emergency Hotline", "port": "fxo1", "in_hours": true,
            "reason": {"kind": "window", "window": 1}, "applies": null,
            "next_change": "2026-01-07T17:00:00Z",
        })
    );
    // a routing number without support hours is always in hours, with no change
    assert_eq!(
        hours[1],
        serde_json::json!({
            "routing_number": "Facilities Line", "port": "fxo2", "in_hours": true,
            "reason": {"kind": "always"}, "applies": null, "next_change": null,
        })
    );
    // Christmas Eve 09:00 Berlin: the yearly holiday until the Stocktaking exception
    // day begins at midnight after the 26th
    let v = with_json("2026-12-24T08:00:00Z");
    let h = &v["support_hours"][0];
    assert_eq!(h["in_hours"], false);
    assert_eq!(
        h["reason"],
        serde_json::json!({"kind": "holiday", "name": "Christmas"})
    );
    assert_eq!(h["applies"], "route");
    assert_eq!(h["next_change"], "2026-12-26T23:00:00Z");
    // the text output gives the same answer
    let out = bin().args(args("2026-12-24T08:00:00Z")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Emergency Hotline:"))
        .unwrap_or_default();
    assert!(
        line.contains("out of hours (holiday `Christmas`)"),
        "{text}"
    );
    assert!(line.contains("until 2026-12-26T23:00:00Z"), "{text}");
}

#[test]
fn errors_name_the_fix() {
    let out = bin()
        .args(["oncall", "--config", "config/demo.toml", "--at", "tomorrow"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an RFC 3339 instant"));
    let out = bin()
        .args(["oncall", "--config", "config/demo.toml", "--policy", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no policy `nope`: use one of"));
    let out = bin()
        .args([
            "oncall",
            "--config",
            "config/demo.toml",
            "--schedule",
            "netops-rotation",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --from and --to"));
}
