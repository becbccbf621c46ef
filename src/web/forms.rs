//! Configuration forms: edits by configuration path, applied to the TOML text in force
//! with `toml_edit` (comments and the rest of the file survive), checked by the same
//! rules as `check-config`, and saved through the same path as the TOML editor (a new
//! version, the audit log, a reload command to the engine). Nothing is saved when the
//! check fails.
//!
//! An edit names a value by the path the checker uses in its problems
//! (`user[2].phone`, `schedule[0].layer[1].shift`,
//! `routing_number[0].support_hours.holiday[3].date`), so a problem's key leads back
//! to the form field that caused it. The pages are in `forms_page.rs`.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use toml_edit::{DocumentMut, Item, TableLike};

use super::openapi::{obj, ok, op_body};
use super::{ApiError, ProblemJson, Session, Web};

type ApiResult<T> = Result<T, ApiError>;

/// Most edits one request may carry.
pub const MAX_EDITS: usize = 300;
const MAX_PATH: usize = 200;

/// The routes of the forms (pages and API).
pub(super) fn routes() -> axum::Router<Arc<Web>> {
    use axum::routing::post;
    super::forms_page::routes()
        .route("/api/config/edit", post(edit_save))
        .route("/api/config/edit/check", post(edit_check))
}

/// One step of a configuration path: a key, and an index when the key holds a list of
/// tables.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Step {
    /// The key.
    pub key: String,
    /// The index into the key's list of tables.
    pub index: Option<usize>,
}

/// Parses `user[2].phone` into its steps.
pub fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let how =
        "write it as the checker names keys, e.g. `user[0].phone` or `schedule[1].layer[0].shift`";
    if path.is_empty() || path.len() > MAX_PATH {
        return Err(format!(
            "`{}` is not a configuration path: {how}",
            path.chars().take(60).collect::<String>()
        ));
    }
    let mut out = Vec::new();
    for seg in path.split('.') {
        let (key, index) = match seg.split_once('[') {
            Some((k, rest)) => {
                let Some(n) = rest.strip_suffix(']') else {
                    return Err(format!("`{path}` is not a configuration path: {how}"));
                };
                let Ok(n) = n.parse::<usize>() else {
                    return Err(format!(
                        "`{path}`: `[{n}]` is not an index: use a number from 0"
                    ));
                };
                (k, Some(n))
            }
            None => (seg, None),
        };
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!("`{path}` is not a configuration path: {how}"));
        }
        out.push(Step {
            key: key.to_string(),
            index,
        });
    }
    Ok(out)
}

/// One form edit: a value at a path, or `null` to remove the key (or the list entry).
#[derive(Debug, Clone, Deserialize)]
pub struct Edit {
    /// The configuration path.
    pub path: String,
    /// Text, a number, true/false, a list of those, or null (remove).
    #[serde(default)]
    pub value: Value,
}

/// A set of edits against a configuration version.
#[derive(Debug, Clone, Deserialize)]
pub struct EditRequest {
    /// The version the form was filled from; another version in force means someone
    /// saved in between (409).
    #[serde(default)]
    pub base_version: Option<i64>,
    /// The edits: values first in the order given, then removals (deepest and last
    /// entries first, so indices stay right).
    pub edits: Vec<Edit>,
}

/// Why a set of edits could not be applied: the path and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditProblem {
    /// The edit's path.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn problem(path: &str, message: impl Into<String>) -> EditProblem {
    EditProblem {
        path: path.to_string(),
        message: message.into(),
    }
}

fn to_toml(path: &str, v: &Value) -> Result<toml_edit::Value, EditProblem> {
    let bad = || {
        problem(
            path,
            "the value must be text, a number, true/false or a list of those",
        )
    };
    Ok(match v {
        Value::Bool(b) => (*b).into(),
        Value::String(s) => s.as_str().into(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into(),
            (None, Some(f)) => f.into(),
            _ => return Err(bad()),
        },
        Value::Array(items) => {
            let mut a = toml_edit::Array::new();
            for x in items {
                if matches!(x, Value::Array(_) | Value::Object(_) | Value::Null) {
                    return Err(bad());
                }
                a.push(to_toml(path, x)?);
            }
            toml_edit::Value::Array(a)
        }
        Value::Null | Value::Object(_) => return Err(bad()),
    })
}

