//! The scenario runner's health watch: the same [`HealthMonitor`] the service's store
//! thread runs, fed from the virtual engine's status once per virtual second, with the
//! changes kept (and their wall-clock time) for the call writer.

use std::time::{Duration, Instant};

use crate::alerts::health::{HealthChange, HealthMonitor, Observation};
use crate::app::engine::Engine;
use crate::config::Config;
use crate::hw::sim::SimBoard;

/// Watches the box during a scenario run.
pub struct HealthWatch {
    monitor: HealthMonitor,
    start: Instant,
    wall: jiff::Timestamp,
    next: Instant,
    /// Changes with the wall-clock time they happened.
    pub changes: Vec<(jiff::Timestamp, Vec<HealthChange>)>,
}

impl HealthWatch {
    /// A watch for a run that starts at `start` (virtual) = `wall` (wall clock).
    pub fn new(start: Instant, wall: jiff::Timestamp) -> Self {
        Self {
            monitor: HealthMonitor::new(),
            start,
            wall,
            next: start,
            changes: Vec::new(),
        }
    }

    /// One engine turn at `now`: observes at most once per virtual second.
    pub fn turn(&mut self, e: &Engine<SimBoard>, now: Instant, cfg: &Config) {
        if now < self.next {
            return;
        }
        self.next = now + Duration::from_secs(1);
        let Ok(d) = jiff::SignedDuration::try_from(now.saturating_duration_since(self.start))
        else {
            return;
        };
        let Ok(at) = self.wall.checked_add(d) else {
            return;
        };
        let obs = Observation::from_status(&e.exchange.status());
        let c = self.monitor.observe(at, &obs, &cfg.health, &cfg.site.name);
        if !c.is_empty() {
            self.changes.push((at, c));
        }
    }
}
