//! A second call to the SIM while the modem's one voice channel is in use (call
//! waiting, `+CCWA`), as the routing number on the modem's port says (`waiting_call`):
//!
//! - `reject` (default): `AT+CHLD=0` at once. The network treats the caller as busy
//!   (UDUB), so the SIM's conditional forwarding on busy (the backup box, `AT+CCFC`)
//!   takes the call. It is recorded: an id, [`CallEvent::Started`],
//!   [`CallEvent::Ended`] with `waiting_rejected`, and a CDR.
//! - `queue`: the call is not answered (that would need `AT+CHLD=2`, which puts the
//!   bridged call on hold). It keeps ringing — the caller hears ringback and pays
//!   nothing — and takes a place in the routing number's queue ([`CallEvent::Queued`];
//!   it counts toward `queue.max_callers`, and while it waits the modem takes no
//!   dial-out). A full queue or `queue.max_wait` rejects it as above (the CDR's
//!   `overflow` says which). When the modem's call ends the network presents it as a
//!   normal incoming call (the driver announces the same leg as `Incoming`); it is
//!   answered then and runs the routing number's flow under the id it got when it
//!   started waiting, its wait counted in the CDR's `queue_seconds`. A caller who
//!   gives up while waiting ends as `caller_abandoned`.

use std::time::Instant;

use jiff::Timestamp;

use super::{CallEvent, Carrier, Exchange, Happening, Output, WaitingRejected};
use crate::call::{CallId, Cdr, EndReason, Intake};
use crate::config::WaitingCall;
use crate::modem::{LegId, LegState};

/// A call to the SIM waiting (ringing) for the modem's call to end.
pub(super) struct SimWaiting {
    leg: LegId,
    call: CallId,
    caller_id: Option<String>,
    /// Routing number (name, id).
    routing: (String, String),
    since: Instant,
    at: Timestamp,
    max_wait_at: Instant,
    /// The network presents it as an incoming call; it is taken in once the modem's
    /// port is free.
    presented: bool,
}

impl Exchange {
    /// `+CCWA`: a call to the SIM while the modem is in use.
    pub(super) fn on_call_waiting(&mut self, now: Instant, leg: LegId, caller_id: Option<String>) {
        let port = self.modem_port;
        let generation = self.generation.clone();
        let rn = port.and_then(|p| {
            generation
                .cfg
                .routing_numbers
                .iter()
                .find(|r| r.serves_port(&self.ports[p].id))
        });
        let Some(rn) = rn.filter(|_| !self.stopping) else {
            self.note(
                None,
                port,
                Happening::WaitingCallRejected {
                    caller_id,
                    why: WaitingRejected::NoRoutingNumber,
                },
            );
            if let Some(m) = self.modem.as_mut() {
                m.hangup(now, leg);
            }
            return;
        };
        let call = self.next_call;
        self.next_call += 1;
        let max_wait = rn.queue.max_wait_for();
        let w = SimWaiting {
            leg,
            call,
            caller_id,
            routing: (rn.name.clone(), rn.key.clone()),
            since: now,
            at: self.wall(now),
            max_wait_at: now + max_wait,
            presented: false,
        };
        self.out.push_back(Output::Call(CallEvent::Started {
            call,
            routing_number: rn.key.clone(),
            port: port.map(|p| self.ports[p].id.clone()).unwrap_or_default(),
            caller_id: w.caller_id.clone(),
            generation: generation.number,
            at: w.at,
        }));
        if rn.waiting_call == WaitingCall::Reject {
            self.note(
                Some(call),
                port,
                Happening::WaitingCallRejected {
                    caller_id: w.caller_id.clone(),
                    why: WaitingRejected::Configured,
                },
            );
            self.reject_waiting(now, w, EndReason::WaitingRejected, None);
            return;
        }
        let max = rn.queue.max_callers_n() as usize;
        let queued = self.queued_on(&rn.key);
        if queued >= max {
            self.note(
                Some(call),
                port,
                Happening::WaitingCallRejected {
                    caller_id: w.caller_id.clone(),
                    why: WaitingRejected::QueueFull,
                },
            );
            self.reject_waiting(
                now,
                w,
                EndReason::WaitingRejected,
                Some("queue_full -> rejected"),
            );
            return;
        }
        let position = queued as u32 + 1;
        self.note(
            Some(call),
            port,
            Happening::WaitingCallQueued {
                caller_id: w.caller_id.clone(),
                position,
            },
        );
        self.out
            .push_back(Output::Call(CallEvent::Queued { call, position }));
        self.sim_waiting.push(w);
    }

