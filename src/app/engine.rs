//! The engine: drives the exchange over a board, in real or virtual time.
//!
//! One loop turn moves modem bytes, line signals and — every 20 ms — one audio frame
//! per port, then fires due timers. [`Engine::run_virtual`] jumps time from deadline to
//! deadline (a 60 s call takes milliseconds), waiting only while bytes are in flight on
//! the modem's pseudo-terminal; [`Engine::run_realtime`] sleeps until the next deadline
//! or until the modem speaks.
//!
//! Modem recovery, I/O side: when the AT port fails (hang-up, `EIO`, end of file — a
//! USB modem re-enumerating after a reset), the port is closed, the modem state
//! machine is told the link is down (legs end, commands fail) and the configured path
//! (a udev symlink such as `/dev/modem-at`, which follows the modem to its new
//! `ttyUSBn`) is opened again with back-off (1 s doubling to 30 s), each attempt logged.
//! When the state machine asks for a power cycle, the board pulses the power key.

use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::dsp::FRAME_SAMPLES;
use crate::exchange::{Exchange, Output};
use crate::hw::Board;
use crate::hw::modem_link::ModemLink;
use crate::hw::sim::InProcessPeers;
use crate::media::{Frame, SILENCE};

/// One audio period.
pub const TICK: Duration = Duration::from_millis(20);

/// First delay before opening a lost AT port again; it doubles up to [`REOPEN_MAX`].
const REOPEN_FIRST: Duration = Duration::from_secs(1);
const REOPEN_MAX: Duration = Duration::from_secs(30);

/// Drives an [`Exchange`] over a [`Board`].
pub struct Engine<B: Board + InProcessPeers> {
    /// The exchange (public so drivers can read status and shut it down).
    pub exchange: Exchange,
    /// The board.
    pub board: B,
    serial: Option<ModemLink>,
    /// When the closed AT port is tried again, and the delay after that.
    reopen: Option<(Instant, Duration)>,
    reopen_attempts: u32,
    next_tick: Instant,
    frames: Vec<Frame>,
    /// A deadline that stayed due, and for how many turns (see [`Engine::next_wake`]).
    stuck: (Option<Instant>, u32),
}

/// Turns a deadline may stay due at the same instant before the engine stops waking
/// for it (a timer that is never handled is a bug; the engine must not spin on it).
const STUCK_TURNS: u32 = 64;

impl<B: Board + InProcessPeers> Engine<B> {
    /// Wires an exchange to a board, opening the modem's AT port through the real
    /// serial driver. A port that cannot be opened is not fatal: the box starts without
    /// the modem (analog lines work), logs the error, and keeps trying with back-off —
    /// the recovery ladder power-cycles a modem whose port never appears.
    pub fn new(exchange: Exchange, board: B, now: Instant) -> Result<Self> {
        let mut missing = None;
        let serial = match board.open_modem_port() {
            Some(Ok(link)) => Some(link),
            Some(Err(e)) => {
                missing = Some(e);
                None
            }
            None => None,
        };
        let n = exchange.port_count();
        let mut engine = Self {
            exchange,
            board,
            serial,
            reopen: None,
            reopen_attempts: 0,
            next_tick: now,
            frames: vec![SILENCE; n],
            stuck: (None, 0),
        };
        if let Some(e) = missing {
            tracing::error!("{e:#}; starting without the modem and trying again");
            engine.reopen = Some((now + REOPEN_FIRST, REOPEN_FIRST));
            engine.exchange.on_modem_link(
                now,
                false,
                &format!("the AT port cannot be opened ({e:#})"),
            );
        }
        Ok(engine)
    }

