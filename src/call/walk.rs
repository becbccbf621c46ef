//! How a [`Call`] walks an explicit call flow (`[[routing_number.step]]`).
//!
//! Each step reuses the call's existing states: a menu plays in `Greeting` and waits in
//! `Menu`, a PIN step is `Pin`, a route is `Hunting` (plus `Pause` between rounds),
//! voicemail is `VoicemailPrompt`/`Recording`, a hang-up is `Closing`. Automatic steps
//! (hours, block, goto) pass straight through. Every step entered is added to the CDR's
//! path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;

use super::flow::{Order, Route, StepIdx, StepKind, Target};
use super::{Action, Call, EndReason, Noted, Prompt, State};
use crate::routing::{HuntPlan, PlannedAttempt, hunt_plan, on_call, resolved_levels};

/// More automatic steps in a row than this means a loop the checker missed.
const MAX_HOPS: usize = 64;
/// Menus remembered for `*`.
const MAX_MENU_STACK: usize = 32;

fn step_prompt(i: StepIdx) -> Prompt {
    Prompt::Step(u16::try_from(i).unwrap_or(u16::MAX))
}

impl Call {
    /// Whether the routing number the call is in now has an explicit flow.
    pub(super) fn explicit(&self) -> bool {
        self.rn().flow.explicit
    }

    /// The queue limits a flow's queue step set for this call: callers that may wait,
    /// longest wait (each `None`: the routing number's `[queue]`).
    pub fn queue_limits(&self) -> (Option<u32>, Option<Duration>) {
        self.queue_limits
    }

    /// The steps the caller went through so far.
    pub fn path(&self) -> &[String] {
        &self.cdr.path
    }

    /// Adds a step to the path (`routing-id/step` after a goto or an overflow).
    pub(super) fn path_push(&mut self, name: &str) {
        let key = &self.cfg.routing_numbers[self.routing].key;
        let entry = if *key == self.cdr.routing_id {
            name.to_string()
        } else {
            format!("{key}/{name}")
        };
        self.cdr.path.push(entry);
    }

    /// The PIN the call is asking for now.
    pub(super) fn pin_wanted(&self) -> String {
        if let Some(StepKind::Pin { pin, .. }) = self.step_kind() {
            return pin.clone();
        }
        self.rn().pin_code().unwrap_or_default().to_string()
    }

    /// After the right PIN in a flow: its next step.
    pub(super) fn pin_next(&self) -> Option<StepIdx> {
        match self.step_kind() {
            Some(StepKind::Pin { next, .. }) => Some(*next),
            _ => None,
        }
    }

    fn step_kind(&self) -> Option<&StepKind> {
        if !self.explicit() {
            return None;
        }
        self.step
            .and_then(|i| self.rn().flow.steps.get(i))
            .map(|s| &s.kind)
    }

    /// The menu step the call is in.
    pub(super) fn menu_step(&self) -> Option<&super::flow::Menu> {
        match self.step_kind() {
            Some(StepKind::Menu(m)) => Some(m),
            _ => None,
        }
    }

    fn route_step(&self) -> Option<&Route> {
        match self.step_kind() {
            Some(StepKind::Route(r)) => Some(r),
            _ => None,
        }
    }

    /// How long the responder's phone rings: the route step's, else the routing number's.
    pub(super) fn answer_timeout(&self) -> Duration {
        self.route_step()
            .map_or(self.rn().answer_wait(), |r| r.answer_timeout)
    }

