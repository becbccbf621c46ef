//! `switchboard voicemail …` and `switchboard cdr …` on a data directory written by the
//! store: list, export as WAV (decoded from the stored Ogg Opus), delete, CSV export.

use std::process::Command;

use switchboard::call::{Cdr, EndReason};
use switchboard::dsp::tone::ToneGen;
use switchboard::exchange::VoicemailOut;
use switchboard::media::recorder::{RecordEnd, Recording};
use switchboard::store::Store;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn cdr(call_id: u64, at: &str, voicemail_id: Option<i64>) -> Cdr {
    let t: jiff::Timestamp = at.parse().unwrap();
    Cdr {
        call_id,
        started_at: t,
        ended_at: t,
        routing_number: "Emergency Hotline".into(),
        routing_id: "emergency-hotline".into(),
        port: "fxo1".into(),
        caller_id: Some("+15550001111".into()),
        option_key: Some(1),
        option_label: Some("Ops, \"night\"".into()),
        policy: Some("netops".into()),
        digits: "1#".into(),
        attempts: vec![],
        accepted_by: None,
        bridge_started_at: None,
        bridge_seconds: None,
        duration_seconds: 42.0,
        end_reason: EndReason::Voicemail,
        queue_seconds: None,
        overflow: None,
        pin: None,
        voicemail: Some("nobody_accepted".into()),
        voicemail_id,
        alert_id: None,
        path: vec!["menu".into(), "option-1".into(), "voicemail".into()],
    }
}

#[test]
fn voicemail_list_export_delete_and_cdr_csv() {
    let data = tempfile::tempdir().unwrap();
    let vm_dir = data.path().join("voicemail");
    let vm_id = {
        let mut store = Store::open(&data.path().join("switchboard.db")).unwrap();
        let mut samples = vec![0i16; 8000 * 2];
        ToneGen::single(2000.0, -20.0).fill(&mut samples);
        let row = store
            .insert_voicemail(
                &vm_dir,
                &VoicemailOut {
                    call: 1,
                    routing_id: "emergency-hotline".into(),
                    routing_number: "Emergency Hotline".into(),
                    caller_id: Some("+15550001111".into()),
                    started_at: "2026-03-02T09:00:30Z".parse().unwrap(),
                    recording: Recording {
                        samples,
                        speech: true,
                        ended: RecordEnd::Key,
                    },
                },
            )
            .unwrap();
        store
            .insert_cdr(&cdr(1, "2026-03-02T09:00:00Z", Some(row.id)))
            .unwrap();
        store
            .insert_cdr(&cdr(2, "2026-03-03T09:00:00Z", None))
            .unwrap();
        row.id
    };
    let d = data.path().to_str().unwrap();

    let out = bin()
        .args(["voicemail", "--data", d, "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["id"], vm_id);
    assert_eq!(line["seconds"], 2.0);
    assert_eq!(line["cdr_id"], 1);

    let wav = data.path().join("out.wav");
    let out = bin()
        .args(["voicemail", "--data", d, "export", &vm_id.to_string(), "-o"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = hound::WavReader::open(&wav).unwrap();
    assert_eq!(r.spec().sample_rate, 8000);
    assert_eq!(r.len(), 16000);

    // CSV: header, both calls; --from keeps only the second
    let out = bin()
        .args(["cdr", "--data", d, "export", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,call_id,started_at"));
    assert!(lines[1].contains("\"Ops, \"\"night\"\"\""), "{}", lines[1]);
    assert!(lines[1].contains(&format!(",nobody_accepted,{vm_id},")));
    let out = bin()
        .args([
            "cdr",
            "--data",
            d,
            "export",
            "--from",
            "2026-03-03T00:00:00Z",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    // the call-flow path of each record, as stored
    let out = bin().args(["cdr", "--data", d, "list"]).output().unwrap();
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(list.contains("path menu > option-1 > voicemail"), "{list}");

    let out = bin()
        .args(["voicemail", "--data", d, "delete", &vm_id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = bin()
        .args([
            "voicemail",
            "--data",
            d,
            "export",
            &vm_id.to_string(),
            "-o",
            "/dev/null",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no voicemail"));
}
