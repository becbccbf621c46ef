//! Serial-port PCM call audio (SIMCom SIM7600 / A76xx): the modem streams the call as
//! raw 8 kHz S16LE mono on a USB tty (interface 4, `/dev/modem-pcm`), 320 bytes per
//! 20 ms in each direction, between `AT+CPCMREG=1` and `AT+CPCMREG=0` (the modem state
//! machine sends those per call, after `VOICE CALL: BEGIN` and after `VOICE CALL: END`).
//!
//! Design, mirroring [`super::alsa`]: one dedicated thread per port, blocking in
//! `poll(2)` on the tty, frames handed to and from the engine through bounded
//! crossbeam queues; the thread never waits on the engine and never allocates per
//! frame.
//!
//! - **Framing**: reads arrive in any size; [`Reassembler`] cuts them into 320-byte
//!   frames. A gap of [`STREAM_GAP`] without bytes ends a stream: the reassembler is
//!   reset, so the next call starts frame-aligned.
//! - **Clock**: the modem clocks the call. The thread writes exactly one uplink frame
//!   for every downlink frame it receives, so uplink pacing follows the modem's clock
//!   and nothing is written while the modem is not streaming (no call, or before
//!   `AT+CPCMREG=1`): a CDC tty nobody reads would only fill up. Frames the engine
//!   produces while the port is idle are discarded; a missing frame while streaming
//!   is sent as silence and counted ([`PcmStats::tx_underruns`]).
//! - **Jitter**: the engine's side ([`PcmPort`]) keeps a [`JitterBuffer`]: playout starts
//!   once [`JITTER_TARGET`] frames are buffered (40 ms), the oldest frame is dropped
//!   beyond [`JITTER_MAX`] (overrun: the modem's clock runs faster than the host's),
//!   and an empty buffer plays silence and buffers again (underrun). Both are counted.
//! - **Port loss**: hang-up, `EIO` or end of file (the modem re-enumerating after a
//!   reset) closes the tty; the path (a udev symlink that follows the modem) is opened
//!   again with back-off (1 s doubling to 30 s), every attempt logged.
//!
//! Not handled (see README): 16 kHz (`AT+CPCMFRM=1`, 640-byte frames) and the
//! firmware bugs of the SIM7600's serial audio (degradation after CPCMREG cycles that
//! only `AT+CRESET` cures, one-way audio on some firmware).

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;
use nix::sys::termios;

use crate::dsp::FRAME_SAMPLES;
use crate::hw::sim::memlink::MemLink;
use crate::media::{Frame, SILENCE};

/// Bytes of one 20 ms frame: 160 samples of 16-bit little-endian PCM.
pub const FRAME_BYTES: usize = FRAME_SAMPLES * 2;
/// Frames buffered before playout starts (and again after an underrun): 40 ms.
pub const JITTER_TARGET: usize = 2;
/// Frames the jitter buffer holds at most; beyond that the oldest is dropped: 80 ms.
pub const JITTER_MAX: usize = 4;
/// Frames queued per direction between the thread and the engine.
const QUEUE: usize = 5;
/// Uplink frames kept queued at most (older ones only add latency).
const TX_DEPTH: usize = 3;
/// No byte for this long: the modem stopped streaming (call over, CPCMREG=0).
pub const STREAM_GAP: Duration = Duration::from_millis(200);
/// How long the thread blocks in `poll` before looking at its stop flag.
const POLL_MS: u16 = 50;

/// Decodes one frame of S16LE bytes.
pub fn decode_frame(bytes: &[u8; FRAME_BYTES], out: &mut Frame) {
    for (s, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *s = i16::from_le_bytes([b[0], b[1]]);
    }
}

/// Encodes one frame as S16LE bytes.
pub fn encode_frame(frame: &Frame, out: &mut [u8; FRAME_BYTES]) {
    for (b, s) in out.chunks_exact_mut(2).zip(frame.iter()) {
        b.copy_from_slice(&s.to_le_bytes());
    }
}

/// Cuts a byte stream into frames, whatever sizes the reads come in.
#[derive(Debug, Clone)]
pub struct Reassembler {
    buf: [u8; FRAME_BYTES],
    len: usize,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new() -> Self {
        Self {
            buf: [0; FRAME_BYTES],
            len: 0,
        }
    }

