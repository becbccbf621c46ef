//! State-machine tests for dialects, the SIM, registration, incoming calls, call
//! waiting, vendor URCs, modem DTMF and call forwarding (sans-IO: scripted answers).

use std::time::{Duration, Instant};

use super::*;

/// Answers every command the driver sends: `custom` first, then a generic modem's
/// answers. Returns the commands sent. Stops when the driver has nothing to send.
fn script(m: &mut Modem, t: Instant, custom: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut sent = Vec::new();
    for _ in 0..80 {
        let Some(tx) = m.poll_transmit() else { break };
        let cmd = String::from_utf8_lossy(&tx).trim().to_string();
        let reply = custom(&cmd).unwrap_or_else(|| default_reply(&cmd));
        sent.push(cmd);
        m.handle_input(t, reply.as_bytes());
    }
    sent
}

fn default_reply(cmd: &str) -> String {
    match cmd {
        "AT+CPIN?" => "\r\n+CPIN: READY\r\n\r\nOK\r\n".into(),
        "AT+CSQ" => "\r\n+CSQ: 20,99\r\n\r\nOK\r\n".into(),
        "AT+CREG?" => "\r\n+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7\r\n\r\nOK\r\n".into(),
        "AT+CEREG?" => "\r\n+CEREG: 2,1,\"1A2B\",\"01C3D4E5\",7\r\n\r\nOK\r\n".into(),
        "AT+COPS?" => "\r\n+COPS: 0,2,\"26201\",7\r\n\r\nOK\r\n".into(),
        "AT+CGMI" | "AT+CGMM" | "ATI" => "\r\nERROR\r\n".into(),
        _ => "\r\nOK\r\n".into(),
    }
}

fn events(m: &mut Modem) -> Vec<ModemEvent> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn tx(m: &mut Modem) -> String {
    String::from_utf8_lossy(&m.poll_transmit().expect("a command"))
        .trim()
        .to_string()
}

fn ready(cfg: ModemConfig, custom: &dyn Fn(&str) -> Option<String>) -> (Modem, Vec<String>) {
    let t = Instant::now();
    let mut m = Modem::with_config(t, ModemTiming::default(), cfg);
    let sent = script(&mut m, t, custom);
    let ev = events(&mut m);
    assert!(ev.contains(&ModemEvent::Ready), "{ev:?} {sent:?}");
    (m, sent)
}

fn quectel(cmd: &str) -> Option<String> {
    match cmd {
        "AT+CGMI" => Some("\r\nQuectel\r\n\r\nOK\r\n".into()),
        "AT+CGMM" => Some("\r\nEC25\r\n\r\nOK\r\n".into()),
        _ => None,
    }
}

#[test]
fn quectel_detected_and_its_init_extras_sent() {
    let (m, sent) = ready(ModemConfig::default(), &quectel);
    assert_eq!(m.dialect(), Dialect::Quectel);
    assert!(
        sent.contains(&"AT+QINDCFG=\"ccinfo\",1".to_string()),
        "{sent:?}"
    );
    assert!(sent.contains(&"AT+QTONEDET=1".to_string()));
    assert!(!sent.iter().any(|c| c.starts_with("AT+QPCMV")));
    assert!(!sent.contains(&"AT+DDET=1".to_string()));
    let st = m.status();
    assert_eq!(st.dialect, Some("quectel"));
    assert_eq!(st.manufacturer.as_deref(), Some("Quectel"));
    assert_eq!(st.model.as_deref(), Some("EC25"));
    assert_eq!(st.sim, Some("ready"));
    assert_eq!(st.operator.as_deref(), Some("26201"));
    // with the profile's usb_audio_route
    let cfg = ModemConfig {
        options: DialectOptions {
            quectel_usb_audio: true,
            ..DialectOptions::default()
        },
        ..ModemConfig::default()
    };
    let (_, sent) = ready(cfg, &quectel);
    assert!(sent.contains(&"AT+QPCMV=1,2".to_string()));
}

#[test]
fn simcom_detected_from_ati_when_cgmi_fails() {
    let (m, sent) = ready(ModemConfig::default(), &|c| {
        (c == "ATI").then(|| {
            "\r\nManufacturer: SIMCOM INCORPORATED\r\nModel: SIMCOM_SIM7600E-H\r\nRevision: LE20B04\r\n\r\nOK\r\n"
                .to_string()
        })
    });
    assert_eq!(m.dialect(), Dialect::Simcom);
    let ati = sent.iter().position(|c| c == "ATI").unwrap();
    assert!(sent[..ati].contains(&"AT+CGMM".to_string()));
    assert!(sent.contains(&"AT+DDET=1".to_string()));
    assert!(!sent.iter().any(|c| c.starts_with("AT+QINDCFG")));
}

