//! `[[expect.event]]`: expectations on the box's typed outputs, not on transcript text.
//!
//! Every output that is a fact becomes an observed event, a JSON object with a `kind`:
//! the exchange's notes ([`Happening`] and the call state machine's [`Noted`], with
//! `call` and `port` beside their fields), the call events ([`CallEvent`], as
//! `call_started`, `call_dialling`, ...), trunks leaving and re-entering the pool
//! (`trunk`), the modem's power cycle (`modem_power_cycle`) and reloads (`reloaded`).
//! An expectation names a kind and some fields; it holds when one observed event has
//! that kind and those values.

use anyhow::{Result, bail};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::call::{CallId, Noted};
use crate::exchange::{Happening, Output};

/// Kinds that come from typed outputs other than notes, with their fields.
const OUTPUT_KINDS: &[(&str, &[&str])] = &[
    (
        "call_started",
        &[
            "call",
            "routing_number",
            "port",
            "caller_id",
            "generation",
            "at",
        ],
    ),
    ("call_accepted", &["call", "user", "at"]),
    ("call_phase", &["call", "phase"]),
    ("call_queued", &["call", "position"]),
    ("call_dialling", &["call", "user", "port"]),
    ("call_overflow", &["call", "reason"]),
    ("call_alert_step", &["call", "step", "at"]),
    ("call_ended", &["call", "reason"]),
    ("trunk", &["port", "in_service"]),
    ("modem_power_cycle", &[]),
    ("reloaded", &["generation", "in_progress"]),
];

/// Keys every note has besides its own fields.
const NOTE_KEYS: &[&str] = &["call", "port"];

/// The observed event of an output, if it is one.
pub(super) fn observe(o: &Output) -> Option<Value> {
    let obj = |kind: &str, mut m: Map<String, Value>| {
        m.insert("kind".into(), Value::String(kind.into()));
        Some(Value::Object(m))
    };
    match o {
        Output::Note(n) => {
            let Ok(Value::Object(mut m)) = serde_json::to_value(&n.what) else {
                return None;
            };
            m.insert("call".into(), serde_json::json!(n.call));
            m.insert("port".into(), serde_json::json!(n.port));
            Some(Value::Object(m))
        }
        Output::Call(ev) => {
            let Ok(Value::Object(mut m)) = serde_json::to_value(ev) else {
                return None;
            };
            let kind = match m.remove("event") {
                Some(Value::String(k)) => format!("call_{k}"),
                _ => return None,
            };
            obj(&kind, m)
        }
        Output::Trunk { port, in_service } => {
            let mut m = Map::new();
            m.insert("port".into(), Value::String(port.clone()));
            m.insert("in_service".into(), Value::Bool(*in_service));
            obj("trunk", m)
        }
        Output::ModemPowerCycle => obj("modem_power_cycle", Map::new()),
        Output::Reloaded {
            generation,
            in_progress,
        } => {
            let mut m = Map::new();
            m.insert("generation".into(), serde_json::json!(generation));
            m.insert("in_progress".into(), serde_json::json!(in_progress));
            obj("reloaded", m)
        }
        _ => None,
    }
}

/// The names between backticks in a serde message (`expected `a`, `b` or `c``).
fn ticked(msg: &str) -> Vec<String> {
    let expected = msg.split_once("expected").map_or("", |(_, e)| e);
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| *n != "kind")
        .map(str::to_string)
        .collect()
}

/// Every kind an expectation may name.
pub(super) fn all_kinds() -> Vec<String> {
    let probe = |t: toml::Table| -> Vec<String> {
        let v = toml::Value::Table(t);
        let mut names = Vec::new();
        if let Err(e) = Noted::deserialize(v.clone()) {
            names.extend(ticked(&e.to_string()));
        }
        if let Err(e) = Happening::deserialize(v) {
            names.extend(ticked(&e.to_string()));
        }
        names
    };
    let mut t = toml::Table::new();
    t.insert("kind".into(), toml::Value::String("?".into()));
    let mut names = probe(t);
    names.extend(OUTPUT_KINDS.iter().map(|(k, _)| k.to_string()));
    names
}

