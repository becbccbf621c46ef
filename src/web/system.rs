//! The System page: software version, modem and SIM, the log tail (the service's own
//! ring buffer), backup of the data directory as a tar file, and restore.
//!
//! - **Backup** (`GET /api/system/backup`): `switchboard.db` (a consistent copy made
//!   with SQLite's `VACUUM INTO` while the service runs), `config.toml` (the version in
//!   force, for reading), `voicemail/`, `recordings/` and `tls/` (the box's certificate
//!   and key, so a restored box keeps its fingerprint).
//! - **Restore** (`POST /api/system/restore`, the tar file as the body): every entry is
//!   checked (relative paths under those names only, regular files), the database must
//!   pass `PRAGMA integrity_check` and open with this version's migrations, and
//!   `config.toml` must pass the same rules as `check-config`. A valid backup is staged
//!   as `<data>/restore-pending/` and swapped in at the next start (before the database
//!   is opened); the files it replaces are kept in `<data>/before-restore-<time>/`.
//! - **Restart** (`POST /api/system/restart`): the service stops like on SIGTERM (calls
//!   in progress end) and exits with a failure code, so systemd (`Restart=on-failure`)
//!   starts it again.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::openapi::{ok, op, with_params};
use super::pages::{esc, page};
use super::{ApiError, Session, Web};
use crate::exchange::{Command, CommandResult};
use crate::media::upload::MAX_UPLOAD_BYTES;
use crate::store::sms_log::TestCallRow;
use crate::store::web::Role;

type ApiResult<T> = Result<T, ApiError>;

/// The staged restore, swapped in at the next start.
pub const PENDING_DIR: &str = "restore-pending";
const DIRS: [&str; 3] = ["voicemail", "recordings", "tls"];
const DB: &str = "switchboard.db";

/// One sample of the modem's signal (every minute while the service runs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignalSample {
    /// When (RFC 3339).
    pub at: String,
    /// Signal strength, if known.
    pub dbm: Option<i32>,
    /// Registration state, if known.
    pub registration: Option<String>,
}

/// The last day of signal samples.
#[derive(Default)]
pub struct SignalHistory(std::sync::Mutex<std::collections::VecDeque<SignalSample>>);

/// Samples kept (a day at one a minute).
pub const SIGNAL_SAMPLES: usize = 24 * 60;

impl SignalHistory {
    /// Records the modem's state from the status snapshot (nothing without a modem).
    pub fn sample(&self, status: &super::ServiceStatus) {
        let Some(m) = &status.exchange.modem else {
            return;
        };
        if let Ok(mut h) = self.0.lock() {
            if h.len() >= SIGNAL_SAMPLES {
                h.pop_front();
            }
            h.push_back(SignalSample {
                at: jiff::Timestamp::now().to_string(),
                dbm: m.signal_dbm,
                registration: m.registration.map(str::to_string),
            });
        }
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<SignalSample> {
        self.0
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// A small picture of the signal: dBm from -113 (bottom) to -51 (top).
fn sparkline(samples: &[SignalSample]) -> String {
    if samples.is_empty() {
        return r#"<p class="muted">no samples yet (one a minute)</p>"#.into();
    }
    let n = samples.len().max(2) - 1;
    let pts = samples
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.dbm.map(|d| {
                let x = 600.0 * i as f64 / n as f64;
                let y = 60.0 - (f64::from(d.clamp(-113, -51)) + 113.0) / 62.0 * 56.0;
                format!("{x:.1},{y:.1}")
            })
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        r##"<svg viewBox="0 0 600 64" width="100%" role="img" aria-label="signal history" id="signal-history" data-samples="{}"><rect width="600" height="64" fill="#f8f8f8"/><polyline points="{pts}" fill="none" stroke="#1d3557" stroke-width="2"/></svg><p class="muted">{} samples since {}: -113 dBm at the bottom, -51 dBm at the top</p>"##,
        samples.len(),
        samples.len(),
        esc(&samples[0].at)
    )
}

/// The routes of this file.
pub(super) fn routes() -> axum::Router<Arc<Web>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/system", get(system_page))
        .route("/api/system/logs", get(logs))
        .route("/api/system/signal", get(signal))
        .route("/api/system/backup", get(backup))
        .route(
            "/api/system/restore",
            post(restore).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/api/system/restart", post(restart))
        .route("/api/test-call", post(test_call))
        .route("/api/test-calls", get(test_calls))
}

fn add_dir(tar: &mut tar::Builder<Vec<u8>>, data: &Path, name: &str) -> Result<()> {
    let dir = data.join(name);
    if !dir.is_dir() {
        return Ok(());
    }
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && p.extension().is_none_or(|x| x != "part") {
                let rel = p
                    .strip_prefix(data)
                    .context("path outside the data directory")?;
                tar.append_path_with_name(&p, rel)
                    .with_context(|| format!("adding {}", p.display()))?;
            }
        }
    }
    Ok(())
}

