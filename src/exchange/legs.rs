//! Outbound capacity: responder legs on trunks, and the wait for a free one.
//!
//! A *trunk* is a port that can place a call: the modem (one voice channel, so one leg
//! at a time, whether the caller or a responder is on it) and every FXS port, whose
//! local phone is a responder written `port:<id>` in the configuration. A call's
//! responder leg is its trunk's port plus how it is carried ([`Carrier`]). When no
//! trunk can take a dial, the call waits: for a modem that is resetting (bounded by the
//! profile's `ready_wait_seconds`), or in its routing number's queue — FIFO within a
//! priority, `max_callers`, `max_wait`, position announcements — until a leg ends and
//! the freed trunk serves the head of the queue at once.

use std::time::{Duration, Instant};

use super::dialout::{DialOut, OUT_OF_SERVICE, Phase, Verdict};
use super::{
    CallEvent, Carrier, Event, Exchange, Happening, LegFailure, NoDial, Output, OverflowReason,
    PortIdx, Side, Side_,
};
use crate::config::{LOCAL_PHONE_PREFIX, PortKind};
use crate::dsp::dtmf::DtmfDetector;
use crate::line::LineCommand;

/// A dial that waits for a line.
pub(super) struct Wait {
    number: String,
    user: String,
    since: Instant,
    kind: WaitKind,
}

enum WaitKind {
    /// The modem is resetting or initialising; give up at `deadline`.
    Modem { deadline: Instant },
    /// Every trunk is busy: in the routing number's queue.
    Queue {
        seq: u64,
        priority: u8,
        max_wait_at: Instant,
        announce_at: Instant,
        every: Duration,
    },
}

impl Wait {
    /// When this wait needs attention next.
    pub(super) fn next_due(&self) -> Instant {
        match &self.kind {
            WaitKind::Modem { deadline } => *deadline,
            WaitKind::Queue {
                max_wait_at,
                announce_at,
                ..
            } => (*max_wait_at).min(*announce_at),
        }
    }

    /// Whether the call is in a queue (not just waiting for the modem to come back).
    pub(super) fn queued(&self) -> bool {
        matches!(self.kind, WaitKind::Queue { .. })
    }

    fn order(&self) -> Option<(std::cmp::Reverse<u8>, u64)> {
        match &self.kind {
            WaitKind::Queue { seq, priority, .. } => Some((std::cmp::Reverse(*priority), *seq)),
            WaitKind::Modem { .. } => None,
        }
    }
}

impl Exchange {
    /// Dials a responder for the call in slot `si`: a local phone on its FXS port, or
    /// a number through the modem — now, after the modem is back, or from the queue.
    pub(super) fn dial(&mut self, now: Instant, si: usize, number: String, user: String) {
        let id = self.slots[si].call.id();
        if let Some(port_id) = number.strip_prefix(LOCAL_PHONE_PREFIX) {
            self.ring_local_phone(now, si, port_id, &user);
            return;
        }
        let order = self.trunk_order(si);
        if order.is_empty() {
            self.dial_failed(id, None, user, NoDial::NoModem, None, LegFailure::Failed);
            return;
        }
        if let Some(port) = order.iter().copied().find(|&p| self.trunk_free(p, now)) {
            self.start_on(now, si, port, number, user);
            return;
        }
        let modem_only = order.len() == 1 && Some(order[0]) == self.modem_port;
        let (ready, stopped) = self
            .modem
            .as_ref()
            .map_or((false, true), |m| (m.status().ready, m.init_stopped()));
        if !modem_only {
            let in_service = order.iter().any(|&p| {
                if Some(p) == self.modem_port {
                    ready || !stopped
                } else {
                    self.ports[p].out_of_service_until.is_none()
                }
            });
            if in_service {
                self.enqueue(now, si, number, user, now);
            } else {
                self.dial_failed(
                    id,
                    None,
                    user,
                    NoDial::NoLineInService,
                    None,
                    LegFailure::Failed,
                );
            }
            return;
        }
        if ready {
            self.enqueue(now, si, number, user, now);
            return;
        }
        let slot = &self.slots[si];
        if !stopped && !slot.modem_wait_over && !self.ready_wait.is_zero() {
            self.note(
                Some(id),
                self.modem_port,
                Happening::ModemWait {
                    user: user.clone(),
                    up_to_s: self.ready_wait.as_secs(),
                },
            );
            self.slots[si].wait = Some(Wait {
                number,
                user,
                since: now,
                kind: WaitKind::Modem {
                    deadline: now + self.ready_wait,
                },
            });
            self.pending
                .push_back((id, Event::LegQueued { position: None }));
            return;
        }
        let (why, detail) = if stopped {
            (NoDial::ModemStopped, None)
        } else if slot.modem_wait_over {
            (
                NoDial::ModemNotBack,
                Some(self.ready_wait.as_secs().to_string()),
            )
        } else {
            (NoDial::ModemNotReady, None)
        };
        self.dial_failed(
            id,
            self.modem_port,
            user,
            why,
            detail,
            LegFailure::ModemUnavailable,
        );
    }

