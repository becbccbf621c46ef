//! The simulated board: virtual FXO/FXS lines with a simulated central office, a
//! simulated modem on a real pseudo-terminal, virtual audio, and simulated people.
//!
//! It implements [`Board`] like a real board does, so the engine cannot tell the
//! difference. Time comes from the engine: in the scenario runner it is virtual, in
//! `switchboard run` it is real.

pub mod memlink;
pub mod modem;
pub mod modem_rig;
pub mod party;

use std::collections::{HashMap, VecDeque};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use anyhow::Result;

use self::modem::{FarEnd, Network, SimModem, SimModemConfig};
use self::party::Party;
use super::Board;
use super::serial_pcm::{PcmOptions, PcmPort, SerialPcm};
use crate::config::{BoardProfile, PortKind};
use crate::dsp::callerid::{CallerId, FskGenParams, FskStandard, modulate};
use crate::dsp::dtmf::{DtmfDetector, DtmfEvent};
use crate::dsp::progress::{self, CadenceGen, ToneKind};
use crate::exchange::PortIdx;
use crate::line::{LineCommand, LineSignal};
use crate::media::{Frame, SILENCE};

#[derive(Debug, Clone)]
enum LineState {
    Idle,
    Ringing {
        ring_on: bool,
        next_change: Instant,
        caller_id: Option<String>,
        cid_at: Option<Instant>,
        /// Caller ID FSK being sent in the ring pause, and how much has been sent.
        cid_audio: Option<(Vec<i16>, usize)>,
    },
    Connected,
    /// FXS: the box rings the phone; the person picks up at `answer_at` (never: None).
    Alerting {
        answer_at: Option<Instant>,
    },
    /// FXO, the box seized the line to call out: dial tone until the first digit, the
    /// digits it sends are collected until they pause for [`INTERDIGIT`].
    Seized {
        digits: String,
        dtmf: Box<DtmfDetector>,
        last_digit: Option<Instant>,
        dial_tone: Option<Box<CadenceGen<'static>>>,
    },
    /// FXO, the office routed the call: ringback, busy or SIT to the box; the far end
    /// answers at `answer_at`.
    Calling {
        tone: Box<CadenceGen<'static>>,
        answer_at: Option<Instant>,
    },
}

/// The simulated office routes a dialled number once no digit came for this long.
const INTERDIGIT: Duration = Duration::from_secs(2);

struct SimLine {
    id: String,
    kind: PortKind,
    state: LineState,
    party: Option<usize>,
    off_hook: bool,
    /// The line is dead (cut cable): no dial tone, no ringing.
    dead: bool,
}

/// A responder behind the simulated network.
pub struct Responder {
    /// What the network does when the number is dialled.
    pub far: FarEnd,
    /// Party template, instantiated per call (so a second call gets a fresh person).
    pub make: Box<dyn Fn() -> Party + Send>,
}

/// Everything in the simulated world except the modem (split so the modem can call
/// back into the world as its [`Network`]).
struct World {
    lines: Vec<SimLine>,
    parties: Vec<Party>,
    responders: HashMap<String, Responder>,
    modem_party: Option<usize>,
    /// A second caller of the SIM whose call waits behind the modem's call (`+CCWA`):
    /// the number they call from and the party.
    modem_waiting: Option<(String, usize)>,
    signals: VecDeque<(PortIdx, LineSignal)>,
    scheduled: Vec<(Instant, PortIdx, Option<String>, usize)>,
    cadence: (Duration, Duration),
    cid_standard: FskStandard,
    log: Vec<(Instant, String)>,
    /// The country (tone plan and dialling prefix of the office).
    country: String,
}

impl Network for World {
    fn place_call(&mut self, now: Instant, number: &str) -> FarEnd {
        match self.responders.get(number) {
            Some(r) => {
                let far = r.far;
                let party = (r.make)();
                self.log.push((
                    now,
                    format!("network: {number} ({}) is being called", party.name),
                ));
                self.parties.push(party);
                self.modem_party = Some(self.parties.len() - 1);
                far
            }
            None => {
                self.log.push((
                    now,
                    format!("network: {number} rings (nobody simulated there)"),
                ));
                self.modem_party = None;
                FarEnd::Rings { answer_after: None }
            }
        }
    }

    fn modem_hung_up(&mut self, now: Instant, number: &str) {
        let digits = |n: &str| n.trim_start_matches('+').to_string();
        if let Some((n, i)) = self.modem_waiting.take() {
            if digits(&n) == digits(number) {
                // the waiting call was rejected (AT+CHLD=0): the caller hears busy
                self.parties[i].on_hung_up(now);
                self.log.push((
                    now,
                    format!("network: the waiting call from {n} is rejected by the box (busy)"),
                ));
                return;
            }
            self.modem_waiting = Some((n, i));
        }
        if let Some(i) = self.modem_party.take() {
            self.parties[i].on_hung_up(now);
        }
        self.log.push((
            now,
            format!("network: call to {number} released by the box"),
        ));
    }