/// Builds the backup tar (in memory).
pub fn make_backup(
    web_store: &crate::store::Store,
    data: &Path,
    config_text: Option<String>,
) -> Result<Vec<u8>> {
    let tmp = tempfile_in(data)?;
    let copy = tmp.join(DB);
    web_store
        .conn
        .execute("VACUUM INTO ?1", [copy.to_string_lossy().as_ref()])
        .context("copying the database (VACUUM INTO)")?;
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_path_with_name(&copy, DB)?;
    if let Some(text) = config_text {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(jiff::Timestamp::now().as_second().max(0) as u64);
        h.set_cksum();
        tar.append_data(&mut h, "config.toml", text.as_bytes())?;
    }
    for d in DIRS {
        add_dir(&mut tar, data, d)?;
    }
    let bytes = tar.into_inner()?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(bytes)
}

fn tempfile_in(data: &Path) -> Result<PathBuf> {
    let d = data.join(format!(
        "backup-tmp-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    Ok(d)
}

/// Whether a tar entry's path is one a backup holds.
fn allowed(path: &Path) -> bool {
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return false;
    }
    let first = path
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or("");
    path == Path::new(DB)
        || path == Path::new("config.toml")
        || (DIRS.contains(&first) && path.components().count() >= 2)
}

/// Checks a backup and stages it under `<data>/restore-pending/`. Returns what it
/// holds, in words.
pub fn stage_restore(
    bytes: &[u8],
    data: &Path,
    board: &crate::config::BoardProfile,
) -> Result<String> {
    let staging = data.join("restore-staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let result = (|| -> Result<String> {
        let mut ar = tar::Archive::new(bytes);
        let mut files = 0usize;
        for entry in ar
            .entries()
            .context("not a tar file: upload a file made by Backup")?
        {
            let mut e = entry.context("the tar file is damaged")?;
            let path = e
                .path()
                .context("a file name in the backup is not valid")?
                .into_owned();
            if e.header().entry_type().is_dir() {
                continue;
            }
            if !e.header().entry_type().is_file() || !allowed(&path) {
                bail!(
                    "`{}` does not belong in a backup (only switchboard.db, config.toml, voicemail/, recordings/ and tls/): upload a file made by Backup",
                    path.display()
                );
            }
            let dest = staging.join(&path);
            if let Some(p) = dest.parent() {
                std::fs::create_dir_all(p)?;
            }
            let mut buf = Vec::new();
            e.read_to_end(&mut buf)?;
            std::fs::write(&dest, &buf)?;
            files += 1;
        }
        let db = staging.join(DB);
        if !db.exists() {
            bail!("the backup holds no switchboard.db: upload a file made by Backup");
        }
        {
            let conn = rusqlite::Connection::open(&db).context("switchboard.db does not open")?;
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .context("switchboard.db is not an SQLite database")?;
            if check != "ok" {
                bail!("switchboard.db is damaged: {check}");
            }
        }
        let store = crate::store::Store::open(&db)
            .context("switchboard.db cannot be used by this version")?;
        let versions = store.config_versions(1_000_000)?.len();
        let cdrs = store.cdr_count()?;
        drop(store);
        let cfg = staging.join("config.toml");
        if cfg.exists() {
            let text = std::fs::read_to_string(&cfg).context("config.toml is not text")?;
            crate::config::Config::parse("config.toml (in the backup)", &text, board)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(format!(
            "{files} files: {cdrs} call records, {versions} configuration versions"
        ))
    })();
    match result {
        Ok(summary) => {
            let pending = data.join(PENDING_DIR);
            let _ = std::fs::remove_dir_all(&pending);
            std::fs::rename(&staging, &pending)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// At start, before the database is opened: swaps a staged restore in. The files it
/// replaces go to `<data>/before-restore-<unix time>/`. Returns whether it did.
pub fn apply_pending_restore(data: &Path) -> Result<bool> {
    let pending = data.join(PENDING_DIR);
    if !pending.join(DB).exists() {
        return Ok(false);
    }
    let aside = data.join(format!(
        "before-restore-{}",
        jiff::Timestamp::now().as_second()
    ));
    std::fs::create_dir_all(&aside)?;
    for name in [DB, "switchboard.db-wal", "switchboard.db-shm"]
        .into_iter()
        .chain(DIRS)
    {
        let p = data.join(name);
        if p.exists() {
            std::fs::rename(&p, aside.join(name))
                .with_context(|| format!("moving {} aside", p.display()))?;
        }
    }
    for name in [DB].into_iter().chain(DIRS) {
        let p = pending.join(name);
        if p.exists() {
            std::fs::rename(&p, data.join(name))
                .with_context(|| format!("restoring {}", p.display()))?;
        }
    }
    // the text copy of the configuration stays with what was replaced
    let _ = std::fs::rename(
        pending.join("config.toml"),
        aside.join("config.toml (restored)"),
    );
    std::fs::remove_dir_all(&pending)?;
    Ok(true)
}

#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    lines: Option<usize>,
}

pub(super) async fn logs(Query(q): Query<LogQuery>) -> Json<Vec<String>> {
    Json(super::logtail::recent(
        q.lines.unwrap_or(200).min(super::logtail::KEEP),
    ))
}

pub(super) async fn signal(State(web): State<Arc<Web>>) -> Json<Vec<SignalSample>> {
    Json(web.signal.samples())
}

pub(super) async fn backup(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
) -> ApiResult<Response> {
    if s.role != Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a backup holds password hashes and the box's key: only admins download it",
        ));
    }
    let data = web.options.data_dir.clone();
    let (who, addr) = (s.account.clone(), s.address.to_string());
    let bytes = web
        .db(move |st| {
            let text = st.latest_config_version()?.map(|v| v.toml);
            let b = make_backup(st, &data, text)?;
            st.audit(
                &who,
                &addr,
                "backup",
                &format!("downloaded a backup ({} bytes)", b.len()),
            )?;
            Ok(b)
        })
        .await?;
    let name = format!(
        "switchboard-backup-{}.tar",
        jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S")
    );
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

pub(super) async fn restore(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let data = web.options.data_dir.clone();
    let board = web.board.clone();
    let summary = tokio::task::spawn_blocking(move || stage_restore(&body, &data, &board))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("file: {e:#}")))?;
    let (who, addr, sm) = (s.account.clone(), s.address.to_string(), summary.clone());
    web.db(move |st| {
        st.audit(
            &who,
            &addr,
            "restore.staged",
            &format!("{sm}; applied at the next start"),
        )
    })
    .await?;
    Ok(Json(json!({ "staged": summary, "restart_needed": true })))
}