/// Checks an expectation at load time: its kind exists and its keys are fields of
/// that kind with values of the right type.
pub(super) fn validate(key: &str, t: &toml::Table) -> Result<()> {
    let Some(kind) = t.get("kind") else {
        bail!(
            "{key}: give the event's `kind` (one of {})",
            all_kinds().join(", ")
        );
    };
    let Some(kind) = kind.as_str() else {
        bail!("{key}.kind: give the kind as a string, e.g. kind = \"modem_reset\"");
    };
    if let Some(c) = t.get("call")
        && !c.is_integer()
    {
        bail!("{key}.call: give the call id as a number, e.g. call = 1");
    }
    if let Some(p) = t.get("port")
        && !p.is_str()
    {
        bail!("{key}.port: give the port id as a string, e.g. port = \"fxo1\"");
    }
    if let Some((_, fields)) = OUTPUT_KINDS.iter().find(|(k, _)| *k == kind) {
        for k in t.keys().filter(|k| *k != "kind") {
            if !fields.contains(&k.as_str()) {
                bail!(
                    "{key}.{k}: `{kind}` has no field `{k}`; its fields are: {}",
                    fields.join(", ")
                );
            }
        }
        return Ok(());
    }
    let mut own = t.clone();
    for k in NOTE_KEYS {
        own.remove(*k);
    }
    let v = toml::Value::Table(own.clone());
    let noted = Noted::deserialize(v.clone()).map(|n| serde_json::to_value(n).ok());
    let result = match noted {
        Err(e) if e.to_string().contains("unknown variant") => {
            Happening::deserialize(v).map(|h| serde_json::to_value(h).ok())
        }
        other => other,
    };
    match result {
        // every field given: a unit variant also takes unknown keys, so compare
        Ok(Some(Value::Object(m))) => {
            if let Some(k) = own.keys().find(|k| !m.contains_key(*k)) {
                let fields: Vec<&str> = m
                    .keys()
                    .map(String::as_str)
                    .filter(|k| *k != "kind")
                    .collect();
                bail!(
                    "{key}.{k}: `{kind}` has no field `{k}`; its fields are: {}",
                    if fields.is_empty() {
                        "none (besides call and port)".to_string()
                    } else {
                        fields.join(", ")
                    }
                );
            }
            Ok(())
        }
        Ok(_) => Ok(()),
        // a pattern names only the fields it cares about
        Err(e) if e.to_string().contains("missing field") => Ok(()),
        Err(e) if e.to_string().contains("unknown variant") => bail!(
            "{key}.kind: `{kind}` is not an event kind; use one of {}",
            all_kinds().join(", ")
        ),
        Err(e) => bail!("{key}: {}", e.to_string().trim()),
    }
}

