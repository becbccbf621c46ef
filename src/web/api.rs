//! JSON handlers (described by `openapi.rs`; the pages' JS uses these too).

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};

use super::{ApiError, PrepareError, Session, SimCall, Web, auth, unix_now};
use crate::exchange::{Command, CommandResult};
use crate::store::web::{CdrFilter, Role};

type ApiResult<T> = Result<T, ApiError>;

pub(super) async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi_document())
}

/// Who is signed in, and the CSRF token for state changes.
#[derive(Debug, Serialize)]
pub(super) struct SessionInfo {
    account: String,
    role: Role,
    csrf: String,
}

pub(super) async fn session(Extension(s): Extension<Session>) -> Json<SessionInfo> {
    Json(SessionInfo {
        account: s.account,
        role: s.role,
        csrf: s.csrf,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct SetupRequest {
    token: String,
    name: String,
    password: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginRequest {
    name: String,
    password: String,
}

fn limiter_check(web: &Web, addr: IpAddr) -> ApiResult<()> {
    let l = web
        .limiter
        .lock()
        .map_err(|_| ApiError::internal(anyhow::anyhow!("limiter lock")))?;
    if let Err(wait) = l.check(addr, Instant::now()) {
        let secs = wait.as_secs().max(1);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed attempts from this address: wait {secs} s and try again"),
        );
        e.retry_after = Some(secs);
        return Err(e);
    }
    Ok(())
}

fn limiter_failure(web: &Web, addr: IpAddr) {
    if let Ok(mut l) = web.limiter.lock() {
        l.failure(addr, Instant::now());
    }
}

/// Creates a session and answers with its cookie.
async fn start_session(
    web: &Arc<Web>,
    name: String,
    role: Role,
    addr: IpAddr,
) -> ApiResult<Response> {
    let token = auth::new_token();
    let csrf = auth::new_token();
    let hash = auth::token_hash(&token);
    let (n, c) = (name.clone(), csrf.clone());
    web.db(move |s| {
        s.expire_sessions(unix_now() - 24 * 3600)?;
        s.insert_session(&hash, &n, &c, unix_now(), &addr.to_string())?;
        s.audit(&n, &addr.to_string(), "login", "signed in")
    })
    .await?;
    let secure = if web.options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}",
        auth::SESSION_COOKIE
    );
    let mut r = Json(SessionInfo {
        account: name,
        role,
        csrf,
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

pub(super) async fn setup(
    State(web): State<Arc<Web>>,
    Extension(addr): Extension<IpAddr>,
    Json(req): Json<SetupRequest>,
) -> ApiResult<Response> {
    limiter_check(&web, addr)?;
    let expected = web.db(|s| Ok((s.setup_token()?, s.admin_count()?))).await?;
    let token = match expected {
        (Some(t), 0) => t,
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "this box is already set up: log in (forgotten password: run `switchboard reset-password` on the box)",
            ));
        }
    };
    if !auth::setup_token_matches(&token, &req.token) {
        limiter_failure(&web, addr);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong setup token: `switchboard setup-token` on the box prints it",
        ));
    }
    if let Some(p) = auth::account_name_problem(&req.name) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("name: {p}"),
        ));
    }
    if let Some(p) = auth::password_problem(&req.password, &req.name) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("password: {p}"),
        ));
    }
    let pw = req.password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&pw))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        .map_err(ApiError::internal)?;
    let name = req.name.clone();
    web.db(move |s| {
        s.upsert_account(&name, Role::Admin, &hash)?;
        s.clear_setup_token()?;
        s.audit(
            &name,
            &addr.to_string(),
            "setup",
            "first admin password set; setup token void",
        )
    })
    .await?;
    start_session(&web, req.name, Role::Admin, addr).await
}

