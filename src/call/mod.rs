//! One call's flow: intake → greeting → menu → hunt → accept → bridge → end.
//!
//! Sans-IO: [`Call`] takes [`Event`]s and the current time and returns [`Action`]s; it
//! never reads a clock, sleeps or touches a device. Timers are exposed through
//! [`Call::poll_timeout`] and fired with [`Call::handle_timeout`]. The exchange
//! (`crate::exchange`) turns actions into line, modem and media operations.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod cdr;
pub mod flow;
mod noted;
mod parallel;
mod walk;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use cdr::{AttemptOutcome, AttemptRecord, Cdr, EndReason};
pub use noted::{ClosedThen, Noted, OverflowTarget};

use crate::config::{Config, OverflowReason, OverflowTo};
pub use crate::media::recorder::RecordEnd;
use crate::routing::{HuntPlan, PlannedAttempt, hunt_plan};

/// Wrong PINs before the call ends.
const PIN_TRIES: u32 = 3;
/// Time allowed for the PIN prompt itself, on top of the menu timeout.
const PIN_PROMPT_TIME: Duration = Duration::from_secs(10);

/// Identifies a call within one run of the service.
pub type CallId = u64;

/// The fixed prompts of a routing number. Their text comes from the configuration
/// (greeting, announcement) or from the built-in phrase list (`crate::media`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prompt {
    /// Greeting plus generated menu.
    Greeting,
    /// "Sorry, that is not a valid choice."
    InvalidChoice,
    /// "Please hold while we connect you."
    PleaseHold,
    /// "No one is available right now. Goodbye."
    NobodyAvailable,
    /// "Goodbye."
    Goodbye,
    /// To the responder: "This is X. You have a caller on hold. Press any key ..."
    Announcement,
    /// To the responder after accepting: "Connecting."
    Connecting,
    /// Outside support hours with `out_of_hours = "closed"`.
    Closed,
    /// "All lines are busy. You are caller number N in line." (N = 1..=9; larger
    /// positions use [`Prompt::QueueWait`]).
    QueuePosition(u8),
    /// "All lines are busy. Please stay on the line."
    QueueWait,
    /// "The expected wait is about N minutes." (N = 1..=9; 10 = "ten minutes or more").
    ExpectedWait(u8),
    /// The caller's number is blocked.
    Blocked,
    /// "Please enter your PIN, then press the hash key."
    EnterPin,
    /// "That PIN is not correct."
    WrongPin,
    /// The overflow message (configured, or "All lines are busy ...").
    Overflow,
    /// "Please leave a message after the tone ..." (configured, or a built-in phrase).
    LeaveMessage,
    /// The tone before recording (generated, not spoken).
    Beep,
    /// "Thank you, your message has been recorded. Goodbye."
    MessageRecorded,
    /// The `say` text of the call flow's step with this index (menu prompt, message,
    /// hang-up message, voicemail or route prompt).
    Step(u16),
    /// A menu step's `invalid` text.
    StepInvalid(u16),
    /// A menu step's `timeout_say` text.
    StepTimeout(u16),
}

impl Prompt {
    /// The prompt that tells a waiting caller their position.
    pub fn queue_position(position: u32) -> Prompt {
        match u8::try_from(position) {
            Ok(n @ 1..=9) => Prompt::QueuePosition(n),
            _ => Prompt::QueueWait,
        }
    }
}

/// What happened, as seen by the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The caller's line is off-hook; audio flows.
    CallerAnswered,
    /// The prompts queued for the caller have finished playing.
    CallerPromptDone,
    /// The caller pressed a key.
    CallerDigit(char),
    /// The caller hung up.
    CallerHangup,
    /// The responder's phone rings.
    LegAlerting,
    /// The responder picked up (a person or their voicemail).
    LegAnswered,
    /// The dial ended without an answer.
    LegFailed(LegFailure),
    /// The responder hung up after answering.
    LegHangup,
    /// The prompt queued for the responder has finished playing.
    ResponderPromptDone,
    /// The responder pressed a key.
    ResponderDigit(char),
    /// No line can take the dial yet: every trunk is busy (`position` in the routing
    /// number's queue) or the modem is resetting (`None`). The answer timeout does not
    /// run meanwhile; the exchange bounds the wait.
    LegQueued {
        /// Position in the queue (1 = next), if queued behind other callers.
        position: Option<QueueInfo>,
    },
    /// A line became free and the waiting dial went out: the answer timeout starts.
    LegDialled,
    /// The caller's position in the queue changed or is due to be announced again.
    QueuePosition(QueueInfo),
    /// The caller overflows (queue full, waited too long, too many calls in progress).
    Overflow(OverflowReason),
    /// While recording: the caller has been silent for the routing number's
    /// `voicemail.silence`.
    RecordingSilence,
    /// An event of one leg of a parallel ring (its index in the group, as in
    /// [`Action::DialMember`]): `LegAlerting`, `LegAnswered`, `LegFailed`, `LegHangup`,
    /// `ResponderPromptDone` or `ResponderDigit`.
    Member(usize, Box<Event>),
}

/// Where a waiting caller stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueInfo {
    /// Position (1 = next).
    pub position: u32,
    /// Expected wait in whole minutes (1-10, 10 = ten or more), once there is history.
    pub minutes: Option<u8>,
}

impl QueueInfo {
    /// The prompts that tell it.
    pub fn prompts(self) -> Vec<Prompt> {
        let mut v = vec![Prompt::queue_position(self.position)];
        if let Some(m) = self.minutes {
            v.push(Prompt::ExpectedWait(m.clamp(1, 10)));
        }
        v
    }
}

/// Why an outbound leg failed before being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegFailure {
    /// Busy.
    Busy,
    /// The network gave up ringing.
    NoAnswer,
    /// Anything else (network error, modem fault, no carrier).
    Failed,
    /// The modem was not ready and did not become ready in time.
    ModemUnavailable,
    /// The line to the responder is in use (a local phone already off-hook or ringing).
    LineBusy,
}

