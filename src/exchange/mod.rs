//! The exchange: every port, the modem and every call of the box, wired together.
//!
//! Sans-IO like the state machines it owns. Drivers (`crate::app::engine`) feed it
//! line signals, modem bytes and audio frames with the current time, and take back
//! line commands, modem bytes, audio frames, CDRs and transcript notes. It never reads
//! a clock, sleeps or touches a device, so the same code runs in real time on a box and
//! in virtual time in the scenario runner.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;

mod backup;
mod dialout;
mod happening;
mod intake;

pub use backup::{BackupStatus, ForwardState};
pub use happening::{Fact, Happening, Line, NoDial, Release, WaitingRejected};
mod legs;
mod parallel;
mod status;
mod test_call;
mod voicemail;
mod waiting;

pub use status::{CallStatus, PortStatus, Status};
pub use test_call::{TestCallPassed, TestCallResult};

use voicemail::PortRecorder;
pub use voicemail::VoicemailOut;

use crate::call::{self, Action, Call, CallId, Cdr, Event, Intake, LegFailure, Prompt};
use crate::config::{BoardProfile, Config, OverflowReason, PortKind};
use crate::dsp::callerid::{CallerIdDecoder, CallerIdEvent, Signalling};
use crate::dsp::dtmf::{DtmfDetector, DtmfEvent};
use crate::line::{FxoLine, FxoTiming, LineCommand, LineSignal};
use crate::media::{Frame, Player, PromptLibrary, SILENCE};
use crate::modem::{LegEnd, LegId, LegState, Modem, ModemConfig, ModemEvent, ModemTiming, SmsId};

/// Index of a port in the exchange (analog ports in board order, then the modem).
pub type PortIdx = usize;

/// Where the responder's key presses on a modem leg come from (board profile
/// `[modem] dtmf_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DtmfSource {
    /// The exchange's DTMF detector on the call audio only.
    Audio,
    /// The modem's own reports only (Quectel `+QTONEDET`, SIMCom `+RXDTMF`).
    Modem,
    /// Both; the same key from the other source within [`DTMF_DEDUPE`] counts once.
    #[default]
    Both,
}

impl DtmfSource {
    /// Parses `audio`, `modem` or `both`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "audio" => Some(DtmfSource::Audio),
            "modem" => Some(DtmfSource::Modem),
            "both" => Some(DtmfSource::Both),
            _ => None,
        }
    }
}

/// With [`DtmfSource::Both`]: a key reported by the audio detector and by the modem
/// within this window of each other is one key press.
pub const DTMF_DEDUPE: Duration = Duration::from_millis(200);

/// Which detector reported a key on a modem call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigitOrigin {
    /// The exchange's audio DTMF detector.
    Audio,
    /// The modem's own report.
    Modem,
}

impl DigitOrigin {
    fn as_str(self) -> &'static str {
        match self {
            DigitOrigin::Audio => "audio",
            DigitOrigin::Modem => "modem",
        }
    }
}

/// Which side of a call a port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The caller.
    Caller,
    /// A responder.
    Responder,
}

/// What the exchange asks its driver to do or record, from [`Exchange::poll_output`].
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Set an analog line's state (hook on FXO, ringing on FXS).
    Line {
        /// Port.
        port: PortIdx,
        /// Command.
        cmd: LineCommand,
    },
    /// Store a finished call's record.
    Cdr(Box<Cdr>),
    /// A call changed state (typed; the web page and tests follow calls through these).
    Call(CallEvent),
    /// An SMS asked for with [`Command::SendSms`] was sent or failed.
    SmsSent {
        /// The id [`CommandResult::SmsQueued`] returned.
        id: SmsId,
        /// `Err` with the reason when it failed.
        result: Result<(), String>,
    },
    /// An SMS arrived on the modem. It stays in the modem's storage until the driver
    /// has stored it durably and sends [`Command::DeleteSms`] with `indexes`.
    SmsReceived {
        /// Sender.
        from: String,
        /// Text.
        text: String,
        /// Time stamp from the network.
        at: String,
        /// Storage indexes of its parts on the SIM/modem.
        indexes: Vec<u32>,
    },
    /// A new configuration generation is in force for new calls.
    Reloaded {
        /// Its number (the first is 0).
        generation: u64,
        /// Calls in progress then (they finish on their own generation).
        in_progress: usize,
    },
    /// The backup forwarding changed state (verified, drift, failed).
    Backup(BackupStatus),
    /// A trunk left the pool (an FXO line without dial tone) or came back.
    Trunk {
        /// Port id.
        port: String,
        /// Whether it takes dials again.
        in_service: bool,
    },
    /// A caller left a voicemail (it precedes the call's [`Output::Cdr`]); the driver
    /// encodes and stores it off the audio path.
    Voicemail(Box<VoicemailOut>),
    /// A fact for the transcript / log that no other output carries.
    Note(Note),
    /// Pulse the modem's power key (the recovery ladder's hard step); the engine asks
    /// the board.
    ModemPowerCycle,
    /// A self-test call ([`Command::TestCall`]) ended.
    TestCall(TestCallResult),
    /// What became of a PIN sent with [`Command::EnterSimPin`].
    SimPin(crate::modem::PinEntryResult),
}

