//! The System page: software version, modem and SIM (with SIM PIN entry), the log
//! tail (the service's own ring buffer), test calls, backup and restore (in
//! `backup.rs`) and restart.
//!
//! - **SIM PIN** (`POST /api/system/sim-pin`, admins): 4–8 digits, sent to the engine
//!   as `Command::EnterSimPin`; the modem driver sends it once while the SIM asks for
//!   its PIN and never again by itself. The answer waits for the driver's typed
//!   verdict (accepted / rejected with the attempts left / not judged). The PIN is
//!   never logged or stored; the audit log says "SIM PIN entered (accepted)".
//! - **Restart** (`POST /api/system/restart`): the service stops like on SIGTERM (calls
//!   in progress end) and exits with a failure code, so systemd (`Restart=on-failure`)
//!   starts it again.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::backup::{DB, PENDING_DIR};
use super::openapi::{ok, op, with_params};
use super::pages::{esc, page};
use super::{ApiError, Session, Web};
use crate::exchange::{Command, CommandResult};
use crate::modem::{Pin, PinEntryResult};
use crate::store::sms_log::TestCallRow;
use crate::store::web::Role;

type ApiResult<T> = Result<T, ApiError>;

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
        .route("/api/system/backup", get(super::backup::backup))
        .route("/api/system/restore", post(super::backup::restore))
        .route("/api/system/sim-pin", post(sim_pin))
        .route("/api/system/restart", post(restart))
        .route("/api/test-call", post(test_call))
        .route("/api/test-calls", get(test_calls))
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

#[derive(Deserialize)]
pub(super) struct SimPinRequest {
    pin: String,
}

/// How long the page waits for the SIM's verdict on a PIN (the entry, the attempts
/// query and a busy SIM asked again for up to 30 s).
const SIM_PIN_WAIT: Duration = Duration::from_secs(90);

/// `POST /api/system/sim-pin`: the PIN goes to the engine as
/// [`Command::EnterSimPin`]; the answer is the modem driver's verdict.
pub(super) async fn sim_pin(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Json(req): Json<SimPinRequest>,
) -> ApiResult<Response> {
    let pin = Pin::parse(&req.pin)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("pin: {e}")))?;
    let Some(b) = &web.backend else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is not running",
        ));
    };
    // subscribed before the command, so the verdict cannot pass by unseen
    let mut verdicts = b.engine.sim_pin_results();
    let engine = b.engine.clone();
    let sent = tokio::task::spawn_blocking(move || {
        engine.command(Command::EnterSimPin { pin }, Duration::from_secs(5))
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    match sent {
        Ok(CommandResult::Done) => {}
        // the SIM does not ask for a PIN, another is being checked, no modem
        Ok(CommandResult::Rejected(why)) => return Err(ApiError::new(StatusCode::CONFLICT, why)),
        Ok(other) => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "unexpected answer {other:?}"
            )));
        }
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{e:#}"),
            ));
        }
    }
    let verdict = tokio::time::timeout(SIM_PIN_WAIT, async {
        loop {
            match verdicts.recv().await {
                Ok(v) => return Some(v),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten();
    let word = match &verdict {
        Some(PinEntryResult::Accepted) => "accepted",
        Some(PinEntryResult::Rejected { .. }) => "rejected",
        Some(PinEntryResult::NotJudged { .. }) | None => "not judged",
    };
    let (who, addr) = (s.account.clone(), s.address.to_string());
    web.db(move |st| st.audit(&who, &addr, "sim.pin", &format!("SIM PIN entered ({word})")))
        .await?;
    let Some(verdict) = verdict else {
        return Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the modem did not report the SIM's verdict within {} s: look at the SIM state on this page before you try again",
                SIM_PIN_WAIT.as_secs()
            ),
        ));
    };
    let message = verdict.describe();
    Ok(match verdict {
        PinEntryResult::Accepted => {
            Json(json!({ "result": "accepted", "message": message })).into_response()
        }
        PinEntryResult::Rejected {
            attempts_left,
            puk_required,
        } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "error": format!("pin: {message}"),
                "problems": [],
                "result": "rejected",
                "attempts_left": attempts_left,
                "puk_required": puk_required,
            })),
        )
            .into_response(),
        PinEntryResult::NotJudged { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{message}: look at the SIM state on this page before you try again"),
        )
        .into_response(),
    })
}

