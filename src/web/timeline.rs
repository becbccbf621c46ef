//! Schedules on the page: who is on call for the next 14 days as a picture (an SVG
//! drawn here, one row per layer, one for the overrides, one for the result), and "I
//! take tonight", which adds an override to the configuration text and applies it like
//! any other save (a new version, the audit log, calls in progress untouched).

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::openapi::{obj, ok, op, op_body, with_params};
use super::pages::{esc, page};
use super::{ApiError, Session, Web};
use crate::config::Config;
use crate::routing::schedule::{Handoff, Schedule};
use crate::store::web::Role;

type ApiResult<T> = Result<T, ApiError>;

/// Days shown by default, and at most.
pub const DEFAULT_DAYS: i64 = 14;
const MAX_DAYS: i64 = 62;

/// The routes of this file.
pub(super) fn routes() -> axum::Router<Arc<Web>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/schedules", get(schedules_page))
        .route("/api/schedules/{id}/timeline", get(timeline_json))
        .route("/api/schedules/{id}/timeline.svg", get(timeline_svg))
        .route("/api/schedules/{id}/overrides", post(add_override))
}

/// Who is on call over a span of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// Start (inclusive).
    pub from: Timestamp,
    /// End (exclusive).
    pub to: Timestamp,
    /// User ids (empty: nobody).
    pub users: Vec<String>,
}

/// One row of the picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `layer`, `feed`, `overrides` or `on_call` (the result).
    pub kind: &'static str,
    /// What the row shows.
    pub label: String,
    /// Spans in time order.
    pub segments: Vec<Segment>,
}

/// A schedule's rows over a window.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// Schedule id.
    pub schedule: String,
    /// Its zone.
    pub time_zone: String,
    /// Window start.
    pub from: Timestamp,
    /// Window end.
    pub to: Timestamp,
    /// Rows: each layer (lowest first) or the feed, the overrides, then who is on call.
    pub rows: Vec<Row>,
}

fn segments(handoffs: Vec<Handoff>, to: Timestamp) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for (i, h) in handoffs.iter().enumerate() {
        let end = handoffs.get(i + 1).map_or(to, |n| n.at);
        if end <= h.at {
            continue;
        }
        out.push(Segment {
            from: h.at,
            to: end,
            users: h.on_call.iter().map(|o| o.user.clone()).collect(),
        });
    }
    out
}

/// The rows of a schedule between `from` and `to`.
pub fn timeline(s: &Schedule, from: Timestamp, to: Timestamp) -> Timeline {
    let alone = |layers, overrides, feed_events| Schedule {
        id: s.id.clone(),
        tz: s.tz.clone(),
        layers,
        overrides,
        feed_events,
    };
    let mut rows = Vec::new();
    for (i, l) in s.layers.iter().enumerate() {
        let one = alone(vec![l.clone()], Vec::new(), Vec::new());
        rows.push(Row {
            kind: "layer",
            label: format!("layer {}: {}", i + 1, l.name),
            segments: segments(one.timeline(from, to), to),
        });
    }
    if !s.feed_events.is_empty() {
        let feed = alone(Vec::new(), Vec::new(), s.feed_events.clone());
        rows.push(Row {
            kind: "feed",
            label: "iCal feed".into(),
            segments: segments(feed.timeline(from, to), to),
        });
    }
    let overrides: Vec<Segment> = s
        .overrides
        .iter()
        .filter(|o| o.from < to && o.to > from)
        .map(|o| Segment {
            from: o.from.max(from),
            to: o.to.min(to),
            users: vec![o.user.clone()],
        })
        .collect();
    rows.push(Row {
        kind: "overrides",
        label: "overrides".into(),
        segments: overrides,
    });
    rows.push(Row {
        kind: "on_call",
        label: "on call".into(),
        segments: segments(s.timeline(from, to), to),
    });
    Timeline {
        schedule: s.id.clone(),
        time_zone: s.tz.iana_name().unwrap_or("UTC").to_string(),
        from,
        to,
        rows,
    }
}

fn colour(user: &str) -> String {
    // a stable hue per user (FNV-1a), light enough for black text
    let mut h: u32 = 0x811c_9dc5;
    for b in user.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("hsl({},60%,72%)", h % 360)
}

