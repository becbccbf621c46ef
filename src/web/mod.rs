//! The local web page and its JSON API (axum).
//!
//! - Security first: nothing but `/healthz` (and the login/setup pages with their
//!   assets) answers without a session; sessions are cookies (HttpOnly,
//!   SameSite=Strict, Secure under HTTPS) stored hashed in SQLite with an idle
//!   timeout; every state-changing request needs the session's CSRF token in the
//!   `X-CSRF-Token` header; viewers only read; every change lands in the audit log.
//! - The engine is never blocked: status comes from the snapshot the engine thread
//!   publishes, live call events from [`EngineHandle::subscribe`], and configuration
//!   changes go in as [`Command::Reload`] after being parsed and rendered here, off the
//!   engine thread. Database calls run on tokio's blocking pool.
//! - Pages are rendered on the server (`pages.rs`) with a little embedded JS; the JS
//!   uses the same JSON API (`api.rs`) that `/api/openapi.json` describes.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::app::service::EngineHandle;
use crate::config::{BoardProfile, Config, ConfigError};
use crate::exchange::Status;
use crate::media::PromptLibrary;
use crate::store::Store;
use crate::store::web::Role;

mod api;
pub mod auth;
pub mod backup;
pub mod forms;
mod forms_page;
pub mod logtail;
mod messages;
mod openapi;
mod pages;
mod prompts;
pub mod server;
pub mod system;
mod timeline;
pub mod tls;

pub use openapi::openapi_document;

/// What `/api/status` shows.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ServiceStatus {
    /// Service version.
    pub version: &'static str,
    /// Site name from the configuration.
    pub site: String,
    /// Board profile name.
    pub board: String,
    /// When the service started (RFC 3339).
    pub started_at: String,
    /// Whether the engine loop is running.
    pub engine_running: bool,
    /// Calls answered since start.
    pub calls_total: u64,
    /// CDRs in the store.
    pub cdrs_stored: i64,
    /// Configuration version in force (the store's numbering), if known.
    pub config_version: Option<i64>,
    /// The alert outbox: event deliveries by state.
    pub alerts_outbox: crate::store::alerts::OutboxCounts,
    /// The SMS cap (`[sms]`): sent and refused within the window.
    pub sms_cap: crate::store::sms_log::SmsCapStatus,
    /// Ports, modem and active calls.
    #[serde(flatten)]
    pub exchange: Status,
}

/// The status snapshot shared with the engine thread.
pub type Shared = Arc<RwLock<ServiceStatus>>;

/// Why a configuration could not be made ready.
#[derive(Debug)]
pub enum PrepareError {
    /// The text does not validate: located problems.
    Invalid(ConfigError),
    /// Something else failed (prompt rendering, ...).
    Failed(anyhow::Error),
}

/// Parses, validates and renders a configuration text (TOML) for this box: the same
/// rules as `check-config`, then the prompts. Slow (espeak-ng): runs on the blocking pool.
pub type PrepareFn =
    dyn Fn(&str) -> Result<(Arc<Config>, Arc<PromptLibrary>), PrepareError> + Send + Sync;

/// A call placed on the simulated board from the web page (sim board only).
#[derive(Debug, Clone, serde::Deserialize, Serialize)]
pub struct SimCall {
    /// Port where the call rings in (`fxo1`, ...).
    pub port: String,
    /// Caller ID it presents.
    pub caller_id: Option<String>,
    /// Keys the caller presses after the first prompt (e.g. `1`).
    #[serde(default)]
    pub keys: String,
    /// Seconds after the box answers until the caller hangs up.
    pub hangup_after_seconds: u32,
}

/// How the web reaches the engine.
pub struct Backend {
    /// Commands in, call events out.
    pub engine: EngineHandle,
    /// Makes a configuration text ready for [`crate::exchange::Command::Reload`].
    pub prepare: Box<PrepareFn>,
    /// Places simulated calls (sim board only).
    pub sim_calls: Option<crossbeam_channel::Sender<SimCall>>,
    /// Speaks a text (voice, text) as 8 kHz samples: the "listen" button.
    pub render: Box<RenderFn>,
}

/// Renders a prompt text with a voice (espeak-ng) to 8 kHz samples.
pub type RenderFn = dyn Fn(&str, &str) -> anyhow::Result<Vec<i16>> + Send + Sync;

/// Options of the web layer.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// Mark cookies `Secure` (served over HTTPS).
    pub secure_cookies: bool,
    /// Token for `/metrics` (`Authorization: Bearer …`); None = metrics off.
    pub metrics_token: Option<String>,
    /// The service's data directory (voicemail files, a second database connection).
    pub data_dir: std::path::PathBuf,
    /// The largest restore upload (the accept loop enforces it; the page names it).
    pub max_restore_bytes: u64,
}

