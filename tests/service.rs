//! `switchboard run` on the simulated board: HTTP health and status, clean stop.

mod web_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn run_serves_health_and_status_and_stops_cleanly() {
    let svc = web_support::Service::start(&[]);
    let r = svc.client().get("/healthz");
    assert_eq!((r.status, r.body.trim()), (200, "ok"));
    // the status needs a session (it shows the cell id: the box's location)
    assert_eq!(svc.client().get("/api/status").status, 401);
    let mut admin = svc.admin();

    // the modem initialises over the pseudo-terminal; wait for its status to show up
    let t0 = Instant::now();
    let status = loop {
        let r = admin.get("/api/status");
        assert_eq!(r.status, 200);
        let v = r.json();
        if v["modem"]["ready"] == true || t0.elapsed() > Duration::from_secs(20) {
            break v;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["board"], "sim");
    assert_eq!(status["modem"]["registration"], "home");
    assert_eq!(status["modem"]["signal_dbm"], -71);
    assert_eq!(status["modem"]["operator"], "Switchboard Sim");
    assert_eq!(status["modem"]["sim"], "ready");
    assert_eq!(status["modem"]["dialect"], "generic");
    assert_eq!(status["modem"]["cell_id"], "01C3D4E5");
    let ports: Vec<&str> = status["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ports,
        ["fxo1", "fxo2", "fxo3", "fxo4", "fxs1", "fxs2", "modem"]
    );
    assert_eq!(status["ports"][0]["state"], "idle");
    assert!(status["calls"].as_array().unwrap().is_empty());

    let r = admin.get("/api/nope");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("/api/openapi.json"));
    assert!(svc.data.path().join("switchboard.db").exists());
    // a clean stop on SIGTERM (Service::stop checks the exit status)
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}

#[test]
fn systemd_notify_ready_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !(got.iter().any(|m: &String| m.contains("READY=1"))
        && got.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 2)
    {
        let n = sock.recv(&mut buf).expect("the service notifies systemd");
        got.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    loop {
        let n = sock.recv(&mut buf).expect("STOPPING=1 before exit");
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            break;
        }
    }
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_running_service_rereads_its_ical_feed() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("oncall.ics");
    let ics = |summary: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T000000Z\r\nDTEND:20300101T000000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    std::fs::write(&feed, ics("Alice Adams")).unwrap();
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg,
        r#"
[[user]]
id = "alice"
name = "Alice Adams"
phone = ["+491701111111"]
[[user]]
id = "bob"
name = "Bob Brown"
phone = ["+491702222222"]
[[schedule]]
id = "primary"
time_zone = "UTC"
feed = { file = "oncall.ics", match = "name", refresh = "1m" }
[[policy]]
id = "p"
[[policy.level]]
schedules = ["primary"]
[[routing_number]]
name = "Hotline"
port = "fxo1"
greeting = "Hello."
[[routing_number.option]]
key = 1
label = "Ops"
policy = "p"
"#,
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("check-config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data")
        .arg(dir.path().join("data"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let wait_for = |needle: &str, within: Duration| -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < within {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                if l.contains(needle) {
                    return true;
                }
            }
        }
        false
    };
    assert!(
        wait_for("iCal feed loaded", Duration::from_secs(20)),
        "feed read at start"
    );
    // the cached copy exists; now the calendar changes
    std::fs::write(&feed, ics("Bob Brown")).unwrap();
    assert!(
        wait_for(
            "schedules from refreshed feeds apply to new calls",
            Duration::from_secs(90)
        ),
        "the feed is read again within its refresh interval"
    );
    let cached = std::fs::read_to_string(dir.path().join("data/feeds/primary.ics")).unwrap();
    assert!(
        cached.contains("Bob Brown"),
        "the last good copy is the new feed"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_second_run_on_the_same_data_directory_refuses_to_start() {
    let data = tempfile::tempdir().unwrap();
    let mut first = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.trim().starts_with("status:")),
        "the first service starts"
    );
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    let second = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = first.wait();
    let _ = drain.join();
    assert!(!second.status.success());
    assert!(
        err.contains(&format!("another switchboard (pid {})", first.id())),
        "{err}"
    );
}

