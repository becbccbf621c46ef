//! The modem state machine against the simulated modem, in virtual time over the
//! in-memory line (the serial edge has its own pty tests): dialect detection, the SIM PIN rules, vendor URCs moving call
//! state, modem-reported DTMF, registration loss, call waiting and simpler modems.

use std::time::{Duration, Instant};

use switchboard::hw::sim::modem::{FarEnd, Network, Quirks, SimLock, SimModem, SimModemConfig};
use switchboard::hw::sim::modem_rig::ModemRig;
use switchboard::modem::{
    Dialect, DialectSetting, LegEnd, LegState, ModemConfig, ModemEvent, ModemTiming,
};

struct Net {
    answer_after: Option<Duration>,
}

impl Network for Net {
    fn place_call(&mut self, _: Instant, _: &str) -> FarEnd {
        FarEnd::Rings {
            answer_after: self.answer_after,
        }
    }
    fn modem_hung_up(&mut self, _: Instant, _: &str) {}
    fn answered(&mut self, _: Instant, _: &str) {}
}

/// The driver against the simulated modem in virtual time (`ModemRig`), with the
/// waits these tests use.
struct Rig(ModemRig);

impl std::ops::Deref for Rig {
    type Target = ModemRig;
    fn deref(&self) -> &ModemRig {
        &self.0
    }
}

impl std::ops::DerefMut for Rig {
    fn deref_mut(&mut self) -> &mut ModemRig {
        &mut self.0
    }
}

impl Rig {
    fn new(sim: SimModemConfig, cfg: ModemConfig, timing: ModemTiming) -> Self {
        let net = Net {
            answer_after: Some(Duration::from_millis(1200)),
        };
        Self(ModemRig::new(sim, cfg, timing, Box::new(net), Instant::now()).unwrap())
    }

    /// Runs driver and simulator against each other until `done` holds (20 s of
    /// virtual time at most).
    fn run_until(&mut self, what: &str, done: impl Fn(&[ModemEvent], &SimModem) -> bool) {
        if let Err(e) = self
            .0
            .run_until(what, Duration::from_secs(20), |r| done(&r.events, &r.sim))
        {
            panic!("{e}");
        }
    }

    fn ready(&mut self) {
        self.run_until("Ready", |e, _| e.contains(&ModemEvent::Ready));
    }
}

fn sim_cfg(d: Dialect) -> SimModemConfig {
    SimModemConfig {
        dialect: Some(d),
        ..SimModemConfig::default()
    }
}

/// Slow CLCC polling, so call state can only move by URCs and result codes.
fn no_polls() -> ModemTiming {
    ModemTiming {
        clcc_poll: Duration::from_secs(3600),
        ..ModemTiming::default()
    }
}

#[test]
fn dialect_detected_for_all_three_and_vendor_init_sent() {
    for (d, vendor_cmd) in [
        (Dialect::Generic, None),
        (Dialect::Quectel, Some("AT+QTONEDET=1")),
        (Dialect::Simcom, Some("AT+DDET=1")),
    ] {
        let mut r = Rig::new(sim_cfg(d), ModemConfig::default(), ModemTiming::default());
        r.ready();
        assert_eq!(r.modem.dialect(), d);
        assert_eq!(r.modem.status().dialect, Some(d.as_str()));
        let vendor: Vec<&String> = r
            .sim
            .commands
            .iter()
            .filter(|c| c.starts_with("AT+Q") || c.starts_with("AT+DDET"))
            .collect();
        match vendor_cmd {
            Some(c) => assert!(vendor.iter().any(|v| *v == c), "{d}: {vendor:?}"),
            None => assert!(vendor.is_empty(), "{vendor:?}"),
        }
        // every command the driver sent was accepted: nothing degraded
        assert!(r.events.iter().all(|e| !matches!(e, ModemEvent::Fault(_))));
    }
    // a forced dialect wins over detection
    let cfg = ModemConfig {
        dialect: DialectSetting::Fixed(Dialect::Generic),
        ..ModemConfig::default()
    };
    let mut r = Rig::new(sim_cfg(Dialect::Simcom), cfg, ModemTiming::default());
    r.ready();
    assert_eq!(r.modem.dialect(), Dialect::Generic);
    assert!(!r.sim.commands.iter().any(|c| c == "AT+DDET=1"));
}

fn pin(p: &str) -> ModemConfig {
    ModemConfig {
        pin: Some(p.into()),
        ..ModemConfig::default()
    }
}

