//! The configuration forms (`/settings/...`, `POST /api/config/edit` and
//! `/api/config/edit/check`) on a running service (simulated board, the demo
//! configuration): edits by configuration path saved as versions, invalid edits refused
//! with the problem at the field's path and nothing saved; and in a real browser
//! (Debian's chromium through chromedriver): add a user and put them on a schedule, see
//! the timeline and who is on call change; save an invalid change and see the error at
//! the field, with nothing saved.
//!
//! With SWITCHBOARD_SCREENSHOTS=<dir>, screenshots of the forms are written there.

mod web_support;

use serde_json::json;
use web_support::webdriver::Browser;
use web_support::{ADMIN_PASSWORD, Client, Service, browser_tools, screenshot_dir};

fn versions(c: &mut Client) -> usize {
    c.get("/api/config/versions")
        .json()
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn form_edits_are_checked_saved_as_versions_and_refused_at_the_field() {
    let svc = Service::start(&[]);
    let mut admin = svc.admin();
    let cfg = admin.get("/api/config").json();
    let v1 = cfg["version"].as_i64().unwrap();
    let text = cfg["toml"].as_str().unwrap().to_string();
    assert_eq!(versions(&mut admin), 1);

    // the endpoints are in the OpenAPI document (so tests/web_api.rs proves they
    // refuse a request without a session or CSRF token); checked here too
    let doc = admin.get("/api/openapi.json").json();
    for p in ["/api/config/edit", "/api/config/edit/check"] {
        assert!(doc["paths"][p]["post"].is_object(), "{p}");
        assert_eq!(
            svc.client().post_json(p, &json!({ "edits": [] })).status,
            401
        );
        let r = admin.request("POST", p, Some(r#"{"edits":[]}"#), false);
        assert_eq!(r.status, 403, "{p} without the CSRF token");
    }

    let erin = json!([
        { "path": "user[4].id", "value": "erin" },
        { "path": "user[4].name", "value": "Erin Example" },
        { "path": "user[4].phone", "value": ["+491705555555"] },
        { "path": "schedule[0].layer[0].users", "value": ["alice", "bob", "erin"] }
    ]);

    // checked only: valid, nothing saved
    let r = admin.post_json(
        "/api/config/edit/check",
        &json!({ "base_version": v1, "edits": erin }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["ok"], true);
    assert_eq!(versions(&mut admin), 1);

    // an invalid edit: 422, the problem at the field's path, nothing saved
    let bad = json!([
        { "path": "user[4].id", "value": "erin" },
        { "path": "user[4].phone", "value": ["0170 5555555"] }
    ]);
    for endpoint in ["/api/config/edit/check", "/api/config/edit"] {
        let r = admin.post_json(endpoint, &json!({ "base_version": v1, "edits": bad }));
        assert_eq!(r.status, 422, "{endpoint}: {}", r.body);
        let body = r.json();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("nothing was saved"),
            "{body}"
        );
        let p = body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == "user[4].phone[0]")
            .unwrap_or_else(|| panic!("no problem at user[4].phone[0]: {body}"))
            .clone();
        assert!(
            p["message"].as_str().unwrap().contains("E.164"),
            "says how to fix it: {p}"
        );
    }
    assert_eq!(versions(&mut admin), 1, "nothing was saved");
    assert_eq!(
        admin.get("/api/config").json()["toml"].as_str(),
        Some(text.as_str())
    );

    // a reader's problem (a wrong type) and a missing key are led back to the field too
    let r = admin.post_json(
        "/api/config/edit",
        &json!({ "edits": [{ "path": "routing_number[0].menu_tries", "value": "three" }] }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["problems"][0]["key"],
        "routing_number[0].menu_tries"
    );
    let r = admin.post_json(
        "/api/config/edit",
        &json!({ "edits": [{ "path": "schedule[0].layer[2].users", "value": ["dave"] }] }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let key = r.json()["problems"][0]["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("schedule[0].layer[2]"), "{key}");
    // a path that is not one, an entry that is not there, a value that is no value
    for (edits, key) in [
        (
            json!([{ "path": "User[0]..id", "value": "x" }]),
            "User[0]..id",
        ),
        (
            json!([{ "path": "user[9].id", "value": "x" }]),
            "user[9].id",
        ),
        (
            json!([{ "path": "user[0].name", "value": { "a": 1 } }]),
            "user[0].name",
        ),
    ] {
        let r = admin.post_json("/api/config/edit", &json!({ "edits": edits }));
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.json()["problems"][0]["key"], key);
    }
    assert_eq!(versions(&mut admin), 1, "nothing was saved");

    // a valid edit: a new version with only those lines changed, comments kept
    let r = admin.post_json(
        "/api/config/edit",
        &json!({ "base_version": v1, "edits": erin }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v2 = r.json()["version"].as_i64().unwrap();
    assert!(v2 > v1);
    let now = admin.get("/api/config").json();
    assert_eq!(now["version"].as_i64(), Some(v2));
    let new_text = now["toml"].as_str().unwrap();
    assert!(new_text.contains("id = \"erin\""), "{new_text}");
    assert!(new_text.contains("users = [\"alice\", \"bob\", \"erin\"]"));
    assert!(new_text.contains("# A weekly rotation with a nights-and-weekends layer on top."));
    let diff = admin.get(&format!("/api/config/versions/{v2}")).json()["diff"]
        .as_str()
        .unwrap()
        .to_string();
    let changed = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .count();
    assert!(changed <= 7, "only the edited lines: {diff}");
    assert_eq!(
        admin.get("/api/status").json()["config_version"].as_i64(),
        Some(v2)
    );
    let audit = admin.get("/api/audit").json();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "config.apply"
                && a["detail"]
                    .as_str()
                    .unwrap()
                    .contains("form: user[4], schedule[0]")),
        "{audit}"
    );

    // a form filled from an older version is refused (someone saved in between)
    let r = admin.post_json(
        "/api/config/edit",
        &json!({ "base_version": v1, "edits": [{ "path": "site.name", "value": "Late" }] }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("reload the page"), "{}", r.body);

    // removing a user still named by a schedule: refused, the problem where it is named
    let r = admin.post_json(
        "/api/config/edit",
        &json!({ "base_version": v2, "edits": [{ "path": "user[0]", "value": null }] }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.json()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["key"].as_str().unwrap().starts_with("policy[")
                || p["key"].as_str().unwrap().starts_with("schedule[")),
        "{}",
        r.body
    );
    assert_eq!(versions(&mut admin), 2);

    // the pages: every section, small; a viewer sees the values and cannot change them
    for s in [
        "users",
        "schedules",
        "policies",
        "routing-numbers",
        "support-hours",
        "alert-targets",
        "site",
    ] {
        let r = admin.get(&format!("/settings/{s}"));
        assert_eq!(r.status, 200, "{s}");
        assert!(r.body.contains("data-path="), "{s}");
        assert!(r.body.len() < 100_000, "{s}: {} bytes", r.body.len());
        eprintln!("/settings/{s}: {} bytes", r.body.len());
    }
    assert!(
        admin
            .get("/settings/users")
            .body
            .contains(r#"value="erin""#)
    );
    // the first page (the dashboard with its stylesheet and script) stays small
    let first: usize = ["/", "/static/app.css", "/static/app.js"]
        .iter()
        .map(|p| admin.get(p).body.len())
        .sum();
    eprintln!("first page with its assets: {first} bytes");
    assert!(first < 100_000, "{first}");
    let mut viewer = svc.viewer(&mut admin);
    let page = viewer.get("/settings/users");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(" disabled") && !page.body.contains("-save\""));
    for p in ["/api/config/edit", "/api/config/edit/check"] {
        let r = viewer.post_json(
            p,
            &json!({ "edits": [{ "path": "site.name", "value": "x" }] }),
        );
        assert_eq!(r.status, 403, "{p}");
    }
    assert_eq!(versions(&mut admin), 2);
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}

#[test]
fn browser_forms_add_a_user_to_a_schedule_and_show_errors_at_the_field() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let shots = screenshot_dir();
    let shot = |b: &mut Browser, name: &str| {
        if let Some(d) = &shots {
            b.screenshot(&d.join(format!("{name}.png")));
        }
    };
    let svc = Service::start(&[]);
    let mut api = svc.admin();
    let base = svc.base.clone();
    let mut b = Browser::start(&chromium, &driver);
    b.goto(&format!("{base}/login"));
    b.wait_path("/login", 30);
    b.type_into("#name", "admin");
    b.type_into("#password", ADMIN_PASSWORD);
    b.click("#login");
    b.wait_path("/", 30);

    // who is on call before: not erin
    let sched = "netops-rotation";
    b.goto(&format!("{base}/schedules"));
    b.wait(
        &format!("section[data-schedule={sched}] svg g[data-row=on_call]"),
        30,
    );
    assert_ne!(
        b.text(&format!("section[data-schedule={sched}] .now-on-call")),
        "erin"
    );
    assert_eq!(
        b.find_all(&format!("section[data-schedule={sched}] g[data-row=layer]"))
            .len(),
        2
    );

    // add a user with the "new user" form: checked as you type, then saved
    b.goto(&format!("{base}/settings"));
    b.wait_path("/settings/users", 30);
    b.type_into("#f-user-4-id", "erin");
    b.type_into("#f-user-4-name", "Erin Forms");
    b.type_into("#f-user-4-phone", "+491705555555");
    b.wait("#f-user-4 p.state.ok", 30);
    b.click("#f-user-4-save");
    b.wait("#saved", 60);
    let value = b.script(
        "return document.getElementById('f-user-4-id').value",
        json!([]),
    );
    assert_eq!(value.as_str(), Some("erin"), "the new user is an item now");
    assert_eq!(versions(&mut api), 2);

    // put them on the schedule: a layer on top of the others
    b.goto(&format!("{base}/settings/schedules"));
    b.click("#f-schedule-0-layer-2-add");
    b.type_into("#f-schedule-0-layer-2-name", "erin covers");
    b.type_into("#f-schedule-0-layer-2-users", "erin");
    b.type_into("#f-schedule-0-layer-2-shift", "1d");
    b.type_into("#f-schedule-0-layer-2-start", "2026-01-05");
    b.wait("#f-schedule-0 p.state.ok", 30);
    shot(&mut b, "settings-schedules");
    b.click("#f-schedule-0-save");
    b.wait("#saved", 60);
    assert_eq!(versions(&mut api), 3);

    // the timeline has the new layer and erin is on call now
    b.goto(&format!("{base}/schedules"));
    b.wait(
        &format!("section[data-schedule={sched}] g[data-row=on_call] g[data-users=erin]"),
        30,
    );
    assert_eq!(
        b.text(&format!("section[data-schedule={sched}] .now-on-call")),
        "erin"
    );
    assert_eq!(
        b.find_all(&format!("section[data-schedule={sched}] g[data-row=layer]"))
            .len(),
        3
    );
    b.goto(&format!("{base}/"));
    b.wait(&format!("#oncall tr[data-schedule={sched}]"), 30);
    assert!(
        b.text(&format!("#oncall tr[data-schedule={sched}]"))
            .contains("erin")
    );

    // an invalid change: the error next to the field as you type, and again on save;
    // nothing saved
    b.goto(&format!("{base}/settings/users"));
    b.type_into("#f-user-0-phone", "0170 1111111");
    let slot = r#"#f-user-0 .field-error[data-error-for="user[0].phone"]"#;
    b.wait(&format!("{slot}:not(:empty)"), 30);
    assert!(b.text(slot).contains("E.164"), "{}", b.text(slot));
    b.click("#f-user-0-save");
    b.wait("#f-user-0 p.state.error:not(:empty)", 30);
    assert!(b.text("#f-user-0 p.state").contains("nothing was saved"));
    assert!(b.text(slot).contains("is not an E.164 number"));
    let invalid = b.script(
        "return document.getElementById('f-user-0-phone').getAttribute('aria-invalid')",
        json!([]),
    );
    assert_eq!(invalid.as_str(), Some("true"));
    shot(&mut b, "settings-error");
    assert_eq!(versions(&mut api), 3, "nothing was saved");
    b.goto(&format!("{base}/config"));
    assert_eq!(b.find_all("#versions tr").len(), 3, "nothing was saved");
    b.goto(&format!("{base}/settings/users"));
    let phone = b.script(
        "return document.getElementById('f-user-0-phone').value",
        json!([]),
    );
    assert_eq!(phone.as_str(), Some("+491701111111"));

    // support hours with a holiday, on a phone-sized screen
    b.set_size(390, 844);
    b.goto(&format!("{base}/settings/support-hours"));
    b.type_into(
        "#f-routing_number-1-support_hours-time_zone",
        "Europe/Berlin",
    );
    b.click("#f-routing_number-1-support_hours-window-0-add");
    b.type_into("#f-routing_number-1-support_hours-window-0-days", "mon-fri");
    b.type_into("#f-routing_number-1-support_hours-window-0-from", "08:00");
    b.type_into("#f-routing_number-1-support_hours-window-0-to", "17:00");
    b.click("#f-routing_number-1-support_hours-holiday-0-add");
    b.type_into(
        "#f-routing_number-1-support_hours-holiday-0-name",
        "Christmas",
    );
    b.type_into(
        "#f-routing_number-1-support_hours-holiday-0-date",
        "2026-12-25",
    );
    b.wait("#f-routing_number-1 p.state.ok", 30);
    shot(&mut b, "settings-phone");
    b.click("#f-routing_number-1-save");
    b.wait("#saved", 60);
    b.set_size(1280, 900);
    assert_eq!(versions(&mut api), 4);
    let toml = api.get("/api/config").json()["toml"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(toml.contains("date = \"2026-12-25\""), "{toml}");
    b.goto(&format!("{base}/settings/users"));
    shot(&mut b, "settings-users");
    drop(b);
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}