impl Default for WebOptions {
    fn default() -> Self {
        Self {
            idle_timeout: auth::DEFAULT_IDLE_TIMEOUT,
            secure_cookies: false,
            metrics_token: None,
            data_dir: std::path::PathBuf::from("switchboard-data"),
            max_restore_bytes: server::DEFAULT_MAX_STREAM_BODY,
        }
    }
}

/// Everything the handlers share.
pub struct Web {
    /// Engine status snapshot.
    pub status: Shared,
    /// The web's own connection to the database (WAL: the store thread writes CDRs
    /// through another one).
    pub store: Arc<Mutex<Store>>,
    /// The configuration in force for new calls, and its version.
    pub current: Arc<RwLock<(Arc<Config>, Option<i64>)>>,
    /// The prompts in force for new calls (what "listen" plays for a routing number).
    pub prompts: RwLock<Option<Arc<PromptLibrary>>>,
    /// The board profile configurations are checked against.
    pub board: BoardProfile,
    /// The engine, if running.
    pub backend: Option<Backend>,
    /// Options.
    pub options: WebOptions,
    /// Notified when an admin asks for a restart (the service stops, then exits with a
    /// failure code for systemd to start it again).
    pub restart: tokio::sync::Notify,
    /// The modem's signal over the last day.
    pub signal: system::SignalHistory,
    limiter: Mutex<auth::LoginLimiter>,
    /// One configuration change at a time.
    apply_lock: tokio::sync::Mutex<()>,
}

impl Web {
    /// The shared state of the handlers.
    pub fn new(
        status: Shared,
        store: Store,
        current: (Arc<Config>, Option<i64>),
        board: BoardProfile,
        backend: Option<Backend>,
        options: WebOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            status,
            store: Arc::new(Mutex::new(store)),
            current: Arc::new(RwLock::new(current)),
            prompts: RwLock::new(None),
            board,
            backend,
            options,
            restart: tokio::sync::Notify::new(),
            signal: system::SignalHistory::default(),
            limiter: Mutex::new(auth::LoginLimiter::default()),
            apply_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Runs a database call on the blocking pool.
    pub(crate) async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = store
                .lock()
                .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
            f(&mut s)
        })
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        .map_err(ApiError::internal)
    }
}

/// The signed-in person of a request.
#[derive(Debug, Clone)]
pub struct Session {
    /// Account name.
    pub account: String,
    /// Role.
    pub role: Role,
    /// CSRF token to send back on state changes.
    pub csrf: String,
    /// Hash of the session token (for logout).
    pub token_hash: String,
    /// Client address.
    pub address: IpAddr,
}

/// A JSON error: `{"error": "...", "problems": [...]}`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, in words.
    pub error: String,
    /// Located configuration problems, if any.
    pub problems: Vec<ProblemJson>,
    /// Seconds to wait (429).
    pub retry_after: Option<u64>,
}

/// A located configuration problem, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProblemJson {
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// 1-based column, if known.
    pub column: Option<usize>,
    /// Key path, e.g. `routing_number[0].option[1].policy`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ApiError {
    /// An error with a status and message.
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            problems: Vec::new(),
            retry_after: None,
        }
    }
    /// 500, logged.
    pub fn internal(e: anyhow::Error) -> Self {
        tracing::error!("web: {e:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
    /// 422 with located problems.
    pub fn invalid_config(e: &ConfigError) -> Self {
        let mut err = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the configuration has {} problem(s); nothing was saved",
                e.problems.len()
            ),
        );
        err.problems = ProblemJson::all(e);
        err
    }
}

