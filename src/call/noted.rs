//! What a call's state machine notes about itself: typed facts ([`Noted`]) whose
//! `Display` is the human-readable line of the transcript and the log. Tests (and the
//! scenario runner's `[[expect.event]]`) match the facts, never the text.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::AttemptOutcome;
use crate::config::OverflowReason;

/// Where an overflowing caller goes (the routing number's `overflow_to`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "to", content = "id")]
pub enum OverflowTarget {
    /// A step of the call flow (`queue_then`).
    Step(String),
    /// Another routing number.
    RoutingNumber(String),
    /// A number, dialled and connected when it answers.
    Number(String),
    /// Voicemail.
    Voicemail,
    /// The overflow message, then goodbye.
    Message,
}

/// What happens outside support hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedThen {
    /// The closed message, then goodbye.
    Closed,
    /// The caller may leave a voicemail.
    Voicemail,
}

/// A fact about one call, noted by its state machine ([`super::Action::Note`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Noted {
    /// The caller pressed no key before the menu timed out.
    MenuTimeout,
    /// The voicemail reached its maximum length.
    VoicemailMaxLength,
    /// The caller entered no PIN before the timeout.
    PinTimeout,
    /// The PIN was right.
    PinCorrect,
    /// The PIN was wrong.
    PinWrong,
    /// The caller pressed a key that is no menu option.
    InvalidKey {
        /// The key.
        key: char,
    },
    /// The caller pressed a menu key (call flows).
    MenuKey {
        /// The key.
        key: char,
    },
    /// `*` in a call-flow menu: back to the previous menu.
    MenuBack,
    /// `#` in a call-flow menu: the menu again.
    MenuRepeat,
    /// The menu's tries are used up: its default is taken.
    MenuDefault {
        /// The default key (classic menus); `None` in a call flow (its default step).
        key: Option<u8>,
    },
    /// The caller finished the message with `#`.
    MessageKeyEnded,
    /// The caller's silence ended the message.
    MessageSilenceEnded,
    /// A dialled number (not a user) answered: the caller is connected.
    NumberAnswered {
        /// Whether it is the routing number's overflow number.
        overflow: bool,
    },
    /// The responder hung up the bridged call: it is over.
    ResponderLeft,
    /// The caller hung up.
    CallerHungUp,
    /// The caller is on the routing number's block list.
    Blocked {
        /// Caller ID (`None`: withheld).
        caller_id: Option<String>,
        /// The call-flow step that blocked the call (`None`: the classic block list).
        step: Option<String>,
    },
    /// The call arrived outside support hours.
    OutOfHours {
        /// What follows.
        then: ClosedThen,
        /// Why the hours say closed (the window, holiday or exception).
        why: String,
    },
    /// A call-flow hours step decided.
    SupportHours {
        /// In hours.
        open: bool,
        /// Why (the window, holiday or exception).
        why: String,
    },
    /// A voicemail-only routing number: recording at once.
    VoicemailOnly,
    /// The caller overflowed.
    Overflow {
        /// Why.
        reason: OverflowReason,
        /// Where to.
        target: OverflowTarget,
    },
    /// The caller chose a menu option (classic menus).
    OptionChosen {
        /// The key.
        key: u8,
        /// The option's label.
        label: String,
        /// The escalation policy it calls.
        policy: String,
    },
    /// The policy has nobody on call at all.
    NobodyOnCall {
        /// Policy id.
        policy: String,
    },
    /// A level (or route target) of the plan had nobody on call on its schedule.
    ScheduleGap {
        /// `level` (escalation policies) or `target` (call-flow routes).
        what: String,
        /// 1-based level or target number.
        level: usize,
        /// Schedule id.
        schedule: String,
    },
    /// A user of the plan is skipped.
    Skipped {
        /// User id.
        user: String,
        /// Why.
        why: String,
    },
    /// Every responder of the plan was tried; nobody accepted.
    EveryoneTried,
    /// A dial attempt ended without the responder accepting.
    AttemptEnded {
        /// User id (or the number).
        user: String,
        /// The number dialled.
        number: String,
        /// How it ended.
        outcome: AttemptOutcome,
    },
    /// A responder accepted (with the accept key, or by answering).
    Accepted {
        /// User id.
        user: String,
        /// The accept key (`None`: answering is accepting).
        key: Option<char>,
    },
    /// Several responders are rung at once.
    RingingInParallel {
        /// How many.
        count: usize,
    },
    /// A number rung in parallel answered: the caller is connected.
    MemberAnswered {
        /// The number.
        number: String,
    },
    /// The call flow points nowhere (a bug in the compiled flow, or a loop of
    /// automatic steps).
    FlowError {
        /// Step index.
        step: usize,
        /// Automatic steps taken before.
        hops: usize,
    },
    /// The call entered a call-flow step.
    Step {
        /// Its name.
        name: String,
        /// Its type (`menu`, `route`, ...).
        step_type: String,
    },
    /// A goto step: the call continues in another routing number.
    Goto {
        /// Routing number id.
        routing: String,
    },
    /// A route round has nobody to call.
    NobodyThisRound,
    /// A route round starts.
    Round {
        /// 1-based round.
        round: u32,
        /// Rounds in all.
        of: u32,
    },
    /// A route round is over with nobody accepting; the next follows after a pause.
    RoundOver {
        /// 1-based round.
        round: u32,
        /// Pause before the next, in seconds.
        pause_s: u64,
    },
}

