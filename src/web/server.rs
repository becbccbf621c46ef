//! Our own accept loop around the router: what `axum::serve` does, plus the limits a
//! box on a LAN needs.
//!
//! - **header read timeout** (hyper): a client that opens a connection and sends no
//!   complete request head within `header_timeout` is dropped — also between requests
//!   of a kept-alive connection;
//! - **body read timeout and size**: a request body must arrive whole within
//!   `body_timeout` and be at most `max_body` bytes, else 408/413 before any handler;
//!   the routes in `streamed_paths` (the restore upload) instead get their body as a
//!   stream: at most `max_stream_body` bytes, and no pause longer than `body_timeout`
//!   between two pieces (a [`BodyError`] in the stream otherwise); a Content-Length
//!   over the limit is refused with 413 before the body is read;
//! - **connection limit**: past `max_connections` open connections a new one is closed
//!   at once, so the listen backlog never fills with waiting clients and file
//!   descriptors stay bounded; `/healthz` answers as long as the box has a free slot;
//! - **TLS** (rustls) when the page is served over HTTPS, and a plain-HTTP listener
//!   that only redirects to it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Limits of the HTTP server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to receive a complete request head.
    pub header_timeout: Duration,
    /// Time to receive a complete request body.
    pub body_timeout: Duration,
    /// Largest request body.
    pub max_body: usize,
    /// Open connections at most.
    pub max_connections: usize,
    /// Paths whose request body is streamed to the handler instead of read first.
    pub streamed_paths: &'static [&'static str],
    /// Largest streamed request body.
    pub max_stream_body: u64,
}

/// Paths whose request body is streamed (the restore upload).
pub const STREAMED_PATHS: &[&str] = &["/api/system/restore"];

/// The default limit of a streamed body (a restore upload): 2 GiB.
pub const DEFAULT_MAX_STREAM_BODY: u64 = 2 * 1024 * 1024 * 1024;

/// Why a streamed request body ended early (in the body stream's error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// More than this many bytes.
    TooLarge(u64),
    /// Nothing arrived for this long.
    Timeout(Duration),
    /// The connection broke.
    Broken(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge(n) => write!(f, "the request body is larger than {n} bytes"),
            BodyError::Timeout(t) => write!(f, "nothing of the request body arrived for {t:?}"),
            BodyError::Broken(why) => write!(f, "the request body broke off: {why}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// Parses a size: bytes, or with a unit `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (powers of
/// 1024), e.g. `2GiB`, `500M`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write e.g. 2GiB, 500MiB or 1048576"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1024,
        "m" | "mib" | "mb" => 1024 * 1024,
        "g" | "gib" | "gb" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "`{other}` in `{text}` is not a size unit: use K, M or G (KiB, MiB, GiB)"
            ));
        }
    };
    let v = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if v < 1024 * 1024 {
        return Err(format!(
            "`{text}` is smaller than 1 MiB: no backup is that small"
        ));
    }
    Ok(v)
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(20),
            // uploads (recordings) are the largest bodies; every other route keeps
            // axum's 2 MiB limit
            max_body: crate::media::upload::MAX_UPLOAD_BYTES + 1024 * 1024,
            max_connections: 4096,
            streamed_paths: STREAMED_PATHS,
            max_stream_body: DEFAULT_MAX_STREAM_BODY,
        }
    }
}

impl Limits {
    /// The default limits, with the connection limit kept below the process's file
    /// limit (leaving room for the database, serial ports and audio devices).
    pub fn for_file_limit(nofile: u64) -> Self {
        let room = nofile.saturating_sub(128).max(16) as usize;
        Self {
            max_connections: Self::default().max_connections.min(room),
            ..Self::default()
        }
    }
}

/// Raises the soft limit of open files to the hard limit; returns the soft limit now
/// in force.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
pub fn raise_file_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
    }
    r.rlim_cur as u64
}

/// Serves `app` over plain HTTP on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, app, limits, None, shutdown).await
}

/// Serves `app` on `listener`, over TLS when `tls` is given, until `shutdown`
/// completes. The TLS handshake counts against the header timeout: a client that opens
/// a connection and never finishes its hello is dropped like one that never finishes a
/// request head.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream); // over the limit: closed at once
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                None => connection(TokioIo::new(stream), app, peer, limits).await,
                Some(a) => {
                    match tokio::time::timeout(limits.header_timeout, a.accept(stream)).await {
                        Ok(Ok(tls)) => connection(TokioIo::new(tls), app, peer, limits).await,
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                }
            }
        });
    }
}

