//! Scenario files: one call on the simulated board, with people who behave, and what
//! must have happened. The format describes only what a person on a phone does and
//! what the box must record, so the same file can later drive a real rig.
//!
//! ```toml
//! name = "accepted by the first responder"
//! [caller]
//! port = "fxo1"
//! caller_id = "+15550001111"
//! step = [ { after = "prompt-end", press = "1" },
//!          { after = "connected", delay = "20s", hangup = true } ]
//! [[responder]]
//! user = "alice"
//! behaviour = "accept"
//! answer_after = "4s"
//! [expect]
//! end_reason = "completed"
//! accepted_by = "alice"
//! ```
//!
//! A caller on `port = "modem"` calls the SIM. Several `[[caller]]` on the modem with
//! `ring_at` place several calls to the SIM: one that arrives while the modem has a
//! call up waits behind it (`+CCWA`), and a step `after = "dialed"` lets such a caller
//! give up before being served.
//!
//! Modem faults are scheduled with `[[modem_fault]]`: `at` (after the start), `fault`
//! (`reboot`, `hang`, `slow`, `garbage`, `unplug`, `no_network`) and, for `reboot`/`slow`/`unplug`,
//! `duration` (boot time, answer delay, time the port is gone); `garbage` sends
//! `text` (escapes allowed) or, without it, 5000 bytes of noise with no line end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Deserializer};

mod alert_delivery;
mod check;
mod events;
mod health_watch;
pub mod sim_rig;

use check::{check, check_alerts, check_voicemail};
pub use sim_rig::SimRig;

use crate::call::{Cdr, EndReason};
use crate::config::{BoardProfile, Config, parse_duration};
use crate::hw::sim::party::{Act, Step, Trigger};
use crate::store::Store;

/// A data directory for one scenario run (voicemail files), removed afterwards.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "switchboard-scenario-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dur<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn opt_dur<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| parse_duration(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Title.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Configuration file, relative to the scenario file; default: the built-in demo.
    pub config: Option<PathBuf>,
    /// Simulated board profile, relative to the scenario file (its modem `serial` must
    /// be `"sim"`); default: the built-in `board/sim.toml`. `board/sim-sim7600.toml`
    /// simulates a SIMCom SIM7600 whose call audio runs over serial PCM.
    pub board: Option<PathBuf>,
    /// Seed for the responder order within levels.
    #[serde(default)]
    pub seed: u64,
    /// Wall-clock time at which the scenario starts (RFC 3339).
    pub start: Option<jiff::Timestamp>,
    /// Virtual time after which the run is cut off.
    #[serde(default = "default_limit", deserialize_with = "dur")]
    pub max_duration: Duration,
    /// The caller (`[caller]`), or several (`[[caller]]`, each with its own
    /// `[caller.expect]`; the top-level `[expect]` is about the first).
    #[serde(deserialize_with = "one_or_many")]
    pub caller: Vec<CallerSpec>,
    /// Responders reachable through the network.
    #[serde(default, rename = "responder")]
    pub responders: Vec<ResponderSpec>,
    /// Commands to the engine during the run (as the web page would send them).
    #[serde(default, rename = "command")]
    pub commands: Vec<CommandSpec>,
    /// Analog lines cut or mended during the run.
    #[serde(default, rename = "line_fault")]
    pub line_faults: Vec<LineFaultSpec>,
    /// Modem faults during the run.
    #[serde(default, rename = "modem_fault")]
    pub modem_faults: Vec<ModemFaultSpec>,
    /// SMS the network delivers to the box (responders answering alerts).
    #[serde(default, rename = "sms")]
    pub sms: Vec<SmsSpec>,
    /// What must hold at the end.
    #[serde(default)]
    pub expect: Expect,
    /// Deliver the alerts to a local test receiver after the calls (every alert
    /// target's URL is pointed at it: `/<target name>`).
    #[serde(default)]
    pub deliver_alerts: bool,
    /// With `deliver_alerts`: targets whose receiver answers 503 throughout (a data path
    /// that is down).
    #[serde(default)]
    pub refuse_targets: Vec<String>,
}

