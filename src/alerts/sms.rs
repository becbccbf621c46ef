//! SMS as an alert transport: the text of each event, who gets it, and the path to the
//! modem ([`SmsPath`]: the engine thread in the service, the virtual engine in
//! scenarios). Every SMS takes a slot of the durable cap first
//! ([`crate::store::Store::take_sms_slot`]). A target with `fallback_after` sends only
//! when no data target (PagerDuty, ilert, webhook) of the alert delivered the event
//! within that time.

use crate::config::Config;
use crate::config::alerts::{AlertTarget, TargetKind};
use crate::store::alerts::{Delivery, EventKind};

/// Sends one SMS through the modem and waits for the modem's answer (every part sent,
/// or the reason it failed).
pub trait SmsPath {
    /// Sends `text` (GSM-7 or UCS-2, split into concatenated parts as needed) to `to`.
    fn send(&mut self, to: &str, text: &str) -> Result<(), String>;
}

/// The SMS text of an event: short, with the alert's number for replies.
pub fn text(d: &Delivery, site: &str) -> String {
    let id = d.alert_id;
    let detail = |k: &str| {
        d.details
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match d.kind {
        EventKind::Trigger => format!(
            "ALERT {id} ({site}): {}. Reply {id}a to acknowledge, {id}c to close.",
            d.summary
        ),
        EventKind::Voicemail => format!(
            "ALERT {id} ({site}): voicemail left. {}. Reply {id}a to acknowledge, {id}c to close.",
            d.summary
        ),
        EventKind::NobodyReached => format!(
            "ALERT {id} ({site}): nobody reached. {}. Reply {id}a to acknowledge, {id}c to close.",
            d.summary
        ),
        EventKind::Accept => match detail("accepted_by").or_else(|| detail("by")) {
            Some(who) => format!("Alert {id} ({site}) accepted by {who}."),
            None => format!("Alert {id} ({site}) accepted."),
        },
        EventKind::Resolve => format!("Alert {id} ({site}) resolved."),
    }
}

/// Who gets the SMS of an alert: the target's `numbers`, then (with `responders = true`)
/// the phone numbers of the users the routing number's options reach at `at`, each
/// once; only E.164 numbers (an FXS phone cannot take an SMS).
pub fn recipients(
    cfg: &Config,
    t: &AlertTarget,
    routing_id: &str,
    at: jiff::Timestamp,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |n: &str| {
        if crate::config::is_e164(n) && !out.iter().any(|x| x == n) {
            out.push(n.to_string());
        }
    };
    for n in &t.numbers {
        add(n.get_ref());
    }
    if t.responders
        && let Some((_, rn)) = cfg.routing_number(routing_id)
    {
        // everyone the number's call flow can route to, in the flow's order (the
        // options' policies of a classic routing number compile into route steps too)
        use crate::call::flow::{StepKind, Target};
        for step in &rn.flow.steps {
            let StepKind::Route(r) = &step.kind else {
                continue;
            };
            for t in &r.targets {
                let users: Vec<String> = match t {
                    Target::Policy(p) => crate::routing::resolved_levels(cfg, p, at)
                        .0
                        .into_iter()
                        .flatten()
                        .collect(),
                    Target::User(u) => vec![u.clone()],
                    Target::Schedule(s) => crate::routing::on_call(cfg, s, at)
                        .into_iter()
                        .map(|o| o.user)
                        .collect(),
                    Target::Number(n) => {
                        add(n);
                        Vec::new()
                    }
                };
                for p in users
                    .iter()
                    .filter_map(|u| cfg.user(u))
                    .flat_map(|u| &u.phone)
                {
                    add(p.get_ref());
                }
            }
        }
    }
    out
}

/// A window as people write it: `6h`, `90m`, `45s`.
pub fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The data targets (not SMS) of a configuration, by name.
pub fn data_targets(cfg: &Config) -> Vec<String> {
    cfg.alert_targets
        .iter()
        .filter(|t| t.kind() != TargetKind::Sms)
        .map(|t| t.name.get_ref().clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        let src = r#"
[[alert_target]]
name = "sms"
kind = "sms"
numbers = ["+491709999999", "+491701111111"]
responders = true
[[user]]
id = "alice"
phone = ["+491701111111", "port:fxs1"]
[[user]]
id = "bob"
phone = ["+491702222222"]
[[policy]]
id = "p"
  [[policy.level]]
  users = ["alice"]
  [[policy.level]]
  users = ["bob"]
[[routing_number]]
id = "hotline"
name = "Hotline"
port = "fxo1"
  [[routing_number.option]]
  key = 1
  label = "Ops"
  policy = "p"
"#;
        Config::parse("t.toml", src, &crate::config::BoardProfile::sim()).unwrap()
    }

    #[test]
    fn recipients_are_the_numbers_then_the_responders_once_each() {
        let c = cfg();
        let t = c.alert_target("sms").unwrap();
        let at = "2026-03-02T09:00:00Z".parse().unwrap();
        assert_eq!(
            recipients(&c, t, "hotline", at),
            ["+491709999999", "+491701111111", "+491702222222"]
        );
        // health alerts have no routing number: only the numbers
        assert_eq!(
            recipients(&c, t, "health", at),
            ["+491709999999", "+491701111111"]
        );
    }

    #[test]
    fn texts_carry_the_reply_code_and_fit_one_or_two_parts() {
        let mut d = Delivery {
            event_id: 1,
            target: "sms".into(),
            attempts: 0,
            created_ms: 0,
            alert_id: 12,
            dedup_key: "k".into(),
            summary: "Call from +15550001111 on Emergency Hotline".into(),
            routing_id: "hotline".into(),
            caller_id: None,
            seq: 1,
            kind: EventKind::Trigger,
            at: String::new(),
            details: serde_json::json!({}),
            voicemail_id: None,
        };
        let t = text(&d, "Acme");
        assert!(t.contains("Reply 12a") && t.contains("12c"), "{t}");
        let parts = crate::modem::sms::encode_submit("+491701111111", &t, 1).unwrap();
        assert!(parts.len() <= 2, "{t}");
        d.kind = EventKind::Accept;
        d.details = serde_json::json!({ "accepted_by": "alice" });
        assert_eq!(text(&d, "Acme"), "Alert 12 (Acme) accepted by alice.");
    }
}
