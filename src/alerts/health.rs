//! The box's own health: conditions observed over time (modem registration and SIM,
//! signal, disk, iCal feeds, trunks), raised as an alert once a condition has lasted its
//! configured time and resolved when it clears. Pure: observations and the time come in,
//! changes go out; the service's store thread (and the scenario runner) feed it and
//! write the changes to the outbox through the call writer.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::config::alerts::HealthConfig;

/// What the box looks like at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// The modem, if the board has one.
    pub modem: Option<ModemObservation>,
    /// Ports of trunks out of service (FXO lines without dial tone).
    pub trunks_out: Vec<String>,
    /// Percent of the data directory's file system in use.
    pub disk_used_percent: Option<f64>,
    /// iCal feed schedules and how long since their last fresh read.
    pub feed_ages: Vec<(String, Duration)>,
}

/// The modem's part of an [`Observation`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModemObservation {
    /// Registration (`home`, `roaming`, `searching`, …; `None`: not known yet).
    pub registration: Option<String>,
    /// SIM state (`ready`, `not_inserted`, …; `None`: not known yet).
    pub sim: Option<String>,
    /// Signal in dBm.
    pub signal_dbm: Option<i32>,
}

impl ModemObservation {
    /// From the exchange's modem status.
    pub fn from_status(m: &crate::modem::ModemStatus) -> Self {
        Self {
            registration: m.registration.map(str::to_string),
            sim: m.sim.map(str::to_string),
            signal_dbm: m.signal_dbm,
        }
    }
}

impl Observation {
    /// The modem and trunk part from an exchange status snapshot.
    pub fn from_status(s: &crate::exchange::Status) -> Self {
        Self {
            modem: s.modem.as_ref().map(ModemObservation::from_status),
            trunks_out: s
                .ports
                .iter()
                .filter(|p| p.state == "out-of-service")
                .map(|p| p.id.clone())
                .collect(),
            ..Self::default()
        }
    }
}

/// A health alert to raise or resolve.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthChange {
    /// The condition (`registration`, `sim`, `signal`, `disk`, `trunk:fxo2`,
    /// `feed:oncall`); the alert's routing id is `health:<key>`.
    pub key: String,
    /// Raised (true) or cleared (false).
    pub raised: bool,
    /// One line for people.
    pub summary: String,
    /// Facts for the receivers.
    pub details: serde_json::Value,
}

/// Follows conditions over time.
#[derive(Debug, Default)]
pub struct HealthMonitor {
    /// Condition → when it was first seen bad (this time).
    bad_since: HashMap<String, jiff::Timestamp>,
    /// Conditions raised and not cleared.
    raised: HashMap<String, jiff::Timestamp>,
}

impl HealthMonitor {
    /// A monitor that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a condition is raised now.
    pub fn is_raised(&self, key: &str) -> bool {
        self.raised.contains_key(key)
    }

