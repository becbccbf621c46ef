//! The simulated GSM/LTE modem: speaks AT on the master side of a real
//! pseudo-terminal, so the service's real serial code runs against it.
//!
//! It models a generic 3GPP 27.007 modem: echo on after power-up, `ATE0`, `+CMEE`,
//! registration and signal queries, `ATD…;` with call progress visible in `AT+CLCC`,
//! `BUSY` / `NO ANSWER` / `NO CARRIER` result codes, `AT+CHUP`, and `ERROR` for
//! anything it does not know. The network side (who answers, who is busy) is decided
//! by the simulated world through [`Network`].
//!
//! SMS in PDU mode: `AT+CMGF=0/1`, `AT+CMGS=<len>` with the `> ` prompt (no line end),
//! the PDU read up to Ctrl-Z (ESC aborts), `+CMGS: <mr>` + `OK`; the submitted PDUs are
//! decoded with the driver's codec and kept (concatenated parts joined) in
//! [`SimModem::sms_sent`]. [`SimModem::deliver_sms`] is the network delivering a
//! message: it is stored and announced with `+CMTI: "SM",<idx>`; `AT+CMGR`, `AT+CMGL`
//! and `AT+CMGD` read, list and delete. Identity queries (`ATI`, `AT+CGMI`, `AT+CGMM`,
//! `AT+CGMR`, `AT+CGSN`, `AT+CPIN?`) answer as a generic modem.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::termios;

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
}

