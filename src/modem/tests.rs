//! Unit tests of the modem driver core.

use super::*;

/// Answers every command in flight with `OK` (plus canned lines) until init is done.
fn drive_init(m: &mut Modem, t: Instant) {
    for _ in 0..60 {
        let Some(tx) = m.poll_transmit() else { break };
        let cmd = String::from_utf8_lossy(&tx).trim().to_string();
        let reply = match cmd.as_str() {
            "AT+CSQ" => "\r\n+CSQ: 20,99\r\n\r\nOK\r\n".to_string(),
            "AT+CREG?" => "\r\n+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7\r\n\r\nOK\r\n".to_string(),
            "AT+COPS?" => "\r\n+COPS: 0,0,\"Sim Telecom\",7\r\n\r\nOK\r\n".to_string(),
            // echo on after power-up: the modem repeats the first command
            "AT" => "AT\r\r\nOK\r\n".to_string(),
            _ => "\r\nOK\r\n".to_string(),
        };
        m.handle_input(t, reply.as_bytes());
    }
}

#[test]
fn init_reports_ready_and_status() {
    let t = Instant::now();
    let mut m = Modem::new(t, ModemTiming::default());
    drive_init(&mut m, t);
    assert_eq!(m.poll_event(), Some(ModemEvent::Ready));
    assert_eq!(m.status().signal_dbm, Some(-73));
    assert_eq!(m.status().registration, Some("home"));
    assert_eq!(m.status().operator.as_deref(), Some("Sim Telecom"));
}

#[test]
fn dial_progress_via_clcc_and_urc_during_poll() {
    let t = Instant::now();
    let mut m = Modem::new(t, ModemTiming::default());
    drive_init(&mut m, t);
    m.poll_event();
    let leg = m.dial(t, "+491701111111");
    assert_eq!(m.poll_transmit().unwrap(), b"ATD+491701111111;\r");
    m.handle_input(t, b"\r\nOK\r\n");
    let t1 = t + Duration::from_millis(600);
    m.handle_timeout(t1);
    assert_eq!(m.poll_transmit().unwrap(), b"AT+CLCC\r");
    // a RING URC lands in the middle of the CLCC response: it must not be lost or
    // taken as part of the response
    m.handle_input(
        t1,
        b"\r\n+CLCC: 1,0,3,0,0,\"+491701111111\",145\r\n\r\nRING\r\n\r\nOK\r\n",
    );
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::Leg {
            leg,
            state: LegState::Alerting
        })
    );
    m.handle_input(t1, b"\r\n+CLIP: \"+15550001111\",145,\"\",,\"\",0\r\n");
    // a ring while our call is up is a second (waiting) call
    let waiting = match m.poll_event() {
        Some(ModemEvent::CallWaiting {
            leg: w,
            caller_id: Some(cid),
        }) if cid == "+15550001111" => w,
        other => panic!("unexpected {other:?}"),
    };
    let t2 = t1 + Duration::from_millis(600);
    m.handle_timeout(t2);
    assert_eq!(tx_string(&mut m), "AT+CLCC\r");
    m.handle_input(
        t2,
        b"\r\n+CLCC: 1,0,0,0,0,\"+491701111111\",145\r\n\r\nOK\r\n",
    );
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::Leg {
            leg,
            state: LegState::Active
        })
    );
    // rejecting the waiting call: AT+CHLD=0, no event for it
    m.hangup(t2, waiting);
    assert_eq!(tx_string(&mut m), "AT+CHLD=0\r");
    m.handle_input(t2, b"\r\nOK\r\n");
    assert_eq!(m.poll_transmit(), None);
    m.handle_input(t2, b"\r\nNO CARRIER\r\n");
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::Leg {
            leg,
            state: LegState::Ended(LegEnd::NoCarrier)
        })
    );
}

#[test]
fn busy_as_final_of_atd_and_timeouts() {
    let t = Instant::now();
    let mut m = Modem::new(t, ModemTiming::default());
    drive_init(&mut m, t);
    m.poll_event();
    let leg = m.dial(t, "+491701111111");
    m.poll_transmit();
    m.handle_input(t, b"\r\nBUSY\r\n");
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::Leg {
            leg,
            state: LegState::Ended(LegEnd::Busy)
        })
    );
    // a command that never gets an answer times out; three make a reset
    for _ in 0..3 {
        m.send_raw(t, "AT+CSQ");
    }
    for _ in 0..3 {
        m.poll_transmit();
        let due = m.poll_timeout().unwrap();
        m.handle_timeout(due);
    }
    assert!(matches!(m.poll_event(), Some(ModemEvent::Reset { .. })));
    assert_eq!(m.poll_transmit().unwrap(), b"AT+CFUN=1,1\r");
}

