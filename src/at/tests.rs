//! Example-based tests (the property tests live in the crate's `tests/`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;

fn tokens(bytes: &[u8]) -> Vec<Token> {
    let mut c = LineCodec::new();
    c.push(bytes);
    std::iter::from_fn(|| c.next_token()).collect()
}

fn line(s: &str) -> Token {
    Token::Line(s.to_owned())
}

// ---------------------------------------------------------------- codec

#[test]
fn codec_splits_mixed_line_endings_and_skips_empty_lines() {
    let t = tokens(b"\r\nOK\r\nA\nB\rC\r\n\r\n\n\rD  \t\r\n   \r\n");
    assert_eq!(
        t,
        vec![line("OK"), line("A"), line("B"), line("C"), line("D")]
    );
}

#[test]
fn codec_keeps_partial_line_until_terminated() {
    let mut c = LineCodec::new();
    c.push(b"\r\n+CSQ: 2");
    assert_eq!(c.next_token(), None);
    assert_eq!(c.pending_bytes(), 7);
    c.push(b"0,99\r");
    assert_eq!(c.next_token(), Some(line("+CSQ: 20,99")));
    assert_eq!(c.next_token(), None);
    c.push(b"\n");
    assert_eq!(c.next_token(), None);
}

#[test]
fn codec_sms_prompt() {
    let mut c = LineCodec::new();
    c.push(b"AT+CMGS=\"+4917012345\"\r\r\n> ");
    assert_eq!(c.next_token(), Some(line("AT+CMGS=\"+4917012345\"")));
    assert_eq!(c.next_token(), Some(Token::Prompt));
    assert_eq!(c.next_token(), None);
    c.push(b"\r\n+CMGS: 12\r\n\r\nOK\r\n");
    assert_eq!(c.next_token(), Some(line("+CMGS: 12")));
    assert_eq!(c.next_token(), Some(line("OK")));
    assert_eq!(c.next_token(), None);
}

#[test]
fn codec_prompt_split_and_followed_by_echo() {
    let mut c = LineCodec::new();
    c.push(b"\r\n>");
    assert_eq!(c.next_token(), None);
    c.push(b" ");
    assert_eq!(c.next_token(), Some(Token::Prompt));
    // "> " followed by text in one chunk (ATE1 echoes the body).
    assert_eq!(
        tokens(b"\r\n> hello\r\n"),
        vec![Token::Prompt, line("hello")]
    );
    // ">" not followed by a space is ordinary text; "> " mid-line too.
    assert_eq!(tokens(b">x\r\na > b\r\n"), vec![line(">x"), line("a > b")]);
}

#[test]
fn codec_overlong_line_then_recovers() {
    let mut c = LineCodec::new();
    c.push(b"OK\r\n");
    c.push(&vec![b'A'; 10 * 1024]);
    assert_eq!(c.next_token(), Some(line("OK")));
    assert_eq!(c.next_token(), Some(Token::Overlong));
    assert_eq!(c.next_token(), None);
    assert!(c.pending_bytes() <= MAX_LINE);
    c.push(b"AAAA\r\nRING\r\n");
    assert_eq!(c.next_token(), Some(line("RING")));
    assert_eq!(c.next_token(), None);
}

#[test]
fn codec_line_of_exactly_max_is_kept() {
    let mut b = vec![b'x'; MAX_LINE];
    b.extend_from_slice(b"\r\n");
    assert_eq!(tokens(&b), vec![line(&"x".repeat(MAX_LINE))]);
    let mut b = vec![b'x'; MAX_LINE + 1];
    b.extend_from_slice(b"\r\nOK\r\n");
    assert_eq!(tokens(&b), vec![Token::Overlong, line("OK")]);
}

#[test]
fn codec_invalid_utf8_and_control_bytes() {
    let t = tokens(b"\0\0O\0K\r\n+CLIP: \"\xff\xfe\",129\r\n\x1a\x07RING\x7f\r\n");
    assert_eq!(
        t,
        vec![
            line("OK"),
            line("+CLIP: \"\u{fffd}\u{fffd}\",129"),
            line("RING")
        ]
    );
}

#[test]
fn codec_reset_drops_everything() {
    let mut c = LineCodec::default();
    c.push(b"OK\r\npartial");
    c.reset();
    assert_eq!(c.next_token(), None);
    assert_eq!(c.pending_bytes(), 0);
}

