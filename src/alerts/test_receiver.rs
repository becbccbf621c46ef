//! A real local HTTP receiver for tests, scenarios and the delivery benchmark: it plays
//! PagerDuty, ilert or a webhook endpoint on `127.0.0.1` and answers each request as
//! scripted — 2xx, 4xx, 5xx, slow, connection reset — recording what arrived. Refused
//! connections are a port with no listener ([`refused_url`]).
//!
//! Plain `std::net` with a thread per connection (HTTP/1.1 with keep-alive and
//! `Content-Length` bodies, which is what the sender sends); not for production use.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// This status with a small JSON body.
    Status(u16),
    /// Wait this long, then answer 202 (the sender's timeout should fire first).
    Slow(Duration),
    /// Read the request, then reset the connection (RST) without an answer.
    Reset,
}

/// One request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Path (e.g. `/hook`).
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// Body.
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub reply: Reply,
}

impl Received {
    /// The body as JSON (for multipart bodies: the `event` part).
    pub fn json(&self) -> Option<serde_json::Value> {
        let ct = self
            .headers
            .get("content-type")
            .cloned()
            .unwrap_or_default();
        if let Some(b) = ct.split("boundary=").nth(1) {
            return multipart_parts(&self.body, b)
                .into_iter()
                .find(|(name, _)| name == "event")
                .and_then(|(_, data)| serde_json::from_slice(&data).ok());
        }
        serde_json::from_slice(&self.body).ok()
    }

    /// A multipart part by name (the webhook's `voicemail`).
    pub fn part(&self, name: &str) -> Option<Vec<u8>> {
        let ct = self.headers.get("content-type")?;
        let b = ct.split("boundary=").nth(1)?;
        multipart_parts(&self.body, b)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d)
    }
}

/// Splits a multipart/form-data body into (name, data) parts.
pub fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if &body[i..i + d.len()] == d {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    for w in starts.windows(2) {
        let part = &body[w[0] + d.len()..w[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(split) = part.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let mut data = part[split + 4..].to_vec();
        if data.ends_with(b"\r\n") {
            data.truncate(data.len() - 2);
        }
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("")
            .to_string();
        out.push((name, data));
    }
    out
}

#[derive(Default)]
struct State {
    /// Scripted replies per path, taken in order; the last one repeats.
    script: HashMap<String, Vec<Reply>>,
    received: Vec<Received>,
}

/// The receiver. Dropping it stops accepting connections.
pub struct TestReceiver {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl TestReceiver {
    /// Starts a receiver on an ephemeral port of 127.0.0.1 (every path answers 202
    /// unless scripted).
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::Builder::new()
            .name("test-receiver".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if sp.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let st = st.clone();
                    let _ = std::thread::Builder::new()
                        .name("test-receiver-conn".into())
                        .spawn(move || serve(conn, &st));
                }
            })?;
        Ok(Self { port, state, stop })
    }

    /// The URL of a path on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Scripts the replies for a path: taken in order, the last one repeats.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        if let Ok(mut s) = self.state.lock() {
            s.script.insert(path.to_string(), replies);
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .lock()
            .map(|s| s.received.clone())
            .unwrap_or_default()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.received.clear();
        }
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // wake the accept loop
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A URL where nothing listens (connection refused).
pub fn refused_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9);
    format!("http://127.0.0.1:{port}/refused")
}

fn serve(conn: TcpStream, state: &Arc<Mutex<State>>) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut w = write_half;
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let reply = {
            let Ok(mut s) = state.lock() else { return };
            let reply = match s.script.get_mut(&path) {
                Some(v) if v.len() > 1 => v.remove(0),
                Some(v) if v.len() == 1 => v[0].clone(),
                _ => Reply::Status(202),
            };
            s.received.push(Received {
                path: path.clone(),
                headers,
                body,
                reply: reply.clone(),
            });
            reply
        };
        let status = match reply {
            Reply::Status(c) => c,
            Reply::Slow(d) => {
                std::thread::sleep(d);
                202
            }
            Reply::Reset => {
                reset(&w);
                return;
            }
        };
        let text = format!(
            "{{\"status\":\"{}\"}}",
            if status < 300 { "success" } else { "error" }
        );
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// Closes a connection with a TCP reset (SO_LINGER 0).
fn reset(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized `linger` struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    // the reset goes out when the connection's last descriptor closes (on return)
}
