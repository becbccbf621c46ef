//! Voicemail, alerts and the CDR export on the page: the JSON endpoints, their part of
//! the OpenAPI document, and the two pages.
//!
//! - `GET /api/voicemails`, `GET /api/voicemails/{id}/audio` (the Ogg Opus file as
//!   `audio/ogg`, which browsers play in an `<audio>` element);
//! - `GET /api/cdrs/export?format=csv|json&from=&to=` — the same rows and columns as
//!   `switchboard cdr export` (the one CSV of call records; the Calls page links it
//!   with its filters, `routing_number=` and `caller=` narrowing the rows);
//! - `GET /api/alerts`, `POST /api/alerts/{id}/retry`, `GET /api/alerts/targets`,
//!   `POST /api/alerts/test` — what `switchboard alerts list|retry|test` do.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::openapi::{obj, ok, op, op_body, path_id, with_params};
use super::pages::{esc, page};
use super::{ApiError, Session, Web, unix_now};
use crate::store::Store;
use crate::store::voicemail::VoicemailRow;
use crate::store::web::Role;

type ApiResult<T> = Result<T, ApiError>;

/// The routes of this file.
pub(super) fn routes() -> axum::Router<Arc<Web>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/voicemails", get(voicemails))
        .route("/api/voicemails/{id}/audio", get(voicemail_audio))
        .route("/api/cdrs/export", get(cdr_export))
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/targets", get(targets))
        .route("/api/alerts/test", post(test_alert))
        .route("/api/alerts/{id}/retry", post(retry))
        .route("/voicemail", get(voicemail_page))
        .route("/alerts", get(alerts_page))
}

pub(super) async fn voicemails(State(web): State<Arc<Web>>) -> ApiResult<Json<Vec<VoicemailRow>>> {
    Ok(Json(web.db(|s| s.voicemails()).await?))
}

pub(super) async fn voicemail_audio(
    State(web): State<Arc<Web>>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let dir = web.options.data_dir.join("voicemail");
    let found = web
        .db(move |s| match s.voicemail(id)? {
            None => Ok(None),
            Some(row) if row.bytes == 0 => Ok(Some((row, Vec::new()))),
            Some(_) => s.voicemail_audio(&dir, id).map(Some),
        })
        .await?;
    let Some((row, bytes)) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no voicemail {id}: GET /api/voicemails lists them"),
        ));
    };
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("voicemail {id} has no audio: the caller said nothing"),
        ));
    }
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/ogg"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{}\"", row.file)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `?format=csv|json&from=&to=`, as `switchboard cdr export`; the Calls page's
/// filters `routing_number` (its id) and `caller` (contained in the caller ID) narrow
/// the same rows further.
#[derive(Debug, Deserialize)]
pub(super) struct ExportQuery {
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
    routing_number: Option<String>,
    caller: Option<String>,
}

fn instant(name: &str, v: &Option<String>) -> ApiResult<Option<jiff::Timestamp>> {
    v.as_deref()
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<jiff::Timestamp>().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("{name}: `{v}` is not a time: write e.g. 2026-03-02T10:00:00Z"),
                )
            })
        })
        .transpose()
}

