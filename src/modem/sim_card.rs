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
        self.decide(state_of(lines, result))
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
                    None => SimStep::Stop("the SIM asks for its PIN and none is configured: type it on the web page (System, SIM PIN), or set pin = \"<PIN>\" in the board profile's [modem] section (switchboard modem: --pin), or disable the PIN lock in a phone".into()),
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

/// The SIM state an answer to `AT+CPIN?` reports (`None` result: timed out).
pub fn state_of(lines: &[String], result: Option<&Final>) -> SimState {
    let from_line = lines.iter().find_map(|l| {
        let t = l.trim();
        t.get(..6)
            .filter(|p| p.eq_ignore_ascii_case("+CPIN:"))
            .and_then(|_| t.get(6..))
            .map(SimState::from_cpin)
    });
    match (from_line, result) {
        // some modems omit the OK after +CPIN: (python-gsmmodem #19)
        (Some(s), _) => s,
        (None, Some(Final::CmeError(e))) => SimState::from_cme(e.code).unwrap_or(SimState::Unknown),
        (None, _) => SimState::Unknown,
    }
}

// ---- a PIN typed by a person (the web page) ---------------------------------------

/// A SIM PIN typed by a person: 4 to 8 digits. Its `Debug` never shows the digits, so
/// a command or event that carries it can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// Checks the text: 4 to 8 digits, nothing else (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if !(4..=8).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "a SIM PIN is 4 to 8 digits (0-9); this one has {} characters{}: type the PIN of the SIM card (not the PUK)",
                t.chars().count(),
                if t.bytes().all(|b| b.is_ascii_digit()) {
                    ""
                } else {
                    " and not only digits"
                }
            ));
        }
        Ok(Self(t.to_string()))
    }

    /// The command that enters it.
    pub(crate) fn command(&self) -> String {
        format!("AT+CPIN=\"{}\"", self.0)
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(****)")
    }
}

/// `AT+CPIN="1234"` → `AT+CPIN="****"`: a command as it may be logged.
pub fn redact(command: &str) -> std::borrow::Cow<'_, str> {
    match command.get(..8) {
        Some(p) if p.eq_ignore_ascii_case("AT+CPIN=") => "AT+CPIN=\"****\"".into(),
        _ => command.into(),
    }
}

/// What became of a PIN typed by a person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PinEntryResult {
    /// The SIM took it; initialisation goes on (registration follows).
    Accepted,
    /// The SIM refused it (it is never sent again by the service).
    Rejected {
        /// PIN attempts left, when the modem tells (`AT+QPINC`, `AT+SPIC`,
        /// `AT+CPINR`).
        attempts_left: Option<u8>,
        /// The SIM is blocked now and needs its PUK.
        puk_required: bool,
    },
    /// The modem did not judge it (timeout, SIM busy, a reset): the SIM state was
    /// asked again.
    NotJudged {
        /// Why, in words.
        reason: String,
    },
}

impl PinEntryResult {
    /// In words, for the log and the page (never the PIN itself).
    pub fn describe(&self) -> String {
        match self {
            PinEntryResult::Accepted => "SIM PIN accepted; the modem initialises".into(),
            PinEntryResult::Rejected {
                puk_required: true, ..
            } => "SIM PIN rejected: the SIM is blocked now and needs its PUK (unblock it in a phone)".into(),
            PinEntryResult::Rejected {
                attempts_left: Some(n),
                ..
            } => format!(
                "SIM PIN rejected: {n} attempt{} left before the SIM is blocked",
                if *n == 1 { "" } else { "s" }
            ),
            PinEntryResult::Rejected { .. } => {
                "SIM PIN rejected (the modem does not tell how many attempts are left; 3 wrong PINs block the SIM)".into()
            }
            PinEntryResult::NotJudged { reason } => format!("SIM PIN not judged: {reason}"),
        }
    }
}

/// The verdict of the modem on `AT+CPIN="<pin>"` (`None`: timed out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinVerdict {
    /// `OK`.
    Accepted,
    /// A wrong PIN (`+CME ERROR: 16`, or any other refusal); `puk` when the modem
    /// says the SIM now needs its PUK (`+CME ERROR: 12`).
    Wrong {
        /// `+CME ERROR: 12`.
        puk: bool,
    },
    /// No verdict: timed out or the SIM was busy.
    NotJudged(String),
}

/// Judges the final result of a PIN entered by a person.
pub fn judge_pin(result: Option<&Final>) -> PinVerdict {
    match result {
        Some(f) if f.is_success() => PinVerdict::Accepted,
        None => PinVerdict::NotJudged("the modem did not answer the PIN entry in time".into()),
        Some(Final::CmeError(e)) if e.is_sim_busy() => {
            PinVerdict::NotJudged("the SIM was busy (+CME ERROR: 14)".into())
        }
        Some(Final::CmeError(e)) if e.code == Some(12) => PinVerdict::Wrong { puk: true },
        Some(_) => PinVerdict::Wrong { puk: false },
    }
}

/// The command that asks how many PIN attempts are left: Quectel `AT+QPINC="SC"`,
/// SIMCom `AT+SPIC`, otherwise 3GPP 27.007 `AT+CPINR="SIM PIN"`.
pub fn attempts_query(dialect: super::Dialect) -> &'static str {
    match dialect {
        super::Dialect::Quectel => "AT+QPINC=\"SC\"",
        super::Dialect::Simcom => "AT+SPIC",
        super::Dialect::Generic => "AT+CPINR=\"SIM PIN\"",
    }
}

