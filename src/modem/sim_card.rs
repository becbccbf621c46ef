//! The SIM during initialisation: `AT+CPIN?`, the PIN from configuration sent at most
//! once, and clear faults for every state the service cannot get past on its own.
//!
//! Rules (3GPP 27.007 §8.3 and the pitfalls in the modem reference):
//! * `READY` → continue; a PIN is **never** sent then (it would count as a wrong
//!   attempt);
//! * `SIM PIN` → the configured PIN is sent once per modem boot; a rejected PIN is
//!   never sent again while the service runs (three wrong PINs block the SIM);
//! * `SIM PUK`, `SIM PIN2`, `SIM PUK2`, `PH-SIM PIN`, no SIM (`+CME ERROR: 10`), SIM
//!   failure → stop with a fault saying what to do;
//! * SIM busy (`+CME ERROR: 14`, normal for ~10 s after boot or PIN entry) → retry.

use crate::at::Final;

/// What the SIM is doing, as last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimState {
    /// `+CPIN: READY`.
    Ready,
    /// `+CPIN: SIM PIN`.
    PinRequired,
    /// `+CPIN: SIM PUK` (blocked after three wrong PINs).
    PukRequired,
    /// `+CPIN: SIM PIN2`.
    Pin2Required,
    /// `+CPIN: SIM PUK2`.
    Puk2Required,
    /// `+CPIN: PH-SIM PIN` and other device/network personalisation locks.
    DeviceLocked,
    /// No SIM (`+CME ERROR: 10`, `+CPIN: NOT INSERTED`).
    NotInserted,
    /// SIM failure / wrong SIM (`+CME ERROR: 13` / `15`).
    Failure,
    /// SIM busy (`+CME ERROR: 14`, `+CPIN: NOT READY`).
    Busy,
    /// The configured PIN was rejected (not sent again).
    PinRejected,
    /// Anything else (the modem answered `ERROR`, or an unknown state).
    Unknown,
}

impl SimState {
    /// The name shown in status and `modem info`.
    pub fn as_str(self) -> &'static str {
        match self {
            SimState::Ready => "ready",
            SimState::PinRequired => "pin_required",
            SimState::PukRequired => "puk_required",
            SimState::Pin2Required => "pin2_required",
            SimState::Puk2Required => "puk2_required",
            SimState::DeviceLocked => "device_locked",
            SimState::NotInserted => "not_inserted",
            SimState::Failure => "failure",
            SimState::Busy => "busy",
            SimState::PinRejected => "pin_rejected",
            SimState::Unknown => "unknown",
        }
    }

    /// Parses the text of a `+CPIN:` line (`READY`, `SIM PIN`, …).
    pub fn from_cpin(text: &str) -> Self {
        let t = text.trim().trim_matches('"').trim().to_ascii_uppercase();
        match t.as_str() {
            "READY" => SimState::Ready,
            "SIM PIN" => SimState::PinRequired,
            "SIM PUK" => SimState::PukRequired,
            "SIM PIN2" => SimState::Pin2Required,
            "SIM PUK2" => SimState::Puk2Required,
            "NOT INSERTED" | "SIM NOT INSERTED" | "NO SIM" => SimState::NotInserted,
            "NOT READY" => SimState::Busy,
            _ if t.starts_with("PH") => SimState::DeviceLocked,
            _ => SimState::Unknown,
        }
    }

    /// The SIM state a `+CME ERROR` stands for, if any.
    pub fn from_cme(code: Option<u16>) -> Option<Self> {
        Some(match code? {
            10 => SimState::NotInserted,
            11 => SimState::PinRequired,
            12 => SimState::PukRequired,
            13 | 15 => SimState::Failure,
            14 => SimState::Busy,
            17 => SimState::Pin2Required,
            18 => SimState::Puk2Required,
            5..=7 | 40..=47 => SimState::DeviceLocked,
            _ => return None,
        })
    }
}

/// What to do after an answer about the SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimStep {
    /// The SIM is usable (or the modem cannot tell): go on with initialisation.
    Continue,
    /// Send `AT+CPIN="<pin>"` (the text is the whole command).
    SendPin(String),
    /// The SIM is busy: ask again in a moment.
    Retry,
    /// Stop initialising; the text is the fault for the operator.
    Stop(String),
}

/// How often a busy SIM is asked again before giving up (every 2 s → 30 s).
pub const MAX_BUSY_RETRIES: u32 = 15;

