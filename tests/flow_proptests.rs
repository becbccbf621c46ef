//! Property test of call flows: a random flow either fails the checker with located
//! errors (every problem has a line and column), or — for random caller keys and random
//! responders — every call on it runs to an end the caller hears (a prompt before the
//! hang-up, or a bridge), never an internal error, within a bounded number of steps.
//! The pure call state machine runs in virtual time; no board, no clock waits.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // one Instant::now() as the virtual epoch

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use switchboard::call::{Action, Call, EndReason, Event, Intake, LegFailure};
use switchboard::config::{BoardProfile, Config, OverflowReason};

const HEAD: &str = r#"
[[user]]
id = "alice"
phone = ["+491701111111"]

[[user]]
id = "bob"
phone = ["+491702222222"]

[[policy]]
id = "ops"
  [[policy.level]]
  users = ["alice", "bob"]

[[routing_number]]
id = "other"
name = "Other"
port = "fxo2"
greeting = "Other line."
  [[routing_number.option]]
  key = 1
  label = "Ops"
  policy = "ops"

[[routing_number]]
id = "main"
name = "Main"
port = "fxo1"
  [routing_number.support_hours]
  time_zone = "Europe/Berlin"
  out_of_hours = "closed"
  window = [{ days = ["mon-fri"], from = "08:00", to = "18:00" }]
"#;

const TYPES: [&str; 10] = [
    "queue",
    "menu",
    "message",
    "hours",
    "route",
    "voicemail",
    "pin",
    "block",
    "hangup",
    "goto",
];

/// One generated step: a type, references to other steps (an index past the end is a
/// misspelt name), whether it says something, and its menu keys.
#[derive(Debug, Clone)]
struct GenStep {
    kind: usize,
    refs: [usize; 3],
    say: bool,
    keys: Vec<(char, usize)>,
    parallel: bool,
    rounds: u32,
    /// Lead to the next step (so most generated flows have no unreachable step).
    chain: bool,
}

fn gen_step(n: usize) -> impl Strategy<Value = GenStep> {
    (
        0..TYPES.len(),
        [ref_to(n), ref_to(n), ref_to(n)],
        prop::bool::weighted(0.9),
        prop::collection::vec(
            (
                prop::sample::select(vec!['0', '1', '2', '3', '*', '#']),
                ref_to(n),
            ),
            0..4,
        ),
        any::<bool>(),
        1..3u32,
        prop::bool::weighted(0.8),
    )
        .prop_map(|(kind, refs, say, keys, parallel, rounds, chain)| GenStep {
            kind,
            refs,
            say,
            keys,
            parallel,
            rounds,
            chain,
        })
}

/// A reference to one of `n` steps; now and then (`n`) a misspelt name.
fn ref_to(n: usize) -> impl Strategy<Value = usize> {
    prop_oneof![12 => 0..n, 1 => Just(n)]
}

fn gen_flow() -> impl Strategy<Value = Vec<GenStep>> {
    (1..7usize).prop_flat_map(|n| prop::collection::vec(gen_step(n), n))
}

fn name(i: usize, n: usize) -> String {
    if i < n {
        format!("s{i}")
    } else {
        "nowhere".into()
    }
}

