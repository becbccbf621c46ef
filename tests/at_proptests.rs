//! Property tests for the AT codec and classifier.

use proptest::prelude::*;
use switchboard::at::*;

/// A realistic EC25/SIM7600 transcript: echo on after a reboot, boot URCs,
/// a call with caller ID, CLCC, an SMS send with the prompt, mixed line
/// endings, a NUL and invalid UTF-8.
const TRANSCRIPT: &[u8] =
    b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n\r\n+QIND: PB DONE\r\n\
AT+CLCC\r\r\n+CLCC: 1,1,4,0,0,\"+4917012345\",145,\"Doe, John\"\r\n\r\nOK\r\n\
\r\nRING\r\n\r\n+CLIP: \"4917012345\",145,\"\",0,\"\",0\r\n\
AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n\
\n+CREG: 1,\"1A2B\",\"01C3D4E5\",7\n\rNO CARRIER\r\
AT+CMGS=\"+4917012345\"\r\r\n> \r\n+CMGS: 12\r\n\r\nOK\r\n\
\r\n> hello\x1a\r\n\0\0+QTONEDET: 35\r\n\
+CUSD: 0,\"Guthaben \xe2\x82\xac 5\xff\",15\r\n\
\r\nVOICE CALL: END: 0:12\r\n";

fn drain(c: &mut LineCodec, out: &mut Vec<Token>) {
    while let Some(t) = c.next_token() {
        out.push(t);
    }
}

fn tokens_chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Token> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut c = LineCodec::new();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
        c.push(&bytes[start..cut]);
        drain(&mut c, &mut out);
        start = cut;
    }
    out
}

#[test]
fn transcript_tokens_are_as_expected() {
    let t = tokens_chunked(TRANSCRIPT, &[]);
    let l = |s: &str| Token::Line(s.to_owned());
    assert_eq!(
        t,
        vec![
            l("RDY"),
            l("+CPIN: READY"),
            l("+QIND: SMS DONE"),
            l("+QIND: PB DONE"),
            l("AT+CLCC"),
            l("+CLCC: 1,1,4,0,0,\"+4917012345\",145,\"Doe, John\""),
            l("OK"),
            l("RING"),
            l("+CLIP: \"4917012345\",145,\"\",0,\"\",0"),
            l("AT+CSQ"),
            l("+CSQ: 20,99"),
            l("OK"),
            l("+CREG: 1,\"1A2B\",\"01C3D4E5\",7"),
            l("NO CARRIER"),
            l("AT+CMGS=\"+4917012345\""),
            Token::Prompt,
            l("+CMGS: 12"),
            l("OK"),
            Token::Prompt,
            l("hello"),
            l("+QTONEDET: 35"),
            l("+CUSD: 0,\"Guthaben \u{20ac} 5\u{fffd}\",15"),
            l("VOICE CALL: END: 0:12"),
        ]
    );
}

#[test]
fn every_single_split_point_gives_identical_tokens() {
    let whole = tokens_chunked(TRANSCRIPT, &[]);
    for cut in 0..=TRANSCRIPT.len() {
        assert_eq!(tokens_chunked(TRANSCRIPT, &[cut]), whole, "cut at {cut}");
    }
    // Byte by byte.
    let all: Vec<usize> = (0..TRANSCRIPT.len()).collect();
    assert_eq!(tokens_chunked(TRANSCRIPT, &all), whole);
}

/// URC lines whose format never equals a response line of the commands
/// below (so the expected class is unambiguous).
const URCS: &[&str] = &[
    "RING",
    "+CRING: VOICE",
    "+CLIP: \"+4917012345\",145,\"\",0,\"\",0",
    "+CLIP: \"\",128,\"\",,\"\",1",
    "+CMTI: \"SM\",3",
    "+CREG: 1,\"1A2B\",\"01C3D4E5\",7",
    "+CREG: 5",
    "+CEREG: 1,\"00A1\",\"0B2C3D4\",7",
    "NO CARRIER",
    "BUSY",
    "NO ANSWER",
    "+QIND: \"csq\",20,99",
    "+QIND: \"ccinfo\",1,1,4,0,0,\"+4917012345\",145",
    "+QIND: \"act\",\"LTE\"",
    "+QIND: SMS DONE",
    "VOICE CALL: BEGIN",
    "VOICE CALL: END: 0:12",
    "MISSED_CALL: 10:21AM +4917012345",
    "+RXDTMF: 5",
    "+DTMF: 7",
    "+QTONEDET: 35",
    "+CCWA: \"+4930123456\",145,1",
    "+CUSD: 0,\"Balance\",15",
    "^DSCI: 1,1,4,0,+4917012345,145",
    "+CGEV: ME PDN ACT 1",
    "RDY",
    "PB DONE",
];