/// An SMS to the box at a point of the scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSpec {
    /// When, after the scenario start.
    #[serde(deserialize_with = "dur")]
    pub at: Duration,
    /// Sender.
    pub from: String,
    /// Text.
    pub text: String,
}

/// An analog line cut (no dial tone) or mended at a point of the scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineFaultSpec {
    /// When, after the scenario start.
    #[serde(deserialize_with = "dur")]
    pub at: Duration,
    /// Port id.
    pub port: String,
    /// `true`: the line is dead from then on; `false`: it works again.
    pub dead: bool,
}

/// A command to the engine at a point of the scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// When, after the scenario start.
    #[serde(deserialize_with = "dur")]
    pub at: Duration,
    /// Load this configuration file (relative to the scenario file), render its prompts
    /// and make it the configuration of new calls.
    pub reload: Option<PathBuf>,
    /// Hang up the call with this id (calls are numbered from 1 in order of arrival).
    pub hangup_call: Option<u64>,
    /// Place a self-test call to this number (tone 5 s, rings at most 45 s).
    pub test_call: Option<String>,
    /// Type this SIM PIN, as on the System page (`Command::EnterSimPin`).
    pub sim_pin: Option<String>,
}

/// A SIM's verdict on a typed PIN as `expect.sim_pins` writes it.
pub fn sim_pin_verdict(r: &crate::modem::PinEntryResult) -> String {
    use crate::modem::PinEntryResult as P;
    match r {
        P::Accepted => "accepted".into(),
        P::Rejected {
            puk_required: true, ..
        } => "rejected: PUK".into(),
        P::Rejected {
            attempts_left: Some(n),
            ..
        } => format!("rejected: {n} left"),
        P::Rejected { .. } => "rejected".into(),
        P::NotJudged { .. } => "not judged".into(),
    }
}

/// A modem fault at a point of the scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemFaultSpec {
    /// When, after the scenario start.
    #[serde(deserialize_with = "dur")]
    pub at: Duration,
    /// `reboot`, `hang`, `slow`, `garbage`, `unplug` or `no_network` (registration
    /// lost for `duration`, default 60 s).
    pub fault: String,
    /// Boot time (`reboot`, default 10 s), answer delay (`slow`), time gone (`unplug`,
    /// default 5 s).
    #[serde(default, deserialize_with = "opt_dur")]
    pub duration: Option<Duration>,
    /// Bytes for `garbage`.
    pub text: Option<String>,
}

impl ModemFaultSpec {
    fn to_fault(&self) -> Result<crate::hw::sim::ModemFault> {
        use crate::hw::sim::ModemFault as F;
        let d = |default: u64| self.duration.unwrap_or(Duration::from_secs(default));
        Ok(match self.fault.as_str() {
            "reboot" => F::Reboot(d(10)),
            "hang" => F::Hang,
            "slow" => F::Slow(d(2)),
            "unplug" => F::Unplug(d(5)),
            "garbage" => F::Garbage(match &self.text {
                Some(t) => t.as_bytes().to_vec(),
                None => (0..5000u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x20)
                    .filter(|b| *b != b'\r' && *b != b'\n')
                    .collect(),
            }),
            other => bail!(
                "modem_fault.fault: `{other}` is not a fault; use reboot, hang, slow, garbage, unplug or no_network"
            ),
        })
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CallerSpec>, D::Error> {
    use serde::de::Error;
    match toml::Value::deserialize(d)? {
        v @ toml::Value::Table(_) => CallerSpec::deserialize(v)
            .map(|c| vec![c])
            .map_err(|e| D::Error::custom(format!("caller: {}", e.message()))),
        toml::Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                CallerSpec::deserialize(v)
                    .map_err(|e| D::Error::custom(format!("caller[{i}]: {}", e.message())))
            })
            .collect(),
        _ => Err(D::Error::custom(
            "caller: write one [caller] table or several [[caller]] tables",
        )),
    }
}

fn default_limit() -> Duration {
    Duration::from_secs(600)
}

