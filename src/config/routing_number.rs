//! Routing numbers: where calls arrive, what callers hear, and where they go when
//! the box is full (queue and overflow, after seed 003).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::Problems;
use super::{
    BoardProfile, Config, PortKind, SupportHoursConfig, check_language, default_language, duration,
};
use super::{board, is_e164, schedule};

/// A routing number: where calls arrive and what callers hear.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingNumber {
    /// Stable id (letters, digits, `-`, `_`): how calls, prompts, overflow targets and
    /// status refer to this routing number. Default: derived from the name
    /// (`Emergency Hotline` → `emergency-hotline`).
    #[serde(default)]
    pub id: Option<Spanned<String>>,
    /// Name, spoken in the accept announcement ("This is Emergency Hotline").
    pub name: String,
    /// Port id from the board profile where calls for this number arrive.
    pub port: Spanned<String>,
    /// Language of the prompts (espeak-ng voice name, e.g. `en`, `de`, `fr`).
    #[serde(default = "default_language")]
    pub language: Spanned<String>,
    /// Greeting text, played first.
    #[serde(default)]
    pub greeting: String,
    /// Play only the greeting, without the generated "press 1 for ..." menu text.
    #[serde(default)]
    pub only_greeting: bool,
    /// Announcement to the responder; `{name}` is replaced by the routing number's name.
    #[serde(default = "default_announcement")]
    pub announcement: String,
    /// Time to wait for a key after the menu, per try.
    #[serde(default = "d10", deserialize_with = "duration")]
    pub menu_timeout: Spanned<Duration>,
    /// Tries before the default option (or goodbye) applies.
    #[serde(default = "default_menu_tries")]
    pub menu_tries: Spanned<u32>,
    /// Key of the option chosen after the last failed try; none = say goodbye.
    #[serde(default)]
    pub default_option: Option<Spanned<u8>>,
    /// How long each responder's phone rings.
    #[serde(default = "d20", deserialize_with = "duration")]
    pub answer_timeout: Spanned<Duration>,
    /// How long a responder has to press a key after the announcement.
    #[serde(default = "d10", deserialize_with = "duration")]
    pub accept_timeout: Spanned<Duration>,
    /// Menu options on keys 1-9.
    #[serde(default, rename = "option")]
    pub options: Vec<MenuOption>,
    /// Support hours; none: always in hours.
    #[serde(default)]
    pub support_hours: Option<SupportHoursConfig>,
    /// Further ports that carry calls of this number (a line group: the provider rolls a
    /// busy line over to the next). Each port belongs to one routing number.
    #[serde(default)]
    pub extra_ports: Vec<Spanned<String>>,
    /// Caller numbers that are turned away with a message: exact E.164 numbers,
    /// prefixes ending in `*` (`+1900*`), or `anonymous` (no caller ID).
    #[serde(default)]
    pub blocked: Vec<Spanned<String>>,
    /// Caller PIN (4 to 8 digits) asked for after the greeting; three wrong tries end
    /// the call.
    #[serde(default)]
    pub pin: Option<Spanned<String>>,
    /// The wait line used when every trunk is busy.
    #[serde(default)]
    pub queue: QueueConfig,
    /// Where callers go when the queue is full, the wait is too long, or too many
    /// calls are in progress on this number.
    #[serde(default)]
    pub overflow: Option<OverflowConfig>,
    /// A second call to the SIM while the modem's one voice channel is in use
    /// (call waiting, `+CCWA`): `reject` (default; the network then treats the caller
    /// as busy, so the SIM's forwarding on busy takes it) or `queue` (it keeps ringing
    /// and takes a place in this number's queue until the modem is free). Only for a
    /// routing number on the modem's port.
    #[serde(default)]
    pub waiting_call: WaitingCall,
    /// Voicemail (`[routing_number.voicemail]`): when nobody accepted, or for every
    /// call (`only`).
    #[serde(default)]
    pub voicemail: VoicemailConfig,
    /// Alerts of this routing number (`[routing_number.alerts]`).
    #[serde(default)]
    pub alerts: super::alerts::RoutingAlerts,
    /// The call flow as named steps (`[[routing_number.step]]`; the first is where calls
    /// start). Without steps, the greeting, options and the settings above make the flow.
    #[serde(default, rename = "step")]
    pub steps: Vec<super::flow::StepConfig>,
    /// The compiled flow (from `steps`, or from the classic settings); set when parsing.
    #[serde(skip)]
    pub flow: std::sync::Arc<crate::call::flow::Flow>,
    /// The stable id ([`RoutingNumber::id`] or derived from the name); set when parsing.
    #[serde(skip)]
    pub key: String,
    /// The overflow destination, resolved when parsing.
    #[serde(skip)]
    pub overflow_to: Option<OverflowTo>,
}