#[test]
fn sim_pin_sent_exactly_once_and_never_when_ready() {
    let locked = SimModemConfig {
        sim: SimLock::Pin("2468".into()),
        ..SimModemConfig::default()
    };
    let mut r = Rig::new(locked, pin("2468"), ModemTiming::default());
    r.ready();
    assert_eq!(r.sim.pin_entries, 1);
    assert_eq!(r.modem.status().sim, Some("ready"));
    assert_eq!(r.modem.status().registration, Some("home"));

    let mut r = Rig::new(
        SimModemConfig::default(),
        pin("2468"),
        ModemTiming::default(),
    );
    r.ready();
    assert_eq!(r.sim.pin_entries, 0);
}

#[test]
fn wrong_pin_once_then_a_clear_fault_and_puk_is_never_touched() {
    let locked = SimModemConfig {
        sim: SimLock::Pin("2468".into()),
        ..SimModemConfig::default()
    };
    let mut r = Rig::new(locked, pin("1111"), ModemTiming::default());
    r.run_until("a fault", |e, _| {
        e.iter().any(|e| matches!(e, ModemEvent::Fault(_)))
    });
    r.run_for(Duration::from_millis(500));
    assert_eq!(r.sim.pin_entries, 1);
    assert_eq!(r.sim.sim_state(), "SIM PIN", "two attempts left");
    assert_eq!(r.modem.status().sim, Some("pin_rejected"));
    assert!(!r.events.contains(&ModemEvent::Ready));
    assert!(
        r.events.iter().any(
            |e| matches!(e, ModemEvent::Fault(f) if f.contains("rejected the configured PIN"))
        )
    );

    let puk = SimModemConfig {
        sim: SimLock::Puk,
        ..SimModemConfig::default()
    };
    let mut r = Rig::new(puk, pin("1111"), ModemTiming::default());
    r.run_until("a fault", |e, _| {
        e.iter().any(|e| matches!(e, ModemEvent::Fault(_)))
    });
    assert_eq!(r.sim.pin_entries, 0);
    assert_eq!(r.modem.status().sim, Some("puk_required"));
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, ModemEvent::Fault(f) if f.contains("PUK")))
    );
}

#[test]
fn quectel_ccinfo_moves_the_leg_and_tonedet_gives_dtmf() {
    let mut r = Rig::new(
        sim_cfg(Dialect::Quectel),
        ModemConfig::default(),
        no_polls(),
    );
    r.ready();
    r.take();
    let leg = r.0.modem.dial(r.0.now, "+491701234567");
    r.run_until("answer", |e, _| {
        e.iter().any(|e| {
            matches!(
                e,
                ModemEvent::Leg {
                    state: LegState::Active,
                    ..
                }
            )
        })
    });
    assert_eq!(
        r.take(),
        vec![
            ModemEvent::Leg {
                leg,
                state: LegState::Alerting
            },
            ModemEvent::Leg {
                leg,
                state: LegState::Active
            }
        ]
    );
    assert!(
        !r.sim.commands.iter().any(|c| c == "AT+CLCC"),
        "no poll needed"
    );
    assert!(r.sim.far_end_dtmf("7*"));
    r.run_until("two digits", |e, _| e.len() >= 2);
    assert_eq!(
        r.take(),
        vec![
            ModemEvent::Dtmf { leg, digit: '7' },
            ModemEvent::Dtmf { leg, digit: '*' }
        ]
    );
    r.sim.far_end_hangup();
    r.run_until("the end", |e, _| !e.is_empty());
    assert_eq!(
        r.take(),
        vec![ModemEvent::Leg {
            leg,
            state: LegState::Ended(LegEnd::NoCarrier)
        }]
    );
}

#[test]
fn simcom_voice_call_begin_end_and_rxdtmf() {
    let mut r = Rig::new(sim_cfg(Dialect::Simcom), ModemConfig::default(), no_polls());
    r.ready();
    r.take();
    let leg = r.0.modem.dial(r.0.now, "+491701234567");
    r.run_until("answer", |e, _| !e.is_empty());
    // without polling, only VOICE CALL: BEGIN can report the answer
    assert_eq!(
        r.take(),
        vec![ModemEvent::Leg {
            leg,
            state: LegState::Active
        }]
    );
    r.sim.far_end_dtmf("9");
    r.sim.far_end_hangup();
    r.run_until("the end", |e, _| e.len() >= 2);
    assert_eq!(
        r.take(),
        vec![
            ModemEvent::Dtmf { leg, digit: '9' },
            ModemEvent::Leg {
                leg,
                state: LegState::Ended(LegEnd::NoCarrier)
            }
        ]
    );
}