    /// One turn at `now`. Outputs (CDRs, notes) go to `sink`.
    pub fn turn(&mut self, now: Instant, sink: &mut impl FnMut(Instant, Output)) {
        self.board.step(now);
        self.move_io(now);
        if now >= self.next_tick {
            self.audio_tick(now);
            self.next_tick += TICK;
            if now > self.next_tick + 5 * TICK {
                // Fell behind (a stalled machine): resynchronise instead of bursting.
                tracing::warn!(
                    "audio clock fell behind by {:?}; resynchronising",
                    now - self.next_tick
                );
                self.next_tick = now + TICK;
            }
        }
        if self.exchange.poll_timeout().is_some_and(|t| t <= now) {
            self.exchange.handle_timeout(now);
        }
        self.move_io(now);
        while let Some(out) = self.exchange.poll_output() {
            match out {
                Output::Line { port, cmd } => self.board.line_command(now, port, cmd),
                Output::ModemPowerCycle => {
                    match self.board.modem_power_cycle(now) {
                        Ok(true) => tracing::warn!("modem: power key pulsed"),
                        Ok(false) => tracing::error!(
                            "modem: a power cycle is needed but the board profile names no power_key/reset line; power the modem off and on by hand"
                        ),
                        Err(e) => tracing::error!("modem: power cycle failed: {e:#}"),
                    }
                    // done; the sink sees it too (the transcript, scenario checks)
                    sink(now, Output::ModemPowerCycle);
                }
                other => sink(now, other),
            }
        }
    }

    /// The AT port failed: close it, tell the modem, and plan to open it again.
    fn lose_link(&mut self, now: Instant, e: anyhow::Error) {
        tracing::error!("{e:#}; closing the port and opening it again");
        self.serial = None;
        self.reopen = Some((now + REOPEN_FIRST, REOPEN_FIRST));
        self.reopen_attempts = 0;
        self.exchange
            .on_modem_link(now, false, &format!("the AT port was lost ({e:#})"));
    }

    /// Tries to open the closed AT port again when due.
    fn try_reopen(&mut self, now: Instant) {
        let Some((at, delay)) = self.reopen else {
            return;
        };
        if now < at {
            return;
        }
        let Some(opened) = self.board.open_modem_port() else {
            return;
        };
        self.reopen_attempts += 1;
        match opened {
            Ok(link) => {
                tracing::info!(
                    attempt = self.reopen_attempts,
                    "modem: AT port {} open again",
                    link.name()
                );
                self.serial = Some(link);
                self.reopen = None;
                self.exchange.on_modem_link(now, true, "");
            }
            Err(e) => {
                let next = (delay * 2).min(REOPEN_MAX);
                tracing::warn!(
                    attempt = self.reopen_attempts,
                    "modem: {e:#}; trying again in {} s",
                    delay.as_secs()
                );
                self.reopen = Some((now + delay, next));
            }
        }
    }

    fn move_io(&mut self, now: Instant) {
        self.try_reopen(now);
        for _ in 0..64 {
            let mut moved = false;
            if let Some(s) = self.serial.as_mut() {
                match s.pump(now, &mut self.exchange) {
                    Ok(m) => moved |= m,
                    Err(e) => {
                        self.lose_link(now, e);
                        moved = true;
                    }
                }
            }
            while let Some((port, sig)) = self.board.poll_line_signal() {
                self.exchange.on_line_signal(now, port, sig);
                moved = true;
            }
            if !moved {
                break;
            }
            self.board.step(now);
        }
    }

    fn audio_tick(&mut self, now: Instant) {
        for (port, frame) in self.frames.iter_mut().enumerate() {
            self.board.read_frame(now, port, frame);
        }
        for (port, frame) in self.frames.iter().enumerate() {
            self.exchange.on_audio(now, port, frame);
        }
        let mut out: Frame = [0; FRAME_SAMPLES];
        for port in 0..self.frames.len() {
            self.exchange.fill_audio(now, port, &mut out);
            self.board.write_frame(now, port, &out);
        }
    }

    /// The next instant anything is due.
    pub fn next_deadline(&self) -> Instant {
        [
            self.exchange.poll_timeout(),
            self.board.poll_timeout(),
            self.reopen.map(|r| r.0),
        ]
        .into_iter()
        .flatten()
        .fold(self.next_tick, Instant::min)
    }

