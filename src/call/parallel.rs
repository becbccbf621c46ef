//! Parallel ringing (a route step with `order = "parallel"`): every responder of the
//! round is dialled at once as a *member* of the call's group; each member runs the
//! usual ring → announcement → accept steps on its own leg; the first to accept wins,
//! every other member is hung up at once and recorded `cancelled`. When every member
//! failed, the round is over (next round, or the route's `then`).

use std::time::Instant;

use super::{Action, AttemptOutcome, Call, Event, Leg, LegFailure, Noted, Prompt, State};
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
        out.push(Action::Note(Noted::RingingInParallel {
            count: self.members.len(),
        }));
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
    pub(super) fn member_event(
        &mut self,
        now: Instant,
        i: usize,
        ev: Event,
        out: &mut Vec<Action>,
    ) {
        let Some(m) = self.members.get(i).filter(|m| !m.done) else {
            return;
        };
        match (m.leg, ev) {
            (Leg::Ringing { .. }, Event::LegAnswered) => {
                if m.attempt.user.starts_with('+') {
                    out.push(Action::Note(Noted::MemberAnswered {
                        number: m.attempt.number.clone(),
                    }));
                    self.member_wins(now, i, None, out);
                } else {
                    self.members[i].leg = Leg::Announcing;
                    out.push(Action::PlayMember(i, Prompt::Announcement));
                }
            }
            (Leg::Announcing, Event::ResponderPromptDone) => {
                self.members[i].leg = Leg::AwaitAccept {
                    deadline: now + self.rn().accept_wait(),
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

    fn record_member(
        &mut self,
        now: Instant,
        i: usize,
        outcome: AttemptOutcome,
        out: &mut Vec<Action>,
    ) {
        let m = &mut self.members[i];
        m.done = true;
        out.push(Action::Note(Noted::AttemptEnded {
            user: m.attempt.user.clone(),
            number: m.attempt.number.clone(),
            outcome,
        }));
        self.current = Some((m.attempt.clone(), m.started));
        self.record_attempt(now, outcome);
    }

    /// Member `i` is over without accepting; when all are, so is the round.
    fn member_over(
        &mut self,
        now: Instant,
        i: usize,
        outcome: AttemptOutcome,
        out: &mut Vec<Action>,
    ) {
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

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::call::{EndReason, Intake};
    use crate::config::{BoardProfile, Config};

    const CFG: &str = r#"
[[user]]
id = "alice"
phone = ["+491701111111"]
[[user]]
id = "bob"
phone = ["+491702222222"]
[[user]]
id = "carol"
phone = ["+491703333333"]

[[routing_number]]
id = "all"
name = "All"
port = "fxo1"
  [[routing_number.step]]
  name = "everyone"
  type = "route"
  targets = ["user:alice", "user:bob", "user:carol"]
  order = "parallel"
  then = "sorry"
  [[routing_number.step]]
  name = "sorry"
  type = "hangup"
  say = "Sorry."
"#;

    fn start() -> (Call, Instant) {
        let cfg = Config::parse("t.toml", CFG, &BoardProfile::sim()).unwrap();
        let now = Instant::now();
        let (mut c, _) = Call::new(
            1,
            Arc::new(cfg),
            0,
            Intake::default(),
            now,
            jiff::Timestamp::UNIX_EPOCH,
            1,
        );
        let a = c.handle(now, Event::CallerAnswered);
        let dials: Vec<usize> = a
            .iter()
            .filter_map(|x| match x {
                Action::DialMember { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(dials, vec![0, 1, 2], "{a:?}");
        (c, now)
    }

    fn member(i: usize, e: Event) -> Event {
        Event::Member(i, Box::new(e))
    }

    fn finished(a: &[Action]) -> Option<&crate::call::Cdr> {
        a.iter().find_map(|x| match x {
            Action::Finished(c) => Some(&**c),
            _ => None,
        })
    }

    #[test]
    fn the_first_to_accept_wins_and_the_others_are_hung_up_at_once() {
        let (mut c, t) = start();
        c.handle(t, member(2, Event::LegAnswered));
        c.handle(t, member(1, Event::LegAnswered));
        assert_eq!(c.handle(t, member(1, Event::ResponderPromptDone)), vec![]);
        let a = c.handle(
            t + Duration::from_secs(3),
            member(1, Event::ResponderDigit('5')),
        );
        assert!(a.contains(&Action::HangupMember(0)));
        assert!(a.contains(&Action::HangupMember(2)));
        assert!(!a.contains(&Action::HangupMember(1)));
        let adopt = a.iter().position(|x| *x == Action::AdoptMember(1)).unwrap();
        let bridge = a.iter().position(|x| *x == Action::Bridge).unwrap();
        assert!(adopt < bridge);
        assert_eq!(c.accepted_by(), Some("bob"));
        // late events of the others change nothing
        assert!(
            c.handle(t, member(2, Event::ResponderDigit('1')))
                .is_empty()
        );
        let a = c.handle(t + Duration::from_secs(9), Event::CallerHangup);
        assert!(a.contains(&Action::HangupLeg));
        let cdr = finished(&a).unwrap();
        assert_eq!(cdr.end_reason, EndReason::Completed);
        let got: Vec<_> = cdr
            .attempts
            .iter()
            .map(|a| (a.user.as_str(), a.outcome))
            .collect();
        assert_eq!(
            got,
            vec![
                ("alice", AttemptOutcome::Cancelled),
                ("carol", AttemptOutcome::Cancelled),
                ("bob", AttemptOutcome::Accepted)
            ]
        );
    }

    #[test]
    fn when_every_member_fails_the_route_takes_then() {
        let (mut c, t) = start();
        c.handle(t, member(0, Event::LegFailed(LegFailure::Busy)));
        c.handle(t, member(1, Event::LegAnswered));
        let a = c.handle(t, member(1, Event::ResponderDigit('2')));
        assert_eq!(a.first(), Some(&Action::HangupMember(1)));
        // carol rings out: the answer timeout hangs her up, then `then` plays
        let due = c.poll_timeout().unwrap();
        let a = c.handle_timeout(due);
        assert!(a.contains(&Action::HangupMember(2)));
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::PlayCaller(p) if p == &vec![Prompt::Step(1)]))
        );
        let a = c.handle(due, Event::CallerPromptDone);
        let cdr = finished(&a).unwrap();
        assert_eq!(cdr.end_reason, EndReason::NobodyAccepted);
        assert_eq!(cdr.path, vec!["everyone", "sorry"]);
        let got: Vec<_> = cdr.attempts.iter().map(|a| a.outcome).collect();
        assert_eq!(
            got,
            vec![
                AttemptOutcome::Busy,
                AttemptOutcome::Declined,
                AttemptOutcome::NoAnswer
            ]
        );
    }

    #[test]
    fn a_caller_who_hangs_up_cancels_every_member() {
        let (mut c, t) = start();
        c.handle(t, member(0, Event::LegFailed(LegFailure::NoAnswer)));
        let a = c.handle(t, Event::CallerHangup);
        assert!(a.contains(&Action::HangupMember(1)));
        assert!(a.contains(&Action::HangupMember(2)));
        assert!(!a.contains(&Action::HangupMember(0)));
        assert_eq!(finished(&a).unwrap().end_reason, EndReason::CallerAbandoned);
    }
}