#[test]
fn fixed_dialect_overrides_detection_and_generic_has_no_extras() {
    let cfg = ModemConfig {
        dialect: DialectSetting::Fixed(Dialect::Generic),
        ..ModemConfig::default()
    };
    let (m, sent) = ready(cfg, &quectel);
    assert_eq!(m.dialect(), Dialect::Generic);
    assert!(!sent.iter().any(|c| c.starts_with("AT+QINDCFG")));
    // the identity is still read (for status), but no ATI is needed
    assert!(!sent.contains(&"ATI".to_string()));
    assert_eq!(m.status().model.as_deref(), Some("EC25"));
}

#[test]
fn rejected_optional_commands_are_tolerated_essential_ones_stop_init() {
    // a simple modem: ERROR for +CEREG, +CCWA and the Quectel extras
    let (m, sent) = ready(
        ModemConfig {
            dialect: DialectSetting::Fixed(Dialect::Quectel),
            ..ModemConfig::default()
        },
        &|c| {
            (c.starts_with("AT+CEREG") || c.starts_with("AT+CCWA") || c.starts_with("AT+Q"))
                .then(|| "\r\nERROR\r\n".to_string())
        },
    );
    assert_eq!(m.status().registration, Some("home"));
    // +CEREG? is not asked once +CEREG=2 failed
    assert!(!sent.contains(&"AT+CEREG?".to_string()), "{sent:?}");

    let t = Instant::now();
    let mut m = Modem::new(t, ModemTiming::default());
    let sent = script(&mut m, t, &|c| {
        (c == "AT+CMGF=0").then(|| "\r\n+CME ERROR: 4\r\n".to_string())
    });
    let ev = events(&mut m);
    assert!(!ev.contains(&ModemEvent::Ready), "{ev:?}");
    assert!(
        ev.iter()
            .any(|e| matches!(e, ModemEvent::Fault(f) if f.contains("AT+CMGF=0"))),
        "{ev:?}"
    );
    assert!(m.init_stopped());
    // no init command after the failed one goes out (status queries may)
    let at = sent.iter().position(|c| c == "AT+CMGF=0").unwrap();
    assert!(
        sent[at + 1..]
            .iter()
            .all(|c| ["AT+CREG?", "AT+CEREG?", "AT+COPS?", "AT+CSQ"].contains(&c.as_str())),
        "{sent:?}"
    );
}

fn pin_cfg(pin: &str) -> ModemConfig {
    ModemConfig {
        pin: Some(pin.into()),
        ..ModemConfig::default()
    }
}

#[test]
fn sim_pin_sent_once_then_ready_after_busy() {
    let t = Instant::now();
    let mut m = Modem::with_config(t, ModemTiming::default(), pin_cfg("1234"));
    let cpin_state = std::cell::Cell::new(0);
    let answer = |c: &str| match c {
        "AT+CPIN?" => Some(match cpin_state.get() {
            0 => "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n".to_string(),
            1 => "\r\n+CME ERROR: 14\r\n".to_string(),
            _ => "\r\n+CPIN: READY\r\n\r\nOK\r\n".to_string(),
        }),
        "AT+CPIN=\"1234\"" => {
            cpin_state.set(1);
            Some("\r\nOK\r\n".to_string())
        }
        _ => None,
    };
    let mut sent = script(&mut m, t, &answer);
    assert_eq!(sent.last().map(String::as_str), Some("AT+CPIN=\"1234\""));
    // after the PIN, the state is asked again a moment later: SIM busy, then ready
    let mut now = t;
    for round in 0..3 {
        let due = m.poll_timeout().expect("a retry is due");
        now = due.max(now);
        m.handle_timeout(now);
        if round == 1 {
            cpin_state.set(2);
        }
        sent.extend(script(&mut m, now, &answer));
        if m.status().ready {
            break;
        }
    }
    assert!(m.status().ready, "{sent:?}");
    assert_eq!(m.status().sim, Some("ready"));
    assert_eq!(sent.iter().filter(|c| c.starts_with("AT+CPIN=")).count(), 1);
}

#[test]
fn ready_sim_never_gets_a_pin() {
    let (_, sent) = ready(pin_cfg("1234"), &|_| None);
    assert!(!sent.iter().any(|c| c.starts_with("AT+CPIN=")), "{sent:?}");
}

