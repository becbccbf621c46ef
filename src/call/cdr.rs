//! The call detail record every call leaves behind.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Caller and responder were bridged; then one side hung up.
    Completed,
    /// Every responder of the plan was tried; nobody accepted.
    NobodyAccepted,
    /// The policy resolved to nobody.
    NobodyOnCall,
    /// The caller hung up before being connected.
    CallerAbandoned,
    /// No valid menu choice within the allowed tries and no default option.
    MenuFailed,
    /// Outside support hours, with the routing number closed then.
    Closed,
    /// The service stopped during the call.
    Shutdown,
    /// The caller's number is on the routing number's block list.
    Blocked,
    /// The caller entered a wrong PIN three times.
    PinFailed,
    /// The caller overflowed to a message (queue full, waited too long, or too many
    /// calls in progress).
    Overflow,
    /// The caller was sent to voicemail (nobody accepted, voicemail-only mode, or an
    /// overflow to voicemail) and the call ended there.
    Voicemail,
    /// The call flow ended in a `hangup` step (after its message or goodbye) that no
    /// failure led to.
    FlowHangup,
    /// An internal fault ended the call (the caller heard a goodbye).
    Error,
    /// A call to the SIM that arrived while the modem's one voice channel was in use
    /// was rejected without being answered (`AT+CHLD=0`: the network treats the
    /// caller as busy, so the SIM's forwarding on busy takes it): `waiting_call =
    /// "reject"`, or queued and the queue was full or `max_wait` passed (the CDR's
    /// `overflow` says which).
    WaitingRejected,
    /// The call is still in progress (the record written at its start).
    InProgress,
    /// The service stopped without ending the call (crash, power cut): found in
    /// progress at the next start.
    Interrupted,
}

impl EndReason {
    /// Every end reason.
    pub const ALL: &'static [EndReason] = &[
        EndReason::Completed,
        EndReason::NobodyAccepted,
        EndReason::NobodyOnCall,
        EndReason::CallerAbandoned,
        EndReason::MenuFailed,
        EndReason::Closed,
        EndReason::Shutdown,
        EndReason::Error,
        EndReason::FlowHangup,
        EndReason::Blocked,
        EndReason::PinFailed,
        EndReason::Overflow,
        EndReason::Voicemail,
        EndReason::InProgress,
        EndReason::Interrupted,
        EndReason::WaitingRejected,
    ];

    /// Name as stored and printed (`completed`, `nobody_accepted`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::NobodyAccepted => "nobody_accepted",
            EndReason::NobodyOnCall => "nobody_on_call",
            EndReason::CallerAbandoned => "caller_abandoned",
            EndReason::MenuFailed => "menu_failed",
            EndReason::Closed => "closed",
            EndReason::Shutdown => "shutdown",
            EndReason::Blocked => "blocked",
            EndReason::PinFailed => "pin_failed",
            EndReason::Overflow => "overflow",
            EndReason::Voicemail => "voicemail",
            EndReason::Error => "error",
            EndReason::FlowHangup => "flow_hangup",
            EndReason::InProgress => "in_progress",
            EndReason::Interrupted => "interrupted",
            EndReason::WaitingRejected => "waiting_rejected",
        }
    }
}

/// Outcome of one dial attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Pressed a key: bridged.
    Accepted,
    /// Pressed 2.
    Declined,
    /// Answered but pressed no key in time (e.g. their voicemail picked up).
    AcceptTimeout,
    /// Rang for the whole answer timeout.
    NoAnswer,
    /// Line busy.
    Busy,
    /// Hung up after answering, before accepting.
    HungUp,
    /// The dial failed (network, modem).
    Failed,
    /// The caller hung up while this attempt was under way.
    Cancelled,
    /// The modem was resetting or initialising and did not become ready in time
    /// (board profile `ready_wait_seconds`), so the responder could not be dialled.
    ModemUnavailable,
}

