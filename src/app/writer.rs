//! The call writer: turns what the engine reports (typed call events, voicemail, the
//! final CDR) into durable records — the call record written at the call's start and
//! updated at each step, and the alert events those steps cause, **in the same
//! transaction** — and wakes the alert sender. Used by the store thread of the service
//! and by the scenario runner.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use serde_json::json;

use crate::call::{CallId, Cdr, EndReason};
use crate::config::Config;
use crate::config::alerts::CreateAlert;
use crate::exchange::{CallEvent, VoicemailOut};
use crate::store::alerts::{EventKind, NewAlert, NewEvent, add_event, create_alert};
use crate::store::{self, Store};

/// What the engine hands the store thread.
pub enum StoreMsg {
    /// A change in a call's life.
    Call(CallEvent),
    /// A voicemail (comes before its call's CDR).
    Voicemail(Box<VoicemailOut>),
    /// A finished call's record.
    Cdr(Box<Cdr>),
    /// A received SMS (still in the modem's storage at `indexes`).
    Sms {
        /// Sender.
        from: String,
        /// Text.
        text: String,
        /// Network time stamp.
        at: String,
        /// Storage indexes, deleted once the message is committed.
        indexes: Vec<u32>,
    },
    /// A self-test call ended.
    TestCall(crate::exchange::TestCallResult, jiff::Timestamp),
    /// A configuration took effect (a reload, refreshed feeds): alert targets, SMS cap
    /// and voicemail retention of what is written from now on.
    Config(Arc<Config>),
}

/// What the writer keeps about a call in progress.
#[derive(Debug, Clone, Default)]
struct Open {
    cdr_id: i64,
    alert_id: Option<i64>,
    voicemail: Option<(i64, bool)>,
}

/// Writes call records, voicemail and alert events in order.
pub struct CallWriter {
    voicemail_dir: PathBuf,
    cfg: Arc<Config>,
    open: HashMap<CallId, Open>,
    wake: Option<crossbeam_channel::Sender<()>>,
    /// Commands for the engine (delete stored SMS, confirmations by SMS).
    commands: Vec<crate::exchange::Command>,
}

/// The SMS's own time stamp when it parses, else now.
fn at_of(at: &str, now: jiff::Timestamp) -> jiff::Timestamp {
    at.parse::<jiff::Timestamp>().unwrap_or(now)
}