/// A typed change in a call's life.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    /// A call was taken in.
    Started {
        /// Call id.
        call: CallId,
        /// Routing number id.
        routing_number: String,
        /// Port where it arrived.
        port: String,
        /// Caller ID (the port id for an FXS hotline).
        caller_id: Option<String>,
        /// Configuration generation it runs on.
        generation: u64,
        /// When it arrived (wall clock).
        at: Timestamp,
    },
    /// A responder accepted: the bridge starts.
    Accepted {
        /// Call id.
        call: CallId,
        /// User id of the responder (or `overflow +number`).
        user: String,
        /// When (wall clock).
        at: Timestamp,
    },
    /// The call's phase changed (`greeting`, `menu`, `waiting for a line`, `bridged`, ...).
    Phase {
        /// Call id.
        call: CallId,
        /// New phase.
        phase: &'static str,
    },
    /// The call waits for a free line at this position (1 = next).
    Queued {
        /// Call id.
        call: CallId,
        /// Position.
        position: u32,
    },
    /// A responder (or overflow number) is being called on a trunk.
    Dialling {
        /// Call id.
        call: CallId,
        /// User id (or `overflow +number`).
        user: String,
        /// Port of the trunk.
        port: String,
    },
    /// The call overflowed.
    Overflow {
        /// Call id.
        call: CallId,
        /// Why.
        reason: OverflowReason,
    },
    /// The call reached an alert step of its flow: its alert is created (or updated).
    AlertStep {
        /// Call id.
        call: CallId,
        /// The step's name.
        step: String,
        /// When (wall clock).
        at: Timestamp,
    },
    /// The call ended (its CDR follows).
    Ended {
        /// Call id.
        call: CallId,
        /// End reason.
        reason: EndReason,
    },
}

/// A request to the engine from outside (web page, CLI, tests).
#[derive(Clone)]
pub enum Command {
    /// Use this configuration and prompt library for calls that start from now on;
    /// calls in progress finish on the generation they started with.
    Reload {
        /// The new configuration.
        cfg: Arc<Config>,
        /// Its prompts, rendered.
        prompts: Arc<PromptLibrary>,
    },
    /// End a call now: the caller hears goodbye and is hung up.
    Hangup {
        /// Call id.
        call: CallId,
    },
    /// Delete received SMS from the modem's storage (after they were stored).
    DeleteSms {
        /// Storage indexes from [`Output::SmsReceived`].
        indexes: Vec<u32>,
    },
    /// Send an SMS through the modem.
    SendSms {
        /// E.164 number.
        to: String,
        /// Text (GSM-7 or UCS-2, split into parts as needed).
        text: String,
    },
    /// A self-test call through the modem: ring `number` for at most `ring`, play a
    /// tone for `tone` once answered, hang up; [`Output::TestCall`] tells how it went.
    TestCall {
        /// E.164 number.
        number: String,
        /// How long the tone plays.
        tone: Duration,
        /// How long it may ring.
        ring: Duration,
        /// Started by hand (the web page), not by the periodic self-test: recorded
        /// with this flag and raising no health alert.
        manual: bool,
    },
    /// A SIM PIN typed by a person: sent once while the SIM asks for its PIN;
    /// [`Output::SimPin`] tells how it went. Never logged.
    EnterSimPin {
        /// The PIN (its `Debug` hides the digits).
        pin: crate::modem::Pin,
    },
}

/// What became of a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandResult {
    /// Done.
    Done,
    /// The SMS is queued; [`Output::SmsSent`] with this id follows.
    SmsQueued(SmsId),
    /// The test call is dialling; [`Output::TestCall`] with this id follows.
    TestCallStarted(u64),
    /// Refused, with the reason.
    Rejected(String),
}

/// A noted fact, with the call and port it belongs to. Its `Display` is the
/// transcript / log line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    /// Call id, if the note is about a call.
    pub call: Option<CallId>,
    /// Port id, if the note is about a port.
    pub port: Option<String>,
    /// What happened.
    pub what: Fact,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.what.fmt(f)
    }
}

/// A configuration and the prompts rendered from it: swapped together, so a call never
/// plays a prompt of another configuration than its own.
pub struct Generation {
    /// 0 for the configuration the exchange started with, then counting up.
    pub number: u64,
    /// The configuration.
    pub cfg: Arc<Config>,
    /// Its prompts.
    pub prompts: Arc<PromptLibrary>,
}

struct Port {
    id: String,
    kind: PortKind,
    line: Option<FxoLine>,
    /// Caller ID receiver of an FXO port (FSK and DTMF CLIP), fed while on-hook.
    cid: Option<Box<CallerIdDecoder>>,
    dtmf: DtmfDetector,
    player: Player,
    last_in: Frame,
    owner: Option<(CallId, Side)>,
    bridged_to: Option<PortIdx>,
    /// FXS: the handset is off-hook.
    handset_up: bool,
    /// FXS: the box is ringing the phone.
    ringing: bool,
    /// FXO: a dial-out in progress (until the far end answers).
    dialout: Option<Box<dialout::DialOut>>,
    /// FXO trunk: found dead (no dial tone); out of the pool until then.
    out_of_service_until: Option<Instant>,
    /// Voicemail recorder of the caller on this port.
    recorder: Option<PortRecorder>,
}

/// How one side of a call reaches its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    /// An analog line (FXO or FXS): the port is the call.
    Line,
    /// A modem voice call.
    Modem(LegId),
}

/// One side of a call on a port, with its own DTMF de-duplication.
#[derive(Debug, Clone)]
struct Side_ {
    port: PortIdx,
    carrier: Carrier,
    /// The far end picked up (responder) / the call is answered (caller).
    answered: bool,
    /// The last key counted: digit, when, which source.
    last_digit: Option<(char, Instant, DigitOrigin)>,
    /// When the side was set up (a responder leg's trunk is busy from then on).
    since: Instant,
}

impl Side_ {
    /// A responder leg on an analog line (FXO dial-out or FXS phone), not answered yet.
    fn line(port: PortIdx, now: Instant) -> Self {
        Side_ {
            port,
            carrier: Carrier::Line,
            answered: false,
            last_digit: None,
            since: now,
        }
    }
}

