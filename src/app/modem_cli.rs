//! `switchboard modem …`: bring-up tool driving the real [`Modem`] state machine over
//! the real [`SerialLink`] in a small real-time loop, and `switchboard sim modem`,
//! the simulated modem on a pseudo-terminal for testing it.

use std::io::Write;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::json;

use crate::hw::sim::modem::{FarEnd, Network, SimModem};
use crate::modem::serial::SerialLink;
use crate::modem::{LegEnd, LegState, Modem, ModemEvent, ModemTiming, sms};

/// What `switchboard modem` does.
#[derive(Debug, Subcommand)]
pub enum ModemCommand {
    /// Identity, SIM, registration, operator, access technology and signal as JSON.
    Info,
    /// Dial a number; JSON lines of progress; exit 0 only if the far end answered.
    Dial {
        /// The number to call.
        number: String,
        /// Hang up this many seconds after the answer.
        #[arg(long, default_value_t = 0.0)]
        hangup_after: f64,
        /// Give up (hang up) when not answered within this many seconds.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
    },
    /// Wait for an incoming call; exit 0 when one came.
    WaitCall {
        /// Answer it (`ATA`).
        #[arg(long)]
        answer: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
    },
    /// SMS.
    Sms {
        #[command(subcommand)]
        command: SmsCommand,
    },
}

/// `switchboard modem sms …`.
#[derive(Debug, Subcommand)]
pub enum SmsCommand {
    /// Send a text (PDU mode, Unicode and long texts allowed); exit 0 on `+CMGS`.
    Send {
        /// Destination number.
        number: String,
        /// The text.
        text: String,
    },
    /// List stored messages as JSON.
    List,
}

/// How long initialisation may take.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

struct Driver {
    link: SerialLink,
    modem: Modem,
}

impl Driver {
    fn open(port: &str, baud: u32) -> Result<Self> {
        let link = SerialLink::open(port, baud)?;
        Ok(Self {
            link,
            modem: Modem::new(Instant::now(), ModemTiming::default()),
        })
    }

