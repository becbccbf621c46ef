//! The hardware board: GPIO line interfaces, ALSA audio and the modem's serial port, as
//! a board profile describes them (`board/*.toml`).
//!
//! - FXO through a CPC5622-class DAA: the RING output (low while ringing voltage is
//!   present, pulsing at twice the ring frequency) becomes ring start/stop signals, with
//!   a hold time so the pulses of one burst count once; OH puts the line off-hook.
//! - FXS through an Ag1171: the ringer thread (see [`super::slic`]) and the SHK input.
//!   (Intake on FXS ports is not in the call flow yet; the board already drives them.)
//! - Audio: one thread per ALSA device ([`super::alsa`]), frames through bounded queues.
//!   A SIMCom modem's call audio (`pcm_serial`) runs on its own thread over the serial
//!   PCM port ([`super::serial_pcm`]), with a jitter buffer on the engine's side.
//! - Modem power: the profile's `reset` line (preferred) or `power_key` line, pulsed by
//!   [`ModemPower`] on its own thread when the recovery ladder asks for a power cycle.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Board;
use super::alsa::{AudioDevice, PortAudio};
use super::gpio::{CdevLine, Line};
use super::serial_pcm::{PcmOptions, PcmPort, SerialPcm};
use super::slic::{RingCadence, Ringer};
use crate::config::{BoardProfile, PortKind};
use crate::exchange::PortIdx;
use crate::line::{LineCommand, LineSignal};
use crate::media::{Frame, SILENCE};

/// A ring burst is over when RING has not been seen low for this long.
const RING_HOLD: Duration = Duration::from_millis(200);
/// An FXS switch-hook change counts once it has held this long.
const HOOK_DEBOUNCE: Duration = Duration::from_millis(100);

/// What one port is wired to.
pub enum PortIo {
    /// FXO DAA: RING input (active low), OH output.
    Fxo {
        /// RING.
        ring: Arc<dyn Line>,
        /// OH.
        oh: Arc<dyn Line>,
    },
    /// FXS SLIC: its ringer thread and SHK input.
    Fxs {
        /// The ring generator.
        ringer: Ringer,
        /// SHK (high = off-hook).
        shk: Arc<dyn Line>,
    },
    /// No line control (the modem's voice port).
    None,
}

/// One port of the hardware board.
pub struct HwPort {
    /// Line control.
    pub io: PortIo,
    /// Audio queues (None: the port has no audio yet).
    pub audio: Option<PortAudio>,
    /// Serial PCM audio (a SIMCom modem's voice port); takes precedence over `audio`.
    pub pcm: Option<PcmPort>,
    ringing_until: Option<Instant>,
    /// FXS: the debounced hook state, and since when SHK has said otherwise.
    off_hook: bool,
    hook_change_since: Option<Instant>,
}

impl HwPort {
    /// A port from its parts.
    pub fn new(io: PortIo, audio: Option<PortAudio>) -> Self {
        Self {
            io,
            audio,
            pcm: None,
            ringing_until: None,
            off_hook: false,
            hook_change_since: None,
        }
    }
}

/// How a modem is power-cycled: the GPIO line and the pulse sequence. The line is
/// driven high to press (through the carrier board's transistor, as on the Waveshare
/// SIM7600 HAT; verify the polarity on your board).
pub struct ModemPower {
    line: Arc<dyn Line>,
    /// (pressed, released) durations, in order.
    pulses: Vec<(Duration, Duration)>,
    busy: Arc<AtomicBool>,
}

impl ModemPower {
    /// A `RESET` input: one 300 ms pulse (EC25 RESET_N: 150–460 ms; SIM7600 RESET:
    /// ≥ 100 ms).
    pub fn reset_line(line: Arc<dyn Line>) -> Self {
        Self::with_pulses(line, vec![(Duration::from_millis(300), Duration::ZERO)])
    }