fn ready_modem(t: Instant) -> Modem {
    let mut m = Modem::new(t, ModemTiming::default());
    drive_init(&mut m, t);
    assert_eq!(m.poll_event(), Some(ModemEvent::Ready));
    m
}

fn tx_string(m: &mut Modem) -> String {
    String::from_utf8_lossy(&m.poll_transmit().expect("bytes to send")).into_owned()
}

#[test]
fn a_storm_of_cmti_does_not_grow_the_queue() {
    let t = Instant::now();
    let mut m = ready_modem(t);
    // the same index again and again: one read
    for _ in 0..1000 {
        m.handle_input(t, b"\r\n+CMTI: \"SM\",7\r\n");
    }
    assert_eq!(tx_string(&mut m), "AT+CMGR=7\r");
    m.handle_input(t, b"\r\n+CMTI: \"SM\",7\r\n");
    assert_eq!(m.queue.len(), 0, "a read in flight is not queued again");
    // many distinct indices (noise that parses): capped
    for i in 0..10_000u32 {
        m.handle_input(t, format!("\r\n+CMTI: \"SM\",{i}\r\n").as_bytes());
    }
    assert_eq!(m.queue.len(), MAX_PENDING_READS);
    // the modem still works: the read in flight completes, the next one goes out
    m.handle_input(t, b"\r\n+CMS ERROR: 321\r\n");
    assert!(tx_string(&mut m).starts_with("AT+CMGR="));
}

#[test]
fn init_selects_pdu_mode_and_cmti() {
    let t = Instant::now();
    let mut m = Modem::new(t, ModemTiming::default());
    let mut sent = Vec::new();
    for _ in 0..20 {
        let Some(tx) = m.poll_transmit() else { break };
        sent.push(String::from_utf8_lossy(&tx).trim().to_string());
        m.handle_input(t, b"\r\nOK\r\n");
    }
    assert!(sent.contains(&"AT+CMGF=0".to_string()), "{sent:?}");
    assert!(sent.contains(&"AT+CNMI=2,1,0,0,0".to_string()), "{sent:?}");
}

#[test]
fn sms_send_prompt_pdu_and_urc_between_prompt_and_result() {
    let t = Instant::now();
    let mut m = ready_modem(t);
    let id = m.send_sms(t, "+46708251358", "hellohello");
    assert_eq!(tx_string(&mut m), "AT+CMGS=23\r");
    // nothing is written before the prompt
    assert_eq!(m.poll_transmit(), None);
    m.handle_input(t, b"\r\n> ");
    assert_eq!(
        m.poll_transmit().unwrap(),
        b"0011000B916407281553F80000AA0AE8329BFD4697D9EC37\x1a"
    );
    // a new SMS is announced while the submit is still pending
    m.handle_input(t, b"\r\n+CMTI: \"SM\",3\r\n");
    assert_eq!(m.poll_event(), None);
    assert_eq!(m.poll_transmit(), None);
    m.handle_input(t, b"\r\n+CMGS: 42\r\n\r\nOK\r\n");
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::SmsSent {
            id,
            result: Ok(vec![42])
        })
    );
    // then the announced message is read, reported and deleted
    assert_eq!(tx_string(&mut m), "AT+CMGR=3\r");
    let ts = SmsTimestamp {
        year: 2025,
        month: 3,
        day: 4,
        hour: 5,
        minute: 6,
        second: 7,
        tz_quarters: 4,
    };
    let pdu = sms::encode_deliver("+15550001111", "Grüße 😀", ts, 0).unwrap();
    let reply = format!(
        "\r\n+CMGR: 0,,{}\r\n{}\r\n\r\nOK\r\n",
        pdu[0].len() / 2 - 1,
        pdu[0]
    );
    m.handle_input(t, reply.as_bytes());
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::SmsReceived {
            from: "+15550001111".into(),
            text: "Grüße 😀".into(),
            at: ts,
            indexes: vec![3],
        })
    );
    // kept on the SIM until the driver has stored it
    assert_eq!(m.poll_transmit(), None);
    m.delete_sms(t, &[3]);
    assert_eq!(tx_string(&mut m), "AT+CMGD=3\r");
}