    /// When to run the next turn, at `now`: the next deadline — unless the same
    /// deadline has stayed due for [`STUCK_TURNS`] turns without being handled, in which
    /// case the engine moves on to the next audio tick (logged once per episode) instead
    /// of spinning. Both drivers use it.
    pub fn next_wake(&mut self, now: Instant) -> Instant {
        let next = self.next_deadline();
        if next > now {
            self.stuck = (None, 0);
            return next;
        }
        if self.stuck.0 == Some(next) {
            self.stuck.1 += 1;
        } else {
            self.stuck = (Some(next), 1);
        }
        if self.stuck.1 < STUCK_TURNS {
            return now;
        }
        if self.stuck.1 == STUCK_TURNS {
            tracing::error!(
                "a deadline stays due without being handled; waking on the audio clock until it moves"
            );
        }
        self.next_tick.max(now + Duration::from_millis(1))
    }

    /// Whether the engine is skipping a deadline that stays due (see [`Engine::next_wake`]).
    pub fn skipping_stuck_deadline(&self) -> bool {
        self.stuck.1 >= STUCK_TURNS
    }

    /// Bytes still in flight between the driver and the simulated modem.
    fn link_busy(&self) -> bool {
        match (self.board.modem_link_counts(), &self.serial) {
            (Some((b_written, b_read)), Some(s)) => {
                let (read, written) = s.counts();
                b_written != read || written != b_read
            }
            _ => false,
        }
    }

    /// Waits up to `timeout` for the modem (or the board's side of it) to have bytes.
    fn wait_io(&self, timeout: Duration) {
        let mut fds: Vec<i32> = self.board.wake_fds();
        if let Some(fd) = self.serial.as_ref().and_then(ModemLink::raw_fd) {
            fds.push(fd);
        }
        if fds.is_empty() {
            // nothing to wake on (no modem): just wait
            std::thread::sleep(timeout.min(Duration::from_secs(1)));
            return;
        }
        // SAFETY: the descriptors belong to `self.board` / `self.serial`, which outlive this call.
        let borrowed: Vec<BorrowedFd<'_>> = fds
            .iter()
            .map(|&fd| unsafe { BorrowedFd::borrow_raw(fd) })
            .collect();
        let mut pfds: Vec<PollFd<'_>> = borrowed
            .iter()
            .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
            .collect();
        // rounded up: a wait shorter than a millisecond still yields the CPU
        let ms = timeout.as_micros().div_ceil(1000).min(1000) as u16;
        let _ = poll(&mut pfds, PollTimeout::from(ms));
    }

    /// Runs in virtual time from `start` until `done` says so or `limit` passes.
    /// Returns the virtual instant at which it stopped.
    pub fn run_virtual(
        &mut self,
        start: Instant,
        limit: Duration,
        sink: &mut impl FnMut(Instant, Output),
        done: impl FnMut(&Self) -> bool,
    ) -> Instant {
        self.run_virtual_with(start, limit, sink, |_, _| {}, done)
    }

    /// [`Engine::run_virtual`] with `on_turn` called after every turn (e.g. to hand
    /// the exchange commands that the outputs caused).
    pub fn run_virtual_with(
        &mut self,
        start: Instant,
        limit: Duration,
        sink: &mut impl FnMut(Instant, Output),
        mut on_turn: impl FnMut(&mut Self, Instant),
        mut done: impl FnMut(&Self) -> bool,
    ) -> Instant {
        let mut now = start;
        self.next_tick = start;
        loop {
            self.turn(now, sink);
            // Let the pseudo-terminal settle: virtual time must not pass while the modem
            // and the driver are still talking.
            let t0 = Instant::now();
            let in_memory = self.serial.as_ref().is_some_and(ModemLink::is_memory);
            while self.link_busy() && t0.elapsed() < Duration::from_secs(2) {
                if !in_memory {
                    // bytes on the pseudo-terminal: give the kernel a moment
                    self.wait_io(Duration::from_millis(5));
                }
                self.turn(now, sink);
            }
            on_turn(self, now);
            if done(self) || now >= start + limit {
                return now;
            }
            now = self.next_wake(now).max(now);
        }
    }

