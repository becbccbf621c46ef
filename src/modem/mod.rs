//! The GSM/LTE modem state machine over the AT codec (sans-IO).
//!
//! [`Modem`] takes bytes read from the AT port and the current time, and gives back
//! bytes to write and [`ModemEvent`]s. One command is in flight at a time; unsolicited
//! result codes are classified by `crate::at` and never mistaken for responses. The
//! serial I/O lives in [`serial`]; nothing here reads a clock or touches a device.
//!
//! Implemented now (generic 3GPP 27.007 dialect): init, registration and signal
//! polling, outbound voice calls with progress from `AT+CLCC` polling and final result
//! codes, hang-up, incoming-call detection (`RING`/`+CRING`/`+CLIP`), modem reboot
//! (`RDY`) handling and command timeouts. SMS, dialects and recovery by power key are
//! later work.

pub mod serial;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::at::{self, Class, ClccRow, Final, LineCodec, Token, Urc};

/// Identifies an outbound call leg.
pub type LegId = u32;

/// How an outbound leg ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEnd {
    /// The far end was busy.
    Busy,
    /// The network gave up ringing.
    NoAnswer,
    /// The call dropped or the far end hung up (`NO CARRIER`).
    NoCarrier,
    /// The modem refused or failed the dial.
    Error(String),
}

/// Progress of an outbound leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegState {
    /// The far end rings.
    Alerting,
    /// The far end answered.
    Active,
    /// The leg is over.
    Ended(LegEnd),
}

/// What the modem reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemEvent {
    /// Initialisation finished; calls can be placed.
    Ready,
    /// Progress of an outbound leg.
    Leg {
        /// The leg.
        leg: LegId,
        /// Its new state.
        state: LegState,
    },
    /// A call is coming in on the SIM's number.
    Incoming {
        /// Caller ID (E.164 with `+` when the network says international).
        caller_id: Option<String>,
    },
    /// Something went wrong that an operator should see (logged, shown on status).
    Fault(String),
}

/// Registration, signal and operator as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ModemStatus {
    /// Initialisation finished.
    pub ready: bool,
    /// `home`, `roaming`, `searching`, `denied`, `not_registered`, `unknown`.
    pub registration: Option<&'static str>,
    /// Signal in dBm.
    pub signal_dbm: Option<i32>,
    /// Operator name.
    pub operator: Option<String>,
    /// Consecutive command timeouts.
    pub timeouts: u32,
}

fn registration_name(stat: u8) -> &'static str {
    match stat {
        0 => "not_registered",
        1 => "home",
        2 => "searching",
        3 => "denied",
        5 => "roaming",
        _ => "unknown",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Init { last: bool },
    Dial(LegId),
    Hangup,
    Clcc,
    Csq,
    Creg,
    Cops,
    Other,
}

#[derive(Debug, Clone)]
struct Cmd {
    text: String,
    purpose: Purpose,
    timeout: Duration,
}

#[derive(Debug)]
struct InFlight {
    cmd: Cmd,
    deadline: Instant,
    lines: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `ATD` sent, not confirmed yet.
    Dialing,
    /// Confirmed; not yet seen alerting.
    Placed,
    Alerting,
    Active,
}

#[derive(Debug, Clone, Copy)]
struct Leg {
    id: LegId,
    phase: Phase,
    seen_in_clcc: bool,
    /// CLCC polls since dial without seeing the call.
    missing_polls: u32,
    next_poll: Instant,
}

/// Timing knobs of the driver.
#[derive(Debug, Clone, Copy)]
pub struct ModemTiming {
    /// Plain command timeout.
    pub command: Duration,
    /// `ATD` timeout.
    pub dial: Duration,
    /// `AT+CLCC` poll interval while a leg is up.
    pub clcc_poll: Duration,
    /// Registration / signal poll interval.
    pub status_poll: Duration,
}

impl Default for ModemTiming {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(5),
            dial: Duration::from_secs(15),
            clcc_poll: Duration::from_millis(500),
            status_poll: Duration::from_secs(30),
        }
    }
}

