//! `[[routing_number.step]]`: a routing number's call flow as named steps, compiled into
//! [`crate::call::flow::Flow`] and checked (names resolve, every step is reachable,
//! every branch ends audibly, no loop without a caller's key). A routing number without
//! steps compiles its greeting + options (+ block list, support hours, PIN, voicemail)
//! into the same shape, so `switchboard flow show` and the CDR path work for both.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::error::Problems;
use super::{Config, RoutingNumber, is_e164, parse_duration};
use crate::call::flow::{Flow, Menu, Order, Route, Step, StepIdx, StepKind, Target};

/// One step as written (`[[routing_number.step]]`). Which fields apply depends on `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// Unique within the routing number; other steps lead here by this name.
    pub name: Spanned<String>,
    /// `menu`, `message`, `hours`, `route`, `voicemail`, `pin`, `block`, `hangup`, `goto`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// What the caller hears when the step starts.
    #[serde(default)]
    pub say: Option<Spanned<String>>,
    /// Language (espeak-ng voice) of this step's prompts.
    #[serde(default)]
    pub language: Option<Spanned<String>>,
    /// menu: keys `0-9 * #` → step name.
    #[serde(default)]
    pub keys: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    /// menu, pin: tries.
    #[serde(default)]
    pub tries: Option<Spanned<u32>>,
    /// menu: time to wait for a key after the prompt.
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Spanned<Duration>>,
    /// menu: said after an invalid key.
    #[serde(default)]
    pub invalid: Option<Spanned<String>>,
    /// menu: said when no key came in time.
    #[serde(default)]
    pub timeout_say: Option<Spanned<String>>,
    /// menu: the step after the last failed try.
    #[serde(default)]
    pub default: Option<Spanned<String>>,
    /// message, pin, block, queue, alert: the next step.
    #[serde(default)]
    pub next: Option<Spanned<String>>,
    /// hours: in support hours.
    #[serde(default)]
    pub open: Option<Spanned<String>>,
    /// hours: out of support hours.
    #[serde(default)]
    pub closed: Option<Spanned<String>>,
    /// route: nobody accepted; pin: PIN wrong every try; block: the caller is blocked;
    /// queue: the caller overflows.
    #[serde(default)]
    pub then: Option<Spanned<String>>,
    /// route: `user:ID`, `schedule:ID`, `policy:ID` or an E.164 number.
    #[serde(default)]
    pub targets: Option<Vec<Spanned<String>>>,
    /// route: `levels` (default), `random`, `sequential`, `parallel`.
    #[serde(default)]
    pub order: Option<Spanned<String>>,
    /// route: how long each phone rings (default: the routing number's).
    #[serde(default, deserialize_with = "opt_duration")]
    pub answer_timeout: Option<Spanned<Duration>>,
    /// route: walk the plan this often (default 1).
    #[serde(default)]
    pub rounds: Option<Spanned<u32>>,
    /// route: hold music between rounds (default 10 s).
    #[serde(default, deserialize_with = "opt_duration")]
    pub pause: Option<Spanned<Duration>>,
    /// pin: the digits.
    #[serde(default)]
    pub pin: Option<Spanned<String>>,
    /// block: number patterns.
    #[serde(default)]
    pub numbers: Option<Vec<Spanned<String>>>,
    /// queue: callers that may wait at once (default: the routing number's `[queue]`).
    #[serde(default)]
    pub max_callers: Option<Spanned<u32>>,
    /// queue: longest wait for a line (default: the routing number's `[queue]`).
    #[serde(default, deserialize_with = "opt_duration")]
    pub max_wait: Option<Spanned<Duration>>,
    /// goto: routing number id.
    #[serde(default)]
    pub routing_number: Option<Spanned<String>>,
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<Duration>>, D::Error> {
    let s: Spanned<String> = Spanned::deserialize(d)?;
    let span = s.span();
    parse_duration(s.get_ref())
        .map(|v| Some(Spanned::new(span, v)))
        .map_err(serde::de::Error::custom)
}

const TYPES: &str =
    "menu, message, hours, route, queue, voicemail, alert, pin, block, hangup, goto";

