//! Call flows: a routing number's graph of named steps, compiled from the configuration
//! (`[routing_number.flow]`, or today's greeting + options shorthand) by
//! `crate::config::flow` and walked by [`crate::call::Call`].
//!
//! Pure data: step indexes instead of names, durations instead of strings. The checker
//! (`crate::config::flow::check`) has already proved that every name resolves, every
//! step is reachable, every branch ends audibly and no loop runs without a caller key.

use std::ops::Range;
use std::time::Duration;

/// Index of a step within its flow.
pub type StepIdx = usize;

/// A compiled flow.
#[derive(Debug, Clone, Default)]
pub struct Flow {
    /// The steps, in file order.
    pub steps: Vec<Step>,
    /// Where a call starts.
    pub start: StepIdx,
    /// Written as `[routing_number.flow]` (walked step by step); `false`: compiled from
    /// the greeting + options shorthand (the call runs the classic states and records
    /// the same step names in its path).
    pub explicit: bool,
}

/// One step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its name (the key under `[routing_number.flow.step]`).
    pub name: String,
    /// What it does.
    pub kind: StepKind,
    /// Text spoken when the step starts (menu prompt, message, hang-up message, voicemail
    /// prompt), if any.
    pub say: Option<String>,
    /// Language (espeak-ng voice) of the step's prompts; `None`: the routing number's.
    pub language: Option<String>,
    /// Where the step is written (byte range of its name), for located errors.
    pub span: Option<Range<usize>>,
    /// Its path in the file (`routing_number[0].flow.step.main`).
    pub path: String,
}

/// The kinds of step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Play the prompt, wait for a key.
    Menu(Menu),
    /// Play the prompt, then go on.
    Message {
        /// The next step.
        next: StepIdx,
    },
    /// Branch on the routing number's support hours.
    Hours {
        /// In hours.
        open: StepIdx,
        /// Out of hours.
        closed: StepIdx,
    },
    /// Call responders.
    Route(Route),
    /// Record a voicemail (the routing number's `[voicemail]` limits); the call ends there.
    Voicemail,
    /// Create the call's alert here (or, when it has one, send an update), then go on.
    Alert {
        /// The next step.
        next: StepIdx,
    },
    /// Ask for a PIN.
    Pin {
        /// The digits.
        pin: String,
        /// Wrong entries allowed.
        tries: u32,
        /// After the right PIN.
        next: StepIdx,
        /// After the last wrong entry (`None`: goodbye).
        then: Option<StepIdx>,
    },
    /// Turn away caller numbers.
    Block {
        /// E.164 numbers, prefixes ending in `*`, or `anonymous`.
        numbers: Vec<String>,
        /// A blocked caller goes here (`None`: the "blocked" message and hang-up).
        then: Option<StepIdx>,
        /// Everybody else goes here.
        next: StepIdx,
    },
    /// From here on, a caller who overflows while waiting for a line (the routing
    /// number's `[queue]` limits) goes to `then`; then `next`.
    Queue {
        /// The next step (a route, usually).
        next: StepIdx,
        /// Where an overflowing caller goes (`None`: the routing number's `[overflow]`).
        then: Option<StepIdx>,
        /// Callers of this routing number that may wait at once (`None`: its `[queue]`).
        max_callers: Option<u32>,
        /// Longest wait for a line (`None`: its `[queue]`).
        max_wait: Option<Duration>,
    },
    /// Say the step's message (or goodbye) and hang up.
    Hangup,
    /// Continue in another routing number's flow (by id).
    Goto {
        /// Routing number id.
        routing: String,
    },
}

/// A menu step.
#[derive(Debug, Clone, PartialEq)]
pub struct Menu {
    /// Keys `0-9 * #` and where they lead (an explicit `*` or `#` overrides back/repeat).
    pub keys: Vec<(char, StepIdx)>,
    /// Tries before `default` (or goodbye).
    pub tries: u32,
    /// Time to wait for a key after the prompt, per try.
    pub timeout: Duration,
    /// Spoken after an invalid key (default: "not a valid choice").
    pub invalid: Option<String>,
    /// Spoken when no key came in time (default: nothing, the prompt repeats).
    pub timeout_say: Option<String>,
    /// After the last failed try (`None`: goodbye).
    pub default: Option<StepIdx>,
}

impl Menu {
    /// Where a key leads, if it is one of the menu's.
    pub fn key(&self, k: char) -> Option<StepIdx> {
        self.keys.iter().find(|(c, _)| *c == k).map(|(_, s)| *s)
    }
}

/// Who a route calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A user (their first phone).
    User(String),
    /// Whoever is on call on a schedule.
    Schedule(String),
    /// An escalation policy's levels.
    Policy(String),
    /// A plain E.164 number: connected when it answers, without the accept prompt.
    Number(String),
}

impl Target {
    /// As written in the configuration (`user:alice`, `+15550001111`).
    pub fn describe(&self) -> String {
        match self {
            Target::User(u) => format!("user:{u}"),
            Target::Schedule(s) => format!("schedule:{s}"),
            Target::Policy(p) => format!("policy:{p}"),
            Target::Number(n) => n.clone(),
        }
    }
}

/// The order in which a route tries its responders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Targets in order; a policy's levels in order, random within a level.
    Levels,
    /// Every responder of the plan in random order.
    Random,
    /// Targets in the order written, a policy's users in configuration order.
    Sequential,
    /// Every responder at once, on as many free lines as there are; the first to
    /// accept wins.
    Parallel,
}