    fn answered(&mut self, now: Instant, number: &str) {
        if let Some(i) = self.modem_party {
            let name = self.parties[i].name.clone();
            self.log.push((now, format!("{name} picks up ({number})")));
            self.parties[i].on_answered(now);
        }
    }
}

/// A modem fault scheduled in the simulated world (scenario files, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemFault {
    /// The modem reboots by itself (brown-out, firmware crash with watchdog): calls
    /// drop, silence for this long, then the boot URCs.
    Reboot(Duration),
    /// The modem stops answering until its power key is pulsed.
    Hang,
    /// Every answer comes this late.
    Slow(Duration),
    /// Bytes that are not AT dialogue (noise, long lines, partial lines).
    Garbage(Vec<u8>),
    /// The USB device goes away for this long and comes back as a new pseudo-terminal
    /// behind the same symlink.
    Unplug(Duration),
    /// The network registration is lost (`false`) or back (`true`).
    Registration(bool),
    /// Not a fault: the network delivers an SMS (stored, announced with `+CMTI`).
    IncomingSms {
        /// Sender.
        from: String,
        /// Text.
        text: String,
        /// Service-centre time stamp.
        at: crate::modem::sms::SmsTimestamp,
    },
}

/// The simulated board.
pub struct SimBoard {
    modem: Option<SimModem>,
    modem_port: Option<PortIdx>,
    world: World,
    /// Scheduled modem faults, and the temporary directory of the modem's symlink.
    faults: Vec<(Instant, ModemFault)>,
    dev_dir: Option<std::path::PathBuf>,
    /// SIMCom serial PCM (`pcm_serial = "sim"`): the box's real serial PCM device on the
    /// simulated modem's PCM pseudo-terminal; the modem's audio goes through it.
    pcm: Option<(SerialPcm, PcmPort)>,
    /// Frames (down, up) at the start of the current PCM stream, while one runs.
    pcm_stream: Option<(u64, u64)>,
    /// Analog lines to cut or mend: (when, port, dead).
    line_faults: Vec<(Instant, PortIdx, bool)>,
}

impl SimBoard {
    /// Builds the simulated hardware of a board profile (opening the modem's
    /// pseudo-terminal).
    pub fn new(profile: &BoardProfile) -> Result<Self> {
        Self::build(profile, false)
    }

    /// The simulated board for virtual time: the modem's AT port is an in-memory line
    /// (no pseudo-terminal round trips, nothing waits on the wall clock), and so is its
    /// serial PCM port if the profile has one: the box's serial PCM code runs in-process,
    /// pumped by the board ([`SerialPcm::in_memory`]) instead of on its thread.
    pub fn new_virtual(profile: &BoardProfile) -> Result<Self> {
        Self::build(profile, true)
    }

    fn build(profile: &BoardProfile, in_memory: bool) -> Result<Self> {
        let lines = profile
            .ports
            .iter()
            .map(|p| SimLine {
                id: p.id.get_ref().clone(),
                kind: *p.kind.get_ref(),
                state: LineState::Idle,
                party: None,
                off_hook: false,
                dead: false,
            })
            .collect::<Vec<_>>();
        let (mut modem, modem_port) = match &profile.modem {
            Some(m) => {
                // The profile's dialect picks which modem is simulated (auto: generic).
                let dialect = match m.dialect.as_str() {
                    "simcom" => Some(crate::modem::Dialect::Simcom),
                    "quectel" => Some(crate::modem::Dialect::Quectel),
                    _ => None,
                };
                let cfg = SimModemConfig {
                    dialect,
                    sim: match &m.simulated_sim_pin {
                        Some(pin) => modem::SimLock::Pin(pin.clone()),
                        None => modem::SimLock::Ready,
                    },
                    ..SimModemConfig::default()
                };
                let mut sm = SimModem::open_with(cfg)?;
                if in_memory {
                    sm = sm.in_memory();
                }
                if m.pcm_serial.is_some() {
                    sm = sm.with_pcm()?;
                }
                (Some(sm), Some(lines.len()))
            }
            None => (None, None),
        };
        let dev_dir = match modem.as_mut() {
            Some(m) => Some(sim_dev_dir(m)?),
            None => None,
        };
        let opts = PcmOptions {
            realtime: false,
            // virtual time: streams end when the modem says so, not by the clock
            stream_gap: Duration::from_secs(3600),
            ..PcmOptions::default()
        };
        let pcm = match modem.as_ref() {
            Some(m) => match (m.pcm_mem_link(), m.pcm_device()) {
                (Some(link), _) => Some(SerialPcm::in_memory(link, opts)),
                (None, Some(path)) => Some(SerialPcm::spawn(&path, opts)?),
                (None, None) => None,
            },
            None => None,
        };
        Ok(Self {
            modem,
            modem_port,
            faults: Vec::new(),
            dev_dir,
            pcm,
            pcm_stream: None,
            line_faults: Vec::new(),
            world: World {
                lines,
                parties: Vec::new(),
                responders: HashMap::new(),
                modem_party: None,
                modem_waiting: None,
                signals: VecDeque::new(),
                scheduled: Vec::new(),
                cadence: crate::country::ring_cadence(&profile.country),
                cid_standard: crate::country::caller_id_standard(&profile.country),
                country: profile.country.clone(),
                log: Vec::new(),
            },
        })
    }