    /// Bytes of an incomplete frame held.
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Forgets an incomplete frame (the stream ended; the next one starts aligned).
    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// Feeds bytes; calls `on_frame` for every frame completed, in order. Returns how
    /// many frames were completed.
    pub fn push(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(&Frame)) -> usize {
        let mut n = 0;
        let mut f: Frame = SILENCE;
        while !bytes.is_empty() {
            let take = (FRAME_BYTES - self.len).min(bytes.len());
            self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len == FRAME_BYTES {
                decode_frame(&self.buf, &mut f);
                on_frame(&f);
                self.len = 0;
                n += 1;
            }
        }
        n
    }
}

/// What [`JitterBuffer::pop`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pop {
    /// A received frame.
    Audio,
    /// Silence: still buffering up to the target (stream start, after an underrun).
    Buffering,
    /// Silence: the buffer ran dry while playing (counted).
    Underrun,
}

/// A small playout buffer between the modem's clock and the engine's.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    q: VecDeque<Frame>,
    target: usize,
    max: usize,
    playing: bool,
    /// Times the buffer ran dry while playing.
    pub underruns: u64,
    /// Frames dropped because the buffer was full.
    pub overruns: u64,
}

impl JitterBuffer {
    /// A buffer that starts playing at `target` frames and holds at most `max`
    /// (`1 <= target <= max`; out-of-range values are clamped).
    pub fn new(target: usize, max: usize) -> Self {
        let max = max.max(1);
        Self {
            q: VecDeque::with_capacity(max),
            target: target.clamp(1, max),
            max,
            playing: false,
            underruns: 0,
            overruns: 0,
        }
    }

    /// Frames buffered.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Whether playout is running (the target was reached and no underrun since).
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// Adds a received frame; a full buffer drops its oldest frame (counted).
    pub fn push(&mut self, f: &Frame) {
        if self.q.len() == self.max {
            self.q.pop_front();
            self.overruns += 1;
        }
        self.q.push_back(*f);
    }

    /// The frame to play now (silence while buffering or on an underrun).
    pub fn pop(&mut self, out: &mut Frame) -> Pop {
        if !self.playing {
            if self.q.len() < self.target {
                *out = SILENCE;
                return Pop::Buffering;
            }
            self.playing = true;
        }
        match self.q.pop_front() {
            Some(f) => {
                *out = f;
                Pop::Audio
            }
            None => {
                self.playing = false;
                self.underruns += 1;
                *out = SILENCE;
                Pop::Underrun
            }
        }
    }

    /// Empties the buffer and waits for the target again (the stream ended).
    pub fn reset(&mut self) {
        self.q.clear();
        self.playing = false;
    }
}

/// Counters of a serial PCM thread. Byte counters are updated after the bytes'
/// effects (frames queued, the answering uplink frame written), so a reader that
/// sees `rx_bytes` reach a value also sees everything those bytes caused.
#[derive(Debug, Default)]
pub struct PcmStats {
    /// Bytes read from the tty and fully processed.
    pub rx_bytes: AtomicU64,
    /// Bytes written to the tty.
    pub tx_bytes: AtomicU64,
    /// Frames received from the modem.
    pub frames_in: AtomicU64,
    /// Frames sent to the modem.
    pub frames_out: AtomicU64,
    /// Received frames dropped because the engine did not take them in time.
    pub rx_dropped: AtomicU64,
    /// Uplink frames sent as silence because the engine had none ready.
    pub tx_underruns: AtomicU64,
    /// Uplink frames discarded (queued while idle, or beyond the latency bound).
    pub tx_dropped: AtomicU64,
    /// Times the port was lost.
    pub lost: AtomicU64,
    /// Times the port was opened (the first open included).
    pub opens: AtomicU64,
    /// Streams started (bytes after an idle gap, a port loss or the start).
    pub streams: AtomicU64,
}

/// How the thread runs.
#[derive(Debug, Clone)]
pub struct PcmOptions {
    /// First delay before opening a lost (or missing) port again; doubles up to
    /// `reopen_max`.
    pub reopen_first: Duration,
    /// Longest delay between open attempts.
    pub reopen_max: Duration,
    /// Ask for `SCHED_FIFO` (real hardware; the simulation does not).
    pub realtime: bool,
    /// No byte for this long ends a stream ([`STREAM_GAP`]; the simulation, whose
    /// virtual time does not follow the wall clock, uses a long one).
    pub stream_gap: Duration,
}