pub(super) async fn login(
    State(web): State<Arc<Web>>,
    Extension(addr): Extension<IpAddr>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Response> {
    limiter_check(&web, addr)?;
    let name = req.name.clone();
    let stored = web.db(move |s| s.account_hash(&name)).await?;
    let pw = req.password;
    let ok_role = tokio::task::spawn_blocking(move || match stored {
        Some((hash, role)) => auth::verify_password(&pw, &hash).then_some(role),
        None => {
            auth::verify_password(&pw, auth::dummy_hash());
            None
        }
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    let Some(role) = ok_role else {
        limiter_failure(&web, addr);
        let name = req.name.clone();
        let _ = web
            .db(move |s| {
                s.audit(
                    &name,
                    &addr.to_string(),
                    "login.failed",
                    "wrong name or password",
                )
            })
            .await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong name or password",
        ));
    };
    if let Ok(mut l) = web.limiter.lock() {
        l.success(addr);
    }
    start_session(&web, req.name, role, addr).await
}

pub(super) async fn logout(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
) -> ApiResult<Response> {
    let (h, who, addr) = (
        s.token_hash.clone(),
        s.account.clone(),
        s.address.to_string(),
    );
    web.db(move |st| {
        st.delete_session(&h)?;
        st.audit(&who, &addr, "logout", "signed out")
    })
    .await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sb_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

pub(super) async fn status(State(web): State<Arc<Web>>) -> ApiResult<Json<super::ServiceStatus>> {
    web.status
        .read()
        .map(|s| Json(s.clone()))
        .map_err(|_| ApiError::internal(anyhow::anyhow!("status lock poisoned")))
}

/// Who is on call now: each schedule's people, each policy's levels.
#[derive(Debug, Serialize)]
pub(super) struct OnCallNow {
    at: String,
    pub(super) schedules: Vec<(String, Vec<String>)>,
    pub(super) policies: Vec<(String, Vec<Vec<String>>)>,
}

pub(super) fn oncall_now(web: &Web) -> OnCallNow {
    let cfg = web.current.read().map(|c| c.0.clone()).ok();
    let at = jiff::Timestamp::now();
    let mut out = OnCallNow {
        at: at.to_string(),
        schedules: Vec::new(),
        policies: Vec::new(),
    };
    if let Some(cfg) = cfg {
        for s in &cfg.model.schedules {
            out.schedules.push((
                s.id.clone(),
                s.on_call(at).into_iter().map(|o| o.user).collect(),
            ));
        }
        for p in &cfg.policies {
            let (levels, _) = crate::routing::resolved_levels(&cfg, p.id.get_ref(), at);
            out.policies.push((p.id.get_ref().clone(), levels));
        }
    }
    out
}

pub(super) async fn oncall(State(web): State<Arc<Web>>) -> Json<OnCallNow> {
    Json(oncall_now(&web))
}

pub(super) async fn events(
    State(web): State<Arc<Web>>,
    Extension(session): Extension<Session>,
) -> ApiResult<Response> {
    let Some(b) = &web.backend else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is not running",
        ));
    };
    let rx = b.engine.subscribe();
    // the stream ends soon after its session does (logout, reset-password)
    let mut check = tokio::time::interval(Duration::from_secs(5));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (rx, check, web.clone(), session.token_hash);
    let stream = futures_util::stream::unfold(state, |(mut rx, mut check, web, h)| async move {
        loop {
            tokio::select! {
                r = rx.recv() => {
                    let e = match r {
                        Ok(ev) => Event::default()
                            .event("call")
                            .json_data(&ev)
                            .unwrap_or_else(|_| Event::default().comment("unserialisable")),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            Event::default().event("lagged").data(n.to_string())
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    };
                    return Some((Ok::<_, Infallible>(e), (rx, check, web, h)));
                }
                _ = check.tick() => {
                    let h2 = h.clone();
                    let alive = web.db(move |s| Ok(s.session(&h2)?.is_some())).await.unwrap_or(false);
                    if !alive {
                        return None;
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// One CDR row of the list.
#[derive(Debug, Serialize)]
pub(super) struct CdrRow {
    id: i64,
    #[serde(flatten)]
    cdr: crate::call::Cdr,
}

fn check_filter(f: &CdrFilter) -> ApiResult<()> {
    for (k, v) in [("from", &f.from), ("to", &f.to)] {
        if let Some(v) = v {
            if v.parse::<jiff::Timestamp>().is_err() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("{k}: `{v}` is not a time: write e.g. 2026-03-02T10:00:00Z"),
                ));
            }
        }
    }
    Ok(())
}

pub(super) async fn cdr_rows(web: &Arc<Web>, mut f: CdrFilter) -> ApiResult<Vec<CdrRow>> {
    // an empty field of the page's filter form filters nothing
    for v in [&mut f.from, &mut f.to, &mut f.routing_number, &mut f.caller] {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            *v = None;
        }
    }
    check_filter(&f)?;
    // compare as stored (jiff's canonical UTC form)
    for v in [&mut f.from, &mut f.to].into_iter().flatten() {
        if let Ok(t) = v.parse::<jiff::Timestamp>() {
            *v = t.to_string();
        }
    }
    let rows = web.db(move |s| s.cdr_list(&f)).await?;
    Ok(rows
        .into_iter()
        .map(|(id, cdr)| CdrRow { id, cdr })
        .collect())
}

pub(super) async fn cdrs(
    State(web): State<Arc<Web>>,
    Query(f): Query<CdrFilter>,
) -> ApiResult<Json<Vec<CdrRow>>> {
    Ok(Json(cdr_rows(&web, f).await?))
}

/// The configuration in force.
#[derive(Debug, Serialize)]
pub(super) struct ConfigText {
    version: Option<i64>,
    toml: String,
}

pub(super) async fn config_get(State(web): State<Arc<Web>>) -> ApiResult<Json<ConfigText>> {
    let v = web.db(|s| s.latest_config_version()).await?;
    Ok(Json(ConfigText {
        version: v.as_ref().map(|v| v.id),
        toml: v.map(|v| v.toml).unwrap_or_default(),
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct ConfigBody {
    toml: String,
}

pub(super) async fn config_check(
    State(web): State<Arc<Web>>,
    Json(b): Json<ConfigBody>,
) -> ApiResult<Json<serde_json::Value>> {
    match crate::config::Config::parse("configuration", &b.toml, &web.board) {
        Ok(_) => Ok(Json(serde_json::json!({ "ok": true, "problems": [] }))),
        Err(e) => Err(ApiError::invalid_config(&e)),
    }
}

/// A configuration version saved and in force.
#[derive(Debug, Serialize)]
pub(super) struct Applied {
    version: i64,
}

/// Validates and renders a configuration text and hands it to the engine for new
/// calls (the caller holds `apply_lock`). Nothing is saved.
async fn prepare_and_reload(
    web: &Arc<Web>,
    toml: String,
) -> ApiResult<(Arc<crate::config::Config>, Arc<crate::media::PromptLibrary>)> {
    let Some(b) = &web.backend else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is not running",
        ));
    };
    let web2 = web.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let b = web2.backend.as_ref().expect("checked above");
        (b.prepare)(&toml)
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    let (cfg, prompts) = match prepared {
        Ok(p) => p,
        Err(PrepareError::Invalid(e)) => return Err(ApiError::invalid_config(&e)),
        Err(PrepareError::Failed(e)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the configuration is valid but cannot be made ready: {e:#}; nothing was saved"
                ),
            ));
        }
    };
    let engine = b.engine.clone();
    let cmd = Command::Reload {
        cfg: cfg.clone(),
        prompts: prompts.clone(),
    };
    let result = tokio::task::spawn_blocking(move || engine.command(cmd, Duration::from_secs(10)))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    match result {
        Ok(CommandResult::Done) => {}
        Ok(other) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the engine refused the configuration: {other:?}; nothing was saved"),
            ));
        }
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{e:#}; nothing was saved"),
            ));
        }
    }
    if let Ok(mut p) = web.prompts.write() {
        *p = Some(prompts.clone());
    }
    Ok((cfg, prompts))
}

