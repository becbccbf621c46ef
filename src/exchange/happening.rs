//! What the exchange notes: typed facts ([`Happening`]) whose `Display` is the
//! human-readable line of the transcript and the log. Outputs that are typed already
//! ([`super::CallEvent`], trunks, backup forwarding, test calls, SMS, CDRs) are not
//! noted a second time: their line comes from [`super::Output::describe`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{CallEvent, DigitOrigin, ForwardState, Output, Side};
use crate::call::{CallId, LegFailure, Noted, RecordEnd};

/// How the exchange let go of a caller's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// Hung up the caller's modem call.
    ModemCall,
    /// Released the hotline phone (FXS).
    HotlinePhone,
    /// Put the caller's FXO line on-hook.
    Line,
}

/// Why a responder cannot be dialled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoDial {
    /// The board has no modem (and no FXO trunk).
    NoModem,
    /// Every trunk is out of service.
    NoLineInService,
    /// The modem's initialisation stopped (see its fault).
    ModemStopped,
    /// The modem did not come back within the wait (`detail`: seconds).
    ModemNotBack,
    /// The modem is not ready.
    ModemNotReady,
    /// No FXS port of that id (`detail`: the port id).
    NoFxsPort,
    /// The local phone is in use.
    PhoneInUse,
    /// Parallel ringing found no free line.
    NoFreeLine,
}

/// Why a waiting call on the modem (`+CCWA`) was rejected (`AT+CHLD=0`: busy for the
/// network, so forwarding on busy takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitingRejected {
    /// No routing number serves the modem's port (or the service stops).
    NoRoutingNumber,
    /// `waiting_call = "reject"`.
    Configured,
    /// The routing number's queue is full.
    QueueFull,
    /// It waited the queue's `max_wait`.
    MaxWait,
    /// A hang-up command named it.
    HangUpRequested,
}

/// A noted fact: the exchange's own, or one of a call's state machine. Serialized as
/// the inner enum (`{"kind": "modem_reset", ...}`); the kinds of the two do not overlap.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Fact {
    /// Noted by the exchange.
    Exchange(Happening),
    /// Noted by a call's state machine.
    Call(Noted),
}

impl From<Happening> for Fact {
    fn from(h: Happening) -> Self {
        Fact::Exchange(h)
    }
}

impl From<Noted> for Fact {
    fn from(n: Noted) -> Self {
        Fact::Call(n)
    }
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fact::Exchange(h) => h.fmt(f),
            Fact::Call(n) => n.fmt(f),
        }
    }
}