/// One HTTP/1.1 connection, plain or TLS.
async fn connection<I>(io: I, app: Router, peer: SocketAddr, limits: Limits)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        async move {
            let (mut parts, body) = req.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            let body = if limits.streamed_paths.contains(&parts.uri.path()) {
                stream_body(body, &limits)
            } else {
                read_body(body, &limits).await
            };
            let body = match body {
                Ok(b) => b,
                Err(resp) => return Ok::<_, std::convert::Infallible>(resp),
            };
            let req = Request::from_parts(parts, body);
            app.oneshot(req).await
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(io, svc);
    let _ = conn.await;
}

/// The plain-HTTP side of a box served over HTTPS: every request is sent on to the
/// same host and path on `https_port` (308, so a form POST stays a POST).
pub fn redirect_router(https_port: u16) -> Router {
    Router::new().fallback(move |req: Request<Body>| async move {
        let host = req
            .headers()
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(host_without_port);
        let Some(host) = host.filter(|h| !h.is_empty()) else {
            return super::ApiError::new(
                StatusCode::BAD_REQUEST,
                "this address only sends browsers on to HTTPS and needs a Host header",
            )
            .into_response();
        };
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let port = if https_port == 443 {
            String::new()
        } else {
            format!(":{https_port}")
        };
        axum::response::Redirect::permanent(&format!("https://{host}{port}{path}")).into_response()
    })
}

/// `box.local:8080` → `box.local`, `[fe80::1]:8080` → `[fe80::1]`.
fn host_without_port(h: &str) -> &str {
    if let Some(end) = h.find(']') {
        return &h[..=end];
    }
    h.rsplit_once(':').map_or(h, |(host, _)| host)
}

/// Reads a whole request body within the time and size limits.
async fn read_body(body: Incoming, limits: &Limits) -> Result<Body, axum::response::Response> {
    use hyper::body::Body as _;
    // a Content-Length over the limit: refused at once, without reading the body
    let too_large = body.size_hint().lower() > limits.max_body as u64;
    let limited = http_body_util::Limited::new(body, limits.max_body);
    let read = async {
        if too_large {
            return Ok(Err(()));
        }
        tokio::time::timeout(limits.body_timeout, limited.collect())
            .await
            .map(|r| r.map_err(|_| ()))
    };
    match read.await {
        Ok(Ok(c)) => Ok(Body::from(c.to_bytes())),
        Ok(Err(())) => Err(super::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {} bytes ({} MiB) or broken",
                limits.max_body,
                limits.max_body / (1024 * 1024)
            ),
        )
        .into_response()),
        Err(_) => Err(super::ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
        )
        .into_response()),
    }
}

/// A request body passed on as a stream: at most `max_stream_body` bytes, no pause
/// over `body_timeout` (else a [`BodyError`] ends the stream). A Content-Length over
/// the limit is refused at once.
#[allow(clippy::result_large_err)] // the same shape as `read_body`: the refusal is the answer
fn stream_body(body: Incoming, limits: &Limits) -> Result<Body, axum::response::Response> {
    use hyper::body::Body as _;
    let (max, idle) = (limits.max_stream_body, limits.body_timeout);
    if body.size_hint().lower() > max {
        return Err(super::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {max} bytes ({} MiB), the limit of this upload",
                max / (1024 * 1024)
            ),
        )
        .into_response());
    }
    let stream = futures_util::stream::unfold(Some((body, 0u64)), move |state| async move {
        let (mut body, mut seen) = state?;
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => return Some((Err(BodyError::Timeout(idle)), None)),
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(BodyError::Broken(e.to_string())), None)),
                Ok(Some(Ok(f))) => f,
            };
            // trailers carry no data
            let Ok(data) = frame.into_data() else {
                continue;
            };
            seen += data.len() as u64;
            if seen > max {
                return Some((Err(BodyError::TooLarge(max)), None));
            }
            return Some((Ok(data), Some((body, seen))));
        }
    });
    Ok(Body::from_stream(stream))
}