/// Validates, renders and applies a configuration text; saves it as a new version only
/// once the engine took it.
pub(super) async fn apply(
    web: &Arc<Web>,
    s: &Session,
    toml: String,
    source: String,
) -> ApiResult<i64> {
    let _one = web.apply_lock.lock().await;
    let (cfg, _) = prepare_and_reload(web, toml.clone()).await?;
    let (who, addr) = (s.account.clone(), s.address.to_string());
    let src = source.clone();
    let id = web
        .db(move |st| {
            let id = st.insert_config_version(&who, &src, &toml)?;
            st.audit(
                &who,
                &addr,
                "config.apply",
                &format!("version {id} ({src}) in force for new calls"),
            )?;
            Ok(id)
        })
        .await?;
    if let Ok(mut c) = web.current.write() {
        *c = (cfg, Some(id));
    }
    if let Ok(mut st) = web.status.write() {
        st.config_version = Some(id);
    }
    Ok(id)
}

/// The text of the configuration version in force (what page edits start from).
pub(super) async fn config_text_in_force(web: &Arc<Web>) -> ApiResult<String> {
    web.db(|st| Ok(st.latest_config_version()?.map(|v| v.toml)))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no saved configuration: save the configuration once first",
            )
        })
}

/// Renders the prompts of the configuration in force again (an uploaded recording
/// changed) and hands them to the engine for new calls; no new version. Audited as
/// `action` with `detail`.
pub(super) async fn rerender(
    web: &Arc<Web>,
    s: &Session,
    action: &str,
    detail: String,
) -> ApiResult<()> {
    let _one = web.apply_lock.lock().await;
    let text = config_text_in_force(web).await?;
    let (cfg, _) = prepare_and_reload(web, text).await?;
    if let Ok(mut c) = web.current.write() {
        c.0 = cfg;
    }
    let (who, addr, action) = (s.account.clone(), s.address.to_string(), action.to_string());
    web.db(move |st| st.audit(&who, &addr, &action, &detail))
        .await
}

