//! Arbitrary bytes from the modem's AT port: line codec, classifier, URC parsers and
//! the modem state machine must not panic and must stay within their memory bounds.
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;

static START: OnceLock<Instant> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let now = *START.get_or_init(Instant::now);
    switchboard::modem::fuzz::line_parser(now, data);
});