/// Outbox rows are due from the time of the event that caused them (the exchange's wall
/// clock: real time in the service, virtual time in scenarios).
fn ms(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

impl CallWriter {
    /// A writer for calls of `cfg`'s routing numbers, with voicemail files under
    /// `voicemail_dir`; `wake` is poked whenever alert events were queued.
    pub fn new(
        voicemail_dir: PathBuf,
        cfg: Arc<Config>,
        wake: Option<crossbeam_channel::Sender<()>>,
    ) -> Self {
        Self {
            voicemail_dir,
            cfg,
            open: HashMap::new(),
            wake,
            commands: Vec::new(),
        }
    }

    /// Commands for the engine that storing produced, in order.
    pub fn take_commands(&mut self) -> Vec<crate::exchange::Command> {
        std::mem::take(&mut self.commands)
    }

    /// Uses a new configuration for calls that start from now on.
    pub fn set_config(&mut self, cfg: Arc<Config>) {
        self.cfg = cfg;
    }

    /// The configuration in force.
    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    fn poke(&self) {
        if let Some(w) = &self.wake {
            let _ = w.try_send(());
        }
    }

    /// Stores one message; for a finished call returns its CDR row id (or the error,
    /// also logged).
    pub fn handle(&mut self, store: &mut Store, msg: StoreMsg) -> Option<Result<i64>> {
        match msg {
            StoreMsg::Call(ev) => {
                if let Err(e) = self.call_event(store, &ev) {
                    tracing::error!("cannot record the call event {ev:?}: {e:#}");
                }
                None
            }
            StoreMsg::Voicemail(vm) => {
                match store.insert_voicemail(&self.voicemail_dir, &vm) {
                    Ok(row) => {
                        tracing::info!(
                            call = vm.call,
                            voicemail = row.id,
                            seconds = row.seconds,
                            bytes = row.bytes,
                            empty = row.empty,
                            "voicemail stored"
                        );
                        self.open.entry(vm.call).or_default().voicemail = Some((row.id, row.empty));
                    }
                    Err(e) => tracing::error!(call = vm.call, "cannot store the voicemail: {e:#}"),
                }
                None
            }
            StoreMsg::Sms {
                from,
                text,
                at,
                indexes,
            } => {
                match store.insert_sms(&from, &at, &text, &jiff::Timestamp::now().to_string()) {
                    Ok(new) => {
                        // committed: now the SIM's copy may go
                        if !indexes.is_empty() {
                            self.commands
                                .push(crate::exchange::Command::DeleteSms { indexes });
                        }
                        if let Some(id) = new
                            && let Err(e) = self.act_on_sms(store, id, &from, &text, &at)
                        {
                            tracing::error!(sms = id, "cannot act on the SMS from {from}: {e:#}");
                        }
                    }
                    // not stored: it stays on the SIM and is read again at the next start
                    Err(e) => tracing::error!("cannot store the SMS from {from}: {e:#}"),
                }
                None
            }
            StoreMsg::Config(cfg) => {
                self.set_config(cfg);
                None
            }
            StoreMsg::TestCall(r, at) => {
                if let Err(e) = self.test_call(store, &r, at) {
                    tracing::error!("cannot record the test call: {e:#}");
                }
                None
            }
            StoreMsg::Cdr(cdr) => {
                let r = self.finish(store, *cdr);
                if let Err(e) = &r {
                    tracing::error!("cannot store the CDR: {e:#}");
                }
                Some(r)
            }
        }
    }

    fn call_event(&mut self, store: &mut Store, ev: &CallEvent) -> Result<()> {
        match ev {
            CallEvent::Started {
                call,
                routing_number,
                port,
                caller_id,
                at,
                ..
            } => {
                let (name, alerts) = match self.cfg.routing_number(routing_number) {
                    Some((_, rn)) => (rn.name.clone(), Some(rn.alerts.clone())),
                    None => (routing_number.clone(), None),
                };
                let mut cdr = Cdr::started(
                    *call,
                    *at,
                    (name.clone(), routing_number.clone()),
                    port.clone(),
                    caller_id.clone(),
                    EndReason::InProgress,
                );
                let tx = store.conn.transaction()?;
                let cdr_id = store::begin_cdr_tx(&tx, &cdr)?;
                let mut alert_id = None;
                if let Some(a) = alerts.filter(|a| !a.targets.is_empty())
                    && a.create() == CreateAlert::CallStart
                {
                    let id = self.new_alert(&tx, cdr_id, &cdr, &a, None, *at)?;
                    cdr.alert_id = Some(id);
                    tx.execute(
                        "UPDATE cdr SET alert_id = ?1 WHERE id = ?2",
                        rusqlite::params![id, cdr_id],
                    )?;
                    alert_id = Some(id);
                }
                tx.commit()?;
                self.open.insert(
                    *call,
                    Open {
                        cdr_id,
                        alert_id,
                        voicemail: None,
                    },
                );
                if alert_id.is_some() {
                    self.poke();
                }
            }
            CallEvent::Phase { call, phase } => {
                if let Some(o) = self.open.get(call) {
                    let tx = store.conn.transaction()?;
                    store::set_phase_tx(&tx, o.cdr_id, phase)?;
                    tx.commit()?;
                }
            }
            CallEvent::Accepted { call, user, at } => {
                if let Some(o) = self.open.get(call) {
                    let tx = store.conn.transaction()?;
                    store::set_phase_tx(&tx, o.cdr_id, "bridged")?;
                    tx.execute(
                        "UPDATE cdr SET accepted_by = ?1, bridge_started_at = ?2 WHERE id = ?3",
                        rusqlite::params![user, at.to_string(), o.cdr_id],
                    )?;
                    if let Some(a) = o.alert_id {
                        add_event(
                            &tx,
                            a,
                            &NewEvent {
                                kind: EventKind::Accept,
                                at: at.to_string(),
                                details: json!({ "accepted_by": user }),
                                voicemail_id: None,
                            },
                            ms(*at),
                        )?;
                    }
                    tx.commit()?;
                    if o.alert_id.is_some() {
                        self.poke();
                    }
                }
            }
            CallEvent::AlertStep { call, step, at } => self.alert_step(store, *call, step, *at)?,
            _ => {}
        }
        Ok(())
    }

    /// A flow's alert step: the call's alert is created now, or, when it has one, gets a
    /// new trigger (an update at the receivers) saying which step.
    fn alert_step(
        &mut self,
        store: &mut Store,
        call: crate::call::CallId,
        step: &str,
        at: jiff::Timestamp,
    ) -> Result<()> {
        let Some(o) = self.open.get(&call) else {
            return Ok(());
        };
        let (cdr_id, existing) = (o.cdr_id, o.alert_id);
        let Some(cdr) = store.cdr(cdr_id)? else {
            return Ok(());
        };
        let Some(a) = self
            .cfg
            .routing_number(&cdr.routing_id)
            .map(|(_, rn)| rn.alerts.clone())
            .filter(|a| !a.targets.is_empty())
        else {
            return Ok(());
        };
        let tx = store.conn.transaction()?;
        let id = match existing {
            Some(id) => {
                add_event(
                    &tx,
                    id,
                    &NewEvent {
                        kind: EventKind::Trigger,
                        at: at.to_string(),
                        details: json!({ "step": step, "caller_id": cdr.caller_id }),
                        voicemail_id: None,
                    },
                    ms(at),
                )?;
                id
            }
            None => {
                let id = self.new_alert(&tx, cdr_id, &cdr, &a, None, at)?;
                tx.execute(
                    "UPDATE cdr SET alert_id = ?1 WHERE id = ?2",
                    rusqlite::params![id, cdr_id],
                )?;
                id
            }
        };
        tx.commit()?;
        if let Some(o) = self.open.get_mut(&call) {
            o.alert_id = Some(id);
        }
        self.poke();
        Ok(())
    }

    fn new_alert(
        &self,
        tx: &rusqlite::Transaction<'_>,
        cdr_id: i64,
        cdr: &Cdr,
        a: &crate::config::alerts::RoutingAlerts,
        voicemail: Option<i64>,
        now: jiff::Timestamp,
    ) -> Result<i64> {
        let caller = cdr.caller_id.as_deref().unwrap_or("an anonymous caller");
        let summary = format!("Call from {caller} on {}", cdr.routing_number);
        let id = create_alert(
            tx,
            &NewAlert {
                cdr_id: Some(cdr_id),
                routing_id: cdr.routing_id.clone(),
                summary,
                caller_id: cdr.caller_id.clone(),
                targets: a.targets.iter().map(|t| t.get_ref().clone()).collect(),
            },
            &cdr.started_at.to_string(),
        )?;
        add_event(
            tx,
            id,
            &NewEvent {
                kind: EventKind::Trigger,
                at: cdr.started_at.to_string(),
                details: json!({
                    "caller_id": cdr.caller_id,
                    "routing_number": cdr.routing_number,
                    "port": cdr.port,
                    "option": cdr.option_label,
                    "started_at": cdr.started_at.to_string(),
                    "attempts": cdr.attempts.iter().map(|x| format!("{}:{}", x.user, x.outcome.as_str())).collect::<Vec<_>>(),
                }),
                voicemail_id: voicemail,
            },
            ms(now),
        )?;
        Ok(id)
    }

    /// Raises and resolves the box's health alerts (`[health]`): a raised condition
    /// becomes an alert `health:<key>` with a trigger, a cleared one resolves the open
    /// alert of its key. Logged either way; queued only when `[health] targets` is set.
    pub fn health(
        &mut self,
        store: &mut Store,
        changes: &[crate::alerts::health::HealthChange],
        now: jiff::Timestamp,
    ) -> Result<()> {
        let targets: Vec<String> = self
            .cfg
            .health
            .targets
            .iter()
            .map(|t| t.get_ref().clone())
            .collect();
        for c in changes {
            let routing_id = format!("health:{}", c.key);
            if c.raised {
                tracing::warn!(health = %c.key, "{}", c.summary);
            } else {
                tracing::info!(health = %c.key, "{}", c.summary);
            }
            if targets.is_empty() {
                continue;
            }
            let tx = store.conn.transaction()?;
            if c.raised {
                let id = create_alert(
                    &tx,
                    &NewAlert {
                        cdr_id: None,
                        routing_id,
                        summary: c.summary.clone(),
                        caller_id: None,
                        targets: targets.clone(),
                    },
                    &now.to_string(),
                )?;
                add_event(
                    &tx,
                    id,
                    &NewEvent {
                        kind: EventKind::Trigger,
                        at: now.to_string(),
                        details: c.details.clone(),
                        voicemail_id: None,
                    },
                    ms(now),
                )?;
            } else {
                if let Some(id) = crate::store::alerts::open_alert_for(&tx, &routing_id)? {
                    add_event(
                        &tx,
                        id,
                        &NewEvent {
                            kind: EventKind::Resolve,
                            at: now.to_string(),
                            details: c.details.clone(),
                            voicemail_id: None,
                        },
                        ms(now),
                    )?;
                }
            }
            tx.commit()?;
            self.poke();
        }
        Ok(())
    }

    /// Records a self-test call; a failure raises the `health:self_test` alert, the
    /// next pass resolves it. A manual test call (the web page's) is only recorded.
    pub fn test_call(
        &mut self,
        store: &mut Store,
        r: &crate::exchange::TestCallResult,
        at: jiff::Timestamp,
    ) -> Result<()> {
        let (passed, detail) = match &r.outcome {
            Ok(p) => (
                true,
                format!(
                    "answered after {:.1} s, tone {:.1} s",
                    p.answered_after_ms as f64 / 1000.0,
                    p.tone_ms as f64 / 1000.0
                ),
            ),
            Err(why) => (false, why.clone()),
        };
        store.insert_self_test(ms(at), &r.number, passed, &detail, r.manual, Some(r.id))?;
        if r.manual {
            // a test call from the web page: its result is shown there, and it neither
            // raises nor resolves the periodic self-test's alert
            tracing::info!(
                test_call = r.id,
                number = %r.number,
                passed,
                "manual test call: {detail}"
            );
            return Ok(());
        }
        let site = self.cfg.site.name.clone();
        let change = crate::alerts::health::HealthChange {
            key: "self_test".into(),
            raised: !passed,
            summary: if passed {
                format!(
                    "Switchboard at {site}: the self-test call to {} passed ({detail})",
                    r.number
                )
            } else {
                format!(
                    "Switchboard at {site}: the self-test call to {} failed: {detail}",
                    r.number
                )
            },
            details: json!({ "health": "self_test", "number": r.number, "passed": passed, "detail": detail }),
        };
        // a failure while the last one's alert is still open is the same alert
        let open = crate::store::alerts::open_alert_for(&store.conn, "health:self_test")?;
        if passed || open.is_none() {
            self.health(store, &[change], at)?;
        } else {
            tracing::warn!("{}", change.summary);
        }
        Ok(())
    }

    /// A responder's reply (`12a`, `12c`, `ack`, `close`) acts on an alert; anything
    /// else, or anyone else, is recorded and ignored.
    fn act_on_sms(
        &mut self,
        store: &mut Store,
        sms_id: i64,
        from: &str,
        text: &str,
        at: &str,
    ) -> Result<()> {
        use crate::alerts::reply::{ReplyAction, parse};
        // the SMS's own time (the network's clock; virtual time in scenarios)
        let when = at_of(at, jiff::Timestamp::now());
        let user = self
            .cfg
            .users
            .iter()
            .find(|u| u.phone.iter().any(|p| p.get_ref() == from))
            .map(|u| u.id.get_ref().clone());
        let Some(user) = user else {
            tracing::warn!(sms = sms_id, %from, "SMS from an unknown sender ignored");
            store.set_sms_action(sms_id, "ignored: unknown sender", None)?;
            return Ok(());
        };
        let Some(reply) = parse(text) else {
            tracing::warn!(sms = sms_id, %user, "SMS reply not understood; ignored");
            store.set_sms_action(sms_id, "ignored: not a reply code", None)?;
            self.confirm(
                store,
                when,
                from,
                "Not understood. Reply e.g. 12a to acknowledge alert 12 or 12c to close it.",
            );
            return Ok(());
        };
        let alert = match reply.alert {
            Some(a) => Some(a),
            None => store.newest_open_alert()?,
        };
        let status = match alert {
            Some(a) => store.alert_status(a)?,
            None => None,
        };
        let (Some(alert), Some(status)) = (alert, status) else {
            store.set_sms_action(sms_id, "ignored: no such alert", None)?;
            self.confirm(store, when, from, "No such open alert.");
            return Ok(());
        };
        let (kind, word) = match reply.action {
            ReplyAction::Ack => (EventKind::Accept, "acknowledged"),
            ReplyAction::Close => (EventKind::Resolve, "closed"),
        };
        let already =
            status == "resolved" || (reply.action == ReplyAction::Ack && status == "accepted");
        if already {
            store.set_sms_action(
                sms_id,
                &format!("ignored: alert {alert} already {status}"),
                Some(alert),
            )?;
            self.confirm(
                store,
                when,
                from,
                &format!("Alert {alert} is already {status}."),
            );
            return Ok(());
        }
        let tx = store.conn.transaction()?;
        add_event(
            &tx,
            alert,
            &NewEvent {
                kind,
                at: when.to_string(),
                details: json!({ "by": user, "via": "sms", "from": from }),
                voicemail_id: None,
            },
            ms(when),
        )?;
        tx.execute(
            "UPDATE sms_inbox SET action = ?1, alert_id = ?2 WHERE id = ?3",
            rusqlite::params![format!("{word} alert {alert}"), alert, sms_id],
        )?;
        tx.commit()?;
        tracing::info!(alert, %user, "alert {word} by SMS");
        self.confirm(
            store,
            when,
            from,
            &format!("Alert {alert} {word} by {user}."),
        );
        self.poke();
        Ok(())
    }

    /// A confirmation SMS, within the SMS cap (a reply loop with another machine must
    /// not run up a bill either).
    fn confirm(&mut self, store: &mut Store, now: jiff::Timestamp, to: &str, text: &str) {
        if !crate::config::is_e164(to) {
            return;
        }
        let cap = *self.cfg.sms.cap.get_ref();
        let window = self.cfg.sms.cap_window.get_ref().as_millis() as i64;
        match store.take_sms_slot(ms(now), window, cap, to, "reply") {
            Ok(true) => self.commands.push(crate::exchange::Command::SendSms {
                to: to.to_string(),
                text: text.to_string(),
            }),
            Ok(false) => tracing::error!(
                %to,
                "SMS cap reached ({cap} SMS within {}): confirmation not sent",
                crate::alerts::sms::human(*self.cfg.sms.cap_window.get_ref())
            ),
            Err(e) => tracing::error!(%to, "SMS cap not checked, confirmation not sent: {e:#}"),
        }
    }

    /// The call ended: its full record, and the alert events its end causes, in one
    /// transaction.
    fn finish(&mut self, store: &mut Store, mut cdr: Cdr) -> Result<i64> {
        let open = self.open.remove(&cdr.call_id);
        let alerts = self
            .cfg
            .routing_number(&cdr.routing_id)
            .map(|(_, rn)| rn.alerts.clone())
            .filter(|a| !a.targets.is_empty());
        let (vm_id, vm_empty) = match open.as_ref().and_then(|o| o.voicemail) {
            Some((id, empty)) => (Some(id), empty),
            None => (None, true),
        };
        cdr.voicemail_id = vm_id;
        let tx = store.conn.transaction()?;
        let cdr_id = match &open {
            Some(o) if o.cdr_id > 0 => {
                store::finish_cdr_tx(&tx, o.cdr_id, &cdr)?;
                o.cdr_id
            }
            _ => {
                let id = crate::store::insert_cdr_in(&tx, &cdr)?;
                tx.execute("UPDATE cdr SET phase = 'ended' WHERE id = ?1", [id])?;
                id
            }
        };
        let mut alert_id = open.as_ref().and_then(|o| o.alert_id);
        let mut queued = false;
        if let Some(a) = &alerts {
            let at = cdr.ended_at.to_string();
            let attached = vm_id.filter(|_| !vm_empty);
            let unanswered = cdr.accepted_by.is_none()
                && (matches!(
                    cdr.end_reason,
                    EndReason::NobodyAccepted
                        | EndReason::NobodyOnCall
                        | EndReason::Voicemail
                        | EndReason::Overflow
                ) || (cdr.end_reason == EndReason::CallerAbandoned
                    && cdr.option_key.is_some()));
            match alert_id {
                None if unanswered && a.create() == CreateAlert::NobodyAccepted => {
                    alert_id =
                        Some(self.new_alert(&tx, cdr_id, &cdr, a, attached, cdr.ended_at)?);
                    queued = true;
                }
                Some(id) if unanswered => {
                    let (kind, details) = match attached {
                        Some(_) => (
                            EventKind::Voicemail,
                            json!({ "end_reason": cdr.end_reason.as_str() }),
                        ),
                        None => (
                            EventKind::NobodyReached,
                            json!({
                                "end_reason": cdr.end_reason.as_str(),
                                "attempts": cdr.attempts.iter().map(|x| format!("{}:{}", x.user, x.outcome.as_str())).collect::<Vec<_>>(),
                            }),
                        ),
                    };
                    add_event(
                        &tx,
                        id,
                        &NewEvent {
                            kind,
                            at,
                            details,
                            voicemail_id: attached,
                        },
                        ms(cdr.ended_at),
                    )?;
                    queued = true;
                }
                Some(id) if a.resolve_at_call_end() => {
                    add_event(
                        &tx,
                        id,
                        &NewEvent {
                            kind: EventKind::Resolve,
                            at,
                            details: json!({
                                "end_reason": cdr.end_reason.as_str(),
                                "duration_seconds": cdr.duration_seconds,
                                "bridge_seconds": cdr.bridge_seconds,
                            }),
                            voicemail_id: None,
                        },
                        ms(cdr.ended_at),
                    )?;
                    queued = true;
                }
                _ => {}
            }
        }
        if let Some(id) = alert_id {
            tx.execute(
                "UPDATE cdr SET alert_id = ?1 WHERE id = ?2",
                rusqlite::params![id, cdr_id],
            )?;
            tx.execute(
                "UPDATE alert SET cdr_id = ?1 WHERE id = ?2",
                rusqlite::params![cdr_id, id],
            )?;
        }
        tx.commit()?;
        tracing::info!(call = cdr.call_id, cdr = cdr_id, "CDR stored");
        if queued {
            self.poke();
        }
        Ok(cdr_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Arc<Config> {
        Arc::new(Config::parse("t.toml", &cfg_src(), &crate::config::BoardProfile::sim()).unwrap())
    }

    fn cfg_src() -> String {
        r#"
[[alert_target]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "0123456789abcdef0123"
[[user]]
id = "alice"
phone = ["+491701111111"]
[[policy]]
id = "p"
  [[policy.level]]
  users = ["alice"]
[[routing_number]]
id = "hotline"
name = "Hotline"
port = "fxo1"
  [[routing_number.option]]
  key = 1
  label = "Ops"
  policy = "p"
  [routing_number.alerts]
  targets = ["hook"]
"#
        .to_string()
    }

    #[test]
    fn a_call_record_exists_from_the_start_and_a_crash_leaves_it_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("switchboard.db");
        let t: jiff::Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        {
            let mut store = Store::open(&db).unwrap();
            let mut w = CallWriter::new(dir.path().join("voicemail"), cfg(), None);
            w.handle(
                &mut store,
                StoreMsg::Call(CallEvent::Started {
                    call: 1,
                    routing_number: "hotline".into(),
                    port: "fxo1".into(),
                    caller_id: Some("+15550001111".into()),
                    generation: 0,
                    at: t,
                }),
            );
            w.handle(
                &mut store,
                StoreMsg::Call(CallEvent::Phase {
                    call: 1,
                    phase: "ringing responder",
                }),
            );
            let (id, cdr) = store.cdrs_between(None, None).unwrap().remove(0);
            assert_eq!(cdr.end_reason, EndReason::InProgress);
            assert_eq!(cdr.caller_id.as_deref(), Some("+15550001111"));
            // the trigger was queued in the same transaction as the record
            let alert = cdr.alert_id.expect("alert id on the record");
            assert_eq!(store.alert_event_kinds(alert).unwrap(), ["trigger"]);
            let phase: String = store
                .conn
                .query_row("SELECT phase FROM cdr WHERE id = ?1", [id], |r| r.get(0))
                .unwrap();
            assert_eq!(phase, "ringing responder");
            // "kill -9" here: the writer is gone without the CDR
        }
        let mut store = Store::open(&db).unwrap();
        assert_eq!(store.mark_interrupted().unwrap(), 1);
        let (_, cdr) = store.cdrs_between(None, None).unwrap().remove(0);
        assert_eq!(cdr.end_reason, EndReason::Interrupted);
    }

    #[test]
    fn a_new_configuration_changes_the_targets_of_alerts_from_then_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::in_memory().unwrap();
        let mut w = CallWriter::new(dir.path().join("voicemail"), cfg(), None);
        let t: jiff::Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let start = |w: &mut CallWriter, store: &mut Store, call| {
            w.handle(
                store,
                StoreMsg::Call(CallEvent::Started {
                    call,
                    routing_number: "hotline".into(),
                    port: "fxo1".into(),
                    caller_id: None,
                    generation: 0,
                    at: t,
                }),
            );
        };
        start(&mut w, &mut store, 1);
        // the reloaded configuration sends the hotline's alerts by SMS instead
        let src = cfg_src().replace("targets = [\"hook\"]", "targets = [\"sms\"]")
            + "[[alert_target]]\nname = \"sms\"\nkind = \"sms\"\nnumbers = [\"+491709999999\"]\n";
        let new = Config::parse("t.toml", &src, &crate::config::BoardProfile::sim()).unwrap();
        w.handle(&mut store, StoreMsg::Config(Arc::new(new)));
        start(&mut w, &mut store, 2);
        let targets: Vec<String> = store
            .alerts(10)
            .unwrap()
            .into_iter()
            .rev()
            .map(|a| {
                a.deliveries
                    .iter()
                    .map(|d| d.0.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        assert_eq!(targets, ["hook", "sms"]);
    }
}