#[test]
fn registration_loss_and_return_are_events() {
    let mut r = Rig::new(
        sim_cfg(Dialect::Quectel),
        ModemConfig::default(),
        ModemTiming::default(),
    );
    r.ready();
    r.take();
    r.sim.set_registered(false);
    r.run_until("loss", |e, _| !e.is_empty());
    assert_eq!(
        r.take(),
        vec![ModemEvent::Registration {
            registered: false,
            state: "searching"
        }]
    );
    assert_eq!(r.modem.status().registration, Some("searching"));
    r.sim.set_registered(true);
    r.run_until("return", |e, _| !e.is_empty());
    assert_eq!(
        r.take(),
        vec![ModemEvent::Registration {
            registered: true,
            state: "home"
        }]
    );
}

#[test]
fn simple_modem_with_slow_answers_incoming_call_and_waiting_call() {
    let simple = SimModemConfig {
        dialect: Some(Dialect::Generic),
        quirks: Quirks {
            no_echo: true,
            cring: true,
            plain_errors: true,
            no_cereg: true,
        },
        sim: SimLock::Ready,
        slow: Duration::from_millis(40),
    };
    let mut r = Rig::new(simple, ModemConfig::default(), ModemTiming::default());
    r.ready();
    assert_eq!(r.modem.status().registration, Some("home"));
    // +CEREG=2 failed once, so +CEREG? is never asked
    assert!(!r.sim.commands.iter().any(|c| c == "AT+CEREG?"));
    r.take();
    assert!(r.0.sim.incoming_call(r.0.now, "+15550001111"));
    r.run_until("the call", |e, _| !e.is_empty());
    let first = match r.take().as_slice() {
        [ModemEvent::Incoming { leg, caller_id }] => {
            assert_eq!(caller_id.as_deref(), Some("+15550001111"));
            *leg
        }
        other => panic!("{other:?}"),
    };
    assert!(r.0.modem.answer(r.0.now, first));
    r.run_until("answered", |e, _| !e.is_empty());
    assert_eq!(
        r.take(),
        vec![ModemEvent::Leg {
            leg: first,
            state: LegState::Active
        }]
    );
    // a national number (type 129) waits behind it
    assert!(r.0.sim.incoming_call(r.0.now, "05550002222"));
    r.run_until("waiting", |e, _| !e.is_empty());
    let second = match r.take().as_slice() {
        [ModemEvent::CallWaiting { leg, caller_id }] => {
            assert_eq!(caller_id.as_deref(), Some("05550002222"));
            *leg
        }
        other => panic!("{other:?}"),
    };
    assert!(r.0.modem.answer(r.0.now, second));
    r.run_until("swap", |e, _| e.len() >= 2);
    assert_eq!(
        r.take(),
        vec![
            ModemEvent::Leg {
                leg: first,
                state: LegState::Held
            },
            ModemEvent::Leg {
                leg: second,
                state: LegState::Active
            }
        ]
    );
    assert!(r.sim.commands.iter().any(|c| c == "AT+CHLD=2"));
    // the first caller gives up while on hold: the CLCC poll notices
    assert!(r.0.sim.caller_hangup(r.0.now, "+15550001111"));
    r.run_until("first ended", |e, _| !e.is_empty());
    assert_eq!(
        r.take(),
        vec![ModemEvent::Leg {
            leg: first,
            state: LegState::Ended(LegEnd::NoCarrier)
        }]
    );
    r.0.modem.hangup(r.0.now, second);
    r.run_until("released", |_, s| !s.in_call());
}

