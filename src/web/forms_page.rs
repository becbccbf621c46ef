//! The configuration forms as pages (`/settings/...`): one page per section, one form
//! per item (a user, a schedule with its layers, ...), rendered on the server from the
//! TOML text in force. Every field is named by its configuration path, which is what the
//! checker's problems name too: `assets/forms.js` sends the changed fields to
//! `/api/config/edit/check` as you type and puts each problem next to its field.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use toml_edit::{DocumentMut, Item, TableLike};

use super::pages::{esc, page};
use super::{Session, Web};
use crate::store::web::Role;

const JS: &str = include_str!("assets/forms.js");
const CSS: &str = include_str!("assets/forms.css");

pub(super) fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route(
            "/settings",
            get(|| async { axum::response::Redirect::to("/settings/users") }),
        )
        .route("/settings/{section}", get(section_page))
        .route(
            "/static/forms.js",
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
        .route(
            "/static/forms.css",
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
}

/// What a field holds and how the form shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text the checker needs (sent as "" when empty in a new item).
    Text,
    /// Optional text (empty removes the key: the default applies).
    Opt,
    /// Optional longer text.
    Long,
    /// A list of texts, written comma-separated.
    List,
    /// A whole number the checker needs.
    Int,
    /// An optional whole number.
    OptInt,
    /// true/false.
    Bool,
    /// One of some words (optional: empty = the default).
    Choice(&'static [&'static str]),
}

/// A field of a form.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The key in the item's table.
    pub key: &'static str,
    /// The label.
    pub label: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// A hint (the format, the default).
    pub hint: &'static str,
}

/// A table of the configuration: a list of tables (`[[user]]`) or one (`[site]`).
#[derive(Debug, Clone, Copy)]
pub struct Group {
    /// Its key.
    pub key: &'static str,
    /// A list of tables.
    pub many: bool,
    /// What one is called (`user`, `layer`).
    pub noun: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
    /// Tables inside it.
    pub children: &'static [Group],
}

/// A page of forms.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// In the URL: `/settings/{slug}`.
    pub slug: &'static str,
    /// Title.
    pub title: &'static str,
    /// What the page is for.
    pub intro: &'static str,
    /// Its tables (one form per item of each).
    pub groups: &'static [Group],
    /// Items are edited here but added and deleted elsewhere (support hours live on
    /// the routing numbers).
    pub fixed_items: bool,
}

const fn f(key: &'static str, label: &'static str, kind: Kind, hint: &'static str) -> Field {
    Field {
        key,
        label,
        kind,
        hint,
    }
}

const WINDOW: Group = Group {
    key: "window",
    many: true,
    noun: "open window",
    fields: &[
        f(
            "days",
            "Days",
            Kind::List,
            "e.g. mon-fri, or sat, sun, or daily",
        ),
        f("from", "From", Kind::Text, "HH:MM"),
        f(
            "to",
            "To",
            Kind::Text,
            "HH:MM (24:00 allowed; earlier than From: over midnight)",
        ),
    ],
    children: &[],
};
const RESTRICTION: Group = Group {
    key: "restriction",
    noun: "restriction",
    ..WINDOW
};