/// Used by tests: the peer address type the router sees.
pub type Peer = ConnectInfo<SocketAddr>;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(limits: Limits) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route(
            "/x",
            axum::routing::get(|| async { "ok" }).post(|b: String| async move { b }),
        );
        tokio::spawn(serve(listener, app, limits, std::future::pending()));
        addr
    }

    /// Everything the server sends until it closes the connection.
    async fn until_closed(s: &mut tokio::net::TcpStream) -> String {
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf))
            .await
            .expect("the server never closed the connection")
            .ok();
        String::from_utf8_lossy(&buf).to_string()
    }

    #[tokio::test]
    async fn half_sent_heads_and_slow_or_large_bodies_are_cut_off() {
        let addr = start(Limits {
            header_timeout: Duration::from_millis(200),
            body_timeout: Duration::from_millis(200),
            max_body: 16,
            max_connections: 16,
            ..Limits::default()
        })
        .await;
        // a half-sent request head: dropped, never answered 200
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let got = until_closed(&mut s).await;
        assert!(!got.contains("200 OK"), "{got}");
        // a body that never arrives whole: 408
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            .await
            .unwrap();
        let got = until_closed(&mut s).await;
        assert!(got.starts_with("HTTP/1.1 408"), "{got}");
        // a body over the limit: 413
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 20\r\n\r\n01234567890123456789")
            .await
            .unwrap();
        let got = until_closed(&mut s).await;
        assert!(got.starts_with("HTTP/1.1 413"), "{got}");
        // and a complete request is answered
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let got = until_closed(&mut s).await;
        assert!(
            got.starts_with("HTTP/1.1 200") && got.ends_with("ok"),
            "{got}"
        );
    }

    #[tokio::test]
    async fn a_streamed_body_is_passed_on_within_its_own_limits() {
        use futures_util::StreamExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // counts what arrives, or names the error that ended the stream
        let app = Router::new().route(
            "/s",
            axum::routing::post(|b: Body| async move {
                let mut s = b.into_data_stream();
                let mut n = 0;
                while let Some(c) = s.next().await {
                    match c {
                        Ok(b) => n += b.len(),
                        Err(e) => return format!("error: {e}"),
                    }
                }
                n.to_string()
            }),
        );
        let limits = Limits {
            body_timeout: Duration::from_millis(300),
            max_body: 16,
            streamed_paths: &["/s"],
            max_stream_body: 64,
            ..Limits::default()
        };
        tokio::spawn(serve(listener, app, limits, std::future::pending()));
        let send = |req: Vec<u8>| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(&req).await.unwrap();
            until_closed(&mut s).await
        };
        // over the ordinary limit, within the streamed one
        let got = send(
            [
                &b"POST /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 40\r\n\r\n"
                    [..],
                &[b'a'; 40],
            ]
            .concat(),
        )
        .await;
        assert!(
            got.starts_with("HTTP/1.1 200") && got.ends_with("40"),
            "{got}"
        );
        // a Content-Length over the streamed limit: 413 from the head alone
        let got = send(
            b"POST /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 65\r\n\r\n"
                .to_vec(),
        )
        .await;
        assert!(got.starts_with("HTTP/1.1 413"), "{got}");
        // chunked past the limit: the stream ends with the error
        let chunk = format!("28\r\n{}\r\n", "b".repeat(40));
        let got = send(
            format!("POST /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}0\r\n\r\n").into_bytes(),
        )
        .await;
        assert!(
            got.contains("error: the request body is larger than 64 bytes"),
            "{got}"
        );
        // a pause longer than the body timeout
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"POST /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 30\r\n\r\nabc",
        )
        .await
        .unwrap();
        let got = until_closed(&mut s).await;
        assert!(
            got.contains("error: nothing of the request body arrived"),
            "{got}"
        );
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("2GiB"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("500M"), Ok(500 * 1024 * 1024));
        assert_eq!(parse_size("1048576"), Ok(1024 * 1024));
        assert!(parse_size("12").unwrap_err().contains("smaller than 1 MiB"));
        assert!(parse_size("2 TB").unwrap_err().contains("not a size unit"));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
    }

    #[test]
    fn the_redirect_keeps_host_and_path() {
        assert_eq!(host_without_port("box.local:8080"), "box.local");
        assert_eq!(host_without_port("[fe80::1]:8080"), "[fe80::1]");
        assert_eq!(host_without_port("[fe80::1]"), "[fe80::1]");
        assert_eq!(host_without_port("10.0.0.5"), "10.0.0.5");
    }

    #[tokio::test]
    async fn a_connection_over_the_limit_is_closed_unanswered() {
        let addr = start(Limits {
            header_timeout: Duration::from_secs(600),
            max_connections: 2,
            ..Limits::default()
        })
        .await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            // a complete request on each, so both surely hold a slot
            s.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            held.push(s);
        }
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = third
            .write_all(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        assert_eq!(
            until_closed(&mut third).await,
            "",
            "closed without an answer"
        );
        drop(held);
    }
}