impl Default for PcmOptions {
    fn default() -> Self {
        Self {
            reopen_first: Duration::from_secs(1),
            reopen_max: Duration::from_secs(30),
            realtime: true,
            stream_gap: STREAM_GAP,
        }
    }
}

/// The engine's end of a serial PCM port: what the board calls every 20 ms.
pub struct PcmPort {
    rx: Receiver<Frame>,
    tx: Sender<Frame>,
    /// Our own handle on the uplink queue, to discard what is queued.
    tx_own: Receiver<Frame>,
    jitter: JitterBuffer,
    streaming: Arc<AtomicBool>,
    stats: Arc<PcmStats>,
    /// The stream whose frames the jitter buffer holds (see [`PcmStats::streams`]).
    stream: u64,
}

impl PcmPort {
    /// The frame received from the modem for this tick (silence while idle, buffering
    /// or on an underrun).
    pub fn read_frame(&mut self, out: &mut Frame) {
        let stream = self.stats.streams.load(Ordering::Acquire);
        if stream != self.stream {
            // a new call: the tail of the previous one must not play first
            self.stream = stream;
            self.jitter.reset();
        }
        while let Ok(f) = self.rx.try_recv() {
            self.jitter.push(&f);
        }
        if self.jitter.is_empty() && !self.streaming.load(Ordering::Acquire) {
            // idle: no call audio; not an underrun
            self.jitter.reset();
            *out = SILENCE;
            return;
        }
        self.jitter.pop(out);
    }

    /// Queues the frame to send to the modem for this tick (dropped if the thread is
    /// behind; discarded by the thread while the modem is not streaming).
    pub fn write_frame(&mut self, frame: &Frame) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(*frame) {
            self.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Discards the uplink frames queued (the board knows the modem is not streaming).
    pub fn discard_uplink(&self) {
        while self.tx_own.try_recv().is_ok() {}
    }

    /// The jitter buffer (its counters).
    pub fn jitter(&self) -> &JitterBuffer {
        &self.jitter
    }

    /// The thread's counters.
    pub fn stats(&self) -> &PcmStats {
        &self.stats
    }

    /// Whether the modem is streaming call audio right now.
    pub fn streaming(&self) -> bool {
        self.streaming.load(Ordering::Acquire)
    }
}

/// A running serial PCM thread, or (virtual time) its loop driven by the caller.
pub struct SerialPcm {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// In-memory port: the thread's loop, run by [`SerialPcm::pump`] instead.
    inline: Option<Box<Thread>>,
    /// Counters (shared with [`PcmPort`]).
    pub stats: Arc<PcmStats>,
}

/// Opens a tty raw and non-blocking (USB CDC: the baud rate means nothing).
fn open_tty(path: &str) -> Result<OwnedFd> {
    let fd = open(
        path,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| {
        format!(
            "cannot open the modem's PCM port `{path}`: is the modem on USB (composition 9001) and the udev rule 60-switchboard-modem.rules installed? Check modem.pcm_serial in the board profile"
        )
    })?;
    let mut t =
        termios::tcgetattr(fd.as_fd()).with_context(|| format!("`{path}` is not a serial port"))?;
    termios::cfmakeraw(&mut t);
    termios::tcsetattr(fd.as_fd(), termios::SetArg::TCSANOW, &t)
        .with_context(|| format!("cannot set `{path}` to raw mode"))?;
    // Whatever the modem sent before we looked belongs to no call of ours.
    let _ = termios::tcflush(fd.as_fd(), termios::FlushArg::TCIOFLUSH);
    Ok(fd)
}

impl SerialPcm {
    /// Starts the thread for the PCM port at `path` (a missing port is not fatal: it is
    /// logged and opened again with back-off, as the AT port is). Returns the engine's
    /// end.
    pub fn spawn(path: &str, opts: PcmOptions) -> Result<(Self, PcmPort)> {
        let first = match open_tty(path) {
            Ok(fd) => Some(fd),
            Err(e) => {
                tracing::error!("modem PCM: {e:#}; trying again in the background");
                None
            }
        };
        let (mut t, port) = Self::parts(path, opts, first, None);
        let stats = t.stats.clone();
        let stop = t.stop.clone();
        if t.fd.is_some() {
            stats.opens.fetch_add(1, Ordering::Relaxed);
        } else {
            t.reopen_at = Some(Instant::now() + t.opts.reopen_first);
            t.reopen_delay = t.opts.reopen_first;
        }
        let thread = std::thread::Builder::new()
            .name("modem-pcm".into())
            .spawn(move || t.run())
            .context("cannot start the modem PCM thread")?;
        Ok((
            Self {
                stop,
                thread: Some(thread),
                inline: None,
                stats,
            },
            port,
        ))
    }