/// The table at `steps` (creating missing tables and one new list entry at the end of a
/// list when `create`).
fn table_at<'a>(
    root: &'a mut dyn TableLike,
    steps: &[Step],
    path: &str,
    create: bool,
) -> Result<&'a mut dyn TableLike, EditProblem> {
    let mut t = root;
    for (n, st) in steps.iter().enumerate() {
        let here = steps[..=n]
            .iter()
            .map(|s| match s.index {
                Some(i) => format!("{}[{i}]", s.key),
                None => s.key.clone(),
            })
            .collect::<Vec<_>>()
            .join(".");
        if t.get(&st.key).is_none() {
            if !create || st.index.is_some_and(|i| i > 0) {
                return Err(problem(
                    path,
                    format!("there is no `{here}` in the configuration: reload the page"),
                ));
            }
            let item = if st.index.is_some() {
                Item::ArrayOfTables(toml_edit::ArrayOfTables::new())
            } else {
                Item::Table(toml_edit::Table::new())
            };
            t.insert(&st.key, item);
        }
        let item = t.get_mut(&st.key).expect("inserted above");
        t = match st.index {
            None => item.as_table_like_mut().ok_or_else(|| {
                problem(
                    path,
                    format!("`{here}` is a value, not a table: edit it on the Configuration page"),
                )
            })?,
            Some(i) => {
                let len = match &*item {
                    Item::ArrayOfTables(a) => a.len(),
                    Item::Value(toml_edit::Value::Array(a)) => a.len(),
                    _ => {
                        return Err(problem(
                            path,
                            format!(
                                "`{}` is not a list of tables: edit it on the Configuration page",
                                st.key
                            ),
                        ));
                    }
                };
                if i > len || (i == len && !create) {
                    return Err(problem(
                        path,
                        format!(
                            "there is no `{here}`: the list has {len} entries (index {len} adds one); reload the page"
                        ),
                    ));
                }
                match item {
                    Item::ArrayOfTables(a) => {
                        if i == len {
                            a.push(toml_edit::Table::new());
                        }
                        a.get_mut(i).expect("in range") as &mut dyn TableLike
                    }
                    Item::Value(toml_edit::Value::Array(a)) => {
                        if i == len {
                            a.push(toml_edit::InlineTable::new());
                        }
                        a.get_mut(i)
                            .and_then(|v| v.as_inline_table_mut())
                            .map(|t| t as &mut dyn TableLike)
                            .ok_or_else(|| {
                                problem(
                                    path,
                                    format!(
                                        "`{here}` is not a table: edit it on the Configuration page"
                                    ),
                                )
                            })?
                    }
                    _ => unreachable!("checked above"),
                }
            }
        };
    }
    Ok(t)
}

fn set(doc: &mut DocumentMut, path: &str, steps: &[Step], v: &Value) -> Result<(), EditProblem> {
    let (last, parents) = steps.split_last().expect("paths are never empty");
    if last.index.is_some() {
        return Err(problem(
            path,
            "a list entry takes its values key by key (e.g. `user[3].id`), or null to remove it",
        ));
    }
    let mut new = to_toml(path, v)?;
    let t = table_at(doc.as_table_mut(), parents, path, true)?;
    match t.get_mut(&last.key) {
        Some(Item::Value(old)) => {
            // keep the spacing and a trailing comment
            *new.decor_mut() = old.decor().clone();
            *old = new;
        }
        Some(Item::None) | None => {
            t.insert(&last.key, Item::Value(new));
        }
        Some(_) => {
            return Err(problem(
                path,
                format!("`{path}` is a table, not a value: edit its keys one by one"),
            ));
        }
    }
    Ok(())
}