fn toml_of(steps: &[GenStep]) -> String {
    let n = steps.len();
    let mut t = HEAD.to_string();
    for (i, s) in steps.iter().enumerate() {
        let r = |k: usize| {
            if k == 0 && s.chain && i + 1 < n {
                name(i + 1, n)
            } else {
                name(s.refs[k], n)
            }
        };
        t.push_str(&format!(
            "  [[routing_number.step]]\n  name = \"s{i}\"\n  type = \"{}\"\n",
            TYPES[s.kind]
        ));
        if s.say && !matches!(TYPES[s.kind], "hours" | "block" | "goto") {
            t.push_str(&format!("  say = \"Step {i} speaking.\"\n"));
        }
        match TYPES[s.kind] {
            "menu" => {
                let mut keys: Vec<String> = Vec::new();
                if s.chain && i + 1 < n {
                    keys.push(format!("\"9\" = \"{}\"", name(i + 1, n)));
                }
                for (k, to) in &s.keys {
                    if !keys.iter().any(|x| x.starts_with(&format!("\"{k}\""))) {
                        keys.push(format!("\"{k}\" = \"{}\"", name(*to, n)));
                    }
                }
                t.push_str(&format!("  keys = {{ {} }}\n", keys.join(", ")));
                if s.refs[0] % 2 == 0 {
                    t.push_str(&format!("  default = \"{}\"\n", r(1)));
                }
            }
            "message" => t.push_str(&format!("  next = \"{}\"\n", r(0))),
            "hours" => t.push_str(&format!("  open = \"{}\"\n  closed = \"{}\"\n", r(0), r(1))),
            "route" => {
                t.push_str("  targets = [\"policy:ops\", \"+15550009999\"]\n");
                if s.parallel {
                    t.push_str("  order = \"parallel\"\n");
                }
                t.push_str(&format!("  rounds = {}\n  pause = \"5s\"\n", s.rounds));
                if s.refs[2] % 2 == 0 {
                    t.push_str(&format!("  then = \"{}\"\n", r(0)));
                }
            }
            "pin" => t.push_str(&format!(
                "  pin = \"4711\"\n  next = \"{}\"\n  then = \"{}\"\n",
                r(0),
                r(1)
            )),
            "block" => t.push_str(&format!(
                "  numbers = [\"+1900*\"]\n  next = \"{}\"\n  then = \"{}\"\n",
                r(0),
                r(1)
            )),
            "goto" => t.push_str("  routing_number = \"other\"\n"),
            "queue" => t.push_str(&format!("  next = \"{}\"\n  then = \"{}\"\n", r(0), r(1))),
            _ => {}
        }
    }
    t
}

/// How the simulated responders behave, per dial, in turn.
#[derive(Debug, Clone, Copy)]
enum Far {
    NoAnswer,
    Busy,
    Accept,
    Decline,
}

fn far() -> impl Strategy<Value = Far> {
    prop_oneof![
        Just(Far::NoAnswer),
        Just(Far::Busy),
        Just(Far::Accept),
        Just(Far::Decline)
    ]
}

