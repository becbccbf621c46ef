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
//! (`RDY`) handling and command timeouts; SMS in PDU mode (see [`sms`] for the codec):
//! `AT+CMGS=<len>` → the `> ` prompt → hex PDU + Ctrl-Z → `+CMGS: <mr>`, one command
//! per part; `+CMTI` → `AT+CMGR` → decode (reassembling concatenated messages) →
//! `AT+CMGD`. Recovery (timeouts → soft reset → power key → back-off, lost ports) is
//! in [`health`]. Dialects are later work.

#[doc(hidden)]
pub mod fuzz;
pub mod health;
pub mod serial;
pub mod sms;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::at::{self, Class, ClccRow, Final, LineCodec, Token, Urc};

/// Identifies an outbound call leg.
pub type LegId = u32;

/// Identifies an outgoing SMS (all of its parts).
pub type SmsId = u32;

/// Identifies a query made with [`Modem::query`].
pub type QueryId = u32;

pub use sms::SmsTimestamp;

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
    /// An SMS was sent (every part acknowledged with `+CMGS`) or failed.
    SmsSent {
        /// The message.
        id: SmsId,
        /// The message references of the parts, or why sending failed.
        result: Result<Vec<u8>, String>,
    },
    /// An SMS came in (concatenated parts already joined).
    SmsReceived {
        /// Originator: E.164 number or alphanumeric sender.
        from: String,
        /// The text.
        text: String,
        /// Service-centre timestamp.
        at: SmsTimestamp,
    },
    /// The answer to a [`Modem::query`].
    Response {
        /// The query.
        id: QueryId,
        /// Whether the final result was a success.
        ok: bool,
        /// Information lines of the response.
        lines: Vec<String>,
        /// The final result (or `timeout`), for messages.
        outcome: String,
    },
    /// Something went wrong that an operator should see (logged, shown on status).
    Fault(String),
    /// The modem is being reset (or restarted by itself, or its port was lost); every
    /// leg in progress has ended and pending SMS/queries have failed.
    Reset {
        /// Why.
        reason: String,
    },
    /// The modem answers again after a reset; it is being initialised (`Ready` follows).
    Recovered,
    /// The driver must pulse the modem's power key (see [`health`]).
    PowerCycle,
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
    /// Access technology of the serving cell (`GSM`, `UTRAN`, `E-UTRAN`, …).
    pub access_technology: Option<&'static str>,
    /// Consecutive command timeouts.
    pub timeouts: u32,
    /// Resets and recovery (see [`health`]).
    pub recovery: health::RecoveryStatus,
}

fn act_name(act: u8) -> &'static str {
    match act {
        0 => "GSM",
        1 => "GSM Compact",
        2 => "UTRAN",
        3 => "GSM/EGPRS",
        4 => "UTRAN/HSDPA",
        5 => "UTRAN/HSUPA",
        6 => "UTRAN/HSPA",
        7 => "E-UTRAN",
        8 => "EC-GSM-IoT",
        9 => "E-UTRAN NB-IoT",
        10 => "E-UTRA/5GCN",
        11 => "NR/5GCN",
        12 => "NG-RAN",
        13 => "E-UTRA-NR",
        _ => "unknown",
    }
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
    Init {
        last: bool,
    },
    Dial(LegId),
    Hangup,
    Clcc,
    Csq,
    Creg,
    Cops,
    SmsSubmit(SmsId),
    SmsRead(u32),
    Query(QueryId),
    Other,
    /// Recovery: the soft reset command and `AT` probes (see [`health`]).
    Reset,
    Probe,
}

#[derive(Debug, Clone)]
struct Cmd {
    text: String,
    purpose: Purpose,
    timeout: Duration,
    /// Written after the `> ` prompt (an SMS PDU with its Ctrl-Z).
    body: Option<Vec<u8>>,
}

#[derive(Debug)]
struct InFlight {
    cmd: Cmd,
    deadline: Instant,
    lines: Vec<String>,
    /// The `> ` prompt came and the body was written.
    prompted: bool,
}

/// An outgoing SMS whose parts are queued or in flight.
#[derive(Debug)]
struct SmsOut {
    remaining: usize,
    references: Vec<u8>,
}

/// Parts of an incoming concatenated SMS seen so far.
#[derive(Debug)]
struct Partial {
    from: String,
    reference: u16,
    total: u8,
    at: SmsTimestamp,
    parts: Vec<(u8, String)>,
}

/// At most this many information lines are kept per response (a babbling modem
/// cannot exhaust memory; the command still times out or completes).
const MAX_RESPONSE_LINES: usize = 1024;

