//! `switchboard modem …`: bring-up tool driving the real [`Modem`] state machine over
//! the real serial driver ([`ModemLink::pump`]) in a small real-time loop, and `switchboard sim modem`,
//! the simulated modem on a pseudo-terminal for testing it.

use std::io::Write;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::json;

use crate::hw::modem_link::ModemLink;
use crate::hw::sim::modem::{FarEnd, Network, Quirks, SimLock, SimModem, SimModemConfig};
use crate::modem::{
    DialectSetting, ForwardReason, LegEnd, LegId, LegState, Modem, ModemConfig, ModemEvent,
    ModemTiming, sms,
};

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
    /// Wait for an incoming call; exit 0 when one came (with --answer: when it was
    /// answered).
    WaitCall {
        /// Answer it (`ATA`).
        #[arg(long)]
        answer: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
        /// With --answer: stay connected this long (printing DTMF digits the modem
        /// reports), then hang up.
        #[arg(long)]
        hangup_after: Option<f64>,
    },
    /// SMS.
    Sms {
        #[command(subcommand)]
        command: SmsCommand,
    },
    /// Call forwarding of the SIM's number (`AT+CCFC`).
    Forward {
        #[command(subcommand)]
        command: ForwardCommand,
    },
}

/// `switchboard modem forward …`.
#[derive(Debug, Subcommand)]
pub enum ForwardCommand {
    /// Show the forwarding the network has for a reason.
    Query {
        /// unconditional, busy, no-reply or not-reachable.
        #[arg(long, default_value = "unconditional")]
        reason: String,
    },
    /// Forward calls to NUMBER (register and enable).
    Set {
        /// Target number, E.164 (+491701234567).
        number: String,
        /// unconditional, busy, no-reply, not-reachable, all or all-conditional.
        #[arg(long, default_value = "unconditional")]
        reason: String,
    },
    /// Erase forwarding.
    Clear {
        /// unconditional, busy, no-reply, not-reachable, all or all-conditional.
        #[arg(long, default_value = "all")]
        reason: String,
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
    link: ModemLink,
    modem: Modem,
}

impl Driver {
    fn open(port: &str, baud: u32, cfg: ModemConfig) -> Result<Self> {
        let link = ModemLink::open_serial(port, baud)?;
        Ok(Self {
            link,
            modem: Modem::with_config(Instant::now(), ModemTiming::default(), cfg),
        })
    }