struct Slot {
    call: Call,
    generation: Arc<Generation>,
    caller: Side_,
    /// The responder leg, when one is up.
    leg: Option<Side_>,
    /// Legs of a parallel ring, by their index in the call's group (`parallel.rs`).
    members: Vec<(usize, Side_)>,
    /// A dial waiting for a line.
    wait: Option<legs::Wait>,
    /// This call already waited for the modem in vain: later dials fail at once.
    modem_wait_over: bool,
    /// Overflow as soon as the caller is answered (too many calls in progress).
    overflow_on_answer: bool,
    last_phase: &'static str,
    /// The queue position last told to the caller.
    last_position: Option<u32>,
    /// The voicemail recorded, sent out with the CDR.
    voicemail: Option<VoicemailOut>,
}

/// The exchange.
pub struct Exchange {
    generation: Arc<Generation>,
    ports: Vec<Port>,
    modem: Option<Modem>,
    modem_port: Option<PortIdx>,
    slots: Vec<Slot>,
    next_call: CallId,
    wall_anchor: (Instant, Timestamp),
    seed: u64,
    out: VecDeque<Output>,
    pending: VecDeque<(CallId, Event)>,
    stopping: bool,
    /// Responder DTMF sources in use.
    dtmf_source: DtmfSource,
    /// How long a dial waits for a modem that is not ready.
    ready_wait: Duration,
    /// Order of arrival in the queue.
    queue_seq: u64,
    /// SMS sent on request, by id (so their results become typed outputs).
    sms_requested: Vec<SmsId>,
    /// While a parallel member is being dialled: its index (its leg and any failure
    /// belong to it).
    dial_tag: Option<usize>,
    /// The board's country (tone plan and dialling prefix for FXO trunks).
    country: String,
    /// Conditional call forwarding of the SIM to the backup number.
    backup: backup::Backup,
    /// How long a trunk stays busy with one responder leg, on average (exponential
    /// moving average; the queue's expected-wait estimate).
    leg_hold: Option<Duration>,
    /// The self-test call in progress.
    test_call: Option<test_call::TestCall>,
    /// Self-test calls started (their ids).
    test_calls_started: u64,
    /// Calls to the SIM waiting (ringing) behind the modem's call (`waiting.rs`).
    sim_waiting: Vec<waiting::SimWaiting>,
}

impl Exchange {
    /// Builds the exchange for a board and configuration. `wall` is the wall-clock time
    /// at `now`; `seed` makes responder order reproducible.
    pub fn new(
        board: &BoardProfile,
        cfg: Arc<Config>,
        prompts: Arc<PromptLibrary>,
        now: Instant,
        wall: Timestamp,
        seed: u64,
    ) -> Self {
        let mut ports: Vec<Port> = board
            .ports
            .iter()
            .map(|p| {
                let (id, kind) = p.id_kind();
                Port::new(id.to_string(), kind)
            })
            .collect();
        let mut modem = None;
        let mut modem_port = None;
        if let Some(m) = &board.modem {
            modem = Some(Modem::with_config(
                now,
                ModemTiming::default(),
                ModemConfig::from_profile(m),
            ));
            modem_port = Some(ports.len());
            ports.push(Port::new(m.id.clone(), PortKind::Modem));
        }
        Self {
            generation: Arc::new(Generation {
                number: 0,
                cfg,
                prompts,
            }),
            ports,
            modem,
            modem_port,
            slots: Vec::new(),
            next_call: 1,
            wall_anchor: (now, wall),
            seed,
            out: VecDeque::new(),
            pending: VecDeque::new(),
            stopping: false,
            dtmf_source: board
                .modem
                .as_ref()
                .and_then(|m| DtmfSource::parse(&m.dtmf_source))
                .unwrap_or_default(),
            ready_wait: board.modem.as_ref().map_or(Duration::ZERO, |m| {
                Duration::from_secs(m.ready_wait_seconds)
            }),
            queue_seq: 0,
            sms_requested: Vec::new(),
            dial_tag: None,
            country: board.country.clone(),
            backup: backup::Backup::default(),
            leg_hold: None,
            test_call: None,
            test_calls_started: 0,
            sim_waiting: Vec::new(),
        }
    }

    /// Replaces the configuration for calls that start from now on, keeping the
    /// prompts (iCal feed refreshes: the routing numbers are the same as before). A
    /// configuration with other routing numbers or prompts goes through
    /// [`Command::Reload`] with its prompts.
    pub fn set_config(&mut self, cfg: Arc<Config>) {
        let prompts = self.generation.prompts.clone();
        self.generation = Arc::new(Generation {
            number: self.generation.number + 1,
            cfg,
            prompts,
        });
    }

    /// The configuration generation new calls take.
    pub fn generation(&self) -> &Arc<Generation> {
        &self.generation
    }

    /// Port index by id.
    pub fn port_index(&self, id: &str) -> Option<PortIdx> {
        self.ports.iter().position(|p| p.id == id)
    }

    /// Port id by index.
    pub fn port_id(&self, idx: PortIdx) -> &str {
        self.ports.get(idx).map_or("", |p| p.id.as_str())
    }

    /// Number of ports (audio is exchanged for each on every tick).
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// Index of the modem's voice port.
    pub fn modem_port(&self) -> Option<PortIdx> {
        self.modem_port
    }

    /// Number of calls answered since start.
    pub fn calls_started(&self) -> u64 {
        self.next_call - 1
    }

    /// Number of calls in progress (calls to the SIM waiting behind the modem's call
    /// included).
    pub fn active_calls(&self) -> usize {
        self.slots.len() + self.sim_waiting_count()
    }

    fn wall(&self, now: Instant) -> Timestamp {
        let (mono, wall) = self.wall_anchor;
        let d = jiff::SignedDuration::try_from(now.saturating_duration_since(mono))
            .unwrap_or(jiff::SignedDuration::ZERO);
        wall.checked_add(d).unwrap_or(wall)
    }