/// A fact the exchange notes (in [`super::Output::Note`]), with the call and port it
/// belongs to beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Happening {
    /// A call rings in (on a line or the modem).
    IncomingCall {
        /// Caller ID (`None`: withheld or not received).
        caller_id: Option<String>,
        /// On the modem (a call to the SIM).
        modem: bool,
    },
    /// An FXO line stopped ringing before it was answered.
    RingingStopped,
    /// The far end hung up the caller's line.
    FarEndHungUp,
    /// A responder's phone rings (modem leg).
    ResponderRinging,
    /// A responder picked up.
    ResponderPickedUp {
        /// Detected by voice on an FXO line (not by a line signal).
        by_voice: bool,
    },
    /// A responder hung up.
    ResponderHungUp {
        /// Why the leg ended, when it was an error (a modem reset).
        cause: Option<String>,
    },
    /// A responder leg failed before it was answered.
    DialFailed {
        /// How.
        failure: LegFailure,
        /// Why, when the modem said.
        cause: Option<String>,
    },
    /// A hotline handset was lifted.
    HandsetLifted,
    /// A call arrived on a port with no routing number: not answered.
    NoRoutingNumber,
    /// A call arrived while the service stops: not answered.
    Stopping,
    /// The routing number's `calls_in_progress` threshold is reached: the call
    /// overflows when answered.
    TooManyCalls {
        /// Calls of the routing number already in progress.
        in_progress: usize,
    },
    /// Call forwarding to the backup number is being set.
    ForwardingSet {
        /// How many forwarding reasons.
        reasons: usize,
    },
    /// A voicemail recording started.
    RecordingVoicemail,
    /// A voicemail recording ended.
    VoicemailRecorded {
        /// Length, seconds.
        seconds: f64,
        /// Speech was heard (else the message is marked empty).
        speech: bool,
        /// What ended it.
        ended_by: RecordEnd,
    },
    /// A hang-up was requested from outside ([`super::Command::Hangup`]).
    HangupRequested,
    /// The modem is ready.
    ModemReady,
    /// `dtmf_source = "modem"` but the modem does not report DTMF.
    ModemNoDtmf,
    /// The modem reported a fault.
    ModemFault {
        /// The fault.
        fault: String,
    },
    /// The modem is being reset.
    ModemReset {
        /// Why (from the modem driver's recovery).
        reason: String,
    },
    /// The modem answers again after a reset.
    ModemRecovered,
    /// A call to the SIM was rejected: the modem is in use.
    ModemInUse,
    /// A waiting call on the modem was rejected.
    WaitingCallRejected {
        /// Caller ID.
        caller_id: Option<String>,
        /// Why.
        why: WaitingRejected,
    },
    /// A waiting call on the modem is left ringing in the routing number's queue until
    /// the modem is free (`waiting_call = "queue"`).
    WaitingCallQueued {
        /// Caller ID.
        caller_id: Option<String>,
        /// Its place in the queue (1 = next).
        position: u32,
    },
    /// The waiting call rings as a normal call now that the modem is free: answered.
    WaitingCallAnswered {
        /// How long it waited, seconds.
        waited_s: f64,
    },
    /// The waiting caller hung up before the modem was free.
    WaitingCallerGaveUp,
    /// A SIM PIN typed on the page was sent to the SIM (the verdict is
    /// [`super::Output::SimPin`]).
    SimPinSent,
    /// The modem's network registration changed.
    Registration {
        /// Registered (home or roaming).
        registered: bool,
        /// The network's state word.
        state: String,
    },
    /// The modem is answering the caller (ATA).
    Answering,
    /// The caller's side is answered.
    Answered,
    /// A key from a side of the call.
    KeyPressed {
        /// Whose.
        side: Side,
        /// The key.
        key: char,
        /// Which detector, on a modem call (`None`: an analog port).
        origin: Option<DigitOrigin>,
    },
    /// The same key reported by the second detector within the dedupe window.
    KeyCountedOnce {
        /// Whose.
        side: Side,
        /// The key.
        key: char,
        /// The detector whose report was dropped.
        origin: DigitOrigin,
    },
    /// Caller ID received on an on-hook FXO line.
    CallerId {
        /// The number (`None`: withheld).
        number: Option<String>,
        /// How it came (FSK standard and level, or DTMF).
        detail: String,
    },
    /// Caller ID received but not understood.
    CallerIdRejected {
        /// Why.
        why: String,
    },
    /// The caller hears a prompt.
    CallerHears {
        /// Its text.
        text: String,
    },
    /// The caller hears hold music.
    HoldMusic,
    /// The responder hears a prompt.
    ResponderHears {
        /// Its text.
        text: String,
    },
    /// The exchange let go of the caller's side.
    CallerReleased {
        /// How.
        how: Release,
    },
    /// The dial waits for the modem to come back.
    ModemWait {
        /// Whom it dials.
        user: String,
        /// Longest wait, seconds.
        up_to_s: u64,
    },
    /// A responder cannot be dialled.
    CannotDial {
        /// Whom.
        user: String,
        /// Why.
        why: NoDial,
        /// Seconds waited, or the port id, as the reason says.
        detail: Option<String>,
    },
    /// Dial tone on an FXO line: the digits go out.
    DialTone {
        /// The digits.
        digits: String,
    },
    /// The digits cannot be sent as DTMF.
    BadDigits {
        /// The digits.
        digits: String,
        /// Why.
        why: String,
    },
    /// Ringback on an FXO line.
    Ringback,
    /// Busy tone on an FXO line.
    BusyTone,
    /// Special information tone on an FXO line: the number cannot be reached.
    SpecialInfoTone,
    /// A waiting dial got its line (or the modem).
    WaitOver {
        /// It waited in the queue for a line (else for the modem).
        queued: bool,
        /// How long, seconds.
        waited_s: f64,
    },
    /// The modem came back but is busy with another call: the dial queues.
    ModemBusyQueued {
        /// Whom it dials.
        user: String,
    },
    /// A call stopped waiting for a line.
    StoppedWaiting {
        /// Whom it was going to dial.
        user: String,
    },
    /// The exchange hung up a responder leg.
    LegHungUp,
    /// A self-test call dials.
    TestCallDialling {
        /// Its id.
        id: u64,
        /// The number.
        number: String,
    },
    /// A self-test call was answered: the tone plays.
    TestCallAnswered {
        /// Its id.
        id: u64,
    },
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Caller => "caller",
            Side::Responder => "responder",
        }
    }
}