    /// Callers of routing number `key` in its queue: calls waiting for a line and calls
    /// to the SIM waiting for the modem.
    pub(super) fn queued_on(&self, key: &str) -> usize {
        let lines = self
            .slots
            .iter()
            .filter(|s| {
                s.call.routing_id() == key && s.wait.as_ref().is_some_and(super::legs::Wait::queued)
            })
            .count();
        lines + self.sim_waiting_on(key)
    }

    /// Calls to the SIM of routing number `key` waiting for the modem.
    pub(super) fn sim_waiting_on(&self, key: &str) -> usize {
        self.sim_waiting
            .iter()
            .filter(|w| w.routing.1 == key)
            .count()
    }

    /// Whether a call to the SIM waits for the modem (which then takes no dial-out:
    /// the network presents the waiting call as soon as the modem's call ends).
    pub(super) fn sim_call_waiting(&self) -> bool {
        !self.sim_waiting.is_empty()
    }

    /// `Incoming` for a leg that waited: the network presents it now that the modem's
    /// call ended. Returns false when the leg did not wait.
    pub(super) fn sim_waiting_presented(&mut self, now: Instant, leg: LegId) -> bool {
        let Some(w) = self.sim_waiting.iter_mut().find(|w| w.leg == leg) else {
            return false;
        };
        w.presented = true;
        self.serve_presented_sim_call(now);
        true
    }

    /// Takes in the presented waiting call once the modem's port is free (the call it
    /// waited behind may still be finishing).
    pub(super) fn serve_presented_sim_call(&mut self, now: Instant) {
        let Some(port) = self.modem_port else { return };
        if self.ports[port].owner.is_some() || self.modem_in_test_call() {
            return;
        }
        let Some(i) = self.sim_waiting.iter().position(|w| w.presented) else {
            return;
        };
        let w = self.sim_waiting.remove(i);
        if self.stopping {
            self.reject_waiting(now, w, EndReason::Shutdown, None);
            return;
        }
        let waited = now.saturating_duration_since(w.since).as_secs_f64();
        self.note(
            Some(w.call),
            Some(port),
            Happening::WaitingCallAnswered { waited_s: waited },
        );
        let intake = Intake {
            caller_id: w.caller_id.clone(),
            hotline: false,
        };
        if !self.intake_as(
            now,
            port,
            Carrier::Modem(w.leg),
            intake,
            Some((w.call, waited)),
        ) {
            // refused (e.g. its routing number was removed by a reload): recorded
            self.reject_waiting(now, w, EndReason::WaitingRejected, None);
        }
    }

    /// A waiting leg changed state: it ended (its caller gave up). Returns false when
    /// the leg did not wait.
    pub(super) fn sim_waiting_leg(&mut self, now: Instant, leg: LegId, state: &LegState) -> bool {
        let Some(i) = self.sim_waiting.iter().position(|w| w.leg == leg) else {
            return false;
        };
        if matches!(state, LegState::Ended(_)) {
            let w = self.sim_waiting.remove(i);
            self.note(
                Some(w.call),
                self.modem_port,
                Happening::WaitingCallerGaveUp,
            );
            self.record_waiting(now, &w, EndReason::CallerAbandoned, None);
        }
        true
    }

    /// Rejects waiting calls past their routing number's `queue.max_wait`.
    pub(super) fn sim_waiting_timers(&mut self, now: Instant) {
        while let Some(i) = self
            .sim_waiting
            .iter()
            .position(|w| !w.presented && now >= w.max_wait_at)
        {
            let w = self.sim_waiting.remove(i);
            self.note(
                Some(w.call),
                self.modem_port,
                Happening::WaitingCallRejected {
                    caller_id: w.caller_id.clone(),
                    why: WaitingRejected::MaxWait,
                },
            );
            self.reject_waiting(
                now,
                w,
                EndReason::WaitingRejected,
                Some("max_wait -> rejected"),
            );
        }
    }