pub(super) async fn restart(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
) -> ApiResult<Response> {
    let (who, addr) = (s.account.clone(), s.address.to_string());
    web.db(move |st| st.audit(&who, &addr, "restart", "service restart requested"))
        .await?;
    tracing::warn!(account = %s.account, "restart requested from the web page");
    web.restart.notify_one();
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct TestCallRequest {
    number: String,
}

/// Why `number` cannot be test-called, or `None`: an E.164 number goes out through the
/// modem; `port:fxsN` (a local phone) is recognised but not supported yet.
pub fn test_call_number_error(number: &str, board: &crate::config::BoardProfile) -> Option<String> {
    if crate::config::is_e164(number) {
        return None;
    }
    if let Some(port) = number.strip_prefix(crate::config::LOCAL_PHONE_PREFIX) {
        let fxs: Vec<String> = board
            .ports
            .iter()
            .filter(|p| *p.kind.get_ref() == crate::config::PortKind::Fxs)
            .map(|p| format!("port:{}", p.id.get_ref()))
            .collect();
        return Some(if fxs.iter().any(|f| f == number) {
            format!(
                "number: `{number}` is a local phone: test calls go out through the modem only, so give an E.164 number (+ and country code)"
            )
        } else if fxs.is_empty() {
            format!(
                "number: `{port}` is not an FXS port: this board has none; give an E.164 number (+ and country code)"
            )
        } else {
            format!(
                "number: `{port}` is not an FXS port of this board ({}); give an E.164 number (+ and country code)",
                fxs.join(", ")
            )
        });
    }
    Some(format!(
        "number: `{number}` is not an E.164 number: write it with + and country code (e.g. +491701234567)"
    ))
}

/// `POST /api/test-call`: the box calls `number` through the modem, plays the test tone
/// once answered and hangs up; the result is listed by `GET /api/test-calls` (with
/// `manual` set and `test_id` the id answered here).
pub(super) async fn test_call(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Json(req): Json<TestCallRequest>,
) -> ApiResult<Response> {
    let number = req.number.trim().to_string();
    if let Some(why) = test_call_number_error(&number, &web.board) {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why));
    }
    let Some(b) = &web.backend else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is not running",
        ));
    };
    // the periodic self-test's tone and ring time, or their defaults
    let (tone, ring) = web
        .current
        .read()
        .ok()
        .and_then(|c| c.0.health.self_test.clone())
        .map(|st| (*st.tone.get_ref(), *st.ring.get_ref()))
        .unwrap_or((Duration::from_secs(5), Duration::from_secs(45)));
    let engine = b.engine.clone();
    let n = number.clone();
    let r = tokio::task::spawn_blocking(move || {
        engine.command(
            Command::TestCall {
                number: n,
                tone,
                ring,
                manual: true,
            },
            Duration::from_secs(5),
        )
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    match r {
        Ok(CommandResult::TestCallStarted(id)) => {
            let (who, addr, n) = (s.account.clone(), s.address.to_string(), number.clone());
            web.db(move |st| {
                st.audit(
                    &who,
                    &addr,
                    "test_call",
                    &format!("test call {id} to {n} started"),
                )
            })
            .await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "test_id": id, "number": number })),
            )
                .into_response())
        }
        // the modem is busy, not ready or missing: try again later
        Ok(CommandResult::Rejected(why)) => Err(ApiError::new(StatusCode::CONFLICT, why)),
        Ok(other) => Err(ApiError::internal(anyhow::anyhow!(
            "unexpected answer {other:?}"
        ))),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{e:#}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct TestCallsQuery {
    limit: Option<usize>,
}

