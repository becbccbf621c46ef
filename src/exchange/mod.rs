//! The exchange: every port, the modem and every call of the box, wired together.
//!
//! Sans-IO like the state machines it owns. Drivers (`crate::app::engine`) feed it
//! line signals, modem bytes and audio frames with the current time, and take back
//! line commands, modem bytes, audio frames, CDRs and transcript notes. It never reads
//! a clock, sleeps or touches a device, so the same code runs in real time on a box and
//! in virtual time in the scenario runner.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;

use crate::call::{self, Action, Call, CallId, Cdr, Event, LegFailure, Prompt};
use crate::config::{BoardProfile, Config, PortKind};
use crate::dsp::callerid::{CallerIdDecoder, CallerIdEvent, Signalling};
use crate::dsp::dtmf::{DtmfDetector, DtmfEvent};
use crate::line::{FxoLine, FxoTiming, LineCommand, LineEvent, LineSignal};
use crate::media::{Frame, Player, PromptLibrary, SILENCE};
use crate::modem::{
    LegEnd, LegId, LegState, Modem, ModemConfig, ModemEvent, ModemStatus, ModemTiming,
};

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

/// Which detector reported a responder key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigitOrigin {
    Audio,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Caller,
    Responder,
}

/// What the exchange asks its driver to do or record.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Put an analog line on- or off-hook.
    Line {
        /// Port.
        port: PortIdx,
        /// Command.
        cmd: LineCommand,
    },
    /// Store a finished call's record.
    Cdr(Box<Cdr>),
    /// A line for the transcript / log.
    Note(Note),
    /// Pulse the modem's power key (the recovery ladder's hard step); the engine asks
    /// the board.
    ModemPowerCycle,
}

/// A human-readable event, with the call it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    /// Call id, if the note is about a call.
    pub call: Option<CallId>,
    /// Port id, if the note is about a port.
    pub port: Option<String>,
    /// What happened.
    pub text: String,
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
}

struct Slot {
    call: Call,
    caller_port: PortIdx,
    leg: Option<LegId>,
    leg_answered: bool,
    /// A dial waiting for the modem to be ready (after a reset).
    deferred: Option<Deferred>,
    /// This call already waited for the modem in vain: later dials fail at once.
    modem_wait_over: bool,
}

/// A dial that waits for the modem.
struct Deferred {
    number: String,
    user: String,
    since: Instant,
    deadline: Instant,
}

/// Status of a port for `/api/status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortStatus {
    /// Port id.
    pub id: String,
    /// `fxo`, `fxs`, `modem`.
    pub kind: &'static str,
    /// `idle`, `ringing`, `off-hook`, `in-call`, ...
    pub state: String,
    /// Call using the port.
    pub call: Option<CallId>,
}

/// Status of a call for `/api/status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallStatus {
    /// Call id.
    pub id: CallId,
    /// Routing number name.
    pub routing_number: String,
    /// Phase (`greeting`, `menu`, `ringing responder`, `bridged`, ...).
    pub phase: &'static str,
}

/// A snapshot of the exchange.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Status {
    /// Ports.
    pub ports: Vec<PortStatus>,
    /// Modem, if fitted.
    pub modem: Option<ModemStatus>,
    /// Active calls.
    pub calls: Vec<CallStatus>,
}