/// Draws a timeline: a day scale in the schedule's zone, one bar row per [`Row`], a
/// red line at `now`, and gaps (nobody on call) hatched in red on the result row.
pub fn svg(t: &Timeline, tz: &TimeZone, now: Timestamp) -> String {
    const W: f64 = 1000.0;
    const LABEL: f64 = 150.0;
    const ROW: f64 = 30.0;
    const TOP: f64 = 34.0;
    let plot = W - LABEL - 4.0;
    let span = (t.to.as_second() - t.from.as_second()).max(1) as f64;
    let x = |ts: Timestamp| LABEL + (ts.as_second() - t.from.as_second()) as f64 / span * plot;
    let h = TOP + ROW * t.rows.len() as f64 + 6.0;
    let mut o = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="100%" role="img" aria-label="who is on call on {id}" data-schedule="{id}" font-family="system-ui,sans-serif" font-size="11"><defs><pattern id="gap-{id}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fde8e8"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b00020" stroke-width="2"/></pattern></defs>"##,
        id = esc(&t.schedule)
    );
    // day scale: a tick at each local midnight, the date under it
    let mut day = t.from.to_zoned(tz.clone()).date();
    for _ in 0..=MAX_DAYS {
        let Ok(midnight) = day.to_zoned(tz.clone()) else {
            break;
        };
        let m = midnight.timestamp();
        if m >= t.to {
            break;
        }
        if m >= t.from {
            let xm = x(m);
            o.push_str(&format!(
                r##"<line x1="{xm:.1}" y1="14" x2="{xm:.1}" y2="{h}" stroke="#d0d4d9"/><text x="{:.1}" y="12" fill="#445">{}</text>"##,
                xm + 2.0,
                day.strftime("%a %d")
            ));
        }
        match day.tomorrow() {
            Ok(d) => day = d,
            Err(_) => break,
        }
    }
    for (i, r) in t.rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        o.push_str(&format!(
            r##"<g data-row="{kind}"><text x="4" y="{:.1}" fill="#1b1f24"{bold}>{}</text>"##,
            y + ROW / 2.0 + 4.0,
            esc(&r.label),
            kind = r.kind,
            bold = if r.kind == "on_call" {
                r#" font-weight="bold""#
            } else {
                ""
            }
        ));
        for s in &r.segments {
            let (x1, x2) = (x(s.from), x(s.to));
            let names = s.users.join(", ");
            let fill = if s.users.is_empty() {
                if r.kind != "on_call" {
                    continue; // a layer with nobody: the layer below shows through
                }
                format!("url(#gap-{})", esc(&t.schedule))
            } else {
                colour(&s.users[0])
            };
            let title = format!(
                "{}: {} – {}",
                if names.is_empty() {
                    "nobody on call"
                } else {
                    &names
                },
                s.from.to_zoned(tz.clone()).strftime("%a %d %b %H:%M"),
                s.to.to_zoned(tz.clone()).strftime("%a %d %b %H:%M")
            );
            o.push_str(&format!(
                r##"<g data-users="{u}"><title>{title}</title><rect x="{x1:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="3" fill="{fill}" stroke="#fff"/>"##,
                y + 3.0,
                (x2 - x1).max(1.0),
                ROW - 6.0,
                u = esc(&names),
                title = esc(&title)
            ));
            // the name when it fits (about 6 units a character)
            let label = if names.is_empty() { "nobody" } else { &names };
            if x2 - x1 > 6.5 * label.len() as f64 + 6.0 {
                o.push_str(&format!(
                    r##"<text x="{:.1}" y="{:.1}" fill="#1b1f24">{}</text>"##,
                    x1 + 4.0,
                    y + ROW / 2.0 + 4.0,
                    esc(label)
                ));
            }
            o.push_str("</g>");
        }
        o.push_str("</g>");
    }
    if now >= t.from && now < t.to {
        let xn = x(now);
        o.push_str(&format!(
            r##"<line x1="{xn:.1}" y1="14" x2="{xn:.1}" y2="{h}" stroke="#b00020" stroke-width="2" data-now="1"/>"##
        ));
    }
    o.push_str("</svg>");
    o
}

#[derive(Debug, Deserialize)]
pub(super) struct Window {
    from: Option<String>,
    days: Option<i64>,
}

fn window(w: &Window) -> ApiResult<(Timestamp, Timestamp)> {
    let from = match w.from.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => s.parse::<Timestamp>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("from: `{s}` is not a time: write e.g. 2026-03-02T10:00:00Z"),
            )
        })?,
        None => Timestamp::now(),
    };
    let days = w.days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("days: {days} is out of range: show 1 to {MAX_DAYS} days"),
        ));
    }
    let to = from
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "from: too far in the future"))?;
    Ok((from, to))
}