#[test]
fn quectel_volte_read_and_set_and_urc_port() {
    use switchboard::modem::DialectOptions;
    // plain: the setting is read into the status, nothing is changed
    let mut r = Rig::new(
        sim_cfg(Dialect::Quectel),
        ModemConfig::default(),
        ModemTiming::default(),
    );
    r.ready();
    assert!(r.sim.commands.iter().any(|c| c == "AT+QCFG=\"ims\""));
    assert!(
        !r.sim
            .commands
            .iter()
            .any(|c| c.starts_with("AT+QCFG=\"ims\","))
    );
    assert!(!r.sim.commands.iter().any(|c| c.starts_with("AT+QURCCFG")));
    assert_eq!(r.modem.status().ims, Some("enabled"));
    assert!(r.events.iter().all(|e| !matches!(e, ModemEvent::Fault(_))));

    // configured: URC port and VoLTE set, then read back
    let cfg = ModemConfig {
        options: DialectOptions {
            quectel_volte: true,
            quectel_urc_port: Some("usbmodem"),
            ..DialectOptions::default()
        },
        ..ModemConfig::default()
    };
    let mut r = Rig::new(
        sim_cfg(Dialect::Quectel),
        cfg.clone(),
        ModemTiming::default(),
    );
    r.sim.extras.ims_cfg = 2;
    r.ready();
    assert_eq!(r.sim.extras.urc_port.as_deref(), Some("usbmodem"));
    assert_eq!(r.sim.extras.ims_cfg, 1);
    assert_eq!(r.modem.status().ims, Some("enabled"));
    let json = serde_json::to_value(r.modem.status()).unwrap();
    assert_eq!(json["ims"], "enabled");

    // a carrier profile that locks VoLTE off: a clear fault, the status says so
    let mut r = Rig::new(sim_cfg(Dialect::Quectel), cfg, ModemTiming::default());
    r.sim.extras.volte_locked = true;
    r.ready();
    let fault = r
        .events
        .iter()
        .find_map(|e| match e {
            ModemEvent::Fault(f) => Some(f.clone()),
            _ => None,
        })
        .expect("a fault about VoLTE");
    assert!(fault.contains("refused to switch VoLTE on"), "{fault}");
    assert!(fault.contains("MBN"), "{fault}");
    assert_eq!(r.modem.status().ims, Some("unknown"));
    // the modem is usable anyway
    assert!(r.modem.status().ready);
}

#[test]
fn sms_delivered_directly_as_cmt_is_decoded_and_acknowledged() {
    use switchboard::modem::SmsTimestamp;
    let at = SmsTimestamp {
        year: 2026,
        month: 11,
        day: 22,
        hour: 3,
        minute: 0,
        second: 0,
        tz_quarters: 4,
    };
    for phase2 in [false, true] {
        let mut r = Rig::new(
            sim_cfg(Dialect::Generic),
            ModemConfig::default(),
            ModemTiming::default(),
        );
        r.sim.extras.csms_service = u8::from(phase2);
        r.ready();
        r.take();
        let text = "Störung im Rechenzentrum — bitte zurückrufen. ".repeat(3);
        let parts = r.sim.deliver_sms_direct("+4930123456", &text, at).unwrap();
        assert!(parts >= 2, "long enough to be concatenated");
        r.run_until("the SMS", |e, _| {
            e.iter()
                .any(|e| matches!(e, ModemEvent::SmsReceived { .. }))
        });
        r.run_for(Duration::from_millis(200));
        assert_eq!(
            r.take(),
            vec![ModemEvent::SmsReceived {
                from: "+4930123456".into(),
                text: text.clone(),
                at,
                indexes: vec![],
            }]
        );
        let acks = r.sim.commands.iter().filter(|c| *c == "AT+CNMA").count();
        if phase2 {
            assert_eq!((acks, r.sim.extras.cnma_acks as usize), (parts, parts));
            assert_eq!(r.sim.extras.unacked_cmt, 0);
        } else {
            assert_eq!(acks, 0);
        }
        // nothing was stored, so nothing is read or deleted
        assert!(!r.sim.commands.iter().any(|c| c.starts_with("AT+CMGR")));
        assert_eq!(r.sim.stored_sms(), 0);
    }
}