/// The exchange.
pub struct Exchange {
    cfg: Arc<Config>,
    prompts: Arc<PromptLibrary>,
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
    /// The last responder key counted: digit, when, which source (de-duplication).
    last_responder_digit: Option<(char, Instant, DigitOrigin)>,
    /// How long a dial waits for a modem that is not ready.
    ready_wait: Duration,
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
            .map(|p| Port::new(p.id.get_ref().clone(), *p.kind.get_ref()))
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
            cfg,
            prompts,
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
            last_responder_digit: None,
            ready_wait: board.modem.as_ref().map_or(Duration::ZERO, |m| {
                Duration::from_secs(m.ready_wait_seconds)
            }),
        }
    }

    /// Replaces the configuration for calls that start from now on (calls in progress
    /// keep the one they started with). Used when iCal feeds are refreshed; the routing
    /// numbers and prompts must be the same as before.
    pub fn set_config(&mut self, cfg: Arc<Config>) {
        self.cfg = cfg;
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

    /// Number of calls in progress.
    pub fn active_calls(&self) -> usize {
        self.slots.len()
    }

    fn wall(&self, now: Instant) -> Timestamp {
        let (mono, wall) = self.wall_anchor;
        let d = jiff::SignedDuration::try_from(now.saturating_duration_since(mono))
            .unwrap_or(jiff::SignedDuration::ZERO);
        wall.checked_add(d).unwrap_or(wall)
    }

    fn note(&mut self, call: Option<CallId>, port: Option<PortIdx>, text: impl Into<String>) {
        let text = text.into();
        let port = port.map(|p| self.ports[p].id.clone());
        match call {
            Some(id) => tracing::info!(call = id, port = port.as_deref(), "{text}"),
            None => tracing::info!(port = port.as_deref(), "{text}"),
        }
        self.out.push_back(Output::Note(Note { call, port, text }));
    }

    // ---- inputs -------------------------------------------------------------------

    /// A signal from an analog line.
    pub fn on_line_signal(&mut self, now: Instant, port: PortIdx, sig: LineSignal) {
        let Some(ev) = self
            .ports
            .get_mut(port)
            .and_then(|p| p.line.as_mut())
            .and_then(|l| l.on_signal(now, sig))
        else {
            return;
        };
        self.on_line_event(now, port, ev);
        self.run_pending(now);
    }

    fn on_line_event(&mut self, now: Instant, port: PortIdx, ev: LineEvent) {
        match ev {
            LineEvent::Incoming { caller_id } => {
                let cid = caller_id.clone().unwrap_or_else(|| "unknown".into());
                self.note(None, Some(port), format!("incoming call from {cid}"));
                let id = self.ports[port].id.clone();
                let Some(routing) = self
                    .cfg
                    .routing_numbers
                    .iter()
                    .position(|r| *r.port.get_ref() == id)
                else {
                    self.note(
                        None,
                        Some(port),
                        "no routing number on this port; the call is not answered",
                    );
                    return;
                };
                if self.stopping {
                    self.note(
                        None,
                        Some(port),
                        "service is stopping; the call is not answered",
                    );
                    return;
                }
                let call_id = self.next_call;
                self.next_call += 1;
                let (call, actions) = Call::new(
                    call_id,
                    self.cfg.clone(),
                    routing,
                    caller_id,
                    now,
                    self.wall(now),
                    self.seed.wrapping_add(call_id),
                );
                self.ports[port].owner = Some((call_id, Side::Caller));
                self.slots.push(Slot {
                    call,
                    caller_port: port,
                    leg: None,
                    leg_answered: false,
                    deferred: None,
                    modem_wait_over: false,
                });
                self.apply(now, call_id, actions);
            }
            LineEvent::Abandoned => self.note(
                None,
                Some(port),
                "ringing stopped before the call was answered",
            ),
            LineEvent::Disconnected => {
                if let Some((call, Side::Caller)) = self.ports[port].owner {
                    self.pending.push_back((call, Event::CallerHangup));
                }
            }
        }
    }

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
                    self.note(None, self.modem_port, "modem ready");
                    if self.dtmf_source == DtmfSource::Modem && !self.modem_reports_dtmf() {
                        self.note(
                            None,
                            self.modem_port,
                            "dtmf_source = \"modem\", but this modem (generic dialect) does not report DTMF: responder keys come from the audio detector",
                        );
                    }
                    self.dial_deferred(now);
                }
                ModemEvent::Fault(f) => {
                    tracing::warn!("modem fault: {f}");
                    self.note(None, self.modem_port, format!("modem fault: {f}"));
                    if self.modem.as_ref().is_some_and(Modem::init_stopped) {
                        // it will not become ready by itself: no use waiting for it
                        self.expire_deferred_now(
                            "the modem cannot be used (initialisation stopped; see the modem fault)",
                        );
                    }
                }
                ModemEvent::SmsReceived { from, text, at } => {
                    // no SMS routing yet: record it where an operator sees it
                    self.note(
                        None,
                        self.modem_port,
                        format!("SMS from {from} at {at}: {text}"),
                    );
                }
                ModemEvent::SmsSent { id, result } => {
                    if let Err(e) = result {
                        self.note(None, self.modem_port, format!("SMS {id} failed: {e}"));
                    }
                }
                // the exchange makes no queries
                ModemEvent::Response { .. } => {}
                ModemEvent::Reset { reason } => {
                    tracing::warn!("modem reset: {reason}");
                    self.note(None, self.modem_port, format!("modem reset: {reason}"));
                }
                ModemEvent::Recovered => {
                    tracing::info!("modem answers again after a reset; initialising");
                    self.note(None, self.modem_port, "modem recovered; initialising");
                }
                ModemEvent::PowerCycle => {
                    self.note(None, self.modem_port, "modem power cycle requested");
                    self.out.push_back(Output::ModemPowerCycle);
                }
                ModemEvent::Incoming { leg, caller_id } => {
                    let cid = caller_id.unwrap_or_else(|| "unknown".into());
                    self.note(
                        None,
                        self.modem_port,
                        format!("incoming modem call from {cid} rejected: routing numbers on the modem are not supported yet"),
                    );
                    if let Some(m) = self.modem.as_mut() {
                        m.hangup(now, leg);
                    }
                }
                ModemEvent::CallWaiting { leg, caller_id } => {
                    let cid = caller_id.unwrap_or_else(|| "unknown".into());
                    self.note(
                        None,
                        self.modem_port,
                        format!("waiting modem call from {cid} rejected"),
                    );
                    if let Some(m) = self.modem.as_mut() {
                        m.hangup(now, leg);
                    }
                }
                ModemEvent::Dtmf { leg, digit } => {
                    if self.dtmf_source == DtmfSource::Audio {
                        continue;
                    }
                    let Some(call) = self
                        .slots
                        .iter()
                        .find(|s| s.leg == Some(leg) && s.leg_answered)
                        .map(|s| s.call.id())
                    else {
                        continue;
                    };
                    self.responder_digit(now, call, digit, DigitOrigin::Modem);
                }
                ModemEvent::Forwarding { .. } => {}
                ModemEvent::Registration { registered, state } => {
                    let text = if registered {
                        format!("modem registered ({state})")
                    } else {
                        format!(
                            "modem lost network registration ({state}): calls and SMS to responders fail until it returns"
                        )
                    };
                    self.note(None, self.modem_port, text);
                }
                ModemEvent::Leg { leg, state } => {
                    let mut why_failed = None;
                    let Some(slot) = self.slots.iter_mut().find(|s| s.leg == Some(leg)) else {
                        continue;
                    };
                    let id = slot.call.id();
                    let event = match state {
                        LegState::Alerting => Event::LegAlerting,
                        // the exchange never holds a leg
                        LegState::Held => continue,
                        LegState::Active => {
                            slot.leg_answered = true;
                            Event::LegAnswered
                        }
                        LegState::Ended(end) => {
                            if let LegEnd::Error(why) = &end {
                                why_failed = Some(why.clone());
                            }
                            slot.leg = None;
                            let answered = std::mem::take(&mut slot.leg_answered);
                            self.release_modem_port();
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
                    let text = match &event {
                        Event::LegAlerting => "responder's phone rings".to_string(),
                        Event::LegAnswered => "responder picked up".to_string(),
                        Event::LegHangup => "responder hung up".to_string(),
                        Event::LegFailed(f) => format!("dial failed: {f:?}"),
                        _ => String::new(),
                    };
                    let text = match why_failed {
                        Some(why) => format!("{text} ({why})"),
                        None => text,
                    };
                    self.note(Some(id), self.modem_port, text);
                    self.pending.push_back((id, event));
                }
            }
        }
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
        let listening = match side {
            Side::Caller => p.line.as_ref().is_none_or(|l| l.is_off_hook()),
            Side::Responder => self
                .slots
                .iter()
                .any(|s| s.call.id() == call && s.leg_answered),
        };
        if !listening {
            return;
        }
        if side == Side::Responder && Some(port) == self.modem_port && modem_dtmf_only {
            return;
        }
        let mut digits: heapless::Vec<char, 4> = heapless::Vec::new();
        p.dtmf.push(frame, |e| {
            if let DtmfEvent::Start { digit, .. } = e {
                let _ = digits.push(digit);
            }
        });
        for d in digits {
            match side {
                Side::Caller => {
                    self.note(Some(call), Some(port), format!("caller pressed {d}"));
                    self.pending.push_back((call, Event::CallerDigit(d)));
                }
                Side::Responder if Some(port) == self.modem_port => {
                    self.responder_digit(now, call, d, DigitOrigin::Audio);
                }
                Side::Responder => {
                    self.note(Some(call), Some(port), format!("responder pressed {d}"));
                    self.pending.push_back((call, Event::ResponderDigit(d)));
                }
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

    /// A responder key from one detector on the modem leg: counted unless the other
    /// detector reported the same key within [`DTMF_DEDUPE`].
    fn responder_digit(&mut self, now: Instant, call: CallId, d: char, origin: DigitOrigin) {
        if let Some((last, at, from)) = self.last_responder_digit {
            let apart = now
                .saturating_duration_since(at)
                .max(at.saturating_duration_since(now));
            if last == d && from != origin && apart <= DTMF_DEDUPE {
                // the second report of one key press; a third one counts again
                self.last_responder_digit = None;
                self.note(
                    Some(call),
                    self.modem_port,
                    format!(
                        "responder key {d} also reported by the {} (counted once)",
                        origin.as_str()
                    ),
                );
                return;
            }
        }
        self.last_responder_digit = Some((d, now, origin));
        self.note(
            Some(call),
            self.modem_port,
            format!("responder pressed {d} ({})", origin.as_str()),
        );
        self.pending.push_back((call, Event::ResponderDigit(d)));
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
        let (number, what) = match e {
            CallerIdEvent::Fsk(m) => match m.caller_id() {
                Ok(id) => (
                    id.number.clone(),
                    format!(
                        "caller ID {} ({} {}, {:.0} dBm0){}",
                        id.number.as_deref().unwrap_or("withheld"),
                        m.standard.name(),
                        m.format().name(),
                        m.level_dbm0,
                        id.name.map(|n| format!(", name {n:?}")).unwrap_or_default()
                    ),
                ),
                Err(err) => (None, format!("caller ID message rejected: {err}")),
            },
            CallerIdEvent::Clip(c) => match c.caller_id() {
                Ok(id) => (
                    id.number.clone(),
                    format!(
                        "caller ID {} (DTMF {})",
                        id.number.as_deref().unwrap_or("withheld"),
                        c.as_str()
                    ),
                ),
                Err(err) => (None, format!("caller ID rejected: {err}")),
            },
            CallerIdEvent::Error(err) => (None, format!("caller ID rejected: {err}")),
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
                self.pending.push_back((call, ev));
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
            .filter_map(|s| s.deferred.as_ref().map(|d| d.deadline));
        calls.chain(lines).chain(modem).chain(waits).min()
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
        self.expire_deferred(now);
        let due: Vec<CallId> = self
            .slots
            .iter()
            .filter(|s| s.call.poll_timeout().is_some_and(|t| t <= now))
            .map(|s| s.call.id())
            .collect();
        for id in due {
            if let Some(slot) = self.slots.iter_mut().find(|s| s.call.id() == id) {
                let actions = slot.call.handle_timeout(now);
                self.apply(now, id, actions);
            }
        }
        self.run_pending(now);
    }

    /// Starts a graceful stop: new calls are not answered, calls in progress hear a
    /// goodbye and are hung up. Done when [`Exchange::active_calls`] is 0.
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        let ids: Vec<CallId> = self.slots.iter().map(|s| s.call.id()).collect();
        for id in ids {
            if let Some(slot) = self.slots.iter_mut().find(|s| s.call.id() == id) {
                let actions = slot.call.shutdown(now);
                self.apply(now, id, actions);
            }
        }
        self.run_pending(now);
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// A status snapshot.
    pub fn status(&self) -> Status {
        Status {
            ports: self
                .ports
                .iter()
                .map(|p| PortStatus {
                    id: p.id.clone(),
                    kind: p.kind.as_str(),
                    state: match (&p.line, p.owner) {
                        (Some(l), _) => l.state_name().to_string(),
                        (None, Some(_)) => "in-call".into(),
                        (None, None) => "idle".into(),
                    },
                    call: p.owner.map(|(c, _)| c),
                })
                .collect(),
            modem: self.modem.as_ref().map(|m| m.status().clone()),
            calls: self
                .slots
                .iter()
                .map(|s| CallStatus {
                    id: s.call.id(),
                    routing_number: self.cfg.routing_numbers[s.call.routing()].name.clone(),
                    phase: s.call.phase(),
                })
                .collect(),
        }
    }

    // ---- internals ------------------------------------------------------------------

    fn run_pending(&mut self, now: Instant) {
        while let Some((id, ev)) = self.pending.pop_front() {
            if let Some(slot) = self.slots.iter_mut().find(|s| s.call.id() == id) {
                let actions = slot.call.handle(now, ev);
                self.apply(now, id, actions);
            }
        }
    }

    /// Dials a responder for the call in slot `si`; when the modem is resetting or
    /// initialising, the dial waits for it (up to `ready_wait`, once per call).
    fn dial(&mut self, now: Instant, si: usize, number: String, user: String) {
        let id = self.slots[si].call.id();
        let Some(m) = self.modem.as_ref() else {
            self.note(
                Some(id),
                None,
                format!("cannot dial {user}: no modem on this board"),
            );
            self.pending
                .push_back((id, Event::LegFailed(LegFailure::Failed)));
            return;
        };
        let ready = m.status().ready;
        let stopped = m.init_stopped();
        let port_free = self
            .modem_port
            .is_some_and(|mp| self.ports[mp].owner.is_none());
        if ready && port_free {
            self.start_leg(now, si, &number, &user);
            return;
        }
        let slot = &self.slots[si];
        if !ready && !stopped && !slot.modem_wait_over && !self.ready_wait.is_zero() {
            self.note(
                Some(id),
                self.modem_port,
                format!(
                    "the modem is not ready (resetting or initialising): waiting up to {} s for it before dialling {user}",
                    self.ready_wait.as_secs()
                ),
            );
            self.slots[si].deferred = Some(Deferred {
                number,
                user,
                since: now,
                deadline: now + self.ready_wait,
            });
            self.pending.push_back((id, Event::LegWaiting));
            return;
        }
        let (why, failure) = if stopped {
            (
                "the modem cannot be used (initialisation stopped; see the modem fault)"
                    .to_string(),
                LegFailure::ModemUnavailable,
            )
        } else if !ready {
            (
                if slot.modem_wait_over {
                    format!(
                        "the modem is not ready (it did not come back within {} s)",
                        self.ready_wait.as_secs()
                    )
                } else {
                    "the modem is not ready".to_string()
                },
                LegFailure::ModemUnavailable,
            )
        } else {
            (
                "the modem is busy with another call".to_string(),
                LegFailure::Failed,
            )
        };
        self.note(
            Some(id),
            self.modem_port,
            format!("cannot dial {user}: {why}"),
        );
        self.pending.push_back((id, Event::LegFailed(failure)));
    }

    fn start_leg(&mut self, now: Instant, si: usize, number: &str, user: &str) {
        let (Some(m), Some(mp)) = (self.modem.as_mut(), self.modem_port) else {
            return;
        };
        let id = self.slots[si].call.id();
        let leg = m.dial(now, number);
        self.slots[si].leg = Some(leg);
        self.slots[si].leg_answered = false;
        self.ports[mp].owner = Some((id, Side::Responder));
        self.note(Some(id), Some(mp), format!("dialling {user} at {number}"));
    }

    /// The modem is ready: dials that waited for it go out (one call at a time has
    /// the modem; later ones fail as busy).
    fn dial_deferred(&mut self, now: Instant) {
        for si in 0..self.slots.len() {
            let Some(d) = self.slots[si].deferred.take() else {
                continue;
            };
            let id = self.slots[si].call.id();
            let waited = now.saturating_duration_since(d.since).as_secs_f64();
            let free = self
                .modem_port
                .is_some_and(|mp| self.ports[mp].owner.is_none());
            if free {
                self.note(
                    Some(id),
                    self.modem_port,
                    format!("the modem is ready after {waited:.1} s of waiting"),
                );
                self.start_leg(now, si, &d.number, &d.user);
                self.pending.push_back((id, Event::LegDialled));
            } else {
                self.note(
                    Some(id),
                    self.modem_port,
                    format!(
                        "cannot dial {}: the modem is busy with another call",
                        d.user
                    ),
                );
                self.pending
                    .push_back((id, Event::LegFailed(LegFailure::Failed)));
            }
        }
    }

    /// Every waiting dial fails now, saying why.
    fn expire_deferred_now(&mut self, why: &str) {
        for si in 0..self.slots.len() {
            let Some(d) = self.slots[si].deferred.take() else {
                continue;
            };
            self.slots[si].modem_wait_over = true;
            let id = self.slots[si].call.id();
            self.note(
                Some(id),
                self.modem_port,
                format!("cannot dial {}: {why}", d.user),
            );
            self.pending
                .push_back((id, Event::LegFailed(LegFailure::ModemUnavailable)));
        }
    }

    /// Dials whose wait for the modem is over: the attempt fails saying why.
    fn expire_deferred(&mut self, now: Instant) {
        for si in 0..self.slots.len() {
            let Some(d) = self.slots[si].deferred.take_if(|d| d.deadline <= now) else {
                continue;
            };
            self.slots[si].modem_wait_over = true;
            let id = self.slots[si].call.id();
            self.note(
                Some(id),
                self.modem_port,
                format!(
                    "cannot dial {}: the modem did not come back within {} s",
                    d.user,
                    self.ready_wait.as_secs()
                ),
            );
            self.pending
                .push_back((id, Event::LegFailed(LegFailure::ModemUnavailable)));
        }
    }

    fn release_modem_port(&mut self) {
        if let Some(mp) = self.modem_port {
            let peer = self.ports[mp].bridged_to.take();
            if let Some(peer) = peer {
                self.ports[peer].bridged_to = None;
            }
            let p = &mut self.ports[mp];
            p.owner = None;
            p.player.stop();
            p.dtmf = DtmfDetector::new();
        }
        self.last_responder_digit = None;
    }

    fn clips(&self, routing: usize, prompts: &[Prompt]) -> (Vec<Arc<[i16]>>, String) {
        let mut clips = Vec::new();
        let mut texts = Vec::new();
        for &p in prompts {
            if let Some(c) = self.prompts.get(routing, p) {
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
            let Some(si) = self.slots.iter().position(|s| s.call.id() == id) else {
                return;
            };
            let caller_port = self.slots[si].caller_port;
            let routing = self.slots[si].call.routing();
            match action {
                Action::AnswerCaller => {
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
                    self.note(Some(id), Some(caller_port), "answered");
                    self.pending.push_back((id, Event::CallerAnswered));
                }
                Action::PlayCaller(prompts) => {
                    let (clips, text) = self.clips(routing, &prompts);
                    self.ports[caller_port].player.play(clips);
                    self.note(
                        Some(id),
                        Some(caller_port),
                        format!("caller hears: \"{text}\""),
                    );
                }
                Action::HoldMusic => {
                    self.ports[caller_port].player.hold_music();
                    self.note(Some(id), Some(caller_port), "caller hears hold music");
                }
                Action::Dial { number, user } => self.dial(now, si, number, user),
                Action::PlayResponder(p) => {
                    if let Some(mp) = self.modem_port {
                        let (clips, text) = self.clips(routing, &[p]);
                        self.ports[mp].player.play(clips);
                        self.note(Some(id), Some(mp), format!("responder hears: \"{text}\""));
                    }
                }
                Action::HangupLeg => {
                    if let Some(d) = self.slots[si].deferred.take() {
                        self.note(
                            Some(id),
                            self.modem_port,
                            format!("stopped waiting for the modem to dial {}", d.user),
                        );
                    }
                    if let Some(leg) = self.slots[si].leg.take() {
                        self.slots[si].leg_answered = false;
                        if let Some(m) = self.modem.as_mut() {
                            m.hangup(now, leg);
                        }
                        self.release_modem_port();
                        self.note(Some(id), self.modem_port, "hung up the responder leg");
                    }
                }
                Action::Bridge => {
                    if let Some(mp) = self.modem_port {
                        self.ports[mp].bridged_to = Some(caller_port);
                        self.ports[caller_port].bridged_to = Some(mp);
                        self.ports[mp].player.stop();
                        self.ports[caller_port].player.stop();
                        self.note(Some(id), Some(caller_port), "caller and responder bridged");
                    }
                }
                Action::HangupCaller => {
                    let p = &mut self.ports[caller_port];
                    p.player.stop();
                    if let Some(peer) = p.bridged_to.take() {
                        self.ports[peer].bridged_to = None;
                    }
                    let p = &mut self.ports[caller_port];
                    if let Some(l) = p.line.as_mut().filter(|l| l.is_off_hook()) {
                        let cmd = l.command(LineCommand::OnHook);
                        self.out.push_back(Output::Line {
                            port: caller_port,
                            cmd,
                        });
                        self.note(Some(id), Some(caller_port), "hung up the caller's line");
                    }
                }
                Action::Note(text) => self.note(Some(id), None, text),
                Action::Finished(cdr) => {
                    let slot = self.slots.remove(si);
                    if slot.leg.is_some() {
                        // The call SM always hangs up its leg first; be defensive anyway.
                        self.release_modem_port();
                    }
                    let p = &mut self.ports[slot.caller_port];
                    p.owner = None;
                    p.dtmf = DtmfDetector::new();
                    self.note(
                        Some(id),
                        None,
                        format!(
                            "call ended: {} after {:.1} s",
                            cdr.end_reason.as_str(),
                            cdr.duration_seconds
                        ),
                    );
                    self.out.push_back(Output::Cdr(cdr));
                    return;
                }
            }
        }
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
        }
    }
}

/// Re-exported for drivers that only need the call types.
pub use call::EndReason;

#[cfg(test)]
mod tests;