const INIT: &[&str] = &[
    "AT",
    "ATE0",
    "AT+CMEE=2",
    "AT+CLIP=1",
    "AT+CRC=1",
    "AT+CREG=2",
    "AT+COPS=3,0",
];

/// The modem driver core.
pub struct Modem {
    codec: LineCodec,
    timing: ModemTiming,
    queue: VecDeque<Cmd>,
    inflight: Option<InFlight>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<ModemEvent>,
    status: ModemStatus,
    leg: Option<Leg>,
    next_leg: LegId,
    next_status_poll: Option<Instant>,
    ringing: bool,
}

impl Modem {
    /// A driver that starts initialising the modem at `now`.
    pub fn new(now: Instant, timing: ModemTiming) -> Self {
        let mut m = Self {
            codec: LineCodec::new(),
            timing,
            queue: VecDeque::new(),
            inflight: None,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            status: ModemStatus::default(),
            leg: None,
            next_leg: 1,
            next_status_poll: None,
            ringing: false,
        };
        m.queue_init();
        m.pump(now);
        m
    }

    fn queue_init(&mut self) {
        self.queue.clear();
        for (i, c) in INIT.iter().enumerate() {
            self.push(c, Purpose::Init { last: false }, self.timing.command);
            if i == INIT.len() - 1 {
                self.queue_status();
                self.push("AT+CSQ", Purpose::Init { last: true }, self.timing.command);
            }
        }
    }

    fn queue_status(&mut self) {
        self.push("AT+CREG?", Purpose::Creg, self.timing.command);
        self.push("AT+COPS?", Purpose::Cops, self.timing.command);
        self.push("AT+CSQ", Purpose::Csq, self.timing.command);
    }

    fn push(&mut self, text: &str, purpose: Purpose, timeout: Duration) {
        self.queue.push_back(Cmd {
            text: text.to_string(),
            purpose,
            timeout,
        });
    }

    /// Current status.
    pub fn status(&self) -> &ModemStatus {
        &self.status
    }

    /// Whether an outbound leg is up.
    pub fn has_leg(&self) -> bool {
        self.leg.is_some()
    }

    /// Places a voice call. Only one outbound leg at a time: a second dial replaces
    /// (hangs up) the first.
    pub fn dial(&mut self, now: Instant, number: &str) -> LegId {
        if let Some(old) = self.leg.map(|l| l.id) {
            self.hangup(now, old);
        }
        let id = self.next_leg;
        self.next_leg = self.next_leg.wrapping_add(1).max(1);
        let clean: String = number
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        self.push(&format!("ATD{clean};"), Purpose::Dial(id), self.timing.dial);
        self.leg = Some(Leg {
            id,
            phase: Phase::Dialing,
            seen_in_clcc: false,
            missing_polls: 0,
            next_poll: now + self.timing.clcc_poll,
        });
        self.pump(now);
        id
    }

    /// Hangs up (or cancels) a leg. No further events come for it.
    pub fn hangup(&mut self, now: Instant, leg: LegId) {
        if self.leg.is_some_and(|l| l.id == leg) {
            self.leg = None;
            let was_queued = self.queue.iter().any(|c| c.purpose == Purpose::Dial(leg));
            self.queue
                .retain(|c| c.purpose != Purpose::Dial(leg) && c.purpose != Purpose::Clcc);
            if !was_queued {
                self.push("AT+CHUP", Purpose::Hangup, self.timing.command);
            }
        }
        self.pump(now);
    }