/// Starts `switchboard run` and waits until it prints its status address.
fn start_service(data: &std::path::Path, config: &std::path::Path) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.trim().starts_with("status:")),
        "the service starts"
    );
    std::thread::spawn(move || lines.map_while(Result::ok).count());
    child
}

#[test]
fn a_restart_after_kill_9_raises_a_health_alert_a_clean_stop_does_not() {
    use switchboard::alerts::test_receiver::TestReceiver;
    let rx = TestReceiver::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("box.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\nname = \"Test Box\"\n[health]\ntargets = [\"hook\"]\n[[alert_target]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"0123456789abcdef0123\"\n",
            rx.url("/hook")
        ),
    )
    .unwrap();
    let sig = |c: &std::process::Child, s| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), s).unwrap()
    };
    let wait_exit = |c: &mut std::process::Child| {
        let t0 = Instant::now();
        while c.try_wait().unwrap().is_none() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "the service did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // first start, then a clean stop: nothing to report
    let mut c = start_service(data.path(), &config);
    sig(&c, nix::sys::signal::Signal::SIGTERM);
    wait_exit(&mut c);
    let mut c = start_service(data.path(), &config);
    // SIGKILL: the next start reports it
    sig(&c, nix::sys::signal::Signal::SIGKILL);
    wait_exit(&mut c);
    let mut c = start_service(data.path(), &config);
    let t0 = Instant::now();
    while rx.received().is_empty() && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    sig(&c, nix::sys::signal::Signal::SIGTERM);
    wait_exit(&mut c);
    let got = rx.received();
    let ids: Vec<String> = got
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.json().unwrap()["event_id"],
                r.json().unwrap()["alert"]["summary"]
            )
        })
        .collect();
    assert_eq!(got.len(), 1, "one health alert, for the kill only: {ids:?}");
    let j = got[0].json().unwrap();
    assert_eq!(j["event"]["kind"], "trigger");
    assert_eq!(j["event"]["details"]["health"], "unclean_restart");
    assert!(
        j["alert"]["summary"]
            .as_str()
            .unwrap()
            .contains("Test Box restarted after an unclean stop")
    );
    assert_eq!(
        std::fs::read_to_string(data.path().join("switchboard.lock")).unwrap(),
        "stopped"
    );
}

/// The alert sender's SMS path in the running service: the unclean-restart health alert
/// goes to an SMS target, through the engine thread to the simulated modem, and is
/// marked delivered once the modem reported the SMS sent; the cap counts it.
#[test]
fn a_health_alert_goes_out_by_sms_through_the_running_engine() {
    use switchboard::store::Store;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("box.toml");
    std::fs::write(
        &config,
        "[site]\nname = \"Test Box\"\n[health]\ntargets = [\"duty\"]\n[[alert_target]]\nname = \"duty\"\nkind = \"sms\"\nnumbers = [\"+491709999999\"]\n",
    )
    .unwrap();
    // the last run did not stop cleanly (its pid is still in the lock file)
    std::fs::write(data.path().join("switchboard.lock"), "999999").unwrap();
    let mut c = start_service(data.path(), &config);
    let db = data.path().join("switchboard.db");
    let t0 = Instant::now();
    let delivered = loop {
        let n = Store::open(&db).unwrap().outbox_counts().unwrap().delivered;
        if n > 0 || t0.elapsed() > Duration::from_secs(90) {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let _ = c.wait();
    assert_eq!(delivered, 1, "the SMS was reported sent by the modem");
    let store = Store::open(&db).unwrap();
    let a = store.alerts(10).unwrap().remove(0);
    assert_eq!(a.routing_id, "health");
    assert_eq!(a.deliveries[0].0, "duty");
    assert_eq!(a.deliveries[0].2, "delivered");
    let now = jiff::Timestamp::now().as_millisecond();
    let cap = store.sms_cap_status(now, 6 * 3_600_000, 100).unwrap();
    assert_eq!((cap.sent_in_window, cap.refused_total), (1, 0));
}
