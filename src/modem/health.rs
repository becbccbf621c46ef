//! Modem recovery supervisor (sans-IO: time comes in as an argument).
//!
//! [`Health`] watches the AT dialogue and decides when the modem is dead and what to
//! do about it; [`super::Modem`] carries the decisions out. The escalation ladder:
//!
//! 1. **Up.** Commands time out one by one; after
//!    [`HealthTiming::timeouts_before_reset`] consecutive timeouts (no final result
//!    code in between) the modem counts as dead. While the modem is idle the
//!    registration/signal poll (every `status_poll`, 30 s by default) is the liveness
//!    probe, and while a call is up the `AT+CLCC` poll is, so a modem that dies
//!    silently is noticed within about `status_poll + 3 × command timeout`.
//! 2. **Soft reset.** Everything in progress is failed (legs end with
//!    `LegEnd::Error("modem reset: …")`, SMS and queries fail), `AT+CFUN=1,1` is sent,
//!    and after [`HealthTiming::settle`] the modem is probed with `AT` every
//!    [`HealthTiming::probe_every`]. `RDY` or any final result to a probe means it is
//!    back: the normal init runs again.
//! 3. **Power cycle.** If nothing answered within [`HealthTiming::soft_wait`], the
//!    driver is asked to pulse the power key ([`Step::PowerCycle`]; the board does it
//!    through its GPIO, or cannot), then probing continues for
//!    [`HealthTiming::hard_wait`].
//! 4. **Back-off.** Still nothing: a fault is raised and the supervisor waits
//!    [`HealthTiming::backoff`] (probing slowly; a spontaneous `RDY` still counts) before
//!    climbing the ladder again from step 2. Never a tight loop.
//!
//! A lost serial port (USB re-enumeration) enters the ladder at step 2 without sending
//! `AT+CFUN=1,1` (the port is gone; the modem most likely reset already); when the
//! port is open again it is probed at once.

use std::time::{Duration, Instant};

use super::{Cmd, LegEnd, Modem, ModemEvent, Purpose};

/// Timing of the recovery ladder.
#[derive(Debug, Clone, Copy)]
pub struct HealthTiming {
    /// Consecutive command timeouts that make the modem count as dead.
    pub timeouts_before_reset: u32,
    /// After the soft reset command (or a lost port), wait this long before probing.
    pub settle: Duration,
    /// Interval between `AT` probes while recovering.
    pub probe_every: Duration,
    /// How long the soft reset may take (`AT+CFUN=1,1` → USB back ≈ 10–25 s).
    pub soft_wait: Duration,
    /// How long after the power-key pulse (PWRKEY → `RDY` ≈ 10–15 s).
    pub hard_wait: Duration,
    /// Pause after a failed ladder before trying again.
    pub backoff: Duration,
}

impl Default for HealthTiming {
    fn default() -> Self {
        Self {
            timeouts_before_reset: 3,
            settle: Duration::from_secs(5),
            probe_every: Duration::from_secs(10),
            soft_wait: Duration::from_secs(60),
            hard_wait: Duration::from_secs(60),
            backoff: Duration::from_secs(300),
        }
    }
}

/// Where the supervisor is on the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The modem answers.
    Up,
    /// Soft reset sent (or the port was lost); waiting for the modem to come back.
    SoftReset,
    /// Power key pulsed; waiting for the modem to come back.
    PowerCycle,
    /// The ladder failed; waiting before trying again.
    Backoff,
}

/// Recovery figures for `/api/status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecoveryStatus {
    /// Ladder stage.
    pub stage: Stage,
    /// Whether the AT port is open.
    pub link_up: bool,
    /// Resets since start (soft resets, power cycles, lost ports, spontaneous `RDY`).
    pub resets: u32,
    /// Power-key pulses requested since start.
    pub power_cycles: u32,
    /// Times the modem came back after a reset.
    pub recoveries: u32,
    /// Why the last reset happened.
    pub last_reset_reason: Option<String>,
}

impl Default for RecoveryStatus {
    fn default() -> Self {
        Self {
            stage: Stage::Up,
            link_up: true,
            resets: 0,
            power_cycles: 0,
            recoveries: 0,
            last_reset_reason: None,
        }
    }
}

/// What the modem driver must do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the soft reset command (`AT+CFUN=1,1`).
    SoftReset,
    /// Send an `AT` probe.
    Probe,
    /// Ask the board to pulse the modem's power key.
    PowerCycle,
    /// The ladder failed: raise this fault.
    GiveUp(String),
}