    /// Feeds bytes read from the AT port.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.codec.push(bytes);
        while let Some(tok) = self.codec.next_token() {
            match tok {
                Token::Line(line) => self.on_line(now, &line),
                Token::Prompt => tracing::debug!("modem: unexpected SMS prompt"),
                Token::Overlong => tracing::warn!("modem: discarded an overlong line"),
            }
        }
        self.pump(now);
    }

    fn on_line(&mut self, now: Instant, line: &str) {
        let in_flight = self.inflight.as_ref().map(|f| f.cmd.text.as_str());
        match at::classify(line, in_flight) {
            Class::Echo => {}
            Class::Final(f) => {
                if let Some(done) = self.inflight.take() {
                    self.status.timeouts = 0;
                    self.complete(now, done.cmd, Ok(f), done.lines);
                }
            }
            Class::Response(l) => {
                if let Some(f) = self.inflight.as_mut() {
                    f.lines.push(l);
                }
            }
            Class::Urc(u) => self.on_urc(now, u),
            Class::Unknown(l) => tracing::debug!(line = %l, "modem: unrecognised line ignored"),
        }
    }

    fn complete(&mut self, now: Instant, cmd: Cmd, result: Result<Final, ()>, lines: Vec<String>) {
        let ok = matches!(&result, Ok(f) if f.is_success());
        match cmd.purpose {
            Purpose::Init { last } => {
                if !ok {
                    tracing::warn!(command = %cmd.text, ?result, "modem: init command failed; continuing");
                }
                if last {
                    self.status.ready = true;
                    self.next_status_poll = Some(now + self.timing.status_poll);
                    self.events.push_back(ModemEvent::Ready);
                }
                self.apply_status_lines(&lines);
            }
            Purpose::Dial(id) => {
                let Some(leg) = self.leg.as_mut().filter(|l| l.id == id) else {
                    return;
                };
                if ok {
                    leg.phase = Phase::Placed;
                } else {
                    let end = match result {
                        Ok(Final::Busy) => LegEnd::Busy,
                        Ok(Final::NoAnswer) => LegEnd::NoAnswer,
                        Ok(Final::NoCarrier) => LegEnd::NoCarrier,
                        Ok(other) => LegEnd::Error(format!("{other:?}")),
                        Err(()) => LegEnd::Error("dial command timed out".into()),
                    };
                    self.end_leg(end);
                }
            }
            Purpose::Clcc => {
                if ok {
                    let rows: Vec<ClccRow> =
                        lines.iter().filter_map(|l| at::parse_clcc(l)).collect();
                    self.apply_clcc(&rows);
                }
            }
            Purpose::Csq | Purpose::Creg | Purpose::Cops => self.apply_status_lines(&lines),
            Purpose::Hangup | Purpose::Other => {
                if !ok {
                    tracing::warn!(command = %cmd.text, ?result, "modem: command failed");
                }
            }
        }
    }

    fn apply_status_lines(&mut self, lines: &[String]) {
        for l in lines {
            if let Some((rssi, _)) = at::parse_csq(l) {
                self.status.signal_dbm = at::rssi_to_dbm(rssi);
            } else if l.starts_with("+CREG:") {
                if let Some(r) = at::parse_creg(l, true) {
                    self.status.registration = Some(registration_name(r.stat));
                }
            } else if let Some(cops) = at::parse_cops(l) {
                self.status.operator = cops.operator;
            }
        }
    }

    fn apply_clcc(&mut self, rows: &[ClccRow]) {
        let Some(leg) = self.leg.as_mut() else {
            return;
        };
        let mo = rows.iter().find(|r| r.dir == 0 && r.mode == 0);
        match mo {
            Some(row) => {
                leg.seen_in_clcc = true;
                let id = leg.id;
                match row.stat {
                    3 if matches!(leg.phase, Phase::Placed | Phase::Dialing) => {
                        leg.phase = Phase::Alerting;
                        self.events.push_back(ModemEvent::Leg {
                            leg: id,
                            state: LegState::Alerting,
                        });
                    }
                    0 if leg.phase != Phase::Active => {
                        leg.phase = Phase::Active;
                        self.events.push_back(ModemEvent::Leg {
                            leg: id,
                            state: LegState::Active,
                        });
                    }
                    6 | 7 => self.end_leg(LegEnd::NoCarrier),
                    _ => {}
                }
            }
            None if leg.phase != Phase::Dialing => {
                leg.missing_polls += 1;
                // The call vanished from the list: it ended without a result code.
                if leg.seen_in_clcc || leg.missing_polls >= 4 {
                    self.end_leg(LegEnd::NoCarrier);
                }
            }
            None => {}
        }
    }

    fn end_leg(&mut self, end: LegEnd) {
        if let Some(leg) = self.leg.take() {
            self.queue.retain(|c| c.purpose != Purpose::Clcc);
            self.events.push_back(ModemEvent::Leg {
                leg: leg.id,
                state: LegState::Ended(end),
            });
        }
    }

    fn on_urc(&mut self, now: Instant, urc: Urc) {
        match urc {
            Urc::NoCarrier => {
                self.ringing = false;
                self.end_leg(LegEnd::NoCarrier);
            }
            Urc::Busy => self.end_leg(LegEnd::Busy),
            Urc::NoAnswer => self.end_leg(LegEnd::NoAnswer),
            Urc::Clcc(row) | Urc::QindCcinfo(row) => self.apply_clcc(&[row]),
            Urc::Ring | Urc::CRing(_) => {
                if !self.ringing {
                    self.ringing = true;
                }
            }
            Urc::Clip { number, .. } => {
                if self.ringing {
                    self.ringing = false;
                    let caller_id = (!number.is_empty()).then_some(number);
                    self.events.push_back(ModemEvent::Incoming { caller_id });
                }
            }
            Urc::Creg { stat, .. } => self.status.registration = Some(registration_name(stat)),
            Urc::Rdy => {
                tracing::warn!("modem: restarted (RDY); initialising again");
                self.status.ready = false;
                self.end_leg(LegEnd::Error("modem restarted".into()));
                self.inflight = None;
                self.queue_init();
                self.events.push_back(ModemEvent::Fault(
                    "modem restarted; initialising again".into(),
                ));
            }
            other => tracing::debug!(urc = ?other, "modem: URC not handled yet"),
        }
        let _ = now;
    }

    /// The next instant at which [`Modem::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.inflight.as_ref().map(|f| f.deadline);
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        if self.inflight.is_none() {
            consider(
                self.leg
                    .filter(|l| l.phase != Phase::Dialing)
                    .map(|l| l.next_poll),
            );
            // Status polls wait while a leg is up (see handle_timeout).
            consider(self.next_status_poll.filter(|_| self.leg.is_none()));
        }
        t
    }

    /// Fires timers due at `now`: command timeouts and polls.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(f) = &self.inflight {
            if now >= f.deadline {
                let Some(f) = self.inflight.take() else {
                    return;
                };
                self.status.timeouts += 1;
                tracing::warn!(command = %f.cmd.text, "modem: command timed out");
                if self.status.timeouts == 3 {
                    self.events.push_back(ModemEvent::Fault(
                        "the modem does not answer (3 commands timed out)".into(),
                    ));
                }
                self.complete(now, f.cmd, Err(()), f.lines);
            }
        }
        if self.inflight.is_none() && self.queue.is_empty() {
            if let Some(leg) = self.leg.as_mut() {
                if leg.phase != Phase::Dialing && now >= leg.next_poll {
                    leg.next_poll = now + self.timing.clcc_poll;
                    self.push("AT+CLCC", Purpose::Clcc, self.timing.command);
                }
            }
            if self.next_status_poll.is_some_and(|t| now >= t) && self.leg.is_none() {
                self.next_status_poll = Some(now + self.timing.status_poll);
                self.queue_status();
            }
        }
        self.pump(now);
    }

    /// Queues an arbitrary command (bring-up tools); its result is only logged.
    pub fn send_raw(&mut self, now: Instant, text: &str) {
        self.push(text, Purpose::Other, self.timing.command);
        self.pump(now);
    }

    fn pump(&mut self, now: Instant) {
        if self.inflight.is_none() {
            if let Some(cmd) = self.queue.pop_front() {
                self.tx.push_back(at::encode_command(&cmd.text));
                self.inflight = Some(InFlight {
                    deadline: now + cmd.timeout,
                    cmd,
                    lines: Vec::new(),
                });
            }
        }
    }

    /// Bytes to write to the AT port.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ModemEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every command in flight with `OK` (plus canned lines) until init is done.
    fn drive_init(m: &mut Modem, t: Instant) {
        for _ in 0..20 {
            let Some(tx) = m.poll_transmit() else { break };
            let cmd = String::from_utf8_lossy(&tx).trim().to_string();
            let reply = match cmd.as_str() {
                "AT+CSQ" => "\r\n+CSQ: 20,99\r\n\r\nOK\r\n".to_string(),
                "AT+CREG?" => "\r\n+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7\r\n\r\nOK\r\n".to_string(),
                "AT+COPS?" => "\r\n+COPS: 0,0,\"Sim Telecom\",7\r\n\r\nOK\r\n".to_string(),
                // echo on after power-up: the modem repeats the first command
                "AT" => "AT\r\r\nOK\r\n".to_string(),
                _ => "\r\nOK\r\n".to_string(),
            };
            m.handle_input(t, reply.as_bytes());
        }
    }

    #[test]
    fn init_reports_ready_and_status() {
        let t = Instant::now();
        let mut m = Modem::new(t, ModemTiming::default());
        drive_init(&mut m, t);
        assert_eq!(m.poll_event(), Some(ModemEvent::Ready));
        assert_eq!(m.status().signal_dbm, Some(-73));
        assert_eq!(m.status().registration, Some("home"));
        assert_eq!(m.status().operator.as_deref(), Some("Sim Telecom"));
    }

    #[test]
    fn dial_progress_via_clcc_and_urc_during_poll() {
        let t = Instant::now();
        let mut m = Modem::new(t, ModemTiming::default());
        drive_init(&mut m, t);
        m.poll_event();
        let leg = m.dial(t, "+491701111111");
        assert_eq!(m.poll_transmit().unwrap(), b"ATD+491701111111;\r");
        m.handle_input(t, b"\r\nOK\r\n");
        let t1 = t + Duration::from_millis(600);
        m.handle_timeout(t1);
        assert_eq!(m.poll_transmit().unwrap(), b"AT+CLCC\r");
        // a RING URC lands in the middle of the CLCC response: it must not be lost or
        // taken as part of the response
        m.handle_input(
            t1,
            b"\r\n+CLCC: 1,0,3,0,0,\"+491701111111\",145\r\n\r\nRING\r\n\r\nOK\r\n",
        );
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::Leg {
                leg,
                state: LegState::Alerting
            })
        );
        m.handle_input(t1, b"\r\n+CLIP: \"+15550001111\",145,\"\",,\"\",0\r\n");
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::Incoming {
                caller_id: Some("+15550001111".into())
            })
        );
        let t2 = t1 + Duration::from_millis(600);
        m.handle_timeout(t2);
        m.poll_transmit();
        m.handle_input(
            t2,
            b"\r\n+CLCC: 1,0,0,0,0,\"+491701111111\",145\r\n\r\nOK\r\n",
        );
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::Leg {
                leg,
                state: LegState::Active
            })
        );
        m.handle_input(t2, b"\r\nNO CARRIER\r\n");
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::Leg {
                leg,
                state: LegState::Ended(LegEnd::NoCarrier)
            })
        );
    }

    #[test]
    fn busy_as_final_of_atd_and_timeouts() {
        let t = Instant::now();
        let mut m = Modem::new(t, ModemTiming::default());
        drive_init(&mut m, t);
        m.poll_event();
        let leg = m.dial(t, "+491701111111");
        m.poll_transmit();
        m.handle_input(t, b"\r\nBUSY\r\n");
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::Leg {
                leg,
                state: LegState::Ended(LegEnd::Busy)
            })
        );
        // a command that never gets an answer times out; three make a fault
        for _ in 0..3 {
            m.send_raw(t, "AT+CSQ");
        }
        for _ in 0..3 {
            m.poll_transmit();
            let due = m.poll_timeout().unwrap();
            m.handle_timeout(due);
        }
        assert!(matches!(m.poll_event(), Some(ModemEvent::Fault(_))));
    }

    #[test]
    fn hangup_before_dial_is_sent_cancels_quietly() {
        let t = Instant::now();
        let mut m = Modem::new(t, ModemTiming::default());
        // init still in flight; the dial is queued behind it
        let leg = m.dial(t, "+491701111111");
        m.hangup(t, leg);
        drive_init(&mut m, t);
        assert_eq!(m.poll_event(), Some(ModemEvent::Ready));
        assert_eq!(m.poll_event(), None);
    }
}
