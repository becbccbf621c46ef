//! Alert delivery against a real local HTTP receiver (`switchboard::alerts::test_receiver`)
//! playing PagerDuty, ilert and a webhook: 2xx, 4xx, 5xx, slow answers, connection
//! resets and refused connections each end in the right outbox state; back-off is
//! driven with explicit times (no waiting); a restart continues where it stopped; and
//! the sender survives SIGKILL at random points during delivery, 50 times in a row.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::alerts::test_receiver::{Reply, TestReceiver, refused_url};
use switchboard::alerts::{Sender, payload};
use switchboard::config::{BoardProfile, Config};
use switchboard::store::Store;
use switchboard::store::alerts::{EventKind, NewAlert, NewEvent};

fn config(targets: &[(&str, &str, String, &str)]) -> Arc<Config> {
    let mut src = String::new();
    for (name, kind, url, extra) in targets {
        src.push_str(&format!(
            "[[alert_target]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\n{extra}\n"
        ));
    }
    Arc::new(Config::parse("t.toml", &src, &BoardProfile::sim()).unwrap())
}

const HOOK: &str = "secret = \"test-secret-0123456789\"";
const PD: &str = "routing_key = \"R0123456789ABCDEF0123456789ABCDE\"";
const IL: &str = "integration_key = \"il1api0123456789\"";