pub(super) async fn cdr_export(
    State(web): State<Arc<Web>>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let (from, to) = (instant("from", &q.from)?, instant("to", &q.to)?);
    let json = match q.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "json" => true,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("format: `{other}` is not an export format: use csv or json"),
            ));
        }
    };
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (routing, caller) = (given(q.routing_number), given(q.caller));
    let body = web
        .db(move |s| {
            let mut rows = s.cdrs_between(from, to)?;
            rows.retain(|(_, c)| {
                routing.as_ref().is_none_or(|r| &c.routing_id == r)
                    && caller.as_ref().is_none_or(|p| {
                        c.caller_id
                            .as_deref()
                            .is_some_and(|id| id.contains(p.as_str()))
                    })
            });
            let mut buf = Vec::new();
            if json {
                crate::app::records_cli::write_json_lines(&mut buf, &rows)?;
            } else {
                crate::app::records_cli::write_csv(&mut buf, &rows)?;
            }
            Ok(buf)
        })
        .await?;
    let (ctype, ext) = if json {
        ("application/x-ndjson", "jsonl")
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"switchboard-cdrs.{ext}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// One delivery of an alert's event to a target.
#[derive(Debug, Serialize)]
pub(super) struct DeliveryJson {
    target: String,
    event: String,
    state: String,
    attempts: u32,
    last_error: Option<String>,
}

/// An alert with its deliveries.
#[derive(Debug, Serialize)]
pub(super) struct AlertJson {
    id: i64,
    cdr_id: Option<i64>,
    routing_id: String,
    summary: String,
    status: String,
    created_at: String,
    deliveries: Vec<DeliveryJson>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Limit {
    limit: Option<i64>,
}

async fn alert_list(web: &Arc<Web>, limit: i64) -> ApiResult<Vec<AlertJson>> {
    let limit = limit.clamp(1, 1000) as usize;
    let rows = web.db(move |s| s.alerts(limit)).await?;
    Ok(rows
        .into_iter()
        .map(|a| AlertJson {
            id: a.id,
            cdr_id: a.cdr_id,
            routing_id: a.routing_id,
            summary: a.summary,
            status: a.status,
            created_at: a.created_at,
            deliveries: a
                .deliveries
                .into_iter()
                .map(
                    |(target, event, state, attempts, last_error)| DeliveryJson {
                        target,
                        event,
                        state,
                        attempts,
                        last_error,
                    },
                )
                .collect(),
        })
        .collect())
}

pub(super) async fn alerts(
    State(web): State<Arc<Web>>,
    Query(q): Query<Limit>,
) -> ApiResult<Json<Vec<AlertJson>>> {
    Ok(Json(alert_list(&web, q.limit.unwrap_or(100)).await?))
}

pub(super) async fn retry(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let (account, addr) = (s.account.clone(), s.address.to_string());
    let n = web
        .db(move |st| {
            if st.alert_event_kinds(id)?.is_empty() {
                return Ok(None);
            }
            let n = st.retry_alert(id, unix_now() * 1000)?;
            st.audit(
                &account,
                &addr,
                "alert.retry",
                &format!("alert {id}: {n} deliveries due again"),
            )?;
            Ok(Some(n))
        })
        .await?;
    match n {
        Some(n) => Ok(Json(json!({ "alert": id, "due_again": n }))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no alert {id}: GET /api/alerts lists them"),
        )),
    }
}

pub(super) async fn targets(State(web): State<Arc<Web>>) -> Json<Vec<Value>> {
    let cfg = web.current.read().map(|c| c.0.clone()).ok();
    Json(
        cfg.map(|c| {
            c.alert_targets
                .iter()
                .map(|t| json!({ "name": t.name.get_ref(), "kind": t.kind.get_ref().as_str() }))
                .collect()
        })
        .unwrap_or_default(),
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct TestRequest {
    target: String,
}

pub(super) async fn test_alert(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Json(req): Json<TestRequest>,
) -> ApiResult<Json<Value>> {
    let Ok(cfg) = web.current.read().map(|c| c.0.clone()) else {
        return Err(ApiError::internal(anyhow::anyhow!("configuration lock")));
    };
    if cfg.alert_target(&req.target).is_none() {
        let names: Vec<&str> = cfg
            .alert_targets
            .iter()
            .map(|t| t.name.get_ref().as_str())
            .collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            if names.is_empty() {
                format!(
                    "target: no alert target `{}`: the configuration has none (add an [[alert_target]])",
                    req.target
                )
            } else {
                format!(
                    "target: no alert target `{}`: use one of {}",
                    req.target,
                    names.join(", ")
                )
            },
        ));
    }
    let data = web.options.data_dir.clone();
    let target = req.target.clone();
    // its own database connection: the attempt waits on the network, and the web's
    // connection must stay free meanwhile
    let (id, result) = tokio::task::spawn_blocking(move || {
        let mut store = Store::open(&data.join("switchboard.db"))?;
        crate::app::alerts_cli::send_test_alert(
            &mut store,
            cfg,
            data.join("voicemail"),
            &target,
            jiff::Timestamp::now(),
        )
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
    .map_err(ApiError::internal)?;
    let (delivered, detail) = match &result {
        crate::alerts::Attempt::Delivered(code) => (true, format!("the receiver answered {code}")),
        crate::alerts::Attempt::Retry(e) | crate::alerts::Attempt::Refused(e) => (false, e.clone()),
    };
    let (account, addr, t) = (s.account.clone(), s.address.to_string(), req.target.clone());
    let d = detail.clone();
    web.db(move |st| {
        st.audit(
            &account,
            &addr,
            "alert.test",
            &format!(
                "test alert {id} to `{t}`: {}",
                if delivered { "delivered" } else { &d }
            ),
        )
    })
    .await?;
    if !delivered {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "target `{}` did not take the test alert: {detail} (alert {id}; check its URL and key, then retry)",
                req.target
            ),
        ));
    }
    Ok(Json(
        json!({ "alert": id, "delivered": true, "detail": detail }),
    ))
}