fn current(web: &Web) -> ApiResult<Arc<Config>> {
    web.current
        .read()
        .map(|c| c.0.clone())
        .map_err(|_| ApiError::internal(anyhow::anyhow!("configuration lock")))
}

fn schedule<'a>(cfg: &'a Config, id: &str) -> ApiResult<&'a Schedule> {
    cfg.model.schedule(id).ok_or_else(|| {
        let ids: Vec<&str> = cfg.model.schedules.iter().map(|s| s.id.as_str()).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            if ids.is_empty() {
                format!("no schedule `{id}`: the configuration has none")
            } else {
                format!("no schedule `{id}`: use one of {}", ids.join(", "))
            },
        )
    })
}

pub(super) async fn timeline_json(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    Query(w): Query<Window>,
) -> ApiResult<Json<Timeline>> {
    let (from, to) = window(&w)?;
    let cfg = current(&web)?;
    Ok(Json(timeline(schedule(&cfg, &id)?, from, to)))
}

pub(super) async fn timeline_svg(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    Query(w): Query<Window>,
) -> ApiResult<Response> {
    let (from, to) = window(&w)?;
    let cfg = current(&web)?;
    let s = schedule(&cfg, &id)?;
    let mut r = svg(&timeline(s, from, to), &s.tz, Timestamp::now()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    Ok(r)
}

/// `{user, from?, to?}`: without times, "tonight" — from now until the next 08:00 in
/// the schedule's zone.
#[derive(Debug, Deserialize)]
pub(super) struct OverrideRequest {
    user: String,
    from: Option<String>,
    to: Option<String>,
}

/// From now until the next 08:00 local (today's if it is before 08:00), as local
/// date-times of the configuration (`YYYY-MM-DDTHH:MM`).
pub fn tonight(tz: &TimeZone, now: Timestamp) -> (String, String) {
    let z = now.to_zoned(tz.clone());
    let eight = z.date().at(8, 0, 0, 0);
    let end_day = if z.datetime() < eight {
        z.date()
    } else {
        z.date().tomorrow().unwrap_or(z.date())
    };
    (
        z.datetime().strftime("%Y-%m-%dT%H:%M").to_string(),
        end_day
            .at(8, 0, 0, 0)
            .strftime("%Y-%m-%dT%H:%M")
            .to_string(),
    )
}

/// The configuration text with one more override on schedule `id` (comments and
/// layout kept: toml_edit).
pub fn with_override(
    text: &str,
    id: &str,
    user: &str,
    from: &str,
    to: &str,
) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("the configuration in force does not parse: {e}"))?;
    let Some(schedules) = doc
        .get_mut("schedule")
        .and_then(|s| s.as_array_of_tables_mut())
    else {
        return Err(format!("no schedule `{id}` in the configuration text"));
    };
    let Some(sched) = schedules
        .iter_mut()
        .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id))
    else {
        return Err(format!("no schedule `{id}` in the configuration text"));
    };
    let mut t = toml_edit::Table::new();
    t["user"] = toml_edit::value(user);
    t["from"] = toml_edit::value(from);
    t["to"] = toml_edit::value(to);
    match sched.get_mut("override") {
        Some(item) => match item.as_array_of_tables_mut() {
            Some(a) => a.push(t),
            None => {
                return Err(format!(
                    "schedule `{id}`: `override` is not a list of tables"
                ));
            }
        },
        None => {
            let mut a = toml_edit::ArrayOfTables::new();
            a.push(t);
            sched.insert("override", toml_edit::Item::ArrayOfTables(a));
        }
    }
    Ok(doc.to_string())
}

pub(super) async fn add_override(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(req): Json<OverrideRequest>,
) -> ApiResult<Json<Value>> {
    let cfg = current(&web)?;
    let sched = schedule(&cfg, &id)?;
    if !cfg.users.iter().any(|u| u.id.get_ref() == &req.user) {
        let ids: Vec<&str> = cfg.users.iter().map(|u| u.id.get_ref().as_str()).collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "user: no user `{}`: pick one of {}",
                req.user,
                ids.join(", ")
            ),
        ));
    }
    let (from, to) = match (&req.from, &req.to) {
        (None, None) => tonight(&sched.tz, Timestamp::now()),
        (Some(f), Some(t)) => (f.clone(), t.clone()),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "from: give both from and to, or neither (tonight)",
            ));
        }
    };
    let text = super::api::config_text_in_force(&web).await?;
    let new = with_override(&text, &id, &req.user, &from, &to)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, e))?;
    let version = super::api::apply(
        &web,
        &s,
        new,
        format!("override: {} on {id} {from} – {to}", req.user),
    )
    .await?;
    Ok(Json(json!({ "version": version, "from": from, "to": to })))
}