/// What the call wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Go off-hook on the caller's line.
    AnswerCaller,
    /// Play prompts to the caller in order (replaces whatever plays); `CallerPromptDone` follows.
    PlayCaller(Vec<Prompt>),
    /// Loop hold music to the caller until told otherwise.
    HoldMusic,
    /// Dial a responder.
    Dial {
        /// E.164 number.
        number: String,
        /// User id, for logs.
        user: String,
    },
    /// Play a prompt to the responder; `ResponderPromptDone` follows.
    PlayResponder(Prompt),
    /// Parallel ringing: dial one more responder at once, as member `index` of the
    /// group, on a free trunk (no queue: with none free it fails as `LineBusy`).
    DialMember {
        /// Index in the group; the member's events come back as [`Event::Member`].
        index: usize,
        /// E.164 number (or `port:<id>`).
        number: String,
        /// User id, for logs.
        user: String,
    },
    /// Play a prompt to a member; its `ResponderPromptDone` follows.
    PlayMember(usize, Prompt),
    /// Hang up a member (another accepted, or its time is up).
    HangupMember(usize),
    /// The member accepted: it becomes the call's responder leg (`Bridge`,
    /// `HangupLeg` apply to it from now on).
    AdoptMember(usize),
    /// Hang up (or cancel) the responder leg.
    HangupLeg,
    /// Cross-connect caller and responder audio.
    Bridge,
    /// Hang up the caller's line.
    HangupCaller,
    /// Start recording the caller (voicemail); the exchange reports
    /// [`Event::RecordingSilence`] after `silence` without sound.
    StartRecording {
        /// Longest recording.
        max: Duration,
        /// Silence that ends it.
        silence: Duration,
    },
    /// Stop recording; the recording goes out with the call's record.
    StopRecording(RecordEnd),
    /// A flow's alert step: create the call's alert now (or update it).
    Alert {
        /// The step's name.
        step: String,
    },
    /// A fact worth a transcript / log line (its `Display` is the line).
    Note(Noted),
    /// The call is over; store this record. Always the last action.
    Finished(Box<Cdr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    /// No leg up.
    Idle,
    /// The dial waits for a line (queued, or the modem resetting; no deadline here: the
    /// exchange answers with `LegDialled`, `LegFailed` or `Overflow`).
    Waiting,
    /// Dialled, waiting for an answer (until the deadline).
    Ringing { deadline: Instant },
    /// Answered, announcement playing; keys already count.
    Announcing,
    /// Announcement done; waiting for a key until the deadline.
    AwaitAccept { deadline: Instant },
    /// Several legs ring at once ([`Call::members`]).
    Parallel,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Answering,
    /// Collecting the caller's PIN.
    Pin {
        deadline: Instant,
        entered: String,
    },
    Greeting,
    Menu {
        deadline: Instant,
    },
    Hunting {
        leg: Leg,
    },
    Bridged,
    /// Voicemail prompt and beep playing; recording starts when they end.
    VoicemailPrompt,
    /// Recording the caller until `#`, silence, the deadline (maximum length) or a
    /// hang-up.
    Recording {
        deadline: Instant,
    },
    /// A flow's message step playing; then its next step.
    Message {
        next: flow::StepIdx,
    },
    /// Between two rounds of a flow's route step (hold music until the deadline).
    Pause {
        deadline: Instant,
    },
    /// Playing a last message; hang up when done (or at the deadline, as a safety net).
    Closing {
        deadline: Instant,
    },
    Done,
}

/// One call.
pub struct Call {
    id: CallId,
    cfg: Arc<Config>,
    routing: usize,
    state: State,
    tries: u32,
    plan: HuntPlan,
    next_attempt: usize,
    current: Option<(PlannedAttempt, Instant)>,
    rng: StdRng,
    started: Instant,
    wall_anchor: (Instant, Timestamp),
    bridge_started: Option<Instant>,
    end_reason: Option<EndReason>,
    cdr: Cdr,
    /// Hotline intake (FXS handset lifted): straight to the direct option, no menu.
    hotline: bool,
    pin_tries: u32,
    /// When the current wait for a line started.
    queued_since: Option<Instant>,
    /// The call already overflowed once: a second overflow plays the message.
    overflowed: bool,
    /// The attempt in progress connects without the accept prompt (overflow to a number).
    direct: bool,
    /// The step of an explicit call flow the call is in.
    step: Option<flow::StepIdx>,
    /// Menus left by a key, for `*` (back).
    menu_stack: Vec<flow::StepIdx>,
    /// Round of the current route step (1-based).
    round: u32,
    /// Why the call would end if the flow hangs up now (set by the failure branches:
    /// closed, blocked, wrong PIN, menu failed, nobody accepted).
    flow_reason: Option<EndReason>,
    /// The legs of a parallel ring, by index.
    members: Vec<parallel::Member>,
    /// A flow's queue step passed: where an overflowing caller goes, and its limits.
    queue_then: Option<flow::StepIdx>,
    queue_limits: (Option<u32>, Option<Duration>),
}

/// How a call came in.
#[derive(Debug, Clone, Default)]
pub struct Intake {
    /// Caller ID (the port id for an FXS hotline).
    pub caller_id: Option<String>,
    /// An FXS handset was lifted: no greeting and no menu, straight to the routing
    /// number's direct option.
    pub hotline: bool,
}