impl AttemptOutcome {
    /// Name as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Accepted => "accepted",
            AttemptOutcome::Declined => "declined",
            AttemptOutcome::AcceptTimeout => "accept_timeout",
            AttemptOutcome::NoAnswer => "no_answer",
            AttemptOutcome::Busy => "busy",
            AttemptOutcome::HungUp => "hung_up",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::ModemUnavailable => "modem_unavailable",
        }
    }
}

/// One responder attempt in a CDR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1-based escalation level.
    pub level: usize,
    /// User id.
    pub user: String,
    /// Number dialled.
    pub number: String,
    /// When dialling started.
    pub started_at: Timestamp,
    /// From dialling to the outcome.
    pub seconds: f64,
    /// What happened.
    pub outcome: AttemptOutcome,
}

/// A call detail record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    /// Call id (unique per service start; the store adds its own row id).
    pub call_id: u64,
    /// When the call arrived.
    pub started_at: Timestamp,
    /// When it ended.
    pub ended_at: Timestamp,
    /// Routing number name.
    pub routing_number: String,
    /// Stable id of the routing number the call arrived on.
    #[serde(default)]
    pub routing_id: String,
    /// Port the call arrived on.
    pub port: String,
    /// Caller ID, if the line delivered one.
    pub caller_id: Option<String>,
    /// Key chosen in the menu.
    pub option_key: Option<u8>,
    /// Label of the chosen option.
    pub option_label: Option<String>,
    /// Policy id of the chosen option.
    pub policy: Option<String>,
    /// Every digit the caller pressed, in order.
    pub digits: String,
    /// Responder attempts in order.
    pub attempts: Vec<AttemptRecord>,
    /// User who accepted.
    pub accepted_by: Option<String>,
    /// When the bridge started.
    pub bridge_started_at: Option<Timestamp>,
    /// Bridge duration.
    pub bridge_seconds: Option<f64>,
    /// Whole call duration.
    pub duration_seconds: f64,
    /// Why it ended.
    pub end_reason: EndReason,
    /// Seconds the caller waited in the queue for a free line (summed).
    #[serde(default)]
    pub queue_seconds: Option<f64>,
    /// Overflow taken: `reason -> destination` (e.g. `queue_full -> message`).
    #[serde(default)]
    pub overflow: Option<String>,
    /// Caller PIN gate: `ok` or `failed` (the digits are never recorded).
    #[serde(default)]
    pub pin: Option<String>,
    /// Why the caller went to voicemail (`nobody_accepted`, `nobody_on_call`,
    /// `voicemail_only`, `overflow`); none if they did not.
    #[serde(default)]
    pub voicemail: Option<String>,
    /// Row id of the stored voicemail (set by the store).
    #[serde(default)]
    pub voicemail_id: Option<i64>,
    /// Id of the alert this call raised (set by the store).
    #[serde(default)]
    pub alert_id: Option<i64>,
    /// The steps of the call flow the caller went through, in order (a step entered
    /// twice appears twice; after a `goto`, steps are written `routing-id/step`).
    #[serde(default)]
    pub path: Vec<String>,
}

impl Cdr {
    /// The record of a call that has just arrived: nothing chosen, nobody tried yet,
    /// ending as `end_reason` unless the call says otherwise.
    pub fn started(
        call_id: u64,
        at: Timestamp,
        (routing_number, routing_id): (String, String),
        port: String,
        caller_id: Option<String>,
        end_reason: EndReason,
    ) -> Self {
        Self {
            call_id,
            started_at: at,
            ended_at: at,
            routing_number,
            routing_id,
            port,
            caller_id,
            option_key: None,
            option_label: None,
            policy: None,
            digits: String::new(),
            attempts: Vec::new(),
            accepted_by: None,
            bridge_started_at: None,
            bridge_seconds: None,
            duration_seconds: 0.0,
            end_reason,
            queue_seconds: None,
            overflow: None,
            pin: None,
            voicemail: None,
            voicemail_id: None,
            alert_id: None,
            path: Vec::new(),
        }
    }
}