fn remove(doc: &mut DocumentMut, path: &str, steps: &[Step]) -> Result<(), EditProblem> {
    let (last, parents) = steps.split_last().expect("paths are never empty");
    let Ok(t) = table_at(doc.as_table_mut(), parents, path, false) else {
        return Ok(()); // nothing there: nothing to remove
    };
    match last.index {
        None => {
            t.remove(&last.key);
        }
        Some(i) => match t.get_mut(&last.key) {
            Some(Item::ArrayOfTables(a)) if i < a.len() => {
                a.remove(i);
                if a.is_empty() {
                    t.remove(&last.key);
                }
            }
            Some(Item::Value(toml_edit::Value::Array(a))) if i < a.len() => {
                a.remove(i);
            }
            _ => {
                return Err(problem(
                    path,
                    format!("there is no `{path}` to remove: reload the page"),
                ));
            }
        },
    }
    // a sub-table left empty goes (an empty `[routing_number.queue]` says nothing)
    let mut up = parents.to_vec();
    while let Some(st) = up.pop() {
        if st.index.is_some() {
            break;
        }
        let Ok(t) = table_at(doc.as_table_mut(), &up, path, false) else {
            break;
        };
        if t.get(&st.key)
            .and_then(|i| i.as_table_like())
            .is_some_and(|x| x.is_empty())
        {
            t.remove(&st.key);
        } else {
            break;
        }
    }
    Ok(())
}

/// Applies edits to a configuration text: values in the order given, then removals
/// (deepest and highest index first). Comments and layout of the rest survive.
pub fn apply_edits(text: &str, edits: &[Edit]) -> Result<String, EditProblem> {
    if edits.len() > MAX_EDITS {
        return Err(problem(
            "",
            format!("{} edits at once; at most {MAX_EDITS}", edits.len()),
        ));
    }
    let mut doc: DocumentMut = text.parse().map_err(|e| {
        problem(
            "",
            format!("the configuration in force does not parse: {e}"),
        )
    })?;
    let mut removals = Vec::new();
    for e in edits {
        let steps = parse_path(&e.path).map_err(|m| problem(&e.path, m))?;
        if e.value.is_null() {
            removals.push((steps, e.path.as_str()));
        } else {
            set(&mut doc, &e.path, &steps, &e.value)?;
        }
    }
    removals.sort_by(|a, b| b.0.cmp(&a.0));
    for (steps, path) in removals {
        remove(&mut doc, path, &steps)?;
    }
    Ok(doc.to_string())
}

/// Gives a problem without a key (the TOML reader's own: wrong type, missing field) the
/// path of the edit it is about, found by its line in the edited text.
pub fn locate_problems(text: &str, edits: &[Edit], problems: &mut [ProblemJson]) {
    let Ok(doc) = toml_edit::Document::parse(text) else {
        return;
    };
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    // (line, path) of each edited value, and of each table an edit went into
    let mut values = Vec::new();
    let mut tables = Vec::new();
    for e in edits {
        let Ok(steps) = parse_path(&e.path) else {
            continue;
        };
        let mut item: &Item = doc.as_item();
        let mut prefix = String::new();
        for (n, st) in steps.iter().enumerate() {
            let Some(next) = item.get(&st.key) else {
                break;
            };
            item = next;
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(&st.key);
            if let Some(i) = st.index {
                let Some(next) = item.get(i) else {
                    break;
                };
                item = next;
                prefix.push_str(&format!("[{i}]"));
            }
            let span = match item {
                Item::Value(v) => v.span(),
                Item::Table(t) => t.span(),
                _ => None,
            };
            if let Some(span) = span {
                if n + 1 == steps.len() && item.is_value() {
                    values.push((line_of(span.start), prefix.clone()));
                } else if item.is_table_like() {
                    tables.push((line_of(span.start), prefix.clone()));
                }
            }
        }
    }
    for p in problems.iter_mut().filter(|p| p.key.is_empty()) {
        let Some(line) = p.line else { continue };
        if let Some((_, path)) = values.iter().find(|(l, _)| *l == line) {
            p.key = path.clone();
            continue;
        }
        // a missing field is reported at the table's header
        if let Some((_, path)) = tables.iter().rev().find(|(l, _)| *l == line) {
            p.key = match missing_field(&p.message) {
                Some(f) => format!("{path}.{f}"),
                None => path.clone(),
            };
        }
    }
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.split("missing field `").nth(1)?;
    rest.split('`').next()
}