#[test]
fn wrong_pin_is_never_retried_not_even_after_a_reboot() {
    let t = Instant::now();
    let mut m = Modem::with_config(t, ModemTiming::default(), pin_cfg("9999"));
    let answer = |c: &str| match c {
        "AT+CPIN?" => Some("\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n".to_string()),
        c if c.starts_with("AT+CPIN=") => Some("\r\n+CME ERROR: 16\r\n".to_string()),
        _ => None,
    };
    let sent = script(&mut m, t, &answer);
    assert_eq!(sent.iter().filter(|c| c.starts_with("AT+CPIN=")).count(), 1);
    let ev = events(&mut m);
    assert!(
        ev.iter().any(
            |e| matches!(e, ModemEvent::Fault(f) if f.contains("rejected the configured PIN"))
        ),
        "{ev:?}"
    );
    assert_eq!(m.status().sim, Some("pin_rejected"));
    assert!(m.init_stopped());
    assert_eq!(m.poll_timeout(), None, "nothing more is scheduled");
    // the modem reboots: init runs again, asks, but does not send the PIN
    m.handle_input(t, b"\r\nRDY\r\n");
    let sent = script(&mut m, t, &answer);
    assert!(!sent.iter().any(|c| c.starts_with("AT+CPIN=")), "{sent:?}");
    assert!(sent.contains(&"AT+CPIN?".to_string()));
}

#[test]
fn puk_and_missing_sim_stop_with_a_clear_fault() {
    for (reply, sim, words) in [
        ("\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n", "puk_required", "PUK"),
        ("\r\n+CME ERROR: 10\r\n", "not_inserted", "insert the SIM"),
        (
            "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n",
            "pin_required",
            "none is configured",
        ),
    ] {
        let t = Instant::now();
        let mut m = Modem::new(t, ModemTiming::default());
        let sent = script(&mut m, t, &|c| (c == "AT+CPIN?").then(|| reply.to_string()));
        assert!(!sent.iter().any(|c| c.starts_with("AT+CPIN=")));
        let ev = events(&mut m);
        assert!(
            ev.iter()
                .any(|e| matches!(e, ModemEvent::Fault(f) if f.contains(words))),
            "{reply}: {ev:?}"
        );
        assert!(!ev.contains(&ModemEvent::Ready));
        assert_eq!(m.status().sim, Some(sim));
    }
}

#[test]
fn sim_without_ok_after_cpin_still_continues() {
    // python-gsmmodem #19: the modem omits the OK after +CPIN:
    let t = Instant::now();
    let mut m = Modem::new(t, ModemTiming::default());
    script(&mut m, t, &|c| {
        (c == "AT+CPIN?").then(|| "\r\n+CPIN: READY\r\n".to_string())
    });
    let due = m.poll_timeout().unwrap();
    m.handle_timeout(due);
    script(&mut m, due, &|_| None);
    assert!(events(&mut m).contains(&ModemEvent::Ready));
}

#[test]
fn registration_from_creg_and_cereg_with_loss_and_return_events() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    assert_eq!(m.status().lac.as_deref(), Some("1A2B"));
    assert_eq!(m.status().cell_id.as_deref(), Some("01C3D4E5"));
    // LTE only: +CREG drops, +CEREG stays → still registered, no event
    m.handle_input(t, b"\r\n+CREG: 0\r\n");
    assert_eq!(events(&mut m), vec![]);
    // a status poll runs, and the +CEREG loss URC lands inside its response
    m.send_raw(t, "AT+CSQ");
    assert_eq!(tx(&mut m), "AT+CSQ");
    m.handle_input(t, b"\r\n+CSQ: 5,99\r\n\r\n+CEREG: 2\r\n\r\nOK\r\n");
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Registration {
            registered: false,
            state: "searching"
        }]
    );
    assert_eq!(m.status().registration, Some("searching"));
    // back, roaming, on another cell (n=2 URC form with tac/ci/AcT)
    m.handle_input(t, b"\r\n+CEREG: 5,\"00C3\",\"0012D401\",7\r\n");
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Registration {
            registered: true,
            state: "roaming"
        }]
    );
    assert_eq!(m.status().cell_id.as_deref(), Some("0012D401"));
    assert_eq!(m.status().access_technology, Some("E-UTRAN"));
}

fn dialed(dialect: Dialect) -> (Modem, LegId, Instant) {
    let cfg = ModemConfig {
        dialect: DialectSetting::Fixed(dialect),
        ..ModemConfig::default()
    };
    let (mut m, _) = ready(cfg, &|_| None);
    let t = Instant::now();
    let leg = m.dial(t, "+491701111111");
    assert_eq!(tx(&mut m), "ATD+491701111111;");
    m.handle_input(t, b"\r\nOK\r\n");
    (m, leg, t)
}