    /// The same port on the simulated modem's in-memory PCM line, for virtual time: no
    /// thread; [`SerialPcm::pump`] runs what the thread does for each read, when the
    /// caller says (the scenario runner, before the modem side acts). The framing,
    /// the one-uplink-frame-per-downlink-frame clock, the queues and the jitter buffer
    /// are the thread's own.
    pub fn in_memory(link: MemLink, opts: PcmOptions) -> (Self, PcmPort) {
        let (t, port) = Self::parts("(in-memory PCM line)", opts, None, Some(link));
        t.stats.opens.fetch_add(1, Ordering::Relaxed);
        (
            Self {
                stop: t.stop.clone(),
                thread: None,
                stats: t.stats.clone(),
                inline: Some(Box::new(t)),
            },
            port,
        )
    }

    /// In-memory port: takes in every byte the modem wrote and answers it, now. A
    /// no-op for the thread (it does so by itself).
    pub fn pump(&mut self) {
        if let Some(t) = self.inline.as_mut() {
            t.pump();
        }
    }

    fn parts(
        path: &str,
        opts: PcmOptions,
        fd: Option<OwnedFd>,
        mem: Option<MemLink>,
    ) -> (Thread, PcmPort) {
        let (cap_tx, cap_rx) = bounded::<Frame>(QUEUE);
        let (play_tx, play_rx) = bounded::<Frame>(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(PcmStats::default());
        let streaming = Arc::new(AtomicBool::new(false));
        let t = Thread {
            path: path.to_string(),
            opts,
            fd,
            cap_tx,
            cap_rx_own: cap_rx.clone(),
            play_rx: play_rx.clone(),
            stats: stats.clone(),
            streaming: streaming.clone(),
            stop: stop.clone(),
            reasm: Reassembler::new(),
            last_rx: None,
            reopen_at: None,
            reopen_delay: Duration::ZERO,
            mem,
        };
        let port = PcmPort {
            rx: cap_rx,
            tx: play_tx,
            tx_own: play_rx,
            jitter: JitterBuffer::new(JITTER_TARGET, JITTER_MAX),
            streaming,
            stats,
            stream: 0,
        };
        (t, port)
    }

    /// Stops the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SerialPcm {
    fn drop(&mut self) {
        self.halt();
    }
}

struct Thread {
    path: String,
    opts: PcmOptions,
    fd: Option<OwnedFd>,
    cap_tx: Sender<Frame>,
    /// The thread's own handle on the capture queue, to drop the oldest frame when
    /// the engine falls behind.
    cap_rx_own: Receiver<Frame>,
    play_rx: Receiver<Frame>,
    stats: Arc<PcmStats>,
    streaming: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    reasm: Reassembler,
    last_rx: Option<Instant>,
    reopen_at: Option<Instant>,
    reopen_delay: Duration,
    /// The simulated modem's in-memory PCM line instead of a tty (virtual time).
    mem: Option<MemLink>,
}

enum Io {
    Idle,
    Data(usize),
    Lost(String),
}

impl Thread {
    fn run(&mut self) {
        if self.opts.realtime {
            if super::alsa::ask_realtime(50) {
                tracing::info!(path = %self.path, "modem PCM thread runs with SCHED_FIFO priority 50");
            } else {
                tracing::warn!(
                    path = %self.path,
                    "modem PCM thread could not get SCHED_FIFO (needs LimitRTPRIO or CAP_SYS_NICE); running with normal priority"
                );
            }
        }
        let mut buf = [0u8; 4 * FRAME_BYTES];
        while !self.stop.load(Ordering::Relaxed) {
            if self.fd.is_none() {
                self.try_reopen();
                if self.fd.is_none() {
                    std::thread::sleep(Duration::from_millis(u64::from(POLL_MS)));
                    continue;
                }
            }
            match self.read_some(&mut buf) {
                Io::Data(n) => self.on_data(n, &buf),
                Io::Idle => self.idle(),
                Io::Lost(why) => self.lose(&why),
            }
        }
    }

