//! `switchboard alerts …`: the alert outbox from the command line, and `switchboard
//! bench alerts` (the delivery benchmark).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};

use crate::alerts::Sender;
use crate::config::Config;
use crate::store::Store;
use crate::store::alerts::{EventKind, NewAlert, NewEvent};

/// `switchboard alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Data directory of the service.
    #[arg(long, default_value = "switchboard-data", global = true)]
    data: PathBuf,
    /// Configuration (for the targets); default: the built-in demo configuration.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Board profile the configuration is checked against.
    #[arg(long, global = true)]
    board: Option<PathBuf>,
    #[command(subcommand)]
    command: AlertsCommand,
}

#[derive(Debug, Subcommand)]
enum AlertsCommand {
    /// Alerts, newest first, with each event's delivery state per target (JSON lines).
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Makes the failing and given-up deliveries of an alert due again now.
    Retry {
        /// Alert id.
        id: i64,
    },
    /// Sends a test alert to one target now and says what the receiver answered.
    Test {
        /// Target name.
        target: String,
    },
    /// Delivers everything due now, then exits (what the service's sender thread does
    /// continuously); exit 0 when nothing is left pending or failing.
    Flush,
}

fn exit(r: Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs `switchboard alerts …`.
pub fn alerts(args: AlertsArgs) -> ExitCode {
    exit(inner(args))
}

fn inner(args: AlertsArgs) -> Result<()> {
    let (_, cfg) = super::service::load(args.board.as_ref(), args.config.as_ref())?;
    let cfg = Arc::new(cfg);
    let db = args.data.join("switchboard.db");
    let mut store = Store::open(&db)?;
    let vm_dir = args.data.join("voicemail");
    let now = jiff::Timestamp::now();
    match args.command {
        AlertsCommand::List { limit } => {
            for a in store.alerts(limit)? {
                println!("{}", serde_json::to_string(&a)?);
            }
            // the cap on stderr, so stdout stays one alert per line
            let window = *cfg.sms.cap_window.get_ref();
            let c = store.sms_cap_status(
                now.as_millisecond(),
                window.as_millis() as i64,
                *cfg.sms.cap.get_ref(),
            )?;
            let last = c
                .last_refused_ms
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map_or_else(|| "never".to_string(), |t| t.to_string());
            eprintln!(
                "SMS cap: {} of {} sent within {}; refused by the cap: {} in the window, {} in all (last: {last})",
                c.sent_in_window,
                c.cap,
                crate::alerts::sms::human(window),
                c.refused_in_window,
                c.refused_total
            );
            Ok(())
        }
        AlertsCommand::Retry { id } => {
            let n = store.retry_alert(id, now.as_millisecond())?;
            eprintln!("alert {id}: {n} deliveries due again (the service's sender takes them)");
            Ok(())
        }
        AlertsCommand::Test { target } => {
            let (_, result) = send_test_alert(&mut store, cfg, vm_dir, &target, now)?;
            println!("{result:?}");
            match result {
                crate::alerts::Attempt::Delivered(_) => Ok(()),
                crate::alerts::Attempt::Retry(e) | crate::alerts::Attempt::Refused(e) => Err(
                    anyhow!("target `{target}` did not take the test alert: {e}"),
                ),
            }
        }
        AlertsCommand::Flush => {
            let mut sender = Sender::new(cfg, vm_dir, now.as_nanosecond() as u64);
            let stats = sender.deliver_due(&mut store, jiff::Timestamp::now())?;
            let counts = store.outbox_counts()?;
            println!("{}", serde_json::json!({ "pass": stats, "outbox": counts }));
            if counts.pending + counts.failing > 0 {
                bail!(
                    "{} deliveries are still waiting",
                    counts.pending + counts.failing
                );
            }
            Ok(())
        }
    }
}

/// Queues a test alert for one target, tries it at once and records the outcome
/// (`switchboard alerts test` and the web page's "send a test alert"). Returns the
/// alert's id and what the receiver answered; a failed test stays in the outbox as
/// given up (retry it like any alert).
pub fn send_test_alert(
    store: &mut Store,
    cfg: Arc<Config>,
    vm_dir: PathBuf,
    target: &str,
    now: jiff::Timestamp,
) -> Result<(i64, crate::alerts::Attempt)> {
    if cfg.alert_target(target).is_none() {
        let names: Vec<&str> = cfg
            .alert_targets
            .iter()
            .map(|t| t.name.get_ref().as_str())
            .collect();
        bail!(
            "no alert target `{target}` in the configuration{}",
            if names.is_empty() {
                ": add an [[alert_target]] section first".to_string()
            } else {
                format!(": use one of {}", names.join(", "))
            }
        );
    }
    let id = store.insert_alert(
        &NewAlert {
            cdr_id: None,
            routing_id: "test".into(),
            summary: format!("Switchboard test alert from {}", cfg.site.name),
            caller_id: None,
            targets: vec![target.to_string()],
        },
        &NewEvent {
            kind: EventKind::Trigger,
            at: now.to_string(),
            details: serde_json::json!({ "test": true }),
            voicemail_id: None,
        },
        now.as_millisecond(),
    )?;
    let sender = Sender::new(cfg, vm_dir, now.as_nanosecond() as u64);
    let due = store.due_deliveries(now.as_millisecond(), 10_000)?;
    let d = due
        .into_iter()
        .find(|d| d.alert_id == id)
        .context("the test alert was not queued")?;
    let result = sender.attempt(store, &d, now);
    match &result {
        crate::alerts::Attempt::Delivered(_) => {
            store.mark_delivered(d.event_id, &d.target, &now.to_string())?;
        }
        crate::alerts::Attempt::Retry(e) | crate::alerts::Attempt::Refused(e) => {
            store.mark_failed(d.event_id, &d.target, e, now.as_millisecond(), true)?;
        }
    }
    Ok((id, result))
}

/// Result of the delivery benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    /// Events delivered.
    pub events: usize,
    /// Seconds to queue them (one transaction per event, as calls do).
    pub queue_seconds: f64,
    /// Seconds to deliver them all.
    pub deliver_seconds: f64,
    /// Events per second delivered.
    pub events_per_second: f64,
    /// Peak resident memory of the process (kB, VmHWM), receiver included.
    pub peak_rss_kb: Option<u64>,
    /// Database size after the run (bytes).
    pub db_bytes: u64,
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Queues `events` events (alerts of three events each: trigger, accept, resolve) for
/// one webhook target on a local test receiver in `dir`, then delivers them all.
pub fn bench_delivery(dir: &Path, events: usize) -> Result<BenchResult> {
    let receiver = crate::alerts::test_receiver::TestReceiver::start()?;
    let src = format!(
        "[[alert_target]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"bench-secret-0123456789\"\n",
        receiver.url("/hook")
    );
    let cfg = Arc::new(
        Config::parse("<bench>", &src, &crate::config::BoardProfile::sim())
            .map_err(|e| anyhow!("{e}"))?,
    );
    let db = dir.join("switchboard.db");
    let mut store = Store::open(&db)?;
    let now = jiff::Timestamp::now();
    let t0 = std::time::Instant::now();
    let kinds = [EventKind::Trigger, EventKind::Accept, EventKind::Resolve];
    let mut alert = 0;
    for i in 0..events {
        let e = NewEvent {
            kind: kinds[i % 3],
            at: now.to_string(),
            details: serde_json::json!({ "n": i }),
            voicemail_id: None,
        };
        if i % 3 == 0 {
            alert = store.insert_alert(
                &NewAlert {
                    cdr_id: None,
                    routing_id: "bench".into(),
                    summary: format!("bench alert {i}"),
                    caller_id: Some("+15550000000".into()),
                    targets: vec!["hook".into()],
                },
                &e,
                now.as_millisecond(),
            )?;
        } else {
            store.insert_event(alert, &e, now.as_millisecond())?;
        }
    }
    let queue_seconds = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let mut sender = Sender::new(cfg, dir.join("voicemail"), 1);
    let stats = sender.deliver_due(&mut store, now)?;
    let deliver_seconds = t1.elapsed().as_secs_f64();
    if stats.delivered as usize != events || receiver.received().len() != events {
        bail!(
            "delivered {} of {events} (the receiver got {})",
            stats.delivered,
            receiver.received().len()
        );
    }
    Ok(BenchResult {
        events,
        queue_seconds,
        deliver_seconds,
        events_per_second: events as f64 / deliver_seconds,
        peak_rss_kb: peak_rss_kb(),
        db_bytes: std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0),
    })
}
