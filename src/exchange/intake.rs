//! Calls coming in: FXO lines (ringing, caller ID, answer), FXS phones (a lifted
//! handset is a hotline call, or the answer of a ringing responder), and calls to the
//! SIM — each finds its routing number in the current generation and becomes a call,
//! or is refused with the reason.

use std::time::Instant;

use super::{
    CallEvent, Carrier, Event, Exchange, Happening, LegFailure, Output, OverflowReason, PortIdx,
    Side, Side_, Slot,
};
use crate::call::{Call, Intake};
use crate::config::PortKind;
use crate::line::{LineEvent, LineSignal};

impl Exchange {
    /// A signal from an analog line.
    pub fn on_line_signal(&mut self, now: Instant, port: PortIdx, sig: LineSignal) {
        if self
            .ports
            .get(port)
            .is_some_and(|p| p.kind == PortKind::Fxs)
        {
            self.on_fxs_signal(now, port, sig);
            self.run_pending(now);
            return;
        }
        let Some(ev) = self
            .ports
            .get_mut(port)
            .and_then(|p| p.line.as_mut())
            .and_then(|l| l.on_signal(now, sig))
        else {
            return;
        };
        self.on_line_event(now, port, ev);
        self.run_pending(now);
    }

    pub(super) fn on_line_event(&mut self, now: Instant, port: PortIdx, ev: LineEvent) {
        match ev {
            LineEvent::Incoming { caller_id } => {
                self.note(
                    None,
                    Some(port),
                    Happening::IncomingCall {
                        caller_id: caller_id.clone(),
                        modem: false,
                    },
                );
                self.intake(
                    now,
                    port,
                    Carrier::Line,
                    Intake {
                        caller_id,
                        hotline: false,
                    },
                );
            }
            LineEvent::Abandoned => self.note(None, Some(port), Happening::RingingStopped),
            LineEvent::Disconnected => match self.ports[port].owner {
                Some((call, Side::Caller)) => {
                    self.pending.push_back((call, Event::CallerHangup));
                }
                Some((call, Side::Responder)) => {
                    // the far end of a dial-out hung up (loop drop)
                    let answered = self.responder_answered(call, port);
                    self.note(Some(call), Some(port), Happening::FarEndHungUp);
                    self.hangup_fxo(port);
                    let ev = if answered {
                        Event::LegHangup
                    } else {
                        Event::LegFailed(LegFailure::Failed)
                    };
                    let ev = self.responder_event(call, Some(port), ev);
                    self.release_responder(call, port, now);
                    self.pending.push_back((call, ev));
                    self.serve_waiting(now);
                }
                None => {}
            },
        }
    }

    /// An FXS phone's handset: a hotline call when idle, the answer of a ringing
    /// responder, or a hang-up.
    fn on_fxs_signal(&mut self, now: Instant, port: PortIdx, sig: LineSignal) {
        match sig {
            LineSignal::HandsetLifted => {
                self.ports[port].handset_up = true;
                match self.ports[port].owner {
                    Some((call, Side::Responder)) => {
                        self.stop_ringing(port);
                        if let Some(si) = self.slot(call)
                            && let Some(leg) = self.responder_mut(si, port)
                        {
                            leg.answered = true;
                        }
                        self.note(
                            Some(call),
                            Some(port),
                            Happening::ResponderPickedUp { by_voice: false },
                        );
                        self.push_responder(call, Some(port), Event::LegAnswered);
                    }
                    Some((_, Side::Caller)) => {}
                    None => {
                        let id = self.ports[port].id.clone();
                        self.note(None, Some(port), Happening::HandsetLifted);
                        self.intake(
                            now,
                            port,
                            Carrier::Line,
                            Intake {
                                caller_id: Some(id),
                                hotline: true,
                            },
                        );
                    }
                }
            }
            LineSignal::HandsetDown => {
                self.ports[port].handset_up = false;
                match self.ports[port].owner {
                    Some((call, Side::Caller)) => {
                        self.pending.push_back((call, Event::CallerHangup));
                    }
                    Some((call, Side::Responder)) if self.responder_answered(call, port) => {
                        self.note(
                            Some(call),
                            Some(port),
                            Happening::ResponderHungUp { cause: None },
                        );
                        let ev = self.responder_event(call, Some(port), Event::LegHangup);
                        self.release_responder(call, port, now);
                        self.pending.push_back((call, ev));
                    }
                    Some((_, Side::Responder)) | None => {}
                }
            }
            _ => {}
        }
    }