fn edit_error(e: EditProblem) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("{}; nothing was saved", e.message),
    );
    err.problems = vec![ProblemJson {
        line: None,
        column: None,
        key: e.path,
        message: e.message,
    }];
    err
}

/// The text in force with the request's edits, after the version check.
async fn edited(web: &Arc<Web>, req: &EditRequest) -> ApiResult<String> {
    let (text, version) = web
        .db(|st| Ok(st.latest_config_version()?.map(|v| (v.toml, v.id))))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no saved configuration: save the configuration once first",
            )
        })?;
    if let Some(base) = req.base_version {
        if base != version {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "the configuration changed since this form was filled (version {base}; version {version} is in force now): reload the page and make the change again"
                ),
            ));
        }
    }
    if req.edits.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no edits: change a field first",
        ));
    }
    apply_edits(&text, &req.edits).map_err(edit_error)
}

/// The checker's verdict on an edited text, with problems led back to the edits.
fn check(web: &Web, text: &str, edits: &[Edit]) -> ApiResult<()> {
    match crate::config::Config::parse("configuration", text, &web.board) {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut err = ApiError::invalid_config(&e);
            locate_problems(text, edits, &mut err.problems);
            Err(err)
        }
    }
}

/// What the version's audit entry and "from" column say: the items edited.
fn source(edits: &[Edit]) -> String {
    let mut items: Vec<String> = Vec::new();
    for e in edits {
        let item = match parse_path(&e.path) {
            Ok(steps) => match &steps[0] {
                Step {
                    key,
                    index: Some(i),
                } => format!("{key}[{i}]"),
                Step { key, .. } => key.clone(),
            },
            Err(_) => continue,
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    let mut s = format!("form: {}", items.join(", "));
    if s.chars().count() > 120 {
        s = s.chars().take(117).collect::<String>() + "...";
    }
    s
}

pub(super) async fn edit_check(
    State(web): State<Arc<Web>>,
    Json(req): Json<EditRequest>,
) -> ApiResult<Json<Value>> {
    let text = edited(&web, &req).await?;
    check(&web, &text, &req.edits)?;
    Ok(Json(json!({ "ok": true, "problems": [] })))
}

pub(super) async fn edit_save(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Json(req): Json<EditRequest>,
) -> ApiResult<Json<Value>> {
    let text = edited(&web, &req).await?;
    // the same check `apply` makes, first here so that problems name the form's fields
    check(&web, &text, &req.edits)?;
    let version = super::api::apply(&web, &s, text, source(&req.edits)).await?;
    Ok(Json(json!({ "version": version })))
}

/// The OpenAPI paths of the forms.
pub(super) fn openapi_paths() -> Value {
    let s = |t: &str| json!({ "type": t });
    let body = obj(
        json!({
            "base_version": { "type": "integer", "format": "int64", "nullable": true,
                "description": "the version the form was filled from (409 when another is in force)" },
            "edits": { "type": "array", "maxItems": MAX_EDITS, "items": obj(json!({
                "path": { "type": "string", "description": "configuration path as the checker names keys, e.g. user[0].phone" },
                "value": { "nullable": true, "description": "text, number, true/false, a list of those; null removes the key or list entry" }
            }), &["path"]) }
        }),
        &["edits"],
    );
    json!({
        "/api/config/edit": { "post": op_body(
            "Edit the configuration by path (the forms): applied to the TOML in force, checked like check-config, saved as a new version; 422 with the problems at their paths, nothing saved",
            body.clone(),
            json!({ "200": ok(obj(json!({ "version": s("integer") }), &["version"])) })) },
        "/api/config/edit/check": { "post": op_body(
            "The same edits checked only (nothing saved): what the forms call as you type",
            body,
            json!({ "200": ok(obj(json!({ "ok": s("boolean"), "problems": s("array") }), &["ok"])) })) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BoardProfile, Config};

    fn e(path: &str, value: Value) -> Edit {
        Edit {
            path: path.into(),
            value,
        }
    }

    fn parse(text: &str) -> Result<Config, crate::config::ConfigError> {
        Config::parse("t", text, &BoardProfile::sim())
    }

    #[test]
    fn paths_parse_like_the_checker_names_keys() {
        assert_eq!(
            parse_path("schedule[1].layer[0].shift").unwrap(),
            vec![
                Step {
                    key: "schedule".into(),
                    index: Some(1)
                },
                Step {
                    key: "layer".into(),
                    index: Some(0)
                },
                Step {
                    key: "shift".into(),
                    index: None
                },
            ]
        );
        for bad in [
            "",
            "user[x].id",
            "user[0.id",
            "User[0].id",
            "a..b",
            "user[0]x",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_user_on_a_layer_keeps_comments_and_checks() {
        let text = crate::config::DEMO_CONFIG_TOML;
        let new = apply_edits(
            text,
            &[
                e("user[4].id", json!("erin")),
                e("user[4].name", json!("Erin Example")),
                e("user[4].phone", json!(["+491705555555"])),
                e(
                    "schedule[0].layer[0].users",
                    json!(["alice", "bob", "erin"]),
                ),
            ],
        )
        .unwrap();
        assert!(new.contains("# A weekly rotation with a nights-and-weekends layer on top."));
        let cfg = parse(&new).unwrap();
        assert_eq!(cfg.users.len(), 5);
        assert_eq!(cfg.users[4].id.get_ref(), "erin");
        let users: Vec<&str> = cfg.schedules[0].layers[0]
            .users
            .iter()
            .map(|u| u.get_ref().as_str())
            .collect();
        assert_eq!(users, ["alice", "bob", "erin"]);
        // the second layer kept its restrictions
        assert_eq!(cfg.schedules[0].layers[1].restrictions.len(), 2);
        // only the lines edited changed
        let old: Vec<&str> = text.lines().collect();
        let changed = new.lines().filter(|l| !old.contains(l)).count();
        assert!(changed <= 5, "{new}");
    }

    #[test]
    fn nested_lists_and_sub_tables_are_created_and_removed() {
        let text = crate::config::DEMO_CONFIG_TOML;
        // support hours with a holiday on the second routing number; a layer added to
        // the schedule, with a restriction
        let new = apply_edits(
            text,
            &[
                e(
                    "routing_number[1].support_hours.time_zone",
                    json!("Europe/Berlin"),
                ),
                e(
                    "routing_number[1].support_hours.window[0].days",
                    json!(["mon-fri"]),
                ),
                e(
                    "routing_number[1].support_hours.window[0].from",
                    json!("08:00"),
                ),
                e(
                    "routing_number[1].support_hours.window[0].to",
                    json!("17:00"),
                ),
                e(
                    "routing_number[1].support_hours.holiday[0].date",
                    json!("2026-12-25"),
                ),
                e(
                    "routing_number[1].support_hours.holiday[0].yearly",
                    json!(true),
                ),
                e("schedule[0].layer[2].users", json!(["dave"])),
                e("schedule[0].layer[2].shift", json!("1d")),
                e("schedule[0].layer[2].start", json!("2026-02-02")),
                e("schedule[0].layer[2].restriction[0].days", json!(["sat"])),
                e("schedule[0].layer[2].restriction[0].from", json!("10:00")),
                e("schedule[0].layer[2].restriction[0].to", json!("12:00")),
                e("routing_number[0].queue.max_callers", json!(3)),
            ],
        )
        .unwrap();
        let cfg = parse(&new).unwrap_or_else(|e| panic!("{e}\n{new}"));
        let sh = cfg.routing_numbers[1].support_hours.as_ref().unwrap();
        assert_eq!(sh.holidays.len(), 1);
        assert_eq!(sh.windows.len(), 1);
        assert!(cfg.routing_numbers[0].support_hours.is_none());
        assert_eq!(cfg.schedules[0].layers.len(), 3);
        assert_eq!(cfg.schedules[0].layers[2].restrictions.len(), 1);
        assert_eq!(cfg.schedules[0].layers[1].restrictions.len(), 2);
        assert_eq!(*cfg.routing_numbers[0].queue.max_callers.get_ref(), 3);

        // remove: the holiday, the restricted layer's first restriction and the queue
        // setting (its table goes with it), and the first user's list entry
        let back = apply_edits(
            &new,
            &[
                e("routing_number[1].support_hours.holiday[0]", Value::Null),
                e("schedule[0].layer[1].restriction[0]", Value::Null),
                e("schedule[0].layer[1].restriction[1]", Value::Null),
                e("routing_number[0].queue.max_callers", Value::Null),
            ],
        )
        .unwrap();
        let cfg = parse(&back).unwrap_or_else(|e| panic!("{e}\n{back}"));
        assert!(
            cfg.routing_numbers[1]
                .support_hours
                .as_ref()
                .unwrap()
                .holidays
                .is_empty()
        );
        assert!(cfg.schedules[0].layers[1].restrictions.is_empty());
        assert_eq!(cfg.schedules[0].layers[2].restrictions.len(), 1);
        assert!(!back.contains("[routing_number.queue]"), "{back}");
    }

    #[test]
    fn bad_edits_name_the_path_and_the_fix() {
        let text = crate::config::DEMO_CONFIG_TOML;
        let err = apply_edits(text, &[e("user[9].id", json!("x"))]).unwrap_err();
        assert_eq!(err.path, "user[9].id");
        assert!(err.message.contains("index 4 adds one"), "{}", err.message);
        let err = apply_edits(text, &[e("user[0].phone", json!({ "a": 1 }))]).unwrap_err();
        assert!(err.message.contains("text, a number"), "{}", err.message);
        let err = apply_edits(text, &[e("user[0]", json!("x"))]).unwrap_err();
        assert!(err.message.contains("key by key"), "{}", err.message);
        let err = apply_edits(text, &[e("site.name.more", json!("x"))]).unwrap_err();
        assert!(err.message.contains("not a table"), "{}", err.message);
    }

    #[test]
    fn the_checkers_problems_lead_back_to_the_field() {
        let text = crate::config::DEMO_CONFIG_TOML;
        let edits = [
            e("user[4].id", json!("erin")),
            e("user[4].phone", json!(["0170 555"])),
        ];
        let new = apply_edits(text, &edits).unwrap();
        let err = parse(&new).unwrap_err();
        assert!(
            err.problems.iter().any(|p| p.key == "user[4].phone[0]"),
            "{err}"
        );
        // the reader's own problems carry no key: found by the edited line
        let edits = [e("routing_number[0].menu_tries", json!("three"))];
        let new = apply_edits(text, &edits).unwrap();
        let err = parse(&new).unwrap_err();
        let mut problems = ProblemJson::all(&err);
        locate_problems(&new, &edits, &mut problems);
        assert_eq!(
            problems[0].key, "routing_number[0].menu_tries",
            "{problems:?}"
        );
        // a missing required key: at the new table's header
        let edits = [e("schedule[0].layer[2].users", json!(["dave"]))];
        let new = apply_edits(text, &edits).unwrap();
        let err = parse(&new).unwrap_err();
        let mut problems = ProblemJson::all(&err);
        locate_problems(&new, &edits, &mut problems);
        assert!(
            problems[0].key.starts_with("schedule[0].layer[2]"),
            "{problems:?}"
        );
    }
}