#[test]
fn quectel_ccinfo_moves_the_leg_without_a_poll() {
    let (mut m, leg, t) = dialed(Dialect::Quectel);
    m.handle_input(
        t,
        b"\r\n+QIND: \"ccinfo\",1,0,3,0,0,\"+491701111111\",145\r\n",
    );
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Leg {
            leg,
            state: LegState::Alerting
        }]
    );
    // no AT+CLCC was needed for that
    assert_eq!(m.poll_transmit(), None);
    m.handle_input(
        t,
        b"\r\n+QIND: \"ccinfo\",1,0,0,0,0,\"+491701111111\",145\r\n",
    );
    m.handle_input(t, b"\r\n+QTONEDET: 56\r\n\r\n+QTONEDET: 35\r\n");
    m.handle_input(
        t,
        b"\r\n+QIND: \"ccinfo\",1,0,-1,0,0,\"+491701111111\",145\r\n",
    );
    assert_eq!(
        events(&mut m),
        vec![
            ModemEvent::Leg {
                leg,
                state: LegState::Active
            },
            ModemEvent::Dtmf { leg, digit: '8' },
            ModemEvent::Dtmf { leg, digit: '#' },
            ModemEvent::Leg {
                leg,
                state: LegState::Ended(LegEnd::NoCarrier)
            },
        ]
    );
}

#[test]
fn simcom_voice_call_begin_end_and_rxdtmf() {
    let (mut m, leg, t) = dialed(Dialect::Simcom);
    m.handle_input(
        t,
        b"\r\nVOICE CALL: BEGIN\r\n\r\n+RXDTMF: 5\r\n\r\n+DTMF: *\r\n",
    );
    m.handle_input(t, b"\r\nVOICE CALL: END: 000012\r\n");
    assert_eq!(
        events(&mut m),
        vec![
            ModemEvent::Leg {
                leg,
                state: LegState::Active
            },
            ModemEvent::Dtmf { leg, digit: '5' },
            ModemEvent::Dtmf { leg, digit: '*' },
            ModemEvent::Leg {
                leg,
                state: LegState::Ended(LegEnd::NoCarrier)
            },
        ]
    );
    // DTMF without a connected call is dropped, not misattributed
    m.handle_input(t, b"\r\n+RXDTMF: 1\r\n");
    assert_eq!(events(&mut m), vec![]);
}

#[test]
fn simcom_serial_pcm_switched_per_call_when_configured() {
    let cfg = ModemConfig {
        dialect: DialectSetting::Fixed(Dialect::Simcom),
        options: DialectOptions {
            simcom_pcm: true,
            ..DialectOptions::default()
        },
        ..ModemConfig::default()
    };
    let (mut m, _) = ready(cfg, &|_| None);
    let t = Instant::now();
    m.handle_input(t, b"\r\nVOICE CALL: BEGIN\r\n");
    assert_eq!(tx(&mut m), "AT+CPCMREG=1");
    m.handle_input(t, b"\r\nOK\r\n\r\nVOICE CALL: END: 000005\r\n");
    assert_eq!(tx(&mut m), "AT+CPCMREG=0");
    // a call that ends with a bare NO CARRIER (no VOICE CALL: END) switches it off
    // too, and a hang-up of ours as well; twice on is sent once
    m.handle_input(t, b"\r\nOK\r\n");
    let leg = m.dial(t, "+491701111111");
    assert_eq!(tx(&mut m), "ATD+491701111111;");
    m.handle_input(t, b"\r\nOK\r\n\r\nVOICE CALL: BEGIN\r\n");
    assert_eq!(tx(&mut m), "AT+CPCMREG=1");
    m.handle_input(t, b"\r\nOK\r\n\r\nVOICE CALL: BEGIN\r\n\r\nNO CARRIER\r\n");
    assert_eq!(tx(&mut m), "AT+CPCMREG=0");
    m.handle_input(t, b"\r\nOK\r\n");
    let leg2 = m.dial(t, "+491702222222");
    assert_ne!(leg, leg2);
    assert_eq!(tx(&mut m), "ATD+491702222222;");
    m.handle_input(t, b"\r\nOK\r\n\r\nVOICE CALL: BEGIN\r\n");
    assert_eq!(tx(&mut m), "AT+CPCMREG=1");
    m.handle_input(t, b"\r\nOK\r\n");
    m.hangup(t, leg2);
    assert_eq!(tx(&mut m), "AT+CHUP");
    m.handle_input(t, b"\r\nOK\r\n");
    assert_eq!(tx(&mut m), "AT+CPCMREG=0");
    // without pcm_serial in the profile nothing is switched
    let (mut m, _, _) = dialed(Dialect::Simcom);
    m.handle_input(t, b"\r\nVOICE CALL: BEGIN\r\n");
    assert_eq!(m.poll_transmit(), None);
}