    /// A call arrives on `port`: find its routing number in the current generation and
    /// start the call (or say why not).
    pub(super) fn intake(&mut self, now: Instant, port: PortIdx, carrier: Carrier, intake: Intake) {
        self.intake_as(now, port, carrier, intake, None);
    }

    /// [`Exchange::intake`]; `reserved`: the id a call to the SIM got when it started
    /// waiting behind the modem's call (its `Started` is out already) and the seconds
    /// it waited. Returns false when the call was refused.
    pub(super) fn intake_as(
        &mut self,
        now: Instant,
        port: PortIdx,
        carrier: Carrier,
        intake: Intake,
        reserved: Option<(crate::call::CallId, f64)>,
    ) -> bool {
        let port_id = self.ports[port].id.clone();
        let generation = self.generation.clone();
        let Some(routing) = generation
            .cfg
            .routing_numbers
            .iter()
            .position(|r| r.serves_port(&port_id))
        else {
            self.note(None, Some(port), Happening::NoRoutingNumber);
            self.refuse(now, port, carrier);
            return false;
        };
        if self.stopping {
            self.note(None, Some(port), Happening::Stopping);
            self.refuse(now, port, carrier);
            return false;
        }
        let rn = &generation.cfg.routing_numbers[routing];
        let in_progress = self
            .slots
            .iter()
            .filter(|s| s.call.routing_id() == rn.key)
            .count();
        let threshold = rn.overflow_threshold();
        let call_id = match reserved {
            Some((id, _)) => id,
            None => {
                self.next_call += 1;
                self.next_call - 1
            }
        };
        let caller_id = intake.caller_id.clone();
        let (mut call, actions) = Call::new(
            call_id,
            generation.cfg.clone(),
            routing,
            intake,
            now,
            self.wall(now),
            self.seed.wrapping_add(call_id),
        );
        call.set_port(&port_id);
        match reserved {
            Some((_, waited)) => call.add_queue_seconds(waited),
            None => self.out.push_back(Output::Call(CallEvent::Started {
                call: call_id,
                routing_number: rn.key.clone(),
                port: port_id,
                caller_id,
                generation: generation.number,
                at: self.wall(now),
            })),
        }
        self.ports[port].owner = Some((call_id, Side::Caller));
        let overflow_on_answer = threshold.is_some_and(|t| in_progress >= t);
        if overflow_on_answer {
            self.note(
                Some(call_id),
                Some(port),
                Happening::TooManyCalls { in_progress },
            );
        }
        self.slots.push(Slot {
            call,
            generation,
            caller: Side_ {
                port,
                carrier,
                answered: false,
                last_digit: None,
                since: now,
            },
            leg: None,
            members: Vec::new(),
            wait: None,
            modem_wait_over: false,
            overflow_on_answer,
            last_phase: "",
            last_position: None,
            voicemail: None,
        });
        self.apply(now, call_id, actions);
        true
    }

    /// A call that is not taken: a modem call is rejected (the line simply rings on).
    pub(super) fn refuse(&mut self, now: Instant, _port: PortIdx, carrier: Carrier) {
        if let (Carrier::Modem(leg), Some(m)) = (carrier, self.modem.as_mut()) {
            m.hangup(now, leg);
        }
    }

    /// The caller's side is up: tell the call (and overflow at once if it must).
    pub(super) fn caller_answered(&mut self, si: usize) {
        let slot = &mut self.slots[si];
        slot.caller.answered = true;
        let id = slot.call.id();
        self.pending.push_back((id, Event::CallerAnswered));
        if std::mem::take(&mut self.slots[si].overflow_on_answer) {
            self.out.push_back(Output::Call(CallEvent::Overflow {
                call: id,
                reason: OverflowReason::Threshold,
            }));
            self.pending
                .push_back((id, Event::Overflow(OverflowReason::Threshold)));
        }
    }
}