impl fmt::Display for OverflowTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverflowTarget::Step(s) => write!(f, "step {s}"),
            OverflowTarget::RoutingNumber(id) => write!(f, "routing number {id}"),
            OverflowTarget::Number(n) => write!(f, "number {n}"),
            OverflowTarget::Voicemail => f.write_str("voicemail"),
            OverflowTarget::Message => f.write_str("message"),
        }
    }
}

impl fmt::Display for Noted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Noted::MenuTimeout => f.write_str("no key pressed before the menu timeout"),
            Noted::VoicemailMaxLength => f.write_str("voicemail reached its maximum length"),
            Noted::PinTimeout => f.write_str("no PIN entered before the timeout"),
            Noted::PinCorrect => f.write_str("PIN correct"),
            Noted::PinWrong => f.write_str("wrong PIN"),
            Noted::InvalidKey { key } => write!(f, "key {key} is not a menu option"),
            Noted::MenuKey { key } => write!(f, "key {key}"),
            Noted::MenuBack => f.write_str("key *: back to the previous menu"),
            Noted::MenuRepeat => f.write_str("key #: the menu again"),
            Noted::MenuDefault { key: Some(k) } => write!(f, "taking the default option {k}"),
            Noted::MenuDefault { key: None } => {
                f.write_str("menu tries used up: taking the default step")
            }
            Noted::MessageKeyEnded => f.write_str("caller finished the message with #"),
            Noted::MessageSilenceEnded => f.write_str("silence: the message is over"),
            Noted::NumberAnswered { overflow: true } => {
                f.write_str("overflow number answered: connecting")
            }
            Noted::NumberAnswered { overflow: false } => {
                f.write_str("the number answered: connecting")
            }
            Noted::ResponderLeft => f.write_str("responder hung up: the call is over"),
            Noted::CallerHungUp => f.write_str("caller hung up"),
            Noted::Blocked { caller_id, step } => {
                let who = caller_id.as_deref().unwrap_or("anonymous");
                match step {
                    Some(s) => write!(f, "caller {who} is blocked by step {s}"),
                    None => write!(f, "caller {who} is on the block list"),
                }
            }
            Noted::OutOfHours { then, why } => {
                let then = match then {
                    ClosedThen::Closed => "closed",
                    ClosedThen::Voicemail => "voicemail",
                };
                write!(f, "outside support hours ({why}): {then}")
            }
            Noted::SupportHours { open, why } => write!(
                f,
                "support hours: {} ({why})",
                if *open { "open" } else { "closed" }
            ),
            Noted::VoicemailOnly => f.write_str("voicemail-only number: recording at once"),
            Noted::Overflow { reason, target } => {
                write!(f, "overflow ({}): {target}", reason.as_str())
            }
            Noted::OptionChosen { key, label, policy } => {
                write!(f, "option {key}: {label} (policy {policy})")
            }
            Noted::NobodyOnCall { policy } => write!(f, "nobody on call for policy {policy}"),
            Noted::ScheduleGap {
                what,
                level,
                schedule,
            } => write!(f, "{what} {level}: nobody on call on schedule {schedule}"),
            Noted::Skipped { user, why } => write!(f, "skipping {user}: {why}"),
            Noted::EveryoneTried => f.write_str("every responder was tried; nobody accepted"),
            Noted::AttemptEnded {
                user,
                number,
                outcome,
            } => write!(f, "{user} ({number}): {}", outcome.as_str()),
            Noted::Accepted { user, key: Some(k) } => write!(f, "{user} accepted with key {k}"),
            Noted::Accepted { user, key: None } => write!(f, "{user} answered"),
            Noted::RingingInParallel { count } => {
                write!(f, "ringing {count} responders in parallel")
            }
            Noted::MemberAnswered { number } => write!(f, "{number} answered: connecting"),
            Noted::FlowError { step, hops } => write!(
                f,
                "call flow error at step {step} (after {hops} automatic steps)"
            ),
            Noted::Step { name, step_type } => write!(f, "step {name} ({step_type})"),
            Noted::Goto { routing } => write!(f, "continuing in routing number {routing}"),
            Noted::NobodyThisRound => f.write_str("nobody to call in this round"),
            Noted::Round { round, of } => write!(f, "round {round} of {of}"),
            Noted::RoundOver { round, pause_s } => {
                write!(f, "round {round}: nobody accepted; again in {pause_s} s")
            }
        }
    }
}