    fn note(&mut self, call: Option<CallId>, port: Option<PortIdx>, what: impl Into<Fact>) {
        let port = port.map(|p| self.ports[p].id.clone());
        self.out.push_back(Output::Note(Note {
            call,
            port,
            what: what.into(),
        }));
    }

    fn slot(&self, id: CallId) -> Option<usize> {
        self.slots.iter().position(|s| s.call.id() == id)
    }

    // ---- commands ------------------------------------------------------------------

    /// A request from outside the engine.
    pub fn command(&mut self, now: Instant, cmd: Command) -> CommandResult {
        let result = match cmd {
            Command::Reload { cfg, prompts } => {
                let number = self.generation.number + 1;
                self.generation = Arc::new(Generation {
                    number,
                    cfg,
                    prompts,
                });
                self.out.push_back(Output::Reloaded {
                    generation: number,
                    in_progress: self.slots.len(),
                });
                self.sync_backup(now);
                CommandResult::Done
            }
            Command::Hangup { call } => match self.slot(call) {
                Some(si) => {
                    self.note(Some(call), None, Happening::HangupRequested);
                    let actions = self.slots[si].call.shutdown(now);
                    self.apply(now, call, actions);
                    CommandResult::Done
                }
                None if self.hang_up_waiting(now, call) => CommandResult::Done,
                None => CommandResult::Rejected(format!("no call {call} in progress")),
            },
            Command::DeleteSms { indexes } => match self.modem.as_mut() {
                Some(m) => {
                    m.delete_sms(now, &indexes);
                    CommandResult::Done
                }
                None => CommandResult::Rejected("this board has no modem".into()),
            },
            Command::SendSms { to, text } => match self.modem.as_mut() {
                Some(m) if crate::config::is_e164(&to) => {
                    let id = m.send_sms(now, &to, &text);
                    self.sms_requested.push(id);
                    self.drain_modem(now);
                    CommandResult::SmsQueued(id)
                }
                Some(_) => CommandResult::Rejected(format!(
                    "`{to}` is not an E.164 number: write it with + and country code"
                )),
                None => CommandResult::Rejected("this board has no modem".into()),
            },
            Command::TestCall {
                number,
                tone,
                ring,
                manual,
            } => self.start_test_call(now, &number, tone, ring, manual),
            Command::EnterSimPin { pin } => match self.modem.as_mut() {
                Some(m) => match m.enter_sim_pin(now, &pin) {
                    Ok(()) => {
                        self.note(None, self.modem_port, Happening::SimPinSent);
                        self.drain_modem(now);
                        CommandResult::Done
                    }
                    Err(why) => CommandResult::Rejected(why),
                },
                None => CommandResult::Rejected("this board has no modem".into()),
            },
        };
        self.run_pending(now);
        result
    }

    // ---- inputs -------------------------------------------------------------------