/// The caller.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerSpec {
    /// Port id where the call arrives.
    pub port: String,
    /// Caller ID delivered by the line.
    pub caller_id: Option<String>,
    /// When the line starts ringing, after the scenario start.
    #[serde(default, deserialize_with = "opt_dur")]
    pub ring_at: Option<Duration>,
    /// What the caller does.
    #[serde(default)]
    pub step: Vec<StepSpec>,
    /// What must hold for this caller's call (with several callers).
    #[serde(default)]
    pub expect: Option<Expect>,
    /// The caller never talks (only keys): a silent voicemail.
    #[serde(default)]
    pub silent: bool,
}

/// One step of a person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// `dialed` (the call was placed: it rings, or waits behind the modem's call),
    /// `answered`, `prompt-end` or `connected`.
    pub after: Trigger,
    /// Extra wait.
    #[serde(default, deserialize_with = "opt_dur")]
    pub delay: Option<Duration>,
    /// Keys to press.
    pub press: Option<String>,
    /// Hang up.
    #[serde(default)]
    pub hangup: bool,
}

impl StepSpec {
    fn to_step(&self) -> Result<Step> {
        let act = match (&self.press, self.hangup) {
            (Some(k), false) => {
                if k.is_empty()
                    || !k
                        .chars()
                        .all(|c| c.is_ascii_digit() || "*#ABCD".contains(c))
                {
                    bail!("press: `{k}` is not a key sequence: use 0-9, *, # and A-D");
                }
                Act::Press(k.clone())
            }
            (None, true) => Act::Hangup,
            _ => bail!("a step needs exactly one of `press = \"...\"` or `hangup = true`"),
        };
        Ok(Step {
            trigger: self.after,
            delay: self.delay.unwrap_or(Duration::from_millis(300)),
            act,
        })
    }
}

/// Built-in responder behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// Picks up and presses 1 after the announcement.
    Accept,
    /// Picks up and presses 2 after the announcement.
    Decline,
    /// Rings forever.
    NeverAnswer,
    /// Busy.
    Busy,
    /// The number cannot be reached.
    Unreachable,
    /// Their voicemail picks up: a greeting, a beep, then silence; never a key.
    AnsweringMachine,
}

/// A responder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderSpec {
    /// User id from the configuration (the number is taken from it)...
    pub user: Option<String>,
    /// ...or a number.
    pub number: Option<String>,
    /// What they do.
    pub behaviour: Behaviour,
    /// When they pick up (default 4 s; the answering machine 8 s).
    #[serde(default, deserialize_with = "opt_dur")]
    pub answer_after: Option<Duration>,
    /// More steps after the behaviour's own (e.g. hang up after talking).
    #[serde(default)]
    pub step: Vec<StepSpec>,
}