#[test]
fn multipart_sms_fails_on_second_part_and_drops_the_rest() {
    let t = Instant::now();
    let mut m = ready_modem(t);
    let id = m.send_sms(t, "+491701234567", &"x".repeat(400));
    // 400 septets → 3 parts of ≤ 153
    let first = tx_string(&mut m);
    assert!(first.starts_with("AT+CMGS="), "{first}");
    m.handle_input(t, b"> ");
    let pdu = m.poll_transmit().unwrap();
    let hex = String::from_utf8_lossy(&pdu[..pdu.len() - 1]).into_owned();
    let part = sms::decode_submit(&hex).unwrap();
    assert_eq!(part.concat.map(|c| (c.seq, c.total)), Some((1, 3)));
    assert_eq!(first, format!("AT+CMGS={}\r", hex.len() / 2 - 1));
    m.handle_input(t, b"\r\n+CMGS: 1\r\n\r\nOK\r\n");
    assert_eq!(m.poll_event(), None);
    assert!(tx_string(&mut m).starts_with("AT+CMGS="));
    m.handle_input(t, b"> ");
    m.poll_transmit();
    m.handle_input(t, b"\r\n+CMS ERROR: 304\r\n");
    match m.poll_event() {
        Some(ModemEvent::SmsSent {
            id: got,
            result: Err(e),
        }) => {
            assert_eq!(got, id);
            assert!(e.contains("304") || e.contains("PDU"), "{e}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // the third part is not sent
    assert_eq!(m.poll_transmit(), None);
}

#[test]
fn sms_timeout_aborts_with_esc_and_bad_number_fails_at_once() {
    let t = Instant::now();
    let mut m = ready_modem(t);
    let id = m.send_sms(t, "+491701234567", "hi");
    m.poll_transmit();
    m.handle_input(t, b"> ");
    m.poll_transmit();
    let due = m.poll_timeout().unwrap();
    assert!(due >= t + Duration::from_secs(60));
    m.handle_timeout(due);
    assert_eq!(m.poll_transmit().unwrap(), vec![at::ESC]);
    assert!(matches!(
        m.poll_event(),
        Some(ModemEvent::SmsSent { id: got, result: Err(_) }) if got == id
    ));
    let bad = m.send_sms(t, "call me", "hi");
    assert!(matches!(
        m.poll_event(),
        Some(ModemEvent::SmsSent { id: got, result: Err(_) }) if got == bad
    ));
    // (the status poll that fell due meanwhile goes out; no AT+CMGS does)
    while let Some(tx) = m.poll_transmit() {
        assert!(!tx.starts_with(b"AT+CMGS"));
        m.handle_input(due, b"\r\nOK\r\n");
    }
}

#[test]
fn concatenated_sms_reassembled_out_of_order_and_garbage_reported() {
    let t = Instant::now();
    let mut m = ready_modem(t);
    let text = "ж".repeat(100);
    let ts = SmsTimestamp {
        year: 2025,
        month: 1,
        day: 2,
        hour: 3,
        minute: 4,
        second: 5,
        tz_quarters: 0,
    };
    let pdus = sms::encode_deliver("Alerts", &text, ts, 9).unwrap();
    assert_eq!(pdus.len(), 2);
    for (idx, pdu) in [(5, &pdus[1]), (4, &pdus[0])] {
        m.handle_input(t, format!("\r\n+CMTI: \"SM\",{idx}\r\n").as_bytes());
        assert_eq!(tx_string(&mut m), format!("AT+CMGR={idx}\r"));
        m.handle_input(t, format!("\r\n+CMGR: 0,,1\r\n{pdu}\r\nOK\r\n").as_bytes());
    }
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::SmsReceived {
            from: "Alerts".into(),
            text,
            at: ts,
            indexes: vec![5, 4],
        })
    );
    m.delete_sms(t, &[5, 4]);
    assert_eq!(tx_string(&mut m), "AT+CMGD=5\r");
    m.handle_input(t, b"\r\nOK\r\n");
    assert_eq!(tx_string(&mut m), "AT+CMGD=4\r");
    m.handle_input(t, b"\r\nOK\r\n");
    m.handle_input(t, b"\r\n+CMTI: \"SM\",6\r\n");
    m.poll_transmit();
    m.handle_input(t, b"\r\n+CMGR: 0,,1\r\n07FF\r\nOK\r\n");
    assert!(matches!(m.poll_event(), Some(ModemEvent::Fault(_))));
    assert_eq!(tx_string(&mut m), "AT+CMGD=6\r");
}

#[test]
fn query_returns_lines_and_status_has_access_technology() {
    let t = Instant::now();
    let mut m = ready_modem(t);
    assert_eq!(m.status().access_technology, Some("E-UTRAN"));
    let q = m.query(t, "AT+CGSN");
    assert_eq!(tx_string(&mut m), "AT+CGSN\r");
    m.handle_input(t, b"\r\n356938035643809\r\n\r\nRING\r\n\r\nOK\r\n");
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::Response {
            id: q,
            ok: true,
            lines: vec!["356938035643809".into()],
            outcome: "Ok".into()
        })
    );
}

