//! `switchboard modem …` against `switchboard sim modem` on a pseudo-terminal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Sim {
    child: Child,
    path: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sim(args: &[&str]) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["sim", "modem"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in out.lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let path = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(path.starts_with("/dev/"), "{path}");
    Sim {
        child,
        path,
        lines: rx,
    }
}

fn modem(path: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["modem", "--port", path])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn info_reports_identity_sim_and_network() {
    let s = sim(&[]);
    let (code, out, err) = modem(&s.path, &["info"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["manufacturer"], "Switchboard");
    assert_eq!(v["model"], "SimModem");
    assert_eq!(v["firmware"], "SIM-1.0");
    assert_eq!(v["imei"], "356938035643809");
    assert_eq!(v["sim"], "READY");
    assert_eq!(v["registration"], "home");
    assert_eq!(v["operator"], "Switchboard Sim");
    assert_eq!(v["access_technology"], "E-UTRAN");
    assert_eq!(v["signal_dbm"], -71);
}

#[test]
fn dial_answered_exits_0_and_busy_exits_1() {
    let s = sim(&["--answer-after", "1.5"]);
    let (code, out, err) = modem(&s.path, &["dial", "+491701234567", "--hangup-after", "0.5"]);
    assert_eq!(code, 0, "{out}{err}");
    let ev: Vec<String> = json_lines(&out)
        .iter()
        .map(|v| v["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ev, ["dialing", "alerting", "answered", "ended"], "{out}");

    let s = sim(&["--busy"]);
    let (code, out, _) = modem(&s.path, &["dial", "+491701234567"]);
    assert_eq!(code, 1, "{out}");
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(last["reason"], "busy");
}

#[test]
fn sms_send_reaches_the_sim_decoded() {
    let s = sim(&[]);
    let text = "Alarm: Kühlraum 3 zu warm 🌡️ {bitte prüfen}";
    let (code, out, err) = modem(&s.path, &["sms", "send", "+491701234567", text]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sent"], true);
    let got: serde_json::Value =
        serde_json::from_str(&s.lines.recv_timeout(Duration::from_secs(5)).unwrap()).unwrap();
    assert_eq!(got["sms"]["to"], "+491701234567");
    assert_eq!(got["sms"]["text"], text);
    // a bad number fails cleanly
    let (code, out, _) = modem(&s.path, &["sms", "send", "not-a-number", "x"]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn unreachable_port_is_a_clear_error() {
    let (code, _, err) = modem("/nonexistent/tty", &["info"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot open the modem's AT port"), "{err}");
}

/// The next JSON line from the simulated modem that has `key`.
fn sim_line(s: &Sim, key: &str) -> serde_json::Value {
    loop {
        let l = s.lines.recv_timeout(Duration::from_secs(10)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        if v.get(key).is_some() {
            return v;
        }
    }
}

#[test]
fn info_detects_each_dialect_and_override_wins() {
    for (dialect, manufacturer, model) in [
        ("quectel", "Quectel", "EC25"),
        ("simcom", "SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H"),
        ("generic", "Switchboard", "SimModem"),
    ] {
        let s = sim(&["--dialect", dialect]);
        let (code, out, err) = modem(&s.path, &["info"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["dialect"], dialect, "{out}");
        assert_eq!(v["dialect_setting"], "auto");
        assert_eq!(v["manufacturer"], manufacturer);
        assert_eq!(v["model"], model);
        assert_eq!(v["sim_state"], "ready");
        assert_eq!(v["lac"], "1A2B");
        // LTE RSRP from the vendor's own query (AT+QCSQ / AT+CPSI?)
        let rsrp = if dialect == "generic" {
            serde_json::Value::Null
        } else {
            (-81).into()
        };
        assert_eq!(v["rsrp_dbm"], rsrp, "{out}");
        // VoLTE setting, read with AT+QCFG="ims" on Quectel only
        let ims = if dialect == "quectel" {
            "enabled".into()
        } else {
            serde_json::Value::Null
        };
        assert_eq!(v["ims"], ims, "{out}");
    }
    let s = sim(&["--dialect", "quectel"]);
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["modem", "--port", &s.path, "--dialect", "generic", "info"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dialect"], "generic");
    let (code, _, err) = modem(&s.path, &["--dialect", "huawei", "info"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown dialect"), "{err}");
}

#[test]
fn sim_pin_once_and_clear_faults_for_missing_pin_and_puk() {
    let s = sim(&["--pin", "1357"]);
    // no PIN configured: info still answers, with the fault and exit 1
    let (code, out, _) = modem(&s.path, &["info"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sim_state"], "pin_required");
    assert_eq!(v["sim"], "SIM PIN");
    assert!(v["fault"].as_str().unwrap().contains("--pin"), "{out}");
    // other commands refuse to run
    let (code, _, err) = modem(&s.path, &["sms", "list"]);
    assert_eq!(code, 2);
    assert!(err.contains("SIM asks for its PIN"), "{err}");
    // with the PIN: sent once, then everything works
    let (code, out, err) = modem(&s.path, &["--pin", "1357", "info"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sim_state"], "ready");
    assert_eq!(v["registration"], "home");
    let entered = sim_line(&s, "pin_entries");
    assert_eq!(entered["pin_entries"], 1);
    assert_eq!(entered["sim"], "READY");
    // the SIM is unlocked now: a second run with --pin must not send it again
    let (code, _, _) = modem(&s.path, &["--pin", "1357", "info"]);
    assert_eq!(code, 0);
    let later: Vec<String> =
        std::iter::from_fn(|| s.lines.recv_timeout(Duration::from_millis(300)).ok()).collect();
    assert!(
        !later.iter().any(|l| l.contains("pin_entries")),
        "{later:?}"
    );

    let s = sim(&["--puk"]);
    let (code, out, _) = modem(&s.path, &["--pin", "1357", "info"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sim_state"], "puk_required");
    assert!(v["fault"].as_str().unwrap().contains("PUK"), "{out}");

    let s = sim(&["--no-sim"]);
    let (code, out, _) = modem(&s.path, &["info"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sim_state"], "not_inserted");
    assert!(v["fault"].as_str().unwrap().contains("insert"), "{out}");
}

#[test]
fn wait_call_answers_with_international_caller_id_and_reports_modem_dtmf() {
    let s = sim(&[
        "--dialect",
        "quectel",
        "--incoming-call",
        "+15550001111",
        "--after",
        "0.5",
        "--far-dtmf",
        "42#",
    ]);
    let (code, out, err) = modem(
        &s.path,
        &[
            "wait-call",
            "--answer",
            "--hangup-after",
            "2",
            "--timeout",
            "20",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let ev = json_lines(&out);
    assert_eq!(ev[0]["event"], "incoming");
    assert_eq!(ev[0]["caller_id"], "+15550001111");
    assert_eq!(ev[1]["event"], "answered");
    let digits: String = ev
        .iter()
        .filter(|v| v["event"] == "dtmf")
        .map(|v| v["digit"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(digits, "42#", "{out}");
    assert_eq!(ev.last().unwrap()["event"], "ended");

    // a simple generic modem: +CRING instead of RING, national caller ID
    let s = sim(&[
        "--simple",
        "--incoming-call",
        "05550001111",
        "--after",
        "0.3",
    ]);
    let (code, out, err) = modem(&s.path, &["wait-call", "--answer", "--timeout", "20"]);
    assert_eq!(code, 0, "{out}{err}");
    let ev = json_lines(&out);
    assert_eq!(ev[0]["caller_id"], "05550001111");
    assert_eq!(ev[1]["event"], "answered");

    // nobody calls: exit 1
    let s = sim(&[]);
    let (code, out, _) = modem(&s.path, &["wait-call", "--timeout", "1"]);
    assert_eq!(code, 1);
    assert_eq!(json_lines(&out)[0]["event"], "timeout");
}

#[test]
fn sms_list_shows_a_stored_message() {
    let s = sim(&[
        "--stored-sms-from",
        "+15550001111",
        "--stored-sms-text",
        "Rückruf bitte 📞",
    ]);
    let (code, out, err) = modem(&s.path, &["sms", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1, "{out}");
    assert_eq!(list[0]["from"], "+15550001111");
    assert_eq!(list[0]["text"], "Rückruf bitte 📞");
}

#[test]
fn forward_set_query_clear_round_trip() {
    let s = sim(&["--dialect", "simcom"]);
    let (code, out, _) = modem(&s.path, &["forward", "query"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["active"], false);
    assert_eq!(v["reason"], "unconditional");

    let (code, out, err) = modem(
        &s.path,
        &["forward", "set", "+491709876543", "--reason", "busy"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["forwarded"], true);
    let seen = sim_line(&s, "forwarding");
    assert_eq!(seen["forwarding"]["reason"], 1);
    assert_eq!(seen["forwarding"]["number"], "+491709876543");

    let (code, out, _) = modem(&s.path, &["forward", "query", "--reason", "busy"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["rules"][0]["number"], "+491709876543");
    // unconditional is still off
    let (_, out, _) = modem(&s.path, &["forward", "query"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["active"], false);

    let (code, out, _) = modem(&s.path, &["forward", "clear"]);
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = modem(&s.path, &["forward", "query", "--reason", "busy"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["active"], false);

    let (code, _, err) = modem(&s.path, &["forward", "set", "call-me"]);
    assert_eq!(code, 2);
    assert!(err.contains("E.164"), "{err}");
    let (code, _, err) = modem(&s.path, &["forward", "query", "--reason", "sometimes"]);
    assert_eq!(code, 2);
    assert!(err.contains("no-reply"), "{err}");
}