    /// The ports that may place this call's dials, in order: the configuration's
    /// `site.trunks`, or the modem alone.
    pub(super) fn trunk_order(&self, si: usize) -> Vec<PortIdx> {
        let site = &self.slots[si].generation.cfg.site;
        let order: Vec<PortIdx> = site
            .trunk_ids()
            .filter_map(|t| self.port_index(t))
            .collect();
        if site.trunk_ids().next().is_none() {
            return self.modem_port.into_iter().collect();
        }
        order
    }

    /// Whether a trunk can take a dial now.
    pub(super) fn trunk_free(&self, port: PortIdx, now: Instant) -> bool {
        let p = &self.ports[port];
        if p.owner.is_some() {
            return false;
        }
        if Some(port) == self.modem_port {
            // a call to the SIM waiting for the modem gets it first
            return !self.modem_in_test_call()
                && !self.sim_call_waiting()
                && self.modem.as_ref().is_some_and(|m| m.status().ready);
        }
        p.kind == PortKind::Fxo
            && p.line.as_ref().is_some_and(|l| l.state_name() == "idle")
            && p.out_of_service_until.is_none_or(|t| now >= t)
    }

    pub(super) fn start_on(
        &mut self,
        now: Instant,
        si: usize,
        port: PortIdx,
        number: String,
        user: String,
    ) {
        if Some(port) == self.modem_port {
            self.start_modem_leg(now, si, &number, &user);
        } else {
            self.start_fxo_leg(now, si, port, number, user);
        }
    }

    /// Seizes an FXO line to dial a responder (dial tone, DTMF, progress tones).
    fn start_fxo_leg(
        &mut self,
        now: Instant,
        si: usize,
        port: PortIdx,
        number: String,
        user: String,
    ) {
        let id = self.slots[si].call.id();
        let digits = crate::country::dial_digits(&self.country, &number);
        let plan = crate::country::tone_plan(&self.country);
        if let Some(l) = self.ports[port].line.as_mut() {
            let cmd = l.command(LineCommand::OffHook);
            self.out.push_back(Output::Line { port, cmd });
        }
        self.out.push_back(Output::Call(CallEvent::Dialling {
            call: id,
            user: user.clone(),
            port: self.ports[port].id.clone(),
        }));
        let p = &mut self.ports[port];
        p.owner = Some((id, Side::Responder));
        p.dialout = Some(Box::new(DialOut::new(plan, now, digits, number, user)));
        self.set_responder(si, Side_::line(port, now));
    }

