//! The System page's API: the log tail, a backup of the data directory, restore with
//! validation (staged, swapped in at the next start) and restart from the page.

mod web_support;

use std::io::Read;

use serde_json::json;
use web_support::{Service, insert_voicemail};

fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o600);
    // the name written as is (the tar crate refuses to write `..`, an attacker's tool
    // would not)
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
    b.append(&h, content).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn logs_backup_restore_and_restart() {
    let svc = Service::start(&[]);
    let mut admin = svc.admin();

    // the log tail: the service's own lines
    let logs = admin.get("/api/system/logs?lines=50").json();
    let logs: Vec<String> = serde_json::from_value(logs).unwrap();
    assert!(!logs.is_empty() && logs.len() <= 50);
    assert!(
        logs.iter().all(|l| !l.contains('\u{1b}')),
        "no colour codes"
    );

    // the signal history (a sample a minute; the first at start)
    let r = admin.get("/api/system/signal");
    assert_eq!(r.status, 200);
    assert!(r.json().as_array().unwrap().len() <= 1);
    assert!(admin.get("/system").body.contains("signal"));

    // a backup holds the database, the configuration, voicemail and the certificate
    insert_voicemail(svc.data_path());
    let r = admin.get("/api/system/backup");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    let backup = r.bytes.clone();
    let names = tar_names(&backup);
    for want in [
        "switchboard.db",
        "config.toml",
        "tls/cert.pem",
        "tls/key.pem",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(
        names.iter().any(|n| n.starts_with("voicemail/")),
        "{names:?}"
    );
    let mut ar = tar::Archive::new(&backup[..]);
    let mut text = String::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("config.toml") {
            e.read_to_string(&mut text).unwrap();
        }
    }
    assert!(text.contains("[site]"));

    // a change after the backup
    let cfg = admin.get("/api/config").json()["toml"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin.post_json(
        "/api/config",
        &json!({ "toml": cfg.replacen("Acme Demo", "Acme After Backup", 1) }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        admin
            .get("/api/config/versions")
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // restore refuses what is not a backup, naming why
    for (bytes, why) in [
        (b"not a tar file at all".to_vec(), "file: "),
        (tar_with("../evil.sh", b"x"), "does not belong in a backup"),
        (
            tar_with("config.toml", b"[site]\n"),
            "holds no switchboard.db",
        ),
        (tar_with("switchboard.db", b"SQLite? no"), "switchboard.db"),
    ] {
        let r = admin.post_bytes("/api/system/restore", &bytes);
        assert_eq!(r.status, 422, "{why}: {}", r.body);
        let e = r.json()["error"].as_str().unwrap().to_string();
        assert!(e.contains(why), "{why}: {e}");
    }
    assert!(
        !svc.data_path().join("restore-pending").exists(),
        "nothing staged"
    );
    let r = admin.post_bytes("/api/system/restore", &backup);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["restart_needed"], true);
    assert!(
        r.json()["staged"]
            .as_str()
            .unwrap()
            .contains("1 configuration versions")
    );
    assert!(admin.get("/system").body.contains("restore-pending"));

    // restart from the page: the service stops with a failure code (systemd restarts
    // it); the next start swaps the backup in
    assert_eq!(admin.post("/api/system/restart").status, 202);
    let (data, status, log) = svc.wait_exit();
    assert!(!status.success(), "a failure exit, for Restart=on-failure");
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
    let again = Service::start_in(data, &[]);
    assert!(
        again
            .banner
            .iter()
            .any(|l| l.contains("restored the data directory")),
        "{:?}",
        again.banner
    );
    let mut c = again.client();
    let r = c.post_json(
        "/api/login",
        &json!({ "name": "admin", "password": web_support::ADMIN_PASSWORD }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let versions = c.get("/api/config/versions").json();
    assert_eq!(
        versions.as_array().unwrap().len(),
        1,
        "the version saved after the backup is gone"
    );
    assert!(
        !c.get("/api/config").json()["toml"]
            .as_str()
            .unwrap()
            .contains("After Backup")
    );
    assert!(std::fs::read_dir(again.data_path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("before-restore-")
    }));
    let log = again.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}
