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

/// Pseudo-random bytes (incompressible, like recorded audio).
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn temp_leftovers(data: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| {
            n.starts_with("restore-upload-")
                || n.starts_with("restore-staging")
                || n.starts_with("backup-tmp-")
        })
        .collect()
}

/// Backups larger than the old 16 MiB upload limit: streamed out, streamed back in,
/// checked; a cut-off or damaged one changes nothing; the restore's own limit
/// (`--max-restore-size`) refuses a larger upload from its head.
#[test]
fn a_backup_over_16_mib_round_trips_and_a_bad_one_changes_nothing() {
    let svc = Service::start(&["--max-restore-size", "40MiB"]);
    let mut admin = svc.admin();
    let vm = svc.data_path().join("voicemail");
    std::fs::create_dir_all(&vm).unwrap();
    let big = noise(20 * 1024 * 1024);
    std::fs::write(vm.join("big.opus"), &big).unwrap();

    let r = admin.get("/api/system/backup");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"), "streamed");
    let backup = r.bytes.clone();
    assert!(backup.len() > 20 * 1024 * 1024, "{}", backup.len());
    assert!(tar_names(&backup).iter().any(|n| n == "voicemail/big.opus"));
    let audit = admin.get("/api/audit").json().to_string();
    assert!(
        audit.contains(&format!("downloaded a backup ({} bytes)", backup.len())),
        "{audit}"
    );

    // cut off in the big file, or at an entry's end (no end-of-archive marker)
    let vm_end = backup.len() - 1024;
    for cut in [backup.len() / 2, vm_end] {
        let r = admin.post_bytes("/api/system/restore", &backup[..cut]);
        assert_eq!(r.status, 422, "{cut}: {}", r.body);
        assert!(
            r.json()["error"].as_str().unwrap().contains("cut off"),
            "{}",
            r.body
        );
    }
    assert!(
        !svc.data_path().join("restore-pending").exists(),
        "nothing staged"
    );
    assert!(temp_leftovers(svc.data_path()).is_empty());

    // the whole one is staged
    let r = admin.post_bytes("/api/system/restore", &backup);
    assert_eq!(r.status, 200, "{}", r.body);
    let staged = svc.data_path().join("restore-pending/voicemail/big.opus");
    assert!(
        std::fs::read(&staged).unwrap() == big,
        "the staged file is the original"
    );

    // a damaged one (a tar header's checksum) and one over the limit: the staged
    // backup stays as it was
    let mut damaged = backup.clone();
    damaged[100] ^= 0x55;
    let r = admin.post_bytes("/api/system/restore", &damaged);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.json()["error"].as_str().unwrap().contains("damaged"),
        "{}",
        r.body
    );
    let r = admin.post_declared("/api/system/restore", 41 * 1024 * 1024, b"");
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        std::fs::read(&staged).unwrap() == big,
        "the staged backup is intact"
    );
    assert!(temp_leftovers(svc.data_path()).is_empty());

    // the next start swaps it in
    std::fs::remove_file(vm.join("big.opus")).unwrap();
    assert_eq!(admin.post("/api/system/restart").status, 202);
    let (data, _, _) = svc.wait_exit();
    let again = Service::start_in(data, &[]);
    assert!(std::fs::read(again.data_path().join("voicemail/big.opus")).unwrap() == big);
    assert!(!again.data_path().join("restore-pending").exists());
    again.stop();
}

/// The simulated SIM asks for its PIN: the System page shows it and takes the PIN; a
/// wrong one is refused with the attempts left and never sent again, the right one
/// lets the modem register. The PIN is neither logged nor audited.
#[test]
fn sim_pin_entry_on_the_system_page() {
    let dir = tempfile::tempdir().unwrap();
    let board = dir.path().join("locked-sim.toml");
    std::fs::write(
        &board,
        format!(
            "{}\nsimulated_sim_pin = \"2468\"\n",
            switchboard::config::board::SIM_BOARD_TOML
        ),
    )
    .unwrap();
    let svc = Service::start(&["--board", board.to_str().unwrap()]);
    let mut admin = svc.admin();
    let modem = |c: &mut web_support::Client| c.get("/api/status").json()["modem"].clone();
    let t0 = std::time::Instant::now();
    while modem(&mut admin)["sim"] != "pin_required" {
        assert!(t0.elapsed().as_secs() < 30, "{}", modem(&mut admin));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let page = admin.get("/system").body;
    assert!(
        page.contains(r#"data-sim="pin_required">SIM PIN needed"#),
        "{page}"
    );
    assert!(page.contains(r#"id="sim-pin-form""#));

    // not a PIN: refused at the field, nothing sent
    let r = admin.post_json("/api/system/sim-pin", &json!({ "pin": "12ab" }));
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("pin: a SIM PIN is 4 to 8 digits")
    );

    // a wrong PIN: the SIM's verdict with the attempts left
    let r = admin.post_json("/api/system/sim-pin", &json!({ "pin": "1111" }));
    assert_eq!(r.status, 422, "{}", r.body);
    let v = r.json();
    assert_eq!(v["result"], "rejected");
    assert_eq!(v["attempts_left"], 2);
    assert_eq!(v["puk_required"], false);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("pin: SIM PIN rejected: 2 attempts left")
    );
    // the status snapshot follows within its 200 ms
    let t0 = std::time::Instant::now();
    while modem(&mut admin)["sim_pin_attempts"] != 2 {
        assert!(t0.elapsed().as_secs() < 5, "{}", modem(&mut admin));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let m = modem(&mut admin);
    assert_eq!(
        (m["sim"].as_str(), m["ready"].as_bool()),
        (Some("pin_required"), Some(false))
    );
    assert!(admin.get("/system").body.contains("2 PIN attempts left"));

    // the right one: the modem initialises and registers
    let r = admin.post_json("/api/system/sim-pin", &json!({ "pin": "2468" }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"], "accepted");
    let t0 = std::time::Instant::now();
    loop {
        let m = modem(&mut admin);
        if m["ready"] == true && m["registration"] == "home" && m["sim"] == "ready" {
            break;
        }
        assert!(t0.elapsed().as_secs() < 30, "{m}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // a ready SIM takes no PIN (it would count as a wrong one)
    let r = admin.post_json("/api/system/sim-pin", &json!({ "pin": "2468" }));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("does not ask for a PIN")
    );

    let audit = admin.get("/api/audit").json().to_string();
    assert!(audit.contains("SIM PIN entered (rejected)"), "{audit}");
    assert!(audit.contains("SIM PIN entered (accepted)"), "{audit}");
    let logs = admin.get("/api/system/logs?lines=500").body;
    assert!(logs.contains("SIM PIN rejected"), "the verdict is logged");
    let log = svc.stop();
    for secret in ["2468", "1111"] {
        assert!(!audit.contains(secret), "{secret} in the audit log");
        assert!(!logs.contains(secret), "{secret} in the log");
        assert!(
            !log.iter().any(|l| l.contains(secret)),
            "{secret} in the journal: {log:?}"
        );
    }
}