    /// Schedules a modem fault at `at`.
    pub fn schedule_modem_fault(&mut self, at: Instant, fault: ModemFault) {
        self.faults.push((at, fault));
    }

    /// Scheduled modem events (faults, SMS) not yet due.
    pub fn pending_modem_events(&self) -> usize {
        self.faults.len()
    }

    /// The simulated modem (tests inspect it).
    pub fn sim_modem(&self) -> Option<&SimModem> {
        self.modem.as_ref()
    }

    fn fault_step(&mut self, now: Instant) {
        let due: Vec<ModemFault> = {
            let (due, later): (Vec<_>, Vec<_>) =
                self.faults.drain(..).partition(|(t, _)| *t <= now);
            self.faults = later;
            due.into_iter().map(|(_, f)| f).collect()
        };
        let Some(m) = self.modem.as_mut() else {
            return;
        };
        for f in due {
            let line = match &f {
                ModemFault::IncomingSms { from, text, .. } => {
                    format!("network: SMS from {from} to the box: {text:?}")
                }
                other => format!("network: the modem suffers {other:?}"),
            };
            self.world.log.push((now, line));
            match f {
                ModemFault::IncomingSms { from, text, at } => {
                    if let Err(e) = m.deliver_sms(&from, &text, at) {
                        tracing::error!("simulated network: cannot deliver the SMS: {e}");
                    }
                }
                ModemFault::Reboot(boot) => m.reboot(now, boot, &mut self.world),
                ModemFault::Hang => m.hang(),
                ModemFault::Registration(on) => m.set_registered(on),
                ModemFault::Slow(d) => m.set_slow(d),
                ModemFault::Garbage(b) => m.inject_garbage(&b),
                ModemFault::Unplug(d) => {
                    if let Err(e) = m.unplug(now, d, &mut self.world) {
                        tracing::error!("simulated modem: {e:#}");
                    }
                }
            }
        }
    }

    /// Adds a responder reachable at `number`.
    pub fn add_responder(&mut self, number: &str, r: Responder) {
        self.world.responders.insert(number.to_string(), r);
    }

    /// Schedules a caller to ring in on `port` at `at`. Returns the party's index.
    pub fn schedule_call(
        &mut self,
        at: Instant,
        port: PortIdx,
        caller_id: Option<String>,
        party: Party,
    ) -> usize {
        self.world.parties.push(party);
        let idx = self.world.parties.len() - 1;
        self.world.scheduled.push((at, port, caller_id, idx));
        idx
    }

    /// Drops the people who have hung up and are no longer on any line (long runs:
    /// the benchmark keeps memory flat with it). Party indices handed out before
    /// ([`SimBoard::schedule_call`]) are invalid afterwards.
    pub fn forget_gone_parties(&mut self) {
        let w = &mut self.world;
        let mut used = vec![false; w.parties.len()];
        for l in &w.lines {
            if let Some(p) = l.party {
                used[p] = true;
            }
        }
        for s in &w.scheduled {
            used[s.3] = true;
        }
        if let Some(p) = w.modem_party {
            used[p] = true;
        }
        if let Some((_, p)) = &w.modem_waiting {
            used[*p] = true;
        }
        let mut map = vec![usize::MAX; w.parties.len()];
        let mut kept = Vec::new();
        for (i, p) in std::mem::take(&mut w.parties).into_iter().enumerate() {
            if used[i] || !p.gone {
                map[i] = kept.len();
                kept.push(p);
            }
        }
        w.parties = kept;
        for l in &mut w.lines {
            l.party = l.party.map(|p| map[p]);
        }
        for s in &mut w.scheduled {
            s.3 = map[s.3];
        }
        w.modem_party = w.modem_party.map(|p| map[p]);
        if let Some((_, p)) = w.modem_waiting.as_mut() {
            *p = map[*p];
        }
    }

    /// A party by index.
    pub fn party(&self, idx: usize) -> &Party {
        &self.world.parties[idx]
    }

    /// All parties (callers and the responders that were called).
    pub fn parties(&self) -> &[Party] {
        &self.world.parties
    }

    /// The world's transcript lines (network and party actions), oldest first.
    pub fn take_log(&mut self) -> Vec<(Instant, String)> {
        // People first: at one instant, what a person did comes before what followed.
        let mut log = Vec::new();
        for p in &mut self.world.parties {
            log.append(&mut p.log);
        }
        log.append(&mut self.world.log);
        log.sort_by_key(|(t, _)| *t);
        log
    }

    /// Forgets the AT commands received so far (long runs keep memory flat with it).
    pub fn clear_modem_commands(&mut self) {
        if let Some(m) = self.modem.as_mut() {
            m.commands.clear();
        }
    }