/// The OpenAPI paths of this file.
pub(super) fn openapi_paths() -> Value {
    let s = |t: &str| json!({ "type": t });
    let id = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "schedule id" });
    let window = json!([
        id.clone(),
        { "name": "from", "in": "query", "schema": { "type": "string" }, "description": "start (RFC 3339; default now)" },
        { "name": "days", "in": "query", "schema": { "type": "integer", "format": "int64" }, "description": "1 to 62 (default 14)" }
    ]);
    let segment = obj(
        json!({ "from": s("string"), "to": s("string"), "users": { "type": "array", "items": s("string") } }),
        &["from", "to", "users"],
    );
    let row = obj(
        json!({ "kind": { "type": "string", "enum": ["layer", "feed", "overrides", "on_call"] }, "label": s("string"),
            "segments": { "type": "array", "items": segment } }),
        &["kind", "label", "segments"],
    );
    json!({
        "/api/schedules/{id}/timeline": { "get": with_params(op("Who is on call per layer, override and in the end, over a window", json!({ "200": ok(obj(json!({
            "schedule": s("string"), "time_zone": s("string"), "from": s("string"), "to": s("string"), "rows": { "type": "array", "items": row } }),
            &["schedule", "time_zone", "from", "to", "rows"])) })), window.clone()) },
        "/api/schedules/{id}/timeline.svg": { "get": with_params(op("The same as a picture", json!({ "200": { "description": "SVG",
            "content": { "image/svg+xml": { "schema": s("string") } } } })), window) },
        "/api/schedules/{id}/overrides": { "post": with_params(op_body("Add an override (without times: tonight, from now until 08:00 local) — saved as a new configuration version",
            obj(json!({ "user": s("string"), "from": s("string"), "to": s("string") }), &["user"]),
            json!({ "200": ok(obj(json!({ "version": s("integer"), "from": s("string"), "to": s("string") }), &["version", "from", "to"])) })), json!([id])) }
    })
}