/// At most this many incomplete concatenated messages are kept (oldest dropped).
const MAX_PARTIAL_SMS: usize = 8;

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
    /// `AT+CMGS` (one SMS part) timeout.
    pub sms: Duration,
    /// The recovery ladder.
    pub health: health::HealthTiming,
}

impl Default for ModemTiming {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(5),
            dial: Duration::from_secs(15),
            clcc_poll: Duration::from_millis(500),
            status_poll: Duration::from_secs(30),
            sms: Duration::from_secs(90),
            health: health::HealthTiming::default(),
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
    // SMS in PDU mode; new messages stored and announced with +CMTI
    "AT+CMGF=0",
    "AT+CNMI=2,1,0,0,0",
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
    next_sms: SmsId,
    sms_reference: u8,
    sms_out: HashMap<SmsId, SmsOut>,
    partial: VecDeque<Partial>,
    next_query: QueryId,
    health: health::Health,
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
            next_sms: 1,
            sms_reference: 0,
            sms_out: HashMap::new(),
            partial: VecDeque::new(),
            next_query: 1,
            health: health::Health::new(timing.health),
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
            body: None,
        });
    }

    /// Sends an SMS in PDU mode (GSM 7-bit or UCS2, concatenated when long). Each
    /// part is its own `AT+CMGS`; [`ModemEvent::SmsSent`] reports the outcome once
    /// all parts are acknowledged or one fails (also for a number or text that cannot
    /// be encoded).
    pub fn send_sms(&mut self, now: Instant, number: &str, text: &str) -> SmsId {
        let id = self.next_sms;
        self.next_sms = self.next_sms.wrapping_add(1).max(1);
        self.sms_reference = self.sms_reference.wrapping_add(1);
        match sms::encode_submit(number, text, self.sms_reference) {
            Ok(parts) => {
                self.sms_out.insert(
                    id,
                    SmsOut {
                        remaining: parts.len(),
                        references: Vec::new(),
                    },
                );
                for p in parts {
                    self.queue.push_back(Cmd {
                        text: format!("AT+CMGS={}", p.tpdu_len),
                        purpose: Purpose::SmsSubmit(id),
                        timeout: self.timing.sms,
                        body: Some(at::encode_sms_body(&p.hex)),
                    });
                }
            }
            Err(e) => self.events.push_back(ModemEvent::SmsSent {
                id,
                result: Err(e.to_string()),
            }),
        }
        self.pump(now);
        id
    }

    /// Queues a command whose information lines and result come back as
    /// [`ModemEvent::Response`] (bring-up tools: identities, SIM state, SMS list).
    pub fn query(&mut self, now: Instant, text: &str) -> QueryId {
        let id = self.next_query;
        self.next_query = self.next_query.wrapping_add(1).max(1);
        self.push(text, Purpose::Query(id), self.timing.command);
        self.pump(now);
        id
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
                Token::Prompt => self.on_prompt(),
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
                    self.health.command_answered();
                    self.complete(now, done.cmd, Ok(f), done.lines);
                }
            }
            Class::Response(l) => {
                if let Some(f) = self
                    .inflight
                    .as_mut()
                    .filter(|f| f.lines.len() < MAX_RESPONSE_LINES)
                {
                    f.lines.push(l);
                }
            }
            Class::Urc(u) => self.on_urc(now, u),
            Class::Unknown(l) => tracing::debug!(line = %l, "modem: unrecognised line ignored"),
        }
    }

    fn on_prompt(&mut self) {
        match self.inflight.as_mut() {
            Some(f) if !f.prompted && f.cmd.body.is_some() => {
                f.prompted = true;
                if let Some(body) = f.cmd.body.clone() {
                    self.tx.push_back(body);
                }
            }
            _ => tracing::debug!("modem: unexpected SMS prompt ignored"),
        }
    }

    fn fail_sms(&mut self, id: SmsId, why: String) {
        if self.sms_out.remove(&id).is_some() {
            self.queue.retain(|c| c.purpose != Purpose::SmsSubmit(id));
            self.events.push_back(ModemEvent::SmsSent {
                id,
                result: Err(why),
            });
        }
    }

    fn on_sms_read(&mut self, index: u32, ok: bool, outcome: String, lines: &[String]) {
        if !ok {
            tracing::warn!(index, %outcome, "modem: reading a stored SMS failed");
            return;
        }
        let pdu = lines
            .iter()
            .map(|l| l.trim())
            .find(|l| l.len() >= 2 && l.bytes().all(|b| b.is_ascii_hexdigit()));
        match pdu.map(sms::decode_deliver) {
            Some(Ok(d)) => self.on_deliver(d),
            Some(Err(e)) => self.events.push_back(ModemEvent::Fault(format!(
                "an incoming SMS (index {index}) could not be decoded: {e}"
            ))),
            None => self.events.push_back(ModemEvent::Fault(format!(
                "an incoming SMS (index {index}) had no PDU in the AT+CMGR answer"
            ))),
        }
        // the message is ours now (or unreadable): free the slot either way
        self.push(
            &format!("AT+CMGD={index}"),
            Purpose::Other,
            self.timing.command,
        );
    }

    fn on_deliver(&mut self, d: sms::Deliver) {
        let Some(c) = d.concat.filter(|c| c.total > 1) else {
            self.events.push_back(ModemEvent::SmsReceived {
                from: d.from,
                text: d.text,
                at: d.timestamp,
            });
            return;
        };
        let pos = self
            .partial
            .iter()
            .position(|p| p.from == d.from && p.reference == c.reference && p.total == c.total);
        let pos = match pos {
            Some(i) => i,
            None => {
                if self.partial.len() >= MAX_PARTIAL_SMS {
                    if let Some(old) = self.partial.pop_front() {
                        self.events.push_back(ModemEvent::Fault(format!(
                            "an incomplete SMS from {} was dropped ({} of {} parts)",
                            old.from,
                            old.parts.len(),
                            old.total
                        )));
                    }
                }
                self.partial.push_back(Partial {
                    from: d.from.clone(),
                    reference: c.reference,
                    total: c.total,
                    at: d.timestamp,
                    parts: Vec::new(),
                });
                self.partial.len() - 1
            }
        };
        let Some(p) = self.partial.get_mut(pos) else {
            return;
        };
        if !p.parts.iter().any(|(s, _)| *s == c.seq) {
            p.parts.push((c.seq, d.text));
        }
        if c.seq == 1 {
            p.at = d.timestamp;
        }
        if let Some(text) = sms::reassemble(&p.parts, p.total) {
            if let Some(p) = self.partial.remove(pos) {
                self.events.push_back(ModemEvent::SmsReceived {
                    from: p.from,
                    text,
                    at: p.at,
                });
            }
        }
    }

    fn complete(&mut self, now: Instant, cmd: Cmd, result: Result<Final, ()>, lines: Vec<String>) {
        let ok = matches!(&result, Ok(f) if f.is_success());
        let outcome = match &result {
            Ok(f) => format!("{f:?}"),
            Err(()) => "timeout".to_string(),
        };
        match cmd.purpose {
            Purpose::SmsSubmit(id) => {
                if !ok {
                    self.fail_sms(id, format!("AT+CMGS failed: {outcome}"));
                    return;
                }
                let mr = lines.iter().find_map(|l| {
                    l.trim()
                        .strip_prefix("+CMGS:")
                        .and_then(|r| r.trim().split(',').next())
                        .and_then(|r| r.trim().parse::<u8>().ok())
                });
                let done = match self.sms_out.get_mut(&id) {
                    Some(o) => {
                        o.references.push(mr.unwrap_or(0));
                        o.remaining = o.remaining.saturating_sub(1);
                        o.remaining == 0
                    }
                    None => false,
                };
                if done {
                    if let Some(o) = self.sms_out.remove(&id) {
                        self.events.push_back(ModemEvent::SmsSent {
                            id,
                            result: Ok(o.references),
                        });
                    }
                }
            }
            Purpose::SmsRead(index) => self.on_sms_read(index, ok, outcome, &lines),
            Purpose::Query(id) => self.events.push_back(ModemEvent::Response {
                id,
                ok,
                lines,
                outcome,
            }),
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
            Purpose::Reset | Purpose::Probe => self.recovery_answer(cmd.purpose, result.is_ok()),
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
                if let Some(act) = cops.act {
                    self.status.access_technology = Some(act_name(act));
                }
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
            Urc::Cmti { index, .. } => {
                self.push(
                    &format!("AT+CMGR={index}"),
                    Purpose::SmsRead(index),
                    self.timing.command,
                );
            }
            Urc::Rdy => self.restarted(),
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
        [t, self.health.poll_timeout()].into_iter().flatten().min()
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
                if f.cmd.body.is_some() {
                    // the modem may still wait for the PDU: abort it
                    self.tx.push_back(vec![at::ESC]);
                }
                let dead = self.health.command_timed_out();
                self.complete(now, f.cmd, Err(()), f.lines);
                if let Some(why) = dead {
                    self.begin_reset(now, &why);
                }
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
        self.recovery_timeout(now);
        self.pump(now);
    }

    /// Queues an arbitrary command (bring-up tools); its result is only logged.
    pub fn send_raw(&mut self, now: Instant, text: &str) {
        self.push(text, Purpose::Other, self.timing.command);
        self.pump(now);
    }

    fn pump(&mut self, now: Instant) {
        if !self.recovery_gate() {
            return;
        }
        if self.inflight.is_none() {
            if let Some(cmd) = self.queue.pop_front() {
                self.tx.push_back(at::encode_command(&cmd.text));
                self.inflight = Some(InFlight {
                    deadline: now + cmd.timeout,
                    cmd,
                    lines: Vec::new(),
                    prompted: false,
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
        // a command that never gets an answer times out; three make a reset
        for _ in 0..3 {
            m.send_raw(t, "AT+CSQ");
        }
        for _ in 0..3 {
            m.poll_transmit();
            let due = m.poll_timeout().unwrap();
            m.handle_timeout(due);
        }
        assert!(matches!(m.poll_event(), Some(ModemEvent::Reset { .. })));
        assert_eq!(m.poll_transmit().unwrap(), b"AT+CFUN=1,1\r");
    }

    fn ready_modem(t: Instant) -> Modem {
        let mut m = Modem::new(t, ModemTiming::default());
        drive_init(&mut m, t);
        assert_eq!(m.poll_event(), Some(ModemEvent::Ready));
        m
    }

    fn tx_string(m: &mut Modem) -> String {
        String::from_utf8_lossy(&m.poll_transmit().expect("bytes to send")).into_owned()
    }

    #[test]
    fn init_selects_pdu_mode_and_cmti() {
        let t = Instant::now();
        let mut m = Modem::new(t, ModemTiming::default());
        let mut sent = Vec::new();
        for _ in 0..20 {
            let Some(tx) = m.poll_transmit() else { break };
            sent.push(String::from_utf8_lossy(&tx).trim().to_string());
            m.handle_input(t, b"\r\nOK\r\n");
        }
        assert!(sent.contains(&"AT+CMGF=0".to_string()), "{sent:?}");
        assert!(sent.contains(&"AT+CNMI=2,1,0,0,0".to_string()), "{sent:?}");
    }

    #[test]
    fn sms_send_prompt_pdu_and_urc_between_prompt_and_result() {
        let t = Instant::now();
        let mut m = ready_modem(t);
        let id = m.send_sms(t, "+46708251358", "hellohello");
        assert_eq!(tx_string(&mut m), "AT+CMGS=23\r");
        // nothing is written before the prompt
        assert_eq!(m.poll_transmit(), None);
        m.handle_input(t, b"\r\n> ");
        assert_eq!(
            m.poll_transmit().unwrap(),
            b"0011000B916407281553F80000AA0AE8329BFD4697D9EC37\x1a"
        );
        // a new SMS is announced while the submit is still pending
        m.handle_input(t, b"\r\n+CMTI: \"SM\",3\r\n");
        assert_eq!(m.poll_event(), None);
        assert_eq!(m.poll_transmit(), None);
        m.handle_input(t, b"\r\n+CMGS: 42\r\n\r\nOK\r\n");
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::SmsSent {
                id,
                result: Ok(vec![42])
            })
        );
        // then the announced message is read, reported and deleted
        assert_eq!(tx_string(&mut m), "AT+CMGR=3\r");
        let ts = SmsTimestamp {
            year: 2025,
            month: 3,
            day: 4,
            hour: 5,
            minute: 6,
            second: 7,
            tz_quarters: 4,
        };
        let pdu = sms::encode_deliver("+15550001111", "Grüße 😀", ts, 0).unwrap();
        let reply = format!(
            "\r\n+CMGR: 0,,{}\r\n{}\r\n\r\nOK\r\n",
            pdu[0].len() / 2 - 1,
            pdu[0]
        );
        m.handle_input(t, reply.as_bytes());
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::SmsReceived {
                from: "+15550001111".into(),
                text: "Grüße 😀".into(),
                at: ts
            })
        );
        assert_eq!(tx_string(&mut m), "AT+CMGD=3\r");
    }

    #[test]
    fn multipart_sms_fails_on_second_part_and_drops_the_rest() {
        let t = Instant::now();
        let mut m = ready_modem(t);
        let id = m.send_sms(t, "+491701234567", &"x".repeat(400));
        // 400 septets → 3 parts of ≤ 153
        let first = tx_string(&mut m);
        assert!(first.starts_with("AT+CMGS="), "{first}");
        m.handle_input(t, b"> ");
        let pdu = m.poll_transmit().unwrap();
        let hex = String::from_utf8_lossy(&pdu[..pdu.len() - 1]).into_owned();
        let part = sms::decode_submit(&hex).unwrap();
        assert_eq!(part.concat.map(|c| (c.seq, c.total)), Some((1, 3)));
        assert_eq!(first, format!("AT+CMGS={}\r", hex.len() / 2 - 1));
        m.handle_input(t, b"\r\n+CMGS: 1\r\n\r\nOK\r\n");
        assert_eq!(m.poll_event(), None);
        assert!(tx_string(&mut m).starts_with("AT+CMGS="));
        m.handle_input(t, b"> ");
        m.poll_transmit();
        m.handle_input(t, b"\r\n+CMS ERROR: 304\r\n");
        match m.poll_event() {
            Some(ModemEvent::SmsSent {
                id: got,
                result: Err(e),
            }) => {
                assert_eq!(got, id);
                assert!(e.contains("304") || e.contains("PDU"), "{e}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // the third part is not sent
        assert_eq!(m.poll_transmit(), None);
    }

    #[test]
    fn sms_timeout_aborts_with_esc_and_bad_number_fails_at_once() {
        let t = Instant::now();
        let mut m = ready_modem(t);
        let id = m.send_sms(t, "+491701234567", "hi");
        m.poll_transmit();
        m.handle_input(t, b"> ");
        m.poll_transmit();
        let due = m.poll_timeout().unwrap();
        assert!(due >= t + Duration::from_secs(60));
        m.handle_timeout(due);
        assert_eq!(m.poll_transmit().unwrap(), vec![at::ESC]);
        assert!(matches!(
            m.poll_event(),
            Some(ModemEvent::SmsSent { id: got, result: Err(_) }) if got == id
        ));
        let bad = m.send_sms(t, "call me", "hi");
        assert!(matches!(
            m.poll_event(),
            Some(ModemEvent::SmsSent { id: got, result: Err(_) }) if got == bad
        ));
        // (the status poll that fell due meanwhile goes out; no AT+CMGS does)
        while let Some(tx) = m.poll_transmit() {
            assert!(!tx.starts_with(b"AT+CMGS"));
            m.handle_input(due, b"\r\nOK\r\n");
        }
    }

    #[test]
    fn concatenated_sms_reassembled_out_of_order_and_garbage_reported() {
        let t = Instant::now();
        let mut m = ready_modem(t);
        let text = "ж".repeat(100);
        let ts = SmsTimestamp {
            year: 2025,
            month: 1,
            day: 2,
            hour: 3,
            minute: 4,
            second: 5,
            tz_quarters: 0,
        };
        let pdus = sms::encode_deliver("Alerts", &text, ts, 9).unwrap();
        assert_eq!(pdus.len(), 2);
        for (idx, pdu) in [(5, &pdus[1]), (4, &pdus[0])] {
            m.handle_input(t, format!("\r\n+CMTI: \"SM\",{idx}\r\n").as_bytes());
            assert_eq!(tx_string(&mut m), format!("AT+CMGR={idx}\r"));
            m.handle_input(t, format!("\r\n+CMGR: 0,,1\r\n{pdu}\r\nOK\r\n").as_bytes());
            assert_eq!(tx_string(&mut m), format!("AT+CMGD={idx}\r"));
            m.handle_input(t, b"\r\nOK\r\n");
        }
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::SmsReceived {
                from: "Alerts".into(),
                text,
                at: ts
            })
        );
        m.handle_input(t, b"\r\n+CMTI: \"SM\",6\r\n");
        m.poll_transmit();
        m.handle_input(t, b"\r\n+CMGR: 0,,1\r\n07FF\r\nOK\r\n");
        assert!(matches!(m.poll_event(), Some(ModemEvent::Fault(_))));
        assert_eq!(tx_string(&mut m), "AT+CMGD=6\r");
    }

    #[test]
    fn query_returns_lines_and_status_has_access_technology() {
        let t = Instant::now();
        let mut m = ready_modem(t);
        assert_eq!(m.status().access_technology, Some("E-UTRAN"));
        let q = m.query(t, "AT+CGSN");
        assert_eq!(tx_string(&mut m), "AT+CGSN\r");
        m.handle_input(t, b"\r\n356938035643809\r\n\r\nRING\r\n\r\nOK\r\n");
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::Response {
                id: q,
                ok: true,
                lines: vec!["356938035643809".into()],
                outcome: "Ok".into()
            })
        );
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