/// The OpenAPI paths of this file.
pub(super) fn openapi_paths() -> Value {
    let s = |t: &str| json!({ "type": t });
    let ns = |t: &str| json!({ "type": t, "nullable": true });
    let voicemail = obj(
        json!({ "id": s("integer"), "call_id": s("integer"), "cdr_id": ns("integer"), "routing_id": s("string"),
            "routing_number": s("string"), "caller_id": ns("string"), "recorded_at": s("string"), "seconds": s("number"),
            "bytes": s("integer"), "sha256": s("string"), "file": s("string"), "empty": s("boolean"), "ended_by": s("string") }),
        &[
            "id",
            "routing_id",
            "recorded_at",
            "seconds",
            "bytes",
            "empty",
        ],
    );
    let delivery = obj(
        json!({ "target": s("string"), "event": s("string"), "state": { "type": "string", "enum": ["pending", "failing", "delivered", "given_up"] },
            "attempts": s("integer"), "last_error": ns("string") }),
        &["target", "event", "state", "attempts"],
    );
    let alert = obj(
        json!({ "id": s("integer"), "cdr_id": ns("integer"), "routing_id": s("string"), "summary": s("string"),
            "status": s("string"), "created_at": s("string"), "deliveries": { "type": "array", "items": delivery } }),
        &["id", "summary", "status", "created_at", "deliveries"],
    );
    let export_params = json!([
        { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["csv", "json"] }, "description": "csv (default) or json (JSON lines)" },
        { "name": "from", "in": "query", "schema": { "type": "string" }, "description": "started at or after (RFC 3339)" },
        { "name": "to", "in": "query", "schema": { "type": "string" }, "description": "started at or before (RFC 3339)" },
        { "name": "routing_number", "in": "query", "schema": { "type": "string" }, "description": "routing number id (the Calls page's filter)" },
        { "name": "caller", "in": "query", "schema": { "type": "string" }, "description": "contained in the caller ID (the Calls page's filter)" }
    ]);
    json!({
        "/api/voicemails": { "get": op("Voicemails, newest first", json!({ "200": ok(json!({ "type": "array", "items": voicemail })) })) },
        "/api/voicemails/{id}/audio": { "get": with_params(op("A voicemail's audio (Ogg Opus)", json!({ "200": {
            "description": "the recording", "content": { "audio/ogg": { "schema": { "type": "string", "format": "binary" } } } } })), path_id()) },
        "/api/cdrs/export": { "get": with_params(op("Call records as `switchboard cdr export` writes them (attachment)", json!({ "200": {
            "description": "CSV with a header, or JSON lines",
            "content": { "text/csv": { "schema": s("string") }, "application/x-ndjson": { "schema": s("string") } } } })), export_params) },
        "/api/alerts": { "get": with_params(op("Alerts, newest first, with each event's delivery state per target", json!({ "200": ok(json!({ "type": "array", "items": alert })) })),
            json!([{ "name": "limit", "in": "query", "schema": { "type": "integer", "format": "int64" } }])) },
        "/api/alerts/targets": { "get": op("The configured alert targets", json!({ "200": ok(json!({ "type": "array", "items": obj(json!({ "name": s("string"), "kind": s("string") }), &["name", "kind"]) })) })) },
        "/api/alerts/test": { "post": op_body("Send a test alert to one target now (502 with the receiver's answer when it does not take it)",
            obj(json!({ "target": s("string") }), &["target"]),
            json!({ "200": ok(obj(json!({ "alert": s("integer"), "delivered": s("boolean"), "detail": s("string") }), &["alert", "delivered", "detail"])) })) },
        "/api/alerts/{id}/retry": { "post": with_params(op("Make an alert's failing and given-up deliveries due again now",
            json!({ "200": ok(obj(json!({ "alert": s("integer"), "due_again": s("integer") }), &["alert", "due_again"])) })), path_id()) }
    })
}