/// What becomes of a call to the SIM that waits behind the modem's call
/// (`waiting_call`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitingCall {
    /// Reject it at once (`AT+CHLD=0`): the caller hears busy, or the SIM's
    /// forwarding on busy takes the call.
    #[default]
    Reject,
    /// Leave it ringing (not answered: the caller hears ringback and pays nothing)
    /// with a place in the routing number's queue; when the modem's call ends the
    /// network presents it as a normal incoming call and it is answered.
    Queue,
}

impl WaitingCall {
    /// Name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitingCall::Reject => "reject",
            WaitingCall::Queue => "queue",
        }
    }
}

/// The wait line of a routing number (`[routing_number.queue]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Callers that may wait at once (default 5); one more overflows.
    #[serde(default = "default_max_callers")]
    pub max_callers: Spanned<u32>,
    /// Longest wait for a free line (default 5 min); then the caller overflows.
    #[serde(default = "default_max_wait", deserialize_with = "duration")]
    pub max_wait: Spanned<Duration>,
    /// How often a waiting caller hears their position (default 30 s).
    #[serde(default = "default_announce_every", deserialize_with = "duration")]
    pub announce_every: Spanned<Duration>,
}

impl QueueConfig {
    /// Callers that may wait at once.
    pub fn max_callers_n(&self) -> u32 {
        *self.max_callers.get_ref()
    }

    /// The longest a caller waits.
    pub fn max_wait_for(&self) -> Duration {
        *self.max_wait.get_ref()
    }

    /// How often a waiting caller hears their position.
    pub fn announce_period(&self) -> Duration {
        *self.announce_every.get_ref()
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_callers: default_max_callers(),
            max_wait: default_max_wait(),
            announce_every: default_announce_every(),
        }
    }
}

fn default_max_callers() -> Spanned<u32> {
    Spanned::new(0..0, 5)
}
fn default_max_wait() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(300))
}
fn default_announce_every() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(30))
}

/// Voicemail of a routing number (`[routing_number.voicemail]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicemailConfig {
    /// Record a message when nobody accepted (or nobody is on call).
    #[serde(default)]
    pub enabled: bool,
    /// Voicemail-only mode: skip greeting and menu and record at once (automated
    /// callers).
    #[serde(default)]
    pub only: bool,
    /// What the caller hears before the beep (default: a built-in phrase in the
    /// routing number's language).
    #[serde(default)]
    pub prompt: Option<String>,
    /// Longest message (default 180 s).
    #[serde(default = "default_vm_max", deserialize_with = "duration")]
    pub max_length: Spanned<Duration>,
    /// Silence that ends the message (default 5 s).
    #[serde(default = "default_vm_silence", deserialize_with = "duration")]
    pub silence: Spanned<Duration>,
}

impl VoicemailConfig {
    /// The longest message and the silence that ends one.
    pub fn limits(&self) -> (Duration, Duration) {
        (*self.max_length.get_ref(), *self.silence.get_ref())
    }
}

impl Default for VoicemailConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            only: false,
            prompt: None,
            max_length: default_vm_max(),
            silence: default_vm_silence(),
        }
    }
}