    /// Takes one observation at `now`; returns the alerts to raise and resolve.
    pub fn observe(
        &mut self,
        now: jiff::Timestamp,
        obs: &Observation,
        cfg: &HealthConfig,
        site: &str,
    ) -> Vec<HealthChange> {
        // (key, after, summary, details) of every condition that is bad now
        let mut bad: Vec<(String, Duration, String, serde_json::Value)> = Vec::new();
        if let Some(m) = &obs.modem {
            let registered = matches!(m.registration.as_deref(), Some("home" | "roaming"));
            if !registered {
                let r = m.registration.as_deref().unwrap_or("unknown");
                bad.push((
                    "registration".into(),
                    *cfg.registration_lost_after.get_ref(),
                    format!(
                        "Switchboard at {site}: the modem is not registered to the network ({r})"
                    ),
                    json!({ "registration": r }),
                ));
            }
            if let Some(sim) = m.sim.as_deref().filter(|s| *s != "ready") {
                bad.push((
                    "sim".into(),
                    *cfg.registration_lost_after.get_ref(),
                    format!("Switchboard at {site}: the SIM is not usable ({sim})"),
                    json!({ "sim": sim }),
                ));
            }
            if let (Some(limit), Some(dbm)) = (&cfg.signal_below_dbm, m.signal_dbm)
                && dbm < *limit.get_ref()
            {
                bad.push((
                    "signal".into(),
                    *cfg.signal_low_for.get_ref(),
                    format!(
                        "Switchboard at {site}: weak mobile signal ({dbm} dBm, below {} dBm)",
                        limit.get_ref()
                    ),
                    json!({ "signal_dbm": dbm, "threshold_dbm": limit.get_ref() }),
                ));
            }
        }
        for port in &obs.trunks_out {
            bad.push((
                format!("trunk:{port}"),
                *cfg.trunk_out_after.get_ref(),
                format!("Switchboard at {site}: trunk {port} is out of service (no dial tone)"),
                json!({ "port": port }),
            ));
        }
        if let Some(used) = obs.disk_used_percent
            && used >= f64::from(*cfg.disk_full_percent.get_ref())
        {
            bad.push((
                "disk".into(),
                Duration::ZERO,
                format!("Switchboard at {site}: the data disk is {used:.0} % full"),
                json!({ "used_percent": (used * 10.0).round() / 10.0 }),
            ));
        }
        for (schedule, age) in &obs.feed_ages {
            if *age > *cfg.feed_stale_after.get_ref() {
                bad.push((
                    format!("feed:{schedule}"),
                    Duration::ZERO,
                    format!(
                        "Switchboard at {site}: the iCal feed of schedule {schedule} has not been read for {} (the last good copy is used)",
                        super::sms::human(Duration::from_secs(age.as_secs() / 60 * 60))
                    ),
                    json!({ "schedule": schedule, "age_seconds": age.as_secs() }),
                ));
            }
        }

        let mut out = Vec::new();
        for (key, after, summary, details) in &bad {
            let since = *self.bad_since.entry(key.clone()).or_insert(now);
            let lasted = now.duration_since(since).unsigned_abs();
            if lasted >= *after && !self.raised.contains_key(key) {
                self.raised.insert(key.clone(), now);
                let mut details = details.clone();
                details["health"] = json!(key);
                details["since"] = json!(since.to_string());
                out.push(HealthChange {
                    key: key.clone(),
                    raised: true,
                    summary: summary.clone(),
                    details,
                });
            }
        }
        let still_bad: Vec<&String> = bad.iter().map(|b| &b.0).collect();
        self.bad_since.retain(|k, _| still_bad.contains(&k));
        let cleared: Vec<String> = self
            .raised
            .keys()
            .filter(|k| !still_bad.contains(k))
            .cloned()
            .collect();
        for key in cleared {
            let since = self.raised.remove(&key).unwrap_or(now);
            out.push(HealthChange {
                summary: format!("Switchboard at {site}: {key} is healthy again"),
                details: json!({ "health": key, "raised_at": since.to_string() }),
                key,
                raised: false,
            });
        }
        out
    }
}

