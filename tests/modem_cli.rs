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
