//! The body of the AT line-parser fuzz target (`fuzz/fuzz_targets/at_line_parser.rs`),
//! shared with the stable test that replays the seed corpus (`tests/fuzz_corpus.rs`).
//!
//! Arbitrary bytes go through the line codec (in chunks of a size taken from the
//! input), every line through the classifier and the URC / final-result / response
//! parsers against several commands in flight, and the same bytes through
//! [`Modem::handle_input`] in a few states (initialising, dialling, at the SMS prompt),
//! with timers fired in between. It must never panic, and memory stays bounded: the
//! codec never holds more than [`at::MAX_LINE`] bytes of an unfinished line and a
//! response never keeps more than `MAX_RESPONSE_LINES` lines.

use std::time::{Duration, Instant};

use super::{MAX_RESPONSE_LINES, Modem, ModemTiming};
use crate::at::{self, LineCodec, Token};

/// Commands the classifier is asked about (forms with and without a prefix, the SMS
/// prompt command, a dial).
const IN_FLIGHT: &[Option<&str>] = &[
    None,
    Some("AT"),
    Some("AT+CLCC"),
    Some("AT+CSQ"),
    Some("AT+CMGS=23"),
    Some("AT+CMGR=3"),
    Some("ATD+491701111111;"),
    Some("AT+CGSN"),
];

/// Runs one fuzz input. `now` is the clock origin (the caller reads the clock).
pub fn line_parser(now: Instant, data: &[u8]) {
    let chunk = data.first().map_or(1, |b| usize::from(*b % 31) + 1);

    let mut codec = LineCodec::new();
    for part in data.chunks(chunk) {
        codec.push(part);
        assert!(
            codec.pending_bytes() <= at::MAX_LINE,
            "the codec holds {} bytes of one line",
            codec.pending_bytes()
        );
        while let Some(tok) = codec.next_token() {
            if let Token::Line(l) = tok {
                // lossy UTF-8 may turn one byte into three
                assert!(l.len() <= 3 * at::MAX_LINE, "a {}-byte line", l.len());
                for c in IN_FLIGHT {
                    let _ = at::classify(&l, *c);
                }
                let _ = at::parse_urc(&l);
                let _ = at::parse_final(&l);
                let _ = at::parse_clcc(&l);
                let _ = at::parse_csq(&l);
                let _ = at::parse_creg(&l, true);
                let _ = at::parse_creg(&l, false);
                let _ = at::parse_cops(&l);
            }
        }
    }

    for state in 0..3 {
        let mut m = Modem::new(now, ModemTiming::default());
        let mut t = now;
        match state {
            1 => {
                m.dial(t, "+491701111111");
            }
            2 => {
                m.send_sms(t, "+491701234567", "fuzz");
                m.handle_input(t, b"\r\n> ");
            }
            _ => {}
        }
        for (i, part) in data.chunks(chunk).enumerate() {
            m.handle_input(t, part);
            assert!(m.codec.pending_bytes() <= at::MAX_LINE);
            assert!(
                m.inflight
                    .as_ref()
                    .is_none_or(|f| f.lines.len() <= MAX_RESPONSE_LINES)
            );
            while m.poll_transmit().is_some() {}
            while m.poll_event().is_some() {}
            if i % 7 == 6 {
                // let a timer fire now and then (command timeouts, polls, the ladder)
                t = m.poll_timeout().unwrap_or(t).max(t) + Duration::from_millis(1);
                m.handle_timeout(t);
            }
        }
        let _ = m.status();
    }
}
