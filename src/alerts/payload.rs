//! What each transport sends for an event: PagerDuty Events API v2, ilert Events API,
//! and the generic webhook (documented in `docs/webhook.md`). Pure: a [`Delivery`] and
//! its target in, an HTTP request out.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::config::alerts::{AlertTarget, TargetKind};
use crate::store::VoicemailRow;
use crate::store::alerts::{Delivery, EventKind};

/// Signature header of the webhook: `t=<unix seconds>,v1=<hex HMAC-SHA256>` over
/// `"<t>.<JSON body>"` with the target's secret.
pub const SIGNATURE_HEADER: &str = "X-Switchboard-Signature";
/// Idempotency key of the event at the webhook (`<alert key>:<seq>`): the same on every
/// retry, so a receiver can drop repeats.
pub const EVENT_ID_HEADER: &str = "X-Switchboard-Event-Id";

/// An HTTP POST to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// URL.
    pub url: String,
    /// Content type.
    pub content_type: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// The event's idempotency key at receivers.
pub fn event_key(d: &Delivery) -> String {
    format!("{}:{}", d.dedup_key, d.seq)
}

fn summary(d: &Delivery, vm: Option<&VoicemailRow>) -> String {
    match (d.kind, vm) {
        (EventKind::Voicemail, Some(v)) => {
            format!("{} — voicemail left ({:.0} s)", d.summary, v.seconds)
        }
        (EventKind::NobodyReached, _) => format!("{} — nobody was reached", d.summary),
        _ => d.summary.clone(),
    }
}

fn details(d: &Delivery, vm: Option<&VoicemailRow>) -> Value {
    let mut v = d.details.clone();
    if !v.is_object() {
        v = json!({});
    }
    v["event"] = json!(d.kind.as_str());
    v["routing_number"] = json!(d.routing_id);
    v["caller_id"] = json!(d.caller_id);
    if let Some(vm) = vm {
        v["voicemail"] = json!({
            "id": vm.id, "seconds": vm.seconds, "bytes": vm.bytes, "sha256": vm.sha256,
        });
    }
    v
}

/// The webhook's JSON body (see `docs/webhook.md`).
pub fn webhook_json(d: &Delivery, site: &str, vm: Option<&VoicemailRow>) -> Value {
    json!({
        "version": 1,
        "event_id": event_key(d),
        "site": site,
        "alert": {
            "id": d.alert_id,
            "key": d.dedup_key,
            "summary": d.summary,
            "routing_number": d.routing_id,
            "caller_id": d.caller_id,
        },
        "event": {
            "seq": d.seq,
            "kind": d.kind.as_str(),
            "at": d.at,
            "details": d.details,
        },
        "voicemail": vm.map(|v| json!({
            "id": v.id, "seconds": v.seconds, "bytes": v.bytes, "sha256": v.sha256,
            "content_type": "audio/ogg", "part": "voicemail",
        })),
    })
}

/// `t=…,v1=…` for a body signed at `unix_seconds`.
pub fn sign(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={unix_seconds},v1={hex}")
}