    /// In-memory port: takes in every byte the modem has written so far and answers
    /// it, then returns (no waiting; the stream ends only when the port does).
    fn pump(&mut self) {
        let mut buf = [0u8; 4 * FRAME_BYTES];
        loop {
            match self.read_some(&mut buf) {
                Io::Data(n) => self.on_data(n, &buf),
                Io::Idle => break,
                Io::Lost(why) => {
                    self.lose(&why);
                    break;
                }
            }
        }
    }

    fn on_data(&mut self, n: usize, buf: &[u8]) {
        self.last_rx = Some(Instant::now());
        if !self.streaming.swap(true, Ordering::AcqRel) {
            self.stats.streams.fetch_add(1, Ordering::Release);
        }
        self.on_bytes(n, buf);
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Io {
        if let Some(link) = &self.mem {
            return match link.read(buf) {
                Ok(0) => Io::Idle,
                Ok(n) => Io::Data(n),
                Err(e) => Io::Lost(format!("{e:#}")),
            };
        }
        let Some(fd) = self.fd.as_ref() else {
            return Io::Idle;
        };
        let mut pfd = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, PollTimeout::from(POLL_MS)) {
            Ok(0) => return Io::Idle,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Io::Idle,
            Err(e) => return Io::Lost(format!("poll failed: {e}")),
        }
        let rev = pfd[0].revents().unwrap_or(PollFlags::empty());
        match nix::unistd::read(fd, buf) {
            Ok(0) => Io::Lost("end of file".into()),
            Ok(n) => Io::Data(n),
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {
                if rev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
                    Io::Lost("hang-up".into())
                } else {
                    Io::Idle
                }
            }
            Err(e) => Io::Lost(format!("read failed: {e}")),
        }
    }

    /// Queues the frames in `buf[..n]` and answers each with one uplink frame.
    fn on_bytes(&mut self, n: usize, buf: &[u8]) {
        let mut frames = 0usize;
        let cap_tx = &self.cap_tx;
        let own = &self.cap_rx_own;
        let stats = &self.stats;
        self.reasm.push(&buf[..n], |f| {
            frames += 1;
            stats.frames_in.fetch_add(1, Ordering::Relaxed);
            if let Err(TrySendError::Full(f)) = cap_tx.try_send(*f) {
                // the engine fell behind: drop the oldest, keep the newest
                let _ = own.try_recv();
                stats.rx_dropped.fetch_add(1, Ordering::Relaxed);
                let _ = cap_tx.try_send(f);
            }
        });
        let mut lost = None;
        for _ in 0..frames {
            while self.play_rx.len() > TX_DEPTH {
                let _ = self.play_rx.try_recv();
                self.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
            }
            let f = self.play_rx.try_recv().unwrap_or_else(|_| {
                self.stats.tx_underruns.fetch_add(1, Ordering::Relaxed);
                SILENCE
            });
            let mut bytes = [0u8; FRAME_BYTES];
            encode_frame(&f, &mut bytes);
            if let Err(why) = self.write_all(&bytes) {
                lost = Some(why);
                break;
            }
            self.stats.frames_out.fetch_add(1, Ordering::Relaxed);
        }
        self.stats.rx_bytes.fetch_add(n as u64, Ordering::Release);
        if let Some(why) = lost {
            self.lose(&why);
        }
    }