pub(super) async fn config_save(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Json(b): Json<ConfigBody>,
) -> ApiResult<Json<Applied>> {
    let version = apply(&web, &s, b.toml, "web".into()).await?;
    Ok(Json(Applied { version }))
}

/// A version without its text.
#[derive(Debug, Serialize)]
pub(super) struct VersionSummary {
    id: i64,
    created_at: String,
    account: String,
    source: String,
}

pub(super) async fn versions(State(web): State<Arc<Web>>) -> ApiResult<Json<Vec<VersionSummary>>> {
    let v = web.db(|s| s.config_versions(200)).await?;
    Ok(Json(
        v.into_iter()
            .map(|v| VersionSummary {
                id: v.id,
                created_at: v.created_at,
                account: v.account,
                source: v.source,
            })
            .collect(),
    ))
}

/// A version with its text and the diff against the previous one.
#[derive(Debug, Serialize)]
pub(super) struct VersionDetail {
    #[serde(flatten)]
    pub(super) version: crate::store::web::ConfigVersion,
    pub(super) previous: Option<i64>,
    pub(super) diff: String,
}

pub(super) async fn version_detail(web: &Arc<Web>, id: i64) -> ApiResult<VersionDetail> {
    let (v, prev) = web
        .db(move |s| Ok((s.config_version(id)?, s.previous_config_version(id)?)))
        .await?;
    let Some(v) = v else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no configuration version {id}"),
        ));
    };
    let old = prev.as_ref().map(|p| p.toml.as_str()).unwrap_or("");
    let diff = similar::TextDiff::from_lines(old, v.toml.as_str())
        .unified_diff()
        .context_radius(3)
        .header(
            &prev
                .as_ref()
                .map_or("(none)".to_string(), |p| format!("version {}", p.id)),
            &format!("version {}", v.id),
        )
        .to_string();
    Ok(VersionDetail {
        previous: prev.map(|p| p.id),
        version: v,
        diff,
    })
}