/// Expectations, checked against the stored CDR and what the people heard.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// CDR end reason (`completed`, `nobody_accepted`, `caller_abandoned`, `menu_failed`, ...).
    pub end_reason: Option<String>,
    /// Chosen menu key.
    pub option: Option<u8>,
    /// User who accepted (`""` for nobody).
    pub accepted_by: Option<String>,
    /// Attempts as `user:outcome`, in order.
    pub attempts: Option<Vec<String>>,
    /// Digits the caller pressed, as detected by the box.
    pub digits: Option<String>,
    /// Texts the caller must have heard (substrings of prompts).
    #[serde(default)]
    pub caller_heard: Vec<String>,
    /// Both sides heard each other through the bridge.
    pub bridged_audio: Option<bool>,
    /// Upper bound of the call's duration.
    #[serde(default, deserialize_with = "opt_dur")]
    pub max_call_duration: Option<Duration>,
    /// Replaced by `[[expect.event]]`; kept only to say so when a file still has it.
    #[serde(default)]
    transcript: Option<toml::Value>,
    /// Typed events that must have happened (`[[expect.event]]`: a `kind` and the
    /// fields to match, see `hil-tests/README.md`).
    #[serde(default)]
    pub event: Vec<toml::Table>,
    /// AT commands the box must have sent the modem, in this order (others may come
    /// between them).
    pub modem_commands: Option<Vec<String>>,
    /// Overflow taken, as in the CDR (`queue_full -> message`); `""` for none.
    pub overflow: Option<String>,
    /// Caller PIN gate result (`ok`, `failed`).
    pub pin: Option<String>,
    /// Whether the caller waited in the queue for a line.
    pub queued: Option<bool>,
    /// Routing number id the call arrived on.
    pub routing_id: Option<String>,
    /// Why the caller went to voicemail, as in the CDR (`nobody_accepted`,
    /// `voicemail_only`, `overflow`, ...); `""` for not at all.
    pub voicemail: Option<String>,
    /// A voicemail was stored for the call and is (`true`) or is not (`false`) marked
    /// empty (no speech).
    pub voicemail_empty: Option<bool>,
    /// Length of the stored (trimmed) message, `[min, max]` in seconds.
    pub voicemail_seconds: Option<[f64; 2]>,
    /// The stored file, decoded, carries the caller's voice (marker tone) at the level
    /// sent, within 3 dB.
    pub voicemail_marker: Option<bool>,
    /// How recording ended (`key`, `silence`, `max_length`, `hangup`).
    pub voicemail_ended_by: Option<String>,
    /// The call's alert events in order (`trigger`, `accept`, `resolve`, `voicemail`,
    /// `nobody_reached`); `[]` for no alert.
    pub alert_events: Option<Vec<String>>,
    /// With `deliver_alerts`: what the receiver got for this call's alert, as
    /// `target:event` in order (webhook signatures and voicemail parts are checked).
    pub delivered: Option<Vec<String>>,
    /// Received SMS in the box's inbox, oldest first, as `sender: action`.
    pub sms_inbox: Option<Vec<String>>,
    /// SMS left in the modem's storage at the end (0: all deleted after storing).
    pub sim_sms_left: Option<usize>,
    /// SMS the box sent through the modem, in order, as `number: text`.
    pub sms_sent: Option<Vec<String>>,
    /// The call's alert deliveries, per target in event order, as `target:event:state`
    /// (`sms:trigger:given_up`; states `pending`, `failing`, `delivered`, `given_up`,
    /// `skipped`).
    pub alert_deliveries: Option<Vec<String>>,
    /// SMS the cap (`[sms] cap`) refused during the run.
    pub sms_cap_refused: Option<i64>,
    /// Self-test calls, in order, as `number: passed` or `number: failed: reason`.
    pub test_calls: Option<Vec<String>>,
    /// The SIM's verdicts on the PINs typed (`sim_pin` commands), in order:
    /// `accepted`, `rejected: N left`, `rejected: PUK`, `rejected`, `not judged`.
    pub sim_pins: Option<Vec<String>>,
    /// The box's health alerts, oldest first, as `condition: event, event`
    /// (`registration: trigger, resolve`).
    pub health_alerts: Option<Vec<String>>,
    /// The call-flow steps the caller went through, in order, as in the CDR.
    pub path: Option<Vec<String>>,
}

/// What the scenario runner found about a call's voicemail.
struct VoicemailFound {
    row: crate::store::VoicemailRow,
    /// Decoded samples.
    samples: Vec<i16>,
}

/// The result of a run.
pub struct Outcome {
    /// Transcript lines, virtual time first (for people to read).
    pub transcript: Vec<String>,
    /// The box's typed facts, in order (see [`Observed::events`]).
    pub events: Vec<serde_json::Value>,
    /// The first caller's CDR as read back from the store.
    pub cdr: Option<Cdr>,
    /// Every caller's CDR, in the order of the scenario's callers.
    pub cdrs: Vec<Option<Cdr>>,
    /// Expectations that failed.
    pub failures: Vec<String>,
    /// Virtual time simulated.
    pub virtual_time: Duration,
    /// Wall time it took.
    pub real_time: Duration,
    /// AT commands the simulated modem received, in order.
    pub modem_commands: Vec<String>,
    /// Serial PCM boards: frames the modem streamed (to the box, from the box).
    pub pcm_frames: Option<(u64, u64)>,
}