    fn write_all(&mut self, mut bytes: &[u8]) -> std::result::Result<(), String> {
        if let Some(link) = &self.mem {
            link.write(bytes).map_err(|e| format!("{e:#}"))?;
            self.stats
                .tx_bytes
                .fetch_add(bytes.len() as u64, Ordering::Release);
            return Ok(());
        }
        let Some(fd) = self.fd.as_ref() else {
            return Err("not open".into());
        };
        let mut stalls = 0;
        while !bytes.is_empty() {
            match nix::unistd::write(fd, bytes) {
                Ok(n) => {
                    self.stats.tx_bytes.fetch_add(n as u64, Ordering::Release);
                    bytes = &bytes[n..];
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {
                    stalls += 1;
                    if stalls > 5 {
                        // The modem does not take uplink audio (seen on some firmware);
                        // drop the rest of this frame rather than stall the downlink.
                        self.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    let mut pfd = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
                    let _ = poll(&mut pfd, PollTimeout::from(20u16));
                }
                Err(e) => return Err(format!("write failed: {e}")),
            }
        }
        Ok(())
    }

    fn idle(&mut self) {
        if self
            .last_rx
            .is_some_and(|t| t.elapsed() < self.opts.stream_gap)
        {
            return;
        }
        if self.streaming.swap(false, Ordering::AcqRel) {
            let st = &self.stats;
            let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
            tracing::info!(
                path = %self.path,
                frames_in = n(&st.frames_in),
                frames_out = n(&st.frames_out),
                uplink_underruns = n(&st.tx_underruns),
                downlink_dropped = n(&st.rx_dropped),
                "modem PCM: stream ended (counters since start)"
            );
        }
        self.reasm.reset();
        // frames the engine produced while the modem was not streaming go nowhere
        while self.play_rx.try_recv().is_ok() {
            self.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn lose(&mut self, why: &str) {
        tracing::error!(path = %self.path, "modem PCM port lost ({why}); opening it again");
        self.stats.lost.fetch_add(1, Ordering::Relaxed);
        self.fd = None;
        self.reasm.reset();
        self.streaming.store(false, Ordering::Release);
        self.reopen_delay = self.opts.reopen_first;
        self.reopen_at = Some(Instant::now() + self.reopen_delay);
    }

    fn try_reopen(&mut self) {
        let Some(at) = self.reopen_at else {
            return;
        };
        if Instant::now() < at {
            return;
        }
        match open_tty(&self.path) {
            Ok(fd) => {
                tracing::info!(path = %self.path, "modem PCM port open again");
                self.stats.opens.fetch_add(1, Ordering::Relaxed);
                self.fd = Some(fd);
                self.reopen_at = None;
            }
            Err(e) => {
                tracing::warn!(
                    "modem PCM: {e:#}; trying again in {} ms",
                    self.reopen_delay.as_millis()
                );
                self.reopen_at = Some(Instant::now() + self.reopen_delay);
                self.reopen_delay = (self.reopen_delay * 2).min(self.opts.reopen_max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: i16) -> Frame {
        let mut f = SILENCE;
        for (i, s) in f.iter_mut().enumerate() {
            *s = seq.wrapping_mul(1000).wrapping_add(i as i16 * 3 - 200);
        }
        f
    }

    fn bytes_of(f: &Frame) -> [u8; FRAME_BYTES] {
        let mut b = [0u8; FRAME_BYTES];
        encode_frame(f, &mut b);
        b
    }

    #[test]
    fn encode_decode_round_trip_is_little_endian() {
        let mut f = SILENCE;
        f[0] = 0x1234;
        f[159] = -2;
        let b = bytes_of(&f);
        assert_eq!(&b[..2], &[0x34, 0x12]);
        assert_eq!(&b[318..], &[0xfe, 0xff]);
        let mut back = SILENCE;
        decode_frame(&b, &mut back);
        assert_eq!(back, f);
    }

    #[test]
    fn reassembles_frames_across_reads_of_any_size() {
        let stream: Vec<u8> = (0..7).flat_map(|k| bytes_of(&frame(k))).collect();
        for chunk in [1usize, 3, 7, 100, 319, 320, 321, 641, 5000] {
            let mut r = Reassembler::new();
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                r.push(c, |f| got.push(*f));
            }
            assert_eq!(got.len(), 7, "chunk {chunk}");
            for (k, f) in got.iter().enumerate() {
                assert_eq!(*f, frame(k as i16), "chunk {chunk}, frame {k}");
            }
            assert_eq!(r.pending(), 0);
        }
        // a partial frame is held, and a reset drops it so the next stream is aligned
        let mut r = Reassembler::new();
        assert_eq!(r.push(&stream[..500], |_| {}), 1);
        assert_eq!(r.pending(), 180);
        r.reset();
        let mut got = Vec::new();
        r.push(&stream[320..640], |f| got.push(*f));
        assert_eq!(got, vec![frame(1)]);
    }

    #[test]
    fn jitter_buffer_prebuffers_then_plays_in_order() {
        let mut jb = JitterBuffer::new(2, 4);
        let mut out = SILENCE;
        assert_eq!(jb.pop(&mut out), Pop::Buffering);
        jb.push(&frame(1));
        assert_eq!(jb.pop(&mut out), Pop::Buffering);
        assert_eq!(out, SILENCE);
        jb.push(&frame(2));
        assert_eq!(jb.pop(&mut out), Pop::Audio);
        assert_eq!(out, frame(1));
        // steady state: one in, one out, depth stays at 1 in between
        for k in 3..10 {
            jb.push(&frame(k));
            assert_eq!(jb.pop(&mut out), Pop::Audio);
            assert_eq!(out, frame(k - 1));
        }
        assert_eq!((jb.underruns, jb.overruns), (0, 0));
    }

    #[test]
    fn jitter_buffer_counts_underruns_and_rebuffers() {
        let mut jb = JitterBuffer::new(2, 4);
        let mut out = SILENCE;
        jb.push(&frame(1));
        jb.push(&frame(2));
        assert_eq!(jb.pop(&mut out), Pop::Audio);
        assert_eq!(jb.pop(&mut out), Pop::Audio);
        assert_eq!(jb.pop(&mut out), Pop::Underrun);
        assert_eq!(out, SILENCE);
        assert_eq!(jb.underruns, 1);
        assert!(!jb.playing());
        // one frame arrives late: still buffering (no second underrun counted)
        jb.push(&frame(3));
        assert_eq!(jb.pop(&mut out), Pop::Buffering);
        jb.push(&frame(4));
        assert_eq!(jb.pop(&mut out), Pop::Audio);
        assert_eq!(out, frame(3));
        assert_eq!(jb.underruns, 1);
    }

    #[test]
    fn jitter_buffer_drops_the_oldest_on_overrun() {
        let mut jb = JitterBuffer::new(2, 3);
        let mut out = SILENCE;
        for k in 1..=5 {
            jb.push(&frame(k));
        }
        assert_eq!(jb.overruns, 2);
        assert_eq!(jb.len(), 3);
        assert_eq!(jb.pop(&mut out), Pop::Audio);
        assert_eq!(out, frame(3), "the two oldest were dropped");
        jb.reset();
        assert!(jb.is_empty() && !jb.playing());
        // clamped parameters never panic
        let mut odd = JitterBuffer::new(9, 0);
        odd.push(&frame(1));
        assert_eq!(odd.pop(&mut out), Pop::Audio);
    }

    #[test]
    fn in_memory_port_frames_and_answers_what_is_pumped_without_a_thread() {
        let link = MemLink::new();
        let (mut pcm, mut port) = SerialPcm::in_memory(link.clone(), PcmOptions::default());
        assert!(pcm.thread.is_none());
        // nothing written yet: pumping is a no-op, the port is idle
        pcm.pump();
        assert!(!port.streaming());
        // two and a half frames in one write, the rest later
        let stream: Vec<u8> = (1..=3).flat_map(|k| bytes_of(&frame(k))).collect();
        link.modem_write(&stream[..FRAME_BYTES * 5 / 2]);
        port.write_frame(&frame(7));
        pcm.pump();
        assert!(port.streaming());
        assert_eq!(pcm.stats.frames_in.load(Ordering::Relaxed), 2);
        // one uplink frame answers each downlink frame: ours, then silence (counted)
        let mut up = Vec::new();
        link.modem_read(&mut up);
        assert_eq!(up.len(), 2 * FRAME_BYTES);
        assert_eq!(up[..FRAME_BYTES], bytes_of(&frame(7)));
        assert_eq!(pcm.stats.tx_underruns.load(Ordering::Relaxed), 1);
        link.modem_write(&stream[FRAME_BYTES * 5 / 2..]);
        pcm.pump();
        assert_eq!(pcm.stats.frames_in.load(Ordering::Relaxed), 3);
        assert_eq!(
            pcm.stats.rx_bytes.load(Ordering::Relaxed),
            3 * FRAME_BYTES as u64
        );
        // the engine plays them out through the jitter buffer, in order
        let mut out = SILENCE;
        for k in 1..=3 {
            port.read_frame(&mut out);
            assert_eq!(out, frame(k));
        }
    }
}