pub(super) async fn version(
    State(web): State<Arc<Web>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<VersionDetail>> {
    Ok(Json(version_detail(&web, id).await?))
}

pub(super) async fn rollback(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Applied>> {
    let v = web.db(move |st| st.config_version(id)).await?;
    let Some(v) = v else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no configuration version {id}"),
        ));
    };
    let version = apply(&web, &s, v.toml, format!("rollback to {id}")).await?;
    Ok(Json(Applied { version }))
}

#[derive(Debug, Deserialize)]
pub(super) struct Limit {
    limit: Option<i64>,
}

pub(super) async fn audit(
    State(web): State<Arc<Web>>,
    Query(l): Query<Limit>,
) -> ApiResult<Json<Vec<crate::store::web::AuditEntry>>> {
    let n = l.limit.unwrap_or(200).clamp(1, 10_000);
    Ok(Json(web.db(move |s| s.audit_log(n)).await?))
}

pub(super) async fn accounts(
    State(web): State<Arc<Web>>,
) -> ApiResult<Json<Vec<crate::store::web::Account>>> {
    Ok(Json(web.db(|s| s.accounts()).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct NewAccount {
    name: String,
    password: String,
    role: Role,
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "admin" => Ok(Role::Admin),
            "viewer" => Ok(Role::Viewer),
            other => Err(serde::de::Error::custom(format!(
                "role `{other}`: use `admin` or `viewer`"
            ))),
        }
    }
}

pub(super) async fn account_add(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Json(a): Json<NewAccount>,
) -> ApiResult<(StatusCode, Json<crate::store::web::Account>)> {
    if let Some(p) = auth::account_name_problem(&a.name) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("name: {p}"),
        ));
    }
    if let Some(p) = auth::password_problem(&a.password, &a.name) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("password: {p}"),
        ));
    }
    if a.name == s.account && a.role != s.role {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "role: you cannot change the kind of the account you are signed in with (another admin can)",
        ));
    }
    let pw = a.password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&pw))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        .map_err(ApiError::internal)?;
    let (name, role, who, addr) = (
        a.name.clone(),
        a.role,
        s.account.clone(),
        s.address.to_string(),
    );
    let acc = web
        .db(move |st| {
            st.upsert_account(&name, role, &hash)?;
            st.audit(
                &who,
                &addr,
                "account.set",
                &format!(
                    "account `{name}` ({}) created or its password changed",
                    role.as_str()
                ),
            )?;
            Ok(st.accounts()?.into_iter().find(|x| x.name == name))
        })
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("account vanished")))?;
    Ok((StatusCode::CREATED, Json(acc)))
}

pub(super) async fn account_delete(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    if name == s.account {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot delete the account you are signed in with",
        ));
    }
    let (who, addr) = (s.account.clone(), s.address.to_string());
    let existed = web
        .db(move |st| {
            let e = st.delete_account(&name)?;
            if e {
                st.audit(
                    &who,
                    &addr,
                    "account.delete",
                    &format!("account `{name}` deleted"),
                )?;
            }
            Ok(e)
        })
        .await?;
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "no such account"))
    }
}