#[test]
fn encode_command_appends_cr_and_strips_controls() {
    assert_eq!(encode_command("AT+CSQ"), b"AT+CSQ\r".to_vec());
    assert_eq!(encode_command("AT\r\n+CSQ\x1a"), b"AT+CSQ\r".to_vec());
    assert_eq!(encode_sms_body("hi\x1a"), b"hi\x1a".to_vec());
}

// ---------------------------------------------------------------- finals

#[test]
fn finals() {
    assert_eq!(parse_final("OK"), Some(Final::Ok));
    assert_eq!(parse_final("ERROR"), Some(Final::Error));
    assert_eq!(parse_final("NO DIALTONE"), Some(Final::NoDialtone));
    assert_eq!(parse_final("CONNECT"), Some(Final::Connect(None)));
    assert_eq!(
        parse_final("CONNECT 150000000"),
        Some(Final::Connect(Some("150000000".into())))
    );
    assert_eq!(parse_final("CONNECTED"), None);
    assert_eq!(parse_final("OKAY"), None);
    assert!(Final::Ok.is_success());
    assert!(Final::Download.is_success());
    assert!(!Final::Error.is_success());
    assert!(!Final::NoCarrier.is_success());
}

#[test]
fn cme_numeric_and_text() {
    let num = parse_final("+CME ERROR: 10");
    let txt = parse_final("+CME ERROR: SIM not inserted");
    let expected = CmeError {
        code: Some(10),
        text: Some("SIM not inserted".into()),
    };
    assert_eq!(num, Some(Final::CmeError(expected.clone())));
    assert_eq!(txt, Some(Final::CmeError(expected)));
    let Some(Final::CmeError(e)) = parse_final("+CME ERROR: 14") else {
        panic!()
    };
    assert!(e.is_sim_busy());
    assert_eq!(
        parse_final("+CME ERROR: 999"),
        Some(Final::CmeError(CmeError {
            code: Some(999),
            text: None
        }))
    );
    assert_eq!(
        parse_final("+CME ERROR: vendor thing"),
        Some(Final::CmeError(CmeError {
            code: None,
            text: Some("vendor thing".into())
        }))
    );
    assert_eq!(
        parse_final("+CMS ERROR: 500"),
        Some(Final::CmsError(CmsError {
            code: Some(500),
            text: Some("unknown error".into())
        }))
    );
    assert_eq!(CmsError::text_for(330), Some("SMSC address unknown"));
    assert_eq!(CmeError::text_for(16), Some("incorrect password"));
}

// ---------------------------------------------------------------- parsers

#[test]
fn clcc_rows() {
    let r = parse_clcc("+CLCC: 1,0,3,0,0,\"+4917012345\",145").unwrap();
    assert_eq!(
        r,
        ClccRow {
            id: 1,
            dir: 0,
            stat: 3,
            mode: 0,
            mpty: 0,
            number: Some("+4917012345".into()),
            toa: Some(145)
        }
    );
    let r = parse_clcc("+CLCC: 2,1,4,0,0").unwrap();
    assert_eq!(
        (r.id, r.dir, r.stat, r.number, r.toa),
        (2, 1, 4, None, None)
    );
    // Trailing alpha with a comma inside quotes, toa 145 without '+'.
    let r = parse_clcc("+CLCC: 1,1,0,0,0,\"4917012345\",145,\"Doe, John\",0").unwrap();
    assert_eq!(r.number.as_deref(), Some("+4917012345"));
    assert_eq!(parse_clcc("+CLCC: 1,0"), None);
    assert_eq!(parse_clcc("+CLCC: x,0,0,0,0"), None);
    assert_eq!(parse_clcc("+CSQ: 1,2"), None);
}

#[test]
fn csq_and_dbm() {
    assert_eq!(parse_csq("+CSQ: 20,99"), Some((20, 99)));
    assert_eq!(parse_csq("+CSQ:31,0"), Some((31, 0)));
    assert_eq!(parse_csq("+CSQ: 99,99"), Some((99, 99)));
    assert_eq!(rssi_to_dbm(20), Some(-73));
    assert_eq!(rssi_to_dbm(0), Some(-113));
    assert_eq!(rssi_to_dbm(31), Some(-51));
    assert_eq!(rssi_to_dbm(99), None);
    assert_eq!(rssi_to_dbm(50), None);
    assert_eq!(parse_csq("+CSQ: 300,1"), None);
}