    /// When [`Exchange::sim_waiting_timers`] must run.
    pub(super) fn sim_waiting_timeout(&self) -> Option<Instant> {
        self.sim_waiting
            .iter()
            .filter(|w| !w.presented)
            .map(|w| w.max_wait_at)
            .min()
    }

    /// A hang-up requested for a call that still waits: it is rejected (busy for the
    /// network). Returns false when no waiting call has that id.
    pub(super) fn hang_up_waiting(&mut self, now: Instant, call: CallId) -> bool {
        let Some(i) = self.sim_waiting.iter().position(|w| w.call == call) else {
            return false;
        };
        let w = self.sim_waiting.remove(i);
        self.note(
            Some(call),
            self.modem_port,
            Happening::WaitingCallRejected {
                caller_id: w.caller_id.clone(),
                why: WaitingRejected::HangUpRequested,
            },
        );
        self.reject_waiting(now, w, EndReason::WaitingRejected, None);
        true
    }

    /// The service stops: waiting calls are rejected (busy: forwarded on busy).
    pub(super) fn reject_all_waiting(&mut self, now: Instant) {
        for w in std::mem::take(&mut self.sim_waiting) {
            self.reject_waiting(now, w, EndReason::Shutdown, None);
        }
    }

    /// Calls to the SIM waiting for the modem.
    pub(super) fn sim_waiting_count(&self) -> usize {
        self.sim_waiting.len()
    }

    fn reject_waiting(
        &mut self,
        now: Instant,
        w: SimWaiting,
        reason: EndReason,
        overflow: Option<&str>,
    ) {
        if let Some(m) = self.modem.as_mut() {
            // AT+CHLD=0 while it waits
            m.hangup(now, w.leg);
        }
        self.record_waiting(now, &w, reason, overflow);
    }