/// The SIM state of the modem's status in words for the page.
pub fn sim_state_words(sim: Option<&str>) -> &'static str {
    match sim {
        Some("ready") => "READY",
        Some("pin_required" | "pin_rejected") => "SIM PIN needed",
        Some("puk_required") => "SIM PUK needed (blocked: unblock it in a phone with the PUK)",
        Some("not_inserted") => "absent (no SIM card)",
        Some("busy") => "busy (starting)",
        Some("failure") => "failed (reseat or replace the SIM)",
        Some("device_locked" | "pin2_required" | "puk2_required") => {
            "locked otherwise (see the log)"
        }
        _ => "not known yet (the modem is starting)",
    }
}

/// The SIM part of the page: its state and, when it asks for its PIN, the form.
fn sim_section(modem: Option<&crate::modem::ModemStatus>, admin: bool) -> String {
    let Some(m) = modem else {
        return String::new();
    };
    let needs_pin = matches!(m.sim, Some("pin_required" | "pin_rejected"));
    let attempts = m
        .sim_pin_attempts
        .map(|n| {
            format!(r#" <span id="sim-attempts" class="error">({n} PIN attempts left)</span>"#)
        })
        .unwrap_or_default();
    let form = if needs_pin && admin {
        r#"<form id="sim-pin-form" data-api="/api/system/sim-pin"><label for="sim-pin">SIM PIN</label> <input id="sim-pin" name="pin" type="password" inputmode="numeric" autocomplete="off" minlength="4" maxlength="8" pattern="[0-9]{4,8}" required> <button type="submit" id="sim-pin-send">Send the PIN</button> <span class="field-error" data-error-for="pin"></span><p class="form-error error"></p>
<p class="muted">Sent to the SIM once and never retried by the box: three wrong PINs block the SIM (it then needs its PUK, entered in a phone). To have the box enter it at every start, set <code>pin</code> in the board profile's <code>[modem]</code> section.</p></form>"#
    } else if needs_pin {
        r#"<p class="muted">An admin can enter the PIN here.</p>"#
    } else {
        ""
    };
    format!(
        r#"<section><h2>SIM</h2><p>State: <strong id="sim-state" data-sim="{}">{}</strong>{attempts}</p>{form}</section>
"#,
        esc(m.sim.unwrap_or("")),
        esc(sim_state_words(m.sim)),
    )
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
        "/api/system/sim-pin": { "post": {
            "summary": "Enter the SIM's PIN (admins; only while the SIM asks for it): sent once, never retried; answers with the SIM's verdict",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                "properties": { "pin": { "type": "string", "description": "4 to 8 digits" } }, "required": ["pin"] } } } },
            "responses": { "200": ok(json!({ "type": "object", "properties": { "result": { "type": "string", "enum": ["accepted"] }, "message": s("string") }, "required": ["result", "message"] })),
                "422": { "description": "not 4-8 digits, or the SIM refused the PIN (result rejected, with the attempts left when the modem tells)", "content": { "application/json": { "schema": { "type": "object",
                    "properties": { "error": s("string"), "problems": s("array"), "result": { "type": "string", "enum": ["rejected"] },
                        "attempts_left": { "type": "integer", "nullable": true }, "puk_required": s("boolean") }, "required": ["error", "problems"] } } } },
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
<label for="restore-file">Restore from a backup (at most {limit} MiB; checked first, a bad file changes nothing; applied at the next start)</label><input type="file" id="restore-file" accept=".tar,application/x-tar"> <button type="button" data-upload="/api/system/restore" data-file="restore-file" data-out="restore-result" id="restore">Check and stage</button><p class="error" id="restore-result"></p>{}</section>
<section><h2>Service</h2><button type="button" class="light" data-post="/api/system/restart" data-ask="Restart the service? Calls in progress end." data-out="restart-result" id="restart">Restart the service</button><p id="restart-result" class="error"></p></section>"#,
            if pending {
                r#"<p class="ok" id="restore-pending">A checked backup is staged: it replaces the data at the next start (restart the service).</p>"#
            } else {
                ""
            },
            limit = web.options.max_restore_bytes / (1024 * 1024),
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
{sim}{test_section}{actions}<section><h2>Log (last 200 lines)</h2><pre class="diff" id="log-tail">{logs}</pre></section>"#,
            esc(st.version),
            esc(&st.board),
            esc(&st.started_at),
            esc(&web.options.data_dir.display().to_string()),
            signal = sparkline(&web.signal.samples()),
            sim = sim_section(st.exchange.modem.as_ref(), admin),
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
}
