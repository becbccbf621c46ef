//! The Ag1171 ringing SLIC (FXS): ring generation on its own timing thread.
//!
//! Ringing: RM high (72 V battery), F/R toggled at the ring frequency (20 Hz North
//! America, 25 Hz most of Europe) during each burst of the cadence; RM low and F/R high
//! (forward) at all other times. The levels are a pure function of the time since the
//! ring started ([`ring_levels`], [`next_change`]); the [`Ringer`] thread only sleeps to
//! absolute deadlines and applies them, so ring timing never depends on the async
//! runtime or on how busy the call engine is.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::gpio::Line;

/// Ring frequency and cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingCadence {
    /// Ring frequency in Hz.
    pub hz: u32,
    /// Burst length.
    pub on: Duration,
    /// Pause length.
    pub off: Duration,
}

impl RingCadence {
    fn half_period(&self) -> Duration {
        Duration::from_nanos(500_000_000 / u64::from(self.hz.max(1)))
    }
    fn cycle(&self) -> Duration {
        self.on + self.off
    }
}

/// (RM, F/R) levels at `t` after the ring started.
pub fn ring_levels(c: &RingCadence, t: Duration) -> (bool, bool) {
    let cycle = c.cycle().as_nanos().max(1);
    let in_cycle = Duration::from_nanos((t.as_nanos() % cycle) as u64);
    if in_cycle >= c.on {
        return (false, true);
    }
    let half = c.half_period().as_nanos().max(1);
    let phase = (in_cycle.as_nanos() / half) % 2;
    (true, phase == 0)
}

/// The next instant (as time since the ring started) after `t` at which a level changes.
pub fn next_change(c: &RingCadence, t: Duration) -> Duration {
    let cycle = c.cycle();
    let cycle_ns = cycle.as_nanos().max(1);
    let n = t.as_nanos() / cycle_ns;
    let cycle_start = Duration::from_nanos((n * cycle_ns) as u64);
    let in_cycle = t - cycle_start;
    if in_cycle >= c.on {
        return cycle_start + cycle;
    }
    let half = c.half_period();
    let k = in_cycle.as_nanos() / half.as_nanos().max(1) + 1;
    let next = Duration::from_nanos((k * half.as_nanos()) as u64);
    cycle_start + next.min(c.on)
}

#[derive(Default)]
struct Shared {
    ringing_since: Option<Instant>,
    quit: bool,
}

/// A ring generator thread for one Ag1171.
pub struct Ringer {
    state: Arc<(Mutex<Shared>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Ringer {
    /// Starts the thread (idle: RM low, F/R forward).
    pub fn spawn(
        rm: Arc<dyn Line>,
        fr: Arc<dyn Line>,
        cadence: RingCadence,
    ) -> std::io::Result<Self> {
        let state: Arc<(Mutex<Shared>, Condvar)> = Arc::default();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("ringer".into())
            .spawn(move || {
                let apply = |rm_level: bool, fr_level: bool| {
                    if let Err(e) = rm.set(rm_level).and_then(|_| fr.set(fr_level)) {
                        tracing::error!("ringer: GPIO write failed: {e:#}");
                    }
                };
                apply(false, true);
                let (lock, cv) = &*st;
                let Ok(mut s) = lock.lock() else { return };
                loop {
                    if s.quit {
                        apply(false, true);
                        return;
                    }
                    match s.ringing_since {
                        None => {
                            apply(false, true);
                            s = match cv.wait(s) {
                                Ok(s) => s,
                                Err(_) => return,
                            };
                        }
                        Some(start) => {
                            let t = start.elapsed();
                            let (rm_level, fr_level) = ring_levels(&cadence, t);
                            apply(rm_level, fr_level);
                            let deadline = start + next_change(&cadence, t);
                            let wait = deadline.saturating_duration_since(Instant::now());
                            s = match cv.wait_timeout(s, wait) {
                                Ok((s, _)) => s,
                                Err(_) => return,
                            };
                        }
                    }
                }
            })?;
        Ok(Self {
            state,
            thread: Some(thread),
        })
    }

    fn update(&self, f: impl FnOnce(&mut Shared)) {
        let (lock, cv) = &*self.state;
        if let Ok(mut s) = lock.lock() {
            f(&mut s);
            cv.notify_all();
        }
    }

    /// Starts ringing now (no effect if already ringing).
    pub fn start(&self) {
        self.update(|s| {
            s.ringing_since.get_or_insert_with(Instant::now);
        });
    }

    /// Stops ringing at once (RM low).
    pub fn stop(&self) {
        self.update(|s| s.ringing_since = None);
    }
}

impl Drop for Ringer {
    fn drop(&mut self) {
        self.update(|s| s.quit = true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::gpio::MemLine;

    const US: RingCadence = RingCadence {
        hz: 20,
        on: Duration::from_secs(2),
        off: Duration::from_secs(4),
    };

    #[test]
    fn levels_follow_cadence_and_frequency() {
        let ms = Duration::from_millis;
        assert_eq!(ring_levels(&US, ms(0)), (true, true));
        assert_eq!(ring_levels(&US, ms(24)), (true, true));
        assert_eq!(ring_levels(&US, ms(25)), (true, false));
        assert_eq!(ring_levels(&US, ms(50)), (true, true));
        assert_eq!(ring_levels(&US, ms(1999)), (true, false));
        assert_eq!(ring_levels(&US, ms(2000)), (false, true));
        assert_eq!(ring_levels(&US, ms(5999)), (false, true));
        assert_eq!(ring_levels(&US, ms(6000)), (true, true));
        // 25 Hz: half period 20 ms
        let eu = RingCadence { hz: 25, ..US };
        assert_eq!(ring_levels(&eu, ms(20)), (true, false));
    }

    #[test]
    fn next_change_walks_every_edge_of_a_cycle() {
        let mut t = Duration::ZERO;
        let mut fr_toggles = 0;
        let mut rm_edges = 0;
        let mut prev = ring_levels(&US, t);
        while t < Duration::from_secs(6) {
            let n = next_change(&US, t);
            assert!(n > t);
            let now = ring_levels(&US, n);
            if now.0 != prev.0 {
                rm_edges += 1;
            }
            if now.1 != prev.1 && now.0 && prev.0 {
                fr_toggles += 1;
            }
            prev = now;
            t = n;
        }
        // 2 s at 20 Hz: 80 half periods, 79 toggles inside the burst; RM falls and rises
        assert_eq!(fr_toggles, 79);
        assert_eq!(rm_edges, 2);
    }

    #[test]
    fn ringer_thread_drives_the_lines() {
        let rm = MemLine::new();
        let fr = MemLine::new();
        let c = RingCadence {
            hz: 20,
            on: Duration::from_millis(300),
            off: Duration::from_millis(300),
        };
        let r = Ringer::spawn(Arc::new(rm.clone()), Arc::new(fr.clone()), c).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        r.start();
        std::thread::sleep(Duration::from_millis(200));
        r.stop();
        std::thread::sleep(Duration::from_millis(50));
        drop(r);
        let rm_levels: Vec<bool> = rm.changes().iter().map(|c| c.1).collect();
        assert_eq!(
            rm_levels,
            vec![false, true, false],
            "RM rises for the burst and falls on stop"
        );
        // F/R toggled during the burst (timing checked exactly by the pure tests; here
        // only that the thread applies them, whatever the machine's load).
        assert!(fr.changes().len() >= 3, "{:?}", fr.changes());
        assert!(fr.get().unwrap(), "F/R back to forward");
        assert!(!rm.get().unwrap());
    }
}