/// Whether a block-list pattern is valid: an E.164 number, a `+digits*` prefix or
/// `anonymous`.
pub fn valid_block_pattern(pat: &str) -> bool {
    pat == "anonymous"
        || is_e164(pat)
        || pat.strip_suffix('*').is_some_and(|pre| {
            pre.strip_prefix('+')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
        })
}

/// Whether a caller matches one of the block-list patterns.
pub fn blocked_by<S: AsRef<str>>(patterns: &[S], caller: Option<&str>) -> bool {
    patterns.iter().any(|b| match (b.as_ref(), caller) {
        ("anonymous", None) => true,
        (_, None) => false,
        (pat, Some(c)) => match pat.strip_suffix('*') {
            Some(prefix) => c.starts_with(prefix),
            None => c == pat,
        },
    })
}

/// Compiles a routing number's steps (index `i`); problems go to `p`. A routing number
/// without steps compiles its classic settings.
pub(super) fn compile(cfg: &Config, i: usize, p: &mut Problems<'_>) -> Flow {
    let rn = &cfg.routing_numbers[i];
    if rn.steps.is_empty() {
        return classic(cfg, i);
    }
    let base = format!("routing_number[{i}].step");
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (j, s) in rn.steps.iter().enumerate() {
        let name = s.name.get_ref().as_str();
        if name.is_empty() || !super::board::valid_id(name) {
            p.at(
                Some(s.name.span()),
                format!("{base}[{j}].name"),
                format!("`{name}` is not a valid step name: use letters, digits, `-` or `_`"),
            );
        }
        if let Some(prev) = index.insert(name, j) {
            p.at(
                Some(s.name.span()),
                format!("{base}[{j}].name"),
                format!("step `{name}` is already defined as {base}[{prev}]: give each step its own name"),
            );
        }
    }
    let names: Vec<&str> = rn.steps.iter().map(|s| s.name.get_ref().as_str()).collect();
    let steps = rn
        .steps
        .iter()
        .enumerate()
        .map(|(j, s)| {
            let path = format!("{base}[{j}] (step `{}`)", s.name.get_ref());
            let kind = compile_step(cfg, rn, s, &path, &index, &names, p);
            if let Some(l) = &s.language {
                super::check_language(p, l, &format!("{path}.language"));
            }
            if let Some(say) = &s.say
                && let Err(e) = crate::media::tts::check_prompt_text(say.get_ref())
            {
                p.at(
                    Some(say.span()),
                    format!("{path}.say"),
                    format!("{e}: shorten it"),
                );
            }
            Step {
                name: s.name.get_ref().clone(),
                kind,
                say: s.say.as_ref().map(|x| x.get_ref().clone()),
                language: s.language.as_ref().map(|x| x.get_ref().clone()),
                span: Some(s.name.span()),
                path,
            }
        })
        .collect();
    let flow = Flow {
        steps,
        start: 0,
        explicit: true,
    };
    check(&flow, p);
    flow
}

/// Resolves a step name; reports an unknown one. `None` when absent.
#[allow(clippy::too_many_arguments)]
fn resolve(
    field: &Option<Spanned<String>>,
    what: &str,
    path: &str,
    index: &HashMap<&str, usize>,
    names: &[&str],
    p: &mut Problems<'_>,
) -> Option<StepIdx> {
    let f = field.as_ref()?;
    let name = f.get_ref();
    match index.get(name.as_str()) {
        Some(&j) => Some(j),
        None => {
            p.at(
                Some(f.span()),
                format!("{path}.{what}"),
                format!("no step named `{name}`: use one of {}", names.join(", ")),
            );
            Some(0)
        }
    }
}