/// Checks a webhook signature (receivers; tests): the HMAC matches and the time stamp
/// is within `tolerance_s` of `now_s` (replay protection).
pub fn verify(secret: &str, header: &str, body: &[u8], now_s: i64, tolerance_s: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = Some(x),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now_s - t).abs() > tolerance_s {
        return false;
    }
    let Some(expected) = sign(secret, t, body)
        .split_once("v1=")
        .map(|(_, h)| h.to_string())
    else {
        return false;
    };
    // constant-time comparison
    expected.len() == v1.len()
        && expected
            .bytes()
            .zip(v1.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Builds the request for one delivery. `voicemail` is the stored message and its Ogg
/// Opus bytes when the event carries one (the webhook attaches it as a multipart part;
/// PagerDuty and ilert get its facts in the details).
pub fn build(
    target: &AlertTarget,
    d: &Delivery,
    site: &str,
    voicemail: Option<(&VoicemailRow, &[u8])>,
    unix_seconds: i64,
) -> Request {
    let vm = voicemail.map(|(r, _)| r);
    let url = target.endpoint();
    match target.kind() {
        TargetKind::Pagerduty => {
            let key = target.routing_key.as_ref().map(|k| k.get_ref().clone());
            let action = match d.kind {
                EventKind::Accept => "acknowledge",
                EventKind::Resolve => "resolve",
                // a trigger with the same dedup_key updates the open incident
                EventKind::Trigger | EventKind::Voicemail | EventKind::NobodyReached => "trigger",
            };
            let mut body = json!({
                "routing_key": key,
                "event_action": action,
                "dedup_key": d.dedup_key,
                "client": "Switchboard",
            });
            if action == "trigger" {
                body["payload"] = json!({
                    "summary": summary(d, vm),
                    "source": site,
                    "severity": target.severity.as_ref().map_or("critical", |s| s.get_ref().as_str()),
                    "timestamp": d.at,
                    "component": d.routing_id,
                    "group": "switchboard",
                    "class": d.kind.as_str(),
                    "custom_details": details(d, vm),
                });
            }
            json_request(url, body)
        }
        TargetKind::Ilert => {
            let key = target.integration_key.as_ref().map(|k| k.get_ref().clone());
            let kind = match d.kind {
                EventKind::Accept => "ACCEPT",
                EventKind::Resolve => "RESOLVE",
                EventKind::Trigger | EventKind::Voicemail | EventKind::NobodyReached => "ALERT",
            };
            let body = json!({
                "integrationKey": key,
                "eventType": kind,
                "alertKey": d.dedup_key,
                "summary": summary(d, vm),
                "details": format!("{} ({}, event {} at {})", summary(d, vm), site, d.kind.as_str(), d.at),
                "customDetails": details(d, vm),
            });
            json_request(url, body)
        }
        // SMS targets never get here (the sender sends their text through the modem)
        TargetKind::Webhook | TargetKind::Sms => {
            let json = webhook_json(d, site, vm).to_string().into_bytes();
            let secret = target.secret.as_ref().map_or("", |s| s.get_ref().as_str());
            let headers = vec![
                (
                    SIGNATURE_HEADER.to_string(),
                    sign(secret, unix_seconds, &json),
                ),
                (EVENT_ID_HEADER.to_string(), event_key(d)),
            ];
            match voicemail {
                None => Request {
                    url,
                    content_type: "application/json".into(),
                    headers,
                    body: json,
                },
                Some((row, audio)) => {
                    let boundary =
                        format!("switchboard-{}", &row.sha256[..24.min(row.sha256.len())]);
                    let mut body = Vec::with_capacity(json.len() + audio.len() + 512);
                    body.extend_from_slice(
                        format!(
                            "--{boundary}\r\nContent-Disposition: form-data; name=\"event\"\r\nContent-Type: application/json\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(&json);
                    body.extend_from_slice(
                        format!(
                            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"voicemail\"; filename=\"voicemail-{}.ogg\"\r\nContent-Type: audio/ogg\r\n\r\n",
                            row.id
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(audio);
                    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
                    Request {
                        url,
                        content_type: format!("multipart/form-data; boundary={boundary}"),
                        headers,
                        body,
                    }
                }
            }
        }
    }
}

fn json_request(url: String, body: Value) -> Request {
    Request {
        url,
        content_type: "application/json".into(),
        headers: Vec::new(),
        body: body.to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip_and_replay_window() {
        let body = br#"{"a":1}"#;
        let h = sign("0123456789abcdef", 1_700_000_000, body);
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify("0123456789abcdef", &h, body, 1_700_000_100, 300));
        assert!(
            !verify("0123456789abcdef", &h, body, 1_700_001_000, 300),
            "too old"
        );
        assert!(!verify("another-secret-xx", &h, body, 1_700_000_000, 300));
        assert!(!verify(
            "0123456789abcdef",
            &h,
            b"{\"a\":2}",
            1_700_000_000,
            300
        ));
        assert!(!verify(
            "0123456789abcdef",
            "garbage",
            body,
            1_700_000_000,
            300
        ));
    }
}