    /// AT commands the simulated modem received.
    pub fn modem_commands(&self) -> &[String] {
        self.modem.as_ref().map_or(&[], |m| m.commands.as_slice())
    }

    /// Serial PCM, virtual time: lets the box's PCM code take in every downlink byte
    /// (and answer it), then reads every uplink byte it wrote, handing whole frames to
    /// the far end. Called before the modem side acts, so what happens on the PCM port
    /// does not depend on thread timing. On the in-memory line (scenarios) the box's
    /// side is pumped here and nothing waits; on a pseudo-terminal (`switchboard run`)
    /// this waits for the real thread.
    fn settle_pcm(&mut self, now: Instant) {
        use std::sync::atomic::Ordering;
        let (Some(m), Some((dev, _))) = (self.modem.as_mut(), self.pcm.as_mut()) else {
            return;
        };
        dev.pump();
        let Some((written, _)) = m.pcm_counts() else {
            return;
        };
        let t0 = Instant::now();
        let limit = Duration::from_secs(2);
        let pause = Duration::from_micros(100);
        while dev.stats.rx_bytes.load(Ordering::Acquire) < written && t0.elapsed() < limit {
            std::thread::sleep(pause);
        }
        let party = if m.pcm_streaming() {
            self.world.modem_party
        } else {
            None
        };
        let parties = &mut self.world.parties;
        loop {
            m.pcm_read_uplink(&mut |f| {
                if let Some(p) = party.and_then(|i| parties.get_mut(i)) {
                    p.hear(now, f);
                }
            });
            let read = m.pcm_counts().map_or(0, |c| c.1);
            if read >= dev.stats.tx_bytes.load(Ordering::Acquire) || t0.elapsed() >= limit {
                break;
            }
            std::thread::sleep(pause);
        }
    }

    /// The modem's PCM clock: the far end's voice goes out on the PCM port.
    fn pcm_step(&mut self, now: Instant) {
        if self.pcm.is_none() {
            return;
        }
        self.settle_pcm(now);
        let Some(m) = self.modem.as_mut() else {
            return;
        };
        let before = m.pcm_frames().unwrap_or_default();
        let party = self.world.modem_party;
        let parties = &mut self.world.parties;
        m.pcm_send_downlink(now, &mut |f| match party.and_then(|i| parties.get_mut(i)) {
            Some(p) => p.speak(f),
            None => *f = SILENCE,
        });
        let frames = m.pcm_frames().unwrap_or_default();
        match (m.pcm_streaming(), self.pcm_stream) {
            (true, None) => {
                self.pcm_stream = Some(before);
                self.world.log.push((
                    now,
                    "network: the modem streams the call's audio on its PCM port (AT+CPCMREG=1)"
                        .into(),
                ));
            }
            (false, Some((down, up))) => {
                self.pcm_stream = None;
                let underruns = self.pcm.as_ref().map_or(0, |p| p.1.jitter().underruns);
                self.world.log.push((
                    now,
                    format!(
                        "network: the modem's PCM audio stops after {} frames to the box and {} from it (box jitter-buffer underruns so far: {underruns})",
                        frames.0 - down,
                        frames.1 - up
                    ),
                ));
            }
            _ => {}
        }
    }

    /// The modem's PCM statistics: frames (to the box, from the box) and the box's
    /// jitter-buffer underruns; `None` without serial PCM.
    pub fn pcm_stats(&self) -> Option<((u64, u64), u64)> {
        let frames = self.modem.as_ref()?.pcm_frames()?;
        let (_, port) = self.pcm.as_ref()?;
        Some((frames, port.jitter().underruns))
    }

    /// The person whose audio a port carries right now: the far end of an answered
    /// modem call, or the caller on a connected line.
    fn party_on_port(&self, port: PortIdx) -> Option<usize> {
        if Some(port) == self.modem_port {
            self.modem
                .as_ref()
                .and_then(|m| m.active_number())
                .and(self.world.modem_party)
        } else {
            self.world
                .lines
                .get(port)
                .filter(|l| matches!(l.state, LineState::Connected))
                .and_then(|l| l.party)
        }
    }

    /// Callers scheduled on the modem's port dial the SIM's number.
    fn modem_callers(&mut self, now: Instant) {
        let Some(mp) = self.modem_port else { return };
        let w = &mut self.world;
        while let Some(i) = w.scheduled.iter().position(|s| s.0 <= now && s.1 == mp) {
            let (_, _, cid, party) = w.scheduled.remove(i);
            let name = w.parties[party].name.clone();
            let number = cid.unwrap_or_else(|| "+15550000000".into());
            let busy = self.modem.as_ref().is_some_and(|m| m.call_count() > 0);
            let taken = (!busy || w.modem_waiting.is_none())
                && self
                    .modem
                    .as_mut()
                    .is_some_and(|m| m.incoming_call(now, &number));
            w.parties[party].on_dialed(now);
            if taken && busy {
                // the modem's voice channel is in use: the call waits (+CCWA)
                w.modem_waiting = Some((number.clone(), party));
                w.log.push((
                    now,
                    format!(
                        "{name} calls the SIM from {number}; the call waits behind the modem's call"
                    ),
                ));
            } else if taken {
                w.modem_party = Some(party);
                w.log
                    .push((now, format!("{name} calls the SIM from {number}")));
            } else {
                w.log.push((
                    now,
                    format!("{name} calls the SIM from {number}, but the modem cannot take it"),
                ));
                w.parties[party].on_hung_up(now);
            }
        }
    }