/// The SIM side of initialisation.
#[derive(Debug, Clone, Default)]
pub struct SimCard {
    pin: Option<String>,
    /// The PIN went out during this modem boot.
    sent_this_boot: bool,
    /// The SIM rejected the PIN once: never again while the service runs.
    rejected: bool,
    busy_retries: u32,
    /// Last known state.
    pub state: Option<SimState>,
}

impl SimCard {
    /// A SIM with this PIN from configuration (if any).
    pub fn new(pin: Option<String>) -> Self {
        Self {
            pin: pin.filter(|p| !p.is_empty()),
            ..Self::default()
        }
    }

    /// The modem (re)booted: the PIN may be sent once more, unless it was rejected.
    pub fn rebooted(&mut self) {
        self.sent_this_boot = false;
        self.busy_retries = 0;
        self.state = None;
    }

    /// The answer to `AT+CPIN?`: its lines and final result (`None`: timed out).
    pub fn on_query(&mut self, lines: &[String], result: Option<&Final>) -> SimStep {
        let from_line = lines.iter().find_map(|l| {
            let t = l.trim();
            t.get(..6)
                .filter(|p| p.eq_ignore_ascii_case("+CPIN:"))
                .and_then(|_| t.get(6..))
                .map(SimState::from_cpin)
        });
        let state = match (from_line, result) {
            // some modems omit the OK after +CPIN: (python-gsmmodem #19)
            (Some(s), _) => s,
            (None, Some(Final::CmeError(e))) => {
                SimState::from_cme(e.code).unwrap_or(SimState::Unknown)
            }
            (None, _) => SimState::Unknown,
        };
        self.decide(state)
    }

    /// A `+CPIN: <state>` URC.
    pub fn on_urc(&mut self, text: &str) {
        self.state = Some(SimState::from_cpin(text));
    }

    fn decide(&mut self, state: SimState) -> SimStep {
        self.state = Some(state);
        match state {
            SimState::Ready => {
                self.busy_retries = 0;
                SimStep::Continue
            }
            // a modem that cannot tell (plain ERROR to AT+CPIN?): carry on and let
            // registration show whether the SIM works
            SimState::Unknown => SimStep::Continue,
            SimState::Busy => {
                self.busy_retries += 1;
                if self.busy_retries > MAX_BUSY_RETRIES {
                    SimStep::Stop("the SIM stayed busy for 30 s (+CME ERROR: 14): reseat the SIM card and restart the modem".into())
                } else {
                    SimStep::Retry
                }
            }
            SimState::PinRequired => {
                if self.rejected {
                    self.state = Some(SimState::PinRejected);
                    return SimStep::Stop(REJECTED.into());
                }
                if self.sent_this_boot {
                    return SimStep::Stop("the SIM still asks for its PIN after the configured PIN was accepted once; not sending it again (wrong PINs block the SIM): check the SIM in a phone, then restart the service".into());
                }
                match &self.pin {
                    None => SimStep::Stop("the SIM asks for its PIN and none is configured: set pin = \"<PIN>\" in the board profile's [modem] section (switchboard modem: --pin), or disable the PIN lock in a phone".into()),
                    Some(pin) => {
                        self.sent_this_boot = true;
                        SimStep::SendPin(format!("AT+CPIN=\"{pin}\""))
                    }
                }
            }
            SimState::PukRequired => SimStep::Stop("the SIM is blocked and asks for its PUK (too many wrong PINs): unblock it in a phone with the PUK from the SIM's card holder, then restart; the service never sends a PUK".into()),
            SimState::Pin2Required | SimState::Puk2Required => SimStep::Stop(format!("the SIM asks for {}, which the service does not handle: settle it in a phone, then restart", if state == SimState::Pin2Required { "PIN2" } else { "PUK2" })),
            SimState::DeviceLocked => SimStep::Stop("the modem is locked to another SIM or network (PH-SIM / personalisation PIN): have it unlocked by the supplier, or use a matching SIM".into()),
            SimState::NotInserted => SimStep::Stop("no SIM card is inserted (+CME ERROR: 10) or it has no contact: power the box off, insert the SIM, power on".into()),
            SimState::Failure => SimStep::Stop("the SIM card failed (+CME ERROR: 13/15): reseat or replace it".into()),
            SimState::PinRejected => SimStep::Stop(REJECTED.into()),
        }
    }

    /// The result of `AT+CPIN="<pin>"`.
    pub fn on_pin_result(&mut self, result: Option<&Final>) -> SimStep {
        match result {
            Some(f) if f.is_success() => SimStep::Continue,
            Some(Final::CmeError(e)) if e.is_sim_busy() => {
                // not judged: ask the state again (never re-send the PIN)
                SimStep::Retry
            }
            None => SimStep::Retry,
            Some(other) => {
                self.rejected = true;
                self.state = Some(SimState::PinRejected);
                SimStep::Stop(format!("{REJECTED} (the modem answered {other:?})"))
            }
        }
    }
}

