//! `switchboard oncall`: who is on call, each policy's levels, a hunt plan, or the
//! handoff timeline of one schedule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use crate::routing::support::HoursReason;
use crate::routing::{self, HoursStatus, OutOfHours, Reason};

/// Options of `switchboard oncall` (also its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct OncallOptions {
    /// Configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Board profile; default: the simulated board.
    #[arg(long)]
    pub board: Option<PathBuf>,
    /// The instant (RFC 3339); default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print this policy's hunt plan.
    #[arg(long)]
    pub policy: Option<String>,
    /// Seed of the random order within levels.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// Print this schedule's handoff timeline (needs --from and --to).
    #[arg(long)]
    pub schedule: Option<String>,
    /// Timeline start (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Timeline end (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Directory with the last good copies of iCal feeds (the service keeps them in <data>/feeds).
    #[arg(long)]
    pub feed_cache: Option<PathBuf>,
}

fn instant(s: &str, what: &str) -> Result<Timestamp> {
    s.parse::<Timestamp>().map_err(|_| {
        anyhow!("--{what} `{s}` is not an RFC 3339 instant: write e.g. 2026-03-29T01:30:00Z or 2026-03-29T03:30:00+02:00")
    })
}

fn reason(r: &Reason) -> String {
    match r {
        Reason::Rotation { layer, name, shift } => format!("layer {layer} `{name}`, shift {shift}"),
        Reason::Override { index } => format!("override {index}"),
        Reason::FeedEvent { uid, summary } => format!("feed event {uid} `{summary}`"),
    }
}

/// One routing number's support hours at an instant, as `oncall` prints them: in or
/// out of hours, why, what applies, and until when.
fn hours_text(st: &HoursStatus, next: Option<Timestamp>, tz: Option<&TimeZone>) -> String {
    let why = match &st.reason {
        HoursReason::Always => "no support hours".to_string(),
        HoursReason::Window { window } => format!("window {window}"),
        HoursReason::OutsideWindows => "outside the windows".to_string(),
        HoursReason::Holiday { name } => format!("holiday `{name}`"),
        HoursReason::Exception { name } => format!("exception `{name}`"),
    };
    let mut out = format!(
        "{} ({why})",
        if st.in_hours {
            "in hours"
        } else {
            "out of hours"
        }
    );
    match st.applies {
        Some(OutOfHours::Route) => out.push_str(", calls are routed as in hours"),
        Some(OutOfHours::Closed) => out.push_str(", closed"),
        Some(OutOfHours::Voicemail) => out.push_str(", callers leave a voicemail"),
        None => {}
    }
    match (next, tz) {
        (Some(t), Some(tz)) => out.push_str(&format!(
            ", until {t} ({})",
            t.to_zoned(tz.clone()).strftime("%a %Y-%m-%d %H:%M %Z")
        )),
        (Some(t), None) => out.push_str(&format!(", until {t}")),
        (None, _) if matches!(st.reason, HoursReason::Always) => {}
        (None, _) => out.push_str(", no change within a year"),
    }
    out
}

