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
use crate::media::{Frame, SILENCE};
use crate::modem::serial::SerialLink;

/// One audio period.
pub const TICK: Duration = Duration::from_millis(20);

/// First delay before opening a lost AT port again; it doubles up to [`REOPEN_MAX`].
const REOPEN_FIRST: Duration = Duration::from_secs(1);
const REOPEN_MAX: Duration = Duration::from_secs(30);

/// Drives an [`Exchange`] over a [`Board`].
pub struct Engine<B: Board> {
    /// The exchange (public so drivers can read status and shut it down).
    pub exchange: Exchange,
    /// The board.
    pub board: B,
    serial: Option<SerialLink>,
    /// When the closed AT port is tried again, and the delay after that.
    reopen: Option<(Instant, Duration)>,
    reopen_attempts: u32,
    next_tick: Instant,
    frames: Vec<Frame>,
}

impl<B: Board> Engine<B> {
    /// Wires an exchange to a board, opening the modem's AT port through the real
    /// serial driver. A port that cannot be opened is not fatal: the box starts without
    /// the modem (analog lines work), logs the error, and keeps trying with back-off —
    /// the recovery ladder power-cycles a modem whose port never appears.
    pub fn new(exchange: Exchange, board: B, now: Instant) -> Result<Self> {
        let mut missing = None;
        let serial = match board.modem_serial() {
            Some((path, baud)) => match SerialLink::open(&path, baud) {
                Ok(link) => Some(link),
                Err(e) => {
                    missing = Some(e);
                    None
                }
            },
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
                Output::ModemPowerCycle => match self.board.modem_power_cycle(now) {
                    Ok(true) => tracing::warn!("modem: power key pulsed"),
                    Ok(false) => tracing::error!(
                        "modem: a power cycle is needed but the board profile names no power_key/reset line; power the modem off and on by hand"
                    ),
                    Err(e) => tracing::error!("modem: power cycle failed: {e:#}"),
                },
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
        let Some((path, baud)) = self.board.modem_serial() else {
            return;
        };
        self.reopen_attempts += 1;
        match SerialLink::open(&path, baud) {
            Ok(link) => {
                tracing::info!(
                    attempt = self.reopen_attempts,
                    "modem: AT port {path} open again"
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
                let mut buf = [0u8; 1024];
                let mut lost = None;
                match s.read_available(&mut buf) {
                    Ok(0) => {}
                    Ok(n) => {
                        self.exchange.on_modem_bytes(now, &buf[..n]);
                        moved = true;
                    }
                    Err(e) => lost = Some(e),
                }
                while lost.is_none() {
                    let Some(tx) = self.exchange.poll_modem_transmit() else {
                        break;
                    };
                    if let Err(e) = s.write_all(&tx) {
                        lost = Some(e);
                    }
                    moved = true;
                }
                if let Some(e) = lost {
                    self.lose_link(now, e);
                    moved = true;
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

    /// Bytes still in flight between the driver and the simulated modem.
    fn link_busy(&self) -> bool {
        match (self.board.modem_link_counts(), &self.serial) {
            (Some((b_written, b_read)), Some(s)) => b_written != s.read || s.written != b_read,
            _ => false,
        }
    }

    /// Waits up to `timeout` for the modem (or the board's side of it) to have bytes.
    fn wait_io(&self, timeout: Duration) {
        let mut fds: Vec<i32> = self.board.wake_fds();
        if let Some(s) = &self.serial {
            fds.push(s.raw_fd());
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
        let ms = timeout.as_millis().min(1000) as u16;
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
        let mut same_instant = 0u32;
        loop {
            self.turn(now, sink);
            // Let the pseudo-terminal settle: virtual time must not pass while the modem
            // and the driver are still talking.
            let t0 = Instant::now();
            while self.link_busy() && t0.elapsed() < Duration::from_secs(2) {
                self.wait_io(Duration::from_millis(5));
                self.turn(now, sink);
            }
            on_turn(self, now);
            if done(self) || now >= start + limit {
                return now;
            }
            let next = self.next_deadline().max(now);
            if next == now {
                same_instant += 1;
                if same_instant > 10_000 {
                    // A timer that stays due without being handled is a bug; never spin.
                    tracing::error!(
                        "a deadline stays due at the same instant; advancing to the next audio tick"
                    );
                    now = self.next_tick.max(now + Duration::from_millis(1));
                    same_instant = 0;
                }
            } else {
                same_instant = 0;
                now = next;
            }
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
                .next_deadline()
                .saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                self.wait_io(wait);
            }
        }
    }
}