/// The sections, in the order of the sub-navigation.
pub const SECTIONS: &[Section] = &[
    Section {
        slug: "users",
        title: "Users",
        intro: "People the box can call. Ids are used by schedules and escalation policies.",
        fixed_items: false,
        groups: &[Group {
            key: "user",
            many: true,
            noun: "user",
            fields: &[
                f(
                    "id",
                    "Id",
                    Kind::Text,
                    "letters, digits, - or _ (e.g. alice)",
                ),
                f("name", "Name", Kind::Opt, ""),
                f(
                    "phone",
                    "Phones",
                    Kind::List,
                    "E.164 (+491701234567) or port:fxs1, tried in order",
                ),
                f(
                    "email",
                    "E-mail",
                    Kind::Opt,
                    "maps iCal feed events to this user",
                ),
                f(
                    "language",
                    "Language",
                    Kind::Opt,
                    "prompts played to this user (default en)",
                ),
            ],
            children: &[],
        }],
    },
    Section {
        slug: "schedules",
        title: "Schedules",
        intro: "Rotations: layers (the highest listed wins), overrides (they beat every layer) or an iCal feed. The Schedules page shows the timeline.",
        fixed_items: false,
        groups: &[Group {
            key: "schedule",
            many: true,
            noun: "schedule",
            fields: &[
                f("id", "Id", Kind::Text, "used by policy levels"),
                f("name", "Name", Kind::Opt, ""),
                f(
                    "time_zone",
                    "Time zone",
                    Kind::Text,
                    "IANA, e.g. Europe/Berlin",
                ),
            ],
            children: &[
                Group {
                    key: "layer",
                    many: true,
                    noun: "layer",
                    fields: &[
                        f("name", "Name", Kind::Opt, ""),
                        f(
                            "users",
                            "Users in turn",
                            Kind::List,
                            "user ids, e.g. alice, bob",
                        ),
                        f("shift", "Shift", Kind::Text, "12h, 1d, 1w"),
                        f(
                            "start",
                            "Start",
                            Kind::Text,
                            "first day (2026-01-05) or first handoff (2026-01-05T09:00)",
                        ),
                        f("handoff", "Handoff", Kind::Opt, "HH:MM (default 00:00)"),
                        f("end", "End", Kind::Opt, "optional: date or local date-time"),
                        f("time_zone", "Time zone", Kind::Opt, "if not the schedule's"),
                    ],
                    children: &[RESTRICTION],
                },
                Group {
                    key: "override",
                    many: true,
                    noun: "override",
                    fields: &[
                        f("user", "User", Kind::Text, "user id"),
                        f(
                            "from",
                            "From",
                            Kind::Text,
                            "local date-time, e.g. 2026-03-02T18:00",
                        ),
                        f("to", "To", Kind::Text, "local date-time (exclusive)"),
                    ],
                    children: &[],
                },
                Group {
                    key: "feed",
                    many: false,
                    noun: "iCal feed",
                    fields: &[
                        f("url", "URL", Kind::Opt, "http:// or https://"),
                        f("file", "File", Kind::Opt, "a path on the box"),
                        f(
                            "match",
                            "Match events by",
                            Kind::Choice(&["email", "phone", "name"]),
                            "default email",
                        ),
                        f("refresh", "Refresh", Kind::Opt, "default 15m"),
                    ],
                    children: &[],
                },
            ],
        }],
    },
    Section {
        slug: "policies",
        title: "Escalation policies",
        intro: "Who is called, level by level: the users of a level, and whoever is on call on its schedules.",
        fixed_items: false,
        groups: &[Group {
            key: "policy",
            many: true,
            noun: "policy",
            fields: &[
                f("id", "Id", Kind::Text, "used by routing options"),
                f("name", "Name", Kind::Opt, ""),
            ],
            children: &[Group {
                key: "level",
                many: true,
                noun: "level",
                fields: &[
                    f(
                        "users",
                        "Users",
                        Kind::List,
                        "user ids, tried in random order",
                    ),
                    f(
                        "schedules",
                        "Schedules",
                        Kind::List,
                        "schedule ids: who is on call joins",
                    ),
                ],
                children: &[],
            }],
        }],
    },
    Section {
        slug: "routing-numbers",
        title: "Routing numbers",
        intro: "Where calls arrive and what callers hear. Greetings can also be heard and recorded on the Greeting page.",
        fixed_items: false,
        groups: &[Group {
            key: "routing_number",
            many: true,
            noun: "routing number",
            fields: &[
                f("name", "Name", Kind::Text, "spoken to responders"),
                f("id", "Id", Kind::Opt, "default: from the name"),
                f("port", "Port", Kind::Text, "a port of the board, e.g. fxo1"),
                f("extra_ports", "Extra ports", Kind::List, "a line group"),
                f("language", "Language", Kind::Opt, "default en"),
                f("greeting", "Greeting", Kind::Long, ""),
                f(
                    "only_greeting",
                    "Only the greeting (no generated menu)",
                    Kind::Bool,
                    "",
                ),
                f(
                    "announcement",
                    "Announcement to the responder",
                    Kind::Long,
                    "{name} is the routing number's name",
                ),
                f("menu_timeout", "Menu timeout", Kind::Opt, "default 10s"),
                f("menu_tries", "Menu tries", Kind::OptInt, "default 3"),
                f(
                    "default_option",
                    "Default option",
                    Kind::OptInt,
                    "key after the last try",
                ),
                f(
                    "answer_timeout",
                    "Ring each responder",
                    Kind::Opt,
                    "default 20s",
                ),
                f("accept_timeout", "Time to accept", Kind::Opt, "default 10s"),
                f(
                    "blocked",
                    "Blocked callers",
                    Kind::List,
                    "+4930123456, +1900*, anonymous",
                ),
                f("pin", "Caller PIN", Kind::Opt, "4 to 8 digits"),
            ],
            children: &[
                Group {
                    key: "option",
                    many: true,
                    noun: "menu option",
                    fields: &[
                        f("key", "Key", Kind::Int, "1 to 9"),
                        f("label", "Label", Kind::Text, "spoken in the menu"),
                        f("policy", "Policy", Kind::Text, "escalation policy id"),
                        f(
                            "priority",
                            "Queue priority",
                            Kind::OptInt,
                            "0 to 9 (default 0)",
                        ),
                    ],
                    children: &[],
                },
                Group {
                    key: "queue",
                    many: false,
                    noun: "queue",
                    fields: &[
                        f(
                            "max_callers",
                            "Callers waiting at most",
                            Kind::OptInt,
                            "default 5",
                        ),
                        f("max_wait", "Longest wait", Kind::Opt, "default 5m"),
                        f("announce_every", "Announce every", Kind::Opt, "default 30s"),
                    ],
                    children: &[],
                },
                Group {
                    key: "overflow",
                    many: false,
                    noun: "overflow",
                    fields: &[
                        f(
                            "action",
                            "Action",
                            Kind::Choice(&["message", "routing_number", "number", "voicemail"]),
                            "",
                        ),
                        f("message", "Message", Kind::Long, ""),
                        f("routing_number", "To routing number", Kind::Opt, "id"),
                        f("number", "To number", Kind::Opt, "E.164"),
                        f(
                            "calls_in_progress",
                            "Overflow above calls in progress",
                            Kind::OptInt,
                            "",
                        ),
                    ],
                    children: &[],
                },
                Group {
                    key: "alerts",
                    many: false,
                    noun: "alerts",
                    fields: &[
                        f(
                            "targets",
                            "Alert targets",
                            Kind::List,
                            "names of alert targets; none: no alerts",
                        ),
                        f(
                            "create",
                            "Create the alert",
                            Kind::Choice(&["call_start", "nobody_accepted"]),
                            "default call_start",
                        ),
                        f(
                            "resolve",
                            "Resolve it",
                            Kind::Choice(&["call_end", "never"]),
                            "default call_end",
                        ),
                    ],
                    children: &[],
                },
                Group {
                    key: "voicemail",
                    many: false,
                    noun: "voicemail",
                    fields: &[
                        f("enabled", "When nobody accepts", Kind::Bool, ""),
                        f("only", "For every call", Kind::Bool, ""),
                        f("prompt", "Prompt", Kind::Long, ""),
                        f("max_length", "Longest message", Kind::Opt, "default 3m"),
                        f("silence", "Ends after silence", Kind::Opt, "default 5s"),
                    ],
                    children: &[],
                },
            ],
        }],
    },
    Section {
        slug: "support-hours",
        title: "Support hours and holidays",
        intro: "Per routing number: open windows, closed days and days with special hours. Without support hours a number is always open.",
        fixed_items: true,
        groups: &[Group {
            key: "routing_number",
            many: true,
            noun: "routing number",
            fields: &[],
            children: &[Group {
                key: "support_hours",
                many: false,
                noun: "support hours",
                fields: &[
                    f(
                        "time_zone",
                        "Time zone",
                        Kind::Text,
                        "IANA, e.g. Europe/Berlin",
                    ),
                    f(
                        "out_of_hours",
                        "Out of hours",
                        Kind::Choice(&["route", "closed", "voicemail"]),
                        "default route",
                    ),
                ],
                children: &[
                    WINDOW,
                    Group {
                        key: "holiday",
                        many: true,
                        noun: "holiday",
                        fields: &[
                            f("name", "Name", Kind::Opt, ""),
                            f("date", "Date", Kind::Opt, "2026-12-25 (or From and To)"),
                            f("from", "From", Kind::Opt, "first day"),
                            f("to", "To", Kind::Opt, "last day"),
                            f("yearly", "Every year", Kind::Bool, ""),
                        ],
                        children: &[],
                    },
                    Group {
                        key: "exception",
                        many: true,
                        noun: "day with special hours",
                        fields: &[
                            f("name", "Name", Kind::Opt, ""),
                            f("date", "Date", Kind::Opt, "2026-12-24 (or From and To)"),
                            f("from", "From", Kind::Opt, "first day"),
                            f("to", "To", Kind::Opt, "last day"),
                            f("yearly", "Every year", Kind::Bool, ""),
                            f(
                                "hours",
                                "Open hours",
                                Kind::List,
                                "10:00-14:00; empty = closed",
                            ),
                        ],
                        children: &[],
                    },
                ],
            }],
        }],
    },
    Section {
        slug: "alert-targets",
        title: "Alert targets",
        intro: "Where alerts go: PagerDuty, ilert, a webhook, or SMS through the modem. Routing numbers and [health] name them; the Alerts page sends a test alert.",
        fixed_items: false,
        groups: &[Group {
            key: "alert_target",
            many: true,
            noun: "alert target",
            fields: &[
                f(
                    "name",
                    "Name",
                    Kind::Text,
                    "used by routing numbers and health",
                ),
                f(
                    "kind",
                    "Kind",
                    Kind::Choice(&["pagerduty", "ilert", "webhook", "sms"]),
                    "",
                ),
                f(
                    "url",
                    "URL",
                    Kind::Opt,
                    "required for webhook; default the service's endpoint",
                ),
                f(
                    "routing_key",
                    "PagerDuty routing key",
                    Kind::Opt,
                    "32 characters",
                ),
                f("integration_key", "ilert integration key", Kind::Opt, ""),
                f(
                    "secret",
                    "Webhook secret",
                    Kind::Opt,
                    "at least 16 characters (HMAC-SHA256)",
                ),
                f(
                    "severity",
                    "PagerDuty severity",
                    Kind::Choice(&["critical", "error", "warning", "info"]),
                    "default critical",
                ),
                f("timeout", "Request timeout", Kind::Opt, "default 10s"),
                f("give_up_after", "Give up after", Kind::Opt, "default 3d"),
                f("numbers", "SMS numbers", Kind::List, "E.164"),
                f(
                    "responders",
                    "SMS to the routing number's responders",
                    Kind::Bool,
                    "",
                ),
                f(
                    "fallback_after",
                    "SMS only after",
                    Kind::Opt,
                    "when no data target delivered within this",
                ),
            ],
            children: &[],
        }],
    },
    Section {
        slug: "site",
        title: "Site and health",
        intro: "The box as a whole: its name, the ports that call responders, where the network forwards the SIM's calls when the box cannot take them; its own health alerts, the SMS cap and voicemail storage.",
        fixed_items: false,
        groups: &[
            Group {
                key: "site",
                many: false,
                noun: "site",
                fields: &[
                    f("name", "Name", Kind::Opt, "shown on the status page"),
                    f(
                        "trunks",
                        "Trunks",
                        Kind::List,
                        "modem and FXO port ids, in order (default the modem)",
                    ),
                ],
                children: &[Group {
                    key: "backup",
                    many: false,
                    noun: "backup forwarding",
                    fields: &[
                        f(
                            "number",
                            "Number",
                            Kind::Text,
                            "E.164 of the second box or a person",
                        ),
                        f(
                            "when",
                            "When",
                            Kind::List,
                            "busy, no-reply, not-reachable (default all)",
                        ),
                    ],
                    children: &[],
                }],
            },
            Group {
                key: "health",
                many: false,
                noun: "health alerts",
                fields: &[
                    f(
                        "targets",
                        "Alert targets",
                        Kind::List,
                        "names of alert targets",
                    ),
                    f(
                        "registration_lost_after",
                        "Modem not registered for",
                        Kind::Opt,
                        "default 5m",
                    ),
                    f(
                        "signal_below_dbm",
                        "Signal below (dBm)",
                        Kind::OptInt,
                        "off by default, e.g. -105",
                    ),
                    f("signal_low_for", "... for", Kind::Opt, "default 15m"),
                    f(
                        "disk_full_percent",
                        "Disk full (%)",
                        Kind::OptInt,
                        "default 90",
                    ),
                    f(
                        "trunk_out_after",
                        "Trunk out of service for",
                        Kind::Opt,
                        "default 5m",
                    ),
                    f(
                        "feed_stale_after",
                        "iCal feed not read for",
                        Kind::Opt,
                        "default 24h",
                    ),
                ],
                children: &[Group {
                    key: "self_test",
                    many: false,
                    noun: "self-test call",
                    fields: &[
                        f("number", "Number", Kind::Text, "E.164 to call"),
                        f("every", "Every", Kind::Opt, "default 72h"),
                        f("tone", "Tone", Kind::Opt, "default 5s"),
                        f("ring", "Ring at most", Kind::Opt, "default 45s"),
                    ],
                    children: &[],
                }],
            },
            Group {
                key: "sms",
                many: false,
                noun: "SMS cap",
                fields: &[
                    f("cap", "At most (SMS)", Kind::OptInt, "default 100"),
                    f("cap_window", "per", Kind::Opt, "default 6h"),
                ],
                children: &[],
            },
            Group {
                key: "voicemail",
                many: false,
                noun: "voicemail storage",
                fields: &[
                    f(
                        "retention_days",
                        "Keep messages (days)",
                        Kind::OptInt,
                        "default 90",
                    ),
                    f("max_total_mb", "At most (MB)", Kind::OptInt, "default 500"),
                ],
                children: &[],
            },
        ],
    },
];