const REJECTED: &str = "the SIM rejected the configured PIN; it is not sent again because every wrong PIN uses up one of the SIM's 3 attempts: correct pin in the board profile's [modem] section (check the attempts left in a phone), then restart the service";

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;
    use crate::at::CmeError;

    fn cpin(s: &str) -> Vec<String> {
        vec![format!("+CPIN: {s}")]
    }

    #[test]
    fn ready_never_sends_a_pin() {
        let mut s = SimCard::new(Some("1234".into()));
        assert_eq!(
            s.on_query(&cpin("READY"), Some(&Final::Ok)),
            SimStep::Continue
        );
        assert_eq!(s.state, Some(SimState::Ready));
    }

    #[test]
    fn pin_sent_once_and_a_rejection_is_final() {
        let mut s = SimCard::new(Some("1234".into()));
        assert_eq!(
            s.on_query(&cpin("SIM PIN"), Some(&Final::Ok)),
            SimStep::SendPin("AT+CPIN=\"1234\"".into())
        );
        let wrong = Final::CmeError(CmeError::from_report("16"));
        assert!(
            matches!(s.on_pin_result(Some(&wrong)), SimStep::Stop(m) if m.contains("not sent again"))
        );
        assert_eq!(s.state, Some(SimState::PinRejected));
        // after a modem reboot the SIM asks again: still not sent
        s.rebooted();
        assert!(matches!(
            s.on_query(&cpin("SIM PIN"), Some(&Final::Ok)),
            SimStep::Stop(_)
        ));
    }

    #[test]
    fn accepted_pin_then_busy_then_ready() {
        let mut s = SimCard::new(Some("0000".into()));
        assert!(matches!(
            s.on_query(&cpin("SIM PIN"), None),
            SimStep::SendPin(_)
        ));
        assert_eq!(s.on_pin_result(Some(&Final::Ok)), SimStep::Continue);
        let busy = Final::CmeError(CmeError::from_report("SIM busy"));
        assert_eq!(s.on_query(&[], Some(&busy)), SimStep::Retry);
        assert_eq!(
            s.on_query(&cpin("READY"), Some(&Final::Ok)),
            SimStep::Continue
        );
        // asked again in the same boot: no second PIN
        assert!(matches!(
            s.on_query(&cpin("SIM PIN"), Some(&Final::Ok)),
            SimStep::Stop(_)
        ));
        // after a reboot it may go out once more
        s.rebooted();
        assert!(matches!(
            s.on_query(&cpin("SIM PIN"), Some(&Final::Ok)),
            SimStep::SendPin(_)
        ));
    }

    #[test]
    fn locked_states_and_missing_sim_stop_with_advice() {
        for (lines, fin, want) in [
            (cpin("SIM PUK"), Final::Ok, "PUK"),
            (cpin("SIM PIN2"), Final::Ok, "PIN2"),
            (cpin("PH-SIM PIN"), Final::Ok, "locked"),
            (
                vec![],
                Final::CmeError(CmeError::from_report("10")),
                "insert the SIM",
            ),
            (
                vec![],
                Final::CmeError(CmeError::from_report("SIM failure")),
                "reseat",
            ),
        ] {
            let mut s = SimCard::new(Some("1234".into()));
            match s.on_query(&lines, Some(&fin)) {
                SimStep::Stop(m) => assert!(m.contains(want), "{m}"),
                other => panic!("{lines:?} {fin:?}: {other:?}"),
            }
        }
        let mut s = SimCard::new(None);
        assert!(
            matches!(s.on_query(&cpin("SIM PIN"), Some(&Final::Ok)), SimStep::Stop(m) if m.contains("pin = "))
        );
        // plain ERROR: cannot tell, carry on
        let mut s = SimCard::new(None);
        assert_eq!(s.on_query(&[], Some(&Final::Error)), SimStep::Continue);
        assert_eq!(s.state, Some(SimState::Unknown));
    }

    #[test]
    fn busy_gives_up_after_the_retry_budget() {
        let mut s = SimCard::new(None);
        let busy = Final::CmeError(CmeError::from_report("14"));
        for _ in 0..MAX_BUSY_RETRIES {
            assert_eq!(s.on_query(&[], Some(&busy)), SimStep::Retry);
        }
        assert!(matches!(s.on_query(&[], Some(&busy)), SimStep::Stop(_)));
    }
}
