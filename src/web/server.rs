//! Our own accept loop around the router: what `axum::serve` does, plus the limits a
//! box on a LAN needs.
//!
//! - **header read timeout** (hyper): a client that opens a connection and sends no
//!   complete request head within `header_timeout` is dropped — also between requests
//!   of a kept-alive connection;
//! - **body read timeout and size**: a request body must arrive whole within
//!   `body_timeout` and be at most `max_body` bytes, else 408/413 before any handler;
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
            let body = match read_body(body, &limits).await {
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