    /// A frame heard on a line that is dialling out.
    pub(super) fn dialout_audio(
        &mut self,
        now: Instant,
        port: PortIdx,
        call: crate::call::CallId,
        frame: &crate::media::Frame,
    ) {
        let p = &mut self.ports[port];
        let Some(d) = p.dialout.as_mut() else { return };
        if d.phase == Phase::Dialling && !p.player.is_playing_clips() {
            d.dialled();
        }
        let Some(verdict) = d.push(frame) else { return };
        match verdict {
            Verdict::DialTone => {
                let digits = d.digits.clone();
                match crate::dsp::dtmf::generate(&digits, 80, 80, -6.0) {
                    Ok(samples) => {
                        let clip: std::sync::Arc<[i16]> = samples.into();
                        p.player.play([clip]);
                        self.note(Some(call), Some(port), Happening::DialTone { digits });
                    }
                    Err(e) => {
                        self.note(
                            Some(call),
                            Some(port),
                            Happening::BadDigits {
                                digits,
                                why: e.to_string(),
                            },
                        );
                        self.end_dialout(now, port, call, LegFailure::Failed);
                    }
                }
            }
            Verdict::Ringing => {
                self.note(Some(call), Some(port), Happening::Ringback);
                self.push_responder(call, Some(port), Event::LegAlerting);
            }
            Verdict::Busy => {
                self.note(Some(call), Some(port), Happening::BusyTone);
                self.end_dialout(now, port, call, LegFailure::Busy);
            }
            Verdict::Unreachable => {
                self.note(Some(call), Some(port), Happening::SpecialInfoTone);
                self.end_dialout(now, port, call, LegFailure::Failed);
            }
            Verdict::Answered => {
                p.dialout = None;
                if let Some(si) = self.slot(call)
                    && let Some(l) = self.responder_mut(si, port)
                {
                    l.answered = true;
                }
                self.note(
                    Some(call),
                    Some(port),
                    Happening::ResponderPickedUp { by_voice: true },
                );
                self.push_responder(call, Some(port), Event::LegAnswered);
            }
        }
    }

    /// A dial-out failed: the line goes on-hook and is free again.
    fn end_dialout(
        &mut self,
        now: Instant,
        port: PortIdx,
        call: crate::call::CallId,
        why: LegFailure,
    ) {
        self.hangup_fxo(port);
        let ev = self.responder_event(call, Some(port), Event::LegFailed(why));
        self.release_responder(call, port, now);
        self.pending.push_back((call, ev));
        self.serve_waiting(now);
    }

    /// Lines that gave no dial tone leave the pool (and the dial is tried elsewhere or
    /// queued); lines whose time out of service is over come back.
    pub(super) fn dialout_timers(&mut self, now: Instant) {
        for port in 0..self.ports.len() {
            if self.ports[port]
                .out_of_service_until
                .is_some_and(|t| now >= t)
            {
                self.ports[port].out_of_service_until = None;
                self.out.push_back(Output::Trunk {
                    port: self.ports[port].id.clone(),
                    in_service: true,
                });
                self.serve_waiting(now);
            }
            let due = self.ports[port]
                .dialout
                .as_ref()
                .and_then(|d| d.deadline())
                .is_some_and(|t| now >= t);
            if !due {
                continue;
            }
            let Some(d) = self.ports[port].dialout.take() else {
                continue;
            };
            self.ports[port].out_of_service_until = Some(now + OUT_OF_SERVICE);
            self.out.push_back(Output::Trunk {
                port: self.ports[port].id.clone(),
                in_service: false,
            });
            let call = self.ports[port].owner.map(|(c, _)| c);
            self.hangup_fxo(port);
            if let Some(call) = call {
                if let Event::Member(i, _) =
                    self.responder_event(call, Some(port), Event::LegDialled)
                {
                    // a parallel member does not move to another line: it failed
                    self.release_responder(call, port, now);
                    self.pending.push_back((
                        call,
                        Event::Member(i, Box::new(Event::LegFailed(LegFailure::Failed))),
                    ));
                    continue;
                }
                self.release_leg(call, now);
                if let Some(si) = self.slot(call) {
                    // the call never knew: its dial goes to another line or the queue
                    self.dial(now, si, d.number, d.user);
                }
            }
        }
    }