    /// The call's end and CDR (it was never answered).
    fn record_waiting(
        &mut self,
        now: Instant,
        w: &SimWaiting,
        reason: EndReason,
        overflow: Option<&str>,
    ) {
        let port = self
            .modem_port
            .map(|p| self.ports[p].id.clone())
            .unwrap_or_default();
        let mut cdr = Cdr::started(
            w.call,
            w.at,
            w.routing.clone(),
            port,
            w.caller_id.clone(),
            reason,
        );
        let waited = now.saturating_duration_since(w.since).as_secs_f64();
        cdr.ended_at = self.wall(now);
        cdr.duration_seconds = waited;
        cdr.queue_seconds = (waited > 0.0).then_some(waited);
        cdr.overflow = overflow.map(str::to_string);
        self.out.push_back(Output::Call(CallEvent::Ended {
            call: w.call,
            reason,
        }));
        self.out.push_back(Output::Cdr(Box::new(cdr)));
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use std::sync::Arc;

    use super::super::{CallEvent, Exchange, Output};
    use crate::call::EndReason;
    use crate::config::{BoardProfile, Config};
    use crate::media::PromptLibrary;

    /// The SIM's routing number with `waiting_call` and a queue of one.
    fn exchange(waiting: &str) -> (Exchange, std::time::Instant) {
        let src = format!(
            r#"
[[user]]
id = "a"
phone = ["+491701111111"]
[[policy]]
id = "p"
[[policy.level]]
users = ["a"]
[[routing_number]]
id = "sim"
name = "SIM"
port = "modem"
waiting_call = "{waiting}"
[routing_number.queue]
max_callers = 1
[[routing_number.option]]
key = 1
label = "L"
policy = "p"
"#
        );
        let board = BoardProfile::sim();
        let cfg = Arc::new(Config::parse("t.toml", &src, &board).unwrap());
        let mut prompts = PromptLibrary::default();
        for (key, _voice, text) in crate::media::prompt_texts(&cfg) {
            prompts.insert(key, text, vec![0; 2400]);
        }
        let now = std::time::Instant::now();
        let mut ex = Exchange::new(
            &board,
            cfg,
            Arc::new(prompts),
            now,
            jiff::Timestamp::UNIX_EPOCH,
            1,
        );
        let _ = talk(&mut ex, now, "");
        assert!(ex.status().modem.unwrap().ready);
        (ex, now)
    }

    /// Feeds `urcs` (one per line), answers every command as a registered modem whose
    /// `+CLCC` lists the first call once there is one, and returns the commands sent
    /// and the typed call outputs.
    fn talk(ex: &mut Exchange, now: std::time::Instant, urcs: &str) -> (Vec<String>, Vec<Output>) {
        for l in urcs.lines().filter(|l| !l.is_empty()) {
            ex.on_modem_bytes(now, format!("\r\n{l}\r\n").as_bytes());
        }
        let mut sent = Vec::new();
        for _ in 0..200 {
            let Some(tx) = ex.poll_modem_transmit() else {
                break;
            };
            let cmd = String::from_utf8_lossy(&tx).trim().to_string();
            let reply = match cmd.as_str() {
                "AT+CPIN?" => "\r\n+CPIN: READY\r\n\r\nOK\r\n",
                "AT+CREG?" => "\r\n+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7\r\n\r\nOK\r\n",
                "AT+CSQ" => "\r\n+CSQ: 20,99\r\n\r\nOK\r\n",
                "AT+CLCC" if ex.status().calls.is_empty() => "\r\nOK\r\n",
                "AT+CLCC" => "\r\n+CLCC: 1,1,0,0,0,\"+15550001111\",145\r\n\r\nOK\r\n",
                _ => "\r\nOK\r\n",
            };
            sent.push(cmd);
            ex.on_modem_bytes(now, reply.as_bytes());
        }
        let out = std::iter::from_fn(|| ex.poll_output())
            .filter(|o| matches!(o, Output::Call(_) | Output::Cdr(_)))
            .collect();
        (sent, out)
    }

    fn ended(out: &[Output]) -> Vec<(u64, EndReason, Option<String>)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Cdr(c) => Some((c.call_id, c.end_reason, c.overflow.clone())),
                _ => None,
            })
            .collect()
    }

    const FIRST: &str = "RING\n+CLIP: \"+15550001111\",145,\"\",,\"\",0";
    const SECOND: &str = "+CCWA: \"+15550002222\",145,1";
    const THIRD: &str = "+CCWA: \"+15550003333\",145,1";

    /// The id of the call that started for `caller`.
    fn started(out: &[Output], caller: &str) -> u64 {
        out.iter()
            .find_map(|o| match o {
                Output::Call(CallEvent::Started {
                    call,
                    caller_id: Some(c),
                    ..
                }) if c == caller => Some(*call),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no call from {caller}: {out:#?}"))
    }

    #[test]
    fn reject_records_the_waiting_call() {
        let (mut ex, now) = exchange("reject");
        let (sent, out) = talk(&mut ex, now, FIRST);
        assert!(sent.contains(&"ATA".to_string()), "{sent:?}");
        let first = started(&out, "+15550001111");
        let (sent, out) = talk(&mut ex, now, SECOND);
        assert!(sent.contains(&"AT+CHLD=0".to_string()), "{sent:?}");
        let second = started(&out, "+15550002222");
        assert_ne!(first, second);
        assert!(out.contains(&Output::Call(CallEvent::Ended {
            call: second,
            reason: EndReason::WaitingRejected
        })));
        assert_eq!(
            ended(&out),
            vec![(second, EndReason::WaitingRejected, None)]
        );
        assert_eq!(ex.active_calls(), 1);
    }

    #[test]
    fn queue_leaves_it_ringing_until_the_queue_is_full() {
        let (mut ex, now) = exchange("queue");
        let _ = talk(&mut ex, now, FIRST);
        let (sent, out) = talk(&mut ex, now, SECOND);
        assert!(!sent.iter().any(|c| c.starts_with("AT+CHLD")), "{sent:?}");
        let second = started(&out, "+15550002222");
        assert!(out.contains(&Output::Call(CallEvent::Queued {
            call: second,
            position: 1
        })));
        assert_eq!(ended(&out), vec![]);
        assert_eq!(ex.active_calls(), 2);
        // a third caller finds the queue (max_callers = 1) full: rejected and recorded
        let (sent, out) = talk(&mut ex, now, THIRD);
        assert!(sent.contains(&"AT+CHLD=0".to_string()), "{sent:?}");
        let third = started(&out, "+15550003333");
        assert_eq!(
            ended(&out),
            vec![(
                third,
                EndReason::WaitingRejected,
                Some("queue_full -> rejected".into())
            )]
        );
        assert_eq!(ex.active_calls(), 2);
    }
}