/// `GET /api/test-calls`: recent test-call results (periodic and manual), newest first.
pub(super) async fn test_calls(
    State(web): State<Arc<Web>>,
    Query(q): Query<TestCallsQuery>,
) -> ApiResult<Json<Vec<TestCallRow>>> {
    let limit = q.limit.unwrap_or(20).min(500);
    Ok(Json(web.db(move |s| s.self_tests(limit)).await?))
}

/// The OpenAPI paths of this file.
pub(super) fn openapi_paths() -> Value {
    let s = |t: &str| json!({ "type": t });
    json!({
        "/api/system/logs": { "get": with_params(op("The service's recent log lines, oldest first", json!({ "200": ok(json!({ "type": "array", "items": s("string") })) })),
            json!([{ "name": "lines", "in": "query", "schema": { "type": "integer", "minimum": 0 } }])) },
        "/api/system/signal": { "get": op("The modem's signal, one sample a minute over the last day, oldest first", json!({ "200": ok(json!({ "type": "array",
            "items": { "type": "object", "properties": { "at": s("string"), "dbm": { "type": "integer", "nullable": true }, "registration": { "type": "string", "nullable": true } }, "required": ["at"] } })) })) },
        "/api/system/backup": { "get": op("A backup of the data directory (tar: database, configuration, voicemail, recordings, certificate)",
            json!({ "200": { "description": "tar file", "content": { "application/x-tar": { "schema": { "type": "string", "format": "binary" } } } } })) },
        "/api/system/restore": { "post": {
            "summary": "Check a backup and stage it; applied at the next start",
            "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": { "200": ok(json!({ "type": "object", "properties": { "staged": s("string"), "restart_needed": s("boolean") }, "required": ["staged", "restart_needed"] })),
                "default": { "$ref": "#/components/responses/Error" } } } },
        "/api/system/restart": { "post": op("Restart the service (calls in progress end; systemd starts it again)", json!({ "202": { "description": "stopping" } })) },
        "/api/test-call": { "post": {
            "summary": "Place a test call: the box calls the number through the modem, plays a 1 kHz tone once answered and hangs up; the result appears in GET /api/test-calls",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                "properties": { "number": { "type": "string", "description": "E.164 number (+ and country code)" } }, "required": ["number"] } } } },
            "responses": { "202": { "description": "dialling", "content": { "application/json": { "schema": { "type": "object",
                "properties": { "test_id": s("integer"), "number": s("string") }, "required": ["test_id", "number"] } } } },
                "default": { "$ref": "#/components/responses/Error" } } } },
        "/api/test-calls": { "get": with_params(op("Recent test-call results (the periodic self-test and manual ones), newest first", json!({ "200": ok(json!({ "type": "array",
            "items": { "type": "object", "properties": { "id": s("integer"), "at": s("string"), "number": s("string"), "passed": s("boolean"), "detail": s("string"),
                "manual": s("boolean"), "test_id": { "type": "integer", "nullable": true } }, "required": ["id", "at", "number", "passed", "detail", "manual"] } })) })),
            json!([{ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 0 } }])) }
    })
}

