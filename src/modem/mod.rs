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

mod call_rows;
pub mod calls;
mod complete;
pub mod dialect;
pub mod forward;
#[doc(hidden)]
pub mod fuzz;
pub mod health;
pub mod serial;
pub mod sim_card;
mod sim_pin;
pub mod sms;
mod sms_flow;

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
pub use sim_card::{Pin, PinEntryResult, SimState};
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
    /// What became of a PIN entered with [`Modem::enter_sim_pin`].
    SimPin(PinEntryResult),
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
    /// SIM PIN attempts left, when the modem told (asked after a wrong PIN typed on
    /// the page).
    pub sim_pin_attempts: Option<u8>,
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
    /// A PIN typed by a person ([`Modem::enter_sim_pin`]), then the attempts left and
    /// the SIM state asked after it.
    ManualPin,
    PinAttempts,
    PinRecheck,
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
    /// A PIN typed by a person, until its result is reported.
    manual_pin: Option<sim_pin::ManualPin>,
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
    /// Indexes of incoming calls we released, with the full `+CLCC` lists that may
    /// still show them (asked before the release went out): their rows are stale.
    released_rows: Vec<(u8, u8)>,
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
            manual_pin: None,
            creg: None,
            cereg: None,
            cereg_unsupported: false,
            registered: None,
            incoming: Vec::new(),
            incoming_poll: None,
            released_rows: Vec::new(),
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
        self.manual_pin_lost("the modem restarted before the SIM answered");
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
            if let Some(i) = c.index {
                // a list already asked for (in flight or queued) still shows it
                self.released_rows.push((i, 2));
            }
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
                tracing::warn!(command = %sim_card::redact(&f.cmd.text), "modem: command timed out");
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
                // after a PIN typed by a person the answer only updates the state
                let purpose = if self.manual_pin.is_some() {
                    Purpose::PinRecheck
                } else {
                    Purpose::Cpin
                };
                self.push("AT+CPIN?", purpose, self.timing.command);
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
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
// tests read the clock once for a start instant
mod tests;
