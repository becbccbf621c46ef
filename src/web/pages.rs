//! Server-rendered pages: plain HTML with one small embedded stylesheet and script
//! (`assets/`), no asset from the internet. Every value is escaped with [`esc`].

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use super::{Session, Web};
use crate::store::web::{CdrFilter, Role};

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

pub(super) fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/", get(dashboard))
        .route("/login", get(login))
        .route("/setup", get(setup))
        .route("/calls", get(calls))
        .route("/config", get(config))
        .route("/config/versions/{id}", get(version))
        .route("/audit", get(audit))
        .route("/accounts", get(accounts))
        .route(
            "/static/app.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css"),
                        (header::CACHE_CONTROL, "max-age=3600"),
                    ],
                    CSS,
                )
            }),
        )
        .route(
            "/static/app.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript"),
                        (header::CACHE_CONTROL, "max-age=3600"),
                    ],
                    JS,
                )
            }),
        )
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

pub(super) fn page(title: &str, s: Option<&Session>, active: &str, body: &str) -> Response {
    let nav = match s {
        Some(s) => {
            let link = |href: &str, name: &str| {
                format!(
                    r#"<a href="{href}"{}>{name}</a>"#,
                    if href == active { r#" class="on""# } else { "" }
                )
            };
            format!(
                r#"<nav>{}{}{}{}{}{}{}{}{}{}{}</nav><span class="me"><span id="me">{}</span> ({}) <button class="light" id="logout">log out</button></span>"#,
                link("/", "Dashboard"),
                link("/calls", "Calls"),
                link("/schedules", "Schedules"),
                link("/prompts", "Greeting"),
                link("/voicemail", "Voicemail"),
                link("/alerts", "Alerts"),
                link("/settings", "Settings"),
                link("/config", "Configuration"),
                link("/audit", "Audit log"),
                link("/accounts", "Accounts"),
                link("/system", "System"),
                esc(&s.account),
                s.role.as_str()
            )
        }
        None => String::new(),
    };
    let csrf = s.map(|s| esc(&s.csrf)).unwrap_or_default();
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="csrf" content="{csrf}"><title>{t} · Switchboard</title><link rel="stylesheet" href="/static/app.css"></head><body><header><strong>Switchboard</strong>{nav}</header><main><h1>{t}</h1>{body}</main><script src="/static/app.js"></script></body></html>"#,
        t = esc(title)
    );
    let mut r = Html(html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        axum::http::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    r
}

async fn setup_state(web: &Arc<Web>) -> (bool, bool) {
    web.db(|s| Ok((s.admin_count()? > 0, s.setup_token()?.is_some())))
        .await
        .unwrap_or((true, false))
}

async fn login(State(web): State<Arc<Web>>) -> Response {
    if !setup_state(&web).await.0 {
        return Redirect::to("/setup").into_response();
    }
    page(
        "Log in",
        None,
        "",
        r#"<section><form id="login-form" data-api="/api/login" data-next="/">
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="field-error" data-error-for="password"></div>
<button type="submit" id="login">Log in</button><p class="form-error error" id="login-error"></p></form>
<p class="muted">Forgotten password: run <code>switchboard reset-password</code> on the box, then set a new one with the setup token it prints.</p></section>"#,
    )
}

async fn setup(State(web): State<Arc<Web>>) -> Response {
    if setup_state(&web).await.0 {
        return Redirect::to("/login").into_response();
    }
    page(
        "Set up this box",
        None,
        "",
        r#"<section><p>This box has no password yet. Type the <strong>setup token</strong> it printed on its console
(or run <code>switchboard setup-token</code> on it), then choose the admin account's password. The token is void afterwards.</p>
<form id="setup-form" data-api="/api/setup" data-next="/" data-confirm="1">
<label for="token">Setup token</label><input id="token" name="token" autocomplete="off" placeholder="XXXX-XXXX-XXXX-XXXX-XXXX" required>
<div class="field-error" data-error-for="token"></div>
<label for="name">Admin name</label><input id="name" name="name" value="admin" autocomplete="username" required>
<div class="field-error" data-error-for="name"></div>
<label for="password">New password (at least 10 characters)</label><input id="password" name="password" type="password" autocomplete="new-password" required>
<div class="field-error" data-error-for="password"></div>
<label for="password2">The same again</label><input id="password2" name="password2" type="password" autocomplete="new-password" required>
<div class="field-error" data-error-for="password2"></div>
<button type="submit" id="setup">Set the password</button><p class="form-error error" id="setup-error"></p></form></section>"#,
    )
}

async fn dashboard(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let oncall = super::api::oncall_now(&web);
    let mut who = String::new();
    for (policy, levels) in &oncall.policies {
        let lv = levels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "level {}: {}",
                    i + 1,
                    if l.is_empty() {
                        "nobody".to_string()
                    } else {
                        esc(&l.join(", "))
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        who.push_str(&format!(
            r#"<tr data-policy="{p}"><td>{p}</td><td>{lv}</td></tr>"#,
            p = esc(policy)
        ));
    }
    for (schedule, users) in &oncall.schedules {
        who.push_str(&format!(
            r#"<tr data-schedule="{s}"><td>schedule {s}</td><td>{u}</td></tr>"#,
            s = esc(schedule),
            u = if users.is_empty() {
                "nobody (gap)".into()
            } else {
                esc(&users.join(", "))
            }
        ));
    }
    let sim = if web.backend.as_ref().is_some_and(|b| b.sim_calls.is_some())
        && s.role == Role::Admin
    {
        let ports = web
            .board
            .port_ids()
            .iter()
            .map(|p| format!(r#"<option>{}</option>"#, esc(p)))
            .collect::<String>();
        format!(
            r#"<section><h2>Test caller (simulated board)</h2><form id="sim-form" data-api="/api/sim/call" data-next="/">
<label for="sim-port">Port</label><select id="sim-port" name="port">{ports}</select>
<label for="sim-caller">Caller ID</label><input id="sim-caller" name="caller_id" value="+15551234567">
<label for="sim-keys">Keys after the greeting</label><input id="sim-keys" name="keys" value="">
<label for="sim-hangup">Hang up after (s)</label><input id="sim-hangup" name="hangup_after_seconds" type="number" value="8">
<div class="field-error" data-error-for="port"></div><button type="submit" id="sim-call">Ring in</button><p class="form-error error"></p></form></section>"#
        )
    } else {
        String::new()
    };
    let messages = super::messages::dashboard_section(&web).await;
    let body = format!(
        r#"<p id="summary" class="muted"></p><div class="grid">
<section><h2>Calls in progress</h2><div class="scroll"><table><thead><tr><th>call</th><th>routing number</th><th>phase</th><th></th></tr></thead><tbody id="live-calls"></tbody></table></div>
<h2>Live</h2><ul id="events" class="muted"></ul></section>
<section><h2>Ports</h2><table><thead><tr><th>port</th><th>kind</th><th>state</th><th>call</th></tr></thead><tbody id="ports"></tbody></table></section>
<section><h2>Modem</h2><table id="modem"></table></section>
<section><h2>On call now</h2><table id="oncall">{who}</table></section></div>
<section><h2>Last calls</h2><div class="scroll"><table><thead><tr><th>started</th><th>routing number</th><th>caller</th><th>end</th><th>duration</th></tr></thead><tbody id="last-calls"></tbody></table></div><p><a href="/calls">all calls</a></p></section>
{messages}
{sim}"#
    );
    page("Dashboard", Some(&s), "/", &body)
}

async fn calls(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Query(f): Query<CdrFilter>,
) -> Response {
    let q = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    let form = format!(
        r#"<form method="get" action="/calls" class="grid"><div><label for="f-from">From (RFC 3339)</label><input id="f-from" name="from" value="{}"></div>
<div><label for="f-to">To</label><input id="f-to" name="to" value="{}"></div><div><label for="f-rn">Routing number id</label><input id="f-rn" name="routing_number" value="{}"></div>
<div><label for="f-caller">Caller contains</label><input id="f-caller" name="caller" value="{}"></div><div><button type="submit">Filter</button></div></form>"#,
        q(&f.from),
        q(&f.to),
        q(&f.routing_number),
        q(&f.caller)
    );
    let csv_q = serde_urlencoded_like(&f);
    let rows = match super::api::cdr_rows(&web, f).await {
        Ok(r) => r,
        Err(e) => {
            return page(
                "Calls",
                Some(&s),
                "/calls",
                &format!(r#"{form}<p class="error">{}</p>"#, esc(&e.error)),
            );
        }
    };
    let mut t = String::new();
    for r in &rows {
        let v = serde_json::to_value(r).unwrap_or_default();
        let g = |k: &str| {
            esc(&v[k].as_str().map(str::to_string).unwrap_or_else(|| {
                if v[k].is_null() {
                    String::new()
                } else {
                    v[k].to_string()
                }
            }))
        };
        let attempts = v["attempts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        format!(
                            "{} {}",
                            x["user"].as_str().unwrap_or(""),
                            x["outcome"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        t.push_str(&format!(
            r#"<tr data-cdr="{}" data-call="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="end">{}</td><td>{:.1} s</td></tr>"#,
            g("id"), g("call_id"), g("started_at"), g("routing_number"), g("port"), g("caller_id"), g("option_label"),
            esc(&attempts), g("end_reason"), v["duration_seconds"].as_f64().unwrap_or(0.0)
        ));
    }
    if rows.is_empty() {
        t.push_str(r#"<tr><td colspan="8" class="muted">no calls match</td></tr>"#);
    }
    let body = format!(
        r#"<section>{form}<p><a id="csv" href="/api/cdrs/export?format=csv&amp;{csv_q}">Export CSV</a> <span class="muted">(every matching call, the columns of <code>switchboard cdr export</code>)</span></p></section><section class="scroll"><table><thead><tr><th>started</th><th>routing number</th><th>port</th><th>caller</th><th>option</th><th>attempts</th><th>end</th><th>duration</th></tr></thead><tbody id="cdrs">{t}</tbody></table></section>"#
    );
    page("Calls", Some(&s), "/calls", &body)
}

fn serde_urlencoded_like(f: &CdrFilter) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    [
        ("from", &f.from),
        ("to", &f.to),
        ("routing_number", &f.routing_number),
        ("caller", &f.caller),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.as_ref()
            .filter(|v| !v.trim().is_empty())
            .map(|v| format!("{k}={}", enc(v)))
    })
    .collect::<Vec<_>>()
    .join("&")
}

async fn config(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let (cur, versions) = match web
        .db(|st| Ok((st.latest_config_version()?, st.config_versions(50)?)))
        .await
    {
        Ok(x) => x,
        Err(e) => {
            return page(
                "Configuration",
                Some(&s),
                "/config",
                &format!(r#"<p class="error">{}</p>"#, esc(&e.error)),
            );
        }
    };
    let text = cur.as_ref().map(|v| v.toml.as_str()).unwrap_or("");
    let current = cur.as_ref().map(|v| v.id).unwrap_or(0);
    let mut rows = String::new();
    for v in &versions {
        rows.push_str(&format!(
            r#"<tr data-version="{id}"><td><a href="/config/versions/{id}">v{id}</a>{cur}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&v.created_at[..v.created_at.len().min(19)].replace('T', " ")),
            esc(&v.account),
            esc(&v.source),
            id = v.id,
            cur = if v.id == current { " <span class=\"pill idle\">in force</span>" } else { "" }
        ));
    }
    let admin = s.role == Role::Admin;
    let body = format!(
        r#"<section><h2>The configuration as TOML <span class="muted">(version {current})</span></h2>
<p class="muted">Checked as you type with the same rules as <code>switchboard check-config</code>. Saving makes a new version; calls in progress keep the configuration they started with.</p>
<textarea id="config-text" spellcheck="false" aria-label="configuration"{ro}>{text}</textarea>
<p><span id="config-state"></span></p><ul id="config-problems" class="problems error"></ul>
{save}</section>
<section><h2>Versions</h2><div class="scroll"><table><thead><tr><th>version</th><th>saved</th><th>by</th><th>from</th></tr></thead><tbody id="versions">{rows}</tbody></table></div>
<p><a href="/api/config" download="switchboard-config.json">Export (JSON with the TOML)</a></p></section>"#,
        text = esc(text),
        ro = if admin { "" } else { " readonly" },
        save = if admin {
            r#"<button id="config-save" type="button">Save and apply</button>"#
        } else {
            ""
        }
    );
    page("Configuration", Some(&s), "/config", &body)
}

async fn version(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
) -> Response {
    let d = match super::api::version_detail(&web, id).await {
        Ok(d) => d,
        Err(e) => {
            return page(
                "Configuration version",
                Some(&s),
                "/config",
                &format!(r#"<p class="error">{}</p>"#, esc(&e.error)),
            );
        }
    };
    let diff = d
        .diff
        .lines()
        .map(|l| {
            let class = if l.starts_with('+') && !l.starts_with("+++") {
                "add"
            } else if l.starts_with('-') && !l.starts_with("---") {
                "del"
            } else {
                ""
            };
            format!(r#"<span class="{class}">{}</span>"#, esc(l))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let rollback = if s.role == Role::Admin {
        format!(
            r#"<button id="rollback" data-post="/api/config/versions/{id}/rollback" data-next="/config?saved={{version}}" data-ask="Apply version {id} again? New calls will use it.">Roll back to this version</button><p id="action-result" class="error"></p>"#
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<section><p>Saved {} by {} ({})</p>{rollback}<h2>Changes against {}</h2><pre class="diff" id="diff">{diff}</pre></section><section><h2>Text</h2><pre class="diff">{}</pre></section>"#,
        esc(&d.version.created_at),
        esc(&d.version.account),
        esc(&d.version.source),
        d.previous
            .map_or("nothing (first version)".to_string(), |p| format!(
                "version {p}"
            )),
        esc(&d.version.toml)
    );
    page(
        &format!("Configuration version {id}"),
        Some(&s),
        "/config",
        &body,
    )
}

async fn audit(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let log = web.db(|st| st.audit_log(300)).await.unwrap_or_default();
    let rows = log
        .iter()
        .map(|a| {
            format!(
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&a.at[..a.at.len().min(19)].replace('T', " ")),
                esc(&a.account),
                esc(&a.address),
                esc(&a.action),
                esc(&a.detail)
            )
        })
        .collect::<String>();
    page(
        "Audit log",
        Some(&s),
        "/audit",
        &format!(
            r#"<section class="scroll"><table><thead><tr><th>when (UTC)</th><th>who</th><th>from</th><th>what</th><th>details</th></tr></thead><tbody id="audit">{rows}</tbody></table></section>"#
        ),
    )
}

async fn accounts(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let list = web.db(|st| st.accounts()).await.unwrap_or_default();
    let rows = list
        .iter()
        .map(|a| {
            format!(
                r#"<tr><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&a.name),
                a.role.as_str(),
                esc(&a.created_at)
            )
        })
        .collect::<String>();
    let form = if s.role == Role::Admin {
        r#"<section><h2>Add an account or set its password</h2><form id="account-form" data-api="/api/accounts">
<label for="acc-name">Name</label><input id="acc-name" name="name" required><div class="field-error" data-error-for="name"></div>
<label for="acc-role">Kind</label><select id="acc-role" name="role"><option value="viewer">viewer (only watches)</option><option value="admin">admin</option></select>
<label for="acc-password">Password</label><input id="acc-password" name="password" type="password" autocomplete="new-password" required><div class="field-error" data-error-for="password"></div>
<button type="submit">Save account</button><p class="form-error error"></p></form></section>"#
    } else {
        ""
    };
    page(
        "Accounts",
        Some(&s),
        "/accounts",
        &format!(
            r#"<section><table><thead><tr><th>name</th><th>kind</th><th>created</th></tr></thead><tbody id="accounts">{rows}</tbody></table></section>{form}"#
        ),
    )
}