fn default_vm_max() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(180))
}
fn default_vm_silence() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(5))
}

/// Overflow routing (`[routing_number.overflow]`), after seed 003 (overflow routing).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverflowConfig {
    /// `message` (play `message`, hang up), `routing_number` (continue in another
    /// routing number's flow), `number` (dial `number` on a free line and connect the
    /// caller without an accept prompt) or `voicemail` (record a message).
    pub action: Spanned<String>,
    /// Text for `message` (default: "All lines are busy. Please call again later.").
    #[serde(default)]
    pub message: Option<String>,
    /// Routing number id for `routing_number`.
    #[serde(default)]
    pub routing_number: Option<Spanned<String>>,
    /// E.164 number for `number`.
    #[serde(default)]
    pub number: Option<Spanned<String>>,
    /// Overflow new callers at once when this many calls of this routing number are
    /// already in progress (none: no such threshold).
    #[serde(default)]
    pub calls_in_progress: Option<Spanned<u32>>,
}

/// Where an overflowing caller goes (resolved from [`OverflowConfig`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverflowTo {
    /// Play the routing number's overflow message and hang up.
    Message,
    /// Continue in the flow of the routing number with this id.
    RoutingNumber(String),
    /// Dial this number and connect the caller when it answers.
    Number(String),
    /// Record a voicemail.
    Voicemail,
}

/// Why a caller overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowReason {
    /// The queue already holds `max_callers`.
    QueueFull,
    /// The caller waited `max_wait`.
    MaxWait,
    /// `calls_in_progress` calls were already in progress.
    Threshold,
}

impl OverflowReason {
    /// Name used in CDRs and notes.
    pub fn as_str(self) -> &'static str {
        match self {
            OverflowReason::QueueFull => "queue_full",
            OverflowReason::MaxWait => "max_wait",
            OverflowReason::Threshold => "calls_in_progress",
        }
    }
}

/// A menu option.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    /// Key 1-9.
    pub key: Spanned<u8>,
    /// Spoken label ("Network Operations").
    pub label: String,
    /// Escalation policy id.
    pub policy: Spanned<String>,
    /// Queue priority (0-9, default 0): a waiting caller of a higher-priority option is
    /// served before callers of lower ones, whatever their arrival.
    #[serde(default)]
    pub priority: u8,
}

impl MenuOption {
    /// Its key.
    pub fn key_n(&self) -> u8 {
        *self.key.get_ref()
    }

    /// The escalation policy it calls.
    pub fn policy_id(&self) -> &str {
        self.policy.get_ref()
    }
}

fn default_announcement() -> String {
    "This is {name}. You have a caller on hold. Press any key to connect, or 2 to decline.".into()
}
fn default_menu_tries() -> Spanned<u32> {
    Spanned::new(0..0, 3)
}
fn d10() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(10))
}
fn d20() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(20))
}

/// Plain values for the runtime: the call and exchange read these, never the `Spanned`
/// fields (spans are for located configuration errors; `tests/sans_io.rs` keeps the
/// core off them).
impl RoutingNumber {
    /// The port its calls arrive on (the first, when it owns several).
    pub fn port_id(&self) -> &str {
        self.port.get_ref()
    }

    /// The caller PIN, if one is asked.
    pub fn pin_code(&self) -> Option<&str> {
        self.pin.as_ref().map(|p| p.get_ref().as_str())
    }

    /// How long the menu waits for a key.
    pub fn menu_wait(&self) -> Duration {
        *self.menu_timeout.get_ref()
    }

    /// Menu attempts before the default option or goodbye.
    pub fn menu_attempts(&self) -> u32 {
        *self.menu_tries.get_ref()
    }

    /// The default option's key.
    pub fn default_key(&self) -> Option<u8> {
        self.default_option.as_ref().map(|d| *d.get_ref())
    }

    /// How long a responder's phone may ring.
    pub fn answer_wait(&self) -> Duration {
        *self.answer_timeout.get_ref()
    }