fn t(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn queue(store: &mut Store, targets: &[&str], at: jiff::Timestamp, kinds: &[EventKind]) -> i64 {
    let ev = |k: EventKind| NewEvent {
        kind: k,
        at: at.to_string(),
        details: serde_json::json!({}),
        voicemail_id: None,
    };
    let id = store
        .insert_alert(
            &NewAlert {
                cdr_id: None,
                routing_id: "hotline".into(),
                summary: "Call from +15550001111 on Hotline".into(),
                caller_id: Some("+15550001111".into()),
                targets: targets.iter().map(|s| s.to_string()).collect(),
            },
            &ev(kinds[0]),
            at.as_millisecond(),
        )
        .unwrap();
    for k in &kinds[1..] {
        store
            .insert_event(id, &ev(*k), at.as_millisecond())
            .unwrap();
    }
    id
}

fn state(store: &Store, alert: i64, target: &str) -> Vec<(String, String, u32)> {
    let a = store
        .alerts(1000)
        .unwrap()
        .into_iter()
        .find(|a| a.id == alert)
        .unwrap();
    a.deliveries
        .into_iter()
        .filter(|d| d.0 == target)
        .map(|d| (d.1, d.2, d.3))
        .collect()
}

#[test]
fn every_answer_ends_in_the_right_state() {
    let rx = TestReceiver::start().unwrap();
    rx.script("/pd", vec![Reply::Status(202)]);
    rx.script("/ilert-bad-key", vec![Reply::Status(400)]);
    rx.script(
        "/flaky",
        vec![Reply::Status(503), Reply::Status(500), Reply::Status(200)],
    );
    rx.script("/slow", vec![Reply::Slow(Duration::from_secs(20))]);
    rx.script("/reset", vec![Reply::Reset, Reply::Status(204)]);
    rx.script("/limited", vec![Reply::Status(429), Reply::Status(202)]);
    let cfg = config(&[
        ("pd", "pagerduty", rx.url("/pd"), PD),
        ("ilert", "ilert", rx.url("/ilert-bad-key"), IL),
        ("flaky", "webhook", rx.url("/flaky"), HOOK),
        (
            "slow",
            "webhook",
            rx.url("/slow"),
            "secret = \"test-secret-0123456789\"\ntimeout = \"300ms\"",
        ),
        ("reset", "webhook", rx.url("/reset"), HOOK),
        ("limited", "webhook", rx.url("/limited"), HOOK),
        (
            "down",
            "webhook",
            refused_url(),
            "secret = \"test-secret-0123456789\"\ngive_up_after = \"1h\"",
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("switchboard.db")).unwrap();
    let t0 = t("2026-03-02T09:00:00Z");
    let all = ["pd", "ilert", "flaky", "slow", "reset", "limited", "down"];
    let a = queue(
        &mut store,
        &all,
        t0,
        &[EventKind::Trigger, EventKind::Accept],
    );
    let mut sender = Sender::new(cfg, dir.path().join("voicemail"), 7);

    sender.deliver_due(&mut store, t0).unwrap();
    let kinds = |v: Vec<(String, String, u32)>| {
        v.into_iter()
            .map(|x| format!("{}:{}:{}", x.0, x.1, x.2))
            .collect::<Vec<_>>()
    };
    // 2xx: both events, in order
    assert_eq!(
        kinds(state(&store, a, "pd")),
        ["trigger:delivered:1", "accept:delivered:1"]
    );
    // 4xx: refused for good; the next event is not held back by it
    assert_eq!(
        kinds(state(&store, a, "ilert")),
        ["trigger:given_up:1", "accept:given_up:1"]
    );
    // 5xx, timeouts, resets, 429, refused connections: retried; the second event waits
    for tgt in ["flaky", "slow", "reset", "limited", "down"] {
        assert_eq!(
            kinds(state(&store, a, tgt)),
            ["trigger:failing:1", "accept:pending:0"],
            "{tgt}"
        );
    }
    // nothing is due again before the back-off (at least 2.5 s)
    let p = sender
        .deliver_due(&mut store, t("2026-03-02T09:00:02Z"))
        .unwrap();
    assert_eq!(p.delivered + p.retrying + p.given_up, 0);
    // retries, one back-off step at a time
    let mut now = t0;
    for _ in 0..4 {
        now = now
            .checked_add(jiff::SignedDuration::from_mins(20))
            .unwrap();
        sender.deliver_due(&mut store, now).unwrap();
    }
    assert_eq!(
        kinds(state(&store, a, "flaky")),
        ["trigger:delivered:3", "accept:delivered:1"]
    );
    assert_eq!(
        kinds(state(&store, a, "reset")),
        ["trigger:delivered:2", "accept:delivered:1"]
    );
    assert_eq!(
        kinds(state(&store, a, "limited")),
        ["trigger:delivered:2", "accept:delivered:1"]
    );
    assert_eq!(kinds(state(&store, a, "slow"))[1], "accept:pending:0");
    // a target down for longer than give_up_after (1 h) is given up, with its error
    // (both its events were queued more than an hour ago)
    let down: Vec<_> = state(&store, a, "down").into_iter().map(|x| x.1).collect();
    assert_eq!(down, ["given_up", "given_up"]);
    let counts = store.outbox_counts().unwrap();
    // slow: trigger failing, accept waiting behind it
    assert_eq!((counts.pending, counts.failing), (1, 1), "{counts:?}");

    // what the receivers got
    let got = rx.received();
    let pd: Vec<_> = got
        .iter()
        .filter(|r| r.path == "/pd")
        .map(|r| r.json().unwrap())
        .collect();
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["routing_key"], "R0123456789ABCDEF0123456789ABCDE");
    assert_eq!(
        pd[0]["payload"]["summary"],
        "Call from +15550001111 on Hotline"
    );
    assert_eq!(pd[1]["event_action"], "acknowledge");
    assert_eq!(pd[0]["dedup_key"], pd[1]["dedup_key"]);
    let il = got
        .iter()
        .find(|r| r.path == "/ilert-bad-key")
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(il["eventType"], "ALERT");
    assert_eq!(il["integrationKey"], "il1api0123456789");
    // webhook: signed, the same event id on every retry
    let hooks: Vec<_> = got.iter().filter(|r| r.path == "/flaky").collect();
    assert_eq!(hooks.len(), 4);
    let ids: Vec<_> = hooks
        .iter()
        .map(|r| r.headers["x-switchboard-event-id"].clone())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[2]);
    assert_ne!(ids[2], ids[3]);
    for r in hooks {
        let sig = &r.headers["x-switchboard-signature"];
        let ts: i64 = sig.split(',').next().unwrap()[2..].parse().unwrap();
        assert!(payload::verify(
            "test-secret-0123456789",
            sig,
            &r.body,
            ts,
            0
        ));
    }
}

#[test]
fn a_restart_continues_where_delivery_stopped() {
    let rx = TestReceiver::start().unwrap();
    rx.script("/hook", vec![Reply::Status(500)]);
    let cfg = config(&[("hook", "webhook", rx.url("/hook"), HOOK)]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchboard.db");
    let t0 = t("2026-03-02T09:00:00Z");
    let a = {
        let mut store = Store::open(&db).unwrap();
        let a = queue(
            &mut store,
            &["hook"],
            t0,
            &[EventKind::Trigger, EventKind::Resolve],
        );
        Sender::new(cfg.clone(), dir.path().into(), 1)
            .deliver_due(&mut store, t0)
            .unwrap();
        a
    };
    // "days without coverage": the receiver comes back; a new process takes over
    rx.script("/hook", vec![Reply::Status(200)]);
    let mut store = Store::open(&db).unwrap();
    let later = t("2026-03-03T09:00:00Z");
    Sender::new(cfg, dir.path().into(), 2)
        .deliver_due(&mut store, later)
        .unwrap();
    let s: Vec<_> = state(&store, a, "hook").into_iter().map(|x| x.1).collect();
    assert_eq!(s, ["delivered", "delivered"]);
    let kinds: Vec<String> = rx
        .received()
        .iter()
        .map(|r| {
            r.json().unwrap()["event"]["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["trigger", "trigger", "resolve"]);
}

/// SIGKILL during delivery, 50 times: every event arrives at least once, events of an
/// alert in order, and nothing acknowledged and committed is sent again (a repeat is
/// only possible for the one event in flight when the process died).
#[test]
fn sigkill_during_delivery_50_times() {
    let rx = TestReceiver::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("alerts.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[[alert_target]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n{HOOK}\n",
            rx.url("/hook")
        ),
    )
    .unwrap();
    let db = dir.path().join("switchboard.db");
    let alerts = 120;
    {
        let mut store = Store::open(&db).unwrap();
        let now = jiff::Timestamp::now();
        for _ in 0..alerts {
            queue(
                &mut store,
                &["hook"],
                now,
                &[EventKind::Trigger, EventKind::Accept, EventKind::Resolve],
            );
        }
    }
    let total = alerts * 3;
    let flush = || {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["alerts", "--data"])
            .arg(dir.path())
            .arg("--config")
            .arg(&cfg_path)
            .arg("flush")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // a seeded sequence of kill points: after 1..=5 more requests have arrived
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut kills = 0;
    for _ in 0..50 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let more = 1 + (seed % 5) as usize;
        let before = rx.received().len();
        let mut child = flush();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if rx.received().len() >= before + more {
                break;
            }
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
    }
    // finally let it finish
    let status = flush().wait().unwrap();
    assert!(status.success());

    let got = rx.received();
    let mut arrivals: HashMap<String, Vec<i64>> = HashMap::new();
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for r in &got {
        let j = r.json().unwrap();
        let key = j["alert"]["key"].as_str().unwrap().to_string();
        arrivals
            .entry(key)
            .or_default()
            .push(j["event"]["seq"].as_i64().unwrap());
        *per_event
            .entry(j["event_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let repeats: usize = per_event.values().map(|n| n - 1).sum();
    println!(
        "kill test: {kills} SIGKILLs, {total} events, {} requests received, {} distinct events, {repeats} repeats",
        got.len(),
        per_event.len()
    );
    assert_eq!(per_event.len(), total, "every event arrived at least once");
    assert!(repeats <= kills, "{repeats} repeats for {kills} kills");
    for (key, seqs) in arrivals {
        let mut dedup = seqs.clone();
        dedup.dedup();
        assert_eq!(dedup, vec![1, 2, 3], "alert {key}: arrivals {seqs:?}");
    }
    let store = Store::open(&db).unwrap();
    let c = store.outbox_counts().unwrap();
    assert_eq!((c.delivered, c.pending, c.failing), (total as i64, 0, 0));
}

/// `switchboard alerts list` shows the SMS cap (what the durable log holds), and
/// check-config refuses a bad SMS target with a message naming the fix.
#[test]
fn alerts_list_shows_the_sms_cap_and_check_config_validates_sms_targets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("c.toml");
    std::fs::write(&cfg_path, "[sms]\ncap = 3\ncap_window = \"6h\"\n").unwrap();
    {
        let mut store = Store::open(&dir.path().join("switchboard.db")).unwrap();
        let now = jiff::Timestamp::now().as_millisecond();
        for _ in 0..4 {
            store
                .take_sms_slot(now, 6 * 3_600_000, 3, "+491701111111", "alert")
                .unwrap();
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["alerts", "--data"])
        .arg(dir.path())
        .arg("--config")
        .arg(&cfg_path)
        .arg("list")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "SMS cap: 3 of 3 sent within 6h; refused by the cap: 1 in the window, 1 in all"
        ),
        "{err}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[sms]\ncap = 0\n[[alert_target]]\nname = \"s\"\nkind = \"sms\"\nnumbers = [\"0170 123\"]\nfallback_after = \"0s\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    for want in [
        "sms.cap: 0: use 1 to 10000",
        "alert_target[0].numbers[0]: `0170 123` is not an E.164 number",
        "alert_target[0].fallback_after: use 1s to 24h",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

/// A reload reaches the running sender thread: an event queued for a target whose
/// endpoint is down goes to the endpoint of the new configuration once it is in force.
#[test]
fn the_sender_thread_takes_new_alert_settings_without_a_restart() {
    let rx = TestReceiver::start().unwrap();
    let old = config(&[("hook", "webhook", refused_url(), HOOK)]);
    let new = config(&[("hook", "webhook", rx.url("/hook"), HOOK)]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchboard.db");
    let mut store = Store::open(&db).unwrap();
    let a = queue(
        &mut store,
        &["hook"],
        jiff::Timestamp::now(),
        &[EventKind::Trigger],
    );
    let (cfg_tx, cfg_rx) = crossbeam_channel::bounded(4);
    let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = Sender::new(old, dir.path().join("voicemail"), 1).with_config_updates(cfg_rx);
    let thread = {
        let stop = stop.clone();
        let store = Store::open(&db).unwrap();
        std::thread::spawn(move || sender.run(store, stop, wake_rx, Duration::from_millis(50)))
    };
    // the first attempt fails (refused connection): it waits for its back-off
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.outbox_counts().unwrap().failing == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(store.outbox_counts().unwrap().failing, 1);
    cfg_tx.send(new).unwrap();
    store.retry_alert(a, 0).unwrap();
    let _ = wake_tx.try_send(());
    while rx.received().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(wake_tx);
    thread.join().unwrap();
    assert_eq!(rx.received().len(), 1, "delivered to the new endpoint");
    assert_eq!(store.outbox_counts().unwrap().delivered, 1);
}