impl fmt::Display for NoDial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoDial::NoModem => "no modem on this board",
            NoDial::NoLineInService => "no line is in service",
            NoDial::ModemStopped => {
                "the modem cannot be used (initialisation stopped; see the modem fault)"
            }
            NoDial::ModemNotBack => "the modem did not come back in time",
            NoDial::ModemNotReady => "the modem is not ready",
            NoDial::NoFxsPort => "no such FXS port on this board",
            NoDial::PhoneInUse => "the phone is in use",
            NoDial::NoFreeLine => "no free line for parallel ringing",
        })
    }
}

fn opt(s: &Option<String>, none: &'static str) -> String {
    s.clone().unwrap_or_else(|| none.to_string())
}

impl fmt::Display for Happening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Happening as H;
        match self {
            H::IncomingCall { caller_id, modem } => write!(
                f,
                "incoming {}call from {}",
                if *modem { "modem " } else { "" },
                opt(caller_id, "unknown")
            ),
            H::RingingStopped => f.write_str("ringing stopped before the call was answered"),
            H::FarEndHungUp => f.write_str("the far end hung up the line"),
            H::ResponderRinging => f.write_str("responder's phone rings"),
            H::ResponderPickedUp { by_voice: true } => {
                f.write_str("responder picked up (voice on the line)")
            }
            H::ResponderPickedUp { by_voice: false } => f.write_str("responder picked up"),
            H::ResponderHungUp { cause: Some(c) } => write!(f, "responder hung up ({c})"),
            H::ResponderHungUp { cause: None } => f.write_str("responder hung up"),
            H::DialFailed { failure, cause } => {
                write!(f, "dial failed: {failure:?}")?;
                match cause {
                    Some(c) => write!(f, " ({c})"),
                    None => Ok(()),
                }
            }
            H::HandsetLifted => f.write_str("handset lifted"),
            H::NoRoutingNumber => {
                f.write_str("no routing number on this port; the call is not answered")
            }
            H::Stopping => f.write_str("service is stopping; the call is not answered"),
            H::TooManyCalls { in_progress } => write!(
                f,
                "{in_progress} calls of this routing number are already in progress"
            ),
            H::ForwardingSet { reasons } => write!(
                f,
                "setting call forwarding to the backup number for {reasons} reasons"
            ),
            H::RecordingVoicemail => f.write_str("recording voicemail"),
            H::VoicemailRecorded {
                seconds,
                speech,
                ended_by,
            } => write!(
                f,
                "voicemail recorded: {seconds:.1} s{} (ended by {})",
                if *speech { "" } else { ", no speech: empty" },
                ended_by.as_str()
            ),
            H::HangupRequested => f.write_str("hang-up requested"),
            H::ModemReady => f.write_str("modem ready"),
            H::ModemNoDtmf => f.write_str(
                "dtmf_source = \"modem\", but this modem (generic dialect) does not report DTMF: responder keys come from the audio detector",
            ),
            H::ModemFault { fault } => write!(f, "modem fault: {fault}"),
            H::ModemReset { reason } => write!(f, "modem reset: {reason}"),
            H::ModemRecovered => f.write_str("modem recovered; initialising"),
            H::ModemInUse => f.write_str("the modem is in use: call rejected"),
            H::WaitingCallRejected { caller_id, why } => write!(
                f,
                "waiting modem call from {} rejected: {}",
                opt(caller_id, "unknown"),
                match why {
                    WaitingRejected::NoRoutingNumber => "no routing number takes it",
                    WaitingRejected::Configured =>
                        "the modem's one voice channel is in use (waiting_call = \"reject\"; the network treats the caller as busy)",
                    WaitingRejected::QueueFull => "the queue is full",
                    WaitingRejected::MaxWait => "it waited the queue's max_wait",
                    WaitingRejected::HangUpRequested => "hang-up requested",
                }
            ),
            H::WaitingCallQueued {
                caller_id,
                position,
            } => write!(
                f,
                "waiting modem call from {} left ringing until the modem is free: queued at position {position}",
                opt(caller_id, "unknown")
            ),
            H::WaitingCallAnswered { waited_s } => write!(
                f,
                "the waiting modem call rings now that the modem is free (waited {waited_s:.1} s): answering"
            ),
            H::WaitingCallerGaveUp => {
                f.write_str("the waiting modem caller hung up before being served")
            }
            H::SimPinSent => f.write_str("SIM PIN entered on the page: sent to the SIM"),
            H::Registration {
                registered: true,
                state,
            } => write!(f, "modem registered ({state})"),
            H::Registration {
                registered: false,
                state,
            } => write!(
                f,
                "modem lost network registration ({state}): calls and SMS to responders fail until it returns"
            ),
            H::Answering => f.write_str("answering (ATA)"),
            H::Answered => f.write_str("answered"),
            H::KeyPressed {
                side,
                key,
                origin: None,
            } => write!(f, "{} pressed {key}", side.name()),
            H::KeyPressed {
                side,
                key,
                origin: Some(o),
            } => write!(f, "{} pressed {key} ({})", side.name(), o.as_str()),
            H::KeyCountedOnce { side, key, origin } => write!(
                f,
                "{} key {key} also reported by the {} (counted once)",
                side.name(),
                origin.as_str()
            ),
            H::CallerId { number, detail } => {
                write!(f, "caller ID {} ({detail})", opt(number, "withheld"))
            }
            H::CallerIdRejected { why } => write!(f, "caller ID rejected: {why}"),
            H::CallerHears { text } => write!(f, "caller hears: \"{text}\""),
            H::HoldMusic => f.write_str("caller hears hold music"),
            H::ResponderHears { text } => write!(f, "responder hears: \"{text}\""),
            H::CallerReleased { how } => f.write_str(match how {
                Release::ModemCall => "hung up the caller's modem call",
                Release::HotlinePhone => "released the hotline phone",
                Release::Line => "hung up the caller's line",
            }),
            H::ModemWait { user, up_to_s } => write!(
                f,
                "the modem is not ready (resetting or initialising): waiting up to {up_to_s} s for it before dialling {user}"
            ),
            H::CannotDial { user, why, detail } => {
                write!(f, "cannot dial {user}: {why}")?;
                match (why, detail) {
                    (NoDial::ModemNotBack, Some(s)) => write!(f, " (waited {s} s)"),
                    (_, Some(d)) => write!(f, " ({d})"),
                    (_, None) => Ok(()),
                }
            }
            H::DialTone { digits } => write!(f, "dial tone; dialling {digits}"),
            H::BadDigits { digits, why } => write!(f, "cannot dial {digits}: {why}"),
            H::Ringback => f.write_str("ringback: the responder's phone rings"),
            H::BusyTone => f.write_str("busy tone"),
            H::SpecialInfoTone => {
                f.write_str("special information tone: the number cannot be reached")
            }
            H::WaitOver { queued, waited_s } => write!(
                f,
                "{} after {waited_s:.1} s of waiting",
                if *queued {
                    "a line is free"
                } else {
                    "the modem is ready"
                }
            ),
            H::ModemBusyQueued { user } => write!(
                f,
                "the modem is back but busy with another call: {user} waits in the queue"
            ),
            H::StoppedWaiting { user } => write!(f, "stopped waiting for a line to dial {user}"),
            H::LegHungUp => f.write_str("hung up the responder leg"),
            H::TestCallDialling { id, number } => write!(f, "test call {id}: dialling {number}"),
            H::TestCallAnswered { id } => {
                write!(f, "test call {id}: answered; playing the test tone")
            }
        }
    }
}

