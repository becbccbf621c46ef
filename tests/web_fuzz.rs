//! schemathesis (PyPI) fuzzes the JSON API of a running service against
//! `/api/openapi.json`, signed in as an admin: no server error, no answer that breaks
//! the document (status codes, content types, schemas). scripts/ensure-deps installs
//! schemathesis into a virtualenv and exports SWITCHBOARD_SCHEMATHESIS.

mod web_support;

use std::process::Command;

use web_support::{Service, tool};

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let Some(st) = tool("SWITCHBOARD_SCHEMATHESIS", &["schemathesis", "st"]) else {
        eprintln!("skipped: schemathesis is not installed (scripts/ensure-deps installs it)");
        return;
    };
    let svc = Service::start(&[]);
    let admin = svc.admin();
    // schemathesis keeps a cache in its working directory: not in the repository
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(st)
        .current_dir(work.path())
        .arg("run")
        .arg(format!("{}/api/openapi.json", svc.base))
        // trusting exactly the box's own (self-signed) certificate
        .arg(format!(
            "--tls-verify={}",
            svc.data_path().join("tls/cert.pem").display()
        ))
        .args(["-H", &format!("Cookie: sb_session={}", admin.cookie.as_deref().unwrap())])
        .args(["-H", &format!("X-CSRF-Token: {}", admin.csrf.as_deref().unwrap())])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            // logging out would end the run's session; the event stream never ends;
            "--exclude-path",
            "/api/logout",
            "--exclude-path",
            "/api/events",
            // a restart stops the service under test (tests/web_system.rs covers it)
            "--exclude-path",
            "/api/system/restart",
            "--max-examples",
            "20",
            "--seed",
            "15",
            "--request-timeout",
            "60",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}