#[test]
fn incoming_call_answered_then_a_waiting_call_swapped_in() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    m.handle_input(
        t,
        b"\r\n+CRING: VOICE\r\n\r\n+CLIP: \"15550001111\",145,\"\",,\"\",0\r\n",
    );
    let first = match events(&mut m).as_slice() {
        [ModemEvent::Incoming { leg, caller_id }] => {
            assert_eq!(caller_id.as_deref(), Some("+15550001111"));
            *leg
        }
        other => panic!("{other:?}"),
    };
    // more rings of the same call announce nothing new
    m.handle_input(
        t,
        b"\r\n+CRING: VOICE\r\n\r\n+CLIP: \"15550001111\",145\r\n",
    );
    assert_eq!(events(&mut m), vec![]);
    assert!(m.answer(t, first));
    assert_eq!(tx(&mut m), "ATA");
    m.handle_input(t, b"\r\nOK\r\n");
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Leg {
            leg: first,
            state: LegState::Active
        }]
    );
    // the answer is checked with AT+CLCC; a +CCWA lands in its response
    assert_eq!(tx(&mut m), "AT+CLCC");
    m.handle_input(
        t,
        b"\r\n+CLCC: 1,1,0,0,0,\"15550001111\",145\r\n\r\n+CCWA: \"+15550002222\",145,1\r\n\r\n+CLCC: 2,1,5,0,0,\"+15550002222\",145\r\nOK\r\n",
    );
    let second = match events(&mut m).as_slice() {
        [ModemEvent::CallWaiting { leg, caller_id }] => {
            assert_eq!(caller_id.as_deref(), Some("+15550002222"));
            *leg
        }
        other => panic!("{other:?}"),
    };
    m.handle_input(t, b"\r\n+QTONEDET: 49\r\n");
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Dtmf {
            leg: first,
            digit: '1'
        }]
    );
    // answer the waiting call: the first goes on hold
    assert!(m.answer(t, second));
    assert_eq!(tx(&mut m), "AT+CHLD=2");
    m.handle_input(t, b"\r\nOK\r\n");
    assert_eq!(
        events(&mut m),
        vec![
            ModemEvent::Leg {
                leg: first,
                state: LegState::Held
            },
            ModemEvent::Leg {
                leg: second,
                state: LegState::Active
            },
        ]
    );
    assert_eq!(tx(&mut m), "AT+CLCC");
    m.handle_input(
        t,
        b"\r\n+CLCC: 1,1,1,0,0,\"15550001111\",145\r\n+CLCC: 2,1,0,0,0,\"+15550002222\",145\r\nOK\r\n",
    );
    assert_eq!(events(&mut m), vec![]);
    // swap back with CHLD=2, then the second hangs up: NO CARRIER with two calls is
    // resolved by AT+CLCC
    let q = m.chld(t, Chld::HoldActiveAcceptOther);
    assert_eq!(tx(&mut m), "AT+CHLD=2");
    m.handle_input(t, b"\r\nOK\r\n");
    assert!(
        matches!(events(&mut m).as_slice(), [ModemEvent::Response { id, ok: true, .. }] if *id == q)
    );
    assert_eq!(tx(&mut m), "AT+CLCC");
    m.handle_input(
        t,
        b"\r\n+CLCC: 1,1,0,0,0,\"15550001111\",145\r\n+CLCC: 2,1,1,0,0,\"+15550002222\",145\r\nOK\r\n",
    );
    assert_eq!(
        events(&mut m),
        vec![
            ModemEvent::Leg {
                leg: first,
                state: LegState::Active
            },
            ModemEvent::Leg {
                leg: second,
                state: LegState::Held
            },
        ]
    );
    m.handle_input(t, b"\r\nNO CARRIER\r\n");
    assert_eq!(events(&mut m), vec![]);
    assert_eq!(tx(&mut m), "AT+CLCC");
    m.handle_input(t, b"\r\n+CLCC: 1,1,0,0,0,\"15550001111\",145\r\nOK\r\n");
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Leg {
            leg: second,
            state: LegState::Ended(LegEnd::NoCarrier)
        }]
    );
    // hanging up the last call: AT+CHUP
    m.hangup(t, first);
    assert_eq!(tx(&mut m), "AT+CHUP");
}