    /// When a line's time out of service ends.
    pub(super) fn out_of_service_timeout(&self) -> Option<Instant> {
        self.ports
            .iter()
            .filter_map(|p| p.out_of_service_until)
            .min()
    }

    /// Puts an FXO line that dialled out back on-hook.
    pub(super) fn hangup_fxo(&mut self, port: PortIdx) {
        let p = &mut self.ports[port];
        p.dialout = None;
        if let Some(l) = p.line.as_mut().filter(|l| l.is_off_hook()) {
            let cmd = l.command(LineCommand::OnHook);
            self.out.push_back(Output::Line { port, cmd });
        }
    }

    /// A dial cannot go out: say why, and the call moves on to its next attempt.
    pub(super) fn dial_failed(
        &mut self,
        id: crate::call::CallId,
        port: Option<PortIdx>,
        user: impl Into<String>,
        why: NoDial,
        detail: Option<String>,
        failure: LegFailure,
    ) {
        let user = user.into();
        self.note(Some(id), port, Happening::CannotDial { user, why, detail });
        self.push_responder(id, port, Event::LegFailed(failure));
    }

    /// Rings the phone on an FXS port; off-hook answers it.
    pub(super) fn ring_local_phone(&mut self, now: Instant, si: usize, port_id: &str, user: &str) {
        let id = self.slots[si].call.id();
        let port = self
            .port_index(port_id)
            .filter(|&p| self.ports[p].kind == PortKind::Fxs);
        let Some(port) = port else {
            self.dial_failed(
                id,
                None,
                user,
                NoDial::NoFxsPort,
                Some(port_id.to_string()),
                LegFailure::Failed,
            );
            return;
        };
        if self.ports[port].owner.is_some() || self.ports[port].handset_up {
            self.dial_failed(
                id,
                Some(port),
                user,
                NoDial::PhoneInUse,
                None,
                LegFailure::LineBusy,
            );
            return;
        }
        let p = &mut self.ports[port];
        p.owner = Some((id, Side::Responder));
        p.ringing = true;
        self.out.push_back(Output::Line {
            port,
            cmd: LineCommand::RingStart,
        });
        self.set_responder(si, Side_::line(port, now));
        self.out.push_back(Output::Call(CallEvent::Dialling {
            call: id,
            user: user.to_string(),
            port: port_id.to_string(),
        }));
        self.push_responder(id, Some(port), Event::LegAlerting);
    }

    fn start_modem_leg(&mut self, now: Instant, si: usize, number: &str, user: &str) {
        let (Some(m), Some(mp)) = (self.modem.as_mut(), self.modem_port) else {
            return;
        };
        let id = self.slots[si].call.id();
        let leg = m.dial(now, number);
        self.set_responder(
            si,
            Side_ {
                port: mp,
                carrier: Carrier::Modem(leg),
                answered: false,
                last_digit: None,
                since: now,
            },
        );
        self.ports[mp].owner = Some((id, Side::Responder));
        self.out.push_back(Output::Call(CallEvent::Dialling {
            call: id,
            user: user.to_string(),
            port: self.ports[mp].id.clone(),
        }));
    }