    /// How long a responder has to press a key after the announcement.
    pub fn accept_wait(&self) -> Duration {
        *self.accept_timeout.get_ref()
    }

    /// The `calls_in_progress` overflow threshold, if set.
    pub fn overflow_threshold(&self) -> Option<usize> {
        self.overflow
            .as_ref()
            .and_then(|o| o.calls_in_progress.as_ref())
            .map(|n| *n.get_ref() as usize)
    }

    /// Whether calls arriving on this port belong to this routing number.
    pub fn serves_port(&self, port: &str) -> bool {
        self.port.get_ref() == port || self.extra_ports.iter().any(|p| p.get_ref() == port)
    }

    /// Whether a caller number is on the block list.
    pub fn is_blocked(&self, caller: Option<&str>) -> bool {
        let patterns: Vec<&str> = self.blocked.iter().map(|b| b.get_ref().as_str()).collect();
        super::flow::blocked_by(&patterns, caller)
    }

    /// The option a call takes without a menu: the default option, else the only one.
    pub fn direct_option(&self) -> Option<u8> {
        self.default_option
            .as_ref()
            .map(|d| *d.get_ref())
            .or_else(|| (self.options.len() == 1).then(|| *self.options[0].key.get_ref()))
    }

    /// The option for a key, if the menu has one.
    pub fn option(&self, key: u8) -> Option<&MenuOption> {
        self.options.iter().find(|o| *o.key.get_ref() == key)
    }

    /// The text callers hear first: greeting plus generated menu (unless `only_greeting`).
    /// With a single option there is no menu: the greeting leads straight to the hunt.
    pub fn greeting_text(&self) -> String {
        let mut text = self.greeting.trim().to_string();
        if !self.only_greeting && self.options.len() > 1 {
            for o in &self.options {
                if !text.is_empty() {
                    text.push(' ');
                }
                let german = self.language.get_ref().split('-').next() == Some("de");
                text.push_str(&if german {
                    format!("Für {} drücken Sie die {}.", o.label, o.key.get_ref())
                } else {
                    format!("For {}, press {}.", o.label, o.key.get_ref())
                });
            }
        }
        text
    }

    /// The announcement played to a responder who picks up.
    pub fn announcement_text(&self) -> String {
        self.announcement.replace("{name}", &self.name)
    }
}

/// Derives a routing number's id from its name: lower case, runs of other characters
/// become one `-`.
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    while s.ends_with('-') {
        s.pop();
    }
    if s.is_empty() {
        "routing-number".into()
    } else {
        s
    }
}

/// Sets each routing number's stable id (explicit or from its name).
pub(super) fn assign_ids(cfg: &mut Config) {
    for rn in &mut cfg.routing_numbers {
        rn.key = match &rn.id {
            Some(id) => id.get_ref().clone(),
            None => slug(&rn.name),
        };
    }
}