    /// Runs the loop until an event comes or `deadline` passes.
    fn next_event(&mut self, deadline: Instant) -> Result<Option<ModemEvent>> {
        let Some(raw_fd) = self.link.raw_fd() else {
            bail!("the modem tool needs a serial port");
        };
        loop {
            while self.link.pump(Instant::now(), &mut self.modem)? {}
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
            let fd = unsafe { BorrowedFd::borrow_raw(raw_fd) };
            let mut pfd = [PollFd::new(fd, PollFlags::POLLIN)];
            let _ = poll(&mut pfd, PollTimeout::from(ms));
            let hup = pfd[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
            while self.link.pump(Instant::now(), &mut self.modem)? {}
            if hup {
                bail!("the modem's AT port hung up");
            }
            self.modem.handle_timeout(Instant::now());
        }
    }

    /// Waits for init; `Ok(Some(fault))` when init stopped (SIM locked, essential
    /// command rejected).
    fn wait_ready(&mut self) -> Result<Option<String>> {
        let deadline = Instant::now() + INIT_TIMEOUT;
        loop {
            match self.next_event(deadline)? {
                Some(ModemEvent::Ready) => return Ok(None),
                Some(ModemEvent::Fault(f)) if self.modem.init_stopped() => return Ok(Some(f)),
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
pub fn run(
    port: &str,
    baud: u32,
    dialect: &str,
    pin: Option<String>,
    command: ModemCommand,
) -> Result<bool> {
    let setting = DialectSetting::parse(dialect).map_err(anyhow::Error::msg)?;
    if let Some(p) = &pin {
        if !(4..=8).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--pin `{p}`: a SIM PIN is 4 to 8 digits");
        }
    }
    let cfg = ModemConfig {
        dialect: setting,
        pin,
        ..ModemConfig::default()
    };
    let mut d = Driver::open(port, baud, cfg)?;
    let stopped = d.wait_ready()?;
    if let (Some(fault), false) = (&stopped, matches!(command, ModemCommand::Info)) {
        bail!("the modem cannot be used: {fault}");
    }
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
                "sim_state": st.sim,
                "registration": st.registration,
                "operator": st.operator,
                "access_technology": st.access_technology,
                "signal_dbm": st.signal_dbm,
                "rsrp_dbm": st.rsrp_dbm,
                "ims": st.ims,
                "lac": st.lac,
                "cell_id": st.cell_id,
                "dialect": d.modem.dialect().as_str(),
                "dialect_setting": dialect,
                "ready": st.ready,
                "fault": stopped,
            }));
            Ok(stopped.is_none())
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
        ModemCommand::WaitCall {
            answer,
            timeout,
            hangup_after,
        } => {
            let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
            loop {
                match d.next_event(deadline)? {
                    Some(ModemEvent::Incoming { leg, caller_id }) => {
                        print(json!({"event": "incoming", "caller_id": caller_id}));
                        if answer {
                            return answer_call(&mut d, leg, hangup_after);
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
        ModemCommand::Forward { command } => forward(&mut d, command),
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

/// Answers `leg`; with `hangup_after`, stays connected that long printing modem DTMF
/// reports and call waiting, then hangs up.
fn answer_call(d: &mut Driver, leg: LegId, hangup_after: Option<f64>) -> Result<bool> {
    if !d.modem.answer(Instant::now(), leg) {
        print(json!({"event": "answer_failed"}));
        return Ok(false);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match d.next_event(deadline)? {
            Some(ModemEvent::Leg { leg: l, state }) if l == leg => match state {
                LegState::Active => {
                    print(json!({"event": "answered"}));
                    break;
                }
                LegState::Ended(end) => {
                    print(json!({"event": "answer_failed", "reason": format!("{end:?}")}));
                    return Ok(false);
                }
                _ => {}
            },
            Some(_) => {}
            None => {
                print(json!({"event": "answer_failed", "reason": "timeout"}));
                return Ok(false);
            }
        }
    }
    let Some(secs) = hangup_after else {
        return Ok(true);
    };
    let until = Instant::now() + Duration::from_secs_f64(secs.max(0.0));
    loop {
        match d.next_event(until)? {
            Some(ModemEvent::Dtmf { digit, .. }) => {
                print(json!({"event": "dtmf", "digit": digit.to_string()}));
            }
            Some(ModemEvent::CallWaiting { caller_id, .. }) => {
                print(json!({"event": "call_waiting", "caller_id": caller_id}));
            }
            Some(ModemEvent::Leg {
                leg: l,
                state: LegState::Ended(_),
            }) if l == leg => {
                print(json!({"event": "ended", "reason": "caller_hung_up"}));
                return Ok(true);
            }
            Some(_) => {}
            None => break,
        }
    }
    d.modem.hangup(Instant::now(), leg);
    let _ = d.next_event(Instant::now() + Duration::from_millis(500));
    print(json!({"event": "ended", "reason": "hangup"}));
    Ok(true)
}

fn forward(d: &mut Driver, command: ForwardCommand) -> Result<bool> {
    let now = Instant::now();
    let parse = |r: &str| ForwardReason::parse(r).map_err(anyhow::Error::msg);
    let (id, what) = match &command {
        ForwardCommand::Query { reason } => {
            let r = parse(reason)?;
            if matches!(r, ForwardReason::All | ForwardReason::AllConditional) {
                bail!(
                    "--reason {reason}: a query needs one reason (unconditional, busy, no-reply, not-reachable)"
                );
            }
            (d.modem.forward_query(now, r), json!({"reason": r}))
        }
        ForwardCommand::Set { number, reason } => {
            let r = parse(reason)?;
            let id = d
                .modem
                .forward_set(now, r, number)
                .map_err(anyhow::Error::msg)?;
            (id, json!({"reason": r, "number": number}))
        }
        ForwardCommand::Clear { reason } => {
            let r = parse(reason)?;
            (d.modem.forward_clear(now, r), json!({"reason": r}))
        }
    };
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        match d.next_event(deadline)? {
            Some(ModemEvent::Forwarding { id: got, result }) if got == id => {
                let mut out = what;
                let ok = result.is_ok();
                match (result, &command) {
                    (Ok(rules), ForwardCommand::Query { .. }) => {
                        out["active"] = json!(rules.iter().any(|r| r.active));
                        out["rules"] = json!(rules);
                    }
                    (Ok(_), ForwardCommand::Set { .. }) => out["forwarded"] = json!(true),
                    (Ok(_), ForwardCommand::Clear { .. }) => out["cleared"] = json!(true),
                    (Err(e), _) => out["error"] = json!(e),
                }
                print(out);
                return Ok(ok);
            }
            Some(_) => {}
            None => bail!("no answer from the network to the forwarding request within 45 s"),
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

/// `switchboard sim modem` options: which modem it pretends to be, and what the
/// network does.
#[derive(Debug, Clone, clap::Args)]
pub struct SimModemArgs {
    /// The called party answers after this many seconds (default: never).
    #[arg(long)]
    pub answer_after: Option<f64>,
    /// The called party is busy.
    #[arg(long)]
    pub busy: bool,
    /// Which modem to be: generic, quectel (EC25) or simcom (SIM7600).
    #[arg(long, default_value = "generic")]
    pub dialect: String,
    /// The SIM is locked with this PIN (3 attempts, then PUK).
    #[arg(long)]
    pub pin: Option<String>,
    /// The SIM is blocked and needs its PUK.
    #[arg(long)]
    pub puk: bool,
    /// No SIM inserted.
    #[arg(long)]
    pub no_sim: bool,
    /// Never echo commands.
    #[arg(long)]
    pub no_echo: bool,
    /// `+CRING: VOICE` instead of `RING`.
    #[arg(long)]
    pub cring: bool,
    /// Plain `ERROR` for every failure.
    #[arg(long)]
    pub plain_errors: bool,
    /// `ERROR` for `AT+CEREG`.
    #[arg(long)]
    pub no_cereg: bool,
    /// All four simpler-modem quirks at once.
    #[arg(long)]
    pub simple: bool,
    /// Delay every answer by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub slow_ms: u64,
    /// A call from NUMBER (E.164 with + → type 145) comes in.
    #[arg(long, value_name = "NUMBER")]
    pub incoming_call: Option<String>,
    /// ... this many seconds after the first command from the driver.
    #[arg(long, default_value_t = 1.0)]
    pub after: f64,
    /// A second call from NUMBER waits, 1 s after the first call is answered.
    #[arg(long, value_name = "NUMBER")]
    pub waiting_call: Option<String>,
    /// The far end presses these keys 0.5 s after a call connects.
    #[arg(long, value_name = "DIGITS")]
    pub far_dtmf: Option<String>,
    /// Lose network registration this many seconds after the first command.
    #[arg(long)]
    pub lose_registration_after: Option<f64>,
    /// ... and get it back this many seconds after losing it.
    #[arg(long, default_value_t = 2.0)]
    pub registration_back_after: f64,
    /// A message from this sender is already stored on the SIM (with --stored-sms-text).
    #[arg(long, requires = "stored_sms_text")]
    pub stored_sms_from: Option<String>,
    /// The stored message's text.
    #[arg(long, requires = "stored_sms_from")]
    pub stored_sms_text: Option<String>,
}

impl SimModemArgs {
    fn config(&self) -> Result<SimModemConfig> {
        let dialect = match DialectSetting::parse(&self.dialect).map_err(anyhow::Error::msg)? {
            DialectSetting::Fixed(d) => d,
            DialectSetting::Auto => {
                bail!("--dialect: the simulated modem needs generic, quectel or simcom")
            }
        };
        let sim = match (&self.pin, self.puk, self.no_sim) {
            (None, false, false) => SimLock::Ready,
            (Some(p), false, false) => SimLock::Pin(p.clone()),
            (None, true, false) => SimLock::Puk,
            (None, false, true) => SimLock::Absent,
            _ => bail!("give at most one of --pin, --puk and --no-sim"),
        };
        Ok(SimModemConfig {
            dialect: Some(dialect),
            quirks: Quirks {
                no_echo: self.no_echo || self.simple,
                cring: self.cring || self.simple,
                plain_errors: self.plain_errors || self.simple,
                no_cereg: self.no_cereg || self.simple,
            },
            sim,
            slow: Duration::from_millis(self.slow_ms),
        })
    }
}

/// `switchboard sim modem`: serves the simulated modem until killed; prints its path,
/// then what the network sees as JSON lines (SMS received, PIN entries, calls
/// answered, forwarding changes, DTMF sent by the driver).
pub fn serve_sim(args: &SimModemArgs) -> Result<()> {
    let mut sim = SimModem::open_with(args.config()?)?;
    let far = if args.busy {
        FarEnd::Busy
    } else {
        FarEnd::Rings {
            answer_after: args
                .answer_after
                .map(|s| Duration::from_secs_f64(s.max(0.0))),
        }
    };
    let mut net = CliNetwork { far };
    if let (Some(from), Some(text)) = (&args.stored_sms_from, &args.stored_sms_text) {
        let at = sms::SmsTimestamp {
            year: 2025,
            month: 1,
            day: 2,
            hour: 3,
            minute: 4,
            second: 5,
            tz_quarters: 4,
        };
        sim.store_sms(from, text, at)
            .map_err(|e| anyhow::anyhow!("--stored-sms-text: {e}"))?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", sim.path()).context("stdout")?;
        out.flush().context("stdout")?;
    }
    let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
    let mut reported = 0;
    let mut pin_entries = 0;
    let mut dtmf_seen = 0;
    let mut forwarding: Vec<Option<String>> = vec![None; 4];
    let mut started: Option<Instant> = None;
    let mut incoming = args.incoming_call.clone();
    let mut waiting = args.waiting_call.clone();
    let mut far_dtmf = args.far_dtmf.clone();
    let mut connected_at: Option<Instant> = None;
    let mut lost_at: Option<Instant> = None;
    let mut lose = args.lose_registration_after;
    loop {
        let now = Instant::now();
        sim.step(now, &mut net);
        if started.is_none() && !sim.commands.is_empty() {
            started = Some(now);
        }
        if let Some(t0) = started {
            if incoming.is_some() && now >= t0 + secs(args.after) {
                if let Some(n) = incoming.take() {
                    let ok = sim.incoming_call(now, &n);
                    print(json!({"network": "incoming_call", "from": n, "delivered": ok}));
                }
            }
            if let Some(after) = lose {
                if now >= t0 + secs(after) {
                    lose = None;
                    sim.set_registered(false);
                    lost_at = Some(now);
                    print(json!({"network": "registration_lost"}));
                }
            }
            if lost_at.is_some_and(|t| now >= t + secs(args.registration_back_after)) {
                lost_at = None;
                sim.set_registered(true);
                print(json!({"network": "registration_back"}));
            }
        }
        match (sim.in_call(), connected_at) {
            (true, None) => {
                connected_at = Some(now);
                print(json!({"network": "call_connected"}));
            }
            (false, Some(_)) => connected_at = None,
            _ => {}
        }
        if let Some(t) = connected_at {
            if far_dtmf.is_some() && now >= t + Duration::from_millis(500) {
                if let Some(digits) = far_dtmf.take() {
                    sim.far_end_dtmf(&digits);
                    print(json!({"network": "far_end_dtmf", "digits": digits}));
                }
            }
            if waiting.is_some() && now >= t + Duration::from_secs(1) {
                if let Some(n) = waiting.take() {
                    let ok = sim.incoming_call(now, &n);
                    print(json!({"network": "waiting_call", "from": n, "delivered": ok}));
                }
            }
        }
        while reported < sim.sms_sent.len() {
            let m = &sim.sms_sent[reported];
            print(json!({"sms": {"to": m.to, "text": m.text, "parts": m.parts}}));
            reported += 1;
        }
        if sim.pin_entries > pin_entries {
            pin_entries = sim.pin_entries;
            print(json!({"pin_entries": pin_entries, "sim": sim.sim_state()}));
        }
        if sim.dtmf_sent.len() > dtmf_seen {
            print(json!({"dtmf_from_modem": &sim.dtmf_sent[dtmf_seen..]}));
            dtmf_seen = sim.dtmf_sent.len();
        }
        for (r, slot) in forwarding.iter_mut().enumerate() {
            let now_set = sim.forwarding(r as u8).map(str::to_string);
            if *slot != now_set {
                print(json!({"forwarding": {"reason": r, "number": now_set}}));
                *slot = now_set;
            }
        }
        // SAFETY: the fd belongs to sim, which outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(sim.raw_fd()) };
        let mut pfd = [PollFd::new(fd, PollFlags::POLLIN)];
        let _ = poll(&mut pfd, PollTimeout::from(20u16));
        let _ = std::io::stdout().flush().context("stdout");
    }
}