    /// Every line is busy: the call joins its routing number's queue, or overflows if
    /// the queue is full. `since` is when it started waiting.
    fn enqueue(&mut self, now: Instant, si: usize, number: String, user: String, since: Instant) {
        let id = self.slots[si].call.id();
        let routing_id = self.slots[si].call.routing_id().to_string();
        let rn = &self.slots[si].call.config().routing_numbers[self.slots[si].call.routing()];
        // a flow's queue step may set its own limits
        let (step_max, step_wait) = self.slots[si].call.queue_limits();
        let max = step_max.unwrap_or(rn.queue.max_callers_n()) as usize;
        let max_wait = step_wait.unwrap_or(rn.queue.max_wait_for());
        let every = rn.queue.announce_period();
        // calls to the SIM waiting behind the modem's call hold places too
        let waiting = self.queued_on(&routing_id);
        if waiting >= max {
            self.out.push_back(Output::Call(CallEvent::Overflow {
                call: id,
                reason: OverflowReason::QueueFull,
            }));
            self.pending
                .push_back((id, Event::Overflow(OverflowReason::QueueFull)));
            return;
        }
        let seq = self.queue_seq;
        self.queue_seq += 1;
        let priority = self.slots[si].call.priority();
        self.slots[si].wait = Some(Wait {
            number,
            user,
            since,
            kind: WaitKind::Queue {
                seq,
                priority,
                max_wait_at: since + max_wait,
                announce_at: now + every,
                every,
            },
        });
        let position = self.queue_position(id).unwrap_or(1);
        self.out
            .push_back(Output::Call(CallEvent::Queued { call: id, position }));
        let info = self.queue_info(si, position);
        self.pending.push_back((
            id,
            Event::LegQueued {
                position: Some(info),
            },
        ));
        // the callers behind a higher-priority arrival moved back
        self.announce_moves(id);
    }

    /// Tells queued callers whose position changed because `except` jumped ahead.
    fn announce_moves(&mut self, except: crate::call::CallId) {
        let order = self.queue_order();
        for (pos, si) in order.into_iter().enumerate() {
            let id = self.slots[si].call.id();
            let pos = pos as u32 + 1;
            if id != except && self.slots[si].last_position.is_some_and(|p| p != pos) {
                self.out.push_back(Output::Call(CallEvent::Queued {
                    call: id,
                    position: pos,
                }));
                let info = self.queue_info(si, pos);
                self.pending.push_back((id, Event::QueuePosition(info)));
            }
            self.slots[si].last_position = Some(pos);
        }
    }