    /// A `PWRKEY`: a 3 s press switches the module off (SIM7600 ≥ 2.5 s, EC25 ≥ 650 ms),
    /// then after 5 s a 550 ms press switches it on (≥ 500 ms for both, and shorter
    /// than the EC25's 650 ms power-off press, so it cannot switch it off again).
    pub fn power_key(line: Arc<dyn Line>) -> Self {
        Self::with_pulses(
            line,
            vec![
                (Duration::from_secs(3), Duration::from_secs(5)),
                (Duration::from_millis(550), Duration::ZERO),
            ],
        )
    }

    /// A custom pulse sequence (tests).
    pub fn with_pulses(line: Arc<dyn Line>, pulses: Vec<(Duration, Duration)>) -> Self {
        Self {
            line,
            pulses,
            busy: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Runs the pulse sequence on its own thread (the engine must not stall for
    /// seconds). A request while a sequence runs is ignored.
    pub fn pulse(&self) -> Result<()> {
        if self.busy.swap(true, Ordering::SeqCst) {
            tracing::warn!("modem power cycle already in progress");
            return Ok(());
        }
        let line = self.line.clone();
        let pulses = self.pulses.clone();
        let busy = self.busy.clone();
        std::thread::Builder::new()
            .name("modem-power".into())
            .spawn(move || {
                for (press, release) in pulses {
                    let r = line
                        .set(true)
                        .and_then(|_| {
                            std::thread::sleep(press);
                            line.set(false)
                        })
                        .map(|_| std::thread::sleep(release));
                    if let Err(e) = r {
                        tracing::error!("modem power key: {e:#}");
                        let _ = line.set(false);
                        break;
                    }
                }
                busy.store(false, Ordering::SeqCst);
            })
            .context("cannot start the modem power-key thread")?;
        Ok(())
    }

    /// Whether a pulse sequence is running.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }
}

/// The hardware board.
pub struct HwBoard {
    ports: Vec<HwPort>,
    modem_serial: Option<(String, u32)>,
    modem_power: Option<ModemPower>,
    signals: VecDeque<(PortIdx, LineSignal)>,
    _devices: Vec<AudioDevice>,
    _pcm: Option<SerialPcm>,
}

impl HwBoard {
    /// Builds a board from its parts (tests use in-memory lines and plain queues).
    pub fn from_parts(ports: Vec<HwPort>, modem_serial: Option<(String, u32)>) -> Self {
        Self {
            ports,
            modem_serial,
            modem_power: None,
            signals: VecDeque::new(),
            _devices: Vec::new(),
            _pcm: None,
        }
    }

    /// Opens the GPIO lines and ALSA devices of a board profile.
    pub fn open(profile: &BoardProfile) -> Result<Self> {
        // Group ports by ALSA device: one thread per device.
        struct Device {
            name: String,
            channels: u8,
            users: Vec<(usize, u8)>,
        }
        let mut devices: Vec<Device> = Vec::new();
        let mut audio_of = |idx: usize, a: &crate::config::board::AudioProfile| match devices
            .iter_mut()
            .find(|d| d.name == a.device)
        {
            Some(d) => d.users.push((idx, a.channel)),
            None => devices.push(Device {
                name: a.device.clone(),
                channels: a.channels,
                users: vec![(idx, a.channel)],
            }),
        };
        let (on, off) = crate::country::ring_cadence(&profile.country);
        let cadence = RingCadence {
            hz: profile.ring_frequency(),
            on,
            off,
        };
        let mut ports = Vec::new();
        for (i, p) in profile.ports.iter().enumerate() {
            let line = |role: &str, output: bool| -> Result<Arc<dyn Line>> {
                let spec = p.gpio.get(role).with_context(|| {
                    format!(
                        "port {}: no `{role}` line in the board profile",
                        p.id.get_ref()
                    )
                })?;
                let consumer = format!("switchboard-{}-{role}", p.id.get_ref());
                Ok(Arc::new(CdevLine::open(spec.get_ref(), output, &consumer)?))
            };
            let io = match (p.chip.get_ref().as_str(), *p.kind.get_ref()) {
                ("cpc5622", PortKind::Fxo) => PortIo::Fxo {
                    ring: line("ring", false)?,
                    oh: line("oh", true)?,
                },
                ("ag1171", PortKind::Fxs) => PortIo::Fxs {
                    ringer: Ringer::spawn(line("rm", true)?, line("fr", true)?, cadence)?,
                    shk: line("shk", false)?,
                },
                (chip, _) => bail!(
                    "port {}: chip `{chip}` cannot run on hardware",
                    p.id.get_ref()
                ),
            };
            if let Some(a) = &p.audio {
                audio_of(i, a);
            }
            ports.push(HwPort::new(io, None));
        }
        let mut modem_serial = None;
        let mut modem_power = None;
        let mut pcm_dev = None;
        if let Some(m) = &profile.modem {
            let idx = ports.len();
            if let Some(a) = &m.audio {
                audio_of(idx, a);
            }
            let mut port = HwPort::new(PortIo::None, None);
            if let Some(path) = &m.pcm_serial {
                // A missing port is not fatal (the modem may still be booting): the
                // thread logs it and keeps trying, as the engine does for the AT port.
                let (dev, pcm) = SerialPcm::spawn(path, PcmOptions::default())
                    .with_context(|| format!("modem `{}`: serial PCM port", m.id))?;
                port.pcm = Some(pcm);
                pcm_dev = Some(dev);
            }
            ports.push(port);
            modem_serial = Some((m.serial.clone(), m.baud));
            let open = |l: &str, role: &str| -> Result<Arc<dyn Line>> {
                Ok(Arc::new(CdevLine::open(
                    l,
                    true,
                    &format!("switchboard-modem-{role}"),
                )?))
            };
            modem_power = match (&m.reset, &m.power_key) {
                (Some(r), _) => Some(ModemPower::reset_line(open(r.get_ref(), "reset")?)),
                (None, Some(k)) => Some(ModemPower::power_key(open(k.get_ref(), "pwrkey")?)),
                (None, None) => None,
            };
        }
        let mut opened = Vec::new();
        for d in devices {
            let chans: Vec<u8> = d.users.iter().map(|u| u.1).collect();
            let (dev, queues) = AudioDevice::spawn(&d.name, d.channels, &chans)?;
            for ((idx, _), q) in d.users.into_iter().zip(queues) {
                ports[idx].audio = Some(q);
            }
            opened.push(dev);
        }
        let mut b = Self::from_parts(ports, modem_serial);
        b._devices = opened;
        b._pcm = pcm_dev;
        b.modem_power = modem_power;
        Ok(b)
    }
}

impl Board for HwBoard {
    fn poll_line_signal(&mut self) -> Option<(PortIdx, LineSignal)> {
        self.signals.pop_front()
    }

    fn line_command(&mut self, _now: Instant, port: PortIdx, cmd: LineCommand) {
        match (self.ports.get(port).map(|p| &p.io), cmd) {
            (Some(PortIo::Fxo { oh, .. }), LineCommand::OffHook | LineCommand::OnHook) => {
                if let Err(e) = oh.set(cmd == LineCommand::OffHook) {
                    tracing::error!(port, "cannot set the hook relay: {e:#}");
                }
            }
            (Some(PortIo::Fxs { .. }), LineCommand::RingStart | LineCommand::RingStop) => {
                self.ring(port, cmd == LineCommand::RingStart);
            }
            _ => {}
        }
    }

    fn read_frame(&mut self, _now: Instant, port: PortIdx, out: &mut Frame) {
        *out = SILENCE;
        if let Some(pcm) = self.ports.get_mut(port).and_then(|p| p.pcm.as_mut()) {
            // One frame per tick through the jitter buffer: the modem clocks this audio.
            pcm.read_frame(out);
            return;
        }
        if let Some(a) = self.ports.get(port).and_then(|p| p.audio.as_ref()) {
            // Take the newest frame; older ones would only add latency.
            while let Ok(f) = a.rx.try_recv() {
                *out = f;
                if a.rx.is_empty() {
                    break;
                }
            }
        }
    }

    fn write_frame(&mut self, _now: Instant, port: PortIdx, frame: &Frame) {
        if let Some(pcm) = self.ports.get_mut(port).and_then(|p| p.pcm.as_mut()) {
            pcm.write_frame(frame);
            return;
        }
        if let Some(a) = self.ports.get(port).and_then(|p| p.audio.as_ref()) {
            let _ = a.tx.try_send(*frame);
        }
    }

    fn step(&mut self, now: Instant) {
        for (i, p) in self.ports.iter_mut().enumerate() {
            if let PortIo::Fxo { ring, .. } = &p.io {
                match ring.get() {
                    Ok(false) => {
                        // RING is active low.
                        if p.ringing_until.is_none() {
                            self.signals.push_back((i, LineSignal::RingStart));
                        }
                        p.ringing_until = Some(now + RING_HOLD);
                    }
                    Ok(true) => {
                        if p.ringing_until.is_some_and(|t| now >= t) {
                            p.ringing_until = None;
                            self.signals.push_back((i, LineSignal::RingStop));
                        }
                    }
                    Err(e) => tracing::error!(port = i, "cannot read RING: {e:#}"),
                }
            }
            if let PortIo::Fxs { shk, .. } = &p.io {
                // SHK high = off-hook; a change must hold for HOOK_DEBOUNCE (switch bounce,
                // and a flash shorter than that is not a hang-up).
                match shk.get() {
                    Ok(off) if off != p.off_hook => match p.hook_change_since {
                        Some(t) if now.saturating_duration_since(t) >= HOOK_DEBOUNCE => {
                            p.off_hook = off;
                            p.hook_change_since = None;
                            let sig = if off {
                                LineSignal::HandsetLifted
                            } else {
                                LineSignal::HandsetDown
                            };
                            self.signals.push_back((i, sig));
                        }
                        Some(_) => {}
                        None => p.hook_change_since = Some(now),
                    },
                    Ok(_) => p.hook_change_since = None,
                    Err(e) => tracing::error!(port = i, "cannot read SHK: {e:#}"),
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None // polled every audio tick
    }

    fn modem_serial(&self) -> Option<(String, u32)> {
        self.modem_serial.clone()
    }

    fn modem_power_cycle(&mut self, _now: Instant) -> Result<bool> {
        match &self.modem_power {
            Some(p) => p.pulse().map(|_| true),
            None => Ok(false),
        }
    }
}

impl HwBoard {
    /// Sets how the modem is power-cycled (tests; `open` takes it from the profile).
    pub fn set_modem_power(&mut self, p: ModemPower) {
        self.modem_power = Some(p);
    }

    /// Starts or stops ringing an FXS port.
    pub fn ring(&self, port: PortIdx, on: bool) {
        if let Some(HwPort {
            io: PortIo::Fxs { ringer, .. },
            ..
        }) = self.ports.get(port)
        {
            if on { ringer.start() } else { ringer.stop() }
        }
    }

    /// Whether the phone on an FXS port is off-hook.
    pub fn fxs_off_hook(&self, port: PortIdx) -> Option<bool> {
        match self.ports.get(port) {
            Some(HwPort {
                io: PortIo::Fxs { shk, .. },
                ..
            }) => shk.get().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::gpio::MemLine;

    #[test]
    fn ring_pulses_become_one_burst_and_hook_drives_oh() {
        let ring = MemLine::new();
        ring.set(true).unwrap(); // idle: high
        let oh = MemLine::new();
        let (cap_tx, cap_rx) = crossbeam_channel::bounded(5);
        let (play_tx, play_rx) = crossbeam_channel::bounded(5);
        let port = HwPort::new(
            PortIo::Fxo {
                ring: Arc::new(ring.clone()),
                oh: Arc::new(oh.clone()),
            },
            Some(PortAudio {
                rx: cap_rx,
                tx: play_tx,
            }),
        );
        let mut b = HwBoard::from_parts(vec![port], None);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // a 2 s burst of 20 Hz ring pulses, sampled every 20 ms
        for k in 0..100u64 {
            ring.set(k % 2 == 1).unwrap();
            b.step(t0 + ms(20 * k));
        }
        ring.set(true).unwrap();
        for k in 100..130u64 {
            b.step(t0 + ms(20 * k));
        }
        let sigs: Vec<_> = std::iter::from_fn(|| b.poll_line_signal()).collect();
        assert_eq!(
            sigs,
            vec![(0, LineSignal::RingStart), (0, LineSignal::RingStop)]
        );

        b.line_command(t0, 0, LineCommand::OffHook);
        assert!(oh.get().unwrap());
        b.line_command(t0, 0, LineCommand::OnHook);
        assert!(!oh.get().unwrap());

        // audio: newest captured frame wins, played frames are queued
        cap_tx.send([1; 160]).unwrap();
        cap_tx.send([2; 160]).unwrap();
        let mut f = SILENCE;
        b.read_frame(t0, 0, &mut f);
        assert_eq!(f[0], 2);
        b.write_frame(t0, 0, &[7; 160]);
        assert_eq!(play_rx.try_recv().unwrap()[0], 7);
    }

    #[test]
    fn modem_port_with_serial_pcm_goes_through_the_pcm_thread() {
        use crate::hw::serial_pcm::{FRAME_BYTES, encode_frame};
        use std::os::fd::AsFd;
        use std::sync::atomic::Ordering;
        let pty = nix::pty::openpty(None, None).unwrap();
        let path = nix::unistd::ttyname(pty.slave.as_fd()).unwrap();
        let opts = PcmOptions {
            realtime: false,
            // a slow machine must not end the stream between two frames
            stream_gap: Duration::from_secs(3600),
            ..PcmOptions::default()
        };
        let (dev, pcm) = SerialPcm::spawn(path.to_str().unwrap(), opts).unwrap();
        let mut port = HwPort::new(PortIo::None, None);
        port.pcm = Some(pcm);
        let mut b = HwBoard::from_parts(vec![port], None);
        let t0 = Instant::now();
        let wait = |n: u64| {
            let start = Instant::now();
            while dev.stats.rx_bytes.load(Ordering::Acquire) < n {
                assert!(start.elapsed() < Duration::from_secs(30), "frame not read");
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let mut got = Vec::new();
        for k in 0..4i16 {
            let mut bytes = [0u8; FRAME_BYTES];
            encode_frame(&[k + 1; 160], &mut bytes);
            nix::unistd::write(&pty.master, &bytes).unwrap();
            wait((k as u64 + 1) * FRAME_BYTES as u64);
            let mut f = SILENCE;
            b.read_frame(t0, 0, &mut f);
            got.push(f[0]);
            b.write_frame(t0, 0, &[100 + k; 160]);
        }
        // one frame per tick, after 2 frames of jitter buffer
        assert_eq!(got, vec![0, 1, 2, 3]);
        // the uplink answers each modem frame: silence first, then the board's frames
        let mut up = vec![0u8; 4 * FRAME_BYTES];
        let mut n = 0;
        while n < up.len() {
            n += nix::unistd::read(&pty.master, &mut up[n..]).unwrap();
        }
        let firsts: Vec<i16> = up
            .chunks_exact(FRAME_BYTES)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(firsts, vec![0, 100, 101, 102]);
        drop(b);
        dev.stop();
    }

    #[test]
    fn power_cycle_pulses_the_line_off_then_on_without_blocking() {
        let key = MemLine::new();
        let mut b = HwBoard::from_parts(Vec::new(), None);
        let t0 = Instant::now();
        assert!(!b.modem_power_cycle(t0).unwrap(), "no line: no power cycle");
        let ms = Duration::from_millis;
        b.set_modem_power(ModemPower::with_pulses(
            Arc::new(key.clone()),
            vec![(ms(30), ms(20)), (ms(10), ms(0))],
        ));
        assert!(b.modem_power_cycle(t0).unwrap());
        // a second request while the first runs is ignored
        assert!(b.modem_power_cycle(t0).unwrap());
        let start = Instant::now();
        while b.modem_power.as_ref().unwrap().busy() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "pulse thread stuck"
            );
            std::thread::sleep(ms(5));
        }
        let levels: Vec<bool> = key.changes().iter().map(|c| c.1).collect();
        assert_eq!(levels, vec![true, false, true, false]);
    }
}