#[test]
fn creg_response_and_urc_forms() {
    let r = parse_creg("+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7", true).unwrap();
    assert_eq!(
        r,
        Reg {
            kind: RegKind::Creg,
            n: Some(2),
            stat: 1,
            lac: Some("1A2B".into()),
            ci: Some("01C3D4E5".into()),
            act: Some(7)
        }
    );
    assert!(r.is_registered());
    let u = parse_creg("+CREG: 1,\"1A2B\",\"01C3D4E5\",7", false).unwrap();
    assert_eq!((u.n, u.stat, u.act), (None, 1, Some(7)));
    assert_eq!(u.lac.as_deref(), Some("1A2B"));
    // "+CREG: 1" is ambiguous: the flag decides.
    assert_eq!(parse_creg("+CREG: 1", false).map(|r| r.stat), Some(1));
    assert_eq!(parse_creg("+CREG: 1", true), None);
    let e = parse_creg("+CEREG: 2,5,\"00A1\",\"0B2C3D4\",7", true).unwrap();
    assert_eq!((e.kind, e.stat), (RegKind::Cereg, 5));
    assert_eq!(
        parse_creg("+CGREG: 0,2", true).map(|r| r.kind),
        Some(RegKind::Cgreg)
    );
}

#[test]
fn cops() {
    assert_eq!(
        parse_cops("+COPS: 0,0,\"Telekom.de\",7"),
        Some(Cops {
            mode: 0,
            format: Some(0),
            operator: Some("Telekom.de".into()),
            act: Some(7)
        })
    );
    assert_eq!(
        parse_cops("+COPS: 0"),
        Some(Cops {
            mode: 0,
            format: None,
            operator: None,
            act: None
        })
    );
    assert_eq!(
        parse_cops("+COPS: (2,\"A\",\"B\",\"26201\",7),,(0-4),(0-2)"),
        None
    );
}

// ---------------------------------------------------------------- URCs

fn urc(line: &str) -> Urc {
    match classify(line, None) {
        Class::Urc(u) => u,
        other => panic!("{line:?} -> {other:?}"),
    }
}

#[test]
fn urc_clip() {
    assert_eq!(
        urc("+CLIP: \"4917012345\",145,\"\",0,\"\",0"),
        Urc::Clip {
            number: "+4917012345".into(),
            toa: 145,
            validity: Some(0),
            alpha: None
        }
    );
    assert_eq!(
        urc("+CLIP: \"030123456\",129,\"\",,\"Alice, A\",0"),
        Urc::Clip {
            number: "030123456".into(),
            toa: 129,
            validity: Some(0),
            alpha: Some("Alice, A".into())
        }
    );
    // Withheld caller.
    assert_eq!(
        urc("+CLIP: \"\",128,\"\",,\"\",1"),
        Urc::Clip {
            number: String::new(),
            toa: 128,
            validity: Some(1),
            alpha: None
        }
    );
    assert_eq!(
        urc("+CLIP: \"\",,,,,1"),
        Urc::Clip {
            number: String::new(),
            toa: 129,
            validity: Some(1),
            alpha: None
        }
    );
}

#[test]
fn urc_simple_and_vendor() {
    assert_eq!(urc("RING"), Urc::Ring);
    assert_eq!(urc("+CRING: VOICE"), Urc::CRing("VOICE".into()));
    assert_eq!(urc("RDY"), Urc::Rdy);
    assert_eq!(urc("+CPIN: READY"), Urc::CpinState("READY".into()));
    assert_eq!(urc("+CPIN: SIM PIN"), Urc::CpinState("SIM PIN".into()));
    assert_eq!(urc("SMS DONE"), Urc::SmsDone);
    assert_eq!(urc("+QIND: SMS DONE"), Urc::SmsDone);
    assert_eq!(urc("PB DONE"), Urc::PbDone);
    assert_eq!(urc("+QIND: PB DONE"), Urc::PbDone);
    assert_eq!(
        urc("+CMTI: \"SM\",3"),
        Urc::Cmti {
            mem: "SM".into(),
            index: 3
        }
    );
    assert_eq!(urc("VOICE CALL: BEGIN"), Urc::VoiceCallBegin);
    assert_eq!(
        urc("VOICE CALL: END: 0:12"),
        Urc::VoiceCallEnd {
            duration: Some("0:12".into())
        }
    );
    assert_eq!(urc("VOICE CALL: END"), Urc::VoiceCallEnd { duration: None });
    assert_eq!(
        urc("MISSED_CALL: 10:21AM +4917012345"),
        Urc::MissedCall("+4917012345".into())
    );
    assert_eq!(urc("+RXDTMF: 5"), Urc::RxDtmf('5'));
    assert_eq!(urc("+DTMF: 5"), Urc::RxDtmf('5'));
    assert_eq!(urc("+DTMF:#"), Urc::RxDtmf('#'));
    assert_eq!(urc("+QTONEDET: 35"), Urc::QToneDet('#'));
    assert_eq!(urc("+QTONEDET: 56"), Urc::QToneDet('8'));
    assert_eq!(
        urc("+QTONEDET: 7"),
        Urc::Other("+QTONEDET: 7".into()),
        "not a DTMF code"
    );
    assert_eq!(
        urc("+QIND: \"csq\",20,99"),
        Urc::QindCsq { rssi: 20, ber: 99 }
    );
    assert_eq!(urc("+CSQ: 20,99"), Urc::Csq { rssi: 20, ber: 99 });
    assert_eq!(
        urc("+CCWA: \"4930123456\",145,1"),
        Urc::Ccwa {
            number: "+4930123456".into(),
            toa: 145
        }
    );
    assert_eq!(
        urc("+CEREG: 1,\"00A1\",\"0B2C3D4\",7"),
        Urc::Creg {
            kind: RegKind::Cereg,
            stat: 1,
            lac: Some("00A1".into()),
            ci: Some("0B2C3D4".into()),
            act: Some(7)
        }
    );
    assert_eq!(
        urc("+CREG: 2"),
        Urc::Creg {
            kind: RegKind::Creg,
            stat: 2,
            lac: None,
            ci: None,
            act: None
        }
    );
}

