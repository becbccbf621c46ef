//! HTTPS for the page on the LAN: a per-box self-signed certificate made on first
//! start (rcgen), or a certificate and key the owner supplies; served with rustls.
//!
//! The certificate's SHA-256 fingerprint is what an installer compares with the one the
//! browser shows: the service prints it at start (journal) and writes it next to the
//! certificate, where `switchboard setup-token` reads it.
//!
//! Crates: rustls (with ring) is already in the tree through ureq; rcgen is the
//! certificate generator of the rustls project; tokio-rustls is the tokio adapter of
//! rustls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// The folder of the data directory that holds the generated certificate.
pub const TLS_DIR: &str = "tls";
/// The generated certificate (PEM).
pub const CERT_FILE: &str = "cert.pem";
/// Its private key (PEM, mode 0600).
pub const KEY_FILE: &str = "key.pem";
/// The fingerprint of the certificate in force (written at every start).
pub const FINGERPRINT_FILE: &str = "fingerprint";

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// Generated on first start under `<data>/tls/` and kept.
    Generated,
    /// The owner's own certificate chain and key (PEM files).
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// Private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
}

/// A ready TLS server setup.
pub struct Tls {
    /// The rustls configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate, `AB:CD:…` as browsers show it.
    pub fingerprint: String,
    /// Where the certificate was read from.
    pub cert_path: PathBuf,
}

/// SHA-256 fingerprint of a DER certificate, upper-case hex pairs joined by colons.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The names the generated certificate is made out to: the host name (and
/// `<host>.local`, as mDNS announces it), `localhost` and the loopback addresses.
fn subject_names() -> Vec<String> {
    let mut names = Vec::new();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let h = host.trim();
    if !h.is_empty() && h != "localhost" {
        names.push(h.to_string());
        if !h.contains('.') {
            names.push(format!("{h}.local"));
        }
    }
    names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
    names.dedup();
    names
}

/// Makes a self-signed certificate and key (PEM) for this box.
pub fn generate() -> Result<(String, String)> {
    let names = subject_names();
    let mut params = rcgen::CertificateParams::new(names.clone())
        .context("cannot make the certificate's names")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!(
            "Switchboard {}",
            names.first().map_or("box", String::as_str)
        ),
    );
    params.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        "Switchboard (self-signed on this box)",
    );
    // from yesterday (a box whose clock is a little behind) for 20 years: a box on a
    // LAN has no CA to renew with; the owner can supply their own certificate
    let day = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .yesterday()
        .map_err(|e| anyhow!("certificate date: {e}"))?;
    let (y, m, d) = (i32::from(day.year()), day.month() as u8, day.day() as u8);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    params.not_after = rcgen::date_time_ymd(y + 20, m, d.min(28));
    let key = rcgen::KeyPair::generate().context("cannot make a key pair")?;
    let cert = params
        .self_signed(&key)
        .context("cannot sign the certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Reads a certificate chain and key and checks that they belong together.
pub fn load_pair(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_name: &Path,
    key_name: &Path,
) -> Result<Tls> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            anyhow!(
                "{}: not a PEM certificate ({e}); give the certificate chain as PEM (-----BEGIN CERTIFICATE-----)",
                cert_name.display()
            )
        })?;
    if certs.is_empty() {
        bail!(
            "{}: holds no certificate; give the certificate chain as PEM (-----BEGIN CERTIFICATE-----), leaf first",
            cert_name.display()
        );
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        anyhow!(
            "{}: no private key found ({e}); give the key as PEM (PKCS#8 `BEGIN PRIVATE KEY`, PKCS#1 `BEGIN RSA PRIVATE KEY` or SEC1 `BEGIN EC PRIVATE KEY`), unencrypted",
            key_name.display()
        )
    })?;
    let fingerprint = fingerprint(&certs[0]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => anyhow!(
                "{} and {} do not belong together: the key is not the certificate's key; give the key the certificate was issued for",
                cert_name.display(),
                key_name.display()
            ),
            e => anyhow!(
                "{} / {}: cannot use this certificate and key: {e}",
                cert_name.display(),
                key_name.display()
            ),
        })?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
        cert_path: cert_name.to_path_buf(),
    })
}

/// The certificate in force: the owner's files, or the box's own (made on first
/// start). Writes the fingerprint to `<data>/tls/fingerprint`.
pub fn load_or_create(data: &Path, source: &CertSource) -> Result<Tls> {
    let dir = data.join(TLS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tls = match source {
        CertSource::Files { cert, key } => {
            let c = std::fs::read(cert)
                .with_context(|| format!("cannot read the certificate {}", cert.display()))?;
            let k = std::fs::read(key)
                .with_context(|| format!("cannot read the key {}", key.display()))?;
            load_pair(&c, &k, cert, key)?
        }
        CertSource::Generated => {
            let (cp, kp) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
            if !cp.exists() || !kp.exists() {
                let (c, k) = generate()?;
                write_private(&kp, k.as_bytes())?;
                std::fs::write(&cp, c.as_bytes())
                    .with_context(|| format!("cannot write {}", cp.display()))?;
                tracing::info!("made this box's certificate: {}", cp.display());
            }
            let c = std::fs::read(&cp)?;
            let k = std::fs::read(&kp)?;
            load_pair(&c, &k, &cp, &kp).with_context(|| {
                format!(
                    "the box's own certificate is damaged: delete {} and restart to make a new one",
                    dir.display()
                )
            })?
        }
    };
    let fp = dir.join(FINGERPRINT_FILE);
    std::fs::write(&fp, format!("{}\n", tls.fingerprint))
        .with_context(|| format!("cannot write {}", fp.display()))?;
    Ok(tls)
}

/// The fingerprint the service last put in force (what `setup-token` shows).
pub fn recorded_fingerprint(data: &Path) -> Option<String> {
    std::fs::read_to_string(data.join(TLS_DIR).join(FINGERPRINT_FILE))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Plain HTTP: no fingerprint is in force.
pub fn forget_fingerprint(data: &Path) {
    let _ = std::fs::remove_file(data.join(TLS_DIR).join(FINGERPRINT_FILE));
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_certificate_is_kept_and_its_fingerprint_recorded() {
        let d = tempfile::tempdir().unwrap();
        let a = load_or_create(d.path(), &CertSource::Generated).unwrap();
        assert_eq!(a.fingerprint.len(), 32 * 3 - 1);
        assert_eq!(recorded_fingerprint(d.path()), Some(a.fingerprint.clone()));
        let b = load_or_create(d.path(), &CertSource::Generated).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint, "made once, then kept");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is private");
    }

    #[test]
    fn mismatched_or_broken_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let (c1, _k1) = generate().unwrap();
        let (_c2, k2) = generate().unwrap();
        let (cp, kp) = (d.path().join("c.pem"), d.path().join("k.pem"));
        std::fs::write(&cp, &c1).unwrap();
        std::fs::write(&kp, &k2).unwrap();
        let src = CertSource::Files {
            cert: cp.clone(),
            key: kp.clone(),
        };
        let e = format!("{:#}", load_or_create(d.path(), &src).err().unwrap());
        assert!(e.contains("do not belong together"), "{e}");
        std::fs::write(&cp, "hello").unwrap();
        let e = format!("{:#}", load_or_create(d.path(), &src).err().unwrap());
        assert!(e.contains("holds no certificate"), "{e}");
        std::fs::write(&cp, &c1).unwrap();
        std::fs::write(
            &kp,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = format!("{:#}", load_or_create(d.path(), &src).err().unwrap());
        assert!(e.contains("no private key found"), "{e}");
    }
}
