//! The self-test call (EN 81-28 style): the box calls a number through the modem, plays
//! a tone for a while once the far end answers, hangs up, and reports a typed result
//! ([`Output::TestCall`]). One at a time; while it runs the modem is not a free trunk
//! (a responder dial waits for it, as for any busy trunk) and an incoming call to the
//! SIM is rejected.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{CommandResult, Exchange, Happening, Output};
use crate::modem::{LegEnd, LegId, LegState};

/// How a self-test call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestCallResult {
    /// The id [`CommandResult::TestCallStarted`] returned.
    pub id: u64,
    /// The number called.
    pub number: String,
    /// Passed: how long the far end took to answer and how long the tone played (ms);
    /// or why it failed.
    pub outcome: Result<TestCallPassed, String>,
    /// Started by hand ([`super::Command::TestCall`]'s `manual`).
    pub manual: bool,
}

/// A passed self-test call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TestCallPassed {
    /// From dialling to the answer, in ms.
    pub answered_after_ms: u64,
    /// Tone played to the far end, in ms.
    pub tone_ms: u64,
}

/// A self-test call in progress.
#[derive(Debug, Clone)]
pub(super) struct TestCall {
    id: u64,
    number: String,
    manual: bool,
    leg: LegId,
    started: Instant,
    answered: Option<Instant>,
    tone: Duration,
    /// Ringing gives up / the tone is over at this instant.
    deadline: Instant,
}

/// The tone played to the far end: 1 kHz at -12 dBm0.
const TONE_HZ: f32 = 1000.0;

impl Exchange {
    /// Starts a self-test call to `number` (E.164) through the modem: rings for at most
    /// `ring`, then plays the tone for `tone`.
    pub(super) fn start_test_call(
        &mut self,
        now: Instant,
        number: &str,
        tone: Duration,
        ring: Duration,
        manual: bool,
    ) -> CommandResult {
        if !crate::config::is_e164(number) {
            return CommandResult::Rejected(format!(
                "`{number}` is not an E.164 number: write it with + and country code"
            ));
        }
        if self.test_call.is_some() {
            return CommandResult::Rejected("a test call is already in progress".into());
        }
        let Some(port) = self.modem_port else {
            return CommandResult::Rejected("this board has no modem".into());
        };
        if self.ports[port].owner.is_some() {
            return CommandResult::Rejected(
                "the modem is in a call: try the test call again later".into(),
            );
        }
        let Some(m) = self.modem.as_mut().filter(|m| m.status().ready) else {
            return CommandResult::Rejected("the modem is not ready".into());
        };
        let leg = m.dial(now, number);
        self.test_calls_started += 1;
        let id = self.test_calls_started;
        self.test_call = Some(TestCall {
            id,
            number: number.to_string(),
            manual,
            leg,
            started: now,
            answered: None,
            tone,
            deadline: now + ring,
        });
        self.note(
            None,
            Some(port),
            Happening::TestCallDialling {
                id,
                number: number.to_string(),
            },
        );
        self.drain_modem(now);
        CommandResult::TestCallStarted(id)
    }

    /// A modem leg changed state: true when it was the test call's.
    pub(super) fn test_call_leg(&mut self, now: Instant, leg: LegId, state: &LegState) -> bool {
        let Some(t) = self.test_call.as_mut().filter(|t| t.leg == leg) else {
            return false;
        };
        match state {
            LegState::Active if t.answered.is_none() => {
                t.answered = Some(now);
                t.deadline = now + t.tone;
                let samples = (t.tone.as_millis() as usize) * 8;
                let mut tone = vec![0i16; samples];
                crate::dsp::tone::ToneGen::single(TONE_HZ, -12.0).fill(&mut tone);
                let id = t.id;
                if let Some(p) = self.modem_port {
                    self.ports[p].player.play([tone.into()]);
                }
                self.note(None, self.modem_port, Happening::TestCallAnswered { id });
            }
            LegState::Ended(end) => {
                let why = match (t.answered, end) {
                    (None, LegEnd::Busy) => "busy".to_string(),
                    (None, LegEnd::NoAnswer) => "no answer".to_string(),
                    (None, LegEnd::NoCarrier) => "the call failed (no carrier)".to_string(),
                    (None, LegEnd::Error(e)) => format!("the dial failed: {e}"),
                    (Some(at), _) => format!(
                        "the far end hung up {:.1} s into the test tone",
                        now.saturating_duration_since(at).as_secs_f64()
                    ),
                };
                self.finish_test_call(now, Err(why), false);
            }
            _ => {}
        }
        true
    }

    /// The test call's deadline, if one runs.
    pub(super) fn test_call_timeout(&self) -> Option<Instant> {
        self.test_call.as_ref().map(|t| t.deadline)
    }

    /// Ringing too long fails the test; a tone played to its end passes it.
    pub(super) fn test_call_timers(&mut self, now: Instant) {
        let Some(t) = self.test_call.as_ref().filter(|t| now >= t.deadline) else {
            return;
        };
        let outcome = match t.answered {
            None => Err(format!(
                "no answer within {} s",
                now.saturating_duration_since(t.started).as_secs()
            )),
            Some(at) => Ok(TestCallPassed {
                answered_after_ms: at.saturating_duration_since(t.started).as_millis() as u64,
                tone_ms: now.saturating_duration_since(at).as_millis() as u64,
            }),
        };
        self.finish_test_call(now, outcome, true);
    }

    /// Whether the modem is taken by a test call.
    pub(super) fn modem_in_test_call(&self) -> bool {
        self.test_call.is_some()
    }

    fn finish_test_call(
        &mut self,
        now: Instant,
        outcome: Result<TestCallPassed, String>,
        hang_up: bool,
    ) {
        let Some(t) = self.test_call.take() else {
            return;
        };
        if let Some(p) = self.modem_port {
            self.ports[p].player.stop();
        }
        if hang_up && let Some(m) = self.modem.as_mut() {
            m.hangup(now, t.leg);
        }
        self.out.push_back(Output::TestCall(TestCallResult {
            id: t.id,
            number: t.number,
            outcome,
            manual: t.manual,
        }));
        self.drain_modem(now);
        // a dial that waited for the modem gets it now
        self.serve_waiting(now);
    }
}