/// Validates every routing number; returns their compiled support hours (by position)
/// and the resolved overflow destinations.
pub(super) fn validate(
    cfg: &Config,
    board: &BoardProfile,
    policies: &HashSet<&str>,
    p: &mut Problems<'_>,
) -> (
    Vec<Option<crate::routing::SupportHours>>,
    Vec<Option<OverflowTo>>,
) {
    let mut support_hours = Vec::new();
    let mut overflow = Vec::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut ports: HashMap<&str, usize> = HashMap::new();
    for (i, rn) in cfg.routing_numbers.iter().enumerate() {
        let key = format!("routing_number[{i}]");
        for (field, text) in [
            ("greeting", rn.greeting_text()),
            ("announcement", rn.announcement_text()),
        ] {
            if let Err(e) = crate::media::tts::check_prompt_text(&text) {
                p.at(
                    None,
                    format!("{key}.{field}"),
                    format!("{e}: shorten the {field}"),
                );
            }
        }
        let all_ports = std::iter::once((&rn.port, format!("{key}.port"))).chain(
            rn.extra_ports
                .iter()
                .enumerate()
                .map(|(j, pt)| (pt, format!("{key}.extra_ports[{j}]"))),
        );
        for (pt, pkey) in all_ports {
            let port = pt.get_ref();
            match board.port_kind(port) {
                None => p.at(
                    Some(pt.span()),
                    pkey.clone(),
                    format!(
                        "board `{}` has no port `{port}`: use one of {}",
                        board.name,
                        board.port_ids().join(", ")
                    ),
                ),
                Some(PortKind::Fxo | PortKind::Modem) => {}
                Some(PortKind::Fxs) => {
                    if rn.steps.is_empty() && rn.direct_option().is_none() {
                        p.at(
                            Some(pt.span()),
                            pkey.clone(),
                            format!("port `{port}` is an FXS hotline: lifting the handset goes straight to one option, so give the routing number a single option or a default_option"),
                        );
                    }
                }
            }
            if let Some(prev) = ports.insert(port, i) {
                p.at(
                    Some(pt.span()),
                    pkey,
                    format!("port `{port}` is already used by routing_number[{prev}]: one routing number per port"),
                );
            }
        }
        check_language(p, &rn.language, &format!("{key}.language"));
        support_hours.push(
            rn.support_hours
                .as_ref()
                .and_then(|sh| schedule::build_support(sh, &format!("{key}.support_hours"), p)),
        );
        if rn.options.is_empty() && rn.steps.is_empty() {
            p.at(
                Some(rn.port.span()),
                format!("{key}.option"),
                "no menu options: add [[routing_number.option]] with key, label and policy, or describe the call flow with [[routing_number.step]]",
            );
        }
        if rn.options.len() > 9 {
            p.at(
                Some(rn.port.span()),
                format!("{key}.option"),
                "more than 9 options: the menu has keys 1-9 only",
            );
        }
        let mut keys = HashSet::new();
        for (j, o) in rn.options.iter().enumerate() {
            let k = *o.key.get_ref();
            if !(1..=9).contains(&k) {
                p.at(
                    Some(o.key.span()),
                    format!("{key}.option[{j}].key"),
                    format!("key {k} is out of range: use 1 to 9"),
                );
            }
            if !keys.insert(k) {
                p.at(
                    Some(o.key.span()),
                    format!("{key}.option[{j}].key"),
                    format!("key {k} is used twice in this menu"),
                );
            }
            if !policies.contains(o.policy.get_ref().as_str()) {
                p.at(
                    Some(o.policy.span()),
                    format!("{key}.option[{j}].policy"),
                    format!(
                        "no policy with id `{}`: define it in a [[policy]] section or fix the spelling",
                        o.policy.get_ref()
                    ),
                );
            }
        }
        if let Some(d) = &rn.default_option {
            if !keys.contains(d.get_ref()) {
                p.at(
                    Some(d.span()),
                    format!("{key}.default_option"),
                    format!("default_option {} is not a key of this menu", d.get_ref()),
                );
            }
        }
        let tries = *rn.menu_tries.get_ref();
        if !(1..=9).contains(&tries) {
            p.at(
                Some(rn.menu_tries.span()),
                format!("{key}.menu_tries"),
                format!("{tries} tries: use 1 to 9"),
            );
        }
        for (name, d, lo, hi) in [
            ("menu_timeout", &rn.menu_timeout, 1, 60),
            ("answer_timeout", &rn.answer_timeout, 5, 120),
            ("accept_timeout", &rn.accept_timeout, 2, 60),
        ] {
            let secs = d.get_ref().as_secs_f64();
            if secs < lo as f64 || secs > hi as f64 {
                p.at(
                    Some(d.span()),
                    format!("{key}.{name}"),
                    format!("{secs} s is out of range: use {lo} s to {hi} s"),
                );
            }
        }
        if let Some(id) = &rn.id
            && !board::valid_id(id.get_ref())
        {
            p.at(
                Some(id.span()),
                format!("{key}.id"),
                format!(
                    "`{}` is not a valid id: use letters, digits, `-` or `_`",
                    id.get_ref()
                ),
            );
        }
        if let Some(prev) = ids.insert(rn.key.as_str(), i) {
            let span = rn.id.as_ref().map_or(rn.port.span(), |s| s.span());
            p.at(
                Some(span),
                format!("{key}.id"),
                format!(
                    "id `{}` is already used by routing_number[{prev}]: give each routing number its own `id`",
                    rn.key
                ),
            );
        }
        for (j, b) in rn.blocked.iter().enumerate() {
            let pat = b.get_ref();
            if !super::flow::valid_block_pattern(pat) {
                p.at(
                    Some(b.span()),
                    format!("{key}.blocked[{j}]"),
                    format!("`{pat}` is not a number pattern: write an E.164 number (\"+15550001111\"), a prefix ending in * (\"+1900*\") or \"anonymous\""),
                );
            }
        }
        if let Some(pin) = &rn.pin {
            let v = pin.get_ref();
            if !(4..=8).contains(&v.len()) || !v.bytes().all(|c| c.is_ascii_digit()) {
                p.at(
                    Some(pin.span()),
                    format!("{key}.pin"),
                    "a PIN is 4 to 8 digits, e.g. \"4711\"",
                );
            }
        }
        check_waiting_call(rn, board, &key, p);
        let q = &rn.queue;
        if !(1..=50).contains(q.max_callers.get_ref()) {
            p.at(
                Some(q.max_callers.span()),
                format!("{key}.queue.max_callers"),
                format!("{} callers: use 1 to 50", q.max_callers.get_ref()),
            );
        }
        for (name, d, lo, hi) in [
            ("max_wait", &q.max_wait, 10, 3600),
            ("announce_every", &q.announce_every, 10, 600),
        ] {
            let secs = d.get_ref().as_secs_f64();
            if secs < lo as f64 || secs > hi as f64 {
                p.at(
                    Some(d.span()),
                    format!("{key}.queue.{name}"),
                    format!("{secs} s is out of range: use {lo} s to {hi} s"),
                );
            }
        }
        let vm = &rn.voicemail;
        for (d, name, lo, hi) in [
            (&vm.max_length, "max_length", 5u64, 600u64),
            (&vm.silence, "silence", 1, 60),
        ] {
            let secs = d.get_ref().as_secs();
            if !(lo..=hi).contains(&secs) {
                p.at(
                    Some(d.span()),
                    format!("{key}.voicemail.{name}"),
                    format!("{secs} s is out of range: use {lo} s to {hi} s"),
                );
            }
        }
        overflow.push(
            rn.overflow
                .as_ref()
                .and_then(|o| check_overflow(cfg, i, o, &format!("{key}.overflow"), p)),
        );
    }
    (support_hours, overflow)
}