    fn line_step(&mut self, now: Instant) {
        let (on, off) = self.world.cadence;
        let w = &mut self.world;
        // calls that start ringing now
        let mut i = 0;
        while i < w.scheduled.len() {
            // a line (or phone) in use takes the next caller once it is free again,
            // as a provider's line group holds a call until a line is idle
            let line_idle = w
                .lines
                .get(w.scheduled[i].1)
                .is_some_and(|l| matches!(l.state, LineState::Idle));
            if w.scheduled[i].0 <= now
                && line_idle
                && w.lines
                    .get(w.scheduled[i].1)
                    .is_some_and(|l| l.kind == PortKind::Fxs)
            {
                let (_, port, _, party) = w.scheduled.remove(i);
                let line = &mut w.lines[port];
                line.party = Some(party);
                line.state = LineState::Connected;
                w.signals.push_back((port, LineSignal::HandsetLifted));
                w.parties[party].on_answered(now);
                let name = w.parties[party].name.clone();
                w.log.push((
                    now,
                    format!("{name} lifts the handset of the phone on {}", line.id),
                ));
            } else if w.scheduled[i].0 <= now && line_idle {
                let (_, port, cid, party) = w.scheduled.remove(i);
                if let Some(line) = w.lines.get_mut(port) {
                    line.party = Some(party);
                    line.state = LineState::Ringing {
                        ring_on: true,
                        next_change: now + on,
                        caller_id: cid,
                        cid_at: None,
                        cid_audio: None,
                    };
                    w.signals.push_back((port, LineSignal::RingStart));
                    w.parties[party].on_dialed(now);
                    let name = w.parties[party].name.clone();
                    w.log
                        .push((now, format!("{name} dials in; line {} rings", line.id)));
                }
            } else {
                i += 1;
            }
        }
        for line in w.lines.iter_mut() {
            if let LineState::Seized {
                digits,
                last_digit: Some(t),
                ..
            } = &line.state
                && now >= *t + INTERDIGIT
            {
                let digits = digits.clone();
                let prefix = crate::country::international_prefix(&w.country);
                let number = match digits.strip_prefix(prefix) {
                    Some(rest) => format!("+{rest}"),
                    None => digits.clone(),
                };
                let plan = crate::country::tone_plan(&w.country);
                let (kind, answer_at) = match w.responders.get(&number) {
                    Some(r) => {
                        let party = (r.make)();
                        w.log.push((
                            now,
                            format!(
                                "network: {number} ({}) is being called on line {} (dialled {digits})",
                                party.name, line.id
                            ),
                        ));
                        w.parties.push(party);
                        line.party = Some(w.parties.len() - 1);
                        match r.far {
                            FarEnd::Rings { answer_after } => {
                                (ToneKind::Ringback, answer_after.map(|d| now + d))
                            }
                            FarEnd::Busy => (ToneKind::Busy, None),
                            FarEnd::Unreachable => (ToneKind::Sit, None),
                        }
                    }
                    None => {
                        w.log.push((
                            now,
                            format!("network: {number} rings (nobody simulated there; dialled {digits} on line {})", line.id),
                        ));
                        (ToneKind::Ringback, None)
                    }
                };
                let def = plan
                    .tone(kind)
                    .or_else(|| progress::country("US").ok().and_then(|c| c.tone(kind)));
                if let Some(def) = def {
                    line.state = LineState::Calling {
                        tone: Box::new(CadenceGen::new(def)),
                        answer_at,
                    };
                }
            }
            if let LineState::Calling {
                answer_at: Some(at),
                ..
            } = line.state
                && now >= at
            {
                line.state = LineState::Connected;
                if let Some(p) = line.party {
                    let name = w.parties[p].name.clone();
                    w.log
                        .push((now, format!("{name} picks up (line {})", line.id)));
                    w.parties[p].on_answered(now);
                }
            }
        }
        for (port, line) in w.lines.iter_mut().enumerate() {
            if let LineState::Alerting {
                answer_at: Some(at),
            } = line.state
                && now >= at
            {
                line.state = LineState::Connected;
                line.off_hook = true;
                w.signals.push_back((port, LineSignal::HandsetLifted));
                if let Some(p) = line.party {
                    let name = w.parties[p].name.clone();
                    w.log
                        .push((now, format!("{name} picks up the phone on {}", line.id)));
                    w.parties[p].on_answered(now);
                }
            }
            if let LineState::Ringing {
                ring_on,
                next_change,
                caller_id,
                cid_at,
                cid_audio,
            } = &mut line.state
            {
                if let Some(t) = *cid_at
                    && now >= t
                {
                    *cid_at = None;
                    if let Some(cid) = caller_id.take() {
                        // An MDMF message (number only: the office has no wall clock
                        // here) as FSK audio on the line; the box has to demodulate it.
                        match CallerId::with_number(&cid).encode_mdmf() {
                            Ok(frame) => {
                                let p = FskGenParams {
                                    lead_ms: 0,
                                    tail_ms: 0,
                                    ..FskGenParams::new(w.cid_standard)
                                };
                                *cid_audio = Some((modulate(&frame, &p), 0));
                                w.log.push((
                                    now,
                                    format!(
                                        "network sends caller ID {cid} on line {} ({} FSK)",
                                        line.id,
                                        w.cid_standard.name()
                                    ),
                                ));
                            }
                            Err(e) => w
                                .log
                                .push((now, format!("network cannot send caller ID {cid:?}: {e}"))),
                        }
                    }
                }
                while now >= *next_change {
                    *ring_on = !*ring_on;
                    if *ring_on {
                        w.signals.push_back((port, LineSignal::RingStart));
                        *next_change += on;
                    } else {
                        w.signals.push_back((port, LineSignal::RingStop));
                        if caller_id.is_some() && cid_at.is_none() {
                            // Caller ID between the first and the second ring (Bell 202 timing).
                            *cid_at = Some(*next_change + Duration::from_millis(500));
                        }
                        *next_change += off;
                    }
                }
            }
        }
    }