/// `<audio>` with the voicemail, or a note that it has none.
fn player(v: &VoicemailRow) -> String {
    if v.bytes == 0 {
        return r#"<span class="muted">no speech</span>"#.to_string();
    }
    format!(
        r#"<audio controls preload="none" src="/api/voicemails/{id}/audio" data-voicemail="{id}"></audio> <a href="/api/voicemails/{id}/audio" download="{f}">download</a>"#,
        id = v.id,
        f = esc(&v.file)
    )
}

fn voicemail_rows(list: &[VoicemailRow]) -> String {
    if list.is_empty() {
        return r#"<tr><td colspan="5" class="muted">no voicemail</td></tr>"#.to_string();
    }
    list.iter()
        .map(|v| {
            format!(
                r#"<tr data-voicemail="{}"><td>{}</td><td>{}</td><td>{}</td><td>{:.0} s</td><td>{}</td></tr>"#,
                v.id,
                esc(&v.recorded_at[..v.recorded_at.len().min(19)].replace('T', " ")),
                esc(&v.routing_number),
                esc(v.caller_id.as_deref().unwrap_or("anonymous")),
                v.seconds,
                player(v)
            )
        })
        .collect()
}

const VM_HEAD: &str = "<thead><tr><th>recorded (UTC)</th><th>routing number</th><th>caller</th><th>length</th><th>listen</th></tr></thead>";

/// The dashboard's part: the last voicemails and the outbox.
pub(super) async fn dashboard_section(web: &Arc<Web>) -> String {
    let (vms, alerts) = web
        .db(|s| Ok((s.voicemails()?, s.alerts(5)?)))
        .await
        .unwrap_or_default();
    let last: Vec<VoicemailRow> = vms.into_iter().take(5).collect();
    let a = alerts
        .iter()
        .map(|a| {
            let states: Vec<String> = a
                .deliveries
                .iter()
                .map(|d| format!("{} {}: {}", d.0, d.1, d.2))
                .collect();
            format!(
                r#"<tr data-alert="{}"><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                a.id,
                esc(&a.summary),
                esc(&a.status),
                esc(&states.join(", "))
            )
        })
        .collect::<String>();
    format!(
        r#"<section><h2>Voicemail</h2><div class="scroll"><table>{VM_HEAD}<tbody id="dash-voicemail">{}</tbody></table></div><p><a href="/voicemail">all voicemail</a></p></section>
<section><h2>Alerts</h2><div class="scroll"><table><thead><tr><th>alert</th><th>status</th><th>deliveries</th></tr></thead><tbody id="dash-alerts">{}</tbody></table></div><p><a href="/alerts">all alerts, retry, test</a></p></section>"#,
        voicemail_rows(&last),
        if a.is_empty() {
            r#"<tr><td colspan="3" class="muted">no alert yet</td></tr>"#.to_string()
        } else {
            a
        }
    )
}