/// `waiting_call = "queue"` needs the modem among the routing number's ports: only
/// calls to the SIM can wait behind another call.
fn check_waiting_call(rn: &RoutingNumber, board: &BoardProfile, key: &str, p: &mut Problems<'_>) {
    if rn.waiting_call == WaitingCall::Reject {
        return;
    }
    let on_modem = std::iter::once(&rn.port)
        .chain(rn.extra_ports.iter())
        .any(|pt| board.port_kind(pt.get_ref()) == Some(PortKind::Modem));
    if !on_modem {
        p.at(
            Some(rn.port.span()),
            format!("{key}.waiting_call"),
            format!(
                "waiting_call = \"{}\" applies only to calls to the SIM, and port `{}` is not the modem: remove waiting_call or put the routing number on the modem's port",
                rn.waiting_call.as_str(),
                rn.port.get_ref()
            ),
        );
    }
}

fn check_overflow(
    cfg: &Config,
    me: usize,
    o: &OverflowConfig,
    key: &str,
    p: &mut Problems<'_>,
) -> Option<OverflowTo> {
    if let Some(n) = &o.calls_in_progress
        && !(1..=50).contains(n.get_ref())
    {
        p.at(
            Some(n.span()),
            format!("{key}.calls_in_progress"),
            format!("{}: use 1 to 50", n.get_ref()),
        );
    }
    let action = o.action.get_ref().as_str();
    let missing = |p: &mut Problems<'_>, what: &str, example: &str| {
        p.at(
            Some(o.action.span()),
            format!("{key}.{what}"),
            format!("action = \"{action}\" needs `{what}`, e.g. {what} = {example}"),
        );
    };
    match action {
        "message" => Some(OverflowTo::Message),
        "routing_number" => {
            let Some(target) = &o.routing_number else {
                missing(p, "routing_number", "\"facilities-line\"");
                return None;
            };
            let id = target.get_ref();
            match cfg.routing_numbers.iter().position(|r| &r.key == id) {
                Some(j) if j == me => {
                    p.at(
                        Some(target.span()),
                        format!("{key}.routing_number"),
                        "a routing number cannot overflow to itself: name another routing number's id",
                    );
                    None
                }
                Some(_) => Some(OverflowTo::RoutingNumber(id.clone())),
                None => {
                    let ids: Vec<&str> =
                        cfg.routing_numbers.iter().map(|r| r.key.as_str()).collect();
                    p.at(
                        Some(target.span()),
                        format!("{key}.routing_number"),
                        format!(
                            "no routing number with id `{id}`: use one of {}",
                            ids.join(", ")
                        ),
                    );
                    None
                }
            }
        }
        "number" => {
            let Some(n) = &o.number else {
                missing(p, "number", "\"+15550009999\"");
                return None;
            };
            if is_e164(n.get_ref()) {
                Some(OverflowTo::Number(n.get_ref().clone()))
            } else {
                p.at(
                    Some(n.span()),
                    format!("{key}.number"),
                    format!(
                        "`{}` is not an E.164 number: write it with + and country code, e.g. \"+15550009999\"",
                        n.get_ref()
                    ),
                );
                None
            }
        }
        "voicemail" => Some(OverflowTo::Voicemail),
        other => {
            p.at(
                Some(o.action.span()),
                format!("{key}.action"),
                format!(
                    "`{other}` is not an overflow action: use \"message\", \"routing_number\", \"number\" or \"voicemail\""
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod waiting_call_tests {
    use super::super::{BoardProfile, Config};
    use super::WaitingCall;

    fn config(port: &str, waiting: &str) -> String {
        format!(
            r#"
[[user]]
id = "a"
phone = ["+491701111111"]
[[policy]]
id = "p"
[[policy.level]]
users = ["a"]
[[routing_number]]
name = "X"
port = "{port}"
{waiting}
[[routing_number.option]]
key = 1
label = "L"
policy = "p"
"#
        )
    }

    fn parse(src: &str) -> Result<Config, String> {
        Config::parse("t.toml", src, &BoardProfile::sim()).map_err(|e| e.to_string())
    }

    #[test]
    fn waiting_call_defaults_to_reject_and_takes_queue() {
        let c = parse(&config("modem", "")).unwrap();
        assert_eq!(c.routing_numbers[0].waiting_call, WaitingCall::Reject);
        let c = parse(&config("modem", "waiting_call = \"queue\"")).unwrap();
        assert_eq!(c.routing_numbers[0].waiting_call, WaitingCall::Queue);
    }

    #[test]
    fn bad_waiting_call_is_located_and_explained() {
        let e = parse(&config("modem", "waiting_call = \"hold\"")).unwrap_err();
        assert!(e.starts_with("t.toml:12:16:"), "{e}");
        assert!(e.contains("unknown variant `hold`"), "{e}");
        assert!(e.contains("`reject`") && e.contains("`queue`"), "{e}");
        // only calls to the SIM can wait
        let e = parse(&config("fxo1", "waiting_call = \"queue\"")).unwrap_err();
        assert!(
            e.contains("routing_number[0].waiting_call: waiting_call = \"queue\" applies only to calls to the SIM, and port `fxo1` is not the modem"),
            "{e}"
        );
    }
}
