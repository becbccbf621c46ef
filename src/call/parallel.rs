//! Parallel ringing (a route step with `order = "parallel"`): every responder of the
//! round is dialled at once as a *member* of the call's group; each member runs the
//! usual ring → announcement → accept steps on its own leg; the first to accept wins,
//! every other member is hung up at once and recorded `cancelled`. When every member
//! failed, the round is over (next round, or the route's `then`).

use std::time::Instant;

use super::{Action, AttemptOutcome, Call, Event, Leg, LegFailure, Prompt, State};
use crate::routing::PlannedAttempt;

/// One leg of a parallel ring.
#[derive(Debug, Clone)]
pub(super) struct Member {
    attempt: PlannedAttempt,
    started: Instant,
    leg: Leg,
    /// Over (failed, declined, hung up, timed out).
    done: bool,
}

impl Call {
    /// Dials every attempt of the plan at once.
    pub(super) fn start_parallel(&mut self, now: Instant, out: &mut Vec<Action>) {
        let answer = self.answer_timeout();
        self.members = self
            .plan
            .attempts
            .iter()
            .map(|a| Member {
                attempt: a.clone(),
                started: now,
                leg: Leg::Ringing {
                    deadline: now + answer,
                },
                done: false,
            })
            .collect();
        self.next_attempt = self.plan.attempts.len();
        self.state = State::Hunting { leg: Leg::Parallel };
        out.push(Action::Note(format!(
            "ringing {} responders in parallel",
            self.members.len()
        )));
        for (index, m) in self.members.iter().enumerate() {
            out.push(Action::DialMember {
                index,
                number: m.attempt.number.clone(),
                user: m.attempt.user.clone(),
            });
        }
    }

    /// The earliest deadline of a member.
    pub(super) fn members_deadline(&self) -> Option<Instant> {
        self.members
            .iter()
            .filter(|m| !m.done)
            .filter_map(|m| match m.leg {
                Leg::Ringing { deadline } | Leg::AwaitAccept { deadline } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Members whose ring or accept time is up are hung up.
    pub(super) fn members_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        for i in 0..self.members.len() {
            let m = &self.members[i];
            let outcome = match m.leg {
                _ if m.done => continue,
                Leg::Ringing { deadline } if now >= deadline => AttemptOutcome::NoAnswer,
                Leg::AwaitAccept { deadline } if now >= deadline => AttemptOutcome::AcceptTimeout,
                _ => continue,
            };
            out.push(Action::HangupMember(i));
            self.member_over(now, i, outcome, out);
            if !matches!(self.state, State::Hunting { leg: Leg::Parallel }) {
                return;
            }
        }
    }

    /// An event of member `i`.
    pub(super) fn member_event(&mut self, now: Instant, i: usize, ev: Event, out: &mut Vec<Action>) {
        let Some(m) = self.members.get(i).filter(|m| !m.done) else {
            return;
        };
        match (m.leg, ev) {
            (Leg::Ringing { .. }, Event::LegAnswered) => {
                if m.attempt.user.starts_with('+') {
                    out.push(Action::Note(format!(
                        "{} answered: connecting",
                        m.attempt.number
                    )));
                    self.member_wins(now, i, None, out);
                } else {
                    self.members[i].leg = Leg::Announcing;
                    out.push(Action::PlayMember(i, Prompt::Announcement));
                }
            }
            (Leg::Announcing, Event::ResponderPromptDone) => {
                self.members[i].leg = Leg::AwaitAccept {
                    deadline: now + *self.rn().accept_timeout.get_ref(),
                };
            }
            (Leg::Announcing | Leg::AwaitAccept { .. }, Event::ResponderDigit(d)) => {
                if d == '2' {
                    out.push(Action::HangupMember(i));
                    self.member_over(now, i, AttemptOutcome::Declined, out);
                } else {
                    self.member_wins(now, i, Some(d), out);
                }
            }
            (Leg::Ringing { .. }, Event::LegFailed(f)) => {
                let outcome = match f {
                    LegFailure::Busy | LegFailure::LineBusy => AttemptOutcome::Busy,
                    LegFailure::NoAnswer => AttemptOutcome::NoAnswer,
                    LegFailure::Failed => AttemptOutcome::Failed,
                    LegFailure::ModemUnavailable => AttemptOutcome::ModemUnavailable,
                };
                self.member_over(now, i, outcome, out);
            }
            (Leg::Announcing | Leg::AwaitAccept { .. }, Event::LegHangup | Event::LegFailed(_)) => {
                self.member_over(now, i, AttemptOutcome::HungUp, out);
            }
            _ => {}
        }
    }

    fn record_member(&mut self, now: Instant, i: usize, outcome: AttemptOutcome, out: &mut Vec<Action>) {
        let m = &mut self.members[i];
        m.done = true;
        out.push(Action::Note(format!(
            "{} ({}): {}",
            m.attempt.user,
            m.attempt.number,
            outcome.as_str()
        )));
        self.current = Some((m.attempt.clone(), m.started));
        self.record_attempt(now, outcome);
    }

    /// Member `i` is over without accepting; when all are, so is the round.
    fn member_over(&mut self, now: Instant, i: usize, outcome: AttemptOutcome, out: &mut Vec<Action>) {
        self.record_member(now, i, outcome, out);
        if self.members.iter().all(|m| m.done) {
            self.members.clear();
            self.state = State::Hunting { leg: Leg::Idle };
            self.dial_next(now, out);
        }
    }

    /// Member `i` accepted: the others are hung up at once, `i` becomes the leg.
    fn member_wins(&mut self, now: Instant, i: usize, key: Option<char>, out: &mut Vec<Action>) {
        for j in 0..self.members.len() {
            if j != i && !self.members[j].done {
                out.push(Action::HangupMember(j));
                self.record_member(now, j, AttemptOutcome::Cancelled, out);
            }
        }
        out.push(Action::AdoptMember(i));
        let m = self.members[i].clone();
        self.members.clear();
        self.current = Some((m.attempt, m.started));
        self.accept(now, key, out);
    }

    /// The call ends while members ring: hang them all up.
    pub(super) fn cancel_members(&mut self, now: Instant, out: &mut Vec<Action>) {
        for j in 0..self.members.len() {
            if !self.members[j].done {
                out.push(Action::HangupMember(j));
                self.record_member(now, j, AttemptOutcome::Cancelled, out);
            }
        }
        self.members.clear();
    }
}