/// The element id of a path: `user[2].phone` → `f-user-2-phone`.
pub fn field_id(path: &str) -> String {
    let mut s = String::from("f-");
    for c in path.chars() {
        match c {
            '[' | '.' => s.push('-'),
            ']' => {}
            c => s.push(c),
        }
    }
    s
}

fn shown(item: Option<&Item>) -> (String, bool) {
    let Some(v) = item.and_then(|i| i.as_value()) else {
        return (String::new(), false);
    };
    let one = |v: &toml_edit::Value| match v {
        toml_edit::Value::String(s) => s.value().clone(),
        toml_edit::Value::Integer(i) => i.value().to_string(),
        toml_edit::Value::Float(x) => x.value().to_string(),
        toml_edit::Value::Boolean(b) => b.value().to_string(),
        other => other.to_string().trim().to_string(),
    };
    match v {
        toml_edit::Value::Array(a) => (a.iter().map(one).collect::<Vec<_>>().join(", "), false),
        toml_edit::Value::Boolean(b) => (String::new(), *b.value()),
        other => (one(other), false),
    }
}

struct Ctx {
    admin: bool,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Text => "text",
        Kind::Opt | Kind::Choice(_) => "opt",
        Kind::Long => "long",
        Kind::List => "list",
        Kind::Int => "int",
        Kind::OptInt => "optint",
        Kind::Bool => "bool",
    }
}

