//! A SIM PIN typed by a person (the web page's System tab).
//!
//! It goes out once, as `AT+CPIN="<pin>"`, and only while the SIM asks for its PIN
//! (`+CPIN: SIM PIN`); the driver never sends it again by itself, because every wrong
//! PIN uses one of the SIM's three attempts. After a wrong PIN the driver asks how many
//! attempts are left (`AT+QPINC="SC"`, `AT+SPIC` or `AT+CPINR="SIM PIN"`, per dialect)
//! and the SIM state (`AT+CPIN?`: blocked now?), then reports
//! [`ModemEvent::SimPin`]. An accepted PIN lets initialisation go on (`AT+CPIN?` →
//! `READY` → configuration → registration), as after a configured PIN.

use super::sim_card::{self, Pin, PinEntryResult, PinVerdict, SimStep};
use super::*;

/// `AT+CPIN?` asked again at most this often while the SIM is busy after a PIN entry
/// (every `sim_retry`, 2 s: 30 s).
const MAX_RECHECKS: u32 = 15;

/// A PIN typed by a person, until its result is reported.
#[derive(Debug, Clone, Default)]
pub(super) struct ManualPin {
    /// The verdict so far (`None`: `AT+CPIN=` not answered yet).
    verdict: Option<PinEntryResult>,
    /// `AT+CPIN?` asked again while the SIM was busy.
    rechecks: u32,
}

impl Modem {
    /// Sends a PIN typed by a person to the SIM. Refused, with the reason, unless the
    /// SIM asks for its PIN and no other PIN is being checked; the result follows as
    /// [`ModemEvent::SimPin`].
    pub fn enter_sim_pin(&mut self, now: Instant, pin: &Pin) -> Result<(), String> {
        if self.manual_pin.is_some() {
            return Err("a PIN entered before is still being checked: wait for its result".into());
        }
        if self.health.recovering() {
            return Err("the modem is being reset: wait until it answers again".into());
        }
        if let Some(why) = self.sim.manual_refusal() {
            return Err(why);
        }
        self.manual_pin = Some(ManualPin::default());
        self.cpin_retry_at = None;
        self.push(&pin.command(), Purpose::ManualPin, self.timing.command);
        self.pump(now);
        Ok(())
    }

    /// Whether a PIN typed by a person is being checked.
    pub fn sim_pin_pending(&self) -> bool {
        self.manual_pin.is_some()
    }

    /// The answer to `AT+CPIN="<pin>"`.
    pub(super) fn on_manual_pin(&mut self, result: Option<&Final>) {
        match sim_card::judge_pin(result) {
            PinVerdict::Accepted => {
                tracing::info!("modem: the SIM accepted the PIN entered on the page");
                self.status.sim_pin_attempts = None;
                self.finish_manual(PinEntryResult::Accepted);
                self.resume_init();
            }
            PinVerdict::Wrong { puk } => {
                tracing::warn!("modem: the SIM rejected the PIN entered on the page");
                self.set_verdict(PinEntryResult::Rejected {
                    attempts_left: puk.then_some(0),
                    puk_required: puk,
                });
                self.push(
                    sim_card::attempts_query(self.dialect),
                    Purpose::PinAttempts,
                    self.timing.command,
                );
                self.push("AT+CPIN?", Purpose::PinRecheck, self.timing.command);
            }
            PinVerdict::NotJudged(reason) => {
                tracing::warn!("modem: no verdict on the PIN entered on the page: {reason}");
                self.set_verdict(PinEntryResult::NotJudged { reason });
                self.push("AT+CPIN?", Purpose::PinRecheck, self.timing.command);
            }
        }
    }

    /// The answer to the attempts query (a modem that does not know it answers
    /// `ERROR`: the attempts stay unknown).
    pub(super) fn on_pin_attempts(&mut self, ok: bool, lines: &[String]) {
        let left = if ok {
            sim_card::parse_attempts(lines)
        } else {
            None
        };
        if left.is_some() {
            self.status.sim_pin_attempts = left;
        }
        if let Some(PinEntryResult::Rejected { attempts_left, .. }) =
            self.manual_pin.as_mut().and_then(|m| m.verdict.as_mut())
        {
            *attempts_left = left.or(*attempts_left);
        }
    }

    /// The answer to `AT+CPIN?` after a PIN that was refused or not judged.
    pub(super) fn on_pin_recheck(
        &mut self,
        now: Instant,
        lines: &[String],
        result: Option<&Final>,
    ) {
        let state = sim_card::state_of(lines, result);
        match state {
            SimState::Busy => {
                let again = self.manual_pin.as_mut().is_some_and(|m| {
                    m.rechecks += 1;
                    m.rechecks <= MAX_RECHECKS
                });
                if again {
                    self.cpin_retry_at = Some(now + self.timing.sim_retry);
                    return;
                }
                self.sim.set_state(state);
            }
            // it went through after all (a late answer): go on as after an accepted PIN
            SimState::Ready => {
                self.status.sim_pin_attempts = None;
                self.finish_manual(PinEntryResult::Accepted);
                self.sim.set_state(SimState::Ready);
                self.init_stopped = false;
                self.on_sim_step(now, SimStep::Continue);
                return;
            }
            SimState::PukRequired => {
                self.status.sim_pin_attempts = Some(0);
                self.set_verdict(PinEntryResult::Rejected {
                    attempts_left: Some(0),
                    puk_required: true,
                });
                self.sim.set_state(state);
            }
            // a plain ERROR or no answer: the state stays what it was
            SimState::Unknown => {}
            other => self.sim.set_state(other),
        }
        self.status.sim = self.sim.state.map(SimState::as_str);
        let verdict = self
            .manual_pin
            .as_ref()
            .and_then(|m| m.verdict.clone())
            .unwrap_or(PinEntryResult::NotJudged {
                reason: "the SIM did not answer".into(),
            });
        self.finish_manual(verdict);
    }

    /// A step of the PIN entry was lost (modem reset, port gone): the verdict so far
    /// is reported.
    pub(super) fn manual_pin_lost(&mut self, why: &str) {
        if let Some(m) = self.manual_pin.take() {
            let r = m.verdict.unwrap_or_else(|| PinEntryResult::NotJudged {
                reason: why.to_string(),
            });
            self.events.push_back(ModemEvent::SimPin(r));
        }
    }

    fn set_verdict(&mut self, r: PinEntryResult) {
        if let Some(m) = self.manual_pin.as_mut() {
            m.verdict = Some(r);
        }
    }

    fn finish_manual(&mut self, r: PinEntryResult) {
        self.manual_pin = None;
        self.events.push_back(ModemEvent::SimPin(r));
    }

    /// After an accepted PIN: the SIM state is asked again and initialisation goes
    /// on from there (a busy SIM is asked again every `sim_retry`).
    fn resume_init(&mut self) {
        self.init_stopped = false;
        self.sim.manual_accepted();
        self.push("AT+CPIN?", Purpose::Cpin, self.timing.command);
    }
}