/// Runs the command; returns what to print on stdout.
pub fn run(o: &OncallOptions) -> Result<String> {
    let (_, mut cfg) = super::service::load(o.board.as_ref(), Some(&o.config))?;
    let dir = o.config.parent().unwrap_or(Path::new(".")).to_path_buf();
    for r in super::feeds::load(&mut cfg, &dir, o.feed_cache.as_deref()) {
        for w in r.warnings {
            eprintln!("warning: schedule {}: {w}", r.schedule);
        }
    }
    if let Some(s) = &o.schedule {
        let (Some(from), Some(to)) = (&o.from, &o.to) else {
            bail!(
                "--schedule needs --from and --to (RFC 3339), e.g. --from 2026-03-01T00:00:00Z --to 2026-04-01T00:00:00Z"
            );
        };
        let (from, to) = (instant(from, "from")?, instant(to, "to")?);
        if to <= from {
            bail!("--to must be after --from");
        }
        if to.duration_since(from) > jiff::SignedDuration::from_hours(24 * 366 * 5) {
            bail!("the timeline is limited to 5 years: narrow --from/--to");
        }
        let sched = cfg.model.schedule(s).ok_or_else(|| {
            let ids: Vec<_> = cfg.model.schedules.iter().map(|s| s.id.as_str()).collect();
            anyhow!("no schedule `{s}`: use one of {}", ids.join(", "))
        })?;
        let tl = sched.timeline(from, to);
        if o.json {
            return Ok(serde_json::to_string_pretty(&json!({
                "schedule": s, "from": from.to_string(), "to": to.to_string(), "handoffs": tl,
            }))?);
        }
        let mut out = format!(
            "{s}: handoffs from {from} to {to} ({})\n",
            sched.tz.iana_name().unwrap_or("?")
        );
        for h in tl {
            let local = h.at.to_zoned(sched.tz.clone());
            let who = if h.on_call.is_empty() {
                "nobody".to_string()
            } else {
                h.on_call
                    .iter()
                    .map(|o| format!("{} ({})", o.user, reason(&o.reason)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!(
                "{}  {}  {who}\n",
                h.at,
                local.strftime("%a %Y-%m-%d %H:%M %Z")
            ));
        }
        return Ok(out);
    }
    let at = match &o.at {
        Some(s) => instant(s, "at")?,
        None => Timestamp::now(),
    };
    let mut on_call: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut text = format!("at {at}\n\nschedules:\n");
    for s in &cfg.model.schedules {
        let who = s.on_call(at);
        let line = if who.is_empty() {
            "nobody (gap)".to_string()
        } else {
            who.iter()
                .map(|o| format!("{} ({})", o.user, reason(&o.reason)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        text.push_str(&format!("  {}: {line}\n", s.id));
        on_call.insert(s.id.clone(), who.into_iter().map(|o| o.user).collect());
    }
    let mut policies: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    text.push_str("\npolicies:\n");
    for p in &cfg.policies {
        let (levels, _) = routing::resolved_levels(&cfg, p.id.get_ref(), at);
        text.push_str(&format!("  {}:\n", p.id.get_ref()));
        for (i, l) in levels.iter().enumerate() {
            let users = if l.is_empty() {
                "nobody".to_string()
            } else {
                l.join(", ")
            };
            text.push_str(&format!("    level {}: {users}\n", i + 1));
        }
        policies.insert(p.id.get_ref().clone(), levels);
    }
    let mut doc = json!({ "at": at.to_string(), "on_call": on_call, "policies": policies });
    if let Some(pol) = &o.policy {
        if cfg.policy(pol).is_none() {
            let ids: Vec<_> = cfg
                .policies
                .iter()
                .map(|p| p.id.get_ref().as_str())
                .collect();
            bail!("no policy `{pol}`: use one of {}", ids.join(", "));
        }
        let plan = routing::hunt_plan(&cfg, pol, at, &mut StdRng::seed_from_u64(o.seed));
        text.push_str(&format!("\nhunt plan of {pol} (seed {}):\n", o.seed));
        if plan.is_empty() {
            text.push_str("  nobody on call\n");
        }
        for (n, a) in plan.attempts.iter().enumerate() {
            text.push_str(&format!(
                "  {}. level {} {} {}\n",
                n + 1,
                a.level,
                a.user,
                a.number
            ));
        }
        for (u, why) in &plan.skipped {
            text.push_str(&format!("  skipped {u}: {why}\n"));
        }
        for (l, s) in &plan.gaps {
            text.push_str(&format!("  level {l}: nobody on call on schedule {s}\n"));
        }
        doc["plan"] = serde_json::to_value(&plan.attempts)?;
        doc["nobody_on_call"] = json!(plan.is_empty());
    }
    text.push_str("\nsupport hours:\n");
    let mut hours = Vec::new();
    for (i, rn) in cfg.routing_numbers.iter().enumerate() {
        let st = routing::support_status(&cfg, i, at);
        let next = routing::support_next_change(&cfg, i, at);
        let tz = cfg
            .model
            .support_hours
            .get(i)
            .and_then(|s| s.as_ref())
            .map(|s| &s.tz);
        text.push_str(&format!("  {}: {}\n", rn.name, hours_text(&st, next, tz)));
        let mut v = serde_json::to_value(&st)?;
        v["routing_number"] = json!(rn.name);
        v["port"] = json!(rn.port.get_ref());
        v["next_change"] = json!(next.map(|t| t.to_string()));
        hours.push(v);
    }
    doc["support_hours"] = json!(hours);
    if o.json {
        Ok(serde_json::to_string_pretty(&doc)?)
    } else {
        Ok(text)
    }
}
