//! The simulated GSM/LTE modem: speaks AT on the master side of a real
//! pseudo-terminal, so the service's real serial code runs against it.
//!
//! It models a 3GPP 27.007 modem in one of three dialects ([`SimModemConfig::dialect`]):
//! a generic one, a Quectel EC25 and a SIMCom SIM7600, each answering `AT+CGMI`,
//! `AT+CGMM`, `AT+CGMR` and `ATI` like the real one, accepting its vendor commands
//! (`AT+QINDCFG`, `AT+QTONEDET`, `AT+QPCMV` / `AT+DDET`, `AT+CPCMREG`; `ERROR` in the
//! other dialects) and emitting its URCs once enabled (`+QIND: "ccinfo",…`,
//! `+QTONEDET: <ascii>` / `VOICE CALL: BEGIN`, `VOICE CALL: END: <duration>`,
//! `+RXDTMF: <d>`, `MISSED_CALL:`).
//!
//! Generic behaviour: echo on after power-up, `ATE0`, `+CMEE`, registration (`+CREG`,
//! `+CEREG`, answers and `n=2` URCs), operator and signal queries, `ATD…;` with call
//! progress visible in `AT+CLCC`, `BUSY` / `NO ANSWER` / `NO CARRIER`, `AT+CHUP`,
//! incoming calls (`RING` or `+CRING: VOICE` every 2 s, `+CLIP`), `ATA`, call waiting
//! (`+CCWA` with `AT+CCWA=1`, CLCC stat 5; a waiting call left alone when the other
//! call ends rings as a normal incoming call), `AT+CHLD=0|1|1x|2|2x`, `AT+VTS`, call forwarding state (`AT+CCFC`
//! query/register/erase per reason), the SIM (`AT+CPIN?`, PIN entry with three attempts,
//! then PUK), and `ERROR` for anything it does not know.
//!
//! Quirks of simpler modems ([`Quirks`]): no echo at all, `+CRING: VOICE` instead of
//! `RING`, plain `ERROR` for every failure, `ERROR` for `+CEREG`. Slow answers:
//! [`SimModemConfig::slow`] delays every command's answer.
//!
//! The network side is driven by the simulated world through [`Network`] (who answers,
//! who is busy) and by the control methods ([`SimModem::incoming_call`],
//! [`SimModem::set_registered`], [`SimModem::far_end_dtmf`], [`SimModem::deliver_sms`],
//! [`SimModem::far_end_hangup`]).
//!
//! SIMCom serial PCM ([`SimModem::with_pcm`]): a second pseudo-terminal, the PCM
//! port, streams a 320-byte S16LE frame every 20 ms each way while `AT+CPCMREG=1` holds
//! for the connected call; the call's end switches it off (the driver must send
//! `AT+CPCMREG=1` again for the next call, as on the real module).
//!
//! SMS in PDU mode: `AT+CMGF=0/1`, `AT+CMGS=<len>` with the `> ` prompt (no line end),
//! the PDU read up to Ctrl-Z (ESC aborts), `+CMGS: <mr>` + `OK`; the submitted PDUs are
//! decoded with the driver's codec and kept (concatenated parts joined) in
//! [`SimModem::sms_sent`]. [`SimModem::deliver_sms`] is the network delivering a
//! message: it is stored and announced with `+CMTI: "SM",<idx>`; `AT+CMGR`, `AT+CMGL`
//! and `AT+CMGD` read, list and delete.

mod commands;
mod faults;
mod pcm;

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::termios;

use crate::modem::Dialect;
use crate::modem::sms::{self, SmsTimestamp, Submit};

/// A message the driver submitted, as the network received it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SentSms {
    /// Destination.
    pub to: String,
    /// The full text (concatenated parts joined).
    pub text: String,
    /// How many PDUs it took.
    pub parts: usize,
}

/// A stored incoming message: its PDU in hex and whether it was read.
#[derive(Debug, Clone)]
struct Stored {
    index: u32,
    pdu: String,
    read: bool,
}

/// Identity the simulated modem reports.
pub const SIM_MANUFACTURER: &str = "Switchboard";
/// See [`SIM_MANUFACTURER`].
pub const SIM_MODEL: &str = "SimModem";
/// See [`SIM_MANUFACTURER`].
pub const SIM_FIRMWARE: &str = "SIM-1.0";
/// See [`SIM_MANUFACTURER`].
pub const SIM_IMEI: &str = "356938035643809";

/// What the far end of an outbound call does, as decided by the simulated world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarEnd {
    /// Rings, and answers after this long (if ever).
    Rings {
        /// When it answers; `None` = never.
        answer_after: Option<Duration>,
    },
    /// Busy.
    Busy,
    /// The number does not exist / cannot be reached.
    Unreachable,
}