/// (command, its response lines).
const COMMANDS: &[(&str, &[&str])] = &[
    (
        "AT+CLCC",
        &[
            "+CLCC: 1,0,0,0,0,\"+4917012345\",145",
            "+CLCC: 2,1,5,0,0,\"030123456\",129,\"Alice, A\"",
            "+CLCC: 3,1,4,0,0",
        ],
    ),
    ("AT+CSQ", &["+CSQ: 20,99"]),
    ("AT+CREG?", &["+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7"]),
    ("AT+CEREG?", &["+CEREG: 0,1"]),
    ("AT+COPS?", &["+COPS: 0,0,\"Telekom.de\",7"]),
    ("AT+CPIN?", &["+CPIN: READY"]),
    ("AT+CLIP?", &["+CLIP: 1,1"]),
    ("AT+CCWA=1,2", &["+CCWA: 1,1", "+CCWA: 0,2"]),
    ("ATI", &["Quectel", "EC25", "Revision: EC25EFAR06A08M4G"]),
    ("AT+CGSN", &["867698041234567"]),
    ("AT+CIMI", &["262011234567890"]),
    (
        "AT+CMGL=4",
        &[
            "+CMGL: 1,1,,24",
            "07919471060040340409D039",
            "+CMGL: 2,1,,25",
        ],
    ),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_chunking_gives_identical_tokens(
        cuts in proptest::collection::vec(0usize..10_000, 0..40)
    ) {
        prop_assert_eq!(tokens_chunked(TRANSCRIPT, &cuts), tokens_chunked(TRANSCRIPT, &[]));
    }

    #[test]
    fn interleaved_urcs_are_never_responses(
        cmd_idx in 0..COMMANDS.len(),
        urcs in proptest::sample::subsequence(URCS.to_vec(), 0..=URCS.len()),
        seed in proptest::collection::vec(any::<u32>(), 64),
    ) {
        let (cmd, responses) = COMMANDS[cmd_idx];
        // Interleave: keep each group's order, pick the source by `seed`.
        let mut lines: Vec<(&str, bool)> = Vec::new();
        let (mut u, mut r) = (0, 0);
        let mut k = 0;
        while u < urcs.len() || r < responses.len() {
            let take_urc = r >= responses.len()
                || (u < urcs.len() && seed[k % seed.len()] % 2 == 0);
            k += 1;
            if take_urc {
                lines.push((urcs[u], true));
                u += 1;
            } else {
                lines.push((responses[r], false));
                r += 1;
            }
        }
        // Echo first, final last, as a modem with ATE1 sends them.
        prop_assert_eq!(classify(cmd, Some(cmd)), Class::Echo);
        for (line, is_urc) in lines {
            let c = classify(line, Some(cmd));
            if is_urc {
                prop_assert!(matches!(c, Class::Urc(_)), "{} during {}: {:?}", line, cmd, c);
            } else {
                prop_assert_eq!(c, Class::Response(line.to_owned()), "{} during {}", line, cmd);
            }
        }
        prop_assert_eq!(classify("OK", Some(cmd)), Class::Final(Final::Ok));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..6000),
        cuts in proptest::collection::vec(0usize..6000, 0..8),
        cmd in proptest::option::of(".{0,40}"),
    ) {
        let toks = tokens_chunked(&bytes, &cuts);
        prop_assert_eq!(&toks, &tokens_chunked(&bytes, &[]));
        for t in toks {
            match t {
                Token::Line(l) => {
                    prop_assert!(!l.is_empty());
                    prop_assert!(l.len() <= 3 * MAX_LINE);
                    let _ = classify(&l, cmd.as_deref());
                    let _ = classify(&l, Some("AT+CLCC"));
                    let _ = classify(&l, Some("ATD+4917012345;"));
                    let _ = classify(&l, None);
                }
                Token::Prompt | Token::Overlong => {}
            }
        }
    }

    #[test]
    fn at_flavoured_garbage_never_panics(
        pieces in proptest::collection::vec(proptest::sample::select(vec![
            "+CLCC:", "+CREG:", "+CEREG:", "+CLIP:", "+CCWA:", "+QIND:", "\"ccinfo\"", "\"csq\"",
            "+CME ERROR:", "+CMS ERROR:", "+CMTI:", "+CPIN:", "+CSQ:", "+COPS:", "+QTONEDET:",
            "+RXDTMF:", "+DTMF:", "MISSED_CALL:", "VOICE CALL: END", "CONNECT", "AT", "AT+",
            "ATD", "?", "=", "=?", ";", "\"", ",", " ", "-1", "0", "1", "145", "255", "256",
            "99999999999", "é", "\u{fffd}", "(", ")", "#", "*", "^", "+", ":",
        ]), 0..24),
        cmd_pieces in proptest::collection::vec(proptest::sample::select(vec![
            "AT", "+CREG", "+CLIP", "+CCWA", "+CLCC", "?", "=", "=?", ";", "\"", "1", "D", "A",
            "I", "+CGSN", "^X", "é", " ",
        ]), 0..8),
        response in any::<bool>(),
    ) {
        let line: String = pieces.concat();
        let cmd: String = cmd_pieces.concat();
        let _ = classify(&line, Some(&cmd));
        let _ = classify(&line, None);
        let _ = CommandInfo::parse(&cmd).owns(&line);
        let _ = parse_final(&line);
        let _ = parse_urc(&line);
        let _ = parse_clcc(&line);
        let _ = parse_csq(&line);
        let _ = parse_creg(&line, response);
        let _ = parse_cops(&line);
        if let Some(u) = parse_urc(&line) {
            let _ = u.expects_body_line();
        }
        let enc = encode_command(&line);
        prop_assert_eq!(enc.last(), Some(&b'\r'));
        prop_assert_eq!(enc.iter().filter(|&&b| b == b'\r' || b == b'\n').count(), 1);
    }
}
