//! Shared by the web tests: a running `switchboard run` on the simulated board, and a
//! small HTTP client that keeps the session cookie and CSRF token.
#![allow(dead_code)]

pub mod webdriver;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A service under test; stopped (SIGTERM) when dropped.
pub struct Service {
    pub child: Child,
    pub addr: String,
    /// `https://…` or `http://…` (`--no-tls`), no trailing slash.
    pub base: String,
    /// A TLS client setup that trusts this box's certificate (None: plain HTTP).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The certificate fingerprint the service printed.
    pub fingerprint: Option<String>,
    /// What the service printed up to its address banner's end.
    pub banner: Vec<String>,
    pub data: tempfile::TempDir,
    pub setup_token: String,
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Service {
    pub fn start(extra: &[&str]) -> Service {
        let data = tempfile::tempdir().unwrap();
        Self::start_in(data, extra)
    }

    pub fn start_in(data: tempfile::TempDir, extra: &[&str]) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["run", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut addr = None;
        let mut token = String::new();
        let mut https = false;
        let mut fingerprint = None;
        let mut banner = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            banner.push(line.clone());
            if let Some(f) = line.trim().strip_prefix("certificate SHA-256: ") {
                fingerprint = Some(f.to_string());
            }
            if let Some(t) = line
                .trim()
                .strip_prefix("setup token (first visit of the web page): ")
            {
                token = t.to_string();
            }
            if let Some(rest) = line.trim().strip_prefix("page:    ") {
                https = rest.starts_with("https://");
                let a = rest.split_once("://").unwrap().1;
                addr = Some(a.trim_end_matches('/').to_string());
            }
            // the last line of the banner
            if line.trim().starts_with("health:  ") {
                break;
            }
        }
        let addr = addr
            .unwrap_or_else(|| panic!("the service prints the address of its page: {banner:?}"));
        let log = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
        // trust the certificate the service says it serves
        let cert_file = banner
            .iter()
            .find_map(|l| l.trim().strip_prefix("certificate file:"))
            .map(|p| PathBuf::from(p.trim()));
        let tls = https.then(|| {
            let path = cert_file.expect("the banner names the certificate file");
            trusting(&std::fs::read(path).unwrap())
        });
        let s = Service {
            child,
            base: format!("{}://{addr}", if https { "https" } else { "http" }),
            addr,
            tls,
            fingerprint,
            banner,
            data,
            setup_token: token,
            log: Some(log),
        };
        // until the engine's first status publish /healthz says 503
        let t0 = Instant::now();
        while s.client().get("/healthz").status != 200 {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the service never became healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    pub fn data_path(&self) -> &Path {
        self.data.path()
    }

    /// Runs `switchboard <args> --data <data>` and returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .arg("--data")
            .arg(self.data.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A client of this service (over TLS, trusting its certificate, when it serves
    /// HTTPS).
    pub fn client(&self) -> Client {
        Client {
            tls: self.tls.clone(),
            ..Client::new(&self.addr)
        }
    }

    /// A connected stream (TLS when the service serves HTTPS) for raw requests.
    pub fn raw(&self) -> Box<dyn Stream> {
        self.client().connect()
    }

    /// A client signed in as the first admin (setting the password with the token).
    pub fn admin(&self) -> Client {
        let mut c = self.client();
        let r = c.post_json(
            "/api/setup",
            &serde_json::json!({ "token": self.setup_token, "name": "admin", "password": ADMIN_PASSWORD }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        c
    }

    /// A viewer account `watcher` made by `admin`, logged in.
    pub fn viewer(&self, admin: &mut Client) -> Client {
        let r = admin.post_json(
            "/api/accounts",
            &serde_json::json!({ "name": "watcher", "password": "quiet observer 7", "role": "viewer" }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let mut c = self.client();
        let r = c.post_json(
            "/api/login",
            &serde_json::json!({ "name": "watcher", "password": "quiet observer 7" }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        c
    }

    /// The address of the plain-HTTP redirect listener (`--http-redirect`).
    pub fn redirect_addr(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.trim().strip_prefix("redirect: http://"))
            .map(|r| r.split('/').next().unwrap().to_string())
            .expect("the banner names the redirect address")
    }

    /// Waits for the service to exit on its own; keeps the data directory.
    pub fn wait_exit(mut self) -> (tempfile::TempDir, std::process::ExitStatus, Vec<String>) {
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the service did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        let log = self
            .log
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        (data, status, log)
    }

    /// Stops the service and keeps its data directory (for a second start).
    pub fn stop_keep(mut self) -> (tempfile::TempDir, Vec<String>) {
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        let log = self.stop();
        (data, log)
    }

    pub fn stop(mut self) -> Vec<String> {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "no stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "the service exited with {status}");
        self.log
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = self.child.wait();
        }
    }
}

pub const ADMIN_PASSWORD: &str = "tea kettle sunrise";

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as bytes (audio, archives).
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A TLS client setup that trusts exactly this certificate (PEM).
pub fn trusting(cert_pem: &[u8]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A byte stream to the service: TCP, or TLS over TCP.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A tiny HTTP/1.1 client with a session cookie and a CSRF token.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    /// Speak TLS, trusting this setup's roots (the box's certificate).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Client {
    /// A plain-HTTP client (see [`Service::client`] for one that speaks TLS).
    pub fn new(addr: &str) -> Client {
        Client {
            addr: addr.to_string(),
            cookie: None,
            csrf: None,
            tls: None,
        }
    }

    /// A connection to the service, TLS when this client speaks it (the certificate
    /// must be valid for `localhost`).
    pub fn connect(&self) -> Box<dyn Stream> {
        let s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        match &self.tls {
            None => Box::new(s),
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let conn = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
                Box::new(rustls::StreamOwned::new(conn, s))
            }
        }
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        with_csrf: bool,
    ) -> Resp {
        let mut s = self.connect();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(c) = &self.cookie {
            req.push_str(&format!("Cookie: sb_session={c}\r\n"));
        }
        if with_csrf {
            if let Some(t) = &self.csrf {
                req.push_str(&format!("X-CSRF-Token: {t}\r\n"));
            }
        }
        let body = body.unwrap_or("");
        if method != "GET" {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        read_all(&mut s, &mut raw);
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(raw.len());
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let body = &raw[(split + 4).min(raw.len())..];
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let bytes = if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        };
        let r = Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).to_string(),
            bytes,
        };
        if let Some(c) = r.header("set-cookie") {
            let v = c
                .split(';')
                .next()
                .unwrap()
                .trim_start_matches("sb_session=")
                .to_string();
            self.cookie = (!v.is_empty()).then_some(v);
        }
        if r.status == 200 && (path == "/api/login" || path == "/api/setup") {
            self.csrf = r.json()["csrf"].as_str().map(str::to_string);
        }
        r
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.request("GET", path, None, true)
    }
    pub fn post_json(&mut self, path: &str, v: &serde_json::Value) -> Resp {
        self.request("POST", path, Some(&v.to_string()), true)
    }
    pub fn post(&mut self, path: &str) -> Resp {
        self.request("POST", path, None, true)
    }
}

/// Reads until the server closes. A TLS peer that closes without close_notify counts
/// as closed once an answer has arrived.
pub fn read_all(s: &mut dyn Stream, raw: &mut Vec<u8>) {
    if let Err(e) = s.read_to_end(raw) {
        assert!(
            e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty(),
            "reading the answer: {e}"
        );
    }
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let len = String::from_utf8_lossy(&s[..eol]).to_string();
        let rest = &s[eol + 2..];
        let Ok(n) = usize::from_str_radix(len.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = &rest[n..];
        if s.starts_with(b"\r\n") {
            s = &s[2..];
        }
    }
    out
}

/// Debian's chromium and its chromedriver, or None: the browser test is then skipped
/// (a failure under SWITCHBOARD_REQUIRE_WEB_TOOLS, as in CI).
pub fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let Some(chromium) = tool("SWITCHBOARD_CHROMIUM", &["chromium", "chromium-browser"]) else {
        eprintln!("skipped: no chromium (apt-get install chromium chromium-driver)");
        return None;
    };
    let Some(driver) = tool(
        "SWITCHBOARD_CHROMEDRIVER",
        &["chromedriver", "/usr/lib/chromium/chromedriver"],
    ) else {
        eprintln!("skipped: no chromedriver (apt-get install chromium-driver)");
        return None;
    };
    Some((chromium, driver))
}

/// Where the browser tests write their screenshots: `SWITCHBOARD_SCREENSHOTS`
/// (created), or None for no screenshots.
pub fn screenshot_dir() -> Option<PathBuf> {
    let d = PathBuf::from(std::env::var_os("SWITCHBOARD_SCREENSHOTS")?);
    std::fs::create_dir_all(&d).unwrap();
    Some(d)
}

/// Where a helper tool lives, or None (the test then says it is skipped — unless
/// SWITCHBOARD_REQUIRE_WEB_TOOLS is set, as in CI, where a missing tool fails).
pub fn tool(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    for c in candidates {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(c);
            if p.is_file() {
                return Some(p);
            }
        }
        if Path::new(c).is_file() {
            return Some(PathBuf::from(c));
        }
    }
    if std::env::var_os("SWITCHBOARD_REQUIRE_WEB_TOOLS").is_some() {
        panic!("{env}: none of {candidates:?} is installed (scripts/ensure-deps installs them)");
    }
    None
}

/// The demo configuration with two alert targets: `hook` (a webhook at `hook_url`) and
/// `dead` (nothing listens there); written to `dir/box.toml`.
pub fn config_with_targets(dir: &Path, hook_url: &str) -> PathBuf {
    let text = format!(
        "{}\n[[alert_target]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook_url}\"\nsecret = \"0123456789abcdef0123\"\n\n[[alert_target]]\nname = \"dead\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"0123456789abcdef0123\"\n",
        switchboard::config::DEMO_CONFIG_TOML,
        switchboard::alerts::test_receiver::refused_url()
    );
    let p = dir.join("box.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Stores a 2-second voicemail (a tone) in a service's data directory through the
/// store, as the service's writer does; returns its id.
pub fn insert_voicemail(data: &Path) -> i64 {
    use switchboard::dsp::tone::ToneGen;
    let mut store = switchboard::store::Store::open(&data.join("switchboard.db")).unwrap();
    let mut samples = vec![0i16; 8000 * 2];
    ToneGen::single(440.0, -20.0).fill(&mut samples);
    store
        .insert_voicemail(
            &data.join("voicemail"),
            &switchboard::exchange::VoicemailOut {
                call: 900,
                routing_id: "emergency-hotline".into(),
                routing_number: "Emergency Hotline".into(),
                caller_id: Some("+15550001111".into()),
                started_at: jiff::Timestamp::now(),
                recording: switchboard::media::recorder::Recording {
                    samples,
                    speech: true,
                    ended: switchboard::media::recorder::RecordEnd::Key,
                },
            },
        )
        .unwrap()
        .id
}

/// An audio file made with sox (`sox -n <file> synth <seconds> sine <hz>`), stereo
/// 44.1 kHz; None when sox cannot write that format here (the caller says it skipped).
pub fn sox_file(dir: &Path, name: &str, seconds: f32) -> Option<PathBuf> {
    let p = dir.join(name);
    let ok = Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "2"])
        .arg(&p)
        .args(["synth", &seconds.to_string(), "sine", "440"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var_os("SWITCHBOARD_REQUIRE_WEB_TOOLS").is_some() {
        panic!("sox cannot write {name} (scripts/ensure-deps installs sox and libsox-fmt-all)");
    }
    ok.then_some(p)
}

impl Client {
    /// POSTs raw bytes (an upload).
    pub fn post_bytes(&mut self, path: &str, bytes: &[u8]) -> Resp {
        self.post_declared(path, bytes.len(), bytes)
    }

    /// POSTs `bytes` under a Content-Length of `declared` (a body the server must
    /// refuse from its head alone).
    pub fn post_declared(&mut self, path: &str, declared: usize, bytes: &[u8]) -> Resp {
        let mut s = self.connect();
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: {declared}\r\n",
            self.addr,
        );
        if let Some(c) = &self.cookie {
            req.push_str(&format!("Cookie: sb_session={c}\r\n"));
        }
        if let Some(t) = &self.csrf {
            req.push_str(&format!("X-CSRF-Token: {t}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let _ = s.write_all(bytes);
        let mut raw = Vec::new();
        read_all(&mut s, &mut raw);
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            String::from_utf8_lossy(&dechunk(body.as_bytes())).to_string()
        } else {
            body.to_string()
        };
        Resp {
            status,
            headers,
            bytes: body.clone().into_bytes(),
            body,
        }
    }

    pub fn delete(&mut self, path: &str) -> Resp {
        self.request("DELETE", path, None, true)
    }
}