/// The network as seen by the simulated modem.
pub trait Network {
    /// A call to `number` was placed.
    fn place_call(&mut self, now: Instant, number: &str) -> FarEnd;
    /// The modem hung up the call to `number`.
    fn modem_hung_up(&mut self, now: Instant, number: &str);
    /// The call to `number` was answered (the far end's audio is now live).
    fn answered(&mut self, now: Instant, number: &str);
}

/// Behaviour of simpler modems and simulators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Never echo (not even before `ATE0`).
    pub no_echo: bool,
    /// `+CRING: VOICE` instead of `RING` (even without `AT+CRC=1`).
    pub cring: bool,
    /// Plain `ERROR` for every failure (no `+CME ERROR` / `+CMS ERROR`).
    pub plain_errors: bool,
    /// `ERROR` for `AT+CEREG…` (2G/3G-era modems).
    pub no_cereg: bool,
}

/// The SIM in the simulated modem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SimLock {
    /// No PIN lock.
    #[default]
    Ready,
    /// Locked with this PIN (three attempts, then PUK).
    Pin(String),
    /// Blocked: needs the PUK.
    Puk,
    /// No SIM inserted (`+CME ERROR: 10`).
    Absent,
}

/// How the simulated modem behaves.
#[derive(Debug, Clone, Default)]
pub struct SimModemConfig {
    /// Which modem it pretends to be.
    pub dialect: Option<Dialect>,
    /// Simpler-modem behaviour.
    pub quirks: Quirks,
    /// The SIM.
    pub sim: SimLock,
    /// Delay before every command's answer.
    pub slow: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Dialing,
    Alerting,
    Active,
    Held,
    /// Incoming, ringing.
    Incoming,
    /// Incoming while another call is up.
    Waiting,
}

impl CallState {
    fn clcc(self) -> i8 {
        match self {
            CallState::Active => 0,
            CallState::Held => 1,
            CallState::Dialing => 2,
            CallState::Alerting => 3,
            CallState::Incoming => 4,
            CallState::Waiting => 5,
        }
    }
}

#[derive(Debug, Clone)]
struct SimCall {
    idx: u8,
    /// 0 mobile-originated, 1 mobile-terminated.
    dir: u8,
    number: String,
    toa: u8,
    state: CallState,
    since: Instant,
    /// For outbound calls: what the far end does.
    far: Option<FarEnd>,
    /// When it was answered (for `VOICE CALL: END: <duration>`).
    answered_at: Option<Instant>,
    next_ring: Instant,
}

/// Network timing of the simulation.
const ALERT_AFTER: Duration = Duration::from_secs(1);
const BUSY_AFTER: Duration = Duration::from_secs(2);
const UNREACHABLE_AFTER: Duration = Duration::from_secs(3);
const NETWORK_NO_ANSWER: Duration = Duration::from_secs(60);
const RING_EVERY: Duration = Duration::from_secs(2);

/// Direct SMS delivery (`+CMT`) and the Quectel VoLTE / URC-port settings of the
/// simulated modem.
#[derive(Debug, Clone, Default)]
pub struct SimExtras {
    /// `AT+CSMS` service: 1 = phase 2+ (a `+CMT` must be acknowledged with `AT+CNMA`).
    pub csms_service: u8,
    /// `+CMT` parts delivered and not acknowledged yet.
    pub unacked_cmt: u32,
    /// `AT+CNMA` acknowledgements received for expected deliveries.
    pub cnma_acks: u32,
    /// Quectel `AT+QCFG="ims"` setting: 0 follow the carrier profile, 1 on, 2 off
    /// (non-volatile: survives reboots).
    pub ims_cfg: u8,
    /// The carrier profile locks VoLTE off (`AT+QCFG="ims",1` answers `ERROR`).
    pub volte_locked: bool,
    /// Quectel `AT+QURCCFG="urcport"` (`usbat` by default on USB).
    pub urc_port: Option<String>,
}

/// The simulated modem.
pub struct SimModem {
    master: OwnedFd,
    _slave: OwnedFd,
    path: String,
    rx: Vec<u8>,
    echo: bool,
    calls: Vec<SimCall>,
    /// Bytes written to / read from the master side.
    pub written: u64,
    /// See `written`.
    pub read: u64,
    /// Every command received, for tests and transcripts.
    pub commands: Vec<String>,
    pdu_mode: bool,
    /// `AT+CMGS=<len>` seen; the PDU is being read up to Ctrl-Z.
    awaiting_pdu: Option<usize>,
    next_mr: u8,
    submitted: Vec<Submit>,
    /// Messages the driver sent, complete ones only.
    pub sms_sent: Vec<SentSms>,
    store: Vec<Stored>,
    next_ref: u8,
    faults: Faults,
    cfg: SimModemConfig,
    dialect: Dialect,
    /// SIM: attempts left while PIN-locked.
    pin_attempts_left: u8,
    /// PIN entries received (`AT+CPIN=…`), right or wrong.
    pub pin_entries: u32,
    registered: bool,
    creg_urc: bool,
    cereg_urc: bool,
    clip: bool,
    crc: bool,
    ccwa: bool,
    ccinfo: bool,
    tonedet: bool,
    ddet: bool,
    /// Forwarding per reason 0-3: the number, when registered.
    forwarding: [Option<String>; 4],
    /// Direct SMS delivery and Quectel extras (see [`SimModem::deliver_sms_direct`]).
    pub extras: SimExtras,
    /// DTMF digits the driver sent with `AT+VTS`.
    pub dtmf_sent: String,
    /// Answers held back by [`SimModemConfig::slow`]: (release time, bytes).
    outq: VecDeque<(Instant, Vec<u8>)>,
    /// While a command is answered: when its answer may go out.
    release: Option<Instant>,
    now: Instant,
    pcm: Option<PcmPty>,
    /// In-memory line to the driver (virtual time) instead of the pseudo-terminal.
    mem: Option<super::memlink::MemLink>,
}