impl SimModem {
    /// Opens a fresh pseudo-terminal pair; the service opens [`SimModem::path`].
    pub fn open() -> Result<Self> {
        let (master, slave, path) = new_pty()?;
        Ok(Self {
            master,
            _slave: slave,
            path,
            rx: Vec::new(),
            echo: true,
            call: None,
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
        if !self.faults_gate(now, net) {
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
            self.command(now, &cmd, net);
        }
        self.advance(now, net);
    }

    fn command(&mut self, now: Instant, cmd: &str, net: &mut dyn Network) {
        let upper = cmd.to_ascii_uppercase();
        match upper.as_str() {
            "AT+CFUN=1,1" => {
                self.line("OK");
                self.reboot(now, SOFT_RESET_BOOT, net);
            }
            "AT" | "AT+CMEE=1" | "AT+CMEE=2" | "AT+CLIP=1" | "AT+CRC=1" | "AT+CREG=2"
            | "AT+COPS=3,0" | "AT+CNMI=2,1,0,0,0" => self.line("OK"),
            "AT+CMGF=0" | "AT+CMGF=1" => {
                self.pdu_mode = upper.ends_with('0');
                self.line("OK");
            }
            "AT+CMGF?" => {
                let mode = if self.pdu_mode { 0 } else { 1 };
                self.line(&format!("+CMGF: {mode}"));
                self.line("OK");
            }
            "AT+CGMI" => {
                self.line(SIM_MANUFACTURER);
                self.line("OK");
            }
            "AT+CGMM" => {
                self.line(SIM_MODEL);
                self.line("OK");
            }
            "AT+CGMR" => {
                self.line(&format!("Revision: {SIM_FIRMWARE}"));
                self.line("OK");
            }
            "AT+CPIN?" => {
                self.line("+CPIN: READY");
                self.line("OK");
            }
            "ATE0" => {
                self.echo = false;
                self.line("OK");
            }
            "ATE1" => {
                self.echo = true;
                self.line("OK");
            }
            "ATI" => {
                self.line(&format!(
                    "{SIM_MANUFACTURER}\r\n{SIM_MODEL}\r\nRevision: {SIM_FIRMWARE}"
                ));
                self.line("OK");
            }
            "AT+CGSN" => {
                self.line(SIM_IMEI);
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
            _ if upper.starts_with("AT+CMGS=") => {
                if !self.pdu_mode {
                    // text mode is not simulated
                    self.line("+CMS ERROR: 302");
                    return;
                }
                match upper["AT+CMGS=".len()..].trim().parse::<usize>() {
                    Ok(n) if (1..=164).contains(&n) => {
                        self.awaiting_pdu = Some(n);
                        self.send("\r\n> ");
                    }
                    _ => self.line("+CMS ERROR: 304"),
                }
            }
            _ if upper.starts_with("AT+CMGR=") => {
                let idx = upper["AT+CMGR=".len()..].trim().parse::<u32>().ok();
                match idx.and_then(|i| self.store.iter_mut().find(|m| m.index == i)) {
                    Some(m) => {
                        let stat = u8::from(m.read);
                        m.read = true;
                        let (pdu, len) = (m.pdu.clone(), m.pdu.len() / 2 - 1);
                        self.line(&format!("+CMGR: {stat},,{len}"));
                        self.line(&pdu);
                        self.line("OK");
                    }
                    None => self.line("+CMS ERROR: 321"),
                }
            }
            _ if upper.starts_with("AT+CMGL") => {
                let list: Vec<(u32, u8, String)> = self
                    .store
                    .iter()
                    .map(|m| (m.index, u8::from(m.read), m.pdu.clone()))
                    .collect();
                for (idx, stat, pdu) in list {
                    self.line(&format!("+CMGL: {idx},{stat},,{}", pdu.len() / 2 - 1));
                    self.line(&pdu);
                }
                for m in &mut self.store {
                    m.read = true;
                }
                self.line("OK");
            }
            _ if upper.starts_with("AT+CMGD=") => {
                match upper["AT+CMGD=".len()..]
                    .split(',')
                    .next()
                    .map(|i| i.trim().parse::<u32>())
                {
                    Some(Ok(i)) => {
                        self.store.retain(|m| m.index != i);
                        self.line("OK");
                    }
                    _ => self.line("+CMS ERROR: 321"),
                }
            }
            _ => self.line("ERROR"),
        }
    }

    /// The PDU after `AT+CMGS=<len>`: checks the length, decodes it and answers.
    fn submit(&mut self, len: usize, hex: &str) {
        let smsc_octets = hex
            .get(..2)
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .map(|n| n + 1);
        let tpdu_ok = smsc_octets.is_some_and(|s| hex.len() / 2 == s + len);
        match sms::decode_submit(hex) {
            Ok(sub) if tpdu_ok => {
                self.next_mr = self.next_mr.wrapping_add(1);
                let mr = self.next_mr;
                self.line(&format!("+CMGS: {mr}"));
                self.line("OK");
                self.collect_submitted(sub);
            }
            Ok(_) => {
                tracing::warn!("simulated modem: AT+CMGS length {len} does not match the PDU");
                self.line("+CMS ERROR: 304");
            }
            Err(e) => {
                tracing::warn!("simulated modem: bad SMS PDU: {e}");
                self.line("+CMS ERROR: 304");
            }
        }
    }

    fn collect_submitted(&mut self, sub: Submit) {
        let Some(c) = sub.concat else {
            self.sms_sent.push(SentSms {
                to: sub.to,
                text: sub.text,
                parts: 1,
            });
            return;
        };
        let (to, reference, total) = (sub.to.clone(), c.reference, c.total);
        self.submitted.push(sub);
        let same = |s: &Submit| {
            s.to == to
                && s.concat
                    .is_some_and(|x| x.reference == reference && x.total == total)
        };
        let parts: Vec<(u8, String)> = self
            .submitted
            .iter()
            .filter(|s| same(s))
            .filter_map(|s| s.concat.map(|x| (x.seq, s.text.clone())))
            .collect();
        if let Some(text) = sms::reassemble(&parts, total) {
            self.submitted.retain(|s| !same(s));
            self.sms_sent.push(SentSms {
                to,
                text,
                parts: usize::from(total),
            });
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
            self.line(&format!("+CMTI: \"SM\",{index}"));
            indices.push(index);
        }
        Ok(indices)
    }

    /// Number of messages in the simulated SIM store.
    pub fn stored_sms(&self) -> usize {
        self.store.len()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::serial::SerialLink;
    use crate::modem::{Modem, ModemEvent, ModemTiming};

    struct NoCalls;
    impl Network for NoCalls {
        fn place_call(&mut self, _: Instant, _: &str) -> FarEnd {
            FarEnd::Unreachable
        }
        fn modem_hung_up(&mut self, _: Instant, _: &str) {}
        fn answered(&mut self, _: Instant, _: &str) {}
    }

    /// Runs driver and simulator against each other over the pty until `done` holds.
    fn run(
        sim: &mut SimModem,
        link: &mut SerialLink,
        m: &mut Modem,
        events: &mut Vec<ModemEvent>,
        done: impl Fn(&[ModemEvent], &SimModem) -> bool,
    ) {
        let start = Instant::now();
        let mut buf = [0u8; 1024];
        while !done(events, sim) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "stuck: {events:?}"
            );
            let now = Instant::now();
            while let Some(tx) = m.poll_transmit() {
                link.write_all(&tx).unwrap();
            }
            sim.step(now, &mut NoCalls);
            std::thread::sleep(Duration::from_millis(2));
            loop {
                let n = link.read_available(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                m.handle_input(Instant::now(), &buf[..n]);
            }
            m.handle_timeout(Instant::now());
            while let Some(e) = m.poll_event() {
                events.push(e);
            }
        }
    }

    #[test]
    fn driver_sends_and_receives_sms_through_the_pty() {
        let mut sim = SimModem::open().unwrap();
        let mut link = SerialLink::open(sim.path(), 115_200).unwrap();
        let mut m = Modem::new(Instant::now(), ModemTiming::default());
        let mut ev = Vec::new();
        run(&mut sim, &mut link, &mut m, &mut ev, |e, _| {
            e.contains(&ModemEvent::Ready)
        });
        assert!(sim.commands.iter().any(|c| c == "AT+CMGF=0"));
        let text = format!("Alarm 🚨 {}", "Ünïcödé ".repeat(12));
        let id = m.send_sms(Instant::now(), "+491701234567", &text);
        run(&mut sim, &mut link, &mut m, &mut ev, |e, _| {
            e.iter().any(|e| matches!(e, ModemEvent::SmsSent { .. }))
        });
        assert!(ev.iter().any(
            |e| matches!(e, ModemEvent::SmsSent { id: i, result: Ok(r) } if *i == id && r.len() == 2)
        ));
        assert_eq!(
            sim.sms_sent,
            vec![SentSms {
                to: "+491701234567".into(),
                text,
                parts: 2
            }]
        );
        let at = SmsTimestamp {
            year: 2025,
            month: 6,
            day: 7,
            hour: 8,
            minute: 9,
            second: 10,
            tz_quarters: 8,
        };
        sim.deliver_sms("+15550001111", "ack {ok}", at).unwrap();
        run(&mut sim, &mut link, &mut m, &mut ev, |e, s| {
            s.stored_sms() == 0
                && e.iter()
                    .any(|e| matches!(e, ModemEvent::SmsReceived { .. }))
        });
        assert!(ev.contains(&ModemEvent::SmsReceived {
            from: "+15550001111".into(),
            text: "ack {ok}".into(),
            at
        }));
    }
}

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
    /// Every command is answered this late.
    slow: Duration,
    /// When the oldest unanswered input arrived (slow mode).
    rx_since: Option<Instant>,
    /// Unplugged (USB gone) until then.
    replug_at: Option<Instant>,
    /// A symlink kept pointing at the current pseudo-terminal, like udev's
    /// `/dev/modem-at`.
    link: Option<std::path::PathBuf>,
    /// Reboots so far.
    reboots: u32,
}

impl SimModem {
    /// Keeps a symlink at `link` pointing to the current pseudo-terminal (as udev keeps
    /// `/dev/modem-at` pointing at whichever `ttyUSBn` the modem got); [`SimModem::path`]
    /// returns the link from now on.
    pub fn keep_symlink(&mut self, link: &std::path::Path) -> Result<()> {
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&self.path, link)
            .with_context(|| format!("cannot create the symlink {}", link.display()))?;
        self.faults.link = Some(link.to_path_buf());
        Ok(())
    }

    /// The device name the driver should open: the kept symlink, else the pty itself.
    pub fn device(&self) -> String {
        match &self.faults.link {
            Some(l) => l.display().to_string(),
            None => self.path.clone(),
        }
    }

    /// Reboots (power key, `AT+CFUN=1,1`, brown-out): the call drops, the modem is
    /// silent for `boot`, then sends `RDY`, `+CFUN: 1`, `+CPIN: READY`, `SMS DONE` with
    /// echo back on.
    pub fn reboot(&mut self, now: Instant, boot: Duration, net: &mut dyn Network) {
        if let Some(c) = self.call.take() {
            net.modem_hung_up(now, &c.number);
        }
        self.rx.clear();
        self.awaiting_pdu = None;
        self.echo = true;
        self.pdu_mode = false;
        self.faults.hung = false;
        self.faults.rx_since = None;
        self.faults.boot_at = Some(now + boot);
        self.faults.reboots += 1;
    }

    /// Stops answering entirely (firmware crash) until power-cycled with
    /// [`SimModem::reboot`].
    pub fn hang(&mut self) {
        self.faults.hung = true;
    }

    /// Whether the modem is hung.
    pub fn is_hung(&self) -> bool {
        self.faults.hung
    }

    /// Reboots so far.
    pub fn reboots(&self) -> u32 {
        self.faults.reboots
    }

    /// Answers every command `delay` late (0 = normal).
    pub fn set_slow(&mut self, delay: Duration) {
        self.faults.slow = delay;
    }

    /// Writes raw bytes to the driver: line noise, very long lines, partial lines.
    pub fn inject_garbage(&mut self, bytes: &[u8]) {
        let mut buf = bytes;
        while !buf.is_empty() {
            match nix::unistd::write(&self.master, buf) {
                Ok(n) => {
                    self.written += n as u64;
                    buf = &buf[n..];
                }
                Err(nix::errno::Errno::EAGAIN) => std::thread::yield_now(),
                Err(_) => return,
            }
        }
    }

    /// The USB device goes away for `gone` (as when a modem resets and re-enumerates):
    /// the pseudo-terminal is closed (the driver's reads fail), the symlink removed;
    /// afterwards a new pseudo-terminal (another `/dev/pts/N`) appears and the symlink
    /// points to it.
    pub fn unplug(&mut self, now: Instant, gone: Duration, net: &mut dyn Network) -> Result<()> {
        if let Some(c) = self.call.take() {
            net.modem_hung_up(now, &c.number);
        }
        // The new device is created now (so it gets another number, as a re-enumerated
        // USB modem gets another ttyUSBn) but stays hidden until the replug; dropping
        // the old pair hangs up the driver's open port.
        let (master, slave, path) = new_pty()?;
        self.master = master;
        self._slave = slave;
        self.path = path;
        self.rx.clear();
        if let Some(l) = &self.faults.link {
            let _ = std::fs::remove_file(l);
        }
        self.faults.replug_at = Some(now + gone);
        Ok(())
    }

    /// Whether the port is currently gone.
    pub fn unplugged(&self) -> bool {
        self.faults.replug_at.is_some()
    }

    fn replug(&mut self) -> Result<()> {
        self.written = 0;
        self.read = 0;
        self.rx.clear();
        self.echo = true;
        self.awaiting_pdu = None;
        self.faults.replug_at = None;
        if let Some(l) = self.faults.link.clone() {
            self.keep_symlink(&l)?;
        }
        Ok(())
    }

    /// When the fault machinery must run next (boot done, port back, slow answer due).
    pub fn faults_timeout(&self) -> Option<Instant> {
        let slow = self
            .faults
            .rx_since
            .filter(|_| !self.faults.hung)
            .map(|t| t + self.faults.slow);
        [self.faults.boot_at, self.faults.replug_at, slow]
            .into_iter()
            .flatten()
            .min()
    }

    /// Called by `step` after reading input: whether the input may be answered now.
    fn faults_gate(&mut self, now: Instant, net: &mut dyn Network) -> bool {
        if self.faults.replug_at.is_some_and(|t| now >= t) {
            if let Err(e) = self.replug() {
                tracing::error!("simulated modem: cannot re-create the port: {e:#}");
            }
        }
        if self.faults.replug_at.is_some() {
            self.rx.clear();
            return false;
        }
        if let Some(t) = self.faults.boot_at {
            if now < t {
                self.rx.clear();
                return false;
            }
            self.faults.boot_at = None;
            self.rx.clear();
            for urc in ["RDY", "+CFUN: 1", "+CPIN: READY", "SMS DONE"] {
                self.line(urc);
            }
        }
        if self.faults.hung {
            self.rx.clear();
            return false;
        }
        if !self.faults.slow.is_zero() && !self.rx.is_empty() {
            let since = *self.faults.rx_since.get_or_insert(now);
            if now < since + self.faults.slow {
                self.advance(now, net);
                return false;
            }
        }
        self.faults.rx_since = None;
        true
    }
}

impl Drop for SimModem {
    fn drop(&mut self) {
        if let Some(l) = &self.faults.link {
            let _ = std::fs::remove_file(l);
        }
    }
}