/// A transcript / log line: the text, with the call and port it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// Call id, if the line is about a call.
    pub call: Option<CallId>,
    /// Port id, if the line is about a port.
    pub port: Option<&'a str>,
    /// The text.
    pub text: String,
}

impl fmt::Display for CallEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallEvent::Started {
                routing_number,
                caller_id,
                generation,
                ..
            } => write!(
                f,
                "call taken in on routing number {routing_number} from {} (configuration generation {generation})",
                opt(caller_id, "unknown")
            ),
            CallEvent::Accepted { user, .. } => {
                write!(f, "caller and responder ({user}) bridged")
            }
            CallEvent::Phase { phase, .. } => write!(f, "phase: {phase}"),
            CallEvent::Queued { position, .. } => {
                write!(f, "all lines are busy: queued at position {position}")
            }
            CallEvent::Dialling { user, port, .. } => write!(f, "dialling {user} on {port}"),
            CallEvent::Overflow { reason, .. } => write!(f, "overflow: {}", reason.as_str()),
            CallEvent::AlertStep { step, .. } => write!(f, "alert step {step}"),
            CallEvent::Ended { reason, .. } => write!(f, "call ended: {}", reason.as_str()),
        }
    }
}

impl CallEvent {
    /// The call the event is about.
    pub fn call(&self) -> CallId {
        match self {
            CallEvent::Started { call, .. }
            | CallEvent::Accepted { call, .. }
            | CallEvent::Phase { call, .. }
            | CallEvent::Queued { call, .. }
            | CallEvent::Dialling { call, .. }
            | CallEvent::Overflow { call, .. }
            | CallEvent::AlertStep { call, .. }
            | CallEvent::Ended { call, .. } => *call,
        }
    }
}