    /// The waiting SIM call rings (or was answered) once the call it waited behind
    /// ended: its caller is the modem's party from now on.
    fn modem_waiting_step(&mut self, now: Instant) {
        let w = &mut self.world;
        let Some((number, party)) = w.modem_waiting.clone() else {
            return;
        };
        match self.modem.as_ref().and_then(|m| m.incoming_state(&number)) {
            Some("waiting") => {}
            Some(_) if w.modem_party.is_none() => {
                w.modem_waiting = None;
                w.modem_party = Some(party);
            }
            Some(_) => {}
            // released without the network telling the world (modem reset)
            None => {
                w.modem_waiting = None;
                w.parties[party].on_hung_up(now);
            }
        }
    }

    fn party_step(&mut self, now: Instant) {
        for i in 0..self.world.parties.len() {
            self.world.parties[i].poll(now);
            if !self.world.parties[i].take_hangup() {
                continue;
            }
            if let Some((number, p)) = self.world.modem_waiting.clone()
                && p == i
            {
                // a waiting caller gives up
                self.world.modem_waiting = None;
                if let Some(m) = self.modem.as_mut() {
                    m.caller_hangup(now, &number);
                }
                continue;
            }
            if self.world.modem_party == Some(i) {
                self.world.modem_party = None;
                if let Some(m) = self.modem.as_mut() {
                    m.far_end_hangup();
                }
                continue;
            }
            let w = &mut self.world;
            for (port, line) in w.lines.iter_mut().enumerate() {
                if line.party != Some(i) {
                    continue;
                }
                match line.state {
                    LineState::Connected if line.kind == PortKind::Fxs => {
                        w.signals.push_back((port, LineSignal::HandsetDown))
                    }
                    LineState::Connected => w.signals.push_back((port, LineSignal::LoopDrop)),
                    LineState::Alerting { .. }
                    | LineState::Seized { .. }
                    | LineState::Calling { .. } => {}
                    LineState::Ringing { .. } => {
                        if line.kind == PortKind::Fxo {
                            w.log.push((now, format!("line {} stops ringing", line.id)));
                        }
                    }
                    LineState::Idle => {}
                }
                line.state = LineState::Idle;
                line.party = None;
            }
        }
    }
}

impl SimBoard {
    /// Cuts (`dead`) or mends an analog line at `at`: a dead line gives no dial tone.
    pub fn schedule_line_fault(&mut self, at: Instant, port: PortIdx, dead: bool) {
        self.line_faults.push((at, port, dead));
    }

    fn line_fault_step(&mut self, now: Instant) {
        let w = &mut self.world;
        self.line_faults.retain(|&(at, port, dead)| {
            if at > now {
                return true;
            }
            if let Some(l) = w.lines.get_mut(port) {
                l.dead = dead;
                let what = if dead {
                    "is cut (no dial tone)"
                } else {
                    "works again"
                };
                w.log.push((now, format!("network: line {} {what}", l.id)));
            }
            false
        });
    }
}

impl Board for SimBoard {
    fn poll_line_signal(&mut self) -> Option<(PortIdx, LineSignal)> {
        self.world.signals.pop_front()
    }