/// Whether the periodic self-test call is due: `every` after the last one, or (never
/// made) a minute after the service started, so a fresh box proves its path early.
pub fn self_test_due(last_ms: Option<i64>, started_ms: i64, now_ms: i64, every: Duration) -> bool {
    match last_ms {
        Some(l) => now_ms >= l.saturating_add(every.as_millis() as i64),
        None => now_ms >= started_ms + 60_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> HealthConfig {
        let src = format!("[health]\n{extra}\n");
        crate::config::Config::parse("t.toml", &src, &crate::config::BoardProfile::sim())
            .unwrap()
            .health
    }

    fn t(s: u64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_772_442_000 + s as i64).unwrap()
    }

    fn modem(reg: &str, sim: &str, dbm: i32) -> Observation {
        Observation {
            modem: Some(ModemObservation {
                registration: Some(reg.into()),
                sim: Some(sim.into()),
                signal_dbm: Some(dbm),
            }),
            ..Observation::default()
        }
    }

    fn keys(v: &[HealthChange]) -> Vec<String> {
        v.iter()
            .map(|c| format!("{}{}", if c.raised { "+" } else { "-" }, c.key))
            .collect()
    }

    #[test]
    fn registration_loss_is_raised_after_its_time_once_and_resolved_when_back() {
        let c = cfg("registration_lost_after = \"2m\"");
        let mut m = HealthMonitor::new();
        assert!(
            m.observe(t(0), &modem("home", "ready", -70), &c, "A")
                .is_empty()
        );
        assert!(
            m.observe(t(10), &modem("searching", "ready", -70), &c, "A")
                .is_empty()
        );
        // a short loss that recovers raises nothing
        assert!(
            m.observe(t(60), &modem("home", "ready", -70), &c, "A")
                .is_empty()
        );
        assert!(
            m.observe(t(100), &modem("searching", "ready", -70), &c, "A")
                .is_empty()
        );
        assert!(
            m.observe(t(219), &modem("searching", "ready", -70), &c, "A")
                .is_empty()
        );
        let up = m.observe(t(220), &modem("searching", "ready", -70), &c, "A");
        assert_eq!(keys(&up), ["+registration"]);
        assert!(
            up[0]
                .summary
                .contains("not registered to the network (searching)"),
            "{}",
            up[0].summary
        );
        assert!(
            m.observe(t(400), &modem("denied", "ready", -70), &c, "A")
                .is_empty()
        );
        assert_eq!(
            keys(&m.observe(t(500), &modem("roaming", "ready", -70), &c, "A")),
            ["-registration"]
        );
    }

    #[test]
    fn sim_signal_disk_feeds_and_trunks() {
        let c = cfg(
            "registration_lost_after = \"1m\"\nsignal_below_dbm = -105\nsignal_low_for = \"5m\"\ndisk_full_percent = 90\ntrunk_out_after = \"30s\"\nfeed_stale_after = \"6h\"",
        );
        let mut m = HealthMonitor::new();
        let mut o = modem("home", "not_inserted", -110);
        o.trunks_out = vec!["fxo2".into()];
        o.disk_used_percent = Some(93.4);
        o.feed_ages = vec![("oncall".into(), Duration::from_secs(7 * 3600))];
        assert_eq!(
            keys(&m.observe(t(0), &o, &c, "A")),
            ["+disk", "+feed:oncall"]
        );
        assert_eq!(keys(&m.observe(t(30), &o, &c, "A")), ["+trunk:fxo2"]);
        assert_eq!(keys(&m.observe(t(60), &o, &c, "A")), ["+sim"]);
        assert_eq!(keys(&m.observe(t(300), &o, &c, "A")), ["+signal"]);
        let mut fine = modem("home", "ready", -80);
        fine.disk_used_percent = Some(50.0);
        let mut cleared = keys(&m.observe(t(400), &fine, &c, "A"));
        cleared.sort();
        assert_eq!(
            cleared,
            ["-disk", "-feed:oncall", "-signal", "-sim", "-trunk:fxo2"]
        );
    }

    #[test]
    fn no_modem_no_modem_conditions_and_defaults_do_not_watch_the_signal() {
        let c = cfg("");
        let mut m = HealthMonitor::new();
        assert!(m.observe(t(0), &Observation::default(), &c, "A").is_empty());
        let weak = modem("home", "ready", -120);
        assert!(m.observe(t(0), &weak, &c, "A").is_empty());
        assert!(m.observe(t(100_000), &weak, &c, "A").is_empty());
    }

    #[test]
    fn the_self_test_is_due_every_period_after_the_last_and_soon_after_a_first_start() {
        let h72 = Duration::from_secs(72 * 3600);
        assert!(!self_test_due(None, 0, 59_999, h72));
        assert!(self_test_due(None, 0, 60_000, h72));
        let last = 1_000_000;
        assert!(!self_test_due(
            Some(last),
            0,
            last + 72 * 3_600_000 - 1,
            h72
        ));
        assert!(self_test_due(Some(last), 0, last + 72 * 3_600_000, h72));
    }
}