impl Order {
    /// Name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Levels => "levels",
            Order::Random => "random",
            Order::Sequential => "sequential",
            Order::Parallel => "parallel",
        }
    }
}

/// A route step.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Who is called.
    pub targets: Vec<Target>,
    /// In which order.
    pub order: Order,
    /// How long each responder's phone rings.
    pub answer_timeout: Duration,
    /// How often the whole plan is walked (1 = once).
    pub rounds: u32,
    /// Hold music between rounds.
    pub pause: Duration,
    /// When nobody accepted in any round (`None`: "nobody is available", or the
    /// routing number's voicemail when enabled).
    pub then: Option<StepIdx>,
}

impl StepKind {
    /// The kind's name as written (`type = "menu"`).
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::Menu(_) => "menu",
            StepKind::Message { .. } => "message",
            StepKind::Hours { .. } => "hours",
            StepKind::Route(_) => "route",
            StepKind::Voicemail => "voicemail",
            StepKind::Pin { .. } => "pin",
            StepKind::Block { .. } => "block",
            StepKind::Queue { .. } => "queue",
            StepKind::Alert { .. } => "alert",
            StepKind::Hangup => "hangup",
            StepKind::Goto { .. } => "goto",
        }
    }

    /// The steps this one leads to, each with a label and whether taking it needs a
    /// caller's key (a loop is only allowed through such an edge).
    pub fn edges(&self) -> Vec<(String, StepIdx, bool)> {
        match self {
            StepKind::Menu(m) => {
                let mut v: Vec<_> = m
                    .keys
                    .iter()
                    .map(|(k, s)| (format!("key {k}"), *s, true))
                    .collect();
                if let Some(d) = m.default {
                    v.push(("default".into(), d, false));
                }
                v
            }
            StepKind::Message { next } | StepKind::Alert { next } => {
                vec![("next".into(), *next, false)]
            }
            StepKind::Hours { open, closed } => vec![
                ("open".into(), *open, false),
                ("closed".into(), *closed, false),
            ],
            StepKind::Route(r) => r
                .then
                .map(|t| vec![("then".into(), t, false)])
                .unwrap_or_default(),
            StepKind::Pin { next, then, .. } => {
                // the right PIN is a caller action; the wrong-PIN branch is also taken
                // after timeouts, without one
                let mut v = vec![("next".into(), *next, true)];
                if let Some(t) = then {
                    v.push(("then".into(), *t, false));
                }
                v
            }
            StepKind::Queue { next, then, .. } => {
                let mut v = vec![("next".into(), *next, false)];
                if let Some(t) = then {
                    v.push(("overflow".into(), *t, false));
                }
                v
            }
            StepKind::Block { then, next, .. } => {
                let mut v = vec![("next".into(), *next, false)];
                if let Some(t) = then {
                    v.push(("then".into(), *t, false));
                }
                v
            }
            StepKind::Voicemail | StepKind::Hangup | StepKind::Goto { .. } => Vec::new(),
        }
    }
}

impl Flow {
    /// The step with this name.
    pub fn find(&self, name: &str) -> Option<StepIdx> {
        self.steps.iter().position(|s| s.name == name)
    }

    /// The flow as an indented tree from the start step; a step already shown is
    /// written `→ name` instead of again.
    pub fn tree(&self) -> String {
        let mut out = String::new();
        let mut shown = vec![false; self.steps.len()];
        if !self.steps.is_empty() {
            self.tree_at(self.start, "", 0, &mut shown, &mut out);
        }
        out
    }

    fn tree_at(&self, i: StepIdx, label: &str, depth: usize, shown: &mut [bool], out: &mut String) {
        let pad = "  ".repeat(depth);
        let s = &self.steps[i];
        if shown[i] {
            out.push_str(&format!("{pad}{label}→ {}\n", s.name));
            return;
        }
        shown[i] = true;
        out.push_str(&format!(
            "{pad}{label}{} [{}]{}\n",
            s.name,
            s.kind.type_name(),
            self.detail(s)
        ));
        for (l, j, _) in s.kind.edges() {
            self.tree_at(j, &format!("{l}: "), depth + 1, shown, out);
        }
    }

    fn detail(&self, s: &Step) -> String {
        let mut d = String::new();
        if let Some(say) = &s.say {
            d.push_str(&format!(" \"{say}\""));
        }
        match &s.kind {
            StepKind::Route(r) => {
                let t: Vec<String> = r.targets.iter().map(Target::describe).collect();
                d.push_str(&format!(
                    " {} order={} answer_timeout={}s rounds={}",
                    t.join(", "),
                    r.order.as_str(),
                    r.answer_timeout.as_secs(),
                    r.rounds
                ));
                if r.rounds > 1 {
                    d.push_str(&format!(" pause={}s", r.pause.as_secs()));
                }
            }
            StepKind::Menu(m) => {
                d.push_str(&format!(
                    " tries={} timeout={}s",
                    m.tries,
                    m.timeout.as_secs()
                ));
            }
            StepKind::Pin { tries, .. } => d.push_str(&format!(" tries={tries}")),
            StepKind::Queue {
                max_callers,
                max_wait,
                ..
            } => {
                if let Some(m) = max_callers {
                    d.push_str(&format!(" max_callers={m}"));
                }
                if let Some(w) = max_wait {
                    d.push_str(&format!(" max_wait={}s", w.as_secs()));
                }
            }
            StepKind::Block { numbers, .. } => d.push_str(&format!(" {}", numbers.join(", "))),
            StepKind::Goto { routing } => d.push_str(&format!(" → routing number {routing}")),
            _ => {}
        }
        d
    }
}