#[test]
fn hangup_before_dial_is_sent_cancels_quietly() {
    let t = Instant::now();
    let mut m = Modem::new(t, ModemTiming::default());
    // init still in flight; the dial is queued behind it
    let leg = m.dial(t, "+491701111111");
    m.hangup(t, leg);
    drive_init(&mut m, t);
    assert_eq!(m.poll_event(), Some(ModemEvent::Ready));
    assert_eq!(m.poll_event(), None);
}

fn ts() -> SmsTimestamp {
    SmsTimestamp {
        year: 2026,
        month: 11,
        day: 22,
        hour: 3,
        minute: 4,
        second: 5,
        tz_quarters: 4,
    }
}

#[test]
fn cmt_direct_delivery_inside_a_bare_line_response_is_not_taken_as_the_answer() {
    let t = Instant::now();
    let mut m = ready_modem(t);
    let q = m.query(t, "AT+CGSN");
    assert_eq!(tx_string(&mut m), "AT+CGSN\r");
    let pdu = &sms::encode_deliver("+15550001111", "Pager: rack 7 down", ts(), 0).unwrap()[0];
    // the two-line +CMT lands between the IMEI and OK; its PDU line would look
    // like another bare response line to AT+CGSN
    let bytes = format!(
        "\r\n356938035643809\r\n\r\n+CMT: ,{}\r\n{pdu}\r\n\r\nOK\r\n",
        pdu.len() / 2 - 1
    );
    m.handle_input(t, bytes.as_bytes());
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::SmsReceived {
            from: "+15550001111".into(),
            text: "Pager: rack 7 down".into(),
            at: ts(),
            indexes: vec![],
        })
    );
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::Response {
            id: q,
            ok: true,
            lines: vec!["356938035643809".into()],
            outcome: "Ok".into()
        })
    );
    // phase 1 (AT+CSMS? gave no service 1): no acknowledgement, nothing to delete
    assert_eq!(m.poll_transmit(), None);
}

#[test]
fn cmt_parts_are_reassembled_and_acknowledged_in_phase_2_plus() {
    let t = Instant::now();
    let mut m = Modem::new(t, ModemTiming::default());
    for _ in 0..60 {
        let Some(tx) = m.poll_transmit() else { break };
        let reply = match String::from_utf8_lossy(&tx).trim() {
            "AT+CSMS?" => "\r\n+CSMS: 1,1,1,1\r\n\r\nOK\r\n",
            _ => "\r\nOK\r\n",
        };
        m.handle_input(t, reply.as_bytes());
    }
    assert_eq!(m.poll_event(), Some(ModemEvent::Ready));
    let text = "ж".repeat(90);
    let pdus = sms::encode_deliver("Alerts", &text, ts(), 3).unwrap();
    assert_eq!(pdus.len(), 2);
    // the second part first, with an alpha field in the header
    for pdu in [&pdus[1], &pdus[0]] {
        let urc = format!("\r\n+CMT: \"Ops\",{}\r\n{pdu}\r\n", pdu.len() / 2 - 1);
        m.handle_input(t, urc.as_bytes());
        assert_eq!(tx_string(&mut m), "AT+CNMA\r");
        m.handle_input(t, b"\r\nOK\r\n");
    }
    assert_eq!(
        m.poll_event(),
        Some(ModemEvent::SmsReceived {
            from: "Alerts".into(),
            text,
            at: ts(),
            indexes: vec![],
        })
    );
    // a text-mode +CMT is reported, not misread; the body line is swallowed
    m.handle_input(
        t,
        b"\r\n+CMT: \"+4917012345\",,\"26/11/22,03:04:05+04\"\r\nhello there\r\n",
    );
    assert!(matches!(m.poll_event(), Some(ModemEvent::Fault(f)) if f.contains("text mode")));
    assert_eq!(m.poll_event(), None);
}
