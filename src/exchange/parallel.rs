//! Parallel ringing: a call's route step with `order = "parallel"` rings several
//! responders at once, each on its own free trunk (FXO line, the modem, an FXS phone).
//! Those legs are the slot's *members*, tagged with their index in the call's group;
//! their events reach the call as [`Event::Member`]. The first to accept is *adopted*
//! (it becomes the slot's ordinary leg, so bridge and hang-up work as for any leg); the
//! call hangs the others up at once. A member never waits in the queue: with no free
//! trunk it fails at once (`line_busy`).

use std::time::Instant;

use super::{CallId, Event, Exchange, LegFailure, NoDial, PortIdx, Side_};
use crate::config::LOCAL_PHONE_PREFIX;

impl Exchange {
    /// The responder side on `port` of slot `si`: the call's leg or a member.
    pub(super) fn responder_mut(&mut self, si: usize, port: PortIdx) -> Option<&mut Side_> {
        let s = &mut self.slots[si];
        if s.leg.as_ref().is_some_and(|l| l.port == port) {
            return s.leg.as_mut();
        }
        s.members
            .iter_mut()
            .find(|(_, l)| l.port == port)
            .map(|(_, l)| l)
    }

    /// Whether the responder on `port` of the call picked up.
    pub(super) fn responder_answered(&self, call: CallId, port: PortIdx) -> bool {
        let Some(si) = self.slot(call) else {
            return false;
        };
        let s = &self.slots[si];
        s.leg
            .iter()
            .chain(s.members.iter().map(|(_, l)| l))
            .any(|l| l.port == port && l.answered)
    }

    /// The event as the call sees it: a member's events carry its index. Without a
    /// port (a dial that failed before it had one) the member being dialled is meant.
    pub(super) fn responder_event(&self, call: CallId, port: Option<PortIdx>, ev: Event) -> Event {
        let tag = port
            .and_then(|p| {
                let si = self.slot(call)?;
                self.slots[si]
                    .members
                    .iter()
                    .find(|(_, l)| l.port == p)
                    .map(|(i, _)| *i)
            })
            .or(self.dial_tag);
        match tag {
            Some(i) => Event::Member(i, Box::new(ev)),
            None => ev,
        }
    }

    /// Queues a responder event for the call (tagged when it is a member's).
    pub(super) fn push_responder(&mut self, call: CallId, port: Option<PortIdx>, ev: Event) {
        let ev = self.responder_event(call, port, ev);
        self.pending.push_back((call, ev));
    }

    /// The far end ended the responder leg on `port`.
    pub(super) fn release_responder(&mut self, call: CallId, port: PortIdx, now: Instant) {
        let Some(si) = self.slot(call) else { return };
        match self.slots[si]
            .members
            .iter()
            .position(|(_, l)| l.port == port)
        {
            Some(pos) => {
                let (_, leg) = self.slots[si].members.remove(pos);
                self.record_leg_hold(leg.port, leg.since, now);
                self.release_port(leg.port);
            }
            None => self.release_leg(call, now),
        }
    }

    /// A dial placed its leg: the call's leg, or the member being dialled.
    pub(super) fn set_responder(&mut self, si: usize, side: Side_) {
        match self.dial_tag {
            Some(i) => self.slots[si].members.push((i, side)),
            None => self.slots[si].leg = Some(side),
        }
    }

    /// Rings member `index` of the call's parallel group: a local phone or the first
    /// free trunk; never the queue.
    pub(super) fn dial_member(
        &mut self,
        now: Instant,
        si: usize,
        index: usize,
        number: String,
        user: String,
    ) {
        let id = self.slots[si].call.id();
        self.dial_tag = Some(index);
        if let Some(port_id) = number.strip_prefix(LOCAL_PHONE_PREFIX) {
            self.ring_local_phone(now, si, port_id, &user);
        } else if let Some(port) = self
            .trunk_order(si)
            .into_iter()
            .find(|&p| self.trunk_free(p, now))
        {
            self.start_on(now, si, port, number, user);
        } else {
            self.dial_failed(
                id,
                None,
                user,
                NoDial::NoFreeLine,
                None,
                LegFailure::LineBusy,
            );
        }
        self.dial_tag = None;
    }

    /// Hangs up member `index` (someone else accepted, or its time is up).
    pub(super) fn hangup_member(&mut self, now: Instant, si: usize, index: usize) {
        let Some(pos) = self.slots[si].members.iter().position(|(i, _)| *i == index) else {
            return;
        };
        let (_, leg) = self.slots[si].members.remove(pos);
        self.drop_leg(now, si, leg);
    }

    /// Member `index` accepted: it becomes the call's leg.
    pub(super) fn adopt_member(&mut self, now: Instant, si: usize, index: usize) {
        let Some(pos) = self.slots[si].members.iter().position(|(i, _)| *i == index) else {
            return;
        };
        let (_, leg) = self.slots[si].members.remove(pos);
        if let Some(old) = self.slots[si].leg.replace(leg) {
            self.drop_leg(now, si, old);
        }
    }

    /// Hangs up every member left (the call ends).
    pub(super) fn hangup_members(&mut self, now: Instant, si: usize) {
        for (_, leg) in std::mem::take(&mut self.slots[si].members) {
            self.drop_leg(now, si, leg);
        }
    }
}