async fn schedules_page(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let Ok(cfg) = current(&web) else {
        return page(
            "Schedules",
            Some(&s),
            "/schedules",
            "<p class=\"error\">no configuration</p>",
        );
    };
    let now = Timestamp::now();
    let to = now
        .checked_add(jiff::SignedDuration::from_hours(24 * DEFAULT_DAYS))
        .unwrap_or(now);
    let users = cfg
        .users
        .iter()
        .map(|u| {
            format!(
                r#"<option value="{id}">{} ({id})</option>"#,
                esc(&u.name),
                id = esc(u.id.get_ref())
            )
        })
        .collect::<String>();
    let mut body = String::new();
    for sc in &cfg.schedules {
        let id = sc.id.get_ref();
        let Some(m) = cfg.model.schedule(id) else {
            continue;
        };
        let t = timeline(m, now, to);
        let who = m.users_at(now);
        let form = if s.role == Role::Admin {
            format!(
                r#"<form data-api="/api/schedules/{id}/overrides" id="take-{id}" class="inline"><label for="take-user-{id}">I take tonight (now until 08:00, {tz})</label><select id="take-user-{id}" name="user">{users}</select> <button type="submit" id="take-button-{id}">take tonight</button><div class="field-error" data-error-for="user"></div><p class="form-error error"></p></form>"#,
                id = esc(id),
                tz = esc(&t.time_zone)
            )
        } else {
            String::new()
        };
        body.push_str(&format!(
            r#"<section data-schedule="{id}"><h2>{name} <span class="muted">({id}, {tz})</span></h2><p>On call now: <strong class="now-on-call">{who}</strong></p><div class="scroll timeline">{svg}</div>{form}</section>"#,
            id = esc(id),
            name = esc(&sc.name),
            tz = esc(&t.time_zone),
            who = if who.is_empty() { "nobody (gap)".to_string() } else { esc(&who.join(", ")) },
            svg = svg(&t, &m.tz, now)
        ));
    }
    if body.is_empty() {
        body =
            r#"<section><p class="muted">No schedule in the configuration.</p></section>"#.into();
    }
    page(
        "Schedules",
        Some(&s),
        "/schedules",
        &format!(
            r#"<p class="muted">The next {DEFAULT_DAYS} days: each layer (the highest listed wins), the overrides (they beat every layer), and who is on call in the end; red hatching is a gap. Hover a bar for its times.</p>{body}"#
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
[[user]]
id = "alice"
name = "Alice"
phone = ["+491701111111"]
[[user]]
id = "bob"
name = "Bob"
phone = ["+491702222222"]
[[user]]
id = "carol"
name = "Carol"
phone = ["+491703333333"]

# the schedule under test
[[schedule]]
id = "ops"
name = "Ops"
time_zone = "Europe/Berlin"
  [[schedule.layer]]
  name = "weekly"
  users = ["alice", "bob"]
  shift = "1w"
  start = "2026-01-05"
  handoff = "09:00"

[[schedule]]
id = "other"
name = "Other"
time_zone = "UTC"
  [[schedule.layer]]
  users = ["carol"]
  shift = "1d"
  start = "2026-01-05"
  handoff = "09:00"
"#;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn parse(text: &str) -> Config {
        Config::parse("t", text, &crate::config::BoardProfile::sim()).unwrap()
    }

    #[test]
    fn rows_per_layer_overrides_and_result_with_the_handoffs() {
        let text =
            with_override(CFG, "ops", "carol", "2026-03-03T20:00", "2026-03-04T08:00").unwrap();
        assert!(text.contains("# the schedule under test"), "comments kept");
        let cfg = parse(&text);
        assert!(
            cfg.model.schedule("other").unwrap().overrides.is_empty(),
            "only on ops"
        );
        let s = cfg.model.schedule("ops").unwrap();
        let t = timeline(s, ts("2026-03-02T00:00:00Z"), ts("2026-03-16T00:00:00Z"));
        let kinds: Vec<&str> = t.rows.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["layer", "overrides", "on_call"]);
        // the weekly layer hands off on Monday 09:00 Berlin (08:00 UTC)
        let layer = &t.rows[0].segments;
        assert_eq!(layer[1].from, ts("2026-03-02T08:00:00Z"));
        assert_eq!(layer[1].to, ts("2026-03-09T08:00:00Z"));
        let ov = &t.rows[1].segments;
        assert_eq!(ov.len(), 1);
        assert_eq!(
            (ov[0].from, ov[0].to),
            (ts("2026-03-03T19:00:00Z"), ts("2026-03-04T07:00:00Z"))
        );
        // the result: the override cuts the layer's week in three
        let res: Vec<(Timestamp, Vec<String>)> = t.rows[2]
            .segments
            .iter()
            .map(|s| (s.from, s.users.clone()))
            .collect();
        assert!(
            res.contains(&(ts("2026-03-03T19:00:00Z"), vec!["carol".to_string()])),
            "{res:?}"
        );
        let after = res
            .iter()
            .find(|(f, _)| *f == ts("2026-03-04T07:00:00Z"))
            .unwrap();
        assert_ne!(after.1, vec!["carol".to_string()]);
        let pic = svg(&t, &s.tz, ts("2026-03-05T12:00:00Z"));
        assert!(pic.starts_with("<svg") && pic.ends_with("</svg>"));
        assert!(pic.contains(r#"data-users="carol""#) && pic.contains("data-now"));
        assert_eq!(pic.matches("<g data-row=").count(), 3);
    }

    #[test]
    fn a_gap_is_drawn_and_tonight_ends_at_eight() {
        let text = CFG.replace(
            "start = \"2026-01-05\"\n  handoff = \"09:00\"\n\n[[schedule]]",
            "start = \"2026-01-05\"\n  handoff = \"09:00\"\n  end = \"2026-03-05\"\n\n[[schedule]]",
        );
        let cfg = parse(&text);
        let s = cfg.model.schedule("ops").unwrap();
        let t = timeline(s, ts("2026-03-02T00:00:00Z"), ts("2026-03-16T00:00:00Z"));
        let last = t.rows.last().unwrap().segments.last().unwrap();
        assert!(last.users.is_empty(), "nobody after the rotation ends");
        assert!(svg(&t, &s.tz, ts("2026-01-01T00:00:00Z")).contains("url(#gap-ops)"));
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            tonight(&tz, ts("2026-03-03T17:30:00Z")),
            (
                "2026-03-03T18:30".to_string(),
                "2026-03-04T08:00".to_string()
            )
        );
        assert_eq!(
            tonight(&tz, ts("2026-03-03T05:00:00Z")),
            (
                "2026-03-03T06:00".to_string(),
                "2026-03-03T08:00".to_string()
            )
        );
        assert!(
            with_override(CFG, "nope", "alice", "a", "b")
                .unwrap_err()
                .contains("no schedule `nope`")
        );
    }
}
