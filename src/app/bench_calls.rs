//! `switchboard bench calls`: whole calls through the real engine on the simulated
//! board, in virtual time — many calls back to back, then a burst of callers arriving
//! at once on four lines. Reports calls per second, wall time per second of call, the
//! outcomes, and the process's resident memory at start and end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::engine::Engine;
use crate::config::{BoardProfile, Config};
use crate::exchange::{Exchange, Output};
use crate::hw::sim::modem::FarEnd;
use crate::hw::sim::party::{Act, CALLER_MARKER_HZ, Party, RESPONDER_MARKER_HZ, Step, Trigger};
use crate::hw::sim::{Responder, SimBoard};
use crate::media::tts::Tts;

/// The benchmark's configuration: four lines into one routing number whose single
/// option rings two local phones (FXS) and one mobile (through the modem), with a queue
/// for the modem.
const BENCH_CONFIG: &str = r#"
[site]
name = "bench"

[[user]]
id = "desk1"
phone = ["port:fxs1"]

[[user]]
id = "desk2"
phone = ["port:fxs2"]

[[user]]
id = "mobile"
phone = ["+491701111111"]

[[policy]]
id = "desk"
  [[policy.level]]
  users = ["desk1", "desk2", "mobile"]

[[routing_number]]
id = "bench"
name = "Bench Line"
port = "fxo1"
extra_ports = ["fxo2", "fxo3", "fxo4"]
greeting = "Bench."
  [routing_number.queue]
  max_callers = 50
  max_wait = "1h"
  announce_every = "600s"
  [[routing_number.option]]
  key = 1
  label = "the desk"
  policy = "desk"
"#;

/// Results of one run.
pub struct Figures {
    /// Calls that ended.
    pub calls: u64,
    /// Virtual time simulated.
    pub virtual_time: Duration,
    /// Wall time taken.
    pub wall: Duration,
    /// End reasons and how often.
    pub outcomes: BTreeMap<String, u64>,
    /// Resident memory before and after, KiB.
    pub rss_kib: (u64, u64),
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let wall = self.wall.as_secs_f64().max(1e-9);
        write!(
            f,
            "{} calls, {:.0} s of calls in {:.2} s: {:.1} calls/s, {:.0}x real time ({:.2} ms of wall time per second of call); RSS {} KiB -> {} KiB; outcomes {:?}",
            self.calls,
            self.virtual_time.as_secs_f64(),
            wall,
            self.calls as f64 / wall,
            self.virtual_time.as_secs_f64() / wall,
            1000.0 * wall / self.virtual_time.as_secs_f64().max(1e-9),
            self.rss_kib.0,
            self.rss_kib.1,
            self.outcomes
        )
    }
}

/// Resident set size of this process, KiB (Linux `/proc/self/statm`).
pub fn rss_kib() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    pages * 4
}

fn caller(n: u64) -> Party {
    // a single option: no menu, straight to the hunt
    let steps = vec![Step {
        trigger: Trigger::Connected,
        delay: Duration::from_secs(5),
        act: Act::Hangup,
    }];
    Party::new(
        &format!("caller {n}"),
        steps,
        CALLER_MARKER_HZ,
        RESPONDER_MARKER_HZ,
        true,
    )
}

/// A simulated person who answers after 2 s (and presses 1 after a prompt).
pub(crate) fn responder(name: &str) -> Responder {
    let name = name.to_string();
    Responder {
        far: FarEnd::Rings {
            answer_after: Some(Duration::from_secs(2)),
        },
        make: Box::new(move || {
            let steps = vec![Step {
                trigger: Trigger::PromptEnd,
                delay: Duration::from_millis(300),
                act: Act::Press("1".into()),
            }];
            Party::new(&name, steps, RESPONDER_MARKER_HZ, CALLER_MARKER_HZ, true)
        }),
    }
}

/// Runs `calls` calls: `burst` callers at a time, spread over the four lines; the next
/// burst arrives when the previous one has ended. `burst = 1` is calls back to back.
pub fn run(calls: u64, burst: u64, tts_cache: Option<std::path::PathBuf>) -> Result<Figures> {
    let board = BoardProfile::sim();
    let cfg = Arc::new(
        Config::parse("<bench config>", BENCH_CONFIG, &board).map_err(|e| anyhow!("{e}"))?,
    );
    let prompts = Arc::new(Tts::new(tts_cache).render_library(&cfg, |_, _| {})?);
    let rss_start = rss_kib();
    let wall_start = Instant::now();
    let start = Instant::now();
    let mut sim = SimBoard::new_virtual(&board)?;
    for (number, name) in [
        ("port:fxs1", "desk1"),
        ("port:fxs2", "desk2"),
        ("+491701111111", "mobile"),
    ] {
        sim.add_responder(number, responder(name));
    }
    let exchange = Exchange::new(
        &board,
        cfg,
        prompts,
        start,
        "2026-03-02T09:00:00Z".parse()?,
        1,
    );
    let mut engine = Engine::new(exchange, sim, start)?;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut ended = 0u64;
    let mut sink = |_t: Instant, out: Output| {
        if let Output::Cdr(cdr) = out {
            *outcomes
                .entry(cdr.end_reason.as_str().to_string())
                .or_default() += 1;
        }
    };
    let mut now = start;
    let mut scheduled = 0u64;
    while scheduled < calls {
        let n = burst.min(calls - scheduled);
        for i in 0..n {
            let port = (i % 4) as usize;
            let at = now + Duration::from_millis(100 * i);
            let number = format!("+1555{:07}", scheduled + i);
            engine
                .board
                .schedule_call(at, port, Some(number), caller(scheduled + i));
        }
        scheduled += n;
        let target = scheduled;
        now = engine.run_virtual(now, Duration::from_secs(3600), &mut sink, |e| {
            e.exchange.calls_started() >= target && e.exchange.active_calls() == 0
        });
        ended = engine.exchange.calls_started();
        // transcripts are not kept: the benchmark measures the engine, not a log
        drop(engine.board.take_log());
        engine.board.forget_gone_parties();
        engine.board.clear_modem_commands();
    }
    Ok(Figures {
        calls: ended,
        virtual_time: now.saturating_duration_since(start),
        wall: wall_start.elapsed(),
        outcomes,
        rss_kib: (rss_start, rss_kib()),
    })
}