/// The recovery supervisor.
#[derive(Debug, Clone)]
pub struct Health {
    timing: HealthTiming,
    consecutive_timeouts: u32,
    deadline: Option<Instant>,
    next_probe: Option<Instant>,
    status: RecoveryStatus,
}

impl Health {
    /// A supervisor for a modem that is (assumed) up.
    pub fn new(timing: HealthTiming) -> Self {
        Self {
            timing,
            consecutive_timeouts: 0,
            deadline: None,
            next_probe: None,
            status: RecoveryStatus::default(),
        }
    }

    /// Figures for status pages.
    pub fn status(&self) -> &RecoveryStatus {
        &self.status
    }

    /// Whether a reset is under way (normal commands must not be sent).
    pub fn recovering(&self) -> bool {
        self.status.stage != Stage::Up
    }

    /// Whether the AT port is open.
    pub fn link_up(&self) -> bool {
        self.status.link_up
    }

    /// A final result code arrived: the modem is alive.
    pub fn command_answered(&mut self) {
        self.consecutive_timeouts = 0;
    }

    /// A command timed out. Returns the reason when this makes the modem count as dead
    /// (the caller then starts a reset with [`Health::start_reset`]).
    pub fn command_timed_out(&mut self) -> Option<String> {
        if self.recovering() {
            return None;
        }
        self.consecutive_timeouts += 1;
        (self.consecutive_timeouts >= self.timing.timeouts_before_reset.max(1)).then(|| {
            format!(
                "the modem does not answer ({} commands timed out)",
                self.consecutive_timeouts
            )
        })
    }

    fn enter(&mut self, now: Instant, stage: Stage, wait: Duration) {
        self.status.stage = stage;
        self.deadline = Some(now + wait);
        self.next_probe = Some(now + self.timing.settle);
        self.consecutive_timeouts = 0;
    }

    /// Starts the ladder (soft reset) because of `reason`. Returns the step to take
    /// ([`Step::SoftReset`] when the port is open).
    pub fn start_reset(&mut self, now: Instant, reason: &str) -> Option<Step> {
        self.note_reset(reason);
        self.enter(now, Stage::SoftReset, self.timing.soft_wait);
        self.status.link_up.then_some(Step::SoftReset)
    }

    /// Counts a reset that happened without the ladder (the modem restarted by itself).
    pub fn note_reset(&mut self, reason: &str) {
        self.status.resets += 1;
        self.status.last_reset_reason = Some(reason.to_string());
    }

    /// The AT port was lost. Enters the ladder (without a soft reset) unless already
    /// on it.
    pub fn link_down(&mut self, now: Instant, reason: &str) {
        self.status.link_up = false;
        if !self.recovering() {
            self.note_reset(reason);
            self.enter(now, Stage::SoftReset, self.timing.soft_wait);
        }
    }

    /// The AT port is open again: probe at once.
    pub fn link_up_again(&mut self, now: Instant) {
        self.status.link_up = true;
        if self.recovering() {
            self.next_probe = Some(now);
        }
    }

    /// The modem answered while recovering (`RDY`, or a final result to a probe).
    /// Returns true when this ends a reset (the driver re-initialises).
    pub fn answered_while_recovering(&mut self) -> bool {
        if !self.recovering() {
            return false;
        }
        self.status.stage = Stage::Up;
        self.status.recoveries += 1;
        self.deadline = None;
        self.next_probe = None;
        self.consecutive_timeouts = 0;
        true
    }

    /// When [`Health::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.recovering() {
            return None;
        }
        let probe = self.next_probe.filter(|_| self.status.link_up);
        match (self.deadline, probe) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires the ladder's timers. `probe_idle` says whether a probe may be sent now
    /// (nothing in flight); a due probe waits otherwise.
    pub fn handle_timeout(&mut self, now: Instant, probe_idle: bool) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.deadline.is_some_and(|d| now >= d) {
            match self.status.stage {
                Stage::Up => self.deadline = None,
                Stage::SoftReset => {
                    self.enter(now, Stage::PowerCycle, self.timing.hard_wait);
                    self.status.power_cycles += 1;
                    steps.push(Step::PowerCycle);
                }
                Stage::PowerCycle => {
                    let backoff = self.timing.backoff;
                    self.enter(now, Stage::Backoff, backoff);
                    self.next_probe = Some(now + self.timing.probe_every.max(backoff / 10));
                    steps.push(Step::GiveUp(format!(
                        "the modem did not come back after a soft reset and a power cycle; trying again in {} s",
                        backoff.as_secs()
                    )));
                }
                Stage::Backoff => {
                    let reason = "retrying after back-off";
                    if let Some(s) = self.start_reset(now, reason) {
                        steps.push(s);
                    }
                }
            }
        }
        if self.recovering()
            && self.status.link_up
            && probe_idle
            && self.next_probe.is_some_and(|p| now >= p)
        {
            let every = if self.status.stage == Stage::Backoff {
                self.timing.probe_every.max(self.timing.backoff / 10)
            } else {
                self.timing.probe_every
            };
            self.next_probe = Some(now + every);
            steps.push(Step::Probe);
        }
        steps
    }
}

