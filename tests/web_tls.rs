//! HTTPS on the LAN: the box's own certificate (made on first start, kept, its
//! fingerprint in the banner and in `switchboard setup-token`), Secure cookies, the
//! plain-HTTP redirect, the owner's own certificate, and clear errors for bad files.

mod web_support;

use std::io::Write;
use std::process::Command;

use sha2::{Digest, Sha256};
use web_support::{Client, Service, read_all, trusting};

fn fingerprint_of_pem(pem: &[u8]) -> String {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let der = CertificateDer::from_pem_slice(pem).unwrap();
    Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn the_box_serves_https_with_its_own_certificate_and_redirects_plain_http() {
    let svc = Service::start(&["--http-redirect", "127.0.0.1:0"]);
    assert!(svc.base.starts_with("https://"), "{}", svc.base);
    let pem = std::fs::read(svc.data_path().join("tls/cert.pem")).unwrap();
    let fp = fingerprint_of_pem(&pem);
    assert_eq!(
        svc.fingerprint.as_deref(),
        Some(fp.as_str()),
        "the banner shows it"
    );
    let out = svc.cli(&["setup-token"]);
    assert!(
        out.contains(&format!("certificate SHA-256 fingerprint: {fp}")),
        "{out}"
    );

    // a session cookie under HTTPS is Secure
    let mut admin = svc.client();
    let r = admin.post_json(
        "/api/setup",
        &serde_json::json!({ "token": svc.setup_token, "name": "admin", "password": web_support::ADMIN_PASSWORD }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert_eq!(admin.get("/api/status").status, 200);

    // plain HTTP on the HTTPS port gets no page
    let mut plain = Client::new(&svc.addr);
    let mut s = std::net::TcpStream::connect(&plain.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("200 OK"));

    // the redirect listener sends every path on to HTTPS, host and query kept
    let redirect = svc.redirect_addr();
    plain.addr = redirect;
    let https_port = svc.addr.rsplit_once(':').unwrap().1;
    let r = plain.get("/calls?from=2026-01-01");
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location"),
        Some(format!("https://{}:{https_port}/calls?from=2026-01-01", "127.0.0.1").as_str())
    );

    // the certificate is kept across restarts: the fingerprint the installer noted holds
    let (data, log) = svc.stop_keep();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
    let again = Service::start_in(data, &[]);
    assert_eq!(again.fingerprint.as_deref(), Some(fp.as_str()));
    assert_eq!(again.client().get("/healthz").status, 200);
}

#[test]
fn the_owners_certificate_replaces_the_boxs_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cp, kp) = (dir.path().join("own.crt"), dir.path().join("own.key"));
    std::fs::write(&cp, cert.pem()).unwrap();
    std::fs::write(&kp, key.serialize_pem()).unwrap();

    let svc = Service::start(&[
        "--tls-cert",
        cp.to_str().unwrap(),
        "--tls-key",
        kp.to_str().unwrap(),
    ]);
    let fp = fingerprint_of_pem(cert.pem().as_bytes());
    assert_eq!(svc.fingerprint.as_deref(), Some(fp.as_str()));
    assert!(
        !svc.data_path().join("tls/cert.pem").exists(),
        "no certificate of the box's own is made"
    );
    let mut c = svc.client();
    c.tls = Some(trusting(cert.pem().as_bytes()));
    assert_eq!(c.get("/healthz").status, 200);
    // a client that only trusts another certificate refuses the connection
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let mut wrong = svc.client();
    wrong.tls = Some(trusting(other.cert.pem().as_bytes()));
    let mut s = wrong.connect();
    let failed = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .and_then(|_| s.flush())
        .is_err()
        || {
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut s, &mut raw).is_err() || raw.is_empty()
        };
    assert!(failed, "an unknown certificate is not trusted");
    drop(svc);

    // a key that is not the certificate's: the start stops with both files named
    let other_key = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&kp, other_key.serialize_pem()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["run", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = run(&[
        "--tls-cert",
        cp.to_str().unwrap(),
        "--tls-key",
        kp.to_str().unwrap(),
    ]);
    assert!(
        err.contains("do not belong together")
            && err.contains("own.crt")
            && err.contains("own.key"),
        "{err}"
    );
    // a certificate file that is no certificate
    std::fs::write(&cp, "not a certificate").unwrap();
    let err = run(&[
        "--tls-cert",
        cp.to_str().unwrap(),
        "--tls-key",
        kp.to_str().unwrap(),
    ]);
    assert!(err.contains("holds no certificate"), "{err}");
    // a certificate without its key
    let err = run(&["--tls-cert", cp.to_str().unwrap()]);
    assert!(err.contains("--tls-key"), "{err}");
}

#[test]
fn no_tls_serves_plain_http_and_setup_token_says_so() {
    let svc = Service::start(&["--no-tls"]);
    assert!(svc.base.starts_with("http://"), "{}", svc.base);
    let r = svc.admin().post_json("/api/logout", &serde_json::json!({}));
    assert_eq!(r.status, 204);
    let out = svc.cli(&["setup-token"]);
    assert!(out.contains("no HTTPS certificate in force"), "{out}");
    let mut c = svc.client();
    let r = c.post_json(
        "/api/login",
        &serde_json::json!({ "name": "admin", "password": web_support::ADMIN_PASSWORD }),
    );
    assert!(!r.header("set-cookie").unwrap().contains("Secure"));
    let mut raw = Vec::new();
    let mut s = svc.raw();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_all(&mut s, &mut raw);
    assert!(raw.starts_with(b"HTTP/1.1 200"));
}