fn render_field(o: &mut String, cx: &Ctx, base: &str, fld: &Field, t: Option<&dyn TableLike>) {
    let path = format!("{base}.{}", fld.key);
    let id = field_id(&path);
    let (value, checked) = shown(t.and_then(|t| t.get(fld.key)));
    let ro = if cx.admin { "" } else { " disabled" };
    let attrs = format!(
        r#"id="{id}" data-path="{p}" data-kind="{k}"{req}{ro}"#,
        p = esc(&path),
        k = kind_name(fld.kind),
        req = if matches!(fld.kind, Kind::Text | Kind::Int) {
            r#" data-required="1""#
        } else {
            ""
        }
    );
    let hint = if fld.hint.is_empty() {
        String::new()
    } else {
        format!(r#" <span class="muted">{}</span>"#, esc(fld.hint))
    };
    let control = match fld.kind {
        Kind::Bool => {
            o.push_str(&format!(
                r#"<div class="fld"><label class="check"><input type="checkbox" {attrs}{c}> {l}</label>{hint}"#,
                c = if checked { " checked" } else { "" },
                l = esc(fld.label)
            ));
            String::new()
        }
        Kind::Long => format!(r#"<textarea rows="2" {attrs}>{}</textarea>"#, esc(&value)),
        Kind::Choice(words) => {
            let mut opts = format!(
                r#"<option value=""{}>(default)</option>"#,
                if value.is_empty() { " selected" } else { "" }
            );
            let mut known = value.is_empty();
            for w in words {
                known |= *w == value;
                opts.push_str(&format!(
                    r#"<option{}>{}</option>"#,
                    if *w == value { " selected" } else { "" },
                    esc(w)
                ));
            }
            if !known {
                opts.push_str(&format!(r#"<option selected>{}</option>"#, esc(&value)));
            }
            format!(r#"<select {attrs}>{opts}</select>"#)
        }
        Kind::Int | Kind::OptInt => {
            format!(
                r#"<input inputmode="numeric" {attrs} value="{}">"#,
                esc(&value)
            )
        }
        _ => format!(r#"<input {attrs} value="{}">"#, esc(&value)),
    };
    if fld.kind != Kind::Bool {
        o.push_str(&format!(
            r#"<div class="fld"><label for="{id}">{}</label>{hint}{control}"#,
            esc(fld.label)
        ));
    }
    o.push_str(&format!(
        r#"<div class="field-error" data-error-for="{}"></div></div>"#,
        esc(&path)
    ));
}

/// The fields and the tables inside one table at `base`; `fresh`: not in the text yet.
fn render_table(
    o: &mut String,
    cx: &Ctx,
    base: &str,
    g: &Group,
    t: Option<&dyn TableLike>,
    fresh: bool,
) {
    if !g.fields.is_empty() {
        o.push_str(r#"<div class="flds">"#);
        for fld in g.fields {
            render_field(o, cx, base, fld, t);
        }
        o.push_str("</div>");
    }
    for c in g.children {
        let child = t.and_then(|t| t.get(c.key));
        render_group(o, cx, &format!("{base}.{}", c.key), c, child, fresh);
    }
}

/// The entries of a list of tables (or of an inline array of tables).
fn entries(item: Option<&Item>) -> Vec<&dyn TableLike> {
    match item {
        Some(Item::ArrayOfTables(a)) => a.iter().map(|t| t as &dyn TableLike).collect(),
        Some(Item::Value(toml_edit::Value::Array(a))) => a
            .iter()
            .filter_map(|v| v.as_inline_table().map(|t| t as &dyn TableLike))
            .collect(),
        _ => Vec::new(),
    }
}

/// A table inside an item: each entry of a list (with "remove"), one hidden new entry
/// ("add"), or the one table.
fn render_group(
    o: &mut String,
    cx: &Ctx,
    path: &str,
    g: &Group,
    item: Option<&Item>,
    parent_fresh: bool,
) {
    if !g.many {
        let t = item.and_then(|i| i.as_table_like());
        o.push_str(&format!(
            r#"<fieldset class="sub{fresh}" data-item="{p}"><legend>{n}</legend><div class="field-error" data-error-for="{p}"></div>"#,
            p = esc(path),
            n = esc(g.noun),
            fresh = if t.is_none() || parent_fresh { " fresh" } else { "" }
        ));
        render_table(o, cx, path, g, t, t.is_none() || parent_fresh);
        o.push_str("</fieldset>");
        return;
    }
    let list = entries(item);
    o.push_str(&format!(
        r#"<div class="group" data-group="{p}"><div class="field-error" data-error-for="{p}"></div>"#,
        p = esc(path)
    ));
    for (j, t) in list.iter().enumerate() {
        let p = format!("{path}[{j}]");
        o.push_str(&format!(
            r#"<fieldset class="item{fresh}" data-item="{pe}"><legend>{n} {k}{rm}</legend><div class="field-error" data-error-for="{pe}"></div>"#,
            pe = esc(&p),
            n = esc(g.noun),
            k = j + 1,
            fresh = if parent_fresh { " fresh" } else { "" },
            rm = if cx.admin {
                format!(
                    r#" <label class="check rm"><input type="checkbox" class="remove" id="{}-remove"> remove</label>"#,
                    field_id(&p)
                )
            } else {
                String::new()
            }
        ));
        render_table(o, cx, &p, g, Some(*t), parent_fresh);
        o.push_str("</fieldset>");
    }
    if cx.admin {
        let p = format!("{path}[{}]", list.len());
        o.push_str(&format!(
            r#"<fieldset class="item fresh" data-item="{pe}" hidden><legend>new {n}</legend><div class="field-error" data-error-for="{pe}"></div>"#,
            pe = esc(&p),
            n = esc(g.noun)
        ));
        render_table(o, cx, &p, g, None, true);
        o.push_str(&format!(
            r#"</fieldset><button type="button" class="light add-item" id="{}-add">add {}</button>"#,
            field_id(&p),
            esc(g.noun)
        ));
    }
    o.push_str("</div>");
}

fn title_of(g: &Group, t: &dyn TableLike, i: usize) -> String {
    let get = |k: &str| {
        t.get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    match (get("name"), get("id")) {
        (Some(n), Some(id)) if n != id => format!("{n} ({id})"),
        (Some(n), _) => n,
        (None, Some(id)) => id,
        (None, None) => format!("{} {}", g.noun, i + 1),
    }
}

/// One item's form: its fields, the tables inside it, save and delete.
fn item_form(
    cx: &Ctx,
    g: &Group,
    path: &str,
    title: &str,
    t: Option<&dyn TableLike>,
    fresh: bool,
    can_delete: bool,
) -> String {
    let mut o = format!(
        r#"<section><form class="cfg{fr}" data-item="{pe}" id="{fid}" novalidate><h2>{t}</h2>"#,
        pe = esc(path),
        fid = field_id(path),
        t = esc(title),
        fr = if fresh { " fresh" } else { "" }
    );
    render_table(&mut o, cx, path, g, t, fresh);
    o.push_str(r#"<ul class="problems error form-error"></ul><p class="state"></p>"#);
    if cx.admin {
        o.push_str(&format!(
            r#"<button type="submit" id="{}-save">{}</button>"#,
            field_id(path),
            if fresh && g.many {
                format!("Add this {}", esc(g.noun))
            } else {
                "Save".to_string()
            }
        ));
        if can_delete {
            o.push_str(&format!(
                r#" <button type="button" class="light delete" id="{}-delete">Delete this {}</button>"#,
                field_id(path),
                esc(g.noun)
            ));
        }
    }
    o.push_str("</form></section>");
    o
}

/// The body of a section's page from the configuration text in force.
pub fn render_section(sec: &Section, text: &str, version: i64, admin: bool) -> String {
    let cx = Ctx { admin };
    let doc: Option<DocumentMut> = text.parse().ok();
    let mut tabs = String::from(r#"<nav class="tabs">"#);
    for s in SECTIONS {
        tabs.push_str(&format!(
            r#"<a href="/settings/{}"{}>{}</a>"#,
            s.slug,
            if s.slug == sec.slug {
                r#" class="on""#
            } else {
                ""
            },
            esc(s.title)
        ));
    }
    tabs.push_str("</nav>");
    let mut body = format!(
        r#"<link rel="stylesheet" href="/static/forms.css">{tabs}<p class="muted">{} Checked as you type with the same rules as <code>switchboard check-config</code>; saving makes a new configuration version (version {version} is in force; see Configuration for the text, the versions and rollback).</p><div id="forms" data-base-version="{version}">"#,
        esc(sec.intro)
    );
    let Some(doc) = doc else {
        body.push_str(r#"<p class="error">The configuration in force does not parse; fix it on the Configuration page.</p></div>"#);
        return body;
    };
    for g in sec.groups {
        let top = doc.as_table().get(g.key);
        if g.many {
            let list = entries(top);
            for (i, t) in list.iter().enumerate() {
                let p = format!("{}[{i}]", g.key);
                body.push_str(&item_form(
                    &cx,
                    g,
                    &p,
                    &title_of(g, *t, i),
                    Some(*t),
                    false,
                    !sec.fixed_items,
                ));
            }
            if list.is_empty() {
                body.push_str(&format!(
                    r#"<section><p class="muted">No {} yet.</p></section>"#,
                    esc(g.noun)
                ));
            }
            if admin && !sec.fixed_items {
                let p = format!("{}[{}]", g.key, list.len());
                body.push_str(&item_form(
                    &cx,
                    g,
                    &p,
                    &format!("New {}", g.noun),
                    None,
                    true,
                    false,
                ));
            }
        } else {
            let t = top.and_then(|i| i.as_table_like());
            let mut title = g.noun.to_string();
            if let Some(c) = title.get_mut(..1) {
                c.make_ascii_uppercase();
            }
            body.push_str(&item_form(&cx, g, g.key, &title, t, t.is_none(), false));
        }
    }
    body.push_str(r#"</div><script src="/static/forms.js"></script>"#);
    body
}

async fn section_page(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(slug): Path<String>,
) -> Response {
    let Some(sec) = SECTIONS.iter().find(|x| x.slug == slug) else {
        return super::ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "no such settings page: see /settings/users",
        )
        .into_response();
    };
    let body = match web.db(|st| st.latest_config_version()).await {
        Ok(Some(v)) => render_section(sec, &v.toml, v.id, s.role == Role::Admin),
        Ok(None) => r#"<p class="error">No saved configuration yet: save it once on the Configuration page.</p>"#.to_string(),
        Err(e) => format!(r#"<p class="error">{}</p>"#, esc(&e.error)),
    };
    page(sec.title, Some(&s), "/settings", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_named_by_its_path_with_an_error_slot() {
        let text = crate::config::DEMO_CONFIG_TOML;
        let sched = SECTIONS.iter().find(|s| s.slug == "schedules").unwrap();
        let html = render_section(sched, text, 3, true);
        for p in [
            "schedule[0].id",
            "schedule[0].layer[1].restriction[1].to",
            "schedule[0].layer[2].shift",
            "schedule[0].override[0].user",
            "schedule[1].id",
        ] {
            assert!(html.contains(&format!(r#"data-path="{p}""#)), "{p}");
            assert!(html.contains(&format!(r#"data-error-for="{p}""#)), "{p}");
        }
        assert!(html.contains(r#"value="alice, bob""#));
        assert!(html.contains(r#"data-base-version="3""#));
        // a viewer sees the values and no button
        let html = render_section(sched, text, 3, false);
        assert!(!html.contains("<button"));
        assert!(html.contains(" disabled"));
        let hours = SECTIONS.iter().find(|s| s.slug == "support-hours").unwrap();
        let html = render_section(hours, text, 3, true);
        assert!(html.contains(r#"data-path="routing_number[1].support_hours.holiday[0].date""#));
        assert!(
            !html.contains("Delete this"),
            "support hours live on the routing numbers"
        );
        for sec in SECTIONS {
            let html = render_section(sec, text, 1, true);
            assert!(html.len() < 100_000, "{}: {}", sec.slug, html.len());
        }
    }

    /// Every field of every form is a key the configuration knows (the reader refuses
    /// unknown keys before it looks at a value, so one field at a time tells).
    #[test]
    fn every_form_field_is_a_key_of_the_configuration() {
        use crate::web::forms::{Edit, apply_edits};
        fn walk(g: &Group, base: &str, out: &mut Vec<(String, Kind)>) {
            let here = if g.many {
                format!("{base}{}[0]", g.key)
            } else {
                format!("{base}{}", g.key)
            };
            for fld in g.fields {
                out.push((format!("{here}.{}", fld.key), fld.kind));
            }
            for c in g.children {
                walk(c, &format!("{here}."), out);
            }
        }
        let mut fields = Vec::new();
        for sec in SECTIONS {
            for g in sec.groups {
                walk(g, "", &mut fields);
            }
        }
        assert!(fields.len() > 100, "{}", fields.len());
        let board = crate::config::BoardProfile::sim();
        for (path, kind) in fields {
            let value = match kind {
                Kind::List => serde_json::json!(["x"]),
                Kind::Int | Kind::OptInt => serde_json::json!(1),
                Kind::Bool => serde_json::json!(true),
                Kind::Choice(w) => serde_json::json!(w[0]),
                _ => serde_json::json!("x"),
            };
            let text = apply_edits(
                crate::config::DEMO_CONFIG_TOML,
                &[Edit {
                    path: path.clone(),
                    value,
                }],
            )
            .unwrap_or_else(|e| panic!("{path}: {e:?}"));
            if let Err(e) = crate::config::Config::parse("t", &text, &board) {
                let e = e.to_string();
                assert!(!e.contains("unknown field"), "{path}: {e}");
            }
        }
    }

    #[test]
    fn field_ids_are_css_safe() {
        assert_eq!(field_id("user[2].phone"), "f-user-2-phone");
        assert_eq!(
            field_id("routing_number[0].support_hours.holiday[1].date"),
            "f-routing_number-0-support_hours-holiday-1-date"
        );
    }
}