impl Output {
    /// The human-readable line of this output for the transcript and the log, if it
    /// has one: derived from the typed output itself, so nothing is said twice.
    pub fn describe(&self) -> Option<Line<'_>> {
        let line = |call, port, text| Some(Line { call, port, text });
        match self {
            Output::Note(n) => line(n.call, n.port.as_deref(), n.what.to_string()),
            // phases, starts and ends are said by the notes and the record around them
            Output::Call(CallEvent::Phase { .. } | CallEvent::Ended { .. }) => None,
            Output::Call(ev @ CallEvent::Started { port, .. }) => {
                line(Some(ev.call()), Some(port), ev.to_string())
            }
            Output::Call(ev @ CallEvent::Dialling { port, .. }) => {
                line(Some(ev.call()), Some(port), ev.to_string())
            }
            Output::Call(ev) => line(Some(ev.call()), None, ev.to_string()),
            Output::Cdr(c) => line(
                Some(c.call_id),
                None,
                format!(
                    "call ended: {} after {:.1} s",
                    c.end_reason.as_str(),
                    c.duration_seconds
                ),
            ),
            Output::Trunk {
                port,
                in_service: false,
            } => line(
                None,
                Some(port),
                format!(
                    "no dial tone: the line is out of service for {} s",
                    super::dialout::OUT_OF_SERVICE.as_secs()
                ),
            ),
            Output::Trunk {
                port,
                in_service: true,
            } => line(
                None,
                Some(port),
                "back in the pool of lines (it is checked on its next use)".into(),
            ),
            Output::Reloaded {
                generation,
                in_progress,
            } => line(
                None,
                None,
                format!(
                    "configuration generation {generation} in force for new calls ({in_progress} calls in progress keep theirs)"
                ),
            ),
            Output::SmsReceived { from, text, at, .. } => {
                line(None, None, format!("SMS from {from} at {at}: {text}"))
            }
            Output::SmsSent { id, result: Err(e) } => {
                line(None, None, format!("SMS {id} failed: {e}"))
            }
            Output::SmsSent { .. } => None,
            Output::Backup(st) => {
                let reasons: Vec<String> = st
                    .reasons
                    .iter()
                    .map(|(r, s)| match s {
                        ForwardState::Pending => format!("{r:?} pending"),
                        ForwardState::Verified => format!("{r:?} verified"),
                        ForwardState::Drift { found } => format!(
                            "{r:?} drifted (the network forwards to {})",
                            opt(found, "nobody")
                        ),
                        ForwardState::Failed { error } => format!("{r:?} failed: {error}"),
                    })
                    .collect();
                line(
                    None,
                    None,
                    format!("call forwarding to {}: {}", st.number, reasons.join(", ")),
                )
            }
            Output::ModemPowerCycle => line(None, None, "modem power cycle requested".into()),
            Output::SimPin(r) => line(None, None, r.describe()),
            Output::TestCall(t) => line(
                None,
                None,
                match &t.outcome {
                    Ok(p) => format!(
                        "test call {}: passed (answered after {:.1} s, tone {:.1} s)",
                        t.id,
                        p.answered_after_ms as f64 / 1000.0,
                        p.tone_ms as f64 / 1000.0
                    ),
                    Err(why) => format!("test call {}: FAILED: {why}", t.id),
                },
            ),
            Output::Voicemail(_) | Output::Line { .. } => None,
        }
    }
}
