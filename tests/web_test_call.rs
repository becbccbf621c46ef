//! A test call from the web page: `POST /api/test-call` sends the engine's test call
//! through the simulated modem, `GET /api/test-calls` lists its result (the same table
//! as the periodic self-test's, flagged `manual`), the System page offers it, and a
//! number that cannot be called gets a 422 naming why.

mod web_support;

use std::time::{Duration, Instant};

use serde_json::json;
use web_support::Service;

#[test]
fn a_test_call_to_a_responder_passes_and_is_listed_and_bad_numbers_get_422() {
    // the demo configuration: its users' phones answer on the simulated network
    let svc = Service::start(&[]);
    let mut admin = svc.admin();

    // the System page offers it
    let page = admin.get("/system").body;
    assert!(page.contains(r#"id="test-call-form""#), "{page}");
    assert_eq!(admin.get("/api/test-calls").json(), json!([]));

    // numbers that cannot be called: 422 naming the field and why
    for (number, why) in [
        ("0170 1111111", "is not an E.164 number"),
        ("+0123", "is not an E.164 number"),
        (
            "port:fxs9",
            "is not an FXS port of this board (port:fxs1, port:fxs2)",
        ),
        ("port:fxo1", "is not an FXS port"),
        ("port:fxs1", "test calls go out through the modem only"),
    ] {
        let r = admin.post_json("/api/test-call", &json!({ "number": number }));
        assert_eq!(r.status, 422, "{number}: {}", r.body);
        let e = r.json()["error"].as_str().unwrap().to_string();
        assert!(e.starts_with("number: "), "{number}: {e}");
        assert!(e.contains(why), "{number}: {e}");
    }
    let r = admin.post_json("/api/test-call", &json!({}));
    assert_eq!(r.status, 422, "no number: {}", r.body);

    // a responder (the demo's first user) answers after 2 s; the tone plays 5 s
    let r = admin.post_json("/api/test-call", &json!({ "number": "+491701111111" }));
    assert_eq!(r.status, 202, "{}", r.body);
    let started = r.json();
    assert_eq!(started["number"], "+491701111111");
    let id = started["test_id"].as_u64().expect("a test id");

    // one at a time: a second one while it runs is refused with the reason
    let r = admin.post_json("/api/test-call", &json!({ "number": "+491702222222" }));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("already in progress")
    );

    let t0 = Instant::now();
    let row = loop {
        let list = admin.get("/api/test-calls").json();
        if let Some(row) = list.as_array().unwrap().first() {
            break row.clone();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "no test-call result after 90 s"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(row["test_id"].as_u64(), Some(id), "{row}");
    assert_eq!(row["number"], "+491701111111", "{row}");
    assert_eq!(row["manual"], true, "{row}");
    assert_eq!(row["passed"], true, "{row}");
    let detail = row["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("answered after ") && detail.ends_with("tone 5.0 s"),
        "{detail}"
    );
    // the page lists it
    let page = admin.get("/system").body;
    assert!(page.contains("+491701111111"), "{page}");
    assert!(page.contains("manual"), "{page}");

    // a manual test raises no health alert
    assert_eq!(admin.get("/api/alerts").json(), json!([]));

    // audit-logged
    let audit = admin.get("/api/audit").json();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "test_call"
                && a["detail"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("test call {id} to +491701111111"))),
        "{audit}"
    );
}