/// A PIN typed by a person (the web page): refused unless the SIM asks for it, sent
/// once and never again by the driver, a wrong one reported with the attempts left
/// (asked the dialect's way), the right one lets the modem initialise and register.
#[test]
fn sim_pin_typed_by_a_person_for_every_dialect() {
    use switchboard::modem::{Pin, PinEntryResult};
    let verdict = |r: &mut Rig| -> PinEntryResult {
        r.run_until("the SIM's verdict", |e, _| {
            e.iter().any(|e| matches!(e, ModemEvent::SimPin(_)))
        });
        let events = r.take();
        events
            .into_iter()
            .find_map(|e| match e {
                ModemEvent::SimPin(v) => Some(v),
                _ => None,
            })
            .unwrap()
    };
    for (d, attempts_cmd) in [
        (Dialect::Generic, "AT+CPINR=\"SIM PIN\""),
        (Dialect::Quectel, "AT+QPINC=\"SC\""),
        (Dialect::Simcom, "AT+SPIC"),
    ] {
        let locked = SimModemConfig {
            dialect: Some(d),
            sim: SimLock::Pin("2468".into()),
            ..SimModemConfig::default()
        };
        // no PIN configured: initialisation stops and says so
        let mut r = Rig::new(locked, ModemConfig::default(), ModemTiming::default());
        r.run_until("a fault", |e, _| {
            e.iter().any(|e| matches!(e, ModemEvent::Fault(_)))
        });
        assert!(r.modem.init_stopped());
        assert_eq!(r.modem.status().sim, Some("pin_required"));
        r.take();

        // a wrong PIN: one entry, the attempts left, and nothing sent again
        let now = r.now;
        r.modem
            .enter_sim_pin(now, &Pin::parse("1111").unwrap())
            .unwrap();
        assert_eq!(
            verdict(&mut r),
            PinEntryResult::Rejected {
                attempts_left: Some(2),
                puk_required: false
            },
            "{d}"
        );
        assert!(
            r.sim.commands.iter().any(|c| c == attempts_cmd),
            "{d}: {:?}",
            r.sim.commands
        );
        assert_eq!(r.modem.status().sim, Some("pin_required"));
        assert_eq!(r.modem.status().sim_pin_attempts, Some(2));
        r.run_for(Duration::from_secs(30));
        assert_eq!(r.sim.pin_entries, 1, "{d}: a wrong PIN is never sent again");
        assert!(!r.events.contains(&ModemEvent::Ready));

        // the right one: the modem initialises and registers
        let now = r.now;
        r.modem
            .enter_sim_pin(now, &Pin::parse(" 2468 ").unwrap())
            .unwrap();
        assert_eq!(verdict(&mut r), PinEntryResult::Accepted, "{d}");
        r.run_for(Duration::from_secs(5));
        assert!(r.modem.status().ready, "{d}: initialised");
        assert_eq!(r.modem.status().sim, Some("ready"));
        assert_eq!(r.modem.status().registration, Some("home"), "{d}");
        assert!(!r.modem.init_stopped());
        assert_eq!(r.sim.pin_entries, 2);
        // a PIN for a ready SIM would count as a wrong attempt: refused
        let now = r.now;
        let e = r
            .modem
            .enter_sim_pin(now, &Pin::parse("2468").unwrap())
            .unwrap_err();
        assert!(e.contains("does not ask for a PIN"), "{e}");
        assert_eq!(r.sim.pin_entries, 2);
    }
}

#[test]
fn three_wrong_pins_block_the_sim_and_the_puk_is_never_sent() {
    use switchboard::modem::{Pin, PinEntryResult};
    let locked = SimModemConfig {
        dialect: Some(Dialect::Quectel),
        sim: SimLock::Pin("2468".into()),
        ..SimModemConfig::default()
    };
    let mut r = Rig::new(locked, ModemConfig::default(), ModemTiming::default());
    r.run_until("a fault", |e, _| {
        e.iter().any(|e| matches!(e, ModemEvent::Fault(_)))
    });
    let mut last = None;
    for _ in 0..3 {
        r.take();
        let now = r.now;
        r.modem
            .enter_sim_pin(now, &Pin::parse("0000").unwrap())
            .unwrap();
        // a second entry while the first is checked is refused
        let now = r.now;
        assert!(
            r.modem
                .enter_sim_pin(now, &Pin::parse("0000").unwrap())
                .unwrap_err()
                .contains("still being checked")
        );
        r.run_until("the verdict", |e, _| {
            e.iter().any(|e| matches!(e, ModemEvent::SimPin(_)))
        });
        last = r.events.iter().find_map(|e| match e {
            ModemEvent::SimPin(v) => Some(v.clone()),
            _ => None,
        });
    }
    assert_eq!(
        last,
        Some(PinEntryResult::Rejected {
            attempts_left: Some(0),
            puk_required: true
        })
    );
    assert_eq!(r.modem.status().sim, Some("puk_required"));
    let now = r.now;
    let e = r
        .modem
        .enter_sim_pin(now, &Pin::parse("2468").unwrap())
        .unwrap_err();
    assert!(e.contains("PUK"), "{e}");
    assert_eq!(r.sim.pin_entries, 3);
    assert!(
        !r.sim.commands.iter().any(|c| c.contains("CPIN=\"0000\",")),
        "no PUK sent"
    );
}