fn same(want: &toml::Value, got: &Value) -> bool {
    match (want, got) {
        (toml::Value::String(a), Value::String(b)) => a == b,
        (toml::Value::Integer(a), Value::Number(n)) => {
            n.as_i64() == Some(*a) || n.as_f64() == Some(*a as f64)
        }
        (toml::Value::Float(a), Value::Number(n)) => {
            n.as_f64().is_some_and(|b| (a - b).abs() < 1e-6)
        }
        (toml::Value::Boolean(a), Value::Bool(b)) => a == b,
        (toml::Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (toml::Value::Table(a), Value::Object(_)) => matches(a, got),
        _ => false,
    }
}

/// Whether observed event `ev` has every key of `want` with its value.
pub(super) fn matches(want: &toml::Table, ev: &Value) -> bool {
    want.iter()
        .all(|(k, v)| ev.get(k).is_some_and(|e| same(v, e)))
}

/// Failures of `[[expect.event]]` against the observed events.
pub(super) fn check(want: &[toml::Table], events: &[Value]) -> Vec<String> {
    let mut f = Vec::new();
    for (i, w) in want.iter().enumerate() {
        if events.iter().any(|e| matches(w, e)) {
            continue;
        }
        let kind = w.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let same_kind: Vec<String> = events
            .iter()
            .filter(|e| e.get("kind").and_then(Value::as_str) == Some(kind))
            .take(5)
            .map(Value::to_string)
            .collect();
        let pattern = toml::to_string(w)
            .unwrap_or_default()
            .trim()
            .replace('\n', ", ");
        f.push(if same_kind.is_empty() {
            format!("event[{i}]: no `{kind}` event at all (wanted {pattern})")
        } else {
            format!(
                "event[{i}]: no event matches {pattern}; the `{kind}` events were: {}",
                same_kind.join("; ")
            )
        });
    }
    f
}

/// Whether call `call` heard a prompt containing `text` (a `caller_hears` note).
pub(super) fn caller_heard(events: &[Value], call: CallId, text: &str) -> bool {
    events.iter().any(|e| {
        e.get("kind").and_then(Value::as_str) == Some("caller_hears")
            && e.get("call").and_then(Value::as_u64) == Some(call)
            && e.get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| t.contains(text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::AttemptOutcome;
    use crate::exchange::{CallEvent, Note};

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn kinds_are_unique_and_cover_every_source() {
        let kinds = all_kinds();
        let mut sorted = kinds.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), kinds.len(), "{kinds:?}");
        for k in [
            "modem_reset",
            "attempt_ended",
            "call_dialling",
            "trunk",
            "round",
        ] {
            assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
        }
    }

    #[test]
    fn output_kinds_list_the_fields_call_events_serialize() {
        let ev = Output::Call(CallEvent::Dialling {
            call: 3,
            user: "bob".into(),
            port: "modem".into(),
        });
        let v = observe(&ev).unwrap();
        let (_, fields) = OUTPUT_KINDS
            .iter()
            .find(|(k, _)| *k == "call_dialling")
            .unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.retain(|k| *k != "kind");
        keys.sort();
        let mut want = fields.to_vec();
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(v["kind"], "call_dialling");
    }

    #[test]
    fn a_pattern_matches_on_the_fields_it_names() {
        let note = Output::Note(Note {
            call: Some(2),
            port: Some("modem".into()),
            what: Noted::AttemptEnded {
                user: "bob".into(),
                number: "+4917".into(),
                outcome: AttemptOutcome::ModemUnavailable,
            }
            .into(),
        });
        let ev = vec![observe(&note).unwrap()];
        let hit = table(
            "kind = \"attempt_ended\"\nuser = \"bob\"\noutcome = \"modem_unavailable\"\ncall = 2",
        );
        let miss = table("kind = \"attempt_ended\"\noutcome = \"busy\"");
        validate("expect.event[0]", &hit).unwrap();
        validate("expect.event[1]", &miss).unwrap();
        assert!(check(&[hit], &ev).is_empty());
        let f = check(&[miss], &ev);
        assert_eq!(f.len(), 1);
        assert!(f[0].contains("modem_unavailable"), "{f:?}");
    }

    #[test]
    fn bad_expectations_name_the_key() {
        let e = validate("expect.event[0]", &table("kind = \"modem_rest\"")).unwrap_err();
        assert!(
            e.to_string().contains("`modem_rest` is not an event kind"),
            "{e}"
        );
        assert!(e.to_string().contains("modem_reset"), "{e}");
        let e = validate(
            "expect.event[1]",
            &table("kind = \"modem_reset\"\nwhy = \"x\""),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `why`"), "{e}");
        let e = validate(
            "expect.event[2]",
            &table("kind = \"modem_ready\"\nwhy = \"x\""),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("expect.event[2].why: `modem_ready` has no field"),
            "{e}"
        );
        let e = validate("expect.event[3]", &table("kind = \"trunk\"\nstate = 1")).unwrap_err();
        assert!(
            e.to_string().contains("its fields are: port, in_service"),
            "{e}"
        );
        let e = validate("expect.event[4]", &table("reason = \"x\"")).unwrap_err();
        assert!(e.to_string().contains("give the event's `kind`"), "{e}");
        let e = validate(
            "expect.event[5]",
            &table("kind = \"round\"\nround = \"one\""),
        )
        .unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
    }
}
