//! Schedules on the web: the 14-day timeline (JSON and SVG) and "I take tonight",
//! which saves a new configuration version (audit log, diff) and changes who is on
//! call at once.

mod web_support;

use serde_json::{Value, json};
use web_support::Service;

fn on_call(oncall: &Value, schedule: &str) -> Vec<String> {
    oncall["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[0] == schedule)
        .map(|s| {
            s[1].as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap()
}

#[test]
fn timeline_and_i_take_tonight() {
    let svc = Service::start(&[]);
    let mut admin = svc.admin();
    let id = "netops-rotation";

    let t = admin.get(&format!("/api/schedules/{id}/timeline"));
    assert_eq!(t.status, 200, "{}", t.body);
    let t = t.json();
    let kinds: Vec<&str> = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["layer", "layer", "overrides", "on_call"]);
    assert_eq!(t["time_zone"], "Europe/Berlin");
    assert!(
        t["rows"][2]["segments"].as_array().unwrap().is_empty(),
        "no override yet"
    );
    let from: jiff::Timestamp = t["from"].as_str().unwrap().parse().unwrap();
    let to: jiff::Timestamp = t["to"].as_str().unwrap().parse().unwrap();
    assert_eq!(to.as_second() - from.as_second(), 14 * 24 * 3600, "14 days");
    let svg = admin.get(&format!("/api/schedules/{id}/timeline.svg"));
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.body.starts_with("<svg") && svg.body.contains("data-now"));

    // someone not on call now takes tonight
    let before = on_call(&admin.get("/api/oncall").json(), id);
    let taker = ["alice", "bob", "carol", "dave"]
        .into_iter()
        .find(|u| !before.iter().any(|b| b == u))
        .unwrap();
    let r = admin.post_json(
        &format!("/api/schedules/{id}/overrides"),
        &json!({ "user": taker }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let version = v["version"].as_i64().unwrap();
    assert!(v["to"].as_str().unwrap().ends_with("T08:00"), "{v}");
    assert_eq!(
        on_call(&admin.get("/api/oncall").json(), id),
        vec![taker.to_string()]
    );
    let t = admin.get(&format!("/api/schedules/{id}/timeline")).json();
    let ov = t["rows"][2]["segments"].as_array().unwrap();
    assert_eq!(ov.len(), 1);
    assert_eq!(ov[0]["users"], json!([taker]));
    assert_eq!(t["rows"][3]["segments"][0]["users"], json!([taker]));
    // the same path as any save: a version with its diff, and the audit log
    let d = admin.get(&format!("/api/config/versions/{version}")).json();
    assert!(
        d["diff"]
            .as_str()
            .unwrap()
            .contains("+[[schedule.override]]"),
        "{d}"
    );
    assert!(
        d["diff"]
            .as_str()
            .unwrap()
            .contains(&format!("+user = \"{taker}\""))
    );
    let audit = admin.get("/api/audit").json().to_string();
    assert!(
        audit.contains(&format!("version {version} (override: {taker} on {id}")),
        "{audit}"
    );

    // mistakes are named, nothing is saved
    let r = admin.post_json(
        &format!("/api/schedules/{id}/overrides"),
        &json!({ "user": "zoe" }),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("user: no user `zoe`")
    );
    let r = admin.post_json("/api/schedules/nope/overrides", &json!({ "user": "alice" }));
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("use one of netops-rotation")
    );
    let r = admin.post_json(
        &format!("/api/schedules/{id}/overrides"),
        &json!({ "user": "alice", "from": "2026-12-24T09:00", "to": "tomorrow" }),
    );
    assert_eq!(r.status, 422);
    let p = &r.json()["problems"][0];
    assert!(p["key"].as_str().unwrap().ends_with(".to"), "{p}");
    assert_eq!(
        admin
            .get("/api/config/versions")
            .json()
            .as_array()
            .unwrap()
            .len() as i64,
        version,
        "nothing saved"
    );
    let r = admin.get(&format!("/api/schedules/{id}/timeline?days=400"));
    assert_eq!(r.status, 400);

    let page = admin.get("/schedules");
    assert!(page.body.contains(&format!("id=\"take-{id}\"")) && page.body.contains("<svg"));
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}