/// The simulated SIMCom serial PCM port: raw 8 kHz S16LE, 320 bytes per 20 ms each
/// way, streaming only between `AT+CPCMREG=1` and `AT+CPCMREG=0` while a call is up.
struct PcmPty {
    end: PcmEnd,
    link: Option<std::path::PathBuf>,
    /// Bytes written to / read from the master side.
    written: u64,
    read: u64,
    /// `AT+CPCMREG=1` received for the current call.
    on: bool,
    /// When the modem's clock sends the next downlink frame.
    next: Option<Instant>,
    reasm: crate::hw::serial_pcm::Reassembler,
    /// Frames streamed each way (tests, transcripts).
    frames_down: u64,
    frames_up: u64,
}

/// Where the simulated PCM port's bytes go.
enum PcmEnd {
    /// A pseudo-terminal: the box's serial PCM thread opens its slave side.
    Pty {
        master: OwnedFd,
        _slave: OwnedFd,
        path: String,
    },
    /// An in-memory line (virtual time): the box's port is pumped in-process.
    Mem(super::memlink::MemLink),
}

impl SimModem {
    /// Opens a fresh pseudo-terminal pair with a generic modem; the service opens
    /// [`SimModem::path`].
    pub fn open() -> Result<Self> {
        Self::open_with(SimModemConfig::default())
    }

    /// Opens a fresh pseudo-terminal pair with the given behaviour.
    pub fn open_with(cfg: SimModemConfig) -> Result<Self> {
        let (master, slave, path) = new_pty()?;
        Ok(Self {
            master,
            _slave: slave,
            path,
            rx: Vec::new(),
            echo: !cfg.quirks.no_echo,
            calls: Vec::new(),
            written: 0,
            read: 0,
            commands: Vec::new(),
            pdu_mode: false,
            awaiting_pdu: None,
            next_mr: 0,
            submitted: Vec::new(),
            sms_sent: Vec::new(),
            store: Vec::new(),
            next_ref: 0,
            faults: Faults::default(),
            dialect: cfg.dialect.unwrap_or(Dialect::Generic),
            pin_attempts_left: 3,
            pin_entries: 0,
            cfg,
            registered: true,
            creg_urc: false,
            cereg_urc: false,
            clip: false,
            crc: false,
            ccwa: false,
            ccinfo: false,
            tonedet: false,
            ddet: false,
            forwarding: Default::default(),
            extras: SimExtras::default(),
            dtmf_sent: String::new(),
            outq: VecDeque::new(),
            release: None,
            now: Instant::now(),
            pcm: None,
            mem: None,
        })
    }

    /// Talks to the driver over an in-memory line instead of the pseudo-terminal (for
    /// virtual time: no kernel round trips, no waiting).
    pub fn in_memory(mut self) -> Self {
        self.mem = Some(super::memlink::MemLink::new());
        self
    }

    /// The in-memory line's current box end, while the port is there.
    pub fn mem_link(&self) -> Option<super::memlink::MemLink> {
        self.mem.clone().filter(|l| l.is_up())
    }

    /// Whether the modem talks over an in-memory line.
    pub fn is_in_memory(&self) -> bool {
        self.mem.is_some()
    }

    /// Device path of the AT port (the pseudo-terminal's slave side).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Raw fd of the master side (to wait for the driver's bytes).
    pub fn raw_fd(&self) -> RawFd {
        self.master.as_raw_fd()
    }

    /// The number of the call (either direction) that is up and answered (its audio is live).
    pub fn active_number(&self) -> Option<&str> {
        self.calls
            .iter()
            .find(|c| c.state == CallState::Active)
            .map(|c| c.number.as_str())
    }

    /// Whether any call (either direction) is connected.
    pub fn in_call(&self) -> bool {
        self.calls.iter().any(|c| c.state == CallState::Active)
    }

