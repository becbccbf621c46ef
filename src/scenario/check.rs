//! What a scenario's `expect` checks, against what the rig observed.

use anyhow::Result;

use super::{Expect, VoicemailFound};
use crate::call::Cdr;
use crate::config::Config;
use crate::hw::sim::party::CALLER_MARKER_HZ;
use crate::store::Store;

pub(super) fn check_alerts(
    x: &Expect,
    cdr: Option<&Cdr>,
    store: &Store,
    cfg: &Config,
    receiver: Option<&crate::alerts::test_receiver::TestReceiver>,
    vm: Option<&VoicemailFound>,
    wall: jiff::Timestamp,
) -> Result<Vec<String>> {
    let mut f = Vec::new();
    if let Some(want) = &x.health_alerts {
        let mut got = Vec::new();
        for a in store.alerts(10_000)?.into_iter().rev() {
            if let Some(key) = a.routing_id.strip_prefix("health:") {
                got.push(format!(
                    "{key}: {}",
                    store.alert_event_kinds(a.id)?.join(", ")
                ));
            }
        }
        if &got != want {
            f.push(format!("health_alerts: expected {want:?}, got {got:?}"));
        }
    }
    let Some(cdr) = cdr else { return Ok(f) };
    let alert = cdr.alert_id;
    if let Some(want) = &x.alert_events {
        let got: Vec<String> = match alert {
            Some(id) => store.alert_event_kinds(id)?,
            None => Vec::new(),
        };
        if &got != want {
            f.push(format!("alert_events: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = &x.alert_deliveries {
        let got: Vec<String> = store
            .alerts(10_000)?
            .into_iter()
            .filter(|a| Some(a.id) == alert)
            .flat_map(|a| a.deliveries)
            .map(|(t, k, st, _, _)| format!("{t}:{k}:{st}"))
            .collect();
        if &got != want {
            f.push(format!("alert_deliveries: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = x.sms_cap_refused {
        let got = store
            .sms_cap_status(0, 0, *cfg.sms.cap.get_ref())?
            .refused_total;
        if got != want {
            f.push(format!("sms_cap_refused: expected {want}, got {got}"));
        }
    }
    if let Some(want) = &x.delivered {
        let Some(r) = receiver else {
            f.push("delivered: set deliver_alerts = true in the scenario".into());
            return Ok(f);
        };
        let key = match alert {
            Some(id) => store
                .alerts(10_000)?
                .into_iter()
                .find(|a| a.id == id)
                .map(|a| a.dedup_key),
            None => None,
        };
        let mut got = Vec::new();
        for req in r.received() {
            let target = req.path.trim_start_matches('/').to_string();
            let Some(body) = req.json() else { continue };
            // PagerDuty: dedup_key/event_action; ilert: alertKey/eventType; webhook: alert.key
            let (k, kind) = if let Some(k) = body["dedup_key"].as_str() {
                (
                    k.to_string(),
                    body["event_action"].as_str().unwrap_or("").to_string(),
                )
            } else if let Some(k) = body["alertKey"].as_str() {
                (
                    k.to_string(),
                    body["eventType"].as_str().unwrap_or("").to_string(),
                )
            } else {
                (
                    body["alert"]["key"].as_str().unwrap_or("").to_string(),
                    body["event"]["kind"].as_str().unwrap_or("").to_string(),
                )
            };
            if Some(&k) != key.as_ref() {
                continue;
            }
            if let Some(t) = cfg.alert_target(&target)
                && t.kind() == crate::config::alerts::TargetKind::Webhook
            {
                let secret = t.secret.as_ref().map_or("", |s| s.get_ref().as_str());
                let sig = req
                    .headers
                    .get("x-switchboard-signature")
                    .cloned()
                    .unwrap_or_default();
                let json_bytes = match req.part("event") {
                    Some(p) => p,
                    None => req.body.clone(),
                };
                let t_s = sig
                    .split(',')
                    .find_map(|p| p.strip_prefix("t="))
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                if !crate::alerts::payload::verify(secret, &sig, &json_bytes, t_s, 0)
                    || (t_s - wall.as_second()).abs() > 86_400
                {
                    f.push(format!("delivered: bad webhook signature on {kind}"));
                }
                if let Some(audio) = req.part("voicemail") {
                    let sha = crate::store::voicemail::sha256_hex(&audio);
                    if body["voicemail"]["sha256"].as_str() != Some(sha.as_str())
                        || vm.is_some_and(|v| v.row.sha256 != sha)
                    {
                        f.push(
                            "delivered: the attached voicemail does not match its sha256".into(),
                        );
                    }
                }
            }
            got.push(format!("{target}:{kind}"));
        }
        if &got != want {
            f.push(format!("delivered: expected {want:?}, got {got:?}"));
        }
    }
    Ok(f)
}

pub(super) fn check_voicemail(
    x: &Expect,
    cdr: Option<&Cdr>,
    vm: Option<&VoicemailFound>,
) -> Vec<String> {
    let mut f = Vec::new();
    let Some(cdr) = cdr else { return f };
    if let Some(want) = &x.voicemail {
        let got = cdr.voicemail.clone().unwrap_or_default();
        if &got != want {
            f.push(format!("voicemail: expected {want:?}, got {got:?}"));
        }
    }
    let wants_file = x.voicemail_empty.is_some()
        || x.voicemail_seconds.is_some()
        || x.voicemail_marker.is_some()
        || x.voicemail_ended_by.is_some();
    let Some(vm) = vm else {
        if wants_file {
            f.push("voicemail: no voicemail was stored for the call".into());
        }
        return f;
    };
    if let Some(e) = x.voicemail_empty
        && vm.row.empty != e
    {
        f.push(format!(
            "voicemail_empty: expected {e}, got {}",
            vm.row.empty
        ));
    }
    if let Some(by) = &x.voicemail_ended_by
        && &vm.row.ended_by != by
    {
        f.push(format!(
            "voicemail_ended_by: expected {by:?}, got {:?}",
            vm.row.ended_by
        ));
    }
    let decoded = vm.samples.len() as f64 / f64::from(crate::dsp::SAMPLE_RATE);
    if (decoded - vm.row.seconds).abs() > 0.05 {
        f.push(format!(
            "voicemail: the file decodes to {decoded:.2} s but the index says {:.2} s",
            vm.row.seconds
        ));
    }
    if let Some([lo, hi]) = x.voicemail_seconds
        && !(lo..=hi).contains(&decoded)
    {
        f.push(format!(
            "voicemail_seconds: expected {lo} to {hi} s, the file has {decoded:.2} s"
        ));
    }
    if let Some(want) = x.voicemail_marker {
        let level = crate::hw::sim::party::marker_level_dbm0(&vm.samples, CALLER_MARKER_HZ);
        let sent = crate::hw::sim::party::MARKER_LEVEL_DBM0;
        let ok = level.is_some_and(|l| (l - sent).abs() <= 3.0);
        if ok != want {
            f.push(format!(
                "voicemail_marker: expected {want}, the caller's {CALLER_MARKER_HZ} Hz marker was sent at {sent} dBm0 and the file has it at {level:?} dBm0"
            ));
        }
    }
    f
}

pub(super) fn check(
    x: &Expect,
    cdr: Option<&Cdr>,
    events: &[serde_json::Value],
    caller_heard_ms: u32,
    responder_heard_ms: u32,
) -> Vec<String> {
    let mut f = Vec::new();
    let Some(cdr) = cdr else {
        f.push("no call detail record was written".into());
        return f;
    };
    if let Some(r) = &x.end_reason {
        if cdr.end_reason.as_str() != r {
            f.push(format!(
                "end_reason: expected {r}, got {}",
                cdr.end_reason.as_str()
            ));
        }
    }
    if let Some(o) = x.option {
        if cdr.option_key != Some(o) {
            f.push(format!("option: expected {o}, got {:?}", cdr.option_key));
        }
    }
    if let Some(a) = &x.accepted_by {
        let got = cdr.accepted_by.clone().unwrap_or_default();
        if &got != a {
            f.push(format!("accepted_by: expected {a:?}, got {got:?}"));
        }
    }
    if let Some(want) = &x.attempts {
        let got: Vec<String> = cdr
            .attempts
            .iter()
            .map(|a| format!("{}:{}", a.user, a.outcome.as_str()))
            .collect();
        if &got != want {
            f.push(format!("attempts: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(d) = &x.digits {
        if &cdr.digits != d {
            f.push(format!("digits: expected {d:?}, got {:?}", cdr.digits));
        }
    }
    for h in &x.caller_heard {
        if !super::events::caller_heard(events, cdr.call_id, h) {
            f.push(format!("caller_heard: the caller never heard {h:?}"));
        }
    }
    if let Some(b) = x.bridged_audio {
        let both = caller_heard_ms >= 1000 && responder_heard_ms >= 1000;
        if both != b {
            f.push(format!(
                "bridged_audio: expected {b}, but the caller heard the responder for {caller_heard_ms} ms and the responder heard the caller for {responder_heard_ms} ms"
            ));
        }
    }
    f.extend(super::events::check(&x.event, events));
    if let Some(o) = &x.overflow {
        let got = cdr.overflow.clone().unwrap_or_default();
        if &got != o {
            f.push(format!("overflow: expected {o:?}, got {got:?}"));
        }
    }
    if let Some(p) = &x.pin {
        if cdr.pin.as_ref() != Some(p) {
            f.push(format!("pin: expected {p:?}, got {:?}", cdr.pin));
        }
    }
    if let Some(want) = &x.path {
        if &cdr.path != want {
            f.push(format!("path: expected {want:?}, got {:?}", cdr.path));
        }
    }
    if let Some(q) = x.queued {
        let waited = cdr.queue_seconds.is_some_and(|s| s > 0.0);
        if waited != q {
            f.push(format!(
                "queued: expected {q}, but the caller waited {:?} s for a line",
                cdr.queue_seconds
            ));
        }
    }
    if let Some(r) = &x.routing_id {
        if &cdr.routing_id != r {
            f.push(format!(
                "routing_id: expected {r:?}, got {:?}",
                cdr.routing_id
            ));
        }
    }
    if let Some(m) = x.max_call_duration {
        if cdr.duration_seconds > m.as_secs_f64() {
            f.push(format!(
                "max_call_duration: the call took {:.1} s",
                cdr.duration_seconds
            ));
        }
    }
    f
}
