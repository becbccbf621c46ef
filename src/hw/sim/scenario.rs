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
//! Modem faults are scheduled with `[[modem_fault]]`: `at` (after the start), `fault`
//! (`reboot`, `hang`, `slow`, `garbage`, `unplug`) and, for `reboot`/`slow`/`unplug`,
//! `duration` (boot time, answer delay, time the port is gone); `garbage` sends
//! `text` (escapes allowed) or, without it, 5000 bytes of noise with no line end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Deserializer};

use super::modem::FarEnd;
use super::party::{Act, CALLER_MARKER_HZ, Party, RESPONDER_MARKER_HZ, Step, Trigger};
use super::{Responder, SimBoard};
use crate::app::engine::Engine;
use crate::app::service::{CallWriter, StoreMsg};
use crate::call::{Cdr, EndReason};
use crate::config::{BoardProfile, Config, parse_duration};
use crate::exchange::{Command, CommandResult, Exchange, Output};
use crate::media::tts::Tts;
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
    fn to_fault(&self) -> Result<super::ModemFault> {
        use super::ModemFault as F;
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
    /// Texts that must appear in the transcript (substrings of its lines).
    #[serde(default)]
    pub transcript: Vec<String>,
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
    /// Transcript lines, virtual time first.
    pub transcript: Vec<String>,
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

/// Runs a scenario; `reloads[i]` is the configuration `command[i]` reloads.
fn run_with(
    sc: &Scenario,
    cfg: Arc<Config>,
    board: &BoardProfile,
    tts_cache: Option<PathBuf>,
    reloads: Vec<Option<Arc<Config>>>,
) -> Result<Outcome> {
    let real_start = Instant::now();
    let tts = Tts::new(tts_cache);
    let prompts = Arc::new(tts.render_library(&cfg, |_, _| {})?);
    let start = Instant::now();
    let wall = sc
        .start
        .unwrap_or_else(|| "2026-03-02T09:00:00Z".parse().expect("valid literal"));

    let mut sim = SimBoard::new_virtual(board)?;
    let mut callers = Vec::new();
    for (i, c) in sc.caller.iter().enumerate() {
        let key = if sc.caller.len() == 1 {
            "caller".to_string()
        } else {
            format!("caller[{i}]")
        };
        let port = board
            .ports
            .iter()
            .position(|p| *p.id.get_ref() == c.port)
            .or_else(|| {
                board
                    .modem
                    .as_ref()
                    .filter(|m| m.id == c.port)
                    .map(|_| board.ports.len())
            })
            .ok_or_else(|| {
                anyhow!(
                    "{key}.port: the board has no port `{}`; use one of {}",
                    c.port,
                    board.port_ids().join(", ")
                )
            })?;
        let steps = c
            .step
            .iter()
            .enumerate()
            .map(|(j, s)| s.to_step().map_err(|e| anyhow!("{key}.step[{j}]: {e}")))
            .collect::<Result<Vec<_>>>()?;
        let name = if sc.caller.len() == 1 {
            "caller".to_string()
        } else {
            format!("caller {}", i + 1)
        };
        let party = Party::new(
            &name,
            steps,
            CALLER_MARKER_HZ,
            RESPONDER_MARKER_HZ,
            !c.silent,
        );
        let idx = sim.schedule_call(
            start + c.ring_at.unwrap_or(Duration::from_millis(500)),
            port,
            c.caller_id.clone(),
            party,
        );
        callers.push(idx);
    }

    for (i, r) in sc.responders.iter().enumerate() {
        let (name, number) = match (&r.user, &r.number) {
            (Some(u), None) => {
                let user = cfg.user(u).ok_or_else(|| {
                    anyhow!("responder[{i}].user: no user `{u}` in the configuration")
                })?;
                let number = user
                    .phone
                    .first()
                    .map(|p| p.get_ref().clone())
                    .ok_or_else(|| anyhow!("responder[{i}]: user `{u}` has no phone number"))?;
                (u.clone(), number)
            }
            (None, Some(n)) => (n.clone(), n.clone()),
            _ => bail!("responder[{i}]: give exactly one of `user` or `number`"),
        };
        let mut steps = Vec::new();
        let mut greeting = Vec::new();
        let (far, talks) = match r.behaviour {
            Behaviour::Accept | Behaviour::Decline => {
                let key = if r.behaviour == Behaviour::Accept {
                    "1"
                } else {
                    "2"
                };
                steps.push(Step {
                    trigger: Trigger::PromptEnd,
                    delay: Duration::from_millis(300),
                    act: Act::Press(key.into()),
                });
                (
                    FarEnd::Rings {
                        answer_after: Some(r.answer_after.unwrap_or(Duration::from_secs(4))),
                    },
                    true,
                )
            }
            Behaviour::NeverAnswer => (FarEnd::Rings { answer_after: None }, false),
            Behaviour::Busy => (FarEnd::Busy, false),
            Behaviour::Unreachable => (FarEnd::Unreachable, false),
            Behaviour::AnsweringMachine => {
                greeting = tts.render(
                    "en",
                    &format!("Hi, you have reached {name}. I can't take your call right now. Please leave a message after the tone."),
                )?;
                let mut beep = vec![0i16; 4000];
                crate::dsp::tone::ToneGen::single(1000.0, -12.0).fill(&mut beep[..3200]);
                greeting.extend(beep);
                (
                    FarEnd::Rings {
                        answer_after: Some(r.answer_after.unwrap_or(Duration::from_secs(8))),
                    },
                    false,
                )
            }
        };
        for s in &r.step {
            steps.push(s.to_step()?);
        }
        let greeting: Arc<[i16]> = greeting.into();
        sim.add_responder(
            &number,
            Responder {
                far,
                make: Box::new(move || {
                    let mut p = Party::new(
                        &name,
                        steps.clone(),
                        RESPONDER_MARKER_HZ,
                        CALLER_MARKER_HZ,
                        talks,
                    );
                    p.queue_audio(&greeting);
                    p
                }),
            },
        );
    }

    for (i, f) in sc.line_faults.iter().enumerate() {
        let port = board
            .ports
            .iter()
            .position(|p| *p.id.get_ref() == f.port)
            .ok_or_else(|| {
                anyhow!(
                    "line_fault[{i}].port: the board has no analog port `{}`",
                    f.port
                )
            })?;
        sim.schedule_line_fault(start + f.at, port, f.dead);
    }
    let mut settle_until = start;
    for f in &sc.modem_faults {
        if f.fault == "no_network" {
            // registration lost, back after `duration`; the run lasts until then
            let back = f.at + f.duration.unwrap_or(Duration::from_secs(60));
            sim.schedule_modem_fault(start + f.at, super::ModemFault::Registration(false));
            sim.schedule_modem_fault(start + back, super::ModemFault::Registration(true));
            settle_until = settle_until.max(start + back + Duration::from_secs(20));
            continue;
        }
        sim.schedule_modem_fault(start + f.at, f.to_fault()?);
    }
    for m in &sc.sms {
        let t = wall.checked_add(jiff::SignedDuration::try_from(m.at)?)?;
        let dt = t.to_zoned(jiff::tz::TimeZone::UTC).datetime();
        let at = crate::modem::sms::SmsTimestamp {
            year: dt.year() as u16,
            month: dt.month() as u8,
            day: dt.day() as u8,
            hour: dt.hour() as u8,
            minute: dt.minute() as u8,
            second: dt.second() as u8,
            tz_quarters: 0,
        };
        sim.schedule_modem_fault(
            start + m.at,
            super::ModemFault::IncomingSms {
                from: m.from.clone(),
                text: m.text.clone(),
                at,
            },
        );
        // time for the reading, storing, deleting and the confirmation SMS
        settle_until = settle_until.max(start + m.at + Duration::from_secs(20));
    }
    for c in sc.commands.iter().filter(|c| c.test_call.is_some()) {
        // ringing, the tone and the hang-up
        settle_until = settle_until.max(start + c.at + Duration::from_secs(60));
    }
    let receiver = if sc.deliver_alerts {
        let r = crate::alerts::test_receiver::TestReceiver::start()?;
        for t in &sc.refuse_targets {
            r.script(
                &format!("/{t}"),
                vec![crate::alerts::test_receiver::Reply::Status(503)],
            );
        }
        Some(r)
    } else {
        None
    };
    let cfg = match &receiver {
        Some(r) => {
            let mut c = (*cfg).clone();
            for t in &mut c.alert_targets {
                let url = r.url(&format!("/{}", t.name.get_ref()));
                t.url = Some(toml::Spanned::new(0..0, url));
            }
            Arc::new(c)
        }
        None => cfg,
    };
    let exchange = Exchange::new(board, cfg.clone(), prompts, start, wall, sc.seed);
    let mut engine = Engine::new(exchange, sim, start)?;
    let mut store = Store::in_memory()?;
    let data = ScratchDir::new()?;
    let mut writer = CallWriter::new(data.0.join("voicemail"), cfg.clone(), None);
    let mut notes: Vec<(Instant, String)> = Vec::new();
    let mut cmd_notes: Vec<(Instant, String)> = Vec::new();
    let mut cdr_ids = Vec::new();
    let mut test_calls: Vec<String> = Vec::new();
    let mut store_err = None;
    let engine_cmds: std::rc::Rc<std::cell::RefCell<Vec<crate::exchange::Command>>> =
        Default::default();
    let cmds = engine_cmds.clone();
    let mut sink = |t: Instant, out: Output| match out {
        Output::SmsReceived {
            from,
            text,
            at,
            indexes,
        } => {
            writer.handle(
                &mut store,
                StoreMsg::Sms {
                    from,
                    text,
                    at,
                    indexes,
                },
            );
            cmds.borrow_mut().extend(writer.take_commands());
        }
        Output::Cdr(cdr) => match writer.handle(&mut store, StoreMsg::Cdr(cdr)) {
            Some(Ok(id)) => cdr_ids.push(id),
            Some(Err(e)) => store_err = Some(e),
            None => {}
        },
        Output::Voicemail(vm) => {
            writer.handle(&mut store, StoreMsg::Voicemail(vm));
        }
        Output::Call(ev) => {
            writer.handle(&mut store, StoreMsg::Call(ev));
        }
        Output::TestCall(r) => {
            let at = jiff::SignedDuration::try_from(t.saturating_duration_since(start))
                .ok()
                .and_then(|d| wall.checked_add(d).ok())
                .unwrap_or(wall);
            test_calls.push(match &r.outcome {
                Ok(_) => format!("{}: passed", r.number),
                Err(why) => format!("{}: failed: {why}", r.number),
            });
            writer.handle(&mut store, StoreMsg::TestCall(r, at));
        }
        Output::Note(n) => {
            let who = match (n.call, &n.port) {
                (Some(c), Some(p)) => format!("box call {c} {p}: "),
                (Some(c), None) => format!("box call {c}: "),
                (None, Some(p)) => format!("box {p}: "),
                (None, None) => "box: ".into(),
            };
            notes.push((t, format!("{who}{}", n.text)));
        }
        _ => {}
    };
    // Run until the call has ended, then one more virtual second so everyone settles
    // (the caller hears the line go dead, the last modem commands are answered).
    let expected_calls = sc.caller.len() as u64;
    let clock = std::cell::Cell::new(start);
    // commands of the store writer (delete a stored SMS) reach the engine every turn
    // the box's health, watched once per virtual second as the store thread does
    let health = std::cell::RefCell::new(super::health_watch::HealthWatch::new(start, wall));
    let feed = |e: &mut Engine<SimBoard>, now: Instant| {
        clock.set(now);
        for c in engine_cmds.borrow_mut().drain(..) {
            e.exchange.command(now, c);
        }
        health.borrow_mut().turn(e, now, &cfg);
    };
    let all_done = |e: &Engine<SimBoard>| {
        clock.get() >= settle_until
            && e.exchange.calls_started() >= expected_calls
            && e.exchange.active_calls() == 0
    };
    let mut now = start;
    let mut commands: Vec<(usize, &CommandSpec)> = sc.commands.iter().enumerate().collect();
    commands.sort_by_key(|(_, c)| c.at);
    for (i, c) in commands {
        let at = (start + c.at).max(now);
        now = engine.run_virtual_with(now, at - now, &mut sink, feed, all_done);
        if all_done(&engine) {
            break;
        }
        let cmd = match (
            reloads.get(i).cloned().flatten(),
            c.hangup_call,
            &c.test_call,
        ) {
            (Some(cfg), None, None) => {
                let prompts = Arc::new(tts.render_library(&cfg, |_, _| {})?);
                Command::Reload { cfg, prompts }
            }
            (None, Some(call), None) => Command::Hangup { call },
            (None, None, Some(number)) => Command::TestCall {
                number: number.clone(),
                tone: Duration::from_secs(5),
                ring: Duration::from_secs(45),
            },
            _ => bail!(
                "command[{i}]: give exactly one of `reload = \"file.toml\"`, `hangup_call = N` or `test_call = \"+49...\"`"
            ),
        };
        let result = engine.exchange.command(now, cmd);
        if let CommandResult::Rejected(why) = result {
            cmd_notes.push((now, format!("box: command {i} rejected: {why}")));
        }
    }
    let left = (start + sc.max_duration).saturating_duration_since(now);
    let ended = engine.run_virtual_with(now, left, &mut sink, feed, all_done);
    let end = engine.run_virtual_with(ended, Duration::from_secs(1), &mut sink, feed, |_| false);
    if let Some(e) = store_err {
        return Err(e.context("storing the CDR"));
    }
    for (at, changes) in health.into_inner().changes {
        writer.health(&mut store, &changes, at)?;
    }
    if receiver.is_some() {
        // from the wall-clock time the run ended at; every call's event is due by then
        let mut sender = crate::alerts::Sender::new(cfg.clone(), data.0.join("voicemail"), sc.seed);
        super::alert_delivery::deliver(
            &mut engine,
            &mut store,
            &mut sender,
            &cfg,
            start,
            wall,
            end,
        )?;
    }

    let mut log = engine.board.take_log();
    log.extend(notes);
    log.extend(cmd_notes);
    log.sort_by_key(|(t, _)| *t);
    let transcript: Vec<String> = log
        .iter()
        .map(|(t, s)| format!("{} {s}", fmt_t(start, *t)))
        .collect();
    let mut stored = Vec::new();
    for id in &cdr_ids {
        if let Some(c) = store.cdr(*id)? {
            stored.push(Some(c));
        }
    }
    // each caller's record: the first unclaimed one on their port (and number)
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
    let responder_heard = engine
        .board
        .parties()
        .iter()
        .enumerate()
        .filter(|(i, _)| !callers.contains(i))
        .map(|(_, p)| p.heard_other_ms)
        .max()
        .unwrap_or(0);
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
        let caller = engine.board.party(callers[i]);
        let vm = match cdrs[i].as_ref().and_then(|c| c.voicemail_id) {
            Some(id) => {
                let (row, bytes) = store.voicemail_audio(&data.0.join("voicemail"), id)?;
                let samples = crate::media::ogg_opus::decode(&bytes)?;
                Some(VoicemailFound { row, samples })
            }
            None => None,
        };
        let mut f = check(
            expect,
            cdrs[i].as_ref(),
            &transcript,
            caller.heard_other_ms,
            responder_heard,
        );
        f.extend(check_voicemail(expect, cdrs[i].as_ref(), vm.as_ref()));
        if let Some(want) = &expect.sms_inbox {
            let mut rows = store.inbox(10_000)?;
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
            let got: Vec<String> = engine
                .board
                .sim_modem()
                .map(|m| {
                    m.sms_sent
                        .iter()
                        .map(|s| format!("{}: {}", s.to, s.text))
                        .collect()
                })
                .unwrap_or_default();
            if &got != want {
                f.push(format!("sms_sent: expected {want:?}, got {got:?}"));
            }
        }
        if let Some(want) = expect.sim_sms_left {
            let left = engine.board.sim_modem().map_or(0, |m| m.stored_sms());
            if left != want {
                f.push(format!(
                    "sim_sms_left: expected {want} SMS left in the modem's storage, found {left}"
                ));
            }
        }
        if let Some(want) = &expect.test_calls
            && &test_calls != want
        {
            f.push(format!("test_calls: expected {want:?}, got {test_calls:?}"));
        }
        f.extend(check_alerts(
            expect,
            cdrs[i].as_ref(),
            &store,
            &cfg,
            receiver.as_ref(),
            vm.as_ref(),
            wall,
        )?);
        failures.extend(f.into_iter().map(|f| format!("{who}{f}")));
    }
    let cdr = cdrs.first().cloned().flatten();
    Ok(Outcome {
        transcript,
        cdr,
        cdrs,
        failures,
        virtual_time: end.saturating_duration_since(start),
        real_time: real_start.elapsed(),
        modem_commands: engine.board.modem_commands().to_vec(),
        pcm_frames: engine.board.pcm_stats().map(|s| s.0),
    })
}