#[test]
fn urc_qind_ccinfo() {
    assert_eq!(
        urc("+QIND: \"ccinfo\",1,1,4,0,0,\"+4917012345\",145"),
        Urc::QindCcinfo(ClccRow {
            id: 1,
            dir: 1,
            stat: 4,
            mode: 0,
            mpty: 0,
            number: Some("+4917012345".into()),
            toa: Some(145)
        })
    );
    let Urc::QindCcinfo(r) = urc("+QIND: \"ccinfo\",1,0,-1,0,0,\"0301234\",129") else {
        panic!()
    };
    assert_eq!(r.stat, 7);
    assert_eq!(
        urc("+QIND: \"act\",\"LTE\""),
        Urc::Other("+QIND: \"act\",\"LTE\"".into())
    );
}

#[test]
fn urc_untyped_and_two_line() {
    for l in [
        "+CUSD: 0,\"Balance 5 EUR\",15",
        "^DSCI: 1,1,4,0,+4917012345,145",
        "+CGEV: ME PDN ACT 1",
        "+CDS: 6,12,\"+4917012345\",145,\"24/01/01,10:00:00+04\",\"24/01/01,10:00:05+04\",0",
    ] {
        let u = urc(l);
        assert_eq!(u, Urc::Other(l.into()));
        assert!(!u.expects_body_line(), "{l}");
    }
    for l in [
        "+CMT: \"+4917012345\",,\"24/01/01,10:00:00+04\"",
        "+CMT: ,24",
        "+CDS: 25",
    ] {
        let u = urc(l);
        assert!(matches!(u, Urc::Other(_)));
        assert!(u.expects_body_line(), "{l}");
    }
    assert!(!Urc::Ring.expects_body_line());
}

#[test]
fn malformed_typed_urc_is_other_not_lost() {
    for l in [
        "+CLIP: \"123\",abc",
        "+CMTI: \"SM\"",
        "+CLCC: 1",
        "+CREG: x",
        "+RXDTMF: 55",
    ] {
        assert_eq!(classify(l, None), Class::Urc(Urc::Other(l.into())), "{l}");
    }
}

// ---------------------------------------------------------------- classify

#[test]
fn classify_echo_and_finals() {
    assert_eq!(classify("AT+CSQ", Some("AT+CSQ")), Class::Echo);
    assert_eq!(classify("at+csq", Some("AT+CSQ")), Class::Echo);
    assert_eq!(classify("AT+CMEE=1", Some("AT+CMEE=1\r")), Class::Echo);
    assert_eq!(classify("OK", Some("AT+CSQ")), Class::Final(Final::Ok));
    assert_eq!(
        classify("ERROR", Some("AT+CSQ")),
        Class::Final(Final::Error)
    );
    assert_eq!(
        classify("+CME ERROR: 10", Some("AT+CPIN?")),
        Class::Final(Final::CmeError(CmeError {
            code: Some(10),
            text: Some("SIM not inserted".into())
        }))
    );
    assert_eq!(
        classify("+CME ERROR: SIM not inserted", Some("AT+CPIN?")),
        Class::Final(Final::CmeError(CmeError {
            code: Some(10),
            text: Some("SIM not inserted".into())
        }))
    );
    assert_eq!(
        classify("+CMS ERROR: 500", Some("AT+CMGS=\"+4917012345\"")),
        Class::Final(Final::CmsError(CmsError {
            code: Some(500),
            text: Some("unknown error".into())
        }))
    );
    assert_eq!(classify("OK", None), Class::Unknown("OK".into()));
    assert_eq!(classify("ERROR", None), Class::Unknown("ERROR".into()));
    assert_eq!(
        classify("+CME ERROR: 14", None),
        Class::Unknown("+CME ERROR: 14".into())
    );
}