impl Call {
    /// A new call on routing number `routing` (index into the configuration), arriving
    /// at `now`, which is `wall` in wall-clock time. `seed` orders responders within a
    /// level. Returns the call and its first actions.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: CallId,
        cfg: Arc<Config>,
        routing: usize,
        intake: Intake,
        now: Instant,
        wall: Timestamp,
        seed: u64,
    ) -> (Self, Vec<Action>) {
        let rn = &cfg.routing_numbers[routing];
        let caller_id = intake.caller_id;
        let cdr = Cdr::started(
            id,
            wall,
            (rn.name.clone(), rn.key.clone()),
            rn.port_id().to_string(),
            caller_id,
            EndReason::Error,
        );
        let call = Call {
            id,
            cfg,
            routing,
            state: State::Answering,
            tries: 0,
            plan: HuntPlan::default(),
            next_attempt: 0,
            current: None,
            rng: StdRng::seed_from_u64(seed),
            started: now,
            wall_anchor: (now, wall),
            bridge_started: None,
            end_reason: None,
            cdr,
            hotline: intake.hotline,
            pin_tries: 0,
            queued_since: None,
            overflowed: false,
            direct: false,
            step: None,
            menu_stack: Vec::new(),
            round: 0,
            flow_reason: None,
            members: Vec::new(),
            queue_then: None,
            queue_limits: (None, None),
        };
        (call, vec![Action::AnswerCaller])
    }

    /// Records the port the call arrived on (a routing number may have several).
    pub fn set_port(&mut self, port: &str) {
        self.cdr.port = port.to_string();
    }

    /// Adds time the caller waited before the call was taken in (a call to the SIM
    /// that rang behind the modem's call) to the CDR's queue time.
    pub fn add_queue_seconds(&mut self, secs: f64) {
        *self.cdr.queue_seconds.get_or_insert(0.0) += secs;
    }

    /// The responder who accepted, once one did.
    pub fn accepted_by(&self) -> Option<&str> {
        self.cdr.accepted_by.as_deref()
    }

    /// The caller's number, if known.
    pub fn caller_id(&self) -> Option<&str> {
        self.cdr.caller_id.as_deref()
    }

    /// The call's id.
    pub fn id(&self) -> CallId {
        self.id
    }

    /// Index of the routing number in the call's own configuration (the generation it
    /// started with; never an index into a newer one).
    pub fn routing(&self) -> usize {
        self.routing
    }

    /// Stable id of the routing number whose flow the call is in now.
    pub fn routing_id(&self) -> &str {
        &self.rn().key
    }

    /// Name of the routing number whose flow the call is in now.
    pub fn routing_name(&self) -> &str {
        &self.rn().name
    }

    /// The configuration the call runs on.
    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// Queue priority of the chosen option (0 before a choice).
    pub fn priority(&self) -> u8 {
        self.cdr
            .option_key
            .and_then(|k| self.rn().option(k))
            .map_or(0, |o| o.priority)
    }

    /// Whether the call has finished (its CDR was emitted).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// A short name of the current phase, for status pages.
    pub fn phase(&self) -> &'static str {
        match &self.state {
            State::Answering => "answering",
            State::Pin { .. } => "pin",
            State::Greeting => "greeting",
            State::Menu { .. } => "menu",
            State::Hunting { leg: Leg::Idle } => "hunting",
            State::Hunting { leg: Leg::Waiting } => "waiting for a line",
            State::Hunting {
                leg: Leg::Ringing { .. },
            } => "ringing responder",
            State::Hunting { leg: Leg::Parallel } => "ringing responders in parallel",
            State::Hunting { .. } => "awaiting accept",
            State::Bridged => "bridged",
            State::VoicemailPrompt => "voicemail prompt",
            State::Message { .. } => "message",
            State::Pause { .. } => "pause between rounds",
            State::Recording { .. } => "recording voicemail",
            State::Closing { .. } => "closing",
            State::Done => "done",
        }
    }

    fn wall(&self, now: Instant) -> Timestamp {
        let (mono, wall) = self.wall_anchor;
        let d = jiff::SignedDuration::try_from(now.saturating_duration_since(mono))
            .unwrap_or(jiff::SignedDuration::ZERO);
        wall.checked_add(d).unwrap_or(wall)
    }

    fn rn(&self) -> &crate::config::RoutingNumber {
        &self.cfg.routing_numbers[self.routing]
    }

    /// The earliest instant at which [`Call::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Menu { deadline }
            | State::Pause { deadline }
            | State::Closing { deadline }
            | State::Recording { deadline }
            | State::Pin { deadline, .. } => Some(*deadline),
            State::Hunting {
                leg: Leg::Ringing { deadline } | Leg::AwaitAccept { deadline },
            } => Some(*deadline),
            State::Hunting { leg: Leg::Parallel } => self.members_deadline(),
            _ => None,
        }
    }

    /// Fires timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match self.state.clone() {
            State::Menu { deadline } if now >= deadline => {
                out.push(Action::Note(Noted::MenuTimeout));
                if self.explicit() {
                    self.flow_menu_retry(now, false, &mut out);
                } else {
                    self.menu_retry(now, Vec::new(), &mut out);
                }
            }
            State::Pause { deadline } if now >= deadline => self.next_round(now, &mut out),
            State::Hunting { leg: Leg::Parallel } => self.members_timeout(now, &mut out),
            State::Closing { deadline } if now >= deadline => {
                self.finish(now, &mut out);
            }
            State::Recording { deadline } if now >= deadline => {
                out.push(Action::Note(Noted::VoicemailMaxLength));
                self.stop_recording(now, RecordEnd::MaxLength, &mut out);
            }
            State::Pin { deadline, .. } if now >= deadline => {
                out.push(Action::Note(Noted::PinTimeout));
                self.pin_wrong(now, &mut out);
            }
            State::Hunting {
                leg: Leg::Ringing { deadline },
            } if now >= deadline => {
                out.push(Action::HangupLeg);
                self.attempt_over(now, AttemptOutcome::NoAnswer, &mut out);
            }
            State::Hunting {
                leg: Leg::AwaitAccept { deadline },
            } if now >= deadline => {
                out.push(Action::HangupLeg);
                self.attempt_over(now, AttemptOutcome::AcceptTimeout, &mut out);
            }
            _ => {}
        }
        out
    }

    /// Handles one event at `now`.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.state.clone(), event) {
            (State::Done, _) => {}
            (_, Event::CallerHangup) => self.caller_gone(now, &mut out),
            (State::Hunting { leg: Leg::Parallel }, Event::Member(i, ev)) => {
                self.member_event(now, i, *ev, &mut out);
            }
            (State::Answering, Event::CallerAnswered) if self.explicit() => {
                let start = self.rn().flow.start;
                self.enter(now, start, &mut out);
            }
            (State::Answering, Event::CallerAnswered) => {
                self.classic_intake(now, &mut out);
            }
            (State::Pin { .. }, Event::CallerPromptDone) => {}
            (
                State::Pin {
                    mut entered,
                    deadline,
                },
                Event::CallerDigit(d),
            ) => {
                let want = self.pin_wanted();
                if d == '#' || (d.is_ascii_digit() && entered.len() + 1 >= want.len()) {
                    if d.is_ascii_digit() {
                        entered.push(d);
                    }
                    if entered == want {
                        out.push(Action::Note(Noted::PinCorrect));
                        self.cdr.pin = Some("ok".into());
                        if let Some(next) = self.pin_next() {
                            self.enter(now, next, &mut out);
                        } else {
                            self.start_flow(now, &mut out);
                        }
                    } else {
                        out.push(Action::Note(Noted::PinWrong));
                        self.pin_wrong(now, &mut out);
                    }
                } else if d.is_ascii_digit() {
                    entered.push(d);
                    self.state = State::Pin { deadline, entered };
                }
            }
            (State::Greeting, Event::CallerPromptDone) if self.explicit() => {
                self.state = State::Menu {
                    deadline: now
                        + self
                            .menu_step()
                            .map_or(Duration::from_secs(10), |m| m.timeout),
                };
            }
            (State::Greeting | State::Menu { .. }, Event::CallerDigit(d)) if self.explicit() => {
                self.cdr.digits.push(d);
                self.flow_menu_key(now, d, &mut out);
            }
            (State::Message { next }, Event::CallerPromptDone) => self.enter(now, next, &mut out),
            (State::Pause { .. }, Event::CallerPromptDone) => out.push(Action::HoldMusic),
            (State::Greeting, Event::CallerPromptDone) => {
                if self.rn().options.len() == 1 {
                    let key = self.rn().options[0].key_n();
                    self.choose(now, key, &mut out);
                } else {
                    self.state = State::Menu {
                        deadline: now + self.rn().menu_wait(),
                    };
                }
            }
            (State::Greeting | State::Menu { .. }, Event::CallerDigit(d)) => {
                self.cdr.digits.push(d);
                match d.to_digit(10).and_then(|k| u8::try_from(k).ok()) {
                    Some(k) if self.rn().option(k).is_some() => self.choose(now, k, &mut out),
                    _ => {
                        out.push(Action::Note(Noted::InvalidKey { key: d }));
                        self.menu_retry(now, vec![Prompt::InvalidChoice], &mut out);
                    }
                }
            }
            (
                State::Hunting { .. }
                | State::Bridged
                | State::Closing { .. }
                | State::Message { .. }
                | State::Pause { .. },
                Event::CallerDigit(d),
            ) => {
                self.cdr.digits.push(d);
            }
            (State::Hunting { .. }, Event::CallerPromptDone) => out.push(Action::HoldMusic),
            (State::VoicemailPrompt, Event::CallerPromptDone) => {
                let vm = &self.rn().voicemail;
                let (max, silence) = vm.limits();
                self.state = State::Recording {
                    deadline: now + max,
                };
                out.push(Action::StartRecording { max, silence });
            }
            (State::VoicemailPrompt, Event::CallerDigit(d)) => self.cdr.digits.push(d),
            (State::Recording { .. }, Event::CallerDigit(d)) => {
                self.cdr.digits.push(d);
                if d == '#' {
                    out.push(Action::Note(Noted::MessageKeyEnded));
                    self.stop_recording(now, RecordEnd::Key, &mut out);
                }
            }
            (State::Recording { .. }, Event::RecordingSilence) => {
                out.push(Action::Note(Noted::MessageSilenceEnded));
                self.stop_recording(now, RecordEnd::Silence, &mut out);
            }
            (State::Closing { .. }, Event::CallerPromptDone) => self.finish(now, &mut out),
            (
                State::Hunting {
                    leg: Leg::Ringing { .. },
                },
                Event::LegAlerting,
            ) => {}
            (
                State::Hunting {
                    leg: Leg::Ringing { .. },
                },
                Event::LegAnswered,
            ) => {
                if self.direct {
                    out.push(Action::Note(Noted::NumberAnswered { overflow: true }));
                    self.accept(now, None, &mut out);
                } else if self.current_is_number() {
                    out.push(Action::Note(Noted::NumberAnswered { overflow: false }));
                    self.accept(now, None, &mut out);
                } else {
                    self.state = State::Hunting {
                        leg: Leg::Announcing,
                    };
                    out.push(Action::PlayResponder(Prompt::Announcement));
                }
            }
            (
                State::Hunting {
                    leg: Leg::Ringing { .. },
                },
                Event::LegQueued { position },
            ) => {
                self.state = State::Hunting { leg: Leg::Waiting };
                self.queued_since = Some(now);
                if let Some(q) = position {
                    out.push(Action::PlayCaller(q.prompts()));
                }
            }
            (State::Hunting { leg: Leg::Waiting }, Event::QueuePosition(q)) => {
                out.push(Action::PlayCaller(q.prompts()));
            }
            (State::Hunting { leg: Leg::Waiting }, Event::LegDialled) => {
                self.end_wait(now);
                self.state = State::Hunting {
                    leg: Leg::Ringing {
                        deadline: now + self.answer_timeout(),
                    },
                };
            }
            (
                State::Answering
                | State::Pin { .. }
                | State::Greeting
                | State::Menu { .. }
                | State::Hunting { .. },
                Event::Overflow(reason),
            ) => self.overflow(now, reason, &mut out),
            (
                State::Hunting {
                    leg: Leg::Ringing { .. } | Leg::Waiting,
                },
                Event::LegFailed(f),
            ) => {
                self.end_wait(now);
                let outcome = match f {
                    LegFailure::Busy | LegFailure::LineBusy => AttemptOutcome::Busy,
                    LegFailure::NoAnswer => AttemptOutcome::NoAnswer,
                    LegFailure::Failed => AttemptOutcome::Failed,
                    LegFailure::ModemUnavailable => AttemptOutcome::ModemUnavailable,
                };
                self.attempt_over(now, outcome, &mut out);
            }
            (
                State::Hunting {
                    leg: Leg::Announcing,
                },
                Event::ResponderPromptDone,
            ) => {
                self.state = State::Hunting {
                    leg: Leg::AwaitAccept {
                        deadline: now + self.rn().accept_wait(),
                    },
                };
            }
            (
                State::Hunting {
                    leg: Leg::Announcing | Leg::AwaitAccept { .. },
                },
                Event::ResponderDigit(d),
            ) => {
                if d == '2' {
                    out.push(Action::HangupLeg);
                    self.attempt_over(now, AttemptOutcome::Declined, &mut out);
                } else {
                    self.accept(now, Some(d), &mut out);
                }
            }
            (
                State::Hunting {
                    leg: Leg::Announcing | Leg::AwaitAccept { .. },
                },
                Event::LegHangup | Event::LegFailed(_),
            ) => self.attempt_over(now, AttemptOutcome::HungUp, &mut out),
            (State::Bridged, Event::LegHangup | Event::LegFailed(_)) => {
                out.push(Action::Note(Noted::ResponderLeft));
                self.end_reason = Some(EndReason::Completed);
                self.finish(now, &mut out);
            }
            // Anything else is late or irrelevant in this state (e.g. a digit from a leg
            // already hung up); ignore it.
            _ => {}
        }
        out
    }

    /// The service is stopping: say goodbye and hang up (the caller is never dropped
    /// silently).
    pub fn shutdown(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Done {
            return out;
        }
        self.cancel_members(now, &mut out);
        if self.current.is_some() {
            out.push(Action::HangupLeg);
            self.record_attempt(now, AttemptOutcome::Cancelled);
        }
        if matches!(self.state, State::Recording { .. }) {
            // keep what the caller said so far
            out.push(Action::StopRecording(RecordEnd::Shutdown));
        }
        self.close(now, EndReason::Shutdown, Prompt::Goodbye, &mut out);
        out
    }

    /// The classic routing number's intake: block list, support hours, PIN, then the
    /// greeting (also after an overflow or a goto into such a number).
    fn classic_intake(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.rn().blocked.is_empty() {
            self.path_push("block");
        }
        let hours = crate::routing::support_status(&self.cfg, self.routing, self.wall(now));
        if self.rn().is_blocked(self.cdr.caller_id.as_deref()) {
            out.push(Action::Note(Noted::Blocked {
                caller_id: self.cdr.caller_id.clone(),
                step: None,
            }));
            self.close(now, EndReason::Blocked, Prompt::Blocked, out);
            return;
        }
        if self.rn().support_hours.is_some() {
            self.path_push("hours");
        }
        if hours.applies == Some(crate::routing::support::OutOfHours::Closed) {
            self.path_push("closed");
            out.push(Action::Note(Noted::OutOfHours {
                then: ClosedThen::Closed,
                why: format!("{:?}", hours.reason),
            }));
            self.close(now, EndReason::Closed, Prompt::Closed, out);
        } else if hours.applies == Some(crate::routing::support::OutOfHours::Voicemail) {
            out.push(Action::Note(Noted::OutOfHours {
                then: ClosedThen::Voicemail,
                why: format!("{:?}", hours.reason),
            }));
            self.start_voicemail("out_of_hours", out);
        } else if self.rn().pin.is_some() {
            self.path_push("pin");
            self.ask_pin(now, vec![Prompt::EnterPin], out);
        } else {
            self.start_flow(now, out);
        }
    }

    /// After the intake checks: a hotline goes straight to its option; a number with a
    /// single option or a menu plays its greeting.
    fn start_flow(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.explicit() {
            let start = self.rn().flow.start;
            self.enter(now, start, out);
            return;
        }
        if self.rn().voicemail.only {
            out.push(Action::Note(Noted::VoicemailOnly));
            self.start_voicemail("voicemail_only", out);
        } else if self.hotline {
            match self.rn().direct_option() {
                Some(k) => self.choose(now, k, out),
                None => self.close(now, EndReason::Error, Prompt::Goodbye, out),
            }
        } else {
            self.path_push("menu");
            self.state = State::Greeting;
            out.push(Action::PlayCaller(vec![Prompt::Greeting]));
        }
    }

    fn ask_pin(&mut self, now: Instant, prompts: Vec<Prompt>, out: &mut Vec<Action>) {
        self.state = State::Pin {
            deadline: now + self.rn().menu_wait() + PIN_PROMPT_TIME,
            entered: String::new(),
        };
        out.push(Action::PlayCaller(prompts));
    }

    fn pin_wrong(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.pin_tries += 1;
        if self.explicit() {
            self.flow_pin_wrong(now, out);
        } else if self.pin_tries < PIN_TRIES {
            self.ask_pin(now, vec![Prompt::WrongPin, Prompt::EnterPin], out);
        } else {
            self.cdr.pin = Some("failed".into());
            self.close(now, EndReason::PinFailed, Prompt::Goodbye, out);
        }
    }

    /// Adds the time since the caller started waiting for a line to the CDR.
    fn end_wait(&mut self, now: Instant) {
        if let Some(since) = self.queued_since.take() {
            let waited = now.saturating_duration_since(since).as_secs_f64();
            *self.cdr.queue_seconds.get_or_insert(0.0) += waited;
        }
    }

    /// The caller overflows: the routing number's overflow destination, or the
    /// overflow message (also for a second overflow).
    fn overflow(&mut self, now: Instant, reason: OverflowReason, out: &mut Vec<Action>) {
        self.end_wait(now);
        if self.current.is_some() {
            out.push(Action::HangupLeg);
            self.record_attempt(now, AttemptOutcome::Cancelled);
        }
        if let Some(step) = self.queue_then.take().filter(|_| self.explicit()) {
            let name = self
                .rn()
                .flow
                .steps
                .get(step)
                .map_or("", |s| s.name.as_str());
            out.push(Action::Note(Noted::Overflow {
                reason,
                target: OverflowTarget::Step(name.to_string()),
            }));
            self.cdr.overflow = Some(format!("{} -> step {name}", reason.as_str()));
            self.overflowed = true;
            self.flow_reason = Some(EndReason::Overflow);
            self.enter(now, step, out);
            return;
        }
        let to = if self.overflowed {
            None
        } else {
            self.rn().overflow_to.clone()
        };
        self.overflowed = true;
        let record = |target: OverflowTarget, out: &mut Vec<Action>, cdr: &mut Cdr| {
            let entry = format!("{} -> {target}", reason.as_str());
            out.push(Action::Note(Noted::Overflow { reason, target }));
            cdr.overflow = Some(match cdr.overflow.take() {
                Some(prev) => format!("{prev}; {entry}"),
                None => entry,
            });
        };
        match to {
            Some(OverflowTo::RoutingNumber(id)) => {
                let Some((idx, _)) = self.cfg.routing_number(&id) else {
                    record(OverflowTarget::Message, out, &mut self.cdr);
                    self.close(now, EndReason::Overflow, Prompt::Overflow, out);
                    return;
                };
                record(
                    OverflowTarget::RoutingNumber(id.clone()),
                    out,
                    &mut self.cdr,
                );
                self.routing = idx;
                self.tries = 0;
                self.plan = HuntPlan::default();
                self.next_attempt = 0;
                self.hotline = false;
                self.step = None;
                self.menu_stack.clear();
                self.start_flow(now, out);
            }
            Some(OverflowTo::Number(number)) => {
                record(OverflowTarget::Number(number.clone()), out, &mut self.cdr);
                self.direct = true;
                self.plan = HuntPlan {
                    attempts: vec![PlannedAttempt {
                        level: 0,
                        user: format!("overflow {number}"),
                        number,
                    }],
                    ..HuntPlan::default()
                };
                self.next_attempt = 0;
                self.state = State::Hunting { leg: Leg::Idle };
                out.push(Action::PlayCaller(vec![Prompt::PleaseHold]));
                self.dial_next(now, out);
            }
            Some(OverflowTo::Voicemail) => {
                record(OverflowTarget::Voicemail, out, &mut self.cdr);
                self.start_voicemail("overflow", out);
            }
            Some(OverflowTo::Message) | None => {
                record(OverflowTarget::Message, out, &mut self.cdr);
                self.close(now, EndReason::Overflow, Prompt::Overflow, out);
            }
        }
    }

    fn menu_retry(&mut self, now: Instant, mut prompts: Vec<Prompt>, out: &mut Vec<Action>) {
        self.tries += 1;
        if self.tries < self.rn().menu_attempts() {
            prompts.push(Prompt::Greeting);
            self.state = State::Greeting;
            out.push(Action::PlayCaller(prompts));
        } else if let Some(d) = self.rn().default_key() {
            out.push(Action::Note(Noted::MenuDefault { key: Some(d) }));
            self.choose(now, d, out);
        } else {
            self.close(now, EndReason::MenuFailed, Prompt::Goodbye, out);
        }
    }

    fn choose(&mut self, now: Instant, key: u8, out: &mut Vec<Action>) {
        let Some(opt) = self.rn().option(key).cloned() else {
            self.close(now, EndReason::Error, Prompt::Goodbye, out);
            return;
        };
        let policy = opt.policy_id().to_string();
        self.path_push(&format!("option-{key}"));
        out.push(Action::Note(Noted::OptionChosen {
            key,
            label: opt.label.clone(),
            policy: policy.clone(),
        }));
        self.cdr.option_key = Some(key);
        self.cdr.option_label = Some(opt.label.clone());
        self.cdr.policy = Some(policy.clone());
        let at = self.wall(now);
        self.plan = hunt_plan(&self.cfg, &policy, at, &mut self.rng);
        self.plan_notes("level", out);
        if self.plan.is_empty() {
            out.push(Action::Note(Noted::NobodyOnCall {
                policy: policy.clone(),
            }));
            if self.rn().voicemail.enabled {
                self.end_reason = Some(EndReason::NobodyOnCall);
                self.start_voicemail("nobody_on_call", out);
            } else {
                self.close(now, EndReason::NobodyOnCall, Prompt::NobodyAvailable, out);
            }
            return;
        }
        self.state = State::Hunting { leg: Leg::Idle };
        out.push(Action::PlayCaller(vec![Prompt::PleaseHold]));
        self.dial_next(now, out);
    }

    /// Notes on the plan just built: schedule gaps (by `what`: level or target) and
    /// users skipped.
    fn plan_notes(&self, what: &str, out: &mut Vec<Action>) {
        for (level, schedule) in &self.plan.gaps {
            out.push(Action::Note(Noted::ScheduleGap {
                what: what.to_string(),
                level: *level,
                schedule: schedule.clone(),
            }));
        }
        for (user, why) in &self.plan.skipped {
            out.push(Action::Note(Noted::Skipped {
                user: user.clone(),
                why: why.clone(),
            }));
        }
    }

    fn dial_next(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(next) = self.plan.attempts.get(self.next_attempt).cloned() else {
            out.push(Action::Note(Noted::EveryoneTried));
            if self.explicit() && !self.direct {
                self.route_exhausted(now, out);
                return;
            }
            if self.rn().voicemail.enabled && !self.direct {
                self.start_voicemail("nobody_accepted", out);
            } else {
                self.close(now, EndReason::NobodyAccepted, Prompt::NobodyAvailable, out);
            }
            return;
        };
        self.next_attempt += 1;
        out.push(Action::Dial {
            number: next.number.clone(),
            user: next.user.clone(),
        });
        self.current = Some((next, now));
        self.state = State::Hunting {
            leg: Leg::Ringing {
                deadline: now + self.answer_timeout(),
            },
        };
    }

    fn record_attempt(&mut self, now: Instant, outcome: AttemptOutcome) {
        if let Some((a, started)) = self.current.take() {
            let rec = AttemptRecord {
                level: a.level,
                user: a.user,
                number: a.number,
                started_at: self.wall(started),
                seconds: now.saturating_duration_since(started).as_secs_f64(),
                outcome,
            };
            self.cdr.attempts.push(rec);
        }
    }

    fn attempt_over(&mut self, now: Instant, outcome: AttemptOutcome, out: &mut Vec<Action>) {
        if let Some((a, _)) = &self.current {
            out.push(Action::Note(Noted::AttemptEnded {
                user: a.user.clone(),
                number: a.number.clone(),
                outcome,
            }));
        }
        self.record_attempt(now, outcome);
        self.dial_next(now, out);
    }

    fn accept(&mut self, now: Instant, key: Option<char>, out: &mut Vec<Action>) {
        if let Some((a, _)) = &self.current {
            out.push(Action::Note(Noted::Accepted {
                user: a.user.clone(),
                key,
            }));
            self.cdr.accepted_by = Some(a.user.clone());
        }
        self.record_attempt(now, AttemptOutcome::Accepted);
        self.bridge_started = Some(now);
        self.cdr.bridge_started_at = Some(self.wall(now));
        self.state = State::Bridged;
        out.push(Action::Bridge);
    }

    fn caller_gone(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::Note(Noted::CallerHungUp));
        if matches!(self.state, State::Recording { .. }) {
            // what was recorded is kept
            out.push(Action::StopRecording(RecordEnd::Hangup));
            self.end_reason = Some(EndReason::Voicemail);
        } else if self.state == State::VoicemailPrompt {
            self.end_reason = Some(EndReason::CallerAbandoned);
        }
        self.end_wait(now);
        let reason = if self.state == State::Bridged {
            EndReason::Completed
        } else {
            EndReason::CallerAbandoned
        };
        self.cancel_members(now, out);
        if self.current.is_some() || self.state == State::Bridged {
            out.push(Action::HangupLeg);
        }
        self.record_attempt(now, AttemptOutcome::Cancelled);
        if self.end_reason.is_none() {
            self.end_reason = Some(reason);
        }
        self.finish(now, out);
    }

    /// Sends the caller to voicemail: prompt, beep, then recording. `why` goes into the
    /// CDR.
    fn start_voicemail(&mut self, why: &str, out: &mut Vec<Action>) {
        if !self.explicit() {
            self.path_push("voicemail");
        }
        self.cdr.voicemail = Some(why.to_string());
        self.state = State::VoicemailPrompt;
        out.push(Action::PlayCaller(vec![Prompt::LeaveMessage, Prompt::Beep]));
    }

    fn stop_recording(&mut self, now: Instant, why: RecordEnd, out: &mut Vec<Action>) {
        out.push(Action::StopRecording(why));
        self.close(now, EndReason::Voicemail, Prompt::MessageRecorded, out);
    }

    fn close(&mut self, now: Instant, reason: EndReason, prompt: Prompt, out: &mut Vec<Action>) {
        if prompt == Prompt::NobodyAvailable && !self.explicit() {
            self.path_push("nobody-available");
        }
        self.end_reason = Some(reason);
        self.state = State::Closing {
            deadline: now + Duration::from_secs(30),
        };
        out.push(Action::PlayCaller(vec![prompt]));
    }

    fn finish(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state == State::Done {
            return;
        }
        out.push(Action::HangupCaller);
        self.state = State::Done;
        if let Some(b) = self.bridge_started {
            self.cdr.bridge_seconds = Some(now.saturating_duration_since(b).as_secs_f64());
        }
        self.cdr.ended_at = self.wall(now);
        self.cdr.duration_seconds = now.saturating_duration_since(self.started).as_secs_f64();
        self.cdr.end_reason = self.end_reason.unwrap_or(EndReason::Error);
        out.push(Action::Finished(Box::new(self.cdr.clone())));
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    fn start() -> (Call, Instant) {
        let now = Instant::now();
        let (call, actions) = Call::new(
            1,
            Arc::new(Config::demo()),
            0,
            Intake {
                caller_id: Some("+15551234567".into()),
                hotline: false,
            },
            now,
            Timestamp::UNIX_EPOCH,
            7,
        );
        assert_eq!(actions, vec![Action::AnswerCaller]);
        (call, now)
    }

    fn finished(actions: &[Action]) -> Option<&Cdr> {
        actions.iter().find_map(|a| match a {
            Action::Finished(c) => Some(&**c),
            _ => None,
        })
    }

    #[test]
    fn accepted_by_first_responder() {
        let (mut c, t0) = start();
        assert_eq!(
            c.handle(t0, Event::CallerAnswered),
            vec![Action::PlayCaller(vec![Prompt::Greeting])]
        );
        c.handle(t0, Event::CallerPromptDone);
        let a = c.handle(t0 + Duration::from_secs(1), Event::CallerDigit('1'));
        assert!(a.contains(&Action::Dial {
            number: "+491701111111".into(),
            user: "alice".into()
        }));
        c.handle(t0 + Duration::from_secs(5), Event::LegAnswered);
        c.handle(t0 + Duration::from_secs(9), Event::ResponderPromptDone);
        let a = c.handle(t0 + Duration::from_secs(10), Event::ResponderDigit('5'));
        assert!(a.contains(&Action::Bridge));
        let a = c.handle(t0 + Duration::from_secs(70), Event::CallerHangup);
        let cdr = finished(&a).expect("cdr");
        assert_eq!(cdr.end_reason, EndReason::Completed);
        assert_eq!(cdr.accepted_by.as_deref(), Some("alice"));
        assert_eq!(cdr.bridge_seconds, Some(60.0));
        assert!(a.contains(&Action::HangupLeg));
        assert!(c.is_done());
    }

    #[test]
    fn decline_then_no_one_left() {
        let (mut c, t0) = start();
        c.handle(t0, Event::CallerAnswered);
        c.handle(t0, Event::CallerDigit('1'));
        c.handle(t0, Event::LegAnswered);
        let a = c.handle(t0, Event::ResponderDigit('2'));
        assert!(a.contains(&Action::HangupLeg));
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::Dial { user, .. } if user == "bob"))
        );
        // bob never answers: answer timeout
        let dl = c.poll_timeout().unwrap();
        let a = c.handle_timeout(dl);
        assert!(a.contains(&Action::PlayCaller(vec![Prompt::NobodyAvailable])));
        let a = c.handle(dl, Event::CallerPromptDone);
        let cdr = finished(&a).unwrap();
        assert_eq!(cdr.end_reason, EndReason::NobodyAccepted);
        let outcomes: Vec<_> = cdr.attempts.iter().map(|a| a.outcome).collect();
        assert_eq!(
            outcomes,
            vec![AttemptOutcome::Declined, AttemptOutcome::NoAnswer]
        );
        assert!(a.contains(&Action::HangupCaller));
    }

    #[test]
    fn invalid_keys_then_goodbye() {
        let (mut c, t0) = start();
        c.handle(t0, Event::CallerAnswered);
        for _ in 0..2 {
            let a = c.handle(t0, Event::CallerDigit('7'));
            assert_eq!(
                a.last(),
                Some(&Action::PlayCaller(vec![
                    Prompt::InvalidChoice,
                    Prompt::Greeting
                ]))
            );
        }
        let a = c.handle(t0, Event::CallerDigit('8'));
        assert_eq!(a.last(), Some(&Action::PlayCaller(vec![Prompt::Goodbye])));
        let a = c.handle(t0, Event::CallerPromptDone);
        assert_eq!(finished(&a).unwrap().end_reason, EndReason::MenuFailed);
        assert_eq!(finished(&a).unwrap().digits, "778");
    }

    #[test]
    fn a_queue_announcement_tells_position_then_expected_wait() {
        let q = QueueInfo {
            position: 12,
            minutes: Some(14),
        };
        assert_eq!(
            q.prompts(),
            vec![Prompt::QueueWait, Prompt::ExpectedWait(10)]
        );
        let q = QueueInfo {
            position: 2,
            minutes: None,
        };
        assert_eq!(q.prompts(), vec![Prompt::QueuePosition(2)]);
    }

    #[test]
    fn menu_timeout_replays() {
        let (mut c, t0) = start();
        c.handle(t0, Event::CallerAnswered);
        c.handle(t0, Event::CallerPromptDone);
        let dl = c.poll_timeout().unwrap();
        assert_eq!(dl, t0 + Duration::from_secs(10));
        let a = c.handle_timeout(dl);
        assert_eq!(a.last(), Some(&Action::PlayCaller(vec![Prompt::Greeting])));
    }

    #[test]
    fn caller_hangup_during_hunt_cancels_leg() {
        let (mut c, t0) = start();
        c.handle(t0, Event::CallerAnswered);
        c.handle(t0, Event::CallerDigit('1'));
        let a = c.handle(t0 + Duration::from_secs(3), Event::CallerHangup);
        assert!(a.contains(&Action::HangupLeg));
        let cdr = finished(&a).unwrap();
        assert_eq!(cdr.end_reason, EndReason::CallerAbandoned);
        assert_eq!(cdr.attempts[0].outcome, AttemptOutcome::Cancelled);
    }

    #[test]
    fn shutdown_during_the_hunt_says_goodbye_and_hangs_up() {
        let (mut c, t0) = start();
        c.handle(t0, Event::CallerAnswered);
        c.handle(t0, Event::CallerDigit('1'));
        let a = c.shutdown(t0 + Duration::from_secs(2));
        assert!(a.contains(&Action::HangupLeg));
        assert_eq!(a.last(), Some(&Action::PlayCaller(vec![Prompt::Goodbye])));
        let a = c.handle(t0 + Duration::from_secs(3), Event::CallerPromptDone);
        assert!(a.contains(&Action::HangupCaller));
        let cdr = finished(&a).unwrap();
        assert_eq!(cdr.end_reason, EndReason::Shutdown);
        assert_eq!(cdr.attempts[0].outcome, AttemptOutcome::Cancelled);
        assert!(
            c.shutdown(t0).is_empty(),
            "a finished call ignores a second stop"
        );
    }

    #[test]
    fn answering_machine_times_out_and_next_is_called() {
        let (mut c, t0) = start();
        c.handle(t0, Event::CallerAnswered);
        c.handle(t0, Event::CallerDigit('1'));
        c.handle(t0, Event::LegAnswered);
        c.handle(t0, Event::ResponderPromptDone);
        let dl = c.poll_timeout().unwrap();
        let a = c.handle_timeout(dl);
        assert!(a.contains(&Action::HangupLeg));
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::Dial { user, .. } if user == "bob"))
        );
    }

    #[test]
    fn dial_waits_for_the_modem_without_the_answer_timeout() {
        let (mut c, t0) = start();
        c.handle(t0, Event::CallerAnswered);
        c.handle(t0, Event::CallerDigit('1'));
        // the exchange cannot dial alice yet: the ringing timer stops
        assert!(c.handle(t0, Event::LegQueued { position: None }).is_empty());
        assert_eq!(c.phase(), "waiting for a line");
        assert_eq!(c.poll_timeout(), None);
        // 40 s later the modem is back and the dial goes out: a fresh answer timeout
        let t1 = t0 + Duration::from_secs(40);
        c.handle(t1, Event::LegDialled);
        assert_eq!(c.phase(), "ringing responder");
        let dl = c.poll_timeout().unwrap();
        assert_eq!(dl, t1 + Config::demo().routing_numbers[0].answer_wait());
        c.handle(t1, Event::LegAnswered);
        c.handle(t1, Event::ResponderPromptDone);
        let a = c.handle(t1, Event::ResponderDigit('1'));
        assert!(a.contains(&Action::Bridge));
        let a = c.handle(t1 + Duration::from_secs(5), Event::CallerHangup);
        let cdr = finished(&a).unwrap();
        assert_eq!(cdr.attempts[0].outcome, AttemptOutcome::Accepted);
        assert_eq!(cdr.attempts[0].seconds, 40.0);
    }

    #[test]
    fn modem_that_never_comes_back_is_recorded_and_the_hunt_goes_on() {
        let (mut c, t0) = start();
        c.handle(t0, Event::CallerAnswered);
        c.handle(t0, Event::CallerDigit('1'));
        c.handle(t0, Event::LegQueued { position: None });
        let a = c.handle(
            t0 + Duration::from_secs(45),
            Event::LegFailed(LegFailure::ModemUnavailable),
        );
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::Dial { user, .. } if user == "bob")),
            "{a:?}"
        );
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::Note(Noted::AttemptEnded { user, outcome: AttemptOutcome::ModemUnavailable, .. }) if user == "alice")),
            "{a:?}"
        );
        let a = c.handle(
            t0 + Duration::from_secs(45),
            Event::LegFailed(LegFailure::ModemUnavailable),
        );
        assert!(a.contains(&Action::PlayCaller(vec![Prompt::NobodyAvailable])));
        let a = c.handle(t0 + Duration::from_secs(50), Event::CallerPromptDone);
        let cdr = finished(&a).unwrap();
        assert_eq!(cdr.end_reason, EndReason::NobodyAccepted);
        let outcomes: Vec<_> = cdr.attempts.iter().map(|a| a.outcome.as_str()).collect();
        assert_eq!(outcomes, vec!["modem_unavailable", "modem_unavailable"]);
    }
}