    /// The SIM's state as the modem would report it (`READY`, `SIM PIN`, …).
    pub fn sim_state(&self) -> &'static str {
        match self.cfg.sim {
            SimLock::Ready => "READY",
            SimLock::Pin(_) => "SIM PIN",
            SimLock::Puk => "SIM PUK",
            SimLock::Absent => "NOT INSERTED",
        }
    }

    /// Forwarding registered for a reason (0-3).
    pub fn forwarding(&self, reason: u8) -> Option<&str> {
        self.forwarding
            .get(usize::from(reason))
            .and_then(|f| f.as_deref())
    }

    fn write_now(&mut self, mut buf: &[u8]) {
        if let Some(l) = &self.mem {
            l.modem_write(buf);
            self.written += buf.len() as u64;
            return;
        }
        while !buf.is_empty() {
            match nix::unistd::write(&self.master, buf) {
                Ok(n) => {
                    self.written += n as u64;
                    buf = &buf[n..];
                }
                Err(nix::errno::Errno::EAGAIN) => std::thread::yield_now(),
                Err(e) => {
                    tracing::error!("simulated modem: write failed: {e}");
                    return;
                }
            }
        }
    }

    fn send(&mut self, s: &str) {
        // answers held back by `slow` keep their order with everything after them
        let hold = self.release.or_else(|| self.outq.back().map(|(t, _)| *t));
        match hold {
            Some(t) => self.outq.push_back((t, s.as_bytes().to_vec())),
            None => self.write_now(s.as_bytes()),
        }
    }

    fn line(&mut self, s: &str) {
        self.send(&format!("\r\n{s}\r\n"));
    }

    fn flush_delayed(&mut self, now: Instant) {
        while self.outq.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, b)) = self.outq.pop_front() {
                self.write_now(&b);
            }
        }
    }

    /// A failure: `+CME ERROR: <code>`, or plain `ERROR` for a simpler modem.
    fn cme(&mut self, code: u16) {
        if self.cfg.quirks.plain_errors {
            self.line("ERROR");
        } else {
            self.line(&format!("+CME ERROR: {code}"));
        }
    }

    /// An SMS failure: `+CMS ERROR: <code>`, or plain `ERROR`.
    fn cms(&mut self, code: u16) {
        if self.cfg.quirks.plain_errors {
            self.line("ERROR");
        } else {
            self.line(&format!("+CMS ERROR: {code}"));
        }
    }

    /// Reads what the driver sent and answers it; advances calls to `now`.
    pub fn step(&mut self, now: Instant, net: &mut dyn Network) {
        self.now = now;
        self.flush_delayed(now);
        let mut buf = [0u8; 512];
        if let Some(l) = &self.mem {
            let n = l.modem_read(&mut self.rx);
            self.read += n as u64;
        }
        while self.mem.is_none() {
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.read += n as u64;
                    self.rx.extend_from_slice(&buf[..n]);
                }
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(nix::errno::Errno::EIO) => break, // no slave open right now
                Err(e) => {
                    tracing::error!("simulated modem: read failed: {e}");
                    break;
                }
            }
        }
        if !self.faults_gate(now) {
            return;
        }
        loop {
            if let Some(len) = self.awaiting_pdu {
                let Some(pos) = self
                    .rx
                    .iter()
                    .position(|&b| b == crate::at::CTRL_Z || b == crate::at::ESC)
                else {
                    break;
                };
                let raw: Vec<u8> = self.rx.drain(..=pos).collect();
                self.awaiting_pdu = None;
                if raw.last() == Some(&crate::at::ESC) {
                    self.line("OK");
                    continue;
                }
                let body = String::from_utf8_lossy(&raw[..raw.len() - 1])
                    .trim()
                    .to_string();
                self.submit(len, &body);
                continue;
            }
            let Some(pos) = self.rx.iter().position(|&b| b == b'\r' || b == b'\n') else {
                break;
            };
            let raw: Vec<u8> = self.rx.drain(..=pos).collect();
            let cmd = String::from_utf8_lossy(&raw[..raw.len() - 1])
                .trim()
                .to_string();
            if cmd.is_empty() {
                continue;
            }
            if self.echo {
                self.send(&format!("{cmd}\r"));
            }
            self.commands.push(cmd.clone());
            self.release = (!self.cfg.slow.is_zero()).then(|| now + self.cfg.slow);
            self.command(now, &cmd, net);
            self.release = None;
        }
        self.advance(now, net);
    }

    fn identity(&self) -> (&'static str, &'static str, &'static str) {
        match self.dialect {
            Dialect::Generic => (SIM_MANUFACTURER, SIM_MODEL, SIM_FIRMWARE),
            Dialect::Quectel => ("Quectel", "EC25", "EC25EFAR06A06M4G"),
            Dialect::Simcom => (
                "SIMCOM INCORPORATED",
                "SIMCOM_SIM7600E-H",
                "LE20B04SIM7600M22",
            ),
        }
    }

    fn sim_ready(&self) -> bool {
        self.cfg.sim == SimLock::Ready
    }

    /// `+CME ERROR` for a command that needs the SIM, if it is not ready.
    fn sim_blocks(&mut self) -> bool {
        let code = match self.cfg.sim {
            SimLock::Ready => return false,
            SimLock::Pin(_) => 11,
            SimLock::Puk => 12,
            SimLock::Absent => 10,
        };
        self.cme(code);
        true
    }

    fn creg_line(&self, prefix: &str, with_n: bool) -> String {
        let n = if with_n { "2," } else { "" };
        if self.registered && self.sim_ready() {
            format!("{prefix}: {n}1,\"1A2B\",\"01C3D4E5\",7")
        } else if self.sim_ready() {
            format!("{prefix}: {n}2")
        } else {
            format!("{prefix}: {n}0")
        }
    }

    /// The network delivers an SMS: it is stored (one slot per part) and announced
    /// with `+CMTI`. Returns the storage indices, or why it cannot be encoded.
    pub fn deliver_sms(
        &mut self,
        from: &str,
        text: &str,
        at: SmsTimestamp,
    ) -> Result<Vec<u32>, sms::SmsError> {
        let indices = self.store_sms(from, text, at)?;
        for index in &indices {
            self.line(&format!("+CMTI: \"SM\",{index}"));
        }
        Ok(indices)
    }

    /// The network delivers an SMS directly (as with `AT+CNMI=2,2` or a class 0
    /// message): one two-line `+CMT: ,<length>` + PDU per part, nothing stored. In
    /// phase 2+ mode (`AT+CSMS=1`) each part waits for `AT+CNMA`. Returns the number
    /// of parts.
    pub fn deliver_sms_direct(
        &mut self,
        from: &str,
        text: &str,
        at: SmsTimestamp,
    ) -> Result<usize, sms::SmsError> {
        self.next_ref = self.next_ref.wrapping_add(1);
        let pdus = sms::encode_deliver(from, text, at, self.next_ref)?;
        for pdu in &pdus {
            self.line(&format!("+CMT: ,{}", pdu.len() / 2 - 1));
            self.line(pdu);
            if self.extras.csms_service == 1 {
                self.extras.unacked_cmt += 1;
            }
        }
        Ok(pdus.len())
    }

    /// Stores a message on the SIM without announcing it (it arrived while nobody
    /// was listening); `AT+CMGL` lists it. Returns the storage indices.
    pub fn store_sms(
        &mut self,
        from: &str,
        text: &str,
        at: SmsTimestamp,
    ) -> Result<Vec<u32>, sms::SmsError> {
        self.next_ref = self.next_ref.wrapping_add(1);
        let pdus = sms::encode_deliver(from, text, at, self.next_ref)?;
        let mut indices = Vec::new();
        for pdu in pdus {
            let index = (1..)
                .find(|i| self.store.iter().all(|m| m.index != *i))
                .unwrap_or(1);
            self.store.push(Stored {
                index,
                pdu,
                read: false,
            });
            indices.push(index);
        }
        Ok(indices)
    }

    /// Number of messages in the simulated SIM store.
    pub fn stored_sms(&self) -> usize {
        self.store.len()
    }

    fn free_index(&self) -> u8 {
        (1..=7u8)
            .find(|i| self.calls.iter().all(|c| c.idx != *i))
            .unwrap_or(7)
    }

    fn pos(&self, idx: u8) -> Option<usize> {
        self.calls.iter().position(|c| c.idx == idx)
    }

    /// Quectel `+QIND: "ccinfo",…` for a call (state as in CLCC; `-1` released).
    fn ccinfo_urc(&mut self, idx: u8) {
        if !self.ccinfo {
            return;
        }
        let line = match self.pos(idx).and_then(|i| self.calls.get(i)) {
            Some(c) => format!(
                "+QIND: \"ccinfo\",{},{},{},0,0,\"{}\",{}",
                c.idx,
                c.dir,
                c.state.clcc(),
                c.number,
                c.toa
            ),
            None => return,
        };
        self.line(&line);
    }

    fn ccinfo_released(&mut self, c: &SimCall) {
        if self.ccinfo {
            self.line(&format!(
                "+QIND: \"ccinfo\",{},{},-1,0,0,\"{}\",{}",
                c.idx, c.dir, c.number, c.toa
            ));
        }
    }

    /// A call becomes connected (answered by the far end, `ATA`, or `AT+CHLD`).
    fn connect(&mut self, now: Instant, i: usize) {
        let Some(c) = self.calls.get_mut(i) else {
            return;
        };
        let first = c.answered_at.is_none();
        c.state = CallState::Active;
        c.answered_at.get_or_insert(now);
        let idx = c.idx;
        self.ccinfo_urc(idx);
        if first && self.dialect == Dialect::Simcom {
            self.line("VOICE CALL: BEGIN");
        }
    }

    /// Releases a call. `remote`: the far end hung up (the modem says `NO CARRIER`
    /// for a connected call); otherwise the box released it (`AT+CHUP`, `AT+CHLD`).
    fn release(&mut self, now: Instant, idx: u8, net: &mut dyn Network, remote: bool) {
        let Some(i) = self.pos(idx) else { return };
        let c = self.calls.remove(i);
        if !remote {
            net.modem_hung_up(now, &c.number);
        }
        self.ccinfo_released(&c);
        match c.answered_at {
            Some(at) => {
                if self.dialect == Dialect::Simcom {
                    let secs = now.saturating_duration_since(at).as_secs();
                    self.line(&format!(
                        "VOICE CALL: END: {:02}{:02}{:02}",
                        secs / 3600,
                        secs / 60 % 60,
                        secs % 60
                    ));
                }
                if remote {
                    self.line("NO CARRIER");
                }
            }
            None if c.dir == 1 && remote && self.dialect == Dialect::Simcom => {
                self.line(&format!("MISSED_CALL: 12:00PM {}", c.number));
            }
            // the called party rejected the call while it rang
            None if c.dir == 0 && remote => self.line("NO CARRIER"),
            None => {}
        }
    }

    fn chld(&mut self, now: Instant, arg: &str, net: &mut dyn Network) {
        let arg = arg.trim();
        let idx = arg.get(1..).and_then(|x| x.parse::<u8>().ok());
        let of = |s: &Self, st: &[CallState]| -> Vec<u8> {
            s.calls
                .iter()
                .filter(|c| st.contains(&c.state))
                .map(|c| c.idx)
                .collect()
        };
        match (arg.get(..1), idx) {
            (Some("0"), None) => {
                let waiting = of(self, &[CallState::Waiting]);
                let targets = if waiting.is_empty() {
                    of(self, &[CallState::Held])
                } else {
                    waiting
                };
                for i in targets {
                    self.release(now, i, net, false);
                }
            }
            (Some("1"), None) => {
                for i in of(self, &[CallState::Active]) {
                    self.release(now, i, net, false);
                }
                let next = of(self, &[CallState::Waiting])
                    .first()
                    .or(of(self, &[CallState::Held]).first())
                    .copied();
                if let Some(i) = next.and_then(|n| self.pos(n)) {
                    self.connect(now, i);
                }
            }
            (Some("1"), Some(x)) => {
                if self.pos(x).is_none() {
                    self.cme(22);
                    return;
                }
                self.release(now, x, net, false);
            }
            (Some("2"), None) => {
                let active = of(self, &[CallState::Active]);
                let other = of(self, &[CallState::Waiting])
                    .first()
                    .or(of(self, &[CallState::Held]).first())
                    .copied();
                for i in &active {
                    if let Some(p) = self.pos(*i) {
                        self.calls[p].state = CallState::Held;
                        self.ccinfo_urc(*i);
                    }
                }
                if let Some(p) = other.and_then(|o| self.pos(o)) {
                    self.connect(now, p);
                }
            }
            (Some("2"), Some(x)) => {
                if self.pos(x).is_none() {
                    self.cme(22);
                    return;
                }
                let all: Vec<u8> = self.calls.iter().map(|c| c.idx).collect();
                for i in all {
                    if let Some(p) = self.pos(i) {
                        if i == x {
                            self.connect(now, p);
                        } else if self.calls[p].state == CallState::Active {
                            self.calls[p].state = CallState::Held;
                            self.ccinfo_urc(i);
                        }
                    }
                }
            }
            _ => {
                self.cme(4);
                return;
            }
        }
        self.line("OK");
    }

    fn ring(&mut self, i: usize) {
        let Some(c) = self.calls.get(i) else { return };
        let (number, toa) = (c.number.clone(), c.toa);
        if self.crc || self.cfg.quirks.cring {
            self.line("+CRING: VOICE");
        } else {
            self.line("RING");
        }
        if self.clip {
            self.line(&format!("+CLIP: \"{number}\",{toa},\"\",,\"\",0"));
        }
    }

    /// The network delivers a call from `number` (E.164 with `+`, or national). With
    /// no call up it rings (`RING`/`+CRING`, `+CLIP` every 2 s); otherwise it waits
    /// (`+CCWA`). Returns false when the modem cannot take it (no registration, SIM
    /// locked, or already two calls).
    pub fn incoming_call(&mut self, now: Instant, number: &str) -> bool {
        if !self.registered || !self.sim_ready() || self.calls.len() >= 2 {
            return false;
        }
        let (digits, toa) = match number.strip_prefix('+') {
            Some(d) => (d.to_string(), 145),
            None => (number.to_string(), 129),
        };
        let waiting = !self.calls.is_empty();
        let idx = self.free_index();
        self.calls.push(SimCall {
            idx,
            dir: 1,
            number: digits.clone(),
            toa,
            state: if waiting {
                CallState::Waiting
            } else {
                CallState::Incoming
            },
            since: now,
            far: None,
            answered_at: None,
            next_ring: now + RING_EVERY,
        });
        self.ccinfo_urc(idx);
        if waiting {
            if self.ccwa {
                self.line(&format!("+CCWA: \"{digits}\",{toa},1"));
            }
        } else {
            let i = self.calls.len() - 1;
            self.ring(i);
        }
        true
    }

    /// The network registration is lost (`false`) or back (`true`): `+CREG` / `+CEREG`
    /// URCs where enabled.
    pub fn set_registered(&mut self, registered: bool) {
        if self.registered == registered {
            return;
        }
        self.registered = registered;
        if self.creg_urc {
            let l = self.creg_line("+CREG", false);
            self.line(&l);
        }
        if self.cereg_urc && !self.cfg.quirks.no_cereg {
            let l = self.creg_line("+CEREG", false);
            self.line(&l);
        }
    }

    /// The far end of the connected call presses keys: the modem reports them where
    /// its dialect can (Quectel `+QTONEDET` after `AT+QTONEDET=1`, SIMCom `+RXDTMF`
    /// after `AT+DDET=1`; a generic modem only carries them in the audio). Returns
    /// whether a connected call was there.
    pub fn far_end_dtmf(&mut self, digits: &str) -> bool {
        if !self.in_call() {
            return false;
        }
        for d in digits.chars() {
            if self.tonedet {
                self.line(&format!("+QTONEDET: {}", u32::from(d)));
            } else if self.ddet {
                self.line(&format!("+RXDTMF: {d}"));
            }
        }
        true
    }

    /// A waiting call left alone (the call it waited behind ended) is presented as a
    /// normal incoming call: it rings (`RING`/`+CRING`, `+CLIP`) from now on.
    fn present_waiting(&mut self, now: Instant) {
        if self.calls.iter().any(|c| c.state != CallState::Waiting) {
            return;
        }
        if let Some(c) = self.calls.first_mut() {
            c.state = CallState::Incoming;
            c.next_ring = now;
            let idx = c.idx;
            self.ccinfo_urc(idx);
        }
    }

    /// The state of the incoming call from `number` (E.164 with `+`, or national):
    /// `waiting`, `ringing`, `active`, `held`; `None` without one.
    pub fn incoming_state(&self, number: &str) -> Option<&'static str> {
        let digits = number.strip_prefix('+').unwrap_or(number);
        self.calls
            .iter()
            .find(|c| c.dir == 1 && c.number == digits)
            .map(|c| match c.state {
                CallState::Waiting => "waiting",
                CallState::Incoming => "ringing",
                CallState::Held => "held",
                _ => "active",
            })
    }

    /// Calls the modem has up (ringing, waiting, dialling, connected or held).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    fn advance(&mut self, now: Instant, net: &mut dyn Network) {
        self.present_waiting(now);
        let mut i = 0;
        while i < self.calls.len() {
            let c = self.calls[i].clone();
            let age = now.saturating_duration_since(c.since);
            match (c.far, c.state) {
                (Some(FarEnd::Busy), CallState::Dialing | CallState::Alerting)
                    if age >= BUSY_AFTER =>
                {
                    self.calls.remove(i);
                    self.ccinfo_released(&c);
                    self.line("BUSY");
                    continue;
                }
                (Some(FarEnd::Unreachable), CallState::Dialing | CallState::Alerting)
                    if age >= UNREACHABLE_AFTER =>
                {
                    self.calls.remove(i);
                    self.ccinfo_released(&c);
                    self.line("NO CARRIER");
                    continue;
                }
                (Some(FarEnd::Rings { answer_after }), st) => {
                    if st == CallState::Dialing && age >= ALERT_AFTER {
                        self.calls[i].state = CallState::Alerting;
                        self.ccinfo_urc(c.idx);
                    }
                    if self.calls[i].state == CallState::Alerting {
                        if answer_after.is_some_and(|a| age >= a) {
                            self.connect(now, i);
                            net.answered(now, &c.number);
                        } else if age >= NETWORK_NO_ANSWER {
                            self.calls.remove(i);
                            self.ccinfo_released(&c);
                            self.line("NO ANSWER");
                            continue;
                        }
                    }
                }
                (None, CallState::Incoming) if now >= c.next_ring => {
                    self.calls[i].next_ring = now + RING_EVERY;
                    self.ring(i);
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// The far end hung up: of the outbound call (or it rejected it while it rang),
    /// else of the incoming call.
    pub fn far_end_hangup(&mut self) {
        let idx = self
            .calls
            .iter()
            .find(|c| c.dir == 0 && c.state != CallState::Held)
            .or_else(|| self.calls.iter().find(|c| c.dir == 0))
            .or_else(|| {
                self.calls
                    .iter()
                    .find(|c| c.dir == 1 && c.state != CallState::Waiting)
            })
            .or_else(|| self.calls.iter().find(|c| c.dir == 1))
            .map(|c| c.idx);
        if let Some(idx) = idx {
            self.release(self.now, idx, &mut NoNetwork, true);
        }
    }

    /// The caller of an incoming call hangs up (while it rings, waits or is
    /// connected). Returns whether there was such a call.
    pub fn caller_hangup(&mut self, now: Instant, number: &str) -> bool {
        let digits = number.strip_prefix('+').unwrap_or(number);
        let idx = self
            .calls
            .iter()
            .find(|c| c.dir == 1 && c.number == digits)
            .map(|c| c.idx);
        match idx {
            Some(idx) => {
                self.release(now, idx, &mut NoNetwork, true);
                true
            }
            None => false,
        }
    }

    /// When [`SimModem::step`] must run next for call progress, rings and held-back
    /// answers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // a hung, rebooting or unplugged modem advances no call (its own fault timers
        // are in `faults_timeout`)
        let frozen =
            self.faults.hung || self.faults.replug_at.is_some() || self.faults.boot_at.is_some();
        let calls = self.calls.iter().filter(|_| !frozen).filter_map(|c| {
            let at = match (c.far, c.state) {
                (Some(FarEnd::Busy), CallState::Dialing | CallState::Alerting) => BUSY_AFTER,
                (Some(FarEnd::Unreachable), CallState::Dialing | CallState::Alerting) => {
                    UNREACHABLE_AFTER
                }
                (Some(FarEnd::Rings { .. }), CallState::Dialing) => ALERT_AFTER,
                (Some(FarEnd::Rings { answer_after }), CallState::Alerting) => answer_after
                    .map_or(NETWORK_NO_ANSWER, |a| {
                        a.max(ALERT_AFTER).min(NETWORK_NO_ANSWER)
                    }),
                (None, CallState::Incoming) => return Some(c.next_ring),
                // left alone: presented as incoming at once
                (None, CallState::Waiting)
                    if self.calls.iter().all(|o| o.state == CallState::Waiting) =>
                {
                    return Some(c.since);
                }
                _ => return None,
            };
            Some(c.since + at)
        });
        calls.chain(self.outq.front().map(|(t, _)| *t)).min()
    }
}

/// A network that nobody listens to: every number is unreachable (for releases the
/// far end caused, and for tests that place no calls).
pub struct NoNetwork;

impl Network for NoNetwork {
    fn place_call(&mut self, _: Instant, _: &str) -> FarEnd {
        FarEnd::Unreachable
    }
    fn modem_hung_up(&mut self, _: Instant, _: &str) {}
    fn answered(&mut self, _: Instant, _: &str) {}
}

#[cfg(test)]
mod tests;

/// Opens a raw, non-blocking pseudo-terminal pair: (master, slave, slave's path).
fn new_pty() -> Result<(OwnedFd, OwnedFd, String)> {
    let pty = nix::pty::openpty(None, None)
        .context("cannot open a pseudo-terminal for the simulated modem")?;
    let path = nix::unistd::ttyname(pty.slave.as_fd())
        .context("cannot name the pseudo-terminal")?
        .display()
        .to_string();
    // Raw mode: bytes pass untouched in both directions (no echo, no CR/NL mapping).
    let mut t = termios::tcgetattr(pty.slave.as_fd())?;
    termios::cfmakeraw(&mut t);
    termios::tcsetattr(pty.slave.as_fd(), termios::SetArg::TCSANOW, &t)?;
    let flags = OFlag::from_bits_truncate(fcntl(&pty.master, FcntlArg::F_GETFL)?);
    fcntl(&pty.master, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok((pty.master, pty.slave, path))
}

// ---- fault injection: reboot, hang, slow responses, garbage, a port that vanishes ----

/// Time from `AT+CFUN=1,1` to `RDY` in the simulation.
pub const SOFT_RESET_BOOT: Duration = Duration::from_secs(8);
/// Time from a power-key pulse to `RDY` (PWRKEY → RDY is 10–15 s on real modules).
pub const POWER_ON_BOOT: Duration = Duration::from_secs(12);

/// Fault-injection state of the simulated modem.
#[derive(Debug, Default)]
struct Faults {
    /// Rebooting: silent until then, then the boot URCs.
    boot_at: Option<Instant>,
    /// Hung: answers nothing until power-cycled.
    hung: bool,
    /// Unplugged (USB gone) until then.
    replug_at: Option<Instant>,
    /// A symlink kept pointing at the current pseudo-terminal, like udev's
    /// `/dev/modem-at`.
    link: Option<std::path::PathBuf>,
    /// Reboots so far.
    reboots: u32,
}