#[test]
fn classify_call_end_codes() {
    assert_eq!(
        classify("NO CARRIER", Some("ATD+4917012345;")),
        Class::Final(Final::NoCarrier)
    );
    assert_eq!(
        classify("BUSY", Some("ATD+4917012345;")),
        Class::Final(Final::Busy)
    );
    assert_eq!(
        classify("NO CARRIER", Some("ATA")),
        Class::Final(Final::NoCarrier)
    );
    assert_eq!(
        classify("NO CARRIER", Some("AT+CSQ")),
        Class::Urc(Urc::NoCarrier)
    );
    assert_eq!(classify("NO CARRIER", None), Class::Urc(Urc::NoCarrier));
    assert_eq!(classify("BUSY", None), Class::Urc(Urc::Busy));
    assert_eq!(
        classify("NO ANSWER", Some("AT+CLCC")),
        Class::Urc(Urc::NoAnswer)
    );
    assert_eq!(
        classify("NO DIALTONE", Some("ATD112;")),
        Class::Final(Final::NoDialtone)
    );
}

#[test]
fn classify_clcc_response_vs_urc() {
    let l = "+CLCC: 1,0,3,0,0,\"+4917012345\",145";
    assert_eq!(classify(l, Some("AT+CLCC")), Class::Response(l.into()));
    let row = parse_clcc(l).unwrap();
    assert_eq!(classify(l, None), Class::Urc(Urc::Clcc(row.clone())));
    assert_eq!(
        classify(l, Some("AT+CSQ")),
        Class::Urc(Urc::Clcc(row.clone()))
    );
    // AT+CLCC=1 (enable URCs) returns no +CLCC lines.
    assert_eq!(classify(l, Some("AT+CLCC=1")), Class::Urc(Urc::Clcc(row)));
}

#[test]
fn classify_creg_response_vs_urc() {
    let resp = "+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7";
    let urc_l = "+CREG: 1,\"1A2B\",\"01C3D4E5\",7";
    assert_eq!(
        classify(resp, Some("AT+CREG?")),
        Class::Response(resp.into())
    );
    let expected = Urc::Creg {
        kind: RegKind::Creg,
        stat: 1,
        lac: Some("1A2B".into()),
        ci: Some("01C3D4E5".into()),
        act: Some(7),
    };
    assert_eq!(classify(urc_l, None), Class::Urc(expected.clone()));
    // The URC form arriving while the read is in flight is still a URC.
    assert_eq!(classify(urc_l, Some("AT+CREG?")), Class::Urc(expected));
    assert!(matches!(
        classify("+CREG: 1", Some("AT+CREG?")),
        Class::Urc(Urc::Creg { stat: 1, .. })
    ));
    assert_eq!(
        classify("+CREG: 0,1", Some("AT+CREG?")),
        Class::Response("+CREG: 0,1".into())
    );
    assert_eq!(
        classify("+CREG: (0-2)", Some("AT+CREG=?")),
        Class::Response("+CREG: (0-2)".into())
    );
    assert!(matches!(
        classify("+CREG: 5", Some("AT+CREG=2")),
        Class::Urc(_)
    ));
    assert_eq!(
        classify("+CEREG: 2,1,\"00A1\",\"0B2C3D4\",7", Some("AT+CEREG?")),
        Class::Response("+CEREG: 2,1,\"00A1\",\"0B2C3D4\",7".into())
    );
}