impl ProblemJson {
    /// Every problem of a configuration error, as the API shows them.
    pub fn all(e: &ConfigError) -> Vec<Self> {
        e.problems
            .iter()
            .map(|p| ProblemJson {
                line: p.line,
                column: p.column,
                key: p.key.clone(),
                message: p.message.clone(),
            })
            .collect()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.error, "problems": self.problems }));
        let mut r = (self.status, body).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = s.to_string().parse() {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// Makes sure a box without an admin password has a setup token; returns the token
/// while one is needed (None once the box is set up).
pub fn ensure_setup_token(store: &Store) -> anyhow::Result<Option<String>> {
    if store.admin_count()? > 0 {
        return Ok(None);
    }
    if let Some(t) = store.setup_token()? {
        return Ok(Some(t));
    }
    let t = auth::new_setup_token();
    store.set_setup_token(&t)?;
    Ok(Some(t))
}

/// `switchboard reset-password`: every admin password and session is void; a new
/// setup token lets the person at the console set a new password on the page.
pub fn reset_password(store: &Store) -> anyhow::Result<String> {
    store.reset_admin_passwords()?;
    let t = auth::new_setup_token();
    store.set_setup_token(&t)?;
    store.audit(
        "console",
        "console",
        "password.reset",
        "admin passwords and sessions void; new setup token",
    )?;
    Ok(t)
}

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The router over the shared state.
pub fn router(web: Arc<Web>) -> Router {
    let api = Router::new()
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/session", get(api::session))
        .route("/api/setup", post(api::setup))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/status", get(api::status))
        .route("/api/oncall", get(api::oncall))
        .route("/api/events", get(api::events))
        .route("/api/cdrs", get(api::cdrs))
        .route("/api/config", get(api::config_get).post(api::config_save))
        .route("/api/config/check", post(api::config_check))
        .route("/api/config/versions", get(api::versions))
        .route("/api/config/versions/{id}", get(api::version))
        .route("/api/config/versions/{id}/rollback", post(api::rollback))
        .route("/api/audit", get(api::audit))
        .route("/api/accounts", get(api::accounts).post(api::account_add))
        .route(
            "/api/accounts/{name}",
            axum::routing::delete(api::account_delete),
        )
        .route("/api/calls/{id}/hangup", post(api::hangup))
        .route("/api/sim/call", post(api::sim_call));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(api::metrics))
        .merge(pages::routes())
        .merge(messages::routes())
        .merge(timeline::routes())
        .merge(prompts::routes())
        .merge(system::routes())
        .merge(forms::routes())
        .merge(api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(web.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
        .with_state(web)
}

/// Paths anyone may reach: health, metrics (own token), login and setup, and the
/// page assets (nothing secret in them).
fn public_path(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/metrics" | "/login" | "/setup" | "/api/login" | "/api/setup"
    ) || path.starts_with("/static/")
}

fn is_page(path: &str) -> bool {
    !path.starts_with("/api/") && path != "/metrics" && path != "/healthz"
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The session of a request, if its cookie names a live one (touching it).
async fn find_session(web: &Arc<Web>, headers: &HeaderMap, address: IpAddr) -> Option<Session> {
    let token = cookie(headers, auth::SESSION_COOKIE)?;
    if token.len() != 64 {
        return None;
    }
    let hash = auth::token_hash(&token);
    let idle = web.options.idle_timeout;
    let h = hash.clone();
    let row = web
        .db(move |s| {
            let now = unix_now();
            let Some(row) = s.session(&h)? else {
                return Ok(None);
            };
            if !auth::session_alive(row.last_seen, now, idle) {
                s.delete_session(&h)?;
                return Ok(None);
            }
            if now - row.last_seen >= 5 {
                s.touch_session(&h, now)?;
            }
            Ok(Some(row))
        })
        .await
        .ok()??;
    Some(Session {
        account: row.account,
        role: row.role,
        csrf: row.csrf,
        token_hash: hash,
        address,
    })
}

fn client_address(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The gate in front of every route: sessions, CSRF, roles.
async fn guard(State(web): State<Arc<Web>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let address = client_address(&req);
    let session = find_session(&web, req.headers(), address).await;
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if public_path(&path) {
        if let Some(s) = session {
            req.extensions_mut().insert(s);
        }
        req.extensions_mut().insert(address);
        return json_rejections(next.run(req).await).await;
    }
    let Some(s) = session else {
        if is_page(&path) && !changes {
            return Redirect::to("/login").into_response();
        }
        return ApiError::new(StatusCode::UNAUTHORIZED, "log in first (no valid session)")
            .into_response();
    };
    if changes {
        let given = req
            .headers()
            .get(auth::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !auth::constant_time_eq(given.as_bytes(), s.csrf.as_bytes()) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token (send the X-CSRF-Token header from /api/session)",
            )
            .into_response();
        }
        if s.role != Role::Admin && path != "/api/logout" {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "this account only watches (viewer); ask an admin to make the change",
            )
            .into_response();
        }
    }
    req.extensions_mut().insert(s);
    req.extensions_mut().insert(address);
    let mut resp = json_rejections(next.run(req).await).await;
    // pages and API answers with personal data are never cached
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}

/// axum's extractor rejections (bad JSON, wrong content type, a path segment that is
/// not a number) are plain text; the API answers every error as JSON.
async fn json_rejections(resp: Response) -> Response {
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(resp.status().is_client_error() && plain) {
        return resp;
    }
    let status = resp.status();
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    ApiError::new(status, text).into_response()
}

async fn healthz(State(web): State<Arc<Web>>) -> Response {
    let running = web.status.read().map(|s| s.engine_running).unwrap_or(false);
    if running {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "engine not running\n").into_response()
    }
}

async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such page or endpoint; the API is described at /api/openapi.json",
    )
    .into_response()
}