// ---- the driver's side of recovery (kept here so the state machine in `mod.rs` only
// ---- carries a few hook calls)

impl Modem {
    /// The AT port was lost (read error, EOF, device gone): everything in progress
    /// fails, nothing is written until [`Modem::link_up`].
    pub fn link_down(&mut self, now: Instant, reason: &str) {
        let was_recovering = self.health.recovering();
        self.health.link_down(now, reason);
        self.abort_all(reason);
        if !was_recovering {
            self.events.push_back(ModemEvent::Reset {
                reason: reason.to_string(),
            });
        }
        self.pump(now);
    }

    /// The AT port is open again (possibly a different device behind the same name):
    /// the modem is probed and, once it answers, initialised again.
    pub fn link_up(&mut self, now: Instant) {
        self.codec.reset();
        self.urc_header = None;
        self.tx.clear();
        self.inflight = None;
        self.health.link_up_again(now);
        self.handle_timeout(now);
    }

    /// Fails everything in progress because the modem is being reset.
    pub(super) fn abort_all(&mut self, reason: &str) {
        let why = format!("modem reset: {reason}");
        self.status.ready = false;
        // the modem forgets its PCM switch; nothing is sent for it
        self.pcm_on = false;
        self.end_leg(LegEnd::Error(why.clone()));
        let calls: Vec<_> = self.incoming.iter().map(|c| c.leg).collect();
        for leg in calls {
            self.end_incoming(leg, LegEnd::Error(why.clone()));
        }
        if let Some(f) = self.inflight.take() {
            self.fail_cmd(f.cmd, &why);
        }
        for c in std::mem::take(&mut self.queue) {
            self.fail_cmd(c, &why);
        }
        let pending: Vec<_> = self.sms_out.keys().copied().collect();
        for id in pending {
            self.fail_sms(id, why.clone());
        }
        self.tx.clear();
    }

    fn fail_cmd(&mut self, cmd: Cmd, why: &str) {
        match cmd.purpose {
            Purpose::SmsSubmit(id) => self.fail_sms(id, why.to_string()),
            Purpose::Query(id) | Purpose::Chld(id) => self.events.push_back(ModemEvent::Response {
                id,
                ok: false,
                lines: Vec::new(),
                outcome: why.to_string(),
            }),
            Purpose::Forward(id) => self.events.push_back(ModemEvent::Forwarding {
                id,
                result: Err(why.to_string()),
            }),
            Purpose::Dial(leg) if self.leg.is_some_and(|l| l.id == leg) => {
                self.end_leg(LegEnd::Error(why.to_string()))
            }
            Purpose::ManualPin | Purpose::PinAttempts | Purpose::PinRecheck => {
                self.manual_pin_lost(why)
            }
            _ => {}
        }
    }

    /// Starts the reset ladder.
    pub(super) fn begin_reset(&mut self, now: Instant, reason: &str) {
        tracing::warn!("modem: {reason}; resetting it");
        self.abort_all(reason);
        let step = self.health.start_reset(now, reason);
        self.events.push_back(ModemEvent::Reset {
            reason: reason.to_string(),
        });
        if let Some(s) = step {
            self.recovery_step(s);
        }
    }

    /// `RDY`: the modem (re)started. Ends a reset, or is a reset of its own.
    pub(super) fn restarted(&mut self) {
        if self.health.recovering() {
            self.back_again();
            return;
        }
        let reason = "the modem restarted by itself (RDY)";
        tracing::warn!("modem: {reason}; initialising again");
        self.abort_all(reason);
        self.health.note_reset(reason);
        self.events.push_back(ModemEvent::Reset {
            reason: reason.to_string(),
        });
        self.queue_init();
    }