    /// The attempt in progress dials a plain number (connected without the accept
    /// prompt). Plan entries for numbers carry the number as their user, which no user
    /// id can look like (ids have no `+`).
    pub(super) fn current_is_number(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|(a, _)| a.user.starts_with('+'))
    }

    /// Enters step `i` of the current routing number's flow.
    pub(super) fn enter(&mut self, now: Instant, i: StepIdx, out: &mut Vec<Action>) {
        self.enter_hop(now, i, 0, out);
    }

    fn enter_hop(&mut self, now: Instant, i: StepIdx, hops: usize, out: &mut Vec<Action>) {
        let flow = Arc::clone(&self.rn().flow);
        let Some(step) = flow.steps.get(i).filter(|_| hops < MAX_HOPS) else {
            out.push(Action::Note(Noted::FlowError { step: i, hops }));
            self.close(now, EndReason::Error, Prompt::Goodbye, out);
            return;
        };
        self.path_push(&step.name);
        self.step = Some(i);
        let said = step.say.is_some();
        let p = step_prompt(i);
        out.push(Action::Note(Noted::Step {
            name: step.name.clone(),
            step_type: step.kind.type_name().to_string(),
        }));
        match &step.kind {
            StepKind::Menu(_) => {
                self.tries = 0;
                self.state = State::Greeting;
                out.push(Action::PlayCaller(vec![p]));
            }
            StepKind::Message { next } => {
                self.state = State::Message { next: *next };
                out.push(Action::PlayCaller(vec![p]));
            }
            StepKind::Hours { open, closed } => {
                let st = crate::routing::support_status(&self.cfg, self.routing, self.wall(now));
                let to = if st.in_hours {
                    *open
                } else {
                    self.flow_reason = Some(EndReason::Closed);
                    *closed
                };
                out.push(Action::Note(Noted::SupportHours {
                    open: st.in_hours,
                    why: format!("{:?}", st.reason),
                }));
                self.enter_hop(now, to, hops + 1, out);
            }
            StepKind::Route(r) => {
                self.round = 1;
                self.cdr.policy = r.targets.iter().find_map(|t| match t {
                    Target::Policy(p) => Some(p.clone()),
                    _ => None,
                });
                out.push(Action::PlayCaller(vec![if said {
                    p
                } else {
                    Prompt::PleaseHold
                }]));
                self.start_round(now, out);
            }
            StepKind::Voicemail => {
                let why = match self.flow_reason {
                    Some(EndReason::NobodyAccepted) => "nobody_accepted",
                    Some(EndReason::NobodyOnCall) => "nobody_on_call",
                    Some(EndReason::Closed) => "closed",
                    _ => "flow",
                };
                self.cdr.voicemail = Some(why.into());
                self.state = State::VoicemailPrompt;
                let first = if said { p } else { Prompt::LeaveMessage };
                out.push(Action::PlayCaller(vec![first, Prompt::Beep]));
            }
            StepKind::Pin { .. } => {
                self.pin_tries = 0;
                self.ask_pin(now, vec![if said { p } else { Prompt::EnterPin }], out);
            }
            StepKind::Block {
                numbers,
                then,
                next,
            } => {
                if crate::config::flow::blocked_by(numbers, self.cdr.caller_id.as_deref()) {
                    out.push(Action::Note(Noted::Blocked {
                        caller_id: self.cdr.caller_id.clone(),
                        step: Some(step.name.clone()),
                    }));
                    self.flow_reason = Some(EndReason::Blocked);
                    match then {
                        Some(t) => self.enter_hop(now, *t, hops + 1, out),
                        None => self.close(now, EndReason::Blocked, Prompt::Blocked, out),
                    }
                } else {
                    self.enter_hop(now, *next, hops + 1, out);
                }
            }
            StepKind::Alert { next } => {
                out.push(Action::Alert {
                    step: step.name.clone(),
                });
                self.enter_hop(now, *next, hops + 1, out);
            }
            StepKind::Queue {
                next,
                then,
                max_callers,
                max_wait,
            } => {
                self.queue_then = *then;
                self.queue_limits = (*max_callers, *max_wait);
                self.enter_hop(now, *next, hops + 1, out);
            }
            StepKind::Hangup => {
                let reason = self.flow_reason.take().unwrap_or(EndReason::FlowHangup);
                self.close(now, reason, if said { p } else { Prompt::Goodbye }, out);
            }
            StepKind::Goto { routing } => {
                let Some((idx, _)) = self.cfg.routing_number(routing) else {
                    self.close(now, EndReason::Error, Prompt::Goodbye, out);
                    return;
                };
                out.push(Action::Note(Noted::Goto {
                    routing: routing.clone(),
                }));
                self.routing = idx;
                self.step = None;
                self.menu_stack.clear();
                self.queue_then = None;
                self.queue_limits = (None, None);
                self.tries = 0;
                self.pin_tries = 0;
                if self.explicit() {
                    let start = self.rn().flow.start;
                    self.enter_hop(now, start, hops + 1, out);
                } else {
                    self.classic_intake(now, out);
                }
            }
        }
    }

    /// A key in a flow's menu: its step, `*` back to the menu before, `#` repeat, or
    /// invalid.
    pub(super) fn flow_menu_key(&mut self, now: Instant, d: char, out: &mut Vec<Action>) {
        let (Some(i), Some(m)) = (self.step, self.menu_step().cloned()) else {
            return;
        };
        if let Some(to) = m.key(d) {
            out.push(Action::Note(Noted::MenuKey { key: d }));
            if self.menu_stack.len() < MAX_MENU_STACK {
                self.menu_stack.push(i);
            }
            self.enter(now, to, out);
        } else if d == '*'
            && let Some(back) = self.menu_stack.pop()
        {
            out.push(Action::Note(Noted::MenuBack));
            self.enter(now, back, out);
        } else if d == '#' {
            out.push(Action::Note(Noted::MenuRepeat));
            self.state = State::Greeting;
            out.push(Action::PlayCaller(vec![step_prompt(i)]));
        } else {
            out.push(Action::Note(Noted::InvalidKey { key: d }));
            self.flow_menu_retry(now, false, out);
        }
    }

    /// A wrong key or no key in a flow's menu: again, or its default, or goodbye.
    pub(super) fn flow_menu_retry(&mut self, now: Instant, timed_out: bool, out: &mut Vec<Action>) {
        let (Some(i), Some(m)) = (self.step, self.menu_step().cloned()) else {
            return;
        };
        let mut prompts = Vec::new();
        match (timed_out, &m.invalid, &m.timeout_say) {
            (false, Some(_), _) => prompts.push(Prompt::StepInvalid(i as u16)),
            (false, None, _) => prompts.push(Prompt::InvalidChoice),
            (true, _, Some(_)) => prompts.push(Prompt::StepTimeout(i as u16)),
            (true, _, None) => {}
        }
        self.tries += 1;
        if self.tries < m.tries {
            prompts.push(step_prompt(i));
            self.state = State::Greeting;
            out.push(Action::PlayCaller(prompts));
        } else if let Some(d) = m.default {
            out.push(Action::Note(Noted::MenuDefault { key: None }));
            self.enter(now, d, out);
        } else {
            self.close(now, EndReason::MenuFailed, Prompt::Goodbye, out);
        }
    }

    /// A wrong PIN (or none in time) in a flow's PIN step.
    pub(super) fn flow_pin_wrong(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(StepKind::Pin { tries, then, .. }) = self.step_kind().cloned() else {
            self.close(now, EndReason::PinFailed, Prompt::Goodbye, out);
            return;
        };
        if self.pin_tries < tries {
            let ask = match self.step.and_then(|i| self.rn().flow.steps.get(i)) {
                Some(s) if s.say.is_some() => step_prompt(self.step.unwrap_or(0)),
                _ => Prompt::EnterPin,
            };
            self.ask_pin(now, vec![Prompt::WrongPin, ask], out);
            return;
        }
        self.cdr.pin = Some("failed".into());
        self.flow_reason = Some(EndReason::PinFailed);
        match then {
            Some(t) => self.enter(now, t, out),
            None => self.close(now, EndReason::PinFailed, Prompt::Goodbye, out),
        }
    }

    /// The route step's plan at `now`, in its order.
    fn route_plan(&mut self, r: &Route, now: Instant) -> HuntPlan {
        let at = self.wall(now);
        let cfg = Arc::clone(&self.cfg);
        let mut plan = HuntPlan::default();
        let add = |plan: &mut HuntPlan, level: usize, user: &str| {
            if plan.attempts.iter().any(|a| a.user == user) {
                return;
            }
            match cfg.user(user).and_then(|u| u.first_phone()) {
                Some(n) => plan.attempts.push(PlannedAttempt {
                    level,
                    user: user.to_string(),
                    number: n.to_string(),
                }),
                None => plan
                    .skipped
                    .push((user.to_string(), "no phone number".to_string())),
            }
        };
        for (ti, t) in r.targets.iter().enumerate() {
            let level = ti + 1;
            match t {
                Target::Policy(p) if r.order == Order::Sequential => {
                    let (levels, gaps) = resolved_levels(&cfg, p, at);
                    plan.gaps.extend(gaps);
                    for (li, users) in levels.iter().enumerate() {
                        for u in users {
                            add(&mut plan, li + 1, u);
                        }
                    }
                }
                Target::Policy(p) => {
                    let hp = hunt_plan(&cfg, p, at, &mut self.rng);
                    plan.gaps.extend(hp.gaps);
                    plan.skipped.extend(hp.skipped);
                    for a in hp.attempts {
                        add(&mut plan, a.level, &a.user);
                    }
                }
                Target::User(u) => add(&mut plan, level, u),
                Target::Schedule(s) => {
                    let who = on_call(&cfg, s, at);
                    if who.is_empty() {
                        plan.gaps.push((level, s.clone()));
                    }
                    for o in who {
                        add(&mut plan, level, &o.user);
                    }
                }
                Target::Number(n) => plan.attempts.push(PlannedAttempt {
                    level,
                    user: n.clone(),
                    number: n.clone(),
                }),
            }
        }
        if r.order == Order::Random {
            plan.attempts.shuffle(&mut self.rng);
        }
        plan
    }

    /// Builds the plan of the current round and dials its first responder.
    fn start_round(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(r) = self.route_step().cloned() else {
            return;
        };
        self.plan = self.route_plan(&r, now);
        self.next_attempt = 0;
        self.plan_notes("target", out);
        if self.plan.is_empty() {
            out.push(Action::Note(Noted::NobodyThisRound));
            self.round_over(now, EndReason::NobodyOnCall, out);
            return;
        }
        if r.rounds > 1 {
            out.push(Action::Note(Noted::Round {
                round: self.round,
                of: r.rounds,
            }));
        }
        if r.order == Order::Parallel {
            self.start_parallel(now, out);
            return;
        }
        self.state = State::Hunting {
            leg: super::Leg::Idle,
        };
        self.dial_next(now, out);
    }

    /// Every responder of the round was tried: pause and walk the plan again, or the
    /// route's `then`.
    pub(super) fn route_exhausted(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.round_over(now, EndReason::NobodyAccepted, out);
    }

    fn round_over(&mut self, now: Instant, reason: EndReason, out: &mut Vec<Action>) {
        let Some(r) = self.route_step().cloned() else {
            self.close(now, EndReason::NobodyAccepted, Prompt::NobodyAvailable, out);
            return;
        };
        if self.round < r.rounds {
            out.push(Action::Note(Noted::RoundOver {
                round: self.round,
                pause_s: r.pause.as_secs(),
            }));
            self.state = State::Pause {
                deadline: now + r.pause,
            };
            out.push(Action::HoldMusic);
            return;
        }
        self.route_failed(now, reason, out);
    }

    /// The pause between rounds is over.
    pub(super) fn next_round(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.round += 1;
        self.start_round(now, out);
    }

    fn route_failed(&mut self, now: Instant, reason: EndReason, out: &mut Vec<Action>) {
        self.flow_reason = Some(reason);
        match self.route_step().and_then(|r| r.then) {
            Some(t) => self.enter(now, t, out),
            None if self.rn().voicemail.enabled => {
                self.end_reason = Some(reason);
                let why = if reason == EndReason::NobodyOnCall {
                    "nobody_on_call"
                } else {
                    "nobody_accepted"
                };
                self.start_voicemail(why, out);
            }
            None => self.close(now, reason, Prompt::NobodyAvailable, out),
        }
    }
}