fn check_alerts(
    x: &Expect,
    cdr: Option<&Cdr>,
    store: &Store,
    cfg: &Config,
    receiver: Option<&crate::alerts::test_receiver::TestReceiver>,
    vm: Option<&VoicemailFound>,
    wall: jiff::Timestamp,
) -> Result<Vec<String>> {
    let mut f = Vec::new();
    if let Some(want) = &x.health_alerts {
        let mut got = Vec::new();
        for a in store.alerts(10_000)?.into_iter().rev() {
            if let Some(key) = a.routing_id.strip_prefix("health:") {
                got.push(format!(
                    "{key}: {}",
                    store.alert_event_kinds(a.id)?.join(", ")
                ));
            }
        }
        if &got != want {
            f.push(format!("health_alerts: expected {want:?}, got {got:?}"));
        }
    }
    let Some(cdr) = cdr else { return Ok(f) };
    let alert = cdr.alert_id;
    if let Some(want) = &x.alert_events {
        let got: Vec<String> = match alert {
            Some(id) => store.alert_event_kinds(id)?,
            None => Vec::new(),
        };
        if &got != want {
            f.push(format!("alert_events: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = &x.alert_deliveries {
        let got: Vec<String> = store
            .alerts(10_000)?
            .into_iter()
            .filter(|a| Some(a.id) == alert)
            .flat_map(|a| a.deliveries)
            .map(|(t, k, st, _, _)| format!("{t}:{k}:{st}"))
            .collect();
        if &got != want {
            f.push(format!("alert_deliveries: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = x.sms_cap_refused {
        let got = store
            .sms_cap_status(0, 0, *cfg.sms.cap.get_ref())?
            .refused_total;
        if got != want {
            f.push(format!("sms_cap_refused: expected {want}, got {got}"));
        }
    }
    if let Some(want) = &x.delivered {
        let Some(r) = receiver else {
            f.push("delivered: set deliver_alerts = true in the scenario".into());
            return Ok(f);
        };
        let key = match alert {
            Some(id) => store
                .alerts(10_000)?
                .into_iter()
                .find(|a| a.id == id)
                .map(|a| a.dedup_key),
            None => None,
        };
        let mut got = Vec::new();
        for req in r.received() {
            let target = req.path.trim_start_matches('/').to_string();
            let Some(body) = req.json() else { continue };
            // PagerDuty: dedup_key/event_action; ilert: alertKey/eventType; webhook: alert.key
            let (k, kind) = if let Some(k) = body["dedup_key"].as_str() {
                (
                    k.to_string(),
                    body["event_action"].as_str().unwrap_or("").to_string(),
                )
            } else if let Some(k) = body["alertKey"].as_str() {
                (
                    k.to_string(),
                    body["eventType"].as_str().unwrap_or("").to_string(),
                )
            } else {
                (
                    body["alert"]["key"].as_str().unwrap_or("").to_string(),
                    body["event"]["kind"].as_str().unwrap_or("").to_string(),
                )
            };
            if Some(&k) != key.as_ref() {
                continue;
            }
            if let Some(t) = cfg.alert_target(&target)
                && t.kind() == crate::config::alerts::TargetKind::Webhook
            {
                let secret = t.secret.as_ref().map_or("", |s| s.get_ref().as_str());
                let sig = req
                    .headers
                    .get("x-switchboard-signature")
                    .cloned()
                    .unwrap_or_default();
                let json_bytes = match req.part("event") {
                    Some(p) => p,
                    None => req.body.clone(),
                };
                let t_s = sig
                    .split(',')
                    .find_map(|p| p.strip_prefix("t="))
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                if !crate::alerts::payload::verify(secret, &sig, &json_bytes, t_s, 0)
                    || (t_s - wall.as_second()).abs() > 86_400
                {
                    f.push(format!("delivered: bad webhook signature on {kind}"));
                }
                if let Some(audio) = req.part("voicemail") {
                    let sha = crate::store::voicemail::sha256_hex(&audio);
                    if body["voicemail"]["sha256"].as_str() != Some(sha.as_str())
                        || vm.is_some_and(|v| v.row.sha256 != sha)
                    {
                        f.push(
                            "delivered: the attached voicemail does not match its sha256".into(),
                        );
                    }
                }
            }
            got.push(format!("{target}:{kind}"));
        }
        if &got != want {
            f.push(format!("delivered: expected {want:?}, got {got:?}"));
        }
    }
    Ok(f)
}

fn check_voicemail(x: &Expect, cdr: Option<&Cdr>, vm: Option<&VoicemailFound>) -> Vec<String> {
    let mut f = Vec::new();
    let Some(cdr) = cdr else { return f };
    if let Some(want) = &x.voicemail {
        let got = cdr.voicemail.clone().unwrap_or_default();
        if &got != want {
            f.push(format!("voicemail: expected {want:?}, got {got:?}"));
        }
    }
    let wants_file = x.voicemail_empty.is_some()
        || x.voicemail_seconds.is_some()
        || x.voicemail_marker.is_some()
        || x.voicemail_ended_by.is_some();
    let Some(vm) = vm else {
        if wants_file {
            f.push("voicemail: no voicemail was stored for the call".into());
        }
        return f;
    };
    if let Some(e) = x.voicemail_empty
        && vm.row.empty != e
    {
        f.push(format!(
            "voicemail_empty: expected {e}, got {}",
            vm.row.empty
        ));
    }
    if let Some(by) = &x.voicemail_ended_by
        && &vm.row.ended_by != by
    {
        f.push(format!(
            "voicemail_ended_by: expected {by:?}, got {:?}",
            vm.row.ended_by
        ));
    }
    let decoded = vm.samples.len() as f64 / f64::from(crate::dsp::SAMPLE_RATE);
    if (decoded - vm.row.seconds).abs() > 0.05 {
        f.push(format!(
            "voicemail: the file decodes to {decoded:.2} s but the index says {:.2} s",
            vm.row.seconds
        ));
    }
    if let Some([lo, hi]) = x.voicemail_seconds
        && !(lo..=hi).contains(&decoded)
    {
        f.push(format!(
            "voicemail_seconds: expected {lo} to {hi} s, the file has {decoded:.2} s"
        ));
    }
    if let Some(want) = x.voicemail_marker {
        let level = super::party::marker_level_dbm0(&vm.samples, CALLER_MARKER_HZ);
        let sent = super::party::MARKER_LEVEL_DBM0;
        let ok = level.is_some_and(|l| (l - sent).abs() <= 3.0);
        if ok != want {
            f.push(format!(
                "voicemail_marker: expected {want}, the caller's {CALLER_MARKER_HZ} Hz marker was sent at {sent} dBm0 and the file has it at {level:?} dBm0"
            ));
        }
    }
    f
}

fn check(
    x: &Expect,
    cdr: Option<&Cdr>,
    transcript: &[String],
    caller_heard_ms: u32,
    responder_heard_ms: u32,
) -> Vec<String> {
    let mut f = Vec::new();
    let Some(cdr) = cdr else {
        f.push("no call detail record was written".into());
        return f;
    };
    if let Some(r) = &x.end_reason {
        if cdr.end_reason.as_str() != r {
            f.push(format!(
                "end_reason: expected {r}, got {}",
                cdr.end_reason.as_str()
            ));
        }
    }
    if let Some(o) = x.option {
        if cdr.option_key != Some(o) {
            f.push(format!("option: expected {o}, got {:?}", cdr.option_key));
        }
    }
    if let Some(a) = &x.accepted_by {
        let got = cdr.accepted_by.clone().unwrap_or_default();
        if &got != a {
            f.push(format!("accepted_by: expected {a:?}, got {got:?}"));
        }
    }
    if let Some(want) = &x.attempts {
        let got: Vec<String> = cdr
            .attempts
            .iter()
            .map(|a| format!("{}:{}", a.user, a.outcome.as_str()))
            .collect();
        if &got != want {
            f.push(format!("attempts: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(d) = &x.digits {
        if &cdr.digits != d {
            f.push(format!("digits: expected {d:?}, got {:?}", cdr.digits));
        }
    }
    let this_call = format!("box call {} ", cdr.call_id);
    for h in &x.caller_heard {
        let heard = transcript.iter().any(|l| {
            l.contains(&this_call) && l.contains("caller hears: \"") && l.contains(h.as_str())
        });
        if !heard {
            f.push(format!("caller_heard: the caller never heard {h:?}"));
        }
    }
    if let Some(b) = x.bridged_audio {
        let both = caller_heard_ms >= 1000 && responder_heard_ms >= 1000;
        if both != b {
            f.push(format!(
                "bridged_audio: expected {b}, but the caller heard the responder for {caller_heard_ms} ms and the responder heard the caller for {responder_heard_ms} ms"
            ));
        }
    }
    for want in &x.transcript {
        if !transcript.iter().any(|l| l.contains(want.as_str())) {
            f.push(format!("transcript: no line contains {want:?}"));
        }
    }
    if let Some(o) = &x.overflow {
        let got = cdr.overflow.clone().unwrap_or_default();
        if &got != o {
            f.push(format!("overflow: expected {o:?}, got {got:?}"));
        }
    }
    if let Some(p) = &x.pin {
        if cdr.pin.as_ref() != Some(p) {
            f.push(format!("pin: expected {p:?}, got {:?}", cdr.pin));
        }
    }
    if let Some(want) = &x.path {
        if &cdr.path != want {
            f.push(format!("path: expected {want:?}, got {:?}", cdr.path));
        }
    }
    if let Some(q) = x.queued {
        let waited = cdr.queue_seconds.is_some_and(|s| s > 0.0);
        if waited != q {
            f.push(format!(
                "queued: expected {q}, but the caller waited {:?} s for a line",
                cdr.queue_seconds
            ));
        }
    }
    if let Some(r) = &x.routing_id {
        if &cdr.routing_id != r {
            f.push(format!(
                "routing_id: expected {r:?}, got {:?}",
                cdr.routing_id
            ));
        }
    }
    if let Some(m) = x.max_call_duration {
        if cdr.duration_seconds > m.as_secs_f64() {
            f.push(format!(
                "max_call_duration: the call took {:.1} s",
                cdr.duration_seconds
            ));
        }
    }
    f
}