/// Runs one call; returns why it ended and whether its end was audible.
fn run(cfg: Arc<Config>, caller: Option<&str>, keys: &[char], fars: &[Far]) -> (EndReason, bool) {
    let t0 = Instant::now();
    let mut now = t0;
    let (mut call, first) = Call::new(
        1,
        cfg,
        1,
        Intake {
            caller_id: caller.map(str::to_string),
            hotline: false,
        },
        now,
        "2026-03-02T09:00:00Z".parse().unwrap(),
        3,
    );
    let mut events: VecDeque<Event> = VecDeque::new();
    let mut actions: VecDeque<Action> = first.into();
    let mut keys = keys.iter().copied();
    let mut fars = fars.iter().copied().cycle();
    let mut last_caller_audio = false; // the last thing done to the caller was a prompt
    let mut bridged = false;
    for _ in 0..5000 {
        while let Some(a) = actions.pop_front() {
            match a {
                Action::AnswerCaller => events.push_back(Event::CallerAnswered),
                Action::PlayCaller(p) => {
                    assert!(!p.is_empty());
                    last_caller_audio = true;
                    events.push_back(Event::CallerPromptDone);
                    if let Some(k) = keys.next() {
                        events.push_back(Event::CallerDigit(k));
                    }
                }
                Action::HoldMusic => last_caller_audio = false,
                Action::Dial { .. } => match fars.next().unwrap_or(Far::NoAnswer) {
                    Far::NoAnswer => {} // the answer timeout fires
                    Far::Busy => events.push_back(Event::LegFailed(LegFailure::Busy)),
                    Far::Accept => events.push_back(Event::LegAnswered),
                    // every line busy: the caller waits, then overflows (max_wait)
                    Far::Decline => {
                        events.push_back(Event::LegQueued { position: None });
                        events.push_back(Event::Overflow(OverflowReason::MaxWait));
                    }
                },
                Action::DialMember { index, .. } => {
                    let ev = match fars.next().unwrap_or(Far::NoAnswer) {
                        Far::NoAnswer => continue,
                        Far::Busy => Event::LegFailed(LegFailure::Busy),
                        Far::Accept | Far::Decline => Event::LegAnswered,
                    };
                    events.push_back(Event::Member(index, Box::new(ev)));
                }
                Action::PlayResponder(_) => {
                    events.push_back(Event::ResponderPromptDone);
                    events.push_back(Event::ResponderDigit('1'));
                }
                Action::PlayMember(i, _) => {
                    let key = if i % 2 == 0 { '2' } else { '1' };
                    events.push_back(Event::Member(i, Box::new(Event::ResponderPromptDone)));
                    events.push_back(Event::Member(i, Box::new(Event::ResponderDigit(key))));
                }
                Action::Bridge => {
                    bridged = true;
                    events.push_back(Event::LegHangup);
                }
                Action::StartRecording { .. } => events.push_back(Event::RecordingSilence),
                Action::Finished(cdr) => {
                    assert!(call.is_done());
                    return (cdr.end_reason, last_caller_audio || bridged);
                }
                Action::HangupCaller
                | Action::HangupLeg
                | Action::HangupMember(_)
                | Action::AdoptMember(_)
                | Action::StopRecording(_)
                | Action::Alert { .. }
                | Action::Note(_) => {}
            }
        }
        if let Some(ev) = events.pop_front() {
            actions.extend(call.handle(now, ev));
            continue;
        }
        let Some(due) = call.poll_timeout() else {
            panic!(
                "the call is stuck in {} with nothing to wait for",
                call.phase()
            );
        };
        now = now.max(due);
        actions.extend(call.handle_timeout(now));
        assert!(
            now - t0 < Duration::from_secs(3600),
            "the call runs for an hour"
        );
    }
    panic!(
        "the call did not end within 5000 steps (phase {})",
        call.phase()
    );
}

#[test]
fn random_flows_are_rejected_with_locations_or_end_audibly() {
    // a fixed seed: the counts below do not vary between runs
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig {
            cases: 1000,
            ..ProptestConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let ran = std::cell::Cell::new(0u32);
    let rejected = std::cell::Cell::new(0u32);
    let strategy = (
        gen_flow(),
        prop::sample::select(vec![Some("+15550001111"), Some("+19005550123"), None]),
        prop::collection::vec(
            prop::sample::select(vec!['0', '1', '2', '3', '*', '#', '4', '7']),
            0..12,
        ),
        prop::collection::vec(far(), 1..6),
    );
    let result = runner.run(&strategy, |(steps, caller, keys, fars)| {
        let src = toml_of(&steps);
        match Config::parse("flow.toml", &src, &BoardProfile::sim()) {
            Err(e) => {
                rejected.set(rejected.get() + 1);
                if std::env::var("FLOW_DEBUG").is_ok() {
                    for p in &e.problems {
                        let m: String = p.message.chars().take(40).collect();
                        eprintln!("REJ {m}");
                    }
                }
                prop_assert!(!e.problems.is_empty());
                for p in &e.problems {
                    prop_assert!(
                        p.line.is_some() && p.column.is_some(),
                        "unlocated problem {p:?} in\n{src}"
                    );
                    prop_assert!(p.key.starts_with("routing_number[1].step["), "{p:?}");
                }
            }
            Ok(cfg) => {
                ran.set(ran.get() + 1);
                let (reason, audible) = run(Arc::new(cfg), caller, &keys, &fars);
                prop_assert!(audible, "the call ended ({reason:?}) in silence:\n{src}");
                prop_assert!(reason != EndReason::Error, "internal error on\n{src}");
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "{} valid flows ran, {} were rejected",
        ran.get(),
        rejected.get()
    );
    // the generator must produce both kinds, or the property says little
    assert!(
        ran.get() >= 80,
        "only {} of 1000 flows were valid",
        ran.get()
    );
    assert!(
        rejected.get() >= 100,
        "only {} of 1000 flows were invalid",
        rejected.get()
    );
}