    /// A command sent while recovering completed (`answered`: with a final result,
    /// not a timeout).
    pub(super) fn recovery_answer(&mut self, purpose: Purpose, answered: bool) {
        if answered && purpose == Purpose::Probe {
            self.back_again();
        }
    }

    fn back_again(&mut self) {
        if self.health.answered_while_recovering() {
            tracing::info!("modem: answers again after a reset; initialising");
            self.inflight = None;
            self.events.push_back(ModemEvent::Recovered);
            self.queue_init();
        }
    }

    /// Fires the ladder's timers (from `handle_timeout`).
    pub(super) fn recovery_timeout(&mut self, now: Instant) {
        // drop what cannot go out now (e.g. a status poll that fell due) first
        self.recovery_gate();
        let idle = self.inflight.is_none() && self.queue.is_empty();
        for s in self.health.handle_timeout(now, idle) {
            self.recovery_step(s);
        }
    }

    fn recovery_step(&mut self, step: Step) {
        match step {
            Step::SoftReset => self.push("AT+CFUN=1,1", Purpose::Reset, self.timing.command),
            Step::Probe => self.push("AT", Purpose::Probe, self.timing.command),
            Step::PowerCycle => {
                tracing::warn!("modem: no answer after a soft reset; asking for a power cycle");
                self.events.push_back(ModemEvent::PowerCycle);
            }
            Step::GiveUp(why) => {
                tracing::error!("modem: {why}");
                self.events.push_back(ModemEvent::Fault(why));
            }
        }
    }