#[test]
fn withheld_caller_announced_on_the_second_ring_and_missed_call() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    m.handle_input(t, b"\r\nRING\r\n");
    assert_eq!(events(&mut m), vec![]);
    m.handle_input(t, b"\r\nRING\r\n");
    let leg = match events(&mut m).as_slice() {
        [
            ModemEvent::Incoming {
                leg,
                caller_id: None,
            },
        ] => *leg,
        other => panic!("{other:?}"),
    };
    // SIMCom reports the caller gave up
    m.handle_input(t, b"\r\nMISSED_CALL: 14:02 +15550001111\r\n");
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Leg {
            leg,
            state: LegState::Ended(LegEnd::NoCarrier)
        }]
    );
}

#[test]
fn ringing_call_that_vanishes_from_clcc_ends() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    m.handle_input(t, b"\r\nRING\r\n\r\n+CLIP: \"+15550001111\",145\r\n");
    let leg = match events(&mut m).as_slice() {
        [ModemEvent::Incoming { leg, .. }] => *leg,
        other => panic!("{other:?}"),
    };
    let t1 = m.poll_timeout().unwrap();
    assert!(t1 <= t + Duration::from_secs(1));
    m.handle_timeout(t1);
    assert_eq!(tx(&mut m), "AT+CLCC");
    m.handle_input(
        t1,
        b"\r\n+CLCC: 1,1,4,0,0,\"+15550001111\",145\r\n\r\nOK\r\n",
    );
    let t2 = m.poll_timeout().unwrap();
    m.handle_timeout(t2);
    assert_eq!(tx(&mut m), "AT+CLCC");
    m.handle_input(t2, b"\r\nOK\r\n");
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Leg {
            leg,
            state: LegState::Ended(LegEnd::NoCarrier)
        }]
    );
}

#[test]
fn a_ringing_call_missing_from_clcc_ends_only_when_the_rings_stop() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let mut t = Instant::now();
    m.handle_input(t, b"\r\nRING\r\n\r\n+CLIP: \"+15550001111\",145\r\n");
    let leg = match events(&mut m).as_slice() {
        [ModemEvent::Incoming { leg, .. }] => *leg,
        other => panic!("{other:?}"),
    };
    // a modem that does not list ringing calls: empty CLCC answers for 30 polls, a
    // RING every 4 polls (2 s) → still ringing
    let poll = |m: &mut Modem, t: &mut Instant| {
        *t = m.poll_timeout().unwrap();
        m.handle_timeout(*t);
        assert_eq!(tx(m), "AT+CLCC");
        m.handle_input(*t, b"\r\nOK\r\n");
    };
    for i in 0..30 {
        poll(&mut m, &mut t);
        if i % 4 == 3 {
            m.handle_input(t, b"\r\nRING\r\n\r\n+CLIP: \"+15550001111\",145\r\n");
        }
    }
    assert_eq!(events(&mut m), vec![]);
    // a last ring, then the rings stop: gone after 8 s of polls
    m.handle_input(t, b"\r\nRING\r\n");
    for _ in 0..15 {
        poll(&mut m, &mut t);
    }
    assert_eq!(events(&mut m), vec![]);
    poll(&mut m, &mut t);
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Leg {
            leg,
            state: LegState::Ended(LegEnd::NoCarrier)
        }]
    );
}

#[test]
fn dtmf_send_one_vts_per_digit_and_bad_digits_refused() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    assert!(m.send_dtmf(t, "1x").is_err());
    assert_eq!(m.poll_transmit(), None);
    m.send_dtmf(t, "4#").unwrap();
    assert_eq!(tx(&mut m), "AT+VTS=4");
    m.handle_input(t, b"\r\nOK\r\n");
    assert_eq!(tx(&mut m), "AT+VTS=#");
}

