//! Voicemail, alerts and the CDR export through the web API of a running service: the
//! same data and the same bytes as the CLI (`switchboard voicemail|cdr|alerts`).

mod web_support;

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard::alerts::test_receiver::TestReceiver;
use web_support::{Service, config_with_targets, insert_voicemail};

#[test]
fn voicemail_audio_cdr_export_alert_state_retry_and_test_alerts() {
    let rx = TestReceiver::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with_targets(dir.path(), &rx.url("/hook"));
    let svc = Service::start(&["--config", cfg.to_str().unwrap()]);
    let mut admin = svc.admin();

    // voicemail: listed, and its audio is the stored Ogg Opus file
    let vm = insert_voicemail(svc.data_path());
    let list = admin.get("/api/voicemails");
    assert_eq!(list.status, 200);
    let row = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == vm)
        .cloned()
        .expect("the voicemail is listed");
    let r = admin.get(&format!("/api/voicemails/{vm}/audio"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("audio/ogg"));
    let file = std::fs::read(
        svc.data_path()
            .join("voicemail")
            .join(row["file"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(r.bytes, file, "the whole file");
    assert!(r.bytes.starts_with(b"OggS"));
    let r = admin.get("/api/voicemails/999999/audio");
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("no voicemail 999999")
    );

    // a simulated call makes a CDR; the export is byte for byte `switchboard cdr export`
    let r = admin.post_json(
        "/api/sim/call",
        &json!({ "port": "fxo1", "caller_id": "+15551234567", "keys": "", "hangup_after_seconds": 2 }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let t0 = Instant::now();
    while admin.get("/api/cdrs").json().as_array().unwrap().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(90), "no CDR");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (from, to) = ("2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z");
    for format in ["csv", "json"] {
        let r = admin.get(&format!(
            "/api/cdrs/export?format={format}&from={from}&to={to}"
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.header("content-disposition")
                .unwrap()
                .starts_with("attachment")
        );
        let want = svc.cli(&[
            "cdr", "export", "--format", format, "--from", from, "--to", to,
        ]);
        assert_eq!(r.body, want, "{format}: the same as the CLI");
        assert!(r.body.lines().count() >= if format == "csv" { 2 } else { 1 });
    }
    // the Calls page links the same export with its filters: one CSV, one set of
    // columns; its filters narrow the rows
    let calls = admin.get("/calls?caller=5551234&routing_number=").body;
    assert!(
        calls.contains(r#"href="/api/cdrs/export?format=csv&amp;caller=5551234""#),
        "{calls}"
    );
    let all = admin.get("/api/cdrs/export?format=csv").body;
    let r = admin.get("/api/cdrs/export?format=csv&caller=5551234&routing_number=");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body.lines().next(),
        all.lines().next(),
        "the same columns"
    );
    assert!(r.body.lines().count() >= 2, "{}", r.body);
    assert!(r.body.lines().skip(1).all(|l| l.contains("+15551234567")));
    let r = admin.get("/api/cdrs/export?format=csv&caller=%2B19999");
    assert_eq!(r.body.lines().count(), 1, "only the header: {}", r.body);
    let rn = r.body.lines().next().unwrap().to_string();
    let r = admin.get("/api/cdrs/export?format=csv&routing_number=no-such-number");
    assert_eq!(r.body.lines().collect::<Vec<_>>(), vec![rn.as_str()]);
    // the old page-only CSV is gone
    assert_eq!(admin.get("/api/cdrs.csv").status, 404);
    // a window with no call: the CSV header alone
    let r = admin.get("/api/cdrs/export?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z");
    assert_eq!(r.body.lines().count(), 1);
    let r = admin.get("/api/cdrs/export?format=xml");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().starts_with("format: "));
    let r = admin.get("/api/cdrs/export?from=yesterday");
    assert_eq!(r.status, 400);

    // the targets, and a test alert to each
    let targets = admin.get("/api/alerts/targets").json();
    assert_eq!(
        targets,
        json!([{ "name": "hook", "kind": "webhook" }, { "name": "dead", "kind": "webhook" }])
    );
    let r = admin.post_json("/api/alerts/test", &json!({ "target": "hook" }));
    assert_eq!(r.status, 200, "{}", r.body);
    let hook_alert = r.json()["alert"].as_i64().unwrap();
    assert_eq!(r.json()["delivered"], true);
    assert!(
        rx.received().iter().any(|m| m
            .json()
            .is_some_and(|j| j.to_string().contains("test alert"))),
        "the receiver got it"
    );
    let r = admin.post_json("/api/alerts/test", &json!({ "target": "dead" }));
    assert_eq!(r.status, 502, "{}", r.body);
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        e.contains("target `dead` did not take the test alert"),
        "{e}"
    );
    let r = admin.post_json("/api/alerts/test", &json!({ "target": "nope" }));
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("use one of hook, dead")
    );

    // the alert list shows each delivery's state; the dead one is given up
    let alerts = admin.get("/api/alerts").json();
    let state = |id: i64| {
        alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()["deliveries"][0]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state(hook_alert), "delivered");
    let dead_alert = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["deliveries"][0]["target"] == "dead")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(state(dead_alert), "given_up");
    // retry makes it due again (the CLI's list agrees on the state before)
    let listed = svc.cli(&["alerts", "--config", cfg.to_str().unwrap(), "list"]);
    assert!(listed.contains("given_up"), "{listed}");
    let r = admin.post(&format!("/api/alerts/{dead_alert}/retry"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({ "alert": dead_alert, "due_again": 1 }));
    assert_eq!(admin.post("/api/alerts/999999/retry").status, 404);
    let audit = admin.get("/api/audit").json().to_string();
    for action in ["alert.test", "alert.retry"] {
        assert!(audit.contains(action), "{action} in the audit log");
    }

    // the pages
    let p = admin.get("/voicemail");
    assert!(p.body.contains(&format!("/api/voicemails/{vm}/audio")));
    let p = admin.get("/alerts");
    assert!(
        p.body.contains("send a test alert")
            && p.body.contains(&format!("data-alert=\"{dead_alert}\""))
    );
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}
