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
//! in [`health`].
//!
//! Dialects ([`dialect`]): detected from `AT+CGMI`/`AT+CGMM`/`ATI` during init or
//! fixed by configuration; Quectel and SIMCom add their init commands and URCs
//! (`+QIND: "ccinfo"`, `+QTONEDET`, `VOICE CALL: BEGIN/END`, `+RXDTMF`). The SIM is
//! checked with `AT+CPIN?` and a configured PIN sent at most once ([`sim_card`]).
//! Registration comes from `+CREG`/`+CEREG` (answers and URCs); a change of
//! registered-ness is a [`ModemEvent::Registration`]. Incoming calls, call waiting and
//! `AT+CHLD` hold/swap are in [`calls`]; call forwarding (`AT+CCFC`) in [`forward`].

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod calls;
pub mod dialect;
pub mod forward;
#[doc(hidden)]
pub mod fuzz;
pub mod health;
pub mod serial;
pub mod sim_card;
pub mod sms;

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
// tests read the clock once for a start instant
mod driver_tests;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::at::{self, Class, ClccRow, Final, LineCodec, RegKind, Token, Urc};

pub use calls::Chld;
use calls::{InCall, InState, RowState};
pub use dialect::{Dialect, DialectOptions, DialectSetting};
pub use forward::{ForwardReason, ForwardRule};
pub use sim_card::SimState;
use sim_card::{SimCard, SimStep};

/// Identifies a call leg (outbound, or an incoming call once seen).
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
    /// The far end answered (or the incoming call was answered, or it came back
    /// from hold).
    Active,
    /// The call is on hold (`AT+CHLD=2`).
    Held,
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
    /// A call is coming in on the SIM's number ([`Modem::answer`] takes it).
    Incoming {
        /// The leg the call has from now on.
        leg: LegId,
        /// Caller ID (E.164 with `+` when the network says international).
        caller_id: Option<String>,
    },
    /// A second call is waiting while one is up (`+CCWA`); [`Modem::answer`] holds
    /// the current call and takes it, [`Modem::hangup`] rejects it.
    CallWaiting {
        /// The waiting call's leg.
        leg: LegId,
        /// Caller ID (E.164 with `+` when international).
        caller_id: Option<String>,
    },
    /// The modem detected a DTMF digit from the far end (Quectel `+QTONEDET`, SIMCom
    /// `+RXDTMF`/`+DTMF`): a second DTMF source besides the audio detector.
    Dtmf {
        /// The connected leg the digit belongs to.
        leg: LegId,
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
    },
    /// Registration changed between registered (home or roaming) and not.
    Registration {
        /// Registered now.
        registered: bool,
        /// The state name as in [`ModemStatus::registration`].
        state: &'static str,
    },
    /// The answer to [`Modem::forward_query`] / [`Modem::forward_set`] /
    /// [`Modem::forward_clear`].
    Forwarding {
        /// The request.
        id: QueryId,
        /// The rules the network reports (empty after a set), or why it failed.
        result: Result<Vec<ForwardRule>, String>,
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
        /// Where its parts are stored on the SIM/modem: they stay there until the
        /// driver has stored the message durably and calls [`Modem::delete_sms`]
        /// (empty for a directly delivered `+CMT` message, which is not stored).
        indexes: Vec<u32>,
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
    /// The dialect in use (`generic`, `quectel`, `simcom`), once decided.
    pub dialect: Option<&'static str>,
    /// Manufacturer (`AT+CGMI`), if it answered.
    pub manufacturer: Option<String>,
    /// Model (`AT+CGMM`), if it answered.
    pub model: Option<String>,
    /// SIM state (`ready`, `pin_required`, `puk_required`, `pin_rejected`,
    /// `not_inserted`, …; see [`SimState`]).
    pub sim: Option<&'static str>,
    /// Location / tracking area code of the serving cell (hex), if reported.
    pub lac: Option<String>,
    /// Cell id of the serving cell (hex), if reported.
    pub cell_id: Option<String>,
    /// LTE reference signal received power in dBm (Quectel `AT+QCSQ`, SIMCom
    /// `AT+CPSI?`), when on LTE.
    pub rsrp_dbm: Option<i32>,
    /// Quectel VoLTE (`AT+QCFG="ims"` read during init): `enabled`, `disabled` or
    /// `unknown` (see [`dialect::parse_ims`]); `None` for other dialects.
    pub ims: Option<&'static str>,
}

/// What configuration decides about the modem (board profile `[modem]`, or the CLI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModemConfig {
    /// Dialect: detected, or fixed.
    pub dialect: DialectSetting,
    /// The SIM's PIN, sent once when the SIM asks for it.
    pub pin: Option<String>,
    /// Dialect init options (Quectel USB audio routing).
    pub options: DialectOptions,
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
        essential: bool,
    },
    Cpin,
    PinEntry,
    /// `AT+CGMI` (0), `AT+CGMM` (1), `ATI` (2).
    Ident(u8),
    Answer(LegId),
    Chld(QueryId),
    Forward(QueryId),
    Dial(LegId),
    Hangup,
    Clcc,
    Csq,
    Creg,
    Cops,
    SmsSubmit(SmsId),
    SmsRead(u32),
    /// `AT+CMGL=4` once ready: messages left in storage (e.g. by a crash before they
    /// were stored) are read again.
    SmsList,
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
    indexes: Vec<u32>,
}

/// At most this many information lines are kept per response (a babbling modem
/// cannot exhaust memory; the command still times out or completes).
const MAX_RESPONSE_LINES: usize = 1024;
/// Full `+CLCC` lists (at the default 500 ms poll: 8 s) without an incoming call that
/// was never listed, and did not ring meanwhile, before it counts as gone.
const UNSEEN_CALL_POLLS: u32 = 16;

/// At most this many `AT+CMGR` reads wait in the queue (further `+CMTI` are dropped).
const MAX_PENDING_READS: usize = 64;

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
    Held,
}

#[derive(Debug, Clone, Copy)]
struct Leg {
    id: LegId,
    phase: Phase,
    /// The modem's call index, once seen in `+CLCC` / ccinfo.
    index: Option<u8>,
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
    /// `AT+CCFC` (a network round trip) timeout.
    pub network: Duration,
    /// Pause before asking a busy SIM again.
    pub sim_retry: Duration,
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
            network: Duration::from_secs(30),
            sim_retry: Duration::from_secs(2),
        }
    }
}

/// First init commands (then `AT+CPIN?`). `(command, essential)`.
const INIT_BASIC: &[(&str, bool)] = &[("AT", true), ("ATE0", false), ("AT+CMEE=2", false)];