fn compile_step(
    cfg: &Config,
    rn: &RoutingNumber,
    s: &StepConfig,
    path: &str,
    index: &HashMap<&str, usize>,
    names: &[&str],
    p: &mut Problems<'_>,
) -> StepKind {
    let kind = s.kind.get_ref().as_str();
    // which optional fields each type takes
    let allowed: &[&str] = match kind {
        "menu" => &[
            "say",
            "keys",
            "tries",
            "timeout",
            "invalid",
            "timeout_say",
            "default",
        ],
        "message" => &["say", "next"],
        "hours" => &["open", "closed"],
        "route" => &[
            "say",
            "targets",
            "order",
            "answer_timeout",
            "rounds",
            "pause",
            "then",
        ],
        "voicemail" => &["say"],
        "queue" => &["next", "then", "max_callers", "max_wait"],
        "alert" => &["next"],
        "pin" => &["say", "pin", "tries", "next", "then"],
        "block" => &["numbers", "then", "next"],
        "hangup" => &["say"],
        "goto" => &["routing_number"],
        other => {
            p.at(
                Some(s.kind.span()),
                format!("{path}.type"),
                format!("`{other}` is not a step type: use one of {TYPES}"),
            );
            return StepKind::Hangup;
        }
    };
    let present: [(&str, Option<std::ops::Range<usize>>); 21] = [
        ("say", s.say.as_ref().map(Spanned::span)),
        ("keys", s.keys.as_ref().map(Spanned::span)),
        ("tries", s.tries.as_ref().map(Spanned::span)),
        ("timeout", s.timeout.as_ref().map(Spanned::span)),
        ("invalid", s.invalid.as_ref().map(Spanned::span)),
        ("timeout_say", s.timeout_say.as_ref().map(Spanned::span)),
        ("default", s.default.as_ref().map(Spanned::span)),
        ("next", s.next.as_ref().map(Spanned::span)),
        ("open", s.open.as_ref().map(Spanned::span)),
        ("closed", s.closed.as_ref().map(Spanned::span)),
        ("then", s.then.as_ref().map(Spanned::span)),
        (
            "targets",
            s.targets
                .as_ref()
                .and_then(|t| t.first())
                .map(Spanned::span),
        ),
        ("order", s.order.as_ref().map(Spanned::span)),
        (
            "answer_timeout",
            s.answer_timeout.as_ref().map(Spanned::span),
        ),
        ("rounds", s.rounds.as_ref().map(Spanned::span)),
        ("pause", s.pause.as_ref().map(Spanned::span)),
        ("pin", s.pin.as_ref().map(Spanned::span)),
        (
            "numbers",
            s.numbers
                .as_ref()
                .and_then(|t| t.first())
                .map(Spanned::span),
        ),
        (
            "routing_number",
            s.routing_number.as_ref().map(Spanned::span),
        ),
        ("max_callers", s.max_callers.as_ref().map(Spanned::span)),
        ("max_wait", s.max_wait.as_ref().map(Spanned::span)),
    ];
    for (field, span) in present {
        if let Some(span) = span
            && !allowed.contains(&field)
        {
            p.at(
                Some(span),
                format!("{path}.{field}"),
                format!(
                    "`{field}` does not apply to a {kind} step: it takes {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    let need = |f: &Option<Spanned<String>>, what: &str, p: &mut Problems<'_>| -> StepIdx {
        match resolve(f, what, path, index, names, p) {
            Some(j) => j,
            None => {
                p.at(
                    Some(s.name.span()),
                    format!("{path}.{what}"),
                    format!("a {kind} step needs `{what}`, or the call ends in silence: name the step that follows, e.g. {what} = \"goodbye\" with a hangup step"),
                );
                0
            }
        }
    };
    let needs_say = |p: &mut Problems<'_>| {
        if s.say.as_ref().is_none_or(|x| x.get_ref().trim().is_empty()) {
            p.at(
                Some(s.name.span()),
                format!("{path}.say"),
                format!("a {kind} step without `say` is silent: write what the caller hears, e.g. say = \"...\""),
            );
        }
    };
    let tries = |d: u32, p: &mut Problems<'_>| -> u32 {
        let t = s.tries.as_ref().map_or(d, |t| *t.get_ref());
        if !(1..=9).contains(&t) {
            p.at(
                s.tries.as_ref().map(Spanned::span),
                format!("{path}.tries"),
                format!("{t} tries: use 1 to 9"),
            );
        }
        t
    };
    match kind {
        "menu" => {
            needs_say(p);
            let mut keys = Vec::new();
            match &s.keys {
                Some(k) if !k.get_ref().is_empty() => {
                    for (key, to) in k.get_ref() {
                        let mut chars = key.chars();
                        let c = match (chars.next(), chars.next()) {
                            (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => c,
                            _ => {
                                p.at(
                                    Some(to.span()),
                                    format!("{path}.keys.\"{key}\""),
                                    format!("`{key}` is not a key: use one of 0-9, * or #"),
                                );
                                continue;
                            }
                        };
                        let j = resolve(&Some(to.clone()), &format!("keys.\"{key}\""), path, index, names, p)
                            .unwrap_or(0);
                        keys.push((c, j));
                    }
                }
                _ => p.at(
                    Some(s.name.span()),
                    format!("{path}.keys"),
                    "a menu needs keys, e.g. keys = { \"1\" = \"network\", \"2\" = \"facilities\" }",
                ),
            }
            let timeout = s
                .timeout
                .as_ref()
                .map_or(*rn.menu_timeout.get_ref(), |t| *t.get_ref());
            if !(1..=60).contains(&timeout.as_secs()) {
                p.at(
                    s.timeout.as_ref().map(Spanned::span),
                    format!("{path}.timeout"),
                    format!(
                        "{} s is out of range: use 1 s to 60 s",
                        timeout.as_secs_f64()
                    ),
                );
            }
            StepKind::Menu(Menu {
                keys,
                tries: tries(*rn.menu_tries.get_ref(), p),
                timeout,
                invalid: s.invalid.as_ref().map(|x| x.get_ref().clone()),
                timeout_say: s.timeout_say.as_ref().map(|x| x.get_ref().clone()),
                default: resolve(&s.default, "default", path, index, names, p),
            })
        }
        "message" => {
            needs_say(p);
            StepKind::Message {
                next: need(&s.next, "next", p),
            }
        }
        "hours" => {
            if rn.support_hours.is_none() {
                p.at(
                    Some(s.kind.span()),
                    format!("{path}.type"),
                    "an hours step needs the routing number's [routing_number.support_hours]: add them, or remove the step",
                );
            }
            StepKind::Hours {
                open: need(&s.open, "open", p),
                closed: need(&s.closed, "closed", p),
            }
        }
        "route" => StepKind::Route(compile_route(cfg, rn, s, path, index, names, p)),
        "voicemail" => StepKind::Voicemail,
        "alert" => {
            if rn.alerts.targets.is_empty() {
                p.at(
                    Some(s.kind.span()),
                    format!("{path}.type"),
                    "an alert step needs somewhere to send the alert: add [routing_number.alerts] with targets = [\"...\"] (an [[alert_target]] name)",
                );
            }
            StepKind::Alert {
                next: need(&s.next, "next", p),
            }
        }
        "queue" => {
            if let Some(m) = &s.max_callers
                && !(1..=50).contains(m.get_ref())
            {
                p.at(
                    Some(m.span()),
                    format!("{path}.max_callers"),
                    format!("{} callers: use 1 to 50", m.get_ref()),
                );
            }
            if let Some(w) = &s.max_wait
                && !(10..=3600).contains(&w.get_ref().as_secs())
            {
                p.at(
                    Some(w.span()),
                    format!("{path}.max_wait"),
                    format!(
                        "{} s is out of range: use 10 s to 3600 s",
                        w.get_ref().as_secs_f64()
                    ),
                );
            }
            StepKind::Queue {
                next: need(&s.next, "next", p),
                then: resolve(&s.then, "then", path, index, names, p),
                max_callers: s.max_callers.as_ref().map(|m| *m.get_ref()),
                max_wait: s.max_wait.as_ref().map(|w| *w.get_ref()),
            }
        }
        "pin" => {
            let pin = s
                .pin
                .as_ref()
                .map(|x| x.get_ref().clone())
                .unwrap_or_default();
            if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|c| c.is_ascii_digit()) {
                p.at(
                    Some(s.pin.as_ref().map_or(s.name.span(), Spanned::span)),
                    format!("{path}.pin"),
                    "a PIN is 4 to 8 digits, e.g. pin = \"4711\"",
                );
            }
            StepKind::Pin {
                pin,
                tries: tries(3, p),
                next: need(&s.next, "next", p),
                then: resolve(&s.then, "then", path, index, names, p),
            }
        }
        "block" => {
            let numbers = s.numbers.clone().unwrap_or_default();
            if numbers.is_empty() {
                p.at(
                    Some(s.name.span()),
                    format!("{path}.numbers"),
                    "a block step needs numbers, e.g. numbers = [\"+1900*\", \"anonymous\"]",
                );
            }
            for (k, n) in numbers.iter().enumerate() {
                if !valid_block_pattern(n.get_ref()) {
                    p.at(
                        Some(n.span()),
                        format!("{path}.numbers[{k}]"),
                        format!("`{}` is not a number pattern: write an E.164 number (\"+15550001111\"), a prefix ending in * (\"+1900*\") or \"anonymous\"", n.get_ref()),
                    );
                }
            }
            StepKind::Block {
                numbers: numbers.iter().map(|n| n.get_ref().clone()).collect(),
                then: resolve(&s.then, "then", path, index, names, p),
                next: need(&s.next, "next", p),
            }
        }
        "hangup" => StepKind::Hangup,
        "goto" => {
            let target = s.routing_number.as_ref();
            let id = target.map(|t| t.get_ref().clone()).unwrap_or_default();
            let ids: Vec<&str> = cfg.routing_numbers.iter().map(|r| r.key.as_str()).collect();
            let span = target.map_or(s.name.span(), Spanned::span);
            if id == rn.key {
                p.at(
                    Some(span),
                    format!("{path}.routing_number"),
                    "a goto cannot lead to its own routing number: name another routing number's id",
                );
            } else if !ids.contains(&id.as_str()) {
                p.at(
                    Some(span),
                    format!("{path}.routing_number"),
                    format!(
                        "no routing number with id `{id}`: use one of {}",
                        ids.join(", ")
                    ),
                );
            }
            StepKind::Goto { routing: id }
        }
        _ => StepKind::Hangup,
    }
}

fn compile_route(
    cfg: &Config,
    rn: &RoutingNumber,
    s: &StepConfig,
    path: &str,
    index: &HashMap<&str, usize>,
    names: &[&str],
    p: &mut Problems<'_>,
) -> Route {
    let mut targets = Vec::new();
    let written = s.targets.clone().unwrap_or_default();
    if written.is_empty() {
        p.at(
            Some(s.name.span()),
            format!("{path}.targets"),
            "a route needs targets, e.g. targets = [\"policy:netops\", \"user:alice\", \"+15550001111\"]",
        );
    }
    for (k, t) in written.iter().enumerate() {
        let text = t.get_ref().as_str();
        let key = format!("{path}.targets[{k}]");
        let (kind, id) = text.split_once(':').unwrap_or(("", text));
        let target = match kind {
            "user" if cfg.users.iter().any(|u| u.id.get_ref() == id) => Target::User(id.into()),
            "schedule" if cfg.schedules.iter().any(|x| x.id.get_ref() == id) => {
                Target::Schedule(id.into())
            }
            "policy" if cfg.policy(id).is_some() => Target::Policy(id.into()),
            "user" | "schedule" | "policy" => {
                p.at(
                    Some(t.span()),
                    key,
                    format!("no {kind} with id `{id}`: define it or fix the spelling"),
                );
                continue;
            }
            "" if is_e164(text) => Target::Number(text.into()),
            _ => {
                p.at(
                    Some(t.span()),
                    key,
                    format!("`{text}` is not a target: write user:ID, schedule:ID, policy:ID or an E.164 number such as \"+15550001111\""),
                );
                continue;
            }
        };
        targets.push(target);
    }
    let order = match s.order.as_ref().map(|o| o.get_ref().as_str()) {
        None | Some("levels") => Order::Levels,
        Some("random") => Order::Random,
        Some("sequential") => Order::Sequential,
        Some("parallel") => Order::Parallel,
        Some(other) => {
            p.at(
                s.order.as_ref().map(Spanned::span),
                format!("{path}.order"),
                format!("`{other}` is not an order: use levels, random, sequential or parallel"),
            );
            Order::Levels
        }
    };
    let answer_timeout = s
        .answer_timeout
        .as_ref()
        .map_or(*rn.answer_timeout.get_ref(), |d| *d.get_ref());
    if !(5..=120).contains(&answer_timeout.as_secs()) {
        p.at(
            s.answer_timeout.as_ref().map(Spanned::span),
            format!("{path}.answer_timeout"),
            format!(
                "{} s is out of range: use 5 s to 120 s",
                answer_timeout.as_secs_f64()
            ),
        );
    }
    let rounds = s.rounds.as_ref().map_or(1, |r| *r.get_ref());
    if !(1..=10).contains(&rounds) {
        p.at(
            s.rounds.as_ref().map(Spanned::span),
            format!("{path}.rounds"),
            format!("{rounds} rounds: use 1 to 10"),
        );
    }
    let pause = s
        .pause
        .as_ref()
        .map_or(Duration::from_secs(10), |d| *d.get_ref());
    if pause.as_secs() > 600 {
        p.at(
            s.pause.as_ref().map(Spanned::span),
            format!("{path}.pause"),
            format!("{} s is out of range: use 0 s to 600 s", pause.as_secs()),
        );
    }
    Route {
        targets,
        order,
        answer_timeout,
        rounds,
        pause,
        then: resolve(&s.then, "then", path, index, names, p),
    }
}

/// The checker: every step reachable from the start, no loop without a caller's key.
/// (Names and silent ends are reported while compiling.)
fn check(flow: &Flow, p: &mut Problems<'_>) {
    let n = flow.steps.len();
    let mut seen = vec![false; n];
    let mut stack = vec![flow.start];
    while let Some(i) = stack.pop() {
        if i >= n || std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(flow.steps[i].kind.edges().into_iter().map(|(_, j, _)| j));
    }
    for (i, s) in flow.steps.iter().enumerate() {
        if !seen[i] {
            p.at(
                s.span.clone(),
                s.path.clone(),
                format!(
                    "step `{}` is unreachable: no step leads to it from the first step `{}`; lead a key or a next/then to it, or remove it",
                    s.name, flow.steps[flow.start].name
                ),
            );
        }
    }
    // loops along edges that need no key: depth-first search with colours
    let mut colour = vec![0u8; n];
    for i in 0..n {
        if colour[i] == 0 {
            let mut trail = Vec::new();
            cycle_from(flow, i, &mut colour, &mut trail, p);
        }
    }
}

fn cycle_from(
    flow: &Flow,
    i: StepIdx,
    colour: &mut [u8],
    trail: &mut Vec<StepIdx>,
    p: &mut Problems<'_>,
) {
    colour[i] = 1;
    trail.push(i);
    for (label, j, key) in flow.steps[i].kind.edges() {
        if key || j >= colour.len() {
            continue;
        }
        if colour[j] == 1 {
            let from = trail.iter().position(|&x| x == j).unwrap_or(0);
            let names: Vec<&str> = trail[from..]
                .iter()
                .map(|&x| flow.steps[x].name.as_str())
                .chain(std::iter::once(flow.steps[j].name.as_str()))
                .collect();
            let s = &flow.steps[i];
            p.at(
                s.span.clone(),
                format!("{}.{label}", s.path),
                format!(
                    "loop without a caller action: {} — the caller would go round forever; end it in a menu key, a hangup or voicemail",
                    names.join(" → ")
                ),
            );
        } else if colour[j] == 0 {
            cycle_from(flow, j, colour, trail, p);
        }
    }
    trail.pop();
    colour[i] = 2;
}

/// Across routing numbers: a chain of `goto`s (with nothing but automatic steps
/// between) that comes back to where it started.
pub(super) fn check_gotos(cfg: &Config, flows: &[Flow], p: &mut Problems<'_>) {
    // from each routing number, which others can its flow reach without a key
    let auto_gotos = |f: &Flow| -> Vec<(String, StepIdx)> {
        let mut seen = vec![false; f.steps.len()];
        let mut stack = vec![f.start];
        let mut out = Vec::new();
        while let Some(i) = stack.pop() {
            if i >= f.steps.len() || std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if let StepKind::Goto { routing } = &f.steps[i].kind {
                out.push((routing.clone(), i));
            }
            for (_, j, key) in f.steps[i].kind.edges() {
                if !key {
                    stack.push(j);
                }
            }
        }
        out
    };
    for (start, f) in flows.iter().enumerate() {
        let mut trail = vec![start];
        let mut at = start;
        // follow the first automatic goto chain (enough to catch A → B → A)
        while let Some((to, _)) = flows
            .get(at)
            .map(auto_gotos)
            .and_then(|g| g.into_iter().next())
        {
            let Some(j) = cfg.routing_numbers.iter().position(|r| r.key == to) else {
                break;
            };
            if j == start {
                let names: Vec<&str> = trail
                    .iter()
                    .map(|&x| cfg.routing_numbers[x].key.as_str())
                    .chain(std::iter::once(to.as_str()))
                    .collect();
                if let Some((_, si)) = auto_gotos(f).into_iter().next() {
                    let s = &f.steps[si];
                    p.at(
                        s.span.clone(),
                        format!("{}.routing_number", s.path),
                        format!("goto loop without a caller action: {}; put a menu before one of the gotos", names.join(" → ")),
                    );
                }
                break;
            }
            if trail.contains(&j) {
                break;
            }
            trail.push(j);
            at = j;
        }
    }
}

/// Today's settings as a flow: block list → support hours → PIN → greeting menu →
/// one route per option → voicemail or "nobody available".
fn classic(cfg: &Config, i: usize) -> Flow {
    let rn = &cfg.routing_numbers[i];
    let mut steps: Vec<Step> = Vec::new();
    let mk = |name: &str, kind: StepKind, say: Option<String>| Step {
        name: name.into(),
        kind,
        say,
        language: None,
        span: None,
        path: format!("routing_number[{i}]"),
    };
    // placeholders: indexes fixed below
    let goodbye = 0;
    steps.push(mk("goodbye", StepKind::Hangup, None));
    let nobody = steps.len();
    steps.push(mk(
        "nobody-available",
        StepKind::Hangup,
        crate::media::phrase(crate::call::Prompt::NobodyAvailable),
    ));
    let after_route = if rn.voicemail.enabled {
        steps.push(mk(
            "voicemail",
            StepKind::Voicemail,
            rn.voicemail.prompt.clone(),
        ));
        steps.len() - 1
    } else {
        nobody
    };
    let mut keys = Vec::new();
    for o in &rn.options {
        let k = *o.key.get_ref();
        steps.push(mk(
            &format!("option-{k}"),
            StepKind::Route(Route {
                targets: vec![Target::Policy(o.policy.get_ref().clone())],
                order: Order::Levels,
                answer_timeout: *rn.answer_timeout.get_ref(),
                rounds: 1,
                pause: Duration::ZERO,
                then: Some(after_route),
            }),
            None,
        ));
        keys.push((char::from(b'0' + k), steps.len() - 1));
    }
    let mut entry = if rn.voicemail.only {
        steps.push(mk(
            "voicemail",
            StepKind::Voicemail,
            rn.voicemail.prompt.clone(),
        ));
        steps.len() - 1
    } else {
        steps.push(mk(
            "menu",
            StepKind::Menu(Menu {
                keys,
                tries: *rn.menu_tries.get_ref(),
                timeout: *rn.menu_timeout.get_ref(),
                invalid: None,
                timeout_say: None,
                default: rn.default_option.as_ref().and_then(|d| {
                    steps
                        .iter()
                        .position(|s| s.name == format!("option-{}", d.get_ref()))
                }),
            }),
            Some(rn.greeting_text()),
        ));
        steps.len() - 1
    };
    if let Some(pin) = &rn.pin {
        steps.push(mk(
            "pin",
            StepKind::Pin {
                pin: pin.get_ref().clone(),
                tries: 3,
                next: entry,
                then: Some(goodbye),
            },
            None,
        ));
        entry = steps.len() - 1;
    }
    if let Some(sh) = &rn.support_hours {
        let closed = match sh.out_of_hours.get_ref().as_str() {
            "closed" => {
                steps.push(mk(
                    "closed",
                    StepKind::Hangup,
                    crate::media::phrase(crate::call::Prompt::Closed),
                ));
                steps.len() - 1
            }
            "voicemail" => match steps.iter().position(|s| s.name == "voicemail") {
                Some(v) => v,
                None => {
                    steps.push(mk(
                        "voicemail",
                        StepKind::Voicemail,
                        rn.voicemail.prompt.clone(),
                    ));
                    steps.len() - 1
                }
            },
            // out_of_hours = "route": the hours are informational
            _ => entry,
        };
        steps.push(mk(
            "hours",
            StepKind::Hours {
                open: entry,
                closed,
            },
            None,
        ));
        entry = steps.len() - 1;
    }
    if !rn.blocked.is_empty() {
        steps.push(mk(
            "block",
            StepKind::Block {
                numbers: rn.blocked.iter().map(|b| b.get_ref().clone()).collect(),
                then: None,
                next: entry,
            },
            None,
        ));
        entry = steps.len() - 1;
    }
    Flow {
        steps,
        start: entry,
        explicit: false,
    }
}