    /// Bytes read from the modem's AT port.
    pub fn on_modem_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if let Some(m) = self.modem.as_mut() {
            m.handle_input(now, bytes);
        }
        self.drain_modem(now);
        self.run_pending(now);
    }

    /// The modem's AT port was lost (`up == false`, with the reason) or opened again.
    pub fn on_modem_link(&mut self, now: Instant, up: bool, why: &str) {
        if let Some(m) = self.modem.as_mut() {
            if up {
                m.link_up(now);
            } else {
                m.link_down(now, why);
            }
        }
        self.drain_modem(now);
        self.run_pending(now);
    }

    /// Bytes to write to the modem's AT port.
    pub fn poll_modem_transmit(&mut self) -> Option<Vec<u8>> {
        self.modem.as_mut().and_then(|m| m.poll_transmit())
    }

    fn drain_modem(&mut self, now: Instant) {
        while let Some(ev) = self.modem.as_mut().and_then(|m| m.poll_event()) {
            match ev {
                ModemEvent::Ready => {
                    self.note(None, self.modem_port, Happening::ModemReady);
                    if self.dtmf_source == DtmfSource::Modem && !self.modem_reports_dtmf() {
                        self.note(None, self.modem_port, Happening::ModemNoDtmf);
                    }
                    self.serve_waiting(now);
                    self.sync_backup(now);
                }
                ModemEvent::Fault(f) => {
                    tracing::warn!("modem fault: {f}");
                    self.note(
                        None,
                        self.modem_port,
                        Happening::ModemFault {
                            fault: f.to_string(),
                        },
                    );
                    if self.modem.as_ref().is_some_and(Modem::init_stopped) {
                        // it will not become ready by itself: no use waiting for it
                        self.expire_modem_waits(NoDial::ModemStopped);
                    }
                }
                ModemEvent::SmsReceived {
                    from,
                    text,
                    at,
                    indexes,
                } => {
                    self.out.push_back(Output::SmsReceived {
                        from,
                        text,
                        at: at.to_string(),
                        indexes,
                    });
                }
                ModemEvent::SmsSent { id, result } => {
                    if let Some(i) = self.sms_requested.iter().position(|x| *x == id) {
                        self.sms_requested.swap_remove(i);
                        self.out.push_back(Output::SmsSent {
                            id,
                            result: result.map(|_| ()).map_err(|e| e.to_string()),
                        });
                    }
                }
                // the exchange makes no queries
                ModemEvent::Response { .. } => {}
                ModemEvent::SimPin(r) => self.out.push_back(Output::SimPin(r)),
                ModemEvent::Reset { reason } => {
                    tracing::warn!("modem reset: {reason}");
                    self.note(None, self.modem_port, Happening::ModemReset { reason });
                }
                ModemEvent::Recovered => {
                    tracing::info!("modem answers again after a reset; initialising");
                    self.note(None, self.modem_port, Happening::ModemRecovered);
                }
                ModemEvent::PowerCycle => {
                    self.out.push_back(Output::ModemPowerCycle);
                }
                ModemEvent::Incoming { leg, caller_id } => {
                    if self.sim_waiting_presented(now, leg) {
                        continue;
                    }
                    self.note(
                        None,
                        self.modem_port,
                        Happening::IncomingCall {
                            caller_id: caller_id.clone(),
                            modem: true,
                        },
                    );
                    let port = self.modem_port;
                    let busy = port.is_some_and(|p| self.ports[p].owner.is_some())
                        || self.modem_in_test_call();
                    match port {
                        Some(p) if !busy => self.intake(
                            now,
                            p,
                            Carrier::Modem(leg),
                            Intake {
                                caller_id,
                                hotline: false,
                            },
                        ),
                        _ => {
                            self.note(None, port, Happening::ModemInUse);
                            self.refuse(now, 0, Carrier::Modem(leg));
                        }
                    }
                }
                ModemEvent::CallWaiting { leg, caller_id } => {
                    self.on_call_waiting(now, leg, caller_id);
                }
                ModemEvent::Dtmf { leg, digit } => {
                    if self.dtmf_source == DtmfSource::Audio {
                        continue;
                    }
                    let found = self.slots.iter().find_map(|s| {
                        if s.caller.carrier == Carrier::Modem(leg) && s.caller.answered {
                            Some((s.call.id(), Side::Caller))
                        } else if s
                            .leg
                            .iter()
                            .chain(s.members.iter().map(|(_, l)| l))
                            .any(|l| l.carrier == Carrier::Modem(leg) && l.answered)
                        {
                            Some((s.call.id(), Side::Responder))
                        } else {
                            None
                        }
                    });
                    if let Some((call, side)) = found {
                        self.counted_digit(now, call, side, digit, DigitOrigin::Modem);
                    }
                }
                ModemEvent::Forwarding { id, result } => self.on_forwarding(now, id, result),
                ModemEvent::Registration { registered, state } => {
                    self.note(
                        None,
                        self.modem_port,
                        Happening::Registration {
                            registered,
                            state: state.to_string(),
                        },
                    );
                }
                ModemEvent::Leg { leg, state } => self.on_modem_leg(now, leg, state),
            }
        }
    }

    /// A modem voice call changed state: the caller's side of a call to the SIM, or a
    /// responder leg.
    fn on_modem_leg(&mut self, now: Instant, leg: LegId, state: LegState) {
        if self.test_call_leg(now, leg, &state) || self.sim_waiting_leg(now, leg, &state) {
            return;
        }
        if let Some(si) = self
            .slots
            .iter()
            .position(|s| s.caller.carrier == Carrier::Modem(leg))
        {
            let id = self.slots[si].call.id();
            match state {
                LegState::Active if !self.slots[si].caller.answered => {
                    self.note(Some(id), self.modem_port, Happening::Answered);
                    self.caller_answered(si);
                }
                LegState::Ended(_) => {
                    self.slots[si].caller.carrier = Carrier::Line;
                    self.pending.push_back((id, Event::CallerHangup));
                }
                _ => {}
            }
            return;
        }
        let Some(si) = self.slots.iter().position(|s| {
            s.leg
                .iter()
                .chain(s.members.iter().map(|(_, l)| l))
                .any(|l| l.carrier == Carrier::Modem(leg))
        }) else {
            return;
        };
        let Some(mp) = self.modem_port else { return };
        let id = self.slots[si].call.id();
        let mut why_failed = None;
        let event = match state {
            LegState::Alerting => Event::LegAlerting,
            // the exchange never holds a leg
            LegState::Held => return,
            LegState::Active => {
                if let Some(l) = self.responder_mut(si, mp) {
                    l.answered = true;
                }
                Event::LegAnswered
            }
            LegState::Ended(end) => {
                if let LegEnd::Error(why) = &end {
                    why_failed = Some(why.clone());
                }
                let answered = self.responder_answered(id, mp);
                if answered {
                    Event::LegHangup
                } else {
                    Event::LegFailed(match end {
                        LegEnd::Busy => LegFailure::Busy,
                        LegEnd::NoAnswer => LegFailure::NoAnswer,
                        LegEnd::NoCarrier | LegEnd::Error(_) => LegFailure::Failed,
                    })
                }
            }
        };
        let what = match &event {
            Event::LegAlerting => Some(Happening::ResponderRinging),
            Event::LegAnswered => Some(Happening::ResponderPickedUp { by_voice: false }),
            Event::LegHangup => Some(Happening::ResponderHungUp { cause: why_failed }),
            Event::LegFailed(f) => Some(Happening::DialFailed {
                failure: *f,
                cause: why_failed,
            }),
            _ => None,
        };
        if let Some(what) = what {
            self.note(Some(id), self.modem_port, what);
        }
        let ended = matches!(event, Event::LegHangup | Event::LegFailed(_));
        let event = self.responder_event(id, Some(mp), event);
        if ended {
            self.release_responder(id, mp, now);
        }
        self.pending.push_back((id, event));
    }

    /// One 20 ms frame received on a port.
    pub fn on_audio(&mut self, now: Instant, port: PortIdx, frame: &Frame) {
        self.caller_id_audio(now, port, frame);
        let modem_dtmf_only = self.dtmf_source == DtmfSource::Modem && self.modem_reports_dtmf();
        let Some(p) = self.ports.get_mut(port) else {
            return;
        };
        p.last_in = *frame;
        let Some((call, side)) = p.owner else { return };
        if p.dialout.is_some() {
            self.dialout_audio(now, port, call, frame);
            self.run_pending(now);
            return;
        }
        let Some(si) = self.slots.iter().position(|s| s.call.id() == call) else {
            return;
        };
        let listening = match side {
            Side::Caller => {
                let slot = &self.slots[si];
                match slot.caller.carrier {
                    Carrier::Modem(_) => slot.caller.answered,
                    Carrier::Line => self.ports[port]
                        .line
                        .as_ref()
                        .is_none_or(|l| l.is_off_hook()),
                }
            }
            Side::Responder => self.responder_answered(call, port),
        };
        if !listening {
            return;
        }
        if side == Side::Caller {
            self.record_frame(port, call, frame);
        }
        let on_modem = Some(port) == self.modem_port;
        if on_modem && modem_dtmf_only {
            return;
        }
        let mut digits: heapless::Vec<char, 4> = heapless::Vec::new();
        self.ports[port].dtmf.push(frame, |e| {
            if let DtmfEvent::Start { digit, .. } = e {
                let _ = digits.push(digit);
            }
        });
        for d in digits {
            if on_modem {
                self.counted_digit(now, call, side, d, DigitOrigin::Audio);
            } else {
                self.note(
                    Some(call),
                    Some(port),
                    Happening::KeyPressed {
                        side,
                        key: d,
                        origin: None,
                    },
                );
                self.push_responder(call, Some(port), digit_event(side, d));
            }
        }
        self.run_pending(now);
    }

    /// Whether the modem's dialect reports far-end DTMF (Quectel `+QTONEDET`, SIMCom
    /// `+RXDTMF`); a generic modem does not, so `dtmf_source = "modem"` falls back to
    /// the audio detector there.
    fn modem_reports_dtmf(&self) -> bool {
        self.modem
            .as_ref()
            .is_some_and(|m| m.dialect() != crate::modem::Dialect::Generic)
    }

    /// A key on a modem call from one detector: counted unless the other detector
    /// reported the same key on the same leg within [`DTMF_DEDUPE`].
    fn counted_digit(
        &mut self,
        now: Instant,
        call: CallId,
        side: Side,
        d: char,
        origin: DigitOrigin,
    ) {
        let Some(si) = self.slot(call) else { return };
        let mp = self.modem_port.unwrap_or(usize::MAX);
        let Some(s) = (match side {
            Side::Caller => Some(&mut self.slots[si].caller),
            Side::Responder => self.responder_mut(si, mp),
        }) else {
            return;
        };
        if let Some((last, at, from)) = s.last_digit {
            let apart = now
                .saturating_duration_since(at)
                .max(at.saturating_duration_since(now));
            if last == d && from != origin && apart <= DTMF_DEDUPE {
                // the second report of one key press; a third one counts again
                s.last_digit = None;
                self.note(
                    Some(call),
                    self.modem_port,
                    Happening::KeyCountedOnce {
                        side,
                        key: d,
                        origin,
                    },
                );
                return;
            }
        }
        s.last_digit = Some((d, now, origin));
        self.note(
            Some(call),
            self.modem_port,
            Happening::KeyPressed {
                side,
                key: d,
                origin: Some(origin),
            },
        );
        self.push_responder(call, self.modem_port, digit_event(side, d));
    }

    /// Runs the caller ID receiver of an on-hook FXO port (caller ID comes as FSK or
    /// DTMF between the rings or before them) and hands a received number to the line
    /// state machine.
    fn caller_id_audio(&mut self, now: Instant, port: PortIdx, frame: &Frame) {
        let Some(p) = self.ports.get_mut(port) else {
            return;
        };
        let (Some(line), Some(dec)) = (p.line.as_ref(), p.cid.as_mut()) else {
            return;
        };
        if line.is_off_hook() {
            return;
        }
        let mut got: Option<CallerIdEvent> = None;
        dec.push(frame, |e| got = Some(e));
        let Some(e) = got else { return };
        let rejected = |why: String| (None, Happening::CallerIdRejected { why });
        let (number, what) = match e {
            CallerIdEvent::Fsk(m) => match m.caller_id() {
                Ok(id) => (
                    id.number.clone(),
                    Happening::CallerId {
                        number: id.number.clone(),
                        detail: format!(
                            "{} {}, {:.0} dBm0{}",
                            m.standard.name(),
                            m.format().name(),
                            m.level_dbm0,
                            id.name.map(|n| format!(", name {n:?}")).unwrap_or_default()
                        ),
                    },
                ),
                Err(err) => rejected(format!("message not understood: {err}")),
            },
            CallerIdEvent::Clip(c) => match c.caller_id() {
                Ok(id) => (
                    id.number.clone(),
                    Happening::CallerId {
                        number: id.number.clone(),
                        detail: format!("DTMF {}", c.as_str()),
                    },
                ),
                Err(err) => rejected(err.to_string()),
            },
            CallerIdEvent::Error(err) => rejected(err.to_string()),
        };
        self.note(None, Some(port), what);
        if let Some(n) = number {
            self.on_line_signal(now, port, LineSignal::CallerId(n));
        }
    }

    /// The 20 ms frame to send on a port.
    pub fn fill_audio(&mut self, now: Instant, port: PortIdx, out: &mut Frame) {
        let Some(p) = self.ports.get(port) else {
            *out = SILENCE;
            return;
        };
        if let Some(peer) = p.bridged_to {
            *out = self.ports[peer].last_in;
            return;
        }
        let p = &mut self.ports[port];
        if p.player.fill(out) {
            if let Some((call, side)) = p.owner {
                let ev = match side {
                    Side::Caller => Event::CallerPromptDone,
                    Side::Responder => Event::ResponderPromptDone,
                };
                self.push_responder(call, Some(port), ev);
                self.run_pending(now);
            }
        }
    }

    /// The next instant at which [`Exchange::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.slots.iter().filter_map(|s| s.call.poll_timeout());
        let lines = self
            .ports
            .iter()
            .filter_map(|p| p.line.as_ref().and_then(|l| l.poll_timeout()));
        let modem = self.modem.as_ref().and_then(|m| m.poll_timeout());
        let waits = self
            .slots
            .iter()
            .filter_map(|s| s.wait.as_ref().map(legs::Wait::next_due));
        let dialouts = self
            .ports
            .iter()
            .filter_map(|p| p.dialout.as_ref().and_then(|d| d.deadline()));
        calls
            .chain(lines)
            .chain(modem)
            .chain(waits)
            .chain(dialouts)
            .chain(self.out_of_service_timeout())
            .chain(self.backup.poll_timeout())
            .chain(self.test_call_timeout())
            .chain(self.sim_waiting_timeout())
            .min()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(m) = self.modem.as_mut() {
            m.handle_timeout(now);
        }
        self.drain_modem(now);
        for i in 0..self.ports.len() {
            let ev = self.ports[i]
                .line
                .as_mut()
                .and_then(|l| l.handle_timeout(now));
            if let Some(ev) = ev {
                self.on_line_event(now, i, ev);
            }
        }
        self.wait_timers(now);
        self.dialout_timers(now);
        self.test_call_timers(now);
        self.sim_waiting_timers(now);
        self.recheck_backup(now);
        let due: Vec<CallId> = self
            .slots
            .iter()
            .filter(|s| s.call.poll_timeout().is_some_and(|t| t <= now))
            .map(|s| s.call.id())
            .collect();
        for id in due {
            if let Some(si) = self.slot(id) {
                let actions = self.slots[si].call.handle_timeout(now);
                self.apply(now, id, actions);
            }
        }
        self.run_pending(now);
    }

    /// Starts a graceful stop: new calls are not answered, calls in progress hear a
    /// goodbye and are hung up. Done when [`Exchange::active_calls`] is 0.
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        self.reject_all_waiting(now);
        let ids: Vec<CallId> = self.slots.iter().map(|s| s.call.id()).collect();
        for id in ids {
            if let Some(si) = self.slot(id) {
                let actions = self.slots[si].call.shutdown(now);
                self.apply(now, id, actions);
            }
        }
        self.run_pending(now);
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        let o = self.out.pop_front()?;
        // the line is only formatted when someone reads the log
        if tracing::enabled!(tracing::Level::INFO)
            && let Some(l) = o.describe()
        {
            match l.call {
                Some(id) => tracing::info!(call = id, port = l.port, "{}", l.text),
                None => tracing::info!(port = l.port, "{}", l.text),
            }
        }
        Some(o)
    }

    // ---- internals ------------------------------------------------------------------

    fn run_pending(&mut self, now: Instant) {
        while let Some((id, ev)) = self.pending.pop_front() {
            if let Some(si) = self.slot(id) {
                let actions = self.slots[si].call.handle(now, ev);
                self.apply(now, id, actions);
            }
        }
    }

    fn clips(&self, si: usize, prompts: &[Prompt]) -> (Vec<Arc<[i16]>>, String) {
        let slot = &self.slots[si];
        let routing = slot.call.routing_id();
        let mut clips = Vec::new();
        let mut texts = Vec::new();
        for &p in prompts {
            if p == Prompt::Beep {
                let mut beep = vec![0i16; 3600];
                crate::dsp::tone::ToneGen::single(1000.0, -12.0).fill(&mut beep[..3200]);
                clips.push(beep.into());
                texts.push("<beep>".to_string());
            } else if let Some(c) = slot.generation.prompts.get(routing, p) {
                clips.push(c.samples.clone());
                texts.push(c.text.clone());
            } else {
                // Never silence: a missing clip (a bug) becomes a short beep.
                tracing::error!(?p, routing, "prompt not rendered; playing a beep instead");
                let mut beep = vec![0i16; 4000];
                crate::dsp::tone::ToneGen::single(1000.0, -15.0).fill(&mut beep);
                clips.push(beep.into());
                texts.push(format!("<beep: {p:?} missing>"));
            }
        }
        // A short pause after speech, so a prompt never runs into the next sound.
        clips.push(Arc::from(vec![0i16; 2400]));
        (clips, texts.join(" "))
    }

    fn apply(&mut self, now: Instant, id: CallId, actions: Vec<Action>) {
        for action in actions {
            let Some(si) = self.slot(id) else {
                return;
            };
            let caller_port = self.slots[si].caller.port;
            match action {
                Action::AnswerCaller => {
                    match self.slots[si].caller.carrier {
                        Carrier::Modem(leg) => {
                            // answered when the modem reports the call active
                            if let Some(m) = self.modem.as_mut() {
                                m.answer(now, leg);
                            }
                            self.note(Some(id), Some(caller_port), Happening::Answering);
                        }
                        Carrier::Line => {
                            if let Some(l) = self.ports[caller_port].line.as_mut() {
                                let cmd = l.command(LineCommand::OffHook);
                                // Forget any half-received caller ID for the next call.
                                if let Some(d) = self.ports[caller_port].cid.as_mut() {
                                    **d = CallerIdDecoder::new(Signalling::Auto);
                                }
                                self.out.push_back(Output::Line {
                                    port: caller_port,
                                    cmd,
                                });
                            }
                            self.note(Some(id), Some(caller_port), Happening::Answered);
                            self.caller_answered(si);
                        }
                    }
                }
                Action::PlayCaller(prompts) => {
                    let (clips, text) = self.clips(si, &prompts);
                    self.ports[caller_port].player.play(clips);
                    self.note(Some(id), Some(caller_port), Happening::CallerHears { text });
                }
                Action::HoldMusic => {
                    let hold = self.slots[si].generation.prompts.hold_music();
                    self.ports[caller_port].player.hold_music(hold);
                    self.note(Some(id), Some(caller_port), Happening::HoldMusic);
                }
                Action::Dial { number, user } => self.dial(now, si, number, user),
                Action::DialMember {
                    index,
                    number,
                    user,
                } => self.dial_member(now, si, index, number, user),
                Action::HangupMember(index) => self.hangup_member(now, si, index),
                Action::AdoptMember(index) => self.adopt_member(now, si, index),
                Action::PlayMember(index, p) => {
                    let port = self.slots[si]
                        .members
                        .iter()
                        .find(|(i, _)| *i == index)
                        .map(|(_, l)| l.port);
                    if let Some(port) = port {
                        let (clips, text) = self.clips(si, &[p]);
                        self.ports[port].player.play(clips);
                        self.note(Some(id), Some(port), Happening::ResponderHears { text });
                    }
                }
                Action::PlayResponder(p) => {
                    if let Some(port) = self.slots[si].leg.as_ref().map(|l| l.port) {
                        let (clips, text) = self.clips(si, &[p]);
                        self.ports[port].player.play(clips);
                        self.note(Some(id), Some(port), Happening::ResponderHears { text });
                    }
                }
                Action::HangupLeg => self.hangup_leg(now, si),
                Action::Bridge => {
                    if let Some(port) = self.slots[si].leg.as_ref().map(|l| l.port) {
                        self.ports[port].bridged_to = Some(caller_port);
                        self.ports[caller_port].bridged_to = Some(port);
                        self.ports[port].player.stop();
                        self.ports[caller_port].player.stop();
                        let user = self.slots[si].call.accepted_by().unwrap_or("").to_string();
                        self.out.push_back(Output::Call(CallEvent::Accepted {
                            call: id,
                            user,
                            at: self.wall(now),
                        }));
                    }
                }
                Action::HangupCaller => {
                    let p = &mut self.ports[caller_port];
                    p.player.stop();
                    if let Some(peer) = p.bridged_to.take() {
                        self.ports[peer].bridged_to = None;
                    }
                    match self.slots[si].caller.carrier {
                        Carrier::Modem(leg) => {
                            if let Some(m) = self.modem.as_mut() {
                                m.hangup(now, leg);
                            }
                            self.slots[si].caller.carrier = Carrier::Line;
                            self.note(
                                Some(id),
                                Some(caller_port),
                                Happening::CallerReleased {
                                    how: Release::ModemCall,
                                },
                            );
                        }
                        Carrier::Line if self.ports[caller_port].kind == PortKind::Fxs => {
                            self.release_phone(caller_port);
                            self.note(
                                Some(id),
                                Some(caller_port),
                                Happening::CallerReleased {
                                    how: Release::HotlinePhone,
                                },
                            );
                        }
                        Carrier::Line => {
                            let p = &mut self.ports[caller_port];
                            if let Some(l) = p.line.as_mut().filter(|l| l.is_off_hook()) {
                                let cmd = l.command(LineCommand::OnHook);
                                self.out.push_back(Output::Line {
                                    port: caller_port,
                                    cmd,
                                });
                                self.note(
                                    Some(id),
                                    Some(caller_port),
                                    Happening::CallerReleased { how: Release::Line },
                                );
                            }
                        }
                    }
                }
                Action::StartRecording { max, silence } => {
                    self.start_recording(now, id, caller_port, max, silence);
                }
                Action::StopRecording(why) => self.stop_recording(si, why),
                Action::Note(n) => self.note(Some(id), None, n),
                Action::Alert { step } => {
                    self.out.push_back(Output::Call(CallEvent::AlertStep {
                        call: id,
                        step,
                        at: self.wall(now),
                    }));
                }
                Action::Finished(cdr) => {
                    if self.slots[si].leg.is_some() || self.slots[si].wait.is_some() {
                        // The call SM always hangs up its leg first; be defensive anyway.
                        self.hangup_leg(now, si);
                    }
                    self.hangup_members(now, si);
                    let mut slot = self.slots.remove(si);
                    let p = &mut self.ports[slot.caller.port];
                    p.owner = None;
                    p.recorder = None;
                    p.player.stop();
                    p.dtmf = DtmfDetector::new();
                    self.out.push_back(Output::Call(CallEvent::Ended {
                        call: id,
                        reason: cdr.end_reason,
                    }));
                    if let Some(vm) = slot.voicemail.take() {
                        self.out.push_back(Output::Voicemail(Box::new(vm)));
                    }
                    self.out.push_back(Output::Cdr(cdr));
                    // the caller's port may carry a trunk (the modem) someone waits for
                    self.serve_waiting(now);
                    return;
                }
            }
        }
        if let Some(si) = self.slot(id) {
            let phase = self.slots[si].call.phase();
            if phase != self.slots[si].last_phase {
                self.slots[si].last_phase = phase;
                self.out
                    .push_back(Output::Call(CallEvent::Phase { call: id, phase }));
            }
        }
    }
}

fn digit_event(side: Side, d: char) -> Event {
    match side {
        Side::Caller => Event::CallerDigit(d),
        Side::Responder => Event::ResponderDigit(d),
    }
}

impl Port {
    fn new(id: String, kind: PortKind) -> Self {
        Self {
            id,
            kind,
            line: (kind == PortKind::Fxo).then(|| FxoLine::new(FxoTiming::default())),
            cid: (kind == PortKind::Fxo).then(|| Box::new(CallerIdDecoder::new(Signalling::Auto))),
            dtmf: DtmfDetector::new(),
            player: Player::default(),
            last_in: SILENCE,
            owner: None,
            bridged_to: None,
            handset_up: false,
            ringing: false,
            dialout: None,
            out_of_service_until: None,
            recorder: None,
        }
    }
}

/// Re-exported for drivers that only need the call types.
pub use call::EndReason;

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
// tests read the clock once for a start instant
mod tests;