#[test]
fn forwarding_query_set_and_clear() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    let q = m.forward_query(t, ForwardReason::Unconditional);
    assert_eq!(tx(&mut m), "AT+CCFC=0,2");
    // a RING in the middle of the answer is not a rule
    m.handle_input(
        t,
        b"\r\n+CCFC: 1,1,\"491701234567\",145\r\n\r\nRING\r\n\r\n+CCFC: 0,4\r\n\r\nOK\r\n",
    );
    let ev = events(&mut m);
    assert_eq!(
        ev.first(),
        Some(&ModemEvent::Forwarding {
            id: q,
            result: Ok(vec![
                ForwardRule {
                    active: true,
                    class: 1,
                    number: Some("+491701234567".into())
                },
                ForwardRule {
                    active: false,
                    class: 4,
                    number: None
                }
            ])
        })
    );
    let s = m
        .forward_set(t, ForwardReason::Busy, "+491709999999")
        .unwrap();
    assert_eq!(tx(&mut m), "AT+CCFC=1,3,\"491709999999\",145");
    m.handle_input(t, b"\r\n+CME ERROR: 30\r\n");
    assert!(matches!(
        events(&mut m).as_slice(),
        [ModemEvent::Forwarding { id, result: Err(e) }] if *id == s && e.contains("30")
    ));
    assert!(m.forward_set(t, ForwardReason::Busy, "nobody").is_err());
    let c = m.forward_clear(t, ForwardReason::All);
    assert_eq!(tx(&mut m), "AT+CCFC=4,4");
    m.handle_input(t, b"\r\nOK\r\n");
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Forwarding {
            id: c,
            result: Ok(vec![])
        }]
    );
}

mod interleaving {
    use super::*;
    use proptest::prelude::*;

    /// URCs that may arrive at any point, and what they must not disturb.
    const URCS: &[&str] = &[
        "+CMTI: \"SM\",3",
        "+CREG: 1",
        "+CEREG: 1,\"00C3\",\"0012D401\",7",
        "+QIND: \"csq\",20,99",
        "+CSQ: 18,99",
        "+QTONEDET: 49",
        "+RXDTMF: 5",
        "VOICE CALL: BEGIN",
        "+QIND: SMS DONE",
        "+CPIN: READY",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A forwarding query's rules come out the same whatever URCs are mixed
        /// into its response, and none of the URCs is taken for a rule.
        #[test]
        fn urcs_inside_a_ccfc_response_change_nothing(
            picks in proptest::collection::vec((0usize..URCS.len(), 0usize..4), 0..8)
        ) {
            let (mut m, _) = ready(ModemConfig::default(), &|_| None);
            let t = Instant::now();
            let q = m.forward_query(t, ForwardReason::NoReply);
            prop_assert_eq!(tx(&mut m), "AT+CCFC=2,2");
            let mut lines = vec![
                "+CCFC: 1,1,\"491701234567\",145".to_string(),
                "+CCFC: 0,2".to_string(),
                "+CCFC: 1,4,\"0301234567\",129".to_string(),
            ];
            for (u, at) in picks.iter().rev() {
                lines.insert((*at).min(lines.len()), URCS[*u].to_string());
            }
            let mut bytes = String::new();
            for l in &lines {
                bytes.push_str(&format!("\r\n{l}\r\n"));
            }
            bytes.push_str("\r\nOK\r\n");
            // split anywhere: the codec must not care
            let cut = bytes.len() / 3;
            m.handle_input(t, &bytes.as_bytes()[..cut]);
            m.handle_input(t, &bytes.as_bytes()[cut..]);
            let got = events(&mut m)
                .into_iter()
                .find_map(|e| match e {
                    ModemEvent::Forwarding { id, result } if id == q => Some(result),
                    _ => None,
                });
            prop_assert_eq!(
                got,
                Some(Ok(vec![
                    ForwardRule { active: true, class: 1, number: Some("+491701234567".into()) },
                    ForwardRule { active: false, class: 2, number: None },
                    ForwardRule { active: true, class: 4, number: Some("0301234567".into()) },
                ]))
            );
            // a +CMTI among them is acted on: the message is read next
            if picks.iter().any(|(u, _)| *u == 0) {
                prop_assert_eq!(tx(&mut m), "AT+CMGR=3");
            }
        }
    }
}

/// A call to the SIM answered and a second one waiting behind it (`+CCWA`): the legs
/// of both.
fn answered_with_one_waiting(m: &mut Modem, t: Instant) -> (LegId, LegId) {
    m.handle_input(
        t,
        b"\r\nRING\r\n\r\n+CLIP: \"15550001111\",145,\"\",,\"\",0\r\n",
    );
    let first = match events(m).as_slice() {
        [ModemEvent::Incoming { leg, .. }] => *leg,
        other => panic!("{other:?}"),
    };
    assert!(m.answer(t, first));
    assert_eq!(tx(m), "ATA");
    m.handle_input(t, b"\r\nOK\r\n");
    assert_eq!(tx(m), "AT+CLCC");
    m.handle_input(
        t,
        b"\r\n+CLCC: 1,1,0,0,0,\"15550001111\",145\r\nOK\r\n\r\n+CCWA: \"+15550002222\",145,1\r\n",
    );
    let second = match events(m).as_slice() {
        [
            ModemEvent::Leg {
                state: LegState::Active,
                ..
            },
            ModemEvent::CallWaiting { leg, caller_id },
        ] => {
            assert_eq!(caller_id.as_deref(), Some("+15550002222"));
            *leg
        }
        other => panic!("{other:?}"),
    };
    (first, second)
}