async fn voicemail_page(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let list = web.db(|st| st.voicemails()).await.unwrap_or_default();
    page(
        "Voicemail",
        Some(&s),
        "/voicemail",
        &format!(
            r#"<section class="scroll"><table>{VM_HEAD}<tbody id="voicemails">{}</tbody></table></section>"#,
            voicemail_rows(&list)
        ),
    )
}

async fn alerts_page(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let admin = s.role == Role::Admin;
    let list = alert_list(&web, 100).await.unwrap_or_default();
    let mut rows = String::new();
    for a in &list {
        let deliveries = a
            .deliveries
            .iter()
            .map(|d| {
                format!(
                    r#"<li data-target="{t}" data-state="{st}">{t} · {e}: <span class="pill {cls}">{st}</span> ({n} attempts){err}</li>"#,
                    t = esc(&d.target),
                    e = esc(&d.event),
                    st = esc(&d.state),
                    cls = if d.state == "delivered" { "idle" } else { "busy" },
                    n = d.attempts,
                    err = d
                        .last_error
                        .as_deref()
                        .map(|e| format!(r#" <span class="error">{}</span>"#, esc(e)))
                        .unwrap_or_default()
                )
            })
            .collect::<String>();
        let stuck = a
            .deliveries
            .iter()
            .any(|d| d.state == "failing" || d.state == "given_up");
        let retry = if admin && stuck {
            format!(
                r#"<button class="light" data-post="/api/alerts/{id}/retry" data-out="alert-result" id="retry-{id}">retry</button>"#,
                id = a.id
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            r#"<tr data-alert="{id}"><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td><ul class="plain">{deliveries}</ul></td><td>{retry}</td></tr>"#,
            esc(&a.created_at[..a.created_at.len().min(19)].replace('T', " ")),
            esc(&a.summary),
            esc(&a.status),
            id = a.id
        ));
    }
    if list.is_empty() {
        rows.push_str(r#"<tr><td colspan="6" class="muted">no alert yet</td></tr>"#);
    }
    let cfg = web.current.read().map(|c| c.0.clone()).ok();
    let targets = cfg
        .map(|c| {
            c.alert_targets
                .iter()
                .map(|t| {
                    let name = esc(t.name.get_ref());
                    let button = if admin {
                        format!(
                            r#"<form data-api="/api/alerts/test" class="inline"><input type="hidden" name="target" value="{name}"><button type="submit" id="test-{name}">send a test alert</button><p class="form-error error"></p></form>"#
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        r#"<tr data-target="{name}"><td>{name}</td><td>{}</td><td>{button}</td></tr>"#,
                        t.kind.get_ref().as_str()
                    )
                })
                .collect::<String>()
        })
        .unwrap_or_default();
    let targets = if targets.is_empty() {
        r#"<tr><td colspan="3" class="muted">no alert target configured (add an [[alert_target]] on the Configuration page)</td></tr>"#.to_string()
    } else {
        targets
    };
    page(
        "Alerts",
        Some(&s),
        "/alerts",
        &format!(
            r#"<section><h2>Targets</h2><table><thead><tr><th>target</th><th>kind</th><th></th></tr></thead><tbody id="targets">{targets}</tbody></table></section>
<section><h2>Alerts and their delivery</h2><p id="alert-result" class="error"></p><div class="scroll"><table><thead><tr><th>id</th><th>created (UTC)</th><th>summary</th><th>status</th><th>deliveries</th><th></th></tr></thead><tbody id="alerts">{rows}</tbody></table></div>
<p><a href="/api/cdrs/export?format=csv">Export all call records (CSV)</a> · <a href="/api/cdrs/export?format=json">(JSON lines)</a></p></section>"#
        ),
    )
}