    fn line_command(&mut self, now: Instant, port: PortIdx, cmd: LineCommand) {
        let w = &mut self.world;
        let Some(line) = w.lines.get_mut(port) else {
            return;
        };
        if line.kind == PortKind::Fxs {
            let number = format!("{}{}", crate::config::LOCAL_PHONE_PREFIX, line.id);
            match (cmd, &line.state) {
                (LineCommand::RingStart, LineState::Idle) => {
                    let (party, answer_at) = match w.responders.get(&number) {
                        Some(r) => {
                            let answer_at = match r.far {
                                FarEnd::Rings { answer_after } => answer_after.map(|d| now + d),
                                _ => None,
                            };
                            let party = (r.make)();
                            w.log.push((
                                now,
                                format!("the phone on {} rings ({})", line.id, party.name),
                            ));
                            w.parties.push(party);
                            (Some(w.parties.len() - 1), answer_at)
                        }
                        None => {
                            w.log.push((
                                now,
                                format!("the phone on {} rings (nobody there)", line.id),
                            ));
                            (None, None)
                        }
                    };
                    line.party = party;
                    line.state = LineState::Alerting { answer_at };
                }
                (LineCommand::RingStop, LineState::Alerting { .. }) => {
                    w.log
                        .push((now, format!("the phone on {} stops ringing", line.id)));
                    line.state = LineState::Idle;
                    line.party = None;
                }
                (LineCommand::OnHook, LineState::Connected) => {
                    // the box released the line: the person hears it and hangs up
                    line.state = LineState::Idle;
                    line.off_hook = false;
                    if let Some(p) = line.party.take() {
                        w.parties[p].on_hung_up(now);
                        let name = w.parties[p].name.clone();
                        w.log.push((now, format!("{name} puts the handset down")));
                    }
                    w.signals.push_back((port, LineSignal::HandsetDown));
                }
                _ => {}
            }
            return;
        }
        line.off_hook = cmd == LineCommand::OffHook;
        match (cmd, &line.state) {
            (LineCommand::OffHook, LineState::Idle) if !line.dead => {
                let dial_tone = crate::country::tone_plan(&w.country)
                    .tone(ToneKind::Dial)
                    .map(|d| Box::new(CadenceGen::new(d)));
                line.state = LineState::Seized {
                    digits: String::new(),
                    dtmf: Box::new(DtmfDetector::new()),
                    last_digit: None,
                    dial_tone,
                };
                w.log
                    .push((now, format!("the box seizes line {}; dial tone", line.id)));
            }
            (LineCommand::OnHook, LineState::Seized { .. } | LineState::Calling { .. }) => {
                line.state = LineState::Idle;
                if let Some(p) = line.party.take() {
                    w.parties[p].on_hung_up(now);
                }
                w.log
                    .push((now, format!("the box releases line {}", line.id)));
            }
            (LineCommand::OffHook, LineState::Ringing { .. }) => {
                line.state = LineState::Connected;
                if let Some(p) = line.party {
                    w.parties[p].on_answered(now);
                }
            }
            (LineCommand::OnHook, LineState::Connected) => {
                line.state = LineState::Idle;
                if let Some(p) = line.party.take() {
                    w.parties[p].on_hung_up(now);
                }
            }
            _ => {}
        }
    }

    fn read_frame(&mut self, now: Instant, port: PortIdx, out: &mut Frame) {
        if let Some(SimLine {
            state: LineState::Ringing { cid_audio, .. },
            ..
        }) = self.world.lines.get_mut(port)
            && let Some((audio, pos)) = cid_audio
        {
            let n = (audio.len() - *pos).min(out.len());
            out[..n].copy_from_slice(&audio[*pos..*pos + n]);
            out[n..].fill(0);
            *pos += n;
            if *pos >= audio.len() {
                *cid_audio = None;
            }
            return;
        }
        match self.world.lines.get_mut(port).map(|l| &mut l.state) {
            Some(LineState::Seized {
                last_digit,
                dial_tone,
                ..
            }) => {
                match (last_digit.is_none(), dial_tone.as_mut()) {
                    (true, Some(g)) => g.fill(out),
                    _ => *out = SILENCE,
                }
                return;
            }
            Some(LineState::Calling { tone, .. }) => {
                tone.fill(out);
                return;
            }
            _ => {}
        }
        if Some(port) == self.modem_port && self.pcm.is_some() {
            self.settle_pcm(now);
            if let Some((_, pcm)) = self.pcm.as_mut() {
                pcm.read_frame(out);
            }
            return;
        }
        match self.party_on_port(port) {
            Some(p) => self.world.parties[p].speak(out),
            None => *out = SILENCE,
        }
    }

    fn write_frame(&mut self, now: Instant, port: PortIdx, frame: &Frame) {
        if let Some(SimLine {
            state:
                LineState::Seized {
                    digits,
                    dtmf,
                    last_digit,
                    ..
                },
            ..
        }) = self.world.lines.get_mut(port)
        {
            dtmf.push(frame, |e| {
                if let DtmfEvent::Start { digit, .. } = e {
                    digits.push(digit);
                    *last_digit = Some(now);
                }
            });
            return;
        }
        if Some(port) == self.modem_port
            && let Some((_, pcm)) = self.pcm.as_mut()
        {
            // Only while the modem streams: the PCM thread discards idle frames on its
            // own clock, which virtual time must not depend on.
            if self.modem.as_ref().is_some_and(|m| m.pcm_streaming()) {
                pcm.write_frame(frame);
            } else {
                pcm.discard_uplink();
            }
            return;
        }
        if let Some(p) = self.party_on_port(port) {
            self.world.parties[p].hear(now, frame);
        }
    }

