//! A minimal W3C WebDriver client (chromedriver + Debian's headless chromium), just
//! what the browser journeys need, over `ureq` (already a dependency).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = driver.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        for l in lines.by_ref() {
            if l.unwrap().contains("started successfully") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let profile = tempfile::tempdir().unwrap();
        // the box serves its own self-signed certificate: the browser accepts it as an
        // installer does after comparing the fingerprint (web_tls.rs checks the
        // certificate itself with a client that trusts exactly it)
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "acceptInsecureCerts": true, "goog:chromeOptions": {
            "binary": chromium.to_str().unwrap(),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,900", "--autoplay-policy=no-user-gesture-required",
                format!("--user-data-dir={}", profile.path().display())]
        } } } });
        let mut b = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            agent,
            _profile: profile,
        };
        let v = b.call("POST", "/session", Some(caps));
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        b.base = format!("{}/session/{id}", b.base);
        b
    }

    fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut r = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, b) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(b.unwrap_or(json!({})).to_string()),
        }
        .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let text = r.body_mut().read_to_string().unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["value"].clone()
    }

    pub fn goto(&mut self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn url(&mut self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }

    pub fn path(&mut self) -> String {
        let u = self.url();
        let after = u.splitn(4, '/').nth(3).unwrap_or("");
        format!("/{}", after.split('?').next().unwrap())
    }

    pub fn try_find(&mut self, css: &str) -> Option<String> {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT].as_str().map(str::to_string)
    }

    pub fn find_all(&mut self, css: &str) -> Vec<String> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (up to `secs`) for an element; panics with `what` if it never comes.
    pub fn wait(&mut self, css: &str, secs: u64) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(e) = self.try_find(css) {
                return e;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "`{css}` never appeared on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits for the page's path.
    pub fn wait_path(&mut self, path: &str, secs: u64) {
        let t0 = Instant::now();
        while self.path() != path {
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "never reached {path} (at {})",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn type_into(&mut self, css: &str, text: &str) {
        let e = self.wait(css, 30);
        self.call("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Chooses a file in an `<input type="file">`.
    pub fn send_file(&mut self, css: &str, path: &std::path::Path) {
        let e = self.wait(css, 30);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": path.to_str().unwrap() })),
        );
    }

    pub fn click(&mut self, css: &str) {
        let e = self.wait(css, 30);
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    pub fn text(&mut self, css: &str) -> String {
        let e = self.wait(css, 30);
        self.call("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub fn script(&mut self, js: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": js, "args": args })),
        )
    }

    /// Runs an async script (`arguments[arguments.length - 1]` is the callback).
    pub fn script_async(&mut self, js: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({ "script": js, "args": [] })),
        )
    }

    pub fn set_size(&mut self, w: u32, h: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": w, "height": h })),
        );
    }

    pub fn screenshot(&mut self, file: &Path) {
        let b64 = self.call("GET", "/screenshot", None);
        std::fs::write(file, base64_decode(b64.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