async fn system_page(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let st = web.status.read().map(|s| s.clone()).unwrap_or_default();
    let modem = match &st.exchange.modem {
        Some(m) => {
            let v = serde_json::to_value(m).unwrap_or_default();
            v.as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            format!(
                                "<tr><th>{}</th><td>{}</td></tr>",
                                esc(k),
                                esc(&v.as_str().map_or_else(|| v.to_string(), str::to_string))
                            )
                        })
                        .collect::<String>()
                })
                .unwrap_or_default()
        }
        None => "<tr><td>no modem on this board</td></tr>".into(),
    };
    let logs = super::logtail::recent(200)
        .iter()
        .map(|l| esc(l))
        .collect::<Vec<_>>()
        .join("\n");
    let pending = web.options.data_dir.join(PENDING_DIR).join(DB).exists();
    let admin = s.role == Role::Admin;
    let tests = web.db(|st| st.self_tests(10)).await.unwrap_or_default();
    let test_rows = if tests.is_empty() {
        r#"<tr><td colspan="4" class="muted">no test calls yet</td></tr>"#.to_string()
    } else {
        tests
            .iter()
            .map(|t| {
                format!(
                    r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}: {}</td></tr>"#,
                    esc(&t.at),
                    esc(&t.number),
                    if t.manual { "manual" } else { "periodic" },
                    if t.passed { "ok" } else { "error" },
                    if t.passed { "passed" } else { "FAILED" },
                    esc(&t.detail)
                )
            })
            .collect()
    };
    let suggested = web
        .current
        .read()
        .ok()
        .and_then(|c| {
            c.0.health
                .self_test
                .as_ref()
                .map(|st| st.number.get_ref().clone())
        })
        .unwrap_or_default();
    let test_form = if admin {
        format!(
            r#"<form id="test-call-form" data-test-call><label for="test-call-number">Number (E.164)</label> <input id="test-call-number" name="number" value="{}" placeholder="+491701234567" required> <button type="submit" id="test-call">Place a test call</button></form><p id="test-call-result" class="muted"></p>"#,
            esc(&suggested)
        )
    } else {
        String::new()
    };
    let test_section = format!(
        r#"<section><h2>Test call</h2><p class="muted">The box calls the number through the modem, plays a 1 kHz tone once answered and hangs up.</p>{test_form}<table id="test-calls"><tr><th>at</th><th>number</th><th>kind</th><th>result</th></tr>{test_rows}</table></section>
"#
    );
    let actions = if admin {
        format!(
            r#"<section><h2>Backup and restore</h2><p><a href="/api/system/backup" id="backup" download>Download a backup</a> <span class="muted">(database, configuration, voicemail, recordings and the box's certificate and key: keep it safe)</span></p>
<label for="restore-file">Restore from a backup (checked first; applied at the next start)</label><input type="file" id="restore-file" accept=".tar,application/x-tar"> <button type="button" data-upload="/api/system/restore" data-file="restore-file" data-out="restore-result" id="restore">Check and stage</button><p class="error" id="restore-result"></p>{}</section>
<section><h2>Service</h2><button type="button" class="light" data-post="/api/system/restart" data-ask="Restart the service? Calls in progress end." data-out="restart-result" id="restart">Restart the service</button><p id="restart-result" class="error"></p></section>"#,
            if pending {
                r#"<p class="ok" id="restore-pending">A checked backup is staged: it replaces the data at the next start (restart the service).</p>"#
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    page(
        "System",
        Some(&s),
        "/system",
        &format!(
            r#"<div class="grid"><section><h2>Software</h2><table><tr><th>version</th><td id="version">{}</td></tr><tr><th>board</th><td>{}</td></tr><tr><th>started</th><td>{}</td></tr><tr><th>data</th><td>{}</td></tr></table></section>
<section><h2>Modem and SIM</h2><table id="modem-info">{modem}</table><h2>Signal</h2>{signal}</section></div>
{test_section}{actions}<section><h2>Log (last 200 lines)</h2><pre class="diff" id="log-tail">{logs}</pre></section>"#,
            esc(st.version),
            esc(&st.board),
            esc(&st.started_at),
            esc(&web.options.data_dir.display().to_string()),
            signal = sparkline(&web.signal.samples()),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_picture_maps_dbm_to_height() {
        let s = |d| SignalSample {
            at: "2026-03-02T10:00:00Z".into(),
            dbm: Some(d),
            registration: Some("home".into()),
        };
        let pic = sparkline(&[s(-113), s(-51), s(-200)]);
        assert!(
            pic.contains(r#"points="0.0,60.0 300.0,4.0 600.0,60.0""#),
            "{pic}"
        );
        assert!(sparkline(&[]).contains("no samples yet"));
    }

    #[test]
    fn only_backup_paths_are_allowed() {
        for ok in [
            "switchboard.db",
            "config.toml",
            "voicemail/1.opus",
            "recordings/a/greeting.wav",
            "tls/cert.pem",
        ] {
            assert!(allowed(Path::new(ok)), "{ok}");
        }
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "voicemail",
            "other.db",
            "tls/../../x",
            "./switchboard.db",
        ] {
            assert!(!allowed(Path::new(bad)), "{bad}");
        }
    }
}