/// PIN attempts left from the answer to [`attempts_query`]: `+QPINC: "SC",2,10`,
/// `+SPIC: 2,10,3,10`, `+CPINR: "SIM PIN",2,3`.
pub fn parse_attempts(lines: &[String]) -> Option<u8> {
    lines.iter().find_map(|l| {
        let (head, rest) = l.trim().split_once(':')?;
        let fields: Vec<&str> = rest
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        let n = match head.trim().to_ascii_uppercase().as_str() {
            "+QPINC" if fields.first()?.eq_ignore_ascii_case("SC") => fields.get(1)?,
            "+SPIC" => fields.first()?,
            "+CPINR" if fields.first()?.eq_ignore_ascii_case("SIM PIN") => fields.get(1)?,
            _ => return None,
        };
        n.parse().ok()
    })
}

impl SimCard {
    /// Why a PIN typed by a person cannot go to the SIM now, or `None` when the SIM
    /// asks for its PIN.
    pub fn manual_refusal(&self) -> Option<String> {
        Some(match self.state {
            Some(SimState::PinRequired | SimState::PinRejected) => return None,
            Some(SimState::Ready) => "the SIM does not ask for a PIN (it is ready); a PIN sent now would count as a wrong attempt".into(),
            Some(SimState::PukRequired) => "the SIM is blocked and asks for its PUK (too many wrong PINs): unblock it in a phone with the PUK from the SIM's card holder, then restart; the service never sends a PUK".into(),
            Some(SimState::NotInserted) => "no SIM card is inserted: power the box off, insert the SIM, power on".into(),
            Some(SimState::Pin2Required | SimState::Puk2Required | SimState::DeviceLocked | SimState::Failure) => {
                "the SIM is not asking for its PIN but is locked otherwise (see the modem fault): settle it in a phone".into()
            }
            Some(SimState::Busy) | Some(SimState::Unknown) | None => {
                "the SIM's state is not known yet (the modem is starting or the SIM is busy): wait a few seconds and look again".into()
            }
        })
    }

    /// The SIM took a PIN typed by a person: its state is asked again (normally
    /// `READY`), and initialisation goes on from there.
    pub fn manual_accepted(&mut self) {
        self.state = None;
        self.busy_retries = 0;
    }

    /// Sets the state from an answer to `AT+CPIN?` without deciding anything (after a
    /// PIN typed by a person).
    pub fn set_state(&mut self, state: SimState) {
        self.state = Some(state);
    }
}

const REJECTED: &str = "the SIM rejected the configured PIN; it is not sent again because every wrong PIN uses up one of the SIM's 3 attempts: correct pin in the board profile's [modem] section (check the attempts left in a phone), then restart the service, or type the right PIN on the web page (System, SIM PIN)";

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
    fn a_typed_pin_is_checked_hidden_and_judged() {
        let p = Pin::parse(" 0815 ").unwrap();
        assert_eq!(format!("{p:?}"), "Pin(****)");
        assert_eq!(p.command(), "AT+CPIN=\"0815\"");
        assert_eq!(redact(&p.command()), "AT+CPIN=\"****\"");
        assert_eq!(redact("AT+CPIN?"), "AT+CPIN?");
        for bad in ["123", "123456789", "12a4", "", "12 34"] {
            assert!(
                Pin::parse(bad).unwrap_err().contains("4 to 8 digits"),
                "{bad}"
            );
        }
        assert_eq!(judge_pin(Some(&Final::Ok)), PinVerdict::Accepted);
        let cme = |c: &str| Final::CmeError(CmeError::from_report(c));
        assert_eq!(
            judge_pin(Some(&cme("16"))),
            PinVerdict::Wrong { puk: false }
        );
        assert_eq!(
            judge_pin(Some(&Final::Error)),
            PinVerdict::Wrong { puk: false }
        );
        assert_eq!(judge_pin(Some(&cme("12"))), PinVerdict::Wrong { puk: true });
        assert!(matches!(
            judge_pin(Some(&cme("14"))),
            PinVerdict::NotJudged(_)
        ));
        assert!(matches!(judge_pin(None), PinVerdict::NotJudged(_)));
    }

    #[test]
    fn attempts_left_in_every_dialect() {
        let l = |s: &str| vec![s.to_string()];
        assert_eq!(parse_attempts(&l("+QPINC: \"SC\",2,10")), Some(2));
        assert_eq!(parse_attempts(&l("+QPINC: \"P2\",3,10")), None);
        assert_eq!(parse_attempts(&l("+SPIC: 1,10,3,10")), Some(1));
        assert_eq!(parse_attempts(&l("+CPINR: \"SIM PIN\",3,3")), Some(3));
        assert_eq!(parse_attempts(&l("+CPINR: SIM PIN,0,3")), Some(0));
        assert_eq!(parse_attempts(&l("OK")), None);
    }

    #[test]
    fn a_typed_pin_only_while_the_sim_asks() {
        let mut s = SimCard::new(None);
        assert!(s.manual_refusal().unwrap().contains("not known yet"));
        s.on_query(&cpin("SIM PIN"), Some(&Final::Ok));
        assert_eq!(s.manual_refusal(), None);
        s.set_state(SimState::PukRequired);
        assert!(s.manual_refusal().unwrap().contains("PUK"));
        s.set_state(SimState::Ready);
        assert!(s.manual_refusal().unwrap().contains("does not ask"));
        // a configured PIN that was rejected: a person may still type the right one
        let mut s = SimCard::new(Some("1111".into()));
        s.on_query(&cpin("SIM PIN"), Some(&Final::Ok));
        s.on_pin_result(Some(&Final::CmeError(CmeError::from_report("16"))));
        assert_eq!(s.manual_refusal(), None);
        assert_eq!(
            PinEntryResult::Rejected {
                attempts_left: Some(1),
                puk_required: false
            }
            .describe(),
            "SIM PIN rejected: 1 attempt left before the SIM is blocked"
        );
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