#[test]
fn waiting_call_is_presented_as_incoming_when_the_active_call_ends() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    let (first, second) = answered_with_one_waiting(&mut m, t);
    // the far end of the active call hangs up: with two calls, AT+CLCC tells which;
    // the network already presents the waiting call as incoming (RING, stat 4)
    m.handle_input(t, b"\r\nNO CARRIER\r\n");
    m.handle_input(
        t,
        b"\r\nRING\r\n\r\n+CLIP: \"+15550002222\",145,\"\",,\"\",0\r\n",
    );
    assert_eq!(events(&mut m), vec![], "nothing until AT+CLCC tells");
    assert_eq!(tx(&mut m), "AT+CLCC");
    m.handle_input(t, b"\r\n+CLCC: 2,1,4,0,0,\"+15550002222\",145\r\nOK\r\n");
    // the ended call first (the exchange sees the modem free), then the same leg as
    // a normal incoming call
    assert_eq!(
        events(&mut m),
        vec![
            ModemEvent::Leg {
                leg: first,
                state: LegState::Ended(LegEnd::NoCarrier)
            },
            ModemEvent::Incoming {
                leg: second,
                caller_id: Some("+15550002222".into())
            },
        ]
    );
    // the RING that came during the first list asked for another one
    assert_eq!(tx(&mut m), "AT+CLCC");
    m.handle_input(t, b"\r\n+CLCC: 2,1,4,0,0,\"+15550002222\",145\r\nOK\r\n");
    assert_eq!(events(&mut m), vec![]);
    // further rings announce nothing new; it is answered with ATA (not AT+CHLD)
    m.handle_input(t, b"\r\nRING\r\n\r\n+CLIP: \"+15550002222\",145\r\n");
    assert_eq!(events(&mut m), vec![]);
    assert!(m.answer(t, second));
    assert_eq!(tx(&mut m), "ATA");
}

#[test]
fn waiting_call_rings_after_the_box_hangs_up_the_active_call() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    let (first, second) = answered_with_one_waiting(&mut m, t);
    // the box releases the active call by index (AT+CHUP would take the waiting one
    // too)
    m.hangup(t, first);
    assert_eq!(tx(&mut m), "AT+CHLD=11");
    m.handle_input(t, b"\r\nOK\r\n");
    assert_eq!(events(&mut m), vec![]);
    // the network rings with the waiting call: it is the only call, so RING alone
    // presents it
    m.handle_input(
        t,
        b"\r\nRING\r\n\r\n+CLIP: \"+15550002222\",145,\"\",,\"\",0\r\n",
    );
    assert_eq!(
        events(&mut m),
        vec![ModemEvent::Incoming {
            leg: second,
            caller_id: Some("+15550002222".into())
        }]
    );
    assert!(m.answer(t, second));
    assert_eq!(tx(&mut m), "ATA");
}

#[test]
fn rejected_waiting_call_in_a_stale_list_is_not_a_new_call() {
    let (mut m, _) = ready(ModemConfig::default(), &|_| None);
    let t = Instant::now();
    let (_, second) = answered_with_one_waiting(&mut m, t);
    let rows = b"\r\n+CLCC: 1,1,0,0,0,\"15550001111\",145\r\n+CLCC: 2,1,5,0,0,\"+15550002222\",145\r\nOK\r\n";
    // the poll while calls are up learns the waiting call's index
    let mut at = t;
    fn poll(m: &mut Modem, at: &mut Instant) -> String {
        for _ in 0..20 {
            *at += Duration::from_millis(500);
            m.handle_timeout(*at);
            if let Some(b) = m.poll_transmit() {
                return String::from_utf8_lossy(&b).trim().to_string();
            }
        }
        panic!("no poll");
    }
    assert_eq!(poll(&mut m, &mut at), "AT+CLCC");
    m.handle_input(at, rows);
    assert_eq!(events(&mut m), vec![]);
    assert_eq!(poll(&mut m, &mut at), "AT+CLCC");
    let now = at;
    // rejected while that list is under way: the list still shows it
    m.hangup(now, second);
    m.handle_input(now, rows);
    assert_eq!(
        events(&mut m),
        vec![],
        "a stale row is not a new waiting call"
    );
    assert_eq!(tx(&mut m), "AT+CHLD=0");
    m.handle_input(now, b"\r\nOK\r\n");
    assert_eq!(events(&mut m), vec![]);
}