/// Generic configuration after the SIM is ready. `(command, essential)`: a rejected
/// optional one is logged and init goes on (simpler modems answer ERROR to
/// `AT+CEREG`, `AT+CCWA`, …).
const INIT_CONFIG: &[(&str, bool)] = &[
    ("AT+CLIP=1", false),
    ("AT+CRC=1", false),
    ("AT+CCWA=1", false),
    ("AT+CREG=2", false),
    ("AT+CEREG=2", false),
    ("AT+COPS=3,0", false),
    // SMS in PDU mode; new messages stored and announced with +CMTI
    ("AT+CMGF=0", true),
    ("AT+CNMI=2,1,0,0,0", false),
    // phase 2+ (service 1) needs AT+CNMA after a directly delivered +CMT
    ("AT+CSMS?", false),
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
    next_sms: SmsId,
    sms_reference: u8,
    sms_out: HashMap<SmsId, SmsOut>,
    partial: VecDeque<Partial>,
    next_query: QueryId,
    health: health::Health,
    cfg: ModemConfig,
    dialect: Dialect,
    /// Identity lines (`AT+CGMI`, `AT+CGMM`, `ATI`) for dialect detection.
    ident: Vec<String>,
    sim: SimCard,
    /// Init stopped (SIM locked, essential command rejected) until the next reboot.
    init_stopped: bool,
    /// When to ask a busy SIM again.
    cpin_retry_at: Option<Instant>,
    /// Last `+CREG` / `+CEREG` report.
    creg: Option<at::Reg>,
    cereg: Option<at::Reg>,
    /// The modem answered ERROR to `AT+CEREG?`: not asked again.
    cereg_unsupported: bool,
    /// Last registered-ness reported (for [`ModemEvent::Registration`]).
    registered: Option<bool>,
    /// Incoming calls (ringing, waiting, answered, held).
    incoming: Vec<InCall>,
    /// Next `AT+CLCC` poll while only incoming calls are up.
    incoming_poll: Option<Instant>,
    /// SIMCom serial PCM is switched on (`AT+CPCMREG=1` sent, `=0` not yet).
    pcm_on: bool,
    /// The header of a two-line URC (`+CMT:`, `+CBM:`, `+CDS: <len>`) whose body
    /// line comes next.
    urc_header: Option<String>,
    /// `AT+CSMS?` said service 1 (phase 2+): a directly delivered `+CMT` must be
    /// acknowledged with `AT+CNMA`.
    csms_phase2: bool,
}

impl Modem {
    /// A driver that starts initialising the modem at `now`.
    pub fn new(now: Instant, timing: ModemTiming) -> Self {
        Self::with_config(now, timing, ModemConfig::default())
    }