pub(super) async fn hangup(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<u64>,
) -> ApiResult<StatusCode> {
    let Some(b) = &web.backend else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is not running",
        ));
    };
    let engine = b.engine.clone();
    let r = tokio::task::spawn_blocking(move || {
        engine.command(Command::Hangup { call: id }, Duration::from_secs(5))
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    match r {
        Ok(CommandResult::Done) => {
            let (who, addr) = (s.account.clone(), s.address.to_string());
            web.db(move |st| st.audit(&who, &addr, "call.hangup", &format!("call {id} hung up")))
                .await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(CommandResult::Rejected(why)) => Err(ApiError::new(StatusCode::NOT_FOUND, why)),
        Ok(other) => Err(ApiError::internal(anyhow::anyhow!(
            "unexpected answer {other:?}"
        ))),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{e:#}"),
        )),
    }
}

pub(super) async fn sim_call(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Json(c): Json<SimCall>,
) -> ApiResult<StatusCode> {
    let Some(tx) = web.backend.as_ref().and_then(|b| b.sim_calls.as_ref()) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "only the simulated board places test callers",
        ));
    };
    if web.board.port_kind(&c.port).is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "port: no port `{}` on this board ({})",
                c.port,
                web.board.port_ids().join(", ")
            ),
        ));
    }
    if !c
        .keys
        .chars()
        .all(|k| k.is_ascii_digit() || k == '*' || k == '#')
        || c.keys.len() > 16
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "keys: use up to 16 of 0-9, * and #",
        ));
    }
    if !(1..=600).contains(&c.hangup_after_seconds) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hangup_after_seconds: use 1 to 600",
        ));
    }
    tx.try_send(c.clone()).map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the simulator is busy; try again",
        )
    })?;
    let (who, addr) = (s.account.clone(), s.address.to_string());
    web.db(move |st| {
        st.audit(
            &who,
            &addr,
            "sim.call",
            &format!("simulated caller on {}", c.port),
        )
    })
    .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `/metrics` in Prometheus text format, behind its own bearer token.
pub(super) async fn metrics(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(expected) = web.options.metrics_token.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "metrics are off (start with --metrics-token-file)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !auth::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "metrics need `Authorization: Bearer <metrics token>`",
        ));
    }
    let st = web
        .status
        .read()
        .map(|s| s.clone())
        .map_err(|_| ApiError::internal(anyhow::anyhow!("status lock")))?;
    let attempts = web.db(|s| s.attempts_by_outcome()).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_text(&st, &attempts),
    )
        .into_response())
}

/// The Prometheus exposition of a status snapshot.
pub fn metrics_text(st: &super::ServiceStatus, attempts: &[(String, i64)]) -> String {
    use std::fmt::Write;
    let mut m = String::new();
    let mut g = |name: &str, kind: &str, help: &str, lines: Vec<(String, f64)>| {
        let _ = writeln!(m, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in lines {
            let _ = writeln!(m, "{name}{labels} {v}");
        }
    };
    g(
        "switchboard_engine_running",
        "gauge",
        "1 while the call engine runs",
        vec![(String::new(), st.engine_running as u8 as f64)],
    );
    g(
        "switchboard_calls_total",
        "counter",
        "Calls taken in since start",
        vec![(String::new(), st.calls_total as f64)],
    );
    g(
        "switchboard_calls_active",
        "gauge",
        "Calls in progress",
        vec![(String::new(), st.exchange.calls.len() as f64)],
    );
    g(
        "switchboard_queue_length",
        "gauge",
        "Calls waiting for a free line",
        vec![(String::new(), st.exchange.queued as f64)],
    );
    g(
        "switchboard_cdrs_stored",
        "gauge",
        "Call detail records in the store",
        vec![(String::new(), st.cdrs_stored as f64)],
    );
    g(
        "switchboard_attempts",
        "gauge",
        "Responder attempts in stored CDRs by outcome",
        attempts
            .iter()
            .map(|(o, n)| (format!("{{outcome=\"{o}\"}}"), *n as f64))
            .collect(),
    );
    if let Some(modem) = &st.exchange.modem {
        let sig = modem.signal_dbm.map(f64::from).unwrap_or(f64::NAN);
        g(
            "switchboard_modem_signal_dbm",
            "gauge",
            "Modem signal (dBm)",
            vec![(String::new(), sig)],
        );
        g(
            "switchboard_modem_ready",
            "gauge",
            "1 once the modem is initialised",
            vec![(String::new(), modem.ready as u8 as f64)],
        );
        let reg = modem.registration.unwrap_or("unknown");
        g(
            "switchboard_modem_registered",
            "gauge",
            "1 when registered (home or roaming)",
            vec![(
                format!("{{registration=\"{reg}\"}}"),
                matches!(reg, "home" | "roaming") as u8 as f64,
            )],
        );
    }
    m
}
