//! ALSA audio: one dedicated thread per sound device, blocking I/O in 20 ms periods at
//! 8 kHz, frames handed to and from the engine through bounded lock-free channels.
//!
//! A device may carry several ports (a stereo codec: the FXS SLIC on the left channel,
//! the FXO DAA on the right). The thread asks for `SCHED_FIFO` and says in the log
//! whether it got it. It never allocates per period and never waits on the engine: a
//! missing frame to play becomes silence, a captured frame nobody took is dropped.
//!
//! Tested without hardware through alsa-lib's `file` and `null` plugins: `tests/alsa.rs`
//! writes an asound.conf whose device captures from a file and plays into another.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Direction, ValueOr};
use anyhow::{Context, Result, bail};
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::dsp::{FRAME_SAMPLES, SAMPLE_RATE};
use crate::media::{Frame, SILENCE};

/// Frames queued per direction: 5 periods = 100 ms of slack between the audio thread
/// and the engine.
const QUEUE: usize = 5;

/// The engine's end of one port's audio.
pub struct PortAudio {
    /// Frames captured from the line.
    pub rx: Receiver<Frame>,
    /// Frames to play to the line.
    pub tx: Sender<Frame>,
}

/// Counters of an audio thread.
#[derive(Debug, Default)]
pub struct AudioStats {
    /// Periods captured and played.
    pub periods: AtomicU64,
    /// Periods played as silence because the engine had no frame ready.
    pub underruns: AtomicU64,
    /// Captured frames dropped because the engine did not take them in time.
    pub dropped: AtomicU64,
    /// ALSA errors recovered from (xruns).
    pub xruns: AtomicU64,
}

/// A running audio thread for one ALSA device.
pub struct AudioDevice {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Counters.
    pub stats: Arc<AudioStats>,
}

fn open(device: &str, dir: Direction, channels: u32) -> Result<PCM> {
    let pcm = PCM::new(device, dir, false).with_context(|| {
        format!("cannot open ALSA device `{device}` ({dir:?}): `aplay -L` lists the devices; check the board profile")
    })?;
    {
        let hwp = HwParams::any(&pcm)?;
        hwp.set_access(Access::RWInterleaved)?;
        hwp.set_format(Format::s16())?;
        hwp.set_channels(channels)
            .with_context(|| format!("`{device}` does not do {channels} channel(s)"))?;
        hwp.set_rate(SAMPLE_RATE, ValueOr::Nearest)?;
        let rate = hwp.get_rate()?;
        if rate != SAMPLE_RATE {
            bail!(
                "`{device}` cannot run at 8000 Hz (got {rate}); use a `plughw:` device to resample"
            );
        }
        hwp.set_period_size_near(FRAME_SAMPLES as alsa::pcm::Frames, ValueOr::Nearest)?;
        hwp.set_buffer_size_near(4 * FRAME_SAMPLES as alsa::pcm::Frames)?;
        pcm.hw_params(&hwp)
            .with_context(|| format!("`{device}` refused the 8 kHz / 20 ms setup"))?;
    }
    Ok(pcm)
}

/// Asks for real-time scheduling for the calling thread; returns whether it was granted.
pub(crate) fn ask_realtime(priority: i32) -> bool {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: plain syscall on the current thread with a valid parameter block.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
}

impl AudioDevice {
    /// Opens `device` with `channels` channels and starts its thread. Returns one
    /// [`PortAudio`] per entry of `ports` (the channel each port uses).
    pub fn spawn(device: &str, channels: u8, ports: &[u8]) -> Result<(Self, Vec<PortAudio>)> {
        let ch = u32::from(channels.max(1));
        if let Some(bad) = ports.iter().find(|&&c| u32::from(c) >= ch) {
            bail!("`{device}`: channel {bad} does not exist on a {ch}-channel device");
        }
        let play = open(device, Direction::Playback, ch)?;
        let cap = open(device, Direction::Capture, ch)?;
        let mut engine_side = Vec::new();
        let mut thread_side = Vec::new();
        for &c in ports {
            let (cap_tx, cap_rx) = bounded::<Frame>(QUEUE);
            let (play_tx, play_rx) = bounded::<Frame>(QUEUE);
            engine_side.push(PortAudio {
                rx: cap_rx,
                tx: play_tx,
            });
            thread_side.push((usize::from(c), cap_tx, play_rx));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(AudioStats::default());
        let (st, stt) = (stop.clone(), stats.clone());
        let name = device.to_string();
        let thread = std::thread::Builder::new().name(format!("audio {device}")).spawn(move || {
            if ask_realtime(50) {
                tracing::info!(device = %name, "audio thread runs with SCHED_FIFO priority 50");
            } else {
                tracing::warn!(
                    device = %name,
                    "audio thread could not get SCHED_FIFO (needs LimitRTPRIO or CAP_SYS_NICE); running with normal priority"
                );
            }
            run(&name, play, cap, ch as usize, thread_side, &st, &stt);
        })?;
        Ok((
            Self {
                stop,
                thread: Some(thread),
                stats,
            },
            engine_side,
        ))
    }
}

fn run(
    name: &str,
    play: PCM,
    cap: PCM,
    ch: usize,
    ports: Vec<(usize, Sender<Frame>, Receiver<Frame>)>,
    stop: &AtomicBool,
    stats: &AudioStats,
) {
    let (Ok(pio), Ok(cio)) = (play.io_i16(), cap.io_i16()) else {
        tracing::error!(device = %name, "ALSA device has no 16-bit I/O");
        return;
    };
    // Interleaved buffers for the device, allocated once.
    let mut inbuf = vec![0i16; FRAME_SAMPLES * ch];
    let mut outbuf = vec![0i16; FRAME_SAMPLES * ch];
    let _ = cap.start();
    while !stop.load(Ordering::Relaxed) {
        match cio.readi(&mut inbuf) {
            Ok(n) if n == FRAME_SAMPLES => {}
            Ok(_) => continue, // short read: try again (non-blocking plugins)
            Err(e) => {
                stats.xruns.fetch_add(1, Ordering::Relaxed);
                if cap.try_recover(e, true).is_err() {
                    tracing::error!(device = %name, "capture failed and could not recover: {e}");
                    return;
                }
                continue;
            }
        }
        for (c, cap_tx, play_rx) in &ports {
            let mut f: Frame = SILENCE;
            for (i, s) in f.iter_mut().enumerate() {
                *s = inbuf[i * ch + c];
            }
            if let Err(TrySendError::Full(_)) = cap_tx.try_send(f) {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            let out = play_rx.try_recv().unwrap_or_else(|_| {
                stats.underruns.fetch_add(1, Ordering::Relaxed);
                SILENCE
            });
            for (i, s) in out.iter().enumerate() {
                outbuf[i * ch + c] = *s;
            }
        }
        if let Err(e) = pio.writei(&outbuf) {
            stats.xruns.fetch_add(1, Ordering::Relaxed);
            if play.try_recover(e, true).is_err() {
                tracing::error!(device = %name, "playback failed and could not recover: {e}");
                return;
            }
        }
        stats.periods.fetch_add(1, Ordering::Relaxed);
    }
    let _ = play.drain();
}

impl AudioDevice {
    /// Stops the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AudioDevice {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
