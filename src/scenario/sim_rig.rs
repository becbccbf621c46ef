//! The simulated rig: the scenario's people and faults on the simulated board
//! ([`SimBoard`]), the box (an [`Engine`] over the [`Exchange`]) in the same process,
//! in virtual time, its records in an in-memory store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use super::{Behaviour, CommandSpec, Observed, Rig, Scenario, ScratchDir, fmt_t};
use super::{alert_delivery, health_watch::HealthWatch};
use crate::alerts::test_receiver::{Reply, TestReceiver};
use crate::app::engine::Engine;
use crate::app::service::{CallWriter, StoreMsg};
use crate::config::{BoardProfile, Config};
use crate::exchange::{Command, CommandResult, Exchange, Output};
use crate::hw::sim::modem::FarEnd;
use crate::hw::sim::party::{Act, CALLER_MARKER_HZ, Party, RESPONDER_MARKER_HZ, Step, Trigger};
use crate::hw::sim::{ModemFault, Responder, SimBoard};
use crate::media::tts::Tts;
use crate::store::Store;

/// The simulated board and the box in one process, in virtual time.
pub struct SimRig {
    /// The board profile (its modem must be the simulated one).
    pub board: BoardProfile,
    /// Where rendered prompts are cached.
    pub tts_cache: Option<PathBuf>,
}

impl Rig for SimRig {
    fn play(
        &mut self,
        sc: &Scenario,
        cfg: Arc<Config>,
        reloads: Vec<Option<Arc<Config>>>,
    ) -> Result<Observed> {
        let board = &self.board;
        let tts_cache = self.tts_cache.clone();
        let real_start = Instant::now();
        let tts = Tts::new(tts_cache).memoised();
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
                sim.schedule_modem_fault(start + f.at, ModemFault::Registration(false));
                sim.schedule_modem_fault(start + back, ModemFault::Registration(true));
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
                ModemFault::IncomingSms {
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
            let r = TestReceiver::start()?;
            for t in &sc.refuse_targets {
                r.script(&format!("/{t}"), vec![Reply::Status(503)]);
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
        let mut events: Vec<serde_json::Value> = Vec::new();
        let mut cmd_notes: Vec<(Instant, String)> = Vec::new();
        let mut cdr_ids = Vec::new();
        let mut test_calls: Vec<String> = Vec::new();
        let mut sim_pins: Vec<String> = Vec::new();
        let mut store_err = None;
        let engine_cmds: std::rc::Rc<std::cell::RefCell<Vec<crate::exchange::Command>>> =
            Default::default();
        let cmds = engine_cmds.clone();
        let mut sink = |t: Instant, out: Output| {
            if let Some(l) = out.describe() {
                let who = match (l.call, l.port) {
                    (Some(c), Some(p)) => format!("box call {c} {p}: "),
                    (Some(c), None) => format!("box call {c}: "),
                    (None, Some(p)) => format!("box {p}: "),
                    (None, None) => "box: ".into(),
                };
                notes.push((t, format!("{who}{}", l.text)));
            }
            events.extend(super::events::observe(&out));
            match out {
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
                Output::SimPin(r) => sim_pins.push(super::sim_pin_verdict(&r)),
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
                _ => {}
            }
        };
        // Run until the call has ended, then one more virtual second so everyone settles
        // (the caller hears the line go dead, the last modem commands are answered).
        let expected_calls = sc.caller.len() as u64;
        let clock = std::cell::Cell::new(start);
        // commands of the store writer (delete a stored SMS) reach the engine every turn;
        // the box's health is watched once per virtual second, as the store thread does
        let health = std::cell::RefCell::new(HealthWatch::new(start, wall));
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
                &c.sim_pin,
            ) {
                (Some(cfg), None, None, None) => {
                    let prompts = Arc::new(tts.render_library(&cfg, |_, _| {})?);
                    Command::Reload { cfg, prompts }
                }
                (None, Some(call), None, None) => Command::Hangup { call },
                (None, None, Some(number), None) => Command::TestCall {
                    number: number.clone(),
                    tone: Duration::from_secs(5),
                    ring: Duration::from_secs(45),
                    manual: false,
                },
                (None, None, None, Some(pin)) => Command::EnterSimPin {
                    pin: crate::modem::Pin::parse(pin)
                        .map_err(|e| anyhow::anyhow!("command[{i}].sim_pin: {e}"))?,
                },
                _ => bail!(
                    "command[{i}]: give exactly one of `reload = \"file.toml\"`, `hangup_call = N`, `test_call = \"+49...\"` or `sim_pin = \"1234\"`"
                ),
            };
            let result = engine.exchange.command(now, cmd);
            if let CommandResult::Rejected(why) = result {
                cmd_notes.push((now, format!("box: command {i} rejected: {why}")));
            }
        }
        let left = (start + sc.max_duration).saturating_duration_since(now);
        let ended = engine.run_virtual_with(now, left, &mut sink, feed, all_done);
        let end =
            engine.run_virtual_with(ended, Duration::from_secs(1), &mut sink, feed, |_| false);
        if let Some(e) = store_err {
            return Err(e.context("storing the CDR"));
        }
        for (at, changes) in health.into_inner().changes {
            writer.health(&mut store, &changes, at)?;
        }
        if receiver.is_some() {
            // from the wall-clock time the run ended at; every call's event is due by then
            let mut sender =
                crate::alerts::Sender::new(cfg.clone(), data.0.join("voicemail"), sc.seed);
            alert_delivery::deliver(&mut engine, &mut store, &mut sender, &cfg, start, wall, end)?;
        }
        let mut log = engine.board.take_log();
        log.extend(notes);
        log.extend(cmd_notes);
        log.sort_by_key(|(t, _)| *t);
        let transcript: Vec<String> = log
            .iter()
            .map(|(t, s)| format!("{} {s}", fmt_t(start, *t)))
            .collect();
        let mut records = Vec::new();
        for id in &cdr_ids {
            if let Some(c) = store.cdr(*id)? {
                records.push(c);
            }
        }
        let responder_heard_ms = engine
            .board
            .parties()
            .iter()
            .enumerate()
            .filter(|(i, _)| !callers.contains(i))
            .map(|(_, p)| p.heard_other_ms)
            .max()
            .unwrap_or(0);
        let caller_heard_ms = callers
            .iter()
            .map(|&i| engine.board.party(i).heard_other_ms)
            .collect();
        let sms_sent = engine
            .board
            .sim_modem()
            .map(|m| {
                m.sms_sent
                    .iter()
                    .map(|s| format!("{}: {}", s.to, s.text))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Observed {
            transcript,
            events,
            records,
            caller_heard_ms,
            responder_heard_ms,
            voicemail_dir: data.0.join("voicemail"),
            store,
            sms_sent,
            sim_sms_left: engine.board.sim_modem().map_or(0, |m| m.stored_sms()),
            test_calls,
            sim_pins,
            receiver,
            cfg,
            wall,
            virtual_time: end.saturating_duration_since(start),
            real_time: real_start.elapsed(),
            modem_commands: engine.board.modem_commands().to_vec(),
            pcm_frames: engine.board.pcm_stats().map(|s| s.0),
            _scratch: data,
        })
    }
}