#[test]
fn classify_urcs_during_other_commands() {
    assert_eq!(classify("RING", Some("AT+CSQ")), Class::Urc(Urc::Ring));
    assert!(matches!(
        classify("+CLIP: \"+4917012345\",145,\"\",0,\"\",0", Some("AT+CSQ")),
        Class::Urc(Urc::Clip { .. })
    ));
    assert_eq!(
        classify("+CSQ: 20,99", Some("AT+CSQ")),
        Class::Response("+CSQ: 20,99".into())
    );
    assert!(matches!(
        classify("+CLIP: \"+4917012345\",145,\"\",0,\"\",0", Some("AT+CLIP?")),
        Class::Urc(Urc::Clip { .. })
    ));
    assert_eq!(
        classify("+CLIP: 1,1", Some("AT+CLIP?")),
        Class::Response("+CLIP: 1,1".into())
    );
    assert_eq!(
        classify("+CCWA: 1,1", Some("AT+CCWA=1,2")),
        Class::Response("+CCWA: 1,1".into())
    );
    assert!(matches!(
        classify("+CCWA: \"+4930123\",145,1", Some("AT+CCWA=1,2")),
        Class::Urc(Urc::Ccwa { .. })
    ));
    assert!(matches!(
        classify("+CUSD: 0,\"x\",15", Some("AT+CUSD=1,\"*100#\",15")),
        Class::Urc(Urc::Other(_))
    ));
}

#[test]
fn classify_generic_prefixes() {
    let cases = [
        ("+COPS: 0,0,\"Telekom.de\",7", "AT+COPS?"),
        ("+CPIN: READY", "AT+CPIN?"),
        ("+CMGS: 12", "AT+CMGS=\"+4917012345\""),
        ("+QCFG: \"ims\",1,1", "AT+QCFG=\"ims\""),
        (
            "+QNWINFO: \"FDD LTE\",\"26201\",\"LTE BAND 3\",1300",
            "AT+QNWINFO",
        ),
        ("+ICCID: 8949000000000000000", "AT+CICCID"),
        ("+CNMI: 2,1,0,2,0", "at+cnmi?"),
        ("+CREG: 2,1", "AT+CMEE=1;+CREG?"),
        ("^SYSINFO: 2,3,0,9,1", "AT^SYSINFO"),
    ];
    for (l, cmd) in cases {
        assert_eq!(
            classify(l, Some(cmd)),
            Class::Response(l.into()),
            "{l} / {cmd}"
        );
    }
    assert_eq!(
        classify("+COPS: 0,0,\"Telekom.de\",7", Some("AT+CSQ")),
        Class::Unknown("+COPS: 0,0,\"Telekom.de\",7".into())
    );
}

#[test]
fn classify_bare_lines() {
    for cmd in [
        "ATI", "AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CGSN", "AT+CIMI", "AT+GSN", "AT+GMR",
    ] {
        assert_eq!(
            classify("Quectel EC25", Some(cmd)),
            Class::Response("Quectel EC25".into()),
            "{cmd}"
        );
        assert_eq!(classify("RING", Some(cmd)), Class::Urc(Urc::Ring));
        assert_eq!(classify("OK", Some(cmd)), Class::Final(Final::Ok));
    }
    assert_eq!(
        classify("262011234567890", Some("AT+CIMI")),
        Class::Response("262011234567890".into())
    );
    assert_eq!(
        classify("262011234567890", Some("AT+CSQ")),
        Class::Unknown("262011234567890".into())
    );
    assert_eq!(classify("hello", None), Class::Unknown("hello".into()));
}

#[test]
fn command_info_derivation() {
    let i = CommandInfo::parse("AT+CLCC");
    assert_eq!(i.extended, vec![("+CLCC:".to_owned(), CommandForm::Exec)]);
    let i = CommandInfo::parse("at+creg?");
    assert_eq!(i.extended, vec![("+CREG:".to_owned(), CommandForm::Read)]);
    let i = CommandInfo::parse("AT+COPS=?");
    assert_eq!(i.extended, vec![("+COPS:".to_owned(), CommandForm::Test)]);
    let i = CommandInfo::parse("AT+CMGS=\"+49;1\";+CSQ");
    assert_eq!(
        i.extended,
        vec![
            ("+CMGS:".to_owned(), CommandForm::Set),
            ("+CSQ:".to_owned(), CommandForm::Exec)
        ]
    );
    assert!(CommandInfo::parse("ATD+4917012345;").dial_or_answer);
    assert!(CommandInfo::parse("ata").dial_or_answer);
    assert!(!CommandInfo::parse("AT+CHUP").dial_or_answer);
    assert!(CommandInfo::parse("ATI").bare_lines);
    assert_eq!(CommandInfo::parse("garbage"), CommandInfo::default());
    assert_eq!(CommandInfo::parse("AT+"), CommandInfo::default());
}