    /// Called by `pump`: while recovering, only the ladder's own commands go out
    /// (anything else fails at once with a clear reason); nothing goes out while the
    /// port is closed. Returns whether a command may be written.
    pub(super) fn recovery_gate(&mut self) -> bool {
        self.status.recovery = self.health.status().clone();
        if self.health.recovering() {
            let why = format!(
                "modem reset in progress: {}",
                self.health
                    .status()
                    .last_reset_reason
                    .as_deref()
                    .unwrap_or("no answer")
            );
            let (keep, drop): (Vec<Cmd>, Vec<Cmd>) = std::mem::take(&mut self.queue)
                .into_iter()
                .partition(|c| matches!(c.purpose, Purpose::Reset | Purpose::Probe));
            self.queue = keep.into();
            for c in drop {
                self.fail_cmd(c, &why);
            }
        }
        self.health.link_up()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;
    use crate::modem::{LegState, ModemTiming};

    /// Answers everything with OK until the queue is empty; returns the commands.
    fn answer_all(m: &mut Modem, t: Instant) -> Vec<String> {
        let mut sent = Vec::new();
        for _ in 0..40 {
            let Some(tx) = m.poll_transmit() else { break };
            let cmd = String::from_utf8_lossy(&tx).trim().to_string();
            sent.push(cmd);
            m.handle_input(t, b"\r\nOK\r\n");
        }
        sent
    }

    fn events(m: &mut Modem) -> Vec<ModemEvent> {
        std::iter::from_fn(|| m.poll_event()).collect()
    }

    fn ready(t: Instant) -> Modem {
        let mut m = Modem::new(t, ModemTiming::default());
        answer_all(&mut m, t);
        assert!(events(&mut m).contains(&ModemEvent::Ready));
        m
    }

    #[test]
    fn dead_modem_mid_call_ends_the_leg_fails_sms_and_query_then_recovers() {
        let t = Instant::now();
        let mut m = ready(t);
        let leg = m.dial(t, "+491701111111");
        assert_eq!(m.poll_transmit().unwrap(), b"ATD+491701111111;\r");
        m.handle_input(t, b"\r\nOK\r\n");
        // from now on the modem is silent: every command times out
        let mut now = t;
        let mut ev = Vec::new();
        let (mut sms, mut q) = (0, 0);
        for i in 0..10 {
            if i == 2 {
                // the third command to time out is this query; the SMS waits behind it
                q = m.query(now, "AT+CGSN");
                sms = m.send_sms(now, "+491701234567", "hi");
            }
            while m.poll_transmit().is_some() {}
            now = m.poll_timeout().unwrap();
            m.handle_timeout(now);
            ev.extend(events(&mut m));
            if ev.iter().any(|e| matches!(e, ModemEvent::Reset { .. })) {
                break;
            }
        }
        let reason = ev
            .iter()
            .find_map(|e| match e {
                ModemEvent::Reset { reason } => Some(reason.clone()),
                _ => None,
            })
            .expect("a reset after three timeouts");
        assert!(reason.contains("3 commands timed out"), "{reason}");
        assert!(
            ev.iter().any(|e| matches!(e,
            ModemEvent::Leg { leg: l, state: LegState::Ended(LegEnd::Error(why)) }
                if *l == leg && why.starts_with("modem reset"))),
            "{ev:?}"
        );
        assert!(ev.iter().any(|e| matches!(e,
            ModemEvent::SmsSent { id, result: Err(why) } if *id == sms && why.contains("modem reset"))), "{ev:?}");
        assert!(ev.iter().any(|e| matches!(e,
            ModemEvent::Response { id, ok: false, outcome, .. } if *id == q && outcome == "timeout")), "{ev:?}");
        assert!(!m.status().ready);
        assert_eq!(m.poll_transmit().unwrap(), b"AT+CFUN=1,1\r");
        // a query while resetting fails at once instead of hanging
        let q2 = m.query(now, "ATI");
        assert!(events(&mut m).iter().any(|e| matches!(e,
            ModemEvent::Response { id, ok: false, outcome, .. } if *id == q2 && outcome.contains("reset in progress"))));
        // the modem reboots: RDY ends the reset and init runs again
        m.handle_input(now, b"\r\nOK\r\n\r\nRDY\r\n\r\n+CFUN: 1\r\n");
        assert!(events(&mut m).contains(&ModemEvent::Recovered));
        let init = answer_all(&mut m, now);
        assert_eq!(init.first().map(String::as_str), Some("AT"), "{init:?}");
        assert!(init.iter().any(|c| c == "ATE0"));
        assert!(events(&mut m).contains(&ModemEvent::Ready));
        let st = m.status();
        assert_eq!((st.recovery.resets, st.recovery.recoveries), (1, 1));
        assert_eq!(st.recovery.stage, Stage::Up);
        assert!(
            st.recovery
                .last_reset_reason
                .as_deref()
                .unwrap()
                .contains("timed out")
        );
    }

    #[test]
    fn a_hung_modem_climbs_the_ladder_without_a_tight_loop() {
        let t = Instant::now();
        let mut m = ready(t);
        let mut now = t;
        let mut sent = 0usize;
        let mut ev = Vec::new();
        let mut turns = 0;
        // two hours of a modem that never answers
        while now < t + Duration::from_secs(7200) {
            while m.poll_transmit().is_some() {
                sent += 1;
            }
            let next = m.poll_timeout().expect("something is always scheduled");
            assert!(
                next > now || turns == 0 || next == now,
                "time went backwards"
            );
            now = next.max(now);
            m.handle_timeout(now);
            ev.extend(events(&mut m));
            turns += 1;
            assert!(turns < 10_000, "tight loop");
        }
        let count = |f: fn(&ModemEvent) -> bool| ev.iter().filter(|e| f(e)).count();
        let power = count(|e| matches!(e, ModemEvent::PowerCycle));
        let faults = count(|e| matches!(e, ModemEvent::Fault(_)));
        // one ladder: 3 × 5 s timeouts + 60 s soft + 60 s hard, then 300 s back-off
        assert!((10..=17).contains(&power), "{power} power cycles in 2 h");
        assert!(faults >= power - 1, "{faults} faults");
        assert!(sent < 2000, "{sent} commands in 2 h");
        assert_eq!(m.status().recovery.power_cycles as usize, power);
        // the first step after the timeouts was the soft reset, then the power cycle
        let first_power = ev.iter().position(|e| matches!(e, ModemEvent::PowerCycle));
        let first_reset = ev
            .iter()
            .position(|e| matches!(e, ModemEvent::Reset { .. }));
        assert!(first_reset < first_power);
    }

    #[test]
    fn lost_port_fails_everything_at_once_and_reinitialises_when_back() {
        let t = Instant::now();
        let mut m = ready(t);
        let leg = m.dial(t, "+491701111111");
        m.link_down(t, "the AT port was lost (EIO)");
        let ev = events(&mut m);
        assert!(ev.iter().any(|e| matches!(e,
            ModemEvent::Leg { leg: l, state: LegState::Ended(LegEnd::Error(_)) } if *l == leg)));
        assert!(
            ev.iter()
                .any(|e| matches!(e, ModemEvent::Reset { reason } if reason.contains("EIO")))
        );
        // nothing is written while the port is closed; a dial fails at once
        assert_eq!(m.poll_transmit(), None);
        let leg2 = m.dial(t, "+491702222222");
        assert!(events(&mut m).iter().any(|e| matches!(e,
            ModemEvent::Leg { leg: l, state: LegState::Ended(_) } if *l == leg2)));
        assert_eq!(m.poll_transmit(), None);
        let back = t + Duration::from_secs(15);
        m.link_up(back);
        // probed at once; any final result is a sign of life
        assert_eq!(m.poll_transmit().unwrap(), b"AT\r");
        m.handle_input(back, b"AT\r\r\nOK\r\n");
        assert!(events(&mut m).contains(&ModemEvent::Recovered));
        answer_all(&mut m, back);
        assert!(events(&mut m).contains(&ModemEvent::Ready));
        assert!(m.status().recovery.link_up);
    }

    #[test]
    fn spontaneous_rdy_mid_call_is_a_reset_of_its_own() {
        let t = Instant::now();
        let mut m = ready(t);
        let leg = m.dial(t, "+491701111111");
        m.poll_transmit();
        m.handle_input(t, b"\r\nOK\r\n\r\nRDY\r\n");
        let ev = events(&mut m);
        assert!(
            ev.iter().any(|e| matches!(e,
            ModemEvent::Leg { leg: l, state: LegState::Ended(LegEnd::Error(why)) }
                if *l == leg && why.contains("restarted"))),
            "{ev:?}"
        );
        assert!(ev.iter().any(|e| matches!(e, ModemEvent::Reset { .. })));
        assert_eq!(m.status().recovery.resets, 1);
        let init = answer_all(&mut m, t);
        assert!(init.contains(&"ATE0".to_string()), "{init:?}");
        assert!(events(&mut m).contains(&ModemEvent::Ready));
    }

    #[test]
    fn ladder_soft_then_power_then_backoff_then_again() {
        let t = Instant::now();
        let tm = HealthTiming::default();
        let mut h = Health::new(tm);
        assert_eq!(h.command_timed_out(), None);
        assert_eq!(h.command_timed_out(), None);
        let why = h.command_timed_out().expect("third timeout is fatal");
        assert_eq!(h.start_reset(t, &why), Some(Step::SoftReset));
        assert_eq!(h.status().resets, 1);
        // probes start after settling, not before
        assert!(
            h.handle_timeout(t + Duration::from_secs(1), true)
                .is_empty()
        );
        assert_eq!(h.handle_timeout(t + tm.settle, true), vec![Step::Probe]);
        // a busy link delays the probe
        let t1 = t + tm.settle + tm.probe_every;
        assert!(h.handle_timeout(t1, false).is_empty());
        let t2 = t + tm.soft_wait;
        assert_eq!(h.handle_timeout(t2, false), vec![Step::PowerCycle]);
        assert_eq!(h.status().stage, Stage::PowerCycle);
        let t3 = t2 + tm.hard_wait;
        let s = h.handle_timeout(t3, false);
        assert!(matches!(&s[..], [Step::GiveUp(_)]), "{s:?}");
        // during back-off nothing happens at a fast pace
        let next = h.poll_timeout().unwrap();
        assert!(
            next >= t3 + tm.backoff / 10,
            "probing too often in back-off"
        );
        let t4 = t3 + tm.backoff;
        let s = h.handle_timeout(t4, false);
        assert_eq!(s, vec![Step::SoftReset]);
        assert_eq!(h.status().resets, 2);
        assert!(h.answered_while_recovering());
        assert_eq!(h.status().stage, Stage::Up);
        assert_eq!(h.status().recoveries, 1);
        assert_eq!(h.poll_timeout(), None);
    }

    #[test]
    fn answers_reset_the_timeout_count_and_lost_port_probes_on_return() {
        let t = Instant::now();
        let mut h = Health::new(HealthTiming::default());
        h.command_timed_out();
        h.command_timed_out();
        h.command_answered();
        assert_eq!(h.command_timed_out(), None);
        h.link_down(t, "port lost");
        assert!(h.recovering());
        assert_eq!(h.poll_timeout(), Some(t + Duration::from_secs(60)));
        let back = t + Duration::from_secs(12);
        h.link_up_again(back);
        assert_eq!(h.handle_timeout(back, true), vec![Step::Probe]);
        // timeouts while recovering do not start another reset
        assert_eq!(h.command_timed_out(), None);
        assert!(h.answered_while_recovering());
        assert!(!h.answered_while_recovering());
    }
}