    /// Runs the loop until an event comes or `deadline` passes.
    fn next_event(&mut self, deadline: Instant) -> Result<Option<ModemEvent>> {
        let mut buf = [0u8; 1024];
        loop {
            while let Some(tx) = self.modem.poll_transmit() {
                self.link.write_all(&tx)?;
            }
            if let Some(ev) = self.modem.poll_event() {
                return Ok(Some(ev));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let wake = self
                .modem
                .poll_timeout()
                .map_or(deadline, |t| t.min(deadline));
            let ms = wake
                .saturating_duration_since(now)
                .as_millis()
                .clamp(1, 1000) as u16;
            // SAFETY: the fd belongs to self.link, which outlives this borrow.
            let fd = unsafe { BorrowedFd::borrow_raw(self.link.raw_fd()) };
            let mut pfd = [PollFd::new(fd, PollFlags::POLLIN)];
            let _ = poll(&mut pfd, PollTimeout::from(ms));
            let hup = pfd[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
            loop {
                let n = self.link.read_available(&mut buf)?;
                if n == 0 {
                    break;
                }
                self.modem.handle_input(Instant::now(), &buf[..n]);
            }
            if hup {
                bail!("the modem's AT port hung up");
            }
            self.modem.handle_timeout(Instant::now());
        }
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + INIT_TIMEOUT;
        loop {
            match self.next_event(deadline)? {
                Some(ModemEvent::Ready) => return Ok(()),
                Some(other) => tracing::debug!(?other, "modem event during init"),
                None => bail!(
                    "the modem did not finish initialising within {} s (wrong port or baud rate, or not an AT modem?)",
                    INIT_TIMEOUT.as_secs()
                ),
            }
        }
    }

    fn query(&mut self, cmd: &str) -> Result<(bool, Vec<String>)> {
        let id = self.modem.query(Instant::now(), cmd);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.next_event(deadline)? {
                Some(ModemEvent::Response {
                    id: got, ok, lines, ..
                }) if got == id => {
                    return Ok((ok, lines));
                }
                Some(_) => {}
                None => bail!("no answer to {cmd}"),
            }
        }
    }
}

fn print(v: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn first_line(r: (bool, Vec<String>), strip: &str) -> Option<String> {
    let (ok, lines) = r;
    ok.then(|| {
        lines
            .into_iter()
            .map(|l| l.trim().trim_start_matches(strip).trim().to_string())
            .find(|l| !l.is_empty())
    })
    .flatten()
}

/// Runs `switchboard modem`; returns whether the command succeeded.
pub fn run(port: &str, baud: u32, dialect: &str, command: ModemCommand) -> Result<bool> {
    if !matches!(dialect, "auto" | "generic" | "quectel" | "simcom") {
        bail!("unknown dialect `{dialect}`: auto, generic, quectel or simcom");
    }
    let mut d = Driver::open(port, baud)?;
    d.wait_ready()?;
    match command {
        ModemCommand::Info => {
            let manufacturer = first_line(d.query("AT+CGMI")?, "+CGMI:");
            let model = first_line(d.query("AT+CGMM")?, "+CGMM:");
            let firmware = first_line(d.query("AT+CGMR")?, "+CGMR:")
                .map(|f| f.trim_start_matches("Revision:").trim().to_string());
            let imei = first_line(d.query("AT+CGSN")?, "+CGSN:");
            let sim = first_line(d.query("AT+CPIN?")?, "+CPIN:");
            let st = d.modem.status().clone();
            print(json!({
                "manufacturer": manufacturer,
                "model": model,
                "firmware": firmware,
                "imei": imei,
                "sim": sim,
                "registration": st.registration,
                "operator": st.operator,
                "access_technology": st.access_technology,
                "signal_dbm": st.signal_dbm,
                "dialect": dialect,
            }));
            Ok(true)
        }
        ModemCommand::Dial {
            number,
            hangup_after,
            timeout,
        } => {
            let leg = d.modem.dial(Instant::now(), &number);
            print(json!({"event": "dialing", "number": number}));
            let give_up = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
            let mut answered = false;
            let mut hangup_at: Option<Instant> = None;
            loop {
                let deadline = hangup_at.unwrap_or(give_up);
                match d.next_event(deadline)? {
                    Some(ModemEvent::Leg { leg: l, state }) if l == leg => match state {
                        LegState::Alerting => print(json!({"event": "alerting"})),
                        LegState::Held => print(json!({"event": "held"})),
                        LegState::Active => {
                            answered = true;
                            print(json!({"event": "answered"}));
                            hangup_at = Some(
                                Instant::now() + Duration::from_secs_f64(hangup_after.max(0.0)),
                            );
                        }
                        LegState::Ended(end) => {
                            let reason = match end {
                                LegEnd::Busy => "busy".to_string(),
                                LegEnd::NoAnswer => "no_answer".to_string(),
                                LegEnd::NoCarrier => "no_carrier".to_string(),
                                LegEnd::Error(e) => format!("error: {e}"),
                            };
                            print(json!({"event": "ended", "reason": reason}));
                            return Ok(answered);
                        }
                    },
                    Some(_) => {}
                    None => {
                        let reason = if answered { "hangup" } else { "timeout" };
                        d.modem.hangup(Instant::now(), leg);
                        // let the hang-up go out
                        let _ = d.next_event(Instant::now() + Duration::from_millis(500));
                        print(json!({"event": "ended", "reason": reason}));
                        return Ok(answered);
                    }
                }
            }
        }
        ModemCommand::WaitCall { answer, timeout } => {
            let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
            loop {
                match d.next_event(deadline)? {
                    Some(ModemEvent::Incoming { caller_id, .. }) => {
                        print(json!({"event": "incoming", "caller_id": caller_id}));
                        if answer {
                            let (ok, _) = d.query("ATA")?;
                            print(json!({"event": if ok { "answered" } else { "answer_failed" }}));
                            return Ok(ok);
                        }
                        return Ok(true);
                    }
                    Some(_) => {}
                    None => {
                        print(json!({"event": "timeout"}));
                        return Ok(false);
                    }
                }
            }
        }
        ModemCommand::Sms {
            command: SmsCommand::Send { number, text },
        } => {
            let id = d.modem.send_sms(Instant::now(), &number, &text);
            let deadline = Instant::now() + Duration::from_secs(300);
            loop {
                match d.next_event(deadline)? {
                    Some(ModemEvent::SmsSent { id: got, result }) if got == id => {
                        return Ok(match result {
                            Ok(refs) => {
                                print(json!({"sent": true, "references": refs}));
                                true
                            }
                            Err(e) => {
                                print(json!({"sent": false, "error": e}));
                                false
                            }
                        });
                    }
                    Some(_) => {}
                    None => bail!("no outcome for the SMS within 300 s"),
                }
            }
        }
        ModemCommand::Sms {
            command: SmsCommand::List,
        } => {
            let (ok, lines) = d.query("AT+CMGL=4")?;
            if !ok {
                bail!("AT+CMGL=4 failed");
            }
            let mut out = Vec::new();
            let mut index = None;
            for l in lines {
                if let Some(rest) = l.trim().strip_prefix("+CMGL:") {
                    index = rest
                        .split(',')
                        .next()
                        .and_then(|i| i.trim().parse::<u32>().ok());
                } else if let Some(i) = index.take() {
                    out.push(match sms::decode_deliver(&l) {
                        Ok(m) => json!({"index": i, "from": m.from, "at": m.timestamp,
                            "text": m.text, "concat": m.concat}),
                        Err(e) => json!({"index": i, "error": e.to_string()}),
                    });
                }
            }
            print(serde_json::Value::Array(out));
            Ok(true)
        }
    }
}

struct CliNetwork {
    far: FarEnd,
}

impl Network for CliNetwork {
    fn place_call(&mut self, _: Instant, _: &str) -> FarEnd {
        self.far
    }
    fn modem_hung_up(&mut self, _: Instant, _: &str) {}
    fn answered(&mut self, _: Instant, _: &str) {}
}

/// `switchboard sim modem`: serves the simulated modem until killed; prints its path,
/// then each SMS it receives as a JSON line.
pub fn serve_sim(answer_after: Option<f64>, busy: bool) -> Result<()> {
    let mut sim = SimModem::open()?;
    let far = if busy {
        FarEnd::Busy
    } else {
        FarEnd::Rings {
            answer_after: answer_after.map(|s| Duration::from_secs_f64(s.max(0.0))),
        }
    };
    let mut net = CliNetwork { far };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", sim.path()).context("stdout")?;
        out.flush().context("stdout")?;
    }
    let mut reported = 0;
    loop {
        sim.step(Instant::now(), &mut net);
        while reported < sim.sms_sent.len() {
            let m = &sim.sms_sent[reported];
            print(json!({"sms": {"to": m.to, "text": m.text, "parts": m.parts}}));
            reported += 1;
        }
        // SAFETY: the fd belongs to sim, which outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(sim.raw_fd()) };
        let mut pfd = [PollFd::new(fd, PollFlags::POLLIN)];
        let _ = poll(&mut pfd, PollTimeout::from(20u16));
        let _ = std::io::stdout().flush().context("stdout");
    }
}