    /// A driver with a configured dialect, SIM PIN and dialect options.
    pub fn with_config(now: Instant, timing: ModemTiming, cfg: ModemConfig) -> Self {
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
            next_sms: 1,
            sms_reference: 0,
            sms_out: HashMap::new(),
            partial: VecDeque::new(),
            next_query: 1,
            health: health::Health::new(timing.health),
            sim: SimCard::new(cfg.pin.clone()),
            dialect: match cfg.dialect {
                DialectSetting::Fixed(d) => d,
                DialectSetting::Auto => Dialect::Generic,
            },
            cfg,
            ident: Vec::new(),
            init_stopped: false,
            cpin_retry_at: None,
            creg: None,
            cereg: None,
            cereg_unsupported: false,
            registered: None,
            incoming: Vec::new(),
            incoming_poll: None,
            pcm_on: false,
            urc_header: None,
            csms_phase2: false,
        };
        m.queue_init();
        m.pump(now);
        m
    }

    /// Queues initialisation from the start (power-up, or after `RDY`): basic
    /// settings and identity; `AT+CPIN?` and the rest follow from the answers (see
    /// [`Modem::complete`]).
    fn queue_init(&mut self) {
        self.queue.clear();
        self.urc_header = None;
        self.csms_phase2 = false;
        self.init_stopped = false;
        self.cpin_retry_at = None;
        self.pcm_on = false;
        self.sim.rebooted();
        self.ident.clear();
        for (c, essential) in INIT_BASIC {
            self.push(
                c,
                Purpose::Init {
                    last: false,
                    essential: *essential,
                },
                self.timing.command,
            );
        }
        self.queue_ident();
    }

    /// Identity (dialect detection), before the SIM: it needs no SIM, and `modem
    /// info` can then name a modem whose SIM is locked.
    fn queue_ident(&mut self) {
        self.push("AT+CGMI", Purpose::Ident(0), self.timing.command);
        self.push("AT+CGMM", Purpose::Ident(1), self.timing.command);
    }

    /// SIM ready: generic configuration, the dialect's extras, then status.
    fn queue_config(&mut self) {
        for (c, essential) in INIT_CONFIG {
            self.push(
                c,
                Purpose::Init {
                    last: false,
                    essential: *essential,
                },
                self.timing.command,
            );
        }
        for c in dialect::init_extras(self.dialect, self.cfg.options) {
            self.push(
                &c.text,
                Purpose::Init {
                    last: false,
                    essential: c.essential,
                },
                self.timing.command,
            );
        }
        self.queue_status();
        self.push(
            "AT+CSQ",
            Purpose::Init {
                last: true,
                essential: false,
            },
            self.timing.command,
        );
    }

    /// Stops initialisation with a fault (until the modem reboots).
    fn stop_init(&mut self, why: String) {
        self.init_stopped = true;
        self.cpin_retry_at = None;
        self.queue.retain(|c| {
            !matches!(
                c.purpose,
                Purpose::Init { .. } | Purpose::Cpin | Purpose::PinEntry | Purpose::Ident(_)
            )
        });
        self.events.push_back(ModemEvent::Fault(why));
    }

    fn on_sim_step(&mut self, now: Instant, step: SimStep) {
        self.status.sim = self.sim.state.map(SimState::as_str);
        match step {
            SimStep::Continue => self.queue_config(),
            SimStep::SendPin(cmd) => self.push(&cmd, Purpose::PinEntry, self.timing.command),
            SimStep::Retry => self.cpin_retry_at = Some(now + self.timing.sim_retry),
            SimStep::Stop(why) => self.stop_init(why),
        }
    }

    fn queue_status(&mut self) {
        self.push("AT+CREG?", Purpose::Creg, self.timing.command);
        if !self.cereg_unsupported {
            self.push("AT+CEREG?", Purpose::Creg, self.timing.command);
        }
        self.push("AT+COPS?", Purpose::Cops, self.timing.command);
        if let Some(c) = dialect::status_command(self.dialect) {
            self.push(c, Purpose::Csq, self.timing.command);
        }
        self.push("AT+CSQ", Purpose::Csq, self.timing.command);
    }

    /// The dialect in use (the configured one, or the detected one once init got
    /// that far; generic before).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Initialisation stopped with a fault (SIM locked or an essential command
    /// rejected); it starts again when the modem reboots (`RDY`).
    pub fn init_stopped(&self) -> bool {
        self.init_stopped
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
            index: None,
            seen_in_clcc: false,
            missing_polls: 0,
            next_poll: now + self.timing.clcc_poll,
        });
        self.pump(now);
        id
    }

    fn new_leg_id(&mut self) -> LegId {
        let id = self.next_leg;
        self.next_leg = self.next_leg.wrapping_add(1).max(1);
        id
    }

    /// Number of calls the modem has up (outbound leg and incoming calls).
    fn call_count(&self) -> usize {
        usize::from(self.leg.is_some()) + self.incoming.len()
    }

    /// Answers an incoming call: `ATA` when it rings, `AT+CHLD=2` (hold the current
    /// call, take this one) when it is waiting. [`ModemEvent::Leg`] reports `Active`
    /// (and `Held` for the call put on hold), or `Ended` when it failed. Returns false
    /// when the leg is not an incoming call that can be answered.
    pub fn answer(&mut self, now: Instant, leg: LegId) -> bool {
        let Some(c) = self.incoming.iter_mut().find(|c| c.leg == leg) else {
            return false;
        };
        let cmd = match c.state {
            InState::Ringing => "ATA",
            InState::Waiting | InState::Held => "AT+CHLD=2",
            InState::Answering | InState::Active => return false,
        };
        c.state = InState::Answering;
        self.push(cmd, Purpose::Answer(leg), self.timing.dial);
        self.pump(now);
        true
    }

    /// Sends an `AT+CHLD` operation (hold, swap, release one call, reject the waiting
    /// call). The result comes as [`ModemEvent::Response`]; call states follow from
    /// the `AT+CLCC` poll that is made right after.
    pub fn chld(&mut self, now: Instant, op: Chld) -> QueryId {
        let id = self.next_query;
        self.next_query = self.next_query.wrapping_add(1).max(1);
        self.push(&op.command(), Purpose::Chld(id), self.timing.dial);
        self.pump(now);
        id
    }

    /// Sends DTMF digits to the far end of the connected call, one `AT+VTS=<d>` per
    /// digit (the portable form). Digits other than `0-9*#A-D` are an error.
    pub fn send_dtmf(&mut self, now: Instant, digits: &str) -> Result<(), String> {
        if let Some(bad) = digits.chars().find(|c| !calls::is_dtmf_digit(*c)) {
            return Err(format!("`{bad}` is not a DTMF digit: use 0-9, *, #, A-D"));
        }
        for d in digits.chars() {
            self.push(&format!("AT+VTS={d}"), Purpose::Other, self.timing.dial);
        }
        self.pump(now);
        Ok(())
    }

    /// Asks the network which forwarding is set for `reason`
    /// ([`ModemEvent::Forwarding`] with the rules).
    pub fn forward_query(&mut self, now: Instant, reason: ForwardReason) -> QueryId {
        self.forward_cmd(now, forward::query_command(reason))
    }

    /// Registers and enables forwarding of `reason` to `number` (E.164).
    pub fn forward_set(
        &mut self,
        now: Instant,
        reason: ForwardReason,
        number: &str,
    ) -> Result<QueryId, String> {
        let cmd = forward::register_command(reason, number)?;
        Ok(self.forward_cmd(now, cmd))
    }

    /// Erases forwarding of `reason`.
    pub fn forward_clear(&mut self, now: Instant, reason: ForwardReason) -> QueryId {
        self.forward_cmd(now, forward::erase_command(reason))
    }

    fn forward_cmd(&mut self, now: Instant, cmd: String) -> QueryId {
        let id = self.next_query;
        self.next_query = self.next_query.wrapping_add(1).max(1);
        self.push(&cmd, Purpose::Forward(id), self.timing.network);
        self.pump(now);
        id
    }

    /// The leg whose audio is connected (for modem-reported DTMF).
    fn connected_leg(&self) -> Option<LegId> {
        self.leg
            .filter(|l| l.phase == Phase::Active)
            .map(|l| l.id)
            .or_else(|| {
                self.incoming
                    .iter()
                    .find(|c| c.state == InState::Active)
                    .map(|c| c.leg)
            })
    }

    /// Hangs up (or cancels, or rejects) a leg. No further events come for it. An
    /// incoming call that waits is rejected with `AT+CHLD=0`; one of several calls is
    /// released by index (`AT+CHLD=1x`); otherwise `AT+CHUP`.
    pub fn hangup(&mut self, now: Instant, leg: LegId) {
        if let Some(pos) = self.incoming.iter().position(|c| c.leg == leg) {
            let c = self.incoming.remove(pos);
            self.queue.retain(|q| q.purpose != Purpose::Answer(leg));
            let others = self.call_count();
            let cmd = match (c.state, c.index) {
                (InState::Waiting, _) => "AT+CHLD=0".to_string(),
                (_, Some(i)) if others > 0 => format!("AT+CHLD=1{i}"),
                _ => "AT+CHUP".to_string(),
            };
            self.push(&cmd, Purpose::Hangup, self.timing.command);
            self.pcm_off_when_idle();
            self.pump(now);
            return;
        }
        if let Some(old) = self.leg.filter(|l| l.id == leg) {
            self.leg = None;
            let was_queued = self.queue.iter().any(|c| c.purpose == Purpose::Dial(leg));
            self.queue
                .retain(|c| c.purpose != Purpose::Dial(leg) && c.purpose != Purpose::Clcc);
            if !was_queued {
                let cmd = match old.index {
                    Some(i) if !self.incoming.is_empty() => format!("AT+CHLD=1{i}"),
                    _ => "AT+CHUP".to_string(),
                };
                self.push(&cmd, Purpose::Hangup, self.timing.command);
            }
            self.pcm_off_when_idle();
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
        if let Some(header) = self.urc_header.take() {
            // the body of a two-line URC: never classified, never a response
            self.on_urc_body(&header, line);
            return;
        }
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
            Class::Urc(u) if u.expects_body_line() => {
                if let Urc::Other(header) = u {
                    self.urc_header = Some(header);
                }
            }
            Class::Urc(u) => self.on_urc(now, u),
            Class::Unknown(l) => tracing::debug!(line = %l, "modem: unrecognised line ignored"),
        }
    }

    /// The body line of a two-line URC. `+CMT: [<alpha>],<length>` + PDU (direct
    /// delivery, `AT+CNMI=2,2` or a class 0 message): decoded and reassembled like a
    /// message read with `AT+CMGR`, acknowledged with `AT+CNMA` in phase 2+ mode
    /// (`AT+CSMS=1`). Text-mode `+CMT` (this driver selects PDU mode), `+CBM` and
    /// `+CDS` bodies are logged and dropped.
    fn on_urc_body(&mut self, header: &str, body: &str) {
        let Some(params) = header
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("+CMT:"))
            .and_then(|_| header.get(5..))
        else {
            tracing::debug!(%header, "modem: two-line URC ignored");
            return;
        };
        let pdu = body.trim();
        let pdu_mode = params
            .rsplit(',')
            .next()
            .is_some_and(|len| len.trim().parse::<u16>().is_ok())
            && pdu.len() >= 2
            && pdu.bytes().all(|b| b.is_ascii_hexdigit());
        if !pdu_mode {
            self.events.push_back(ModemEvent::Fault(format!(
                "a directly delivered SMS came in text mode (`{header}`), which the driver does not read: the modem must stay in PDU mode (AT+CMGF=0)"
            )));
            return;
        }
        if self.csms_phase2 {
            // the network waits for the acknowledgement: it goes out next
            self.queue.push_front(Cmd {
                text: "AT+CNMA".into(),
                purpose: Purpose::Other,
                timeout: self.timing.command,
                body: None,
            });
        }
        match sms::decode_deliver(pdu) {
            Ok(d) => self.on_deliver(d, None),
            Err(e) => self.events.push_back(ModemEvent::Fault(format!(
                "a directly delivered SMS (+CMT) could not be decoded: {e}"
            ))),
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
            // stays on the SIM until the driver stored it (Modem::delete_sms)
            Some(Ok(d)) => self.on_deliver(d, Some(index)),
            Some(Err(e)) => {
                self.events.push_back(ModemEvent::Fault(format!(
                    "an incoming SMS (index {index}) could not be decoded: {e}; its PDU was {}",
                    pdu.unwrap_or("")
                )));
                self.delete_sms_now(index);
            }
            None => self.events.push_back(ModemEvent::Fault(format!(
                "an incoming SMS (index {index}) had no PDU in the AT+CMGR answer; left on the SIM"
            ))),
        }
    }

    fn delete_sms_now(&mut self, index: u32) {
        self.push(
            &format!("AT+CMGD={index}"),
            Purpose::Other,
            self.timing.command,
        );
    }

    /// Deletes stored messages (the `indexes` of a [`ModemEvent::SmsReceived`]) once
    /// the driver has stored them durably.
    pub fn delete_sms(&mut self, now: Instant, indexes: &[u32]) {
        for &i in indexes {
            if !self.queue.iter().any(|c| c.text == format!("AT+CMGD={i}")) {
                self.delete_sms_now(i);
            }
        }
        self.pump(now);
    }

    /// The answer to `AT+CMGL=4`: `+CMGL: <index>,<stat>,[<alpha>],<length>` lines,
    /// each followed by its PDU.
    fn on_sms_list(&mut self, lines: &[String]) {
        let mut current: Option<u32> = None;
        for l in lines {
            let l = l.trim();
            if let Some(rest) = l.strip_prefix("+CMGL:") {
                current = rest.split(',').next().and_then(|i| i.trim().parse().ok());
            } else if let Some(index) = current.take()
                && l.len() >= 2
                && l.bytes().all(|b| b.is_ascii_hexdigit())
            {
                match sms::decode_deliver(l) {
                    Ok(d) => self.on_deliver(d, Some(index)),
                    Err(e) => {
                        tracing::warn!(index, "modem: a stored SMS could not be decoded: {e}")
                    }
                }
            }
        }
    }

    fn on_deliver(&mut self, d: sms::Deliver, index: Option<u32>) {
        let Some(c) = d.concat.filter(|c| c.total > 1) else {
            self.events.push_back(ModemEvent::SmsReceived {
                from: d.from,
                text: d.text,
                at: d.timestamp,
                indexes: index.into_iter().collect(),
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
                    indexes: Vec::new(),
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
        if let Some(i) = index
            && !p.indexes.contains(&i)
        {
            p.indexes.push(i);
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
                    indexes: p.indexes,
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
            Purpose::SmsList => {
                if ok {
                    self.on_sms_list(&lines);
                }
            }
            Purpose::Query(id) => self.events.push_back(ModemEvent::Response {
                id,
                ok,
                lines,
                outcome,
            }),
            Purpose::Init { last, essential } => {
                if !ok && essential {
                    self.stop_init(format!(
                        "the modem rejected `{}` ({outcome}), which the service needs: check that this is a voice/SMS capable modem and the dialect setting",
                        cmd.text
                    ));
                    return;
                }
                if !ok && cmd.text == dialect::VOLTE_ON {
                    self.events.push_back(ModemEvent::Fault(format!(
                        "the modem refused to switch VoLTE on (`{}` → {outcome}): its carrier profile (MBN) may lock VoLTE off (e.g. ROW_Generic_3GPP); select the carrier's MBN (AT+QMBNCFG) or remove `volte` from the board profile. On LTE-only networks calls fail without VoLTE",
                        cmd.text
                    )));
                } else if !ok && cmd.text == dialect::IMS_READ {
                    self.status.ims = Some("unknown");
                }
                if !ok {
                    tracing::info!(command = %cmd.text, ?result, "modem: init command rejected; continuing without it");
                    if cmd.text.starts_with("AT+CEREG") {
                        self.cereg_unsupported = true;
                        self.queue.retain(|c| c.text != "AT+CEREG?");
                    }
                }
                if last && !self.init_stopped {
                    self.status.ready = true;
                    self.next_status_poll = Some(now + self.timing.status_poll);
                    self.events.push_back(ModemEvent::Ready);
                    // messages still in storage (not yet stored by the driver)
                    self.push("AT+CMGL=4", Purpose::SmsList, self.timing.command);
                }
                self.apply_status_lines(&lines);
            }
            Purpose::Cpin => {
                let step = self.sim.on_query(&lines, result.as_ref().ok());
                self.on_sim_step(now, step);
            }
            Purpose::PinEntry => {
                let step = self.sim.on_pin_result(result.as_ref().ok());
                match step {
                    // ask the state again: READY (or busy for a while)
                    SimStep::Continue | SimStep::Retry => {
                        self.cpin_retry_at = Some(now + self.timing.sim_retry);
                    }
                    other => self.on_sim_step(now, other),
                }
            }
            Purpose::Ident(which) => {
                if ok {
                    self.ident.extend(
                        lines
                            .iter()
                            .map(|l| l.trim().to_string())
                            .filter(|l| !l.is_empty()),
                    );
                    let first = lines
                        .iter()
                        .map(|l| {
                            let t = l.trim();
                            let t = t.strip_prefix("+CGMI:").unwrap_or(t);
                            t.strip_prefix("+CGMM:").unwrap_or(t).trim().to_string()
                        })
                        .find(|l| !l.is_empty());
                    match which {
                        0 => self.status.manufacturer = first,
                        1 => self.status.model = first,
                        _ => {}
                    }
                }
                let last_ident = match which {
                    1 if self.ident.is_empty() && self.cfg.dialect == DialectSetting::Auto => {
                        // both failed: try ATI
                        self.push("ATI", Purpose::Ident(2), self.timing.command);
                        false
                    }
                    1 | 2 => true,
                    _ => false,
                };
                if last_ident {
                    if self.cfg.dialect == DialectSetting::Auto {
                        let ids: Vec<&str> = self.ident.iter().map(String::as_str).collect();
                        self.dialect = dialect::detect(&ids);
                    }
                    self.status.dialect = Some(self.dialect.as_str());
                    tracing::info!(dialect = %self.dialect, "modem: dialect");
                    self.push("AT+CPIN?", Purpose::Cpin, self.timing.command);
                }
            }
            Purpose::Answer(leg) => {
                let Some(pos) = self.incoming.iter().position(|c| c.leg == leg) else {
                    return;
                };
                if ok {
                    let was_waiting = cmd.text.starts_with("AT+CHLD");
                    if let Some(c) = self.incoming.get_mut(pos) {
                        c.state = InState::Active;
                    }
                    if was_waiting {
                        self.hold_others(leg);
                    }
                    self.events.push_back(ModemEvent::Leg {
                        leg,
                        state: LegState::Active,
                    });
                    self.poll_calls_now();
                } else {
                    self.incoming.remove(pos);
                    self.pcm_off_when_idle();
                    let end = match result {
                        Ok(Final::NoCarrier) => LegEnd::NoCarrier,
                        Ok(other) => LegEnd::Error(format!("answer failed: {other:?}")),
                        Err(()) => LegEnd::Error("answer timed out".into()),
                    };
                    self.events.push_back(ModemEvent::Leg {
                        leg,
                        state: LegState::Ended(end),
                    });
                }
            }
            Purpose::Chld(id) => {
                self.events.push_back(ModemEvent::Response {
                    id,
                    ok,
                    lines,
                    outcome,
                });
                self.poll_calls_now();
            }
            Purpose::Forward(id) => {
                let result = if ok {
                    Ok(forward::parse_rules(&lines))
                } else {
                    Err(format!("{} failed: {outcome}", cmd.text))
                };
                self.events.push_back(ModemEvent::Forwarding { id, result });
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
                    self.apply_clcc(&rows, true);
                }
            }
            Purpose::Creg if !ok && cmd.text.starts_with("AT+CEREG") => {
                // simpler modems and 2G/3G-only ones do not know +CEREG
                self.cereg_unsupported = true;
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
            } else if let Some(ims) = dialect::parse_ims(l) {
                self.status.ims = Some(ims);
            } else if let Some(rest) = l.trim().strip_prefix("+CSMS:") {
                // +CSMS: <service>,<mt>,<mo>,<bm>
                self.csms_phase2 = rest.split(',').next().map(str::trim) == Some("1");
            } else if l.starts_with("+QCSQ:") || l.starts_with("+CPSI:") {
                self.status.rsrp_dbm = dialect::parse_rsrp(l);
            } else if let Some(r) = at::parse_creg(l, true) {
                self.on_registration(r);
            } else if let Some(cops) = at::parse_cops(l) {
                if cops.operator.is_some() || cops.mode == 2 {
                    self.status.operator = cops.operator;
                }
                if let Some(act) = cops.act {
                    self.status.access_technology = Some(act_name(act));
                }
            }
        }
    }

    /// A `+CREG`/`+CEREG` report (answer or URC): the combined state prefers a
    /// registered report (CS or EPS: on LTE-only networks `+CREG` may stay 0 while
    /// `+CEREG` is 1), then "searching"; a change of registered-ness is an event.
    fn on_registration(&mut self, r: at::Reg) {
        match r.kind {
            RegKind::Creg => self.creg = Some(r),
            RegKind::Cereg => self.cereg = Some(r),
            RegKind::Cgreg | RegKind::C5greg => return,
        }
        let pick = [&self.cereg, &self.creg]
            .into_iter()
            .flatten()
            .find(|r| r.is_registered())
            .or_else(|| {
                [&self.creg, &self.cereg]
                    .into_iter()
                    .flatten()
                    .find(|r| r.stat == 2)
            })
            .or(self.creg.as_ref())
            .or(self.cereg.as_ref())
            .cloned();
        let Some(best) = pick else { return };
        let state = registration_name(best.stat);
        self.status.registration = Some(state);
        if best.is_registered() {
            if best.lac.is_some() {
                self.status.lac = best.lac.clone();
                self.status.cell_id = best.ci.clone();
            }
            if let Some(act) = best.act {
                self.status.access_technology = Some(act_name(act));
            }
        }
        let registered = best.is_registered();
        if self.registered.is_some_and(|was| was != registered) {
            if !registered {
                tracing::warn!(state, "modem: lost network registration");
            }
            self.events
                .push_back(ModemEvent::Registration { registered, state });
        }
        self.registered = Some(registered);
    }

    /// Call rows from a full `AT+CLCC` list (`full`) or one URC (`+CLCC` with
    /// `AT+CLCC=1`, Quectel ccinfo): direction 0 drives the outbound leg, direction 1
    /// the incoming calls. Only a full list can tell that a call vanished.
    fn apply_clcc(&mut self, rows: &[ClccRow], full: bool) {
        let voice = |r: &&ClccRow| r.mode == 0;
        if self.leg.is_some() {
            let leg_index = self.leg.and_then(|l| l.index);
            let mo = rows
                .iter()
                .filter(voice)
                .find(|r| r.dir == 0 && leg_index.is_none_or(|i| i == r.id));
            self.apply_mo_row(mo.cloned(), full);
        }
        let mt: Vec<ClccRow> = rows
            .iter()
            .filter(voice)
            .filter(|r| r.dir == 1)
            .cloned()
            .collect();
        for row in &mt {
            self.apply_mt_row(row);
        }
        if full {
            let mut ended = Vec::new();
            for c in &mut self.incoming {
                let present = mt.iter().any(|r| c.index.is_some_and(|i| i == r.id));
                if present {
                    continue;
                }
                c.missing_polls += 1;
                // never listed: gone once it has not rung for 8 s (each RING resets the
                // count; RING repeats every 2-6 s)
                if c.seen_in_clcc || c.missing_polls >= UNSEEN_CALL_POLLS {
                    ended.push(c.leg);
                }
            }
            for leg in ended {
                self.end_incoming(leg, LegEnd::NoCarrier);
            }
        }
    }

    fn apply_mo_row(&mut self, mo: Option<ClccRow>, full: bool) {
        let Some(leg) = self.leg.as_mut() else {
            return;
        };
        match mo {
            Some(row) => {
                leg.seen_in_clcc = true;
                leg.index = Some(row.id);
                let id = leg.id;
                let emit = |phase: Phase, state: LegState, leg: &mut Leg| {
                    leg.phase = phase;
                    Some(ModemEvent::Leg { leg: id, state })
                };
                let ev = match row.stat {
                    3 if matches!(leg.phase, Phase::Placed | Phase::Dialing) => {
                        emit(Phase::Alerting, LegState::Alerting, leg)
                    }
                    0 if leg.phase != Phase::Active => emit(Phase::Active, LegState::Active, leg),
                    1 if leg.phase == Phase::Active => emit(Phase::Held, LegState::Held, leg),
                    6 | 7 => {
                        self.end_leg(LegEnd::NoCarrier);
                        None
                    }
                    _ => None,
                };
                if let Some(ev) = ev {
                    self.events.push_back(ev);
                }
            }
            None if full && leg.phase != Phase::Dialing => {
                leg.missing_polls += 1;
                // The call vanished from the list: it ended without a result code.
                if leg.seen_in_clcc || leg.missing_polls >= 4 {
                    self.end_leg(LegEnd::NoCarrier);
                }
            }
            None => {}
        }
    }

    fn apply_mt_row(&mut self, row: &ClccRow) {
        let rs = RowState::of(row.stat);
        let pos = self
            .incoming
            .iter()
            .position(|c| c.index == Some(row.id))
            .or_else(|| {
                self.incoming
                    .iter()
                    .position(|c| c.index.is_none() && c.matches(row))
            });
        let pos = match (pos, rs) {
            (Some(p), _) => p,
            (None, RowState::Released | RowState::Other) => return,
            (None, RowState::Ringing | RowState::Waiting) => {
                let leg = self.new_leg_id();
                let st = if rs == RowState::Waiting || self.call_count() > 0 {
                    InState::Waiting
                } else {
                    InState::Ringing
                };
                self.incoming.push(InCall::new(leg, st));
                self.incoming.len() - 1
            }
            // an answered call we did not see ring (e.g. answered elsewhere)
            (None, RowState::Active | RowState::Held) => {
                let leg = self.new_leg_id();
                let mut c = InCall::new(leg, InState::Active);
                c.announced = true;
                self.events.push_back(ModemEvent::Incoming {
                    leg,
                    caller_id: row.number.clone(),
                });
                self.incoming.push(c);
                self.incoming.len() - 1
            }
        };
        let Some(c) = self.incoming.get_mut(pos) else {
            return;
        };
        c.index = Some(row.id);
        c.seen_in_clcc = true;
        if c.number.is_none() {
            c.number.clone_from(&row.number);
        }
        let leg = c.leg;
        let ev = match (rs, c.state) {
            (RowState::Released, _) => {
                self.end_incoming(leg, LegEnd::NoCarrier);
                return;
            }
            (
                RowState::Active,
                InState::Held | InState::Answering | InState::Ringing | InState::Waiting,
            ) => {
                let was_unanswered = matches!(c.state, InState::Ringing | InState::Waiting);
                c.state = InState::Active;
                // answered by us (ATA still pending) or elsewhere
                (!was_unanswered || c.announced).then_some(LegState::Active)
            }
            (RowState::Held, InState::Active) => {
                c.state = InState::Held;
                Some(LegState::Held)
            }
            (RowState::Waiting, InState::Ringing) => {
                c.state = InState::Waiting;
                None
            }
            _ => None,
        };
        if let Some(state) = ev {
            self.events.push_back(ModemEvent::Leg { leg, state });
        }
        self.announce(pos, true);
    }

    /// Emits `Incoming` / `CallWaiting` for an incoming call once (`have_cid`: the
    /// caller ID is as known as it gets).
    fn announce(&mut self, pos: usize, have_cid: bool) {
        let Some(c) = self.incoming.get_mut(pos) else {
            return;
        };
        if c.announced || !(have_cid || c.number.is_some() || c.rings >= 2) {
            return;
        }
        c.announced = true;
        let (leg, caller_id) = (c.leg, c.number.clone());
        self.events.push_back(match c.state {
            InState::Waiting => ModemEvent::CallWaiting { leg, caller_id },
            _ => ModemEvent::Incoming { leg, caller_id },
        });
    }

    fn end_incoming(&mut self, leg: LegId, end: LegEnd) {
        if let Some(pos) = self.incoming.iter().position(|c| c.leg == leg) {
            let c = self.incoming.remove(pos);
            self.queue.retain(|q| q.purpose != Purpose::Answer(leg));
            if c.announced {
                self.events.push_back(ModemEvent::Leg {
                    leg,
                    state: LegState::Ended(end),
                });
            }
        }
        self.pcm_off_when_idle();
    }

    /// After `AT+CHLD=2` took `leg`: the other connected calls are on hold.
    fn hold_others(&mut self, leg: LegId) {
        if let Some(l) = self.leg.as_mut().filter(|l| l.phase == Phase::Active) {
            l.phase = Phase::Held;
            self.events.push_back(ModemEvent::Leg {
                leg: l.id,
                state: LegState::Held,
            });
        }
        for c in &mut self.incoming {
            if c.leg != leg && c.state == InState::Active {
                c.state = InState::Held;
                self.events.push_back(ModemEvent::Leg {
                    leg: c.leg,
                    state: LegState::Held,
                });
            }
        }
    }

    /// Queues an `AT+CLCC` now (after a hold/swap, an ambiguous `NO CARRIER`, …).
    fn poll_calls_now(&mut self) {
        if !self.queue.iter().any(|c| c.purpose == Purpose::Clcc) {
            self.push("AT+CLCC", Purpose::Clcc, self.timing.command);
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
        self.pcm_off_when_idle();
    }

    /// SIMCom serial PCM audio is switched per call (`AT+CPCMREG`), when configured.
    fn simcom_pcm(&mut self, on: bool) {
        if self.dialect == Dialect::Simcom && self.cfg.options.simcom_pcm && on != self.pcm_on {
            self.pcm_on = on;
            let cmd = if on { "AT+CPCMREG=1" } else { "AT+CPCMREG=0" };
            self.push(cmd, Purpose::Other, self.timing.command);
        }
    }

    /// Serial PCM goes off once no call is left, however the last one ended
    /// (`VOICE CALL: END`, a bare `NO CARRIER`, `BUSY`, a hang-up of ours).
    fn pcm_off_when_idle(&mut self) {
        if self.pcm_on && self.call_count() == 0 {
            self.simcom_pcm(false);
        }
    }

    /// A call ended without saying which (`NO CARRIER`, SIMCom `VOICE CALL: END`):
    /// with one call it is that one; with several, `AT+CLCC` tells.
    fn call_ended(&mut self) {
        match self.call_count() {
            0 => {}
            1 if self.leg.is_some() => self.end_leg(LegEnd::NoCarrier),
            1 => {
                if let Some(leg) = self.incoming.first().map(|c| c.leg) {
                    self.end_incoming(leg, LegEnd::NoCarrier);
                }
            }
            _ => self.poll_calls_now(),
        }
    }

    /// The incoming call a `RING`/`+CLIP` is about (created if new).
    fn ringing_call(&mut self) -> usize {
        if let Some(p) = self.incoming.iter().position(|c| {
            matches!(c.state, InState::Ringing | InState::Answering)
                || (c.state == InState::Waiting && !c.announced)
        }) {
            return p;
        }
        let leg = self.new_leg_id();
        let st = if self.call_count() > 0 {
            InState::Waiting
        } else {
            InState::Ringing
        };
        self.incoming.push(InCall::new(leg, st));
        self.incoming.len() - 1
    }

    fn on_urc(&mut self, now: Instant, urc: Urc) {
        match urc {
            Urc::NoCarrier => self.call_ended(),
            Urc::VoiceCallEnd { .. } => {
                self.call_ended();
                self.pcm_off_when_idle();
            }
            Urc::Busy => self.end_leg(LegEnd::Busy),
            Urc::NoAnswer => self.end_leg(LegEnd::NoAnswer),
            Urc::Clcc(row) | Urc::QindCcinfo(row) => self.apply_clcc(&[row], false),
            Urc::Ring => {
                let p = self.ringing_call();
                if let Some(c) = self.incoming.get_mut(p) {
                    c.rings += 1;
                    c.missing_polls = 0;
                }
                self.announce(p, false);
            }
            Urc::CRing(kind) => {
                // +CRING: VOICE (data/fax calls are not ours)
                if kind.to_ascii_uppercase().contains("VOICE") {
                    self.on_urc(now, Urc::Ring);
                } else {
                    tracing::debug!(%kind, "modem: non-voice call ignored");
                }
            }
            Urc::Clip {
                number, validity, ..
            } => {
                let p = self.ringing_call();
                if let Some(c) = self.incoming.get_mut(p) {
                    if !number.is_empty() && validity.is_none_or(|v| v == 0) {
                        c.number = Some(number);
                    }
                }
                self.announce(p, true);
            }
            Urc::Ccwa { number, .. } => {
                let known = self.incoming.iter().position(|c| {
                    c.state == InState::Waiting && c.number.as_ref().is_none_or(|n| *n == number)
                });
                let p = match known {
                    Some(p) => p,
                    None => {
                        let leg = self.new_leg_id();
                        self.incoming.push(InCall::new(leg, InState::Waiting));
                        self.incoming.len() - 1
                    }
                };
                if let Some(c) = self.incoming.get_mut(p) {
                    if !number.is_empty() {
                        c.number = Some(number);
                    }
                }
                self.announce(p, true);
            }
            Urc::VoiceCallBegin => {
                self.simcom_pcm(true);
                // SIMCom: the call being set up is connected
                if let Some(l) = self
                    .leg
                    .as_mut()
                    .filter(|l| matches!(l.phase, Phase::Placed | Phase::Alerting))
                {
                    l.phase = Phase::Active;
                    let leg = l.id;
                    self.events.push_back(ModemEvent::Leg {
                        leg,
                        state: LegState::Active,
                    });
                }
            }
            Urc::MissedCall(number) => {
                let leg = self
                    .incoming
                    .iter()
                    .find(|c| c.state == InState::Ringing)
                    .map(|c| c.leg);
                tracing::info!(%number, "modem: missed call");
                if let Some(leg) = leg {
                    self.end_incoming(leg, LegEnd::NoCarrier);
                }
            }
            Urc::QToneDet(digit) | Urc::RxDtmf(digit) => match self.connected_leg() {
                Some(leg) => self.events.push_back(ModemEvent::Dtmf { leg, digit }),
                None => tracing::debug!(%digit, "modem: DTMF without a connected call ignored"),
            },
            Urc::Creg {
                kind,
                stat,
                lac,
                ci,
                act,
            } => self.on_registration(at::Reg {
                kind,
                n: None,
                stat,
                lac,
                ci,
                act,
            }),
            Urc::Csq { rssi, .. } | Urc::QindCsq { rssi, .. } => {
                self.status.signal_dbm = at::rssi_to_dbm(rssi);
            }
            Urc::CpinState(state) => {
                self.sim.on_urc(&state);
                self.status.sim = self.sim.state.map(SimState::as_str);
                if self.status.ready && self.sim.state != Some(SimState::Ready) {
                    self.events.push_back(ModemEvent::Fault(format!(
                        "the SIM reports `{state}` while in service: check the SIM card"
                    )));
                }
            }
            Urc::Cmti { index, .. } => {
                // A storm of notifications (a modem repeating them, line noise that
                // parses) must not grow the queue: one read per storage index, and at
                // most MAX_PENDING_READS of them (a SIM holds a few dozen messages).
                let reading = |p: &Purpose| matches!(p, Purpose::SmsRead(_));
                let pending = self.queue.iter().filter(|c| reading(&c.purpose)).count();
                let read = Purpose::SmsRead(index);
                let duplicate = self.queue.iter().any(|c| c.purpose == read)
                    || self
                        .inflight
                        .as_ref()
                        .is_some_and(|f| f.cmd.purpose == read);
                if duplicate {
                    tracing::debug!(index, "modem: +CMTI for a message already being read");
                } else if pending >= MAX_PENDING_READS {
                    tracing::warn!(
                        index,
                        "modem: too many unread SMS notifications; this one is left on the SIM"
                    );
                } else {
                    self.push(&format!("AT+CMGR={index}"), read, self.timing.command);
                }
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
            consider(self.incoming_poll);
            // Status polls wait while a call is up (see handle_timeout).
            consider(
                self.next_status_poll
                    .filter(|_| self.leg.is_none() && self.incoming.is_empty()),
            );
            consider(self.cpin_retry_at);
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
            if self.incoming_poll.is_some_and(|t| now >= t) {
                self.incoming_poll = Some(now + self.timing.clcc_poll);
                self.poll_calls_now();
            }
            if self.cpin_retry_at.is_some_and(|t| now >= t) {
                self.cpin_retry_at = None;
                self.push("AT+CPIN?", Purpose::Cpin, self.timing.command);
            }
            if self.next_status_poll.is_some_and(|t| now >= t)
                && self.leg.is_none()
                && self.incoming.is_empty()
            {
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
        if self.incoming.is_empty() {
            self.incoming_poll = None;
        } else if self.incoming_poll.is_none() {
            self.incoming_poll = Some(now + self.timing.clcc_poll);
        }
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
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    /// Answers every command in flight with `OK` (plus canned lines) until init is done.
    fn drive_init(m: &mut Modem, t: Instant) {
        for _ in 0..60 {
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
        // a ring while our call is up is a second (waiting) call
        let waiting = match m.poll_event() {
            Some(ModemEvent::CallWaiting {
                leg: w,
                caller_id: Some(cid),
            }) if cid == "+15550001111" => w,
            other => panic!("unexpected {other:?}"),
        };
        let t2 = t1 + Duration::from_millis(600);
        m.handle_timeout(t2);
        assert_eq!(tx_string(&mut m), "AT+CLCC\r");
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
        // rejecting the waiting call: AT+CHLD=0, no event for it
        m.hangup(t2, waiting);
        assert_eq!(tx_string(&mut m), "AT+CHLD=0\r");
        m.handle_input(t2, b"\r\nOK\r\n");
        assert_eq!(m.poll_transmit(), None);
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
    fn a_storm_of_cmti_does_not_grow_the_queue() {
        let t = Instant::now();
        let mut m = ready_modem(t);
        // the same index again and again: one read
        for _ in 0..1000 {
            m.handle_input(t, b"\r\n+CMTI: \"SM\",7\r\n");
        }
        assert_eq!(tx_string(&mut m), "AT+CMGR=7\r");
        m.handle_input(t, b"\r\n+CMTI: \"SM\",7\r\n");
        assert_eq!(m.queue.len(), 0, "a read in flight is not queued again");
        // many distinct indices (noise that parses): capped
        for i in 0..10_000u32 {
            m.handle_input(t, format!("\r\n+CMTI: \"SM\",{i}\r\n").as_bytes());
        }
        assert_eq!(m.queue.len(), MAX_PENDING_READS);
        // the modem still works: the read in flight completes, the next one goes out
        m.handle_input(t, b"\r\n+CMS ERROR: 321\r\n");
        assert!(tx_string(&mut m).starts_with("AT+CMGR="));
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
                at: ts,
                indexes: vec![3],
            })
        );
        // kept on the SIM until the driver has stored it
        assert_eq!(m.poll_transmit(), None);
        m.delete_sms(t, &[3]);
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
        }
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::SmsReceived {
                from: "Alerts".into(),
                text,
                at: ts,
                indexes: vec![5, 4],
            })
        );
        m.delete_sms(t, &[5, 4]);
        assert_eq!(tx_string(&mut m), "AT+CMGD=5\r");
        m.handle_input(t, b"\r\nOK\r\n");
        assert_eq!(tx_string(&mut m), "AT+CMGD=4\r");
        m.handle_input(t, b"\r\nOK\r\n");
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

    fn ts() -> SmsTimestamp {
        SmsTimestamp {
            year: 2026,
            month: 11,
            day: 22,
            hour: 3,
            minute: 4,
            second: 5,
            tz_quarters: 4,
        }
    }

    #[test]
    fn cmt_direct_delivery_inside_a_bare_line_response_is_not_taken_as_the_answer() {
        let t = Instant::now();
        let mut m = ready_modem(t);
        let q = m.query(t, "AT+CGSN");
        assert_eq!(tx_string(&mut m), "AT+CGSN\r");
        let pdu = &sms::encode_deliver("+15550001111", "Pager: rack 7 down", ts(), 0).unwrap()[0];
        // the two-line +CMT lands between the IMEI and OK; its PDU line would look
        // like another bare response line to AT+CGSN
        let bytes = format!(
            "\r\n356938035643809\r\n\r\n+CMT: ,{}\r\n{pdu}\r\n\r\nOK\r\n",
            pdu.len() / 2 - 1
        );
        m.handle_input(t, bytes.as_bytes());
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::SmsReceived {
                from: "+15550001111".into(),
                text: "Pager: rack 7 down".into(),
                at: ts(),
                indexes: vec![],
            })
        );
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::Response {
                id: q,
                ok: true,
                lines: vec!["356938035643809".into()],
                outcome: "Ok".into()
            })
        );
        // phase 1 (AT+CSMS? gave no service 1): no acknowledgement, nothing to delete
        assert_eq!(m.poll_transmit(), None);
    }

    #[test]
    fn cmt_parts_are_reassembled_and_acknowledged_in_phase_2_plus() {
        let t = Instant::now();
        let mut m = Modem::new(t, ModemTiming::default());
        for _ in 0..60 {
            let Some(tx) = m.poll_transmit() else { break };
            let reply = match String::from_utf8_lossy(&tx).trim() {
                "AT+CSMS?" => "\r\n+CSMS: 1,1,1,1\r\n\r\nOK\r\n",
                _ => "\r\nOK\r\n",
            };
            m.handle_input(t, reply.as_bytes());
        }
        assert_eq!(m.poll_event(), Some(ModemEvent::Ready));
        let text = "ж".repeat(90);
        let pdus = sms::encode_deliver("Alerts", &text, ts(), 3).unwrap();
        assert_eq!(pdus.len(), 2);
        // the second part first, with an alpha field in the header
        for pdu in [&pdus[1], &pdus[0]] {
            let urc = format!("\r\n+CMT: \"Ops\",{}\r\n{pdu}\r\n", pdu.len() / 2 - 1);
            m.handle_input(t, urc.as_bytes());
            assert_eq!(tx_string(&mut m), "AT+CNMA\r");
            m.handle_input(t, b"\r\nOK\r\n");
        }
        assert_eq!(
            m.poll_event(),
            Some(ModemEvent::SmsReceived {
                from: "Alerts".into(),
                text,
                at: ts(),
                indexes: vec![],
            })
        );
        // a text-mode +CMT is reported, not misread; the body line is swallowed
        m.handle_input(
            t,
            b"\r\n+CMT: \"+4917012345\",,\"26/11/22,03:04:05+04\"\r\nhello there\r\n",
        );
        assert!(matches!(m.poll_event(), Some(ModemEvent::Fault(f)) if f.contains("text mode")));
        assert_eq!(m.poll_event(), None);
    }
}