impl Outcome {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// What a scenario needs from the world it runs in. [`SimRig`] is the simulated
/// board with the box in the same process, in virtual time; a hardware rig (phones
/// and a line simulator wired to a real box) implements the same: play the people,
/// faults and commands of the scenario, then report what it observed. The checks
/// ([`run_on`]) are the same for every rig. See `hil-tests/README.md`.
pub trait Rig {
    /// Plays `sc` against a box configured with `cfg` (`reloads[i]` is what
    /// `command[i]` reloads) until every call has ended or `max_duration` passed.
    fn play(
        &mut self,
        sc: &Scenario,
        cfg: Arc<Config>,
        reloads: Vec<Option<Arc<Config>>>,
    ) -> Result<Observed>;
}

/// What a rig observed during a run.
pub struct Observed {
    /// The timeline: what people did and heard, what the box noted, `[  s.mmm] …`.
    /// For people to read; the checks use `events`.
    pub transcript: Vec<String>,
    /// The box's typed outputs that are facts, in order, as JSON objects with a
    /// `kind` (see `events.rs`).
    pub events: Vec<serde_json::Value>,
    /// Every call detail record the box wrote, as read back from its store.
    pub records: Vec<Cdr>,
    /// Per caller, in the scenario's order: milliseconds they heard the other side.
    pub caller_heard_ms: Vec<u32>,
    /// The most any responder heard of a caller, in milliseconds.
    pub responder_heard_ms: u32,
    /// The box's store (voicemail index, SMS inbox, alert outbox).
    pub store: Store,
    /// Where the box keeps voicemail files.
    pub voicemail_dir: PathBuf,
    /// SMS the modem sent, as `number: text`.
    pub sms_sent: Vec<String>,
    /// SMS left in the modem's storage at the end.
    pub sim_sms_left: usize,
    /// Self-test calls the box placed, as `number: passed` or `number: failed: reason`.
    pub test_calls: Vec<String>,
    /// The SIM's verdicts on typed PINs (see [`Expect::sim_pins`]).
    pub sim_pins: Vec<String>,
    /// The alert receiver, when the scenario delivers alerts.
    pub receiver: Option<crate::alerts::test_receiver::TestReceiver>,
    /// The configuration as run (alert targets pointed at the receiver).
    pub cfg: Arc<Config>,
    /// The box's wall clock at the start.
    pub wall: jiff::Timestamp,
    /// Time the scenario took on the box's clock.
    pub virtual_time: Duration,
    /// Wall time the run took.
    pub real_time: Duration,
    /// AT commands the modem received, in order (empty when the rig cannot see them).
    pub modem_commands: Vec<String>,
    /// Serial PCM boards: frames the modem streamed (to the box, from the box).
    pub pcm_frames: Option<(u64, u64)>,
    /// Keeps the run's data directory until the checks are done.
    _scratch: ScratchDir,
}

/// Loads a scenario file.
pub fn load(path: &Path) -> Result<Scenario> {
    let src =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let sc: Scenario = toml::from_str(&src).map_err(|e| {
        let (loc, key) = e
            .span()
            .map(|s| {
                let at = s.start.min(src.len());
                let before = &src[..at];
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let line = src[line_start..].lines().next().unwrap_or("");
                // the key written on that line (`start = "yesterday"` → `start`)
                let key = line
                    .split_once('=')
                    .map(|(k, _)| k.trim().trim_start_matches('{').trim())
                    .filter(|k| !k.is_empty() && !k.contains(['[', '"', '{', ',']))
                    .map(|k| format!("{k}: "))
                    .unwrap_or_default();
                (format!(":{}", before.matches('\n').count() + 1), key)
            })
            .unwrap_or_default();
        anyhow!("{}{loc}: {key}{}", path.display(), e.message().trim())
    })?;
    sc.validate()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(sc)
}

impl Scenario {
    /// Checks what serde cannot: keys are DTMF keys, end reasons and outcomes exist.
    fn validate(&self) -> Result<()> {
        let many = self.caller.len() > 1;
        for (i, c) in self.caller.iter().enumerate() {
            let key = if many {
                format!("caller[{i}]")
            } else {
                "caller".into()
            };
            for (j, st) in c.step.iter().enumerate() {
                st.to_step().map_err(|e| anyhow!("{key}.step[{j}]: {e}"))?;
            }
            if let Some(x) = &c.expect {
                x.validate(&format!("{key}.expect"))?;
            }
        }
        for (i, r) in self.responders.iter().enumerate() {
            for (j, st) in r.step.iter().enumerate() {
                st.to_step()
                    .map_err(|e| anyhow!("responder[{i}].step[{j}]: {e}"))?;
            }
        }
        self.expect.validate("expect")
    }
}

impl Expect {
    fn validate(&self, key: &str) -> Result<()> {
        const REASONS: &[EndReason] = EndReason::ALL;
        if let Some(r) = &self.end_reason
            && !REASONS.iter().any(|x| x.as_str() == r)
        {
            let names: Vec<&str> = REASONS.iter().map(|x| x.as_str()).collect();
            bail!(
                "{key}.end_reason: `{r}` is not an end reason; use one of {}",
                names.join(", ")
            );
        }
        if self.transcript.is_some() {
            bail!(
                "{key}.transcript: transcript text is no longer checked; expect typed events instead, e.g. [[{key}.event]] kind = \"modem_reset\" (see hil-tests/README.md)"
            );
        }
        for (i, e) in self.event.iter().enumerate() {
            events::validate(&format!("{key}.event[{i}]"), e)?;
        }
        Ok(())
    }
}

fn fmt_t(start: Instant, t: Instant) -> String {
    format!(
        "[{:>8.3}]",
        t.saturating_duration_since(start).as_secs_f64()
    )
}

/// Runs a scenario file (the configuration and TTS cache as it says).
pub fn run_file(path: &Path, tts_cache: Option<PathBuf>) -> Result<(Scenario, Outcome)> {
    let sc = load(path)?;
    let board = match &sc.board {
        Some(rel) => {
            let p = path.parent().unwrap_or(Path::new(".")).join(rel);
            let src = std::fs::read_to_string(&p)
                .with_context(|| format!("board: cannot read {}", p.display()))?;
            let b =
                BoardProfile::parse(&p.display().to_string(), &src).map_err(|e| anyhow!("{e}"))?;
            if b.modem.as_ref().is_some_and(|m| m.serial != "sim") {
                bail!(
                    "board: {} has a real modem; a scenario needs a simulated board (modem serial = \"sim\")",
                    p.display()
                );
            }
            b
        }
        None => BoardProfile::sim(),
    };
    let cfg = match &sc.config {
        Some(rel) => {
            let p = path.parent().unwrap_or(Path::new(".")).join(rel);
            Config::load(&p, &board).map_err(|e| anyhow!("{e}"))?
        }
        None => Config::demo(),
    };
    let mut reloads = Vec::new();
    for (i, c) in sc.commands.iter().enumerate() {
        reloads.push(match &c.reload {
            Some(rel) => {
                let p = path.parent().unwrap_or(Path::new(".")).join(rel);
                let cfg =
                    Config::load(&p, &board).map_err(|e| anyhow!("command[{i}].reload: {e}"))?;
                Some(Arc::new(cfg))
            }
            None => None,
        });
    }
    let outcome = run_with(&sc, Arc::new(cfg), &board, tts_cache, reloads)?;
    Ok((sc, outcome))
}

/// Runs a scenario whose commands load no configuration files.
pub fn run(
    sc: &Scenario,
    cfg: Arc<Config>,
    board: &BoardProfile,
    tts_cache: Option<PathBuf>,
) -> Result<Outcome> {
    run_with(sc, cfg, board, tts_cache, Vec::new())
}

/// Runs a scenario on the simulated rig; `reloads[i]` is the configuration
/// `command[i]` reloads.
fn run_with(
    sc: &Scenario,
    cfg: Arc<Config>,
    board: &BoardProfile,
    tts_cache: Option<PathBuf>,
    reloads: Vec<Option<Arc<Config>>>,
) -> Result<Outcome> {
    let mut rig = SimRig {
        board: board.clone(),
        tts_cache,
    };
    run_on(&mut rig, sc, cfg, reloads)
}

/// Plays a scenario on any rig and checks what it observed against the scenario's
/// expectations.
pub fn run_on(
    rig: &mut dyn Rig,
    sc: &Scenario,
    cfg: Arc<Config>,
    reloads: Vec<Option<Arc<Config>>>,
) -> Result<Outcome> {
    let o = rig.play(sc, cfg, reloads)?;
    judge(sc, o)
}

/// The expectations of every caller against what was observed.
fn judge(sc: &Scenario, mut o: Observed) -> Result<Outcome> {
    // each caller's record: the first unclaimed one on their port (and number)
    let mut stored: Vec<Option<Cdr>> = o.records.drain(..).map(Some).collect();
    let mut cdrs = Vec::new();
    for c in &sc.caller {
        let found = stored.iter_mut().find(|slot| {
            slot.as_ref().is_some_and(|r| {
                r.port == c.port
                    && (c.caller_id.is_none()
                        || r.caller_id == c.caller_id
                        || r.caller_id.as_deref() == Some(c.port.as_str()))
            })
        });
        cdrs.push(found.and_then(Option::take));
    }
    let mut failures = Vec::new();
    for (i, c) in sc.caller.iter().enumerate() {
        let expect = match (i, &c.expect) {
            (_, Some(x)) => x,
            (0, None) => &sc.expect,
            _ => continue,
        };
        let who = if sc.caller.len() == 1 {
            String::new()
        } else {
            format!("caller[{i}]: ")
        };
        let vm = match cdrs[i].as_ref().and_then(|c| c.voicemail_id) {
            Some(id) => {
                let (row, bytes) = o.store.voicemail_audio(&o.voicemail_dir, id)?;
                let samples = crate::media::ogg_opus::decode(&bytes)?;
                Some(VoicemailFound { row, samples })
            }
            None => None,
        };
        let mut f = check(
            expect,
            cdrs[i].as_ref(),
            &o.events,
            o.caller_heard_ms[i],
            o.responder_heard_ms,
        );
        f.extend(check_voicemail(expect, cdrs[i].as_ref(), vm.as_ref()));
        if let Some(want) = &expect.sms_inbox {
            let mut rows = o.store.inbox(10_000)?;
            rows.reverse();
            let got: Vec<String> = rows
                .iter()
                .map(|r| format!("{}: {}", r.sender, r.action))
                .collect();
            if &got != want {
                f.push(format!("sms_inbox: expected {want:?}, got {got:?}"));
            }
        }
        if let Some(want) = &expect.sms_sent {
            let got = &o.sms_sent;
            if got != want {
                f.push(format!("sms_sent: expected {want:?}, got {got:?}"));
            }
        }
        if let Some(want) = expect.sim_sms_left {
            let left = o.sim_sms_left;
            if left != want {
                f.push(format!(
                    "sim_sms_left: expected {want} SMS left in the modem's storage, found {left}"
                ));
            }
        }
        if let Some(want) = &expect.modem_commands {
            let mut sent = o.modem_commands.iter();
            if let Some(missing) = want.iter().find(|w| !sent.any(|c| c == *w)) {
                f.push(format!(
                    "modem_commands: the box never sent {missing:?} (in the order {want:?})"
                ));
            }
        }
        if let Some(want) = &expect.test_calls
            && &o.test_calls != want
        {
            f.push(format!(
                "test_calls: expected {want:?}, got {:?}",
                o.test_calls
            ));
        }
        if let Some(want) = &expect.sim_pins
            && &o.sim_pins != want
        {
            f.push(format!("sim_pins: expected {want:?}, got {:?}", o.sim_pins));
        }
        f.extend(check_alerts(
            expect,
            cdrs[i].as_ref(),
            &o.store,
            &o.cfg,
            o.receiver.as_ref(),
            vm.as_ref(),
            o.wall,
        )?);
        failures.extend(f.into_iter().map(|f| format!("{who}{f}")));
    }
    let cdr = cdrs.first().cloned().flatten();
    Ok(Outcome {
        transcript: o.transcript,
        events: o.events,
        cdr,
        cdrs,
        failures,
        virtual_time: o.virtual_time,
        real_time: o.real_time,
        modem_commands: o.modem_commands,
        pcm_frames: o.pcm_frames,
    })
}