    fn step(&mut self, now: Instant) {
        self.fault_step(now);
        self.line_fault_step(now);
        self.modem_callers(now);
        if let Some(m) = self.modem.as_mut() {
            m.step(now, &mut self.world);
        }
        self.modem_waiting_step(now);
        self.pcm_step(now);
        self.line_step(now);
        self.party_step(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let w = &self.world;
        let lines = w.lines.iter().filter_map(|l| match &l.state {
            LineState::Ringing {
                next_change,
                cid_at,
                ..
            } => Some(cid_at.map_or(*next_change, |c| c.min(*next_change))),
            LineState::Alerting { answer_at } => *answer_at,
            LineState::Seized {
                last_digit: Some(t),
                ..
            } => Some(*t + INTERDIGIT),
            LineState::Calling { answer_at, .. } => *answer_at,
            _ => None,
        });
        // a caller waiting for a busy line is taken when the line frees (a step that
        // follows the engine's own events), not at a time of its own
        let sched = w
            .scheduled
            .iter()
            .filter(|s| {
                w.lines
                    .get(s.1)
                    .is_none_or(|l| matches!(l.state, LineState::Idle))
            })
            .map(|s| s.0);
        let parties = w.parties.iter().filter_map(|p| p.poll_timeout());
        let modem = self.modem.as_ref().and_then(|m| m.poll_timeout());
        let faults = self
            .faults
            .iter()
            .map(|f| f.0)
            .chain(self.line_faults.iter().map(|f| f.0));
        let modem_faults = self.modem.as_ref().and_then(|m| m.faults_timeout());
        let pcm = self.modem.as_ref().and_then(|m| m.pcm_timeout());
        lines
            .chain(pcm)
            .chain(sched)
            .chain(parties)
            .chain(modem)
            .chain(faults)
            .chain(modem_faults)
            .min()
    }

    fn modem_serial(&self) -> Option<(String, u32)> {
        self.modem.as_ref().map(|m| (m.device(), 115_200))
    }

    fn open_modem_port(&self) -> Option<Result<crate::hw::modem_link::ModemLink>> {
        let m = self.modem.as_ref()?;
        if m.is_in_memory() {
            return Some(match m.mem_link() {
                Some(l) => Ok(crate::hw::modem_link::ModemLink::memory(l)),
                None => Err(anyhow::anyhow!(
                    "the simulated modem's port is gone (unplugged)"
                )),
            });
        }
        Some(crate::hw::modem_link::ModemLink::open_serial(
            &m.device(),
            115_200,
        ))
    }

    /// The simulated power key: the modem reboots (a hung one too).
    fn modem_power_cycle(&mut self, now: Instant) -> Result<bool> {
        let Some(m) = self.modem.as_mut() else {
            return Ok(false);
        };
        self.world
            .log
            .push((now, "network: the modem's power key is pulsed".into()));
        m.reboot(now, modem::POWER_ON_BOOT, &mut self.world);
        Ok(true)
    }
}

/// What a board whose far ends run in this process (the simulated modem on a
/// pseudo-terminal) tells the engine beyond [`Board`]: which descriptors should wake
/// it (the simulated modem has bytes to answer), and how many bytes the far end has
/// written and read (virtual time must not move while bytes are in flight). Hardware
/// has no such far end: the defaults say so.
pub trait InProcessPeers {
    /// Descriptors whose readiness should wake the engine.
    fn wake_fds(&self) -> Vec<RawFd> {
        Vec::new()
    }
    /// Bytes the far end of the modem link has written and read so far.
    fn modem_link_counts(&self) -> Option<(u64, u64)> {
        None
    }
}

impl InProcessPeers for crate::hw::board::HwBoard {}

impl InProcessPeers for SimBoard {
    fn wake_fds(&self) -> Vec<RawFd> {
        self.modem
            .iter()
            .filter(|m| !m.unplugged() && !m.is_in_memory())
            .map(|m| m.raw_fd())
            .collect()
    }

    fn modem_link_counts(&self) -> Option<(u64, u64)> {
        self.modem.as_ref().map(|m| (m.written, m.read))
    }
}

impl Drop for SimBoard {
    fn drop(&mut self) {
        // the PCM thread stops first (it would see its port vanish); the modem removes
        // its symlinks; then the directory can go
        self.pcm = None;
        self.modem = None;
        if let Some(d) = &self.dev_dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A private directory with a `modem-at` symlink to the simulated modem's
/// pseudo-terminal, kept current by the modem like udev keeps `/dev/modem-at`.
fn sim_dev_dir(m: &mut SimModem) -> Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-sim-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    m.keep_symlink(&dir.join("modem-at"))?;
    m.keep_pcm_symlink(&dir.join("modem-pcm"))?;
    Ok(dir)
}
