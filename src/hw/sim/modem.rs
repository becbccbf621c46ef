//! The simulated GSM/LTE modem: speaks AT on the master side of a real
//! pseudo-terminal, so the service's real serial code runs against it.
//!
//! It models a generic 3GPP 27.007 modem: echo on after power-up, `ATE0`, `+CMEE`,
//! registration and signal queries, `ATD…;` with call progress visible in `AT+CLCC`,
//! `BUSY` / `NO ANSWER` / `NO CARRIER` result codes, `AT+CHUP`, and `ERROR` for
//! anything it does not know. The network side (who answers, who is busy) is decided
//! by the simulated world through [`Network`].

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::termios;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Dialing,
    Alerting,
    Active,
}

#[derive(Debug, Clone)]
struct OutCall {
    number: String,
    state: CallState,
    placed: Instant,
    far: FarEnd,
}

/// Network timing of the simulation.
const ALERT_AFTER: Duration = Duration::from_secs(1);
const BUSY_AFTER: Duration = Duration::from_secs(2);
const UNREACHABLE_AFTER: Duration = Duration::from_secs(3);
const NETWORK_NO_ANSWER: Duration = Duration::from_secs(60);

/// The simulated modem.
pub struct SimModem {
    master: OwnedFd,
    _slave: OwnedFd,
    path: String,
    rx: Vec<u8>,
    echo: bool,
    call: Option<OutCall>,
    /// Bytes written to / read from the master side.
    pub written: u64,
    /// See `written`.
    pub read: u64,
    /// Every command received, for tests and transcripts.
    pub commands: Vec<String>,
}

impl SimModem {
    /// Opens a fresh pseudo-terminal pair; the service opens [`SimModem::path`].
    pub fn open() -> Result<Self> {
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
        Ok(Self {
            master: pty.master,
            _slave: pty.slave,
            path,
            rx: Vec::new(),
            echo: true,
            call: None,
            written: 0,
            read: 0,
            commands: Vec::new(),
        })
    }

    /// Device path of the AT port (the pseudo-terminal's slave side).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Raw fd of the master side (to wait for the driver's bytes).
    pub fn raw_fd(&self) -> RawFd {
        self.master.as_raw_fd()
    }

    /// Whether a call is up and answered (its audio is live).
    pub fn active_number(&self) -> Option<&str> {
        self.call
            .as_ref()
            .filter(|c| c.state == CallState::Active)
            .map(|c| c.number.as_str())
    }

    fn send(&mut self, s: &str) {
        let mut buf = s.as_bytes();
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

    fn line(&mut self, s: &str) {
        self.send(&format!("\r\n{s}\r\n"));
    }

    /// Reads what the driver sent and answers it; advances calls to `now`.
    pub fn step(&mut self, now: Instant, net: &mut dyn Network) {
        let mut buf = [0u8; 512];
        loop {
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
        while let Some(pos) = self.rx.iter().position(|&b| b == b'\r' || b == b'\n') {
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
            self.command(now, &cmd, net);
        }
        self.advance(now, net);
    }

    fn command(&mut self, now: Instant, cmd: &str, net: &mut dyn Network) {
        let upper = cmd.to_ascii_uppercase();
        match upper.as_str() {
            "AT" | "AT+CMEE=1" | "AT+CMEE=2" | "AT+CLIP=1" | "AT+CRC=1" | "AT+CREG=2"
            | "AT+COPS=3,0" => self.line("OK"),
            "ATE0" => {
                self.echo = false;
                self.line("OK");
            }
            "ATE1" => {
                self.echo = true;
                self.line("OK");
            }
            "ATI" => {
                self.line("Switchboard\r\nSimModem\r\nRevision: SIM-1.0");
                self.line("OK");
            }
            "AT+CGSN" => {
                self.line("356938035643809");
                self.line("OK");
            }
            "AT+CSQ" => {
                self.line("+CSQ: 21,99");
                self.line("OK");
            }
            "AT+CREG?" => {
                self.line("+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7");
                self.line("OK");
            }
            "AT+COPS?" => {
                self.line("+COPS: 0,0,\"Switchboard Sim\",7");
                self.line("OK");
            }
            "AT+CLCC" => {
                if let Some(c) = &self.call {
                    let stat = match c.state {
                        CallState::Dialing => 2,
                        CallState::Alerting => 3,
                        CallState::Active => 0,
                    };
                    let row = format!("+CLCC: 1,0,{stat},0,0,\"{}\",145", c.number);
                    self.line(&row);
                }
                self.line("OK");
            }
            "AT+CHUP" | "ATH" => {
                if let Some(c) = self.call.take() {
                    net.modem_hung_up(now, &c.number);
                }
                self.line("OK");
            }
            _ if upper.starts_with("ATD") && upper.ends_with(';') => {
                let number = cmd[3..cmd.len() - 1].to_string();
                if self.call.is_some() || number.is_empty() {
                    self.line("+CME ERROR: operation not allowed");
                    return;
                }
                let far = net.place_call(now, &number);
                self.call = Some(OutCall {
                    number,
                    state: CallState::Dialing,
                    placed: now,
                    far,
                });
                self.line("OK");
            }
            _ => self.line("ERROR"),
        }
    }

    fn advance(&mut self, now: Instant, net: &mut dyn Network) {
        let Some(c) = self.call.as_mut() else { return };
        let age = now.saturating_duration_since(c.placed);
        match c.far {
            FarEnd::Busy if age >= BUSY_AFTER => {
                self.call = None;
                self.line("BUSY");
            }
            FarEnd::Unreachable if age >= UNREACHABLE_AFTER => {
                self.call = None;
                self.line("NO CARRIER");
            }
            FarEnd::Rings { answer_after } => {
                if c.state == CallState::Dialing && age >= ALERT_AFTER {
                    c.state = CallState::Alerting;
                }
                if c.state == CallState::Alerting {
                    if answer_after.is_some_and(|a| age >= a) {
                        c.state = CallState::Active;
                        let number = c.number.clone();
                        net.answered(now, &number);
                    } else if age >= NETWORK_NO_ANSWER {
                        self.call = None;
                        self.line("NO ANSWER");
                    }
                }
            }
            _ => {}
        }
    }

    /// The far end hung up.
    pub fn far_end_hangup(&mut self) {
        if self.call.take().is_some() {
            self.line("NO CARRIER");
        }
    }

    /// When [`SimModem::step`] must run next for call progress.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.call.as_ref()?;
        let at = match (c.far, c.state) {
            (FarEnd::Busy, _) => BUSY_AFTER,
            (FarEnd::Unreachable, _) => UNREACHABLE_AFTER,
            (FarEnd::Rings { .. }, CallState::Dialing) => ALERT_AFTER,
            (FarEnd::Rings { answer_after }, CallState::Alerting) => answer_after
                .map_or(NETWORK_NO_ANSWER, |a| {
                    a.max(ALERT_AFTER).min(NETWORK_NO_ANSWER)
                }),
            (FarEnd::Rings { .. }, CallState::Active) => return None,
        };
        Some(c.placed + at)
    }
}