    /// Slots in the queue, in the order they will be served.
    fn queue_order(&self) -> Vec<usize> {
        let mut q: Vec<(usize, (std::cmp::Reverse<u8>, u64))> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.wait.as_ref().and_then(Wait::order).map(|o| (i, o)))
            .collect();
        q.sort_by_key(|(_, o)| *o);
        q.into_iter().map(|(i, _)| i).collect()
    }

    /// A waiting call's position and expected wait: position × the average time a
    /// trunk stays busy with a leg ÷ the trunks the call can use, in whole minutes
    /// (none until a leg has ended, so the estimate rests on something).
    fn queue_info(&self, si: usize, position: u32) -> crate::call::QueueInfo {
        let trunks = self
            .trunk_order(si)
            .into_iter()
            .filter(|&p| self.ports[p].out_of_service_until.is_none())
            .count()
            .max(1) as f64;
        let minutes = self.leg_hold.map(|hold| {
            let secs = f64::from(position) * hold.as_secs_f64() / trunks;
            (secs / 60.0).ceil().clamp(1.0, 10.0) as u8
        });
        crate::call::QueueInfo { position, minutes }
    }

    /// A responder leg that held a trunk ended: fold its duration into the average.
    pub(super) fn record_leg_hold(&mut self, port: PortIdx, since: Instant, now: Instant) {
        if self.ports[port].kind == PortKind::Fxs {
            return;
        }
        let held = now.saturating_duration_since(since);
        self.leg_hold = Some(match self.leg_hold {
            None => held,
            Some(avg) => avg.mul_f64(0.8) + held.mul_f64(0.2),
        });
    }

    /// A call's position in the queue (1 = next), if it is queued.
    pub(super) fn queue_position(&self, id: crate::call::CallId) -> Option<u32> {
        self.queue_order()
            .iter()
            .position(|&si| self.slots[si].call.id() == id)
            .map(|p| p as u32 + 1)
    }

    /// A trunk may have become usable (a leg ended, a call left the modem, the modem
    /// is ready): the longest-waiting dial for the modem goes out, then the head of
    /// the queue; dials that waited for the modem to come back while it is taken join
    /// the queue.
    pub(super) fn serve_waiting(&mut self, now: Instant) {
        self.serve_presented_sim_call(now);
        loop {
            let mut candidates: Vec<(Instant, usize)> = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.wait
                        .as_ref()
                        .filter(|w| !w.queued())
                        .map(|w| (w.since, i))
                })
                .collect();
            candidates.sort();
            let mut order: Vec<usize> = candidates.into_iter().map(|(_, i)| i).collect();
            order.extend(self.queue_order());
            let mut served = false;
            for si in order {
                let modem_wait = self.slots[si].wait.as_ref().is_some_and(|w| !w.queued());
                let trunk = self.trunk_order(si).into_iter().find(|&p| {
                    self.trunk_free(p, now) && (!modem_wait || Some(p) == self.modem_port)
                });
                let Some(port) = trunk else { continue };
                let Some(w) = self.slots[si].wait.take() else {
                    continue;
                };
                let id = self.slots[si].call.id();
                let waited = now.saturating_duration_since(w.since).as_secs_f64();
                self.note(
                    Some(id),
                    Some(port),
                    Happening::WaitOver {
                        queued: w.queued(),
                        waited_s: waited,
                    },
                );
                self.slots[si].last_position = None;
                self.start_on(now, si, port, w.number, w.user);
                self.pending.push_back((id, Event::LegDialled));
                self.announce_moves(id);
                served = true;
                break;
            }
            if !served {
                break;
            }
        }
        let ready = self.modem.as_ref().is_some_and(|m| m.status().ready);
        if !ready {
            return;
        }
        let back: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.wait.as_ref().is_some_and(|w| !w.queued()))
            .map(|(i, _)| i)
            .collect();
        for si in back {
            if let Some(w) = self.slots[si].wait.take() {
                let id = self.slots[si].call.id();
                self.note(
                    Some(id),
                    self.modem_port,
                    Happening::ModemBusyQueued {
                        user: w.user.clone(),
                    },
                );
                let before = self.pending.len();
                self.enqueue(now, si, w.number, w.user, w.since);
                // already waiting: the position is news, not a new wait
                for (cid, ev) in self.pending.iter_mut().skip(before) {
                    if *cid == id
                        && let Event::LegQueued { position: Some(p) } = *ev
                    {
                        *ev = Event::QueuePosition(p);
                    }
                }
            }
        }
    }

    /// Waits whose time is up: a modem that did not come back fails the attempt; a
    /// caller who waited `max_wait` overflows; others hear their position again.
    pub(super) fn wait_timers(&mut self, now: Instant) {
        for si in 0..self.slots.len() {
            let id = self.slots[si].call.id();
            let Some(w) = self.slots[si].wait.as_mut() else {
                continue;
            };
            match &mut w.kind {
                WaitKind::Modem { deadline } if *deadline <= now => {
                    let user = w.user.clone();
                    self.slots[si].wait = None;
                    self.slots[si].modem_wait_over = true;
                    self.note(
                        Some(id),
                        self.modem_port,
                        Happening::CannotDial {
                            user,
                            why: NoDial::ModemNotBack,
                            detail: Some(self.ready_wait.as_secs().to_string()),
                        },
                    );
                    self.pending
                        .push_back((id, Event::LegFailed(LegFailure::ModemUnavailable)));
                }
                WaitKind::Queue { max_wait_at, .. } if *max_wait_at <= now => {
                    self.slots[si].wait = None;
                    self.slots[si].last_position = None;
                    self.out.push_back(Output::Call(CallEvent::Overflow {
                        call: id,
                        reason: OverflowReason::MaxWait,
                    }));
                    self.pending
                        .push_back((id, Event::Overflow(OverflowReason::MaxWait)));
                }
                WaitKind::Queue {
                    announce_at, every, ..
                } if *announce_at <= now => {
                    while *announce_at <= now {
                        *announce_at += *every;
                    }
                    if let Some(pos) = self.queue_position(id) {
                        let info = self.queue_info(si, pos);
                        self.pending.push_back((id, Event::QueuePosition(info)));
                    }
                }
                _ => {}
            }
        }
        if self.slots.iter().any(|s| s.last_position.is_some()) {
            self.announce_moves(0);
        }
    }

    /// Every dial waiting for the modem fails now, saying why.
    pub(super) fn expire_modem_waits(&mut self, why: NoDial) {
        for si in 0..self.slots.len() {
            if self.slots[si].wait.as_ref().is_none_or(Wait::queued) {
                continue;
            }
            let Some(w) = self.slots[si].wait.take() else {
                continue;
            };
            self.slots[si].modem_wait_over = true;
            let id = self.slots[si].call.id();
            self.dial_failed(
                id,
                self.modem_port,
                w.user,
                why,
                None,
                LegFailure::ModemUnavailable,
            );
        }
    }

    /// The call hangs up (or stops waiting for) its responder leg.
    pub(super) fn hangup_leg(&mut self, now: Instant, si: usize) {
        let id = self.slots[si].call.id();
        if let Some(w) = self.slots[si].wait.take() {
            self.slots[si].last_position = None;
            self.note(
                Some(id),
                self.modem_port,
                Happening::StoppedWaiting {
                    user: w.user.clone(),
                },
            );
            self.announce_moves(id);
        }
        let Some(leg) = self.slots[si].leg.take() else {
            return;
        };
        self.drop_leg(now, si, leg);
    }

    /// Ends one responder leg of slot `si` from the box's side.
    pub(super) fn drop_leg(&mut self, now: Instant, si: usize, leg: Side_) {
        let id = self.slots[si].call.id();
        self.record_leg_hold(leg.port, leg.since, now);
        if let (Carrier::Modem(l), Some(m)) = (leg.carrier, self.modem.as_mut()) {
            m.hangup(now, l);
        }
        match self.ports[leg.port].kind {
            PortKind::Fxs => self.release_phone(leg.port),
            PortKind::Fxo => self.hangup_fxo(leg.port),
            PortKind::Modem => {}
        }
        self.release_port(leg.port);
        self.note(Some(id), Some(leg.port), Happening::LegHungUp);
        self.serve_waiting(now);
    }

    /// The far end ended the call's responder leg.
    pub(super) fn release_leg(&mut self, call: crate::call::CallId, now: Instant) {
        let Some(si) = self.slot(call) else { return };
        if let Some(leg) = self.slots[si].leg.take() {
            self.record_leg_hold(leg.port, leg.since, now);
            self.release_port(leg.port);
        }
    }

    /// Frees a responder's port: no owner, no bridge, nothing playing, no ringing.
    pub(super) fn release_port(&mut self, port: PortIdx) {
        self.stop_ringing(port);
        let peer = self.ports[port].bridged_to.take();
        if let Some(peer) = peer {
            self.ports[peer].bridged_to = None;
        }
        let p = &mut self.ports[port];
        p.owner = None;
        p.dialout = None;
        p.player.stop();
        p.dtmf = DtmfDetector::new();
    }

    /// The box is done with an FXS phone whose handset is up: the line is released
    /// (on hardware the SLIC drops the talk battery; the person hears it and hangs up).
    pub(super) fn release_phone(&mut self, port: PortIdx) {
        if self.ports[port].handset_up {
            self.out.push_back(Output::Line {
                port,
                cmd: LineCommand::OnHook,
            });
        }
    }

    /// Stops ringing an FXS phone.
    pub(super) fn stop_ringing(&mut self, port: PortIdx) {
        if std::mem::take(&mut self.ports[port].ringing) {
            self.out.push_back(Output::Line {
                port,
                cmd: LineCommand::RingStop,
            });
        }
    }
}