    /// Runs in real time until `stop` is set; then shuts the exchange down gracefully
    /// (callers hear goodbye) and returns once no call is left (or after 15 s).
    pub fn run_realtime(
        &mut self,
        stop: Arc<AtomicBool>,
        sink: &mut impl FnMut(Instant, Output),
        mut on_turn: impl FnMut(&mut Self),
    ) {
        self.next_tick = Instant::now();
        let mut stop_deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            self.turn(now, sink);
            on_turn(self);
            if stop.load(Ordering::Relaxed) && stop_deadline.is_none() {
                tracing::info!("stopping: ending calls in progress");
                self.exchange.shutdown(now);
                stop_deadline = Some(now + Duration::from_secs(15));
            }
            if let Some(dl) = stop_deadline {
                if self.exchange.active_calls() == 0 || now >= dl {
                    // one more turn so the last line commands reach the board
                    self.turn(Instant::now(), sink);
                    return;
                }
            }
            let wait = self
                .next_wake(Instant::now())
                .saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                self.wait_io(wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BoardProfile, Config};
    use crate::exchange::PortIdx;
    use crate::line::{LineCommand, LineSignal};
    use crate::media::PromptLibrary;

    /// A board with a timer that is always due and never handled (a bug the engine
    /// must survive without spinning).
    struct StuckBoard {
        due: Instant,
        steps: u64,
    }

    impl Board for StuckBoard {
        fn poll_line_signal(&mut self) -> Option<(PortIdx, LineSignal)> {
            None
        }
        fn line_command(&mut self, _: Instant, _: PortIdx, _: LineCommand) {}
        fn read_frame(&mut self, _: Instant, _: PortIdx, out: &mut Frame) {
            *out = SILENCE;
        }
        fn write_frame(&mut self, _: Instant, _: PortIdx, _: &Frame) {}
        fn step(&mut self, _: Instant) {
            self.steps += 1;
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(self.due)
        }
        fn modem_serial(&self) -> Option<(String, u32)> {
            None
        }
    }

    impl InProcessPeers for StuckBoard {}

    fn engine(start: Instant) -> Engine<StuckBoard> {
        let cfg = Arc::new(Config::demo());
        let ex = Exchange::new(
            &BoardProfile::sim(),
            cfg,
            Arc::new(PromptLibrary::default()),
            start,
            jiff::Timestamp::UNIX_EPOCH,
            1,
        );
        Engine::new(
            ex,
            StuckBoard {
                due: start,
                steps: 0,
            },
            start,
        )
        .unwrap()
    }

    #[test]
    fn a_deadline_that_stays_due_does_not_spin_the_virtual_driver() {
        let start = Instant::now();
        let mut e = engine(start);
        let end = e.run_virtual(start, Duration::from_secs(10), &mut |_, _| {}, |_| false);
        assert!(end >= start + Duration::from_secs(10));
        assert!(e.skipping_stuck_deadline());
        // 500 audio ticks in 10 s; a spinning driver would take millions of turns
        assert!(e.board.steps < 20 * 600, "{} board steps", e.board.steps);
    }

    #[test]
    fn a_deadline_that_stays_due_does_not_spin_the_realtime_driver() {
        let start = Instant::now();
        let mut e = engine(start);
        let stop = Arc::new(AtomicBool::new(false));
        let stopper = stop.clone();
        let mut skipping_turns = 0u32;
        let mut skipping_since = None;
        e.run_realtime(stop, &mut |_, _| {}, |e| {
            if e.skipping_stuck_deadline() {
                skipping_since.get_or_insert_with(Instant::now);
                skipping_turns += 1;
                if skipping_turns == 10 {
                    stopper.store(true, Ordering::Relaxed);
                }
            }
        });
        // ten turns while the deadline stays due took at least ~nine audio ticks: the
        // loop waited on the audio clock instead of spinning (a slow machine only
        // makes this longer)
        let waited = skipping_since.map(|t| t.elapsed()).unwrap_or_default();
        assert!(waited >= TICK * 8, "ten turns in {waited:?}");
    }
}
