//! The modem driver ([`Modem`]) against the simulated modem ([`SimModem`]) in one
//! process and in virtual time: the bytes cross the in-memory line ([`MemLink`](super::memlink::MemLink))
//! through the same I/O step as the engine's ([`ModemLink::pump`]), and time jumps
//! from one deadline of either side to the next, so a test of the driver's logic
//! never sleeps and never depends on how fast the machine is. The serial edge (a real
//! pseudo-terminal through [`SerialLink`](crate::modem::serial::SerialLink)) keeps its
//! own tests.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::modem::{Network, SimModem, SimModemConfig};
use crate::hw::modem_link::ModemLink;
use crate::modem::{Modem, ModemConfig, ModemEvent, ModemTiming};

/// Turns at one instant before the rig gives up on the two sides settling (a bug:
/// they keep talking without time passing).
const MAX_SETTLE: usize = 10_000;

/// The driver and the simulated modem, wired together in virtual time.
pub struct ModemRig {
    /// The simulated modem.
    pub sim: SimModem,
    /// The driver under test.
    pub modem: Modem,
    /// Who answers the modem's calls.
    pub net: Box<dyn Network>,
    /// Events from the driver, in order (take them with [`ModemRig::take`]).
    pub events: Vec<ModemEvent>,
    /// The virtual now.
    pub now: Instant,
    link: ModemLink,
}

impl ModemRig {
    /// A driver with `cfg` and `timing` against a simulated modem `sim`, starting at
    /// `start`.
    pub fn new(
        sim: SimModemConfig,
        cfg: ModemConfig,
        timing: ModemTiming,
        net: Box<dyn Network>,
        start: Instant,
    ) -> Result<Self> {
        let sim = SimModem::open_with(sim)?.in_memory();
        let link = ModemLink::memory(sim.mem_link().context("a fresh in-memory line")?);
        Ok(Self {
            sim,
            modem: Modem::with_config(start, timing, cfg),
            net,
            events: Vec::new(),
            now: start,
            link,
        })
    }

    /// Lets both sides act at the current instant until neither has anything left to
    /// do: bytes cross both ways, the simulated modem answers, due timers fire.
    pub fn settle(&mut self) {
        for _ in 0..MAX_SETTLE {
            let mut moved = self
                .link
                .pump(self.now, &mut self.modem)
                .expect("the in-memory line stays up");
            let before = self.sim.written;
            self.sim.step(self.now, &mut *self.net);
            moved |= self.sim.written != before;
            if self.modem.poll_timeout().is_some_and(|t| t <= self.now) {
                self.modem.handle_timeout(self.now);
                moved = true;
            }
            while let Some(e) = self.modem.poll_event() {
                self.events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!(
            "driver and simulated modem never settled at one instant; the modem saw {:?}",
            self.sim.commands
        );
    }

    /// The next instant either side has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.modem.poll_timeout(),
            self.sim.poll_timeout(),
            self.sim.faults_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs until `done` holds, at most `limit` of virtual time; `Err` with what was
    /// awaited, the events and the modem's commands when it did not come.
    pub fn run_until(
        &mut self,
        what: &str,
        limit: Duration,
        done: impl Fn(&Self) -> bool,
    ) -> Result<(), String> {
        let end = self.now + limit;
        loop {
            self.settle();
            if done(self) {
                return Ok(());
            }
            if self.now >= end {
                return Err(format!(
                    "waiting for {what} for {limit:?} of virtual time: events {:?}\nthe modem saw {:?}",
                    self.events, self.sim.commands
                ));
            }
            self.advance_to_next(end);
        }
    }

    /// Runs for `d` of virtual time (to show that something does not happen).
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.settle();
            if self.now >= end {
                return;
            }
            self.advance_to_next(end);
        }
    }

    /// Moves the clock to the next deadline (at least 1 ms on, so a deadline that
    /// stays due cannot stop time), capped at `end`.
    fn advance_to_next(&mut self, end: Instant) {
        let next = self
            .next_deadline()
            .unwrap_or(end)
            .max(self.now + Duration::from_millis(1));
        self.now = next.min(end);
    }

    /// The events so far, leaving none.
    pub fn take(&mut self) -> Vec<ModemEvent> {
        std::mem::take(&mut self.events)
    }
}

/// Runs a driver against the simulated modem over a real pseudo-terminal until `done`
/// holds, through the same I/O step ([`ModemLink::pump`]): for the serial-edge tests,
/// where the bytes cross the kernel (hence a short wait per turn). Events go to
/// `events`. An error when the port fails or `limit` of wall time passes first.
pub fn pty_run_until(
    sim: &mut SimModem,
    link: &mut ModemLink,
    m: &mut Modem,
    events: &mut Vec<ModemEvent>,
    limit: Duration,
    done: impl Fn(&[ModemEvent], &SimModem) -> bool,
) -> Result<()> {
    let start = Instant::now();
    while !done(events, sim) {
        if start.elapsed() >= limit {
            anyhow::bail!("nothing came within {limit:?}: events {events:?}");
        }
        link.pump(Instant::now(), m)?;
        sim.step(Instant::now(), &mut super::modem::NoNetwork);
        // bytes on a pseudo-terminal cross through the kernel: give it a moment
        std::thread::sleep(Duration::from_millis(2));
        while link.pump(Instant::now(), m)? {}
        m.handle_timeout(Instant::now());
        events.extend(std::iter::from_fn(|| m.poll_event()));
    }
    Ok(())
}
