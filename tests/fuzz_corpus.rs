//! The AT line-parser fuzz body on stable Rust: the checked-in seed corpus
//! (`fuzz/corpus/at_line_parser/`: modem transcripts in the formats of the reference,
//! garbage, long and partial lines) plus thousands of random and structured inputs.
//! The libFuzzer target (`fuzz/`, nightly) runs the same body.

use std::path::Path;
use std::time::Instant;

use proptest::prelude::*;
use switchboard::modem::fuzz::line_parser;

#[test]
fn seed_corpus_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/at_line_parser");
    let mut n = 0;
    let now = Instant::now();
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        line_parser(now, &data);
        // every prefix too: cut anywhere, including mid-line and mid-UTF-8
        for cut in (0..data.len()).step_by(7) {
            line_parser(now, &data[..cut]);
        }
        n += 1;
    }
    assert!(n >= 10, "the seed corpus is missing from {}", dir.display());
}

/// Pieces a modem really sends, to build inputs that get past the framing.
const PIECES: &[&str] = &[
    "\r\n",
    "\r",
    "\n",
    "OK",
    "ERROR",
    "RDY",
    "RING",
    "> ",
    "NO CARRIER",
    "BUSY",
    "+CME ERROR: 14",
    "+CMS ERROR: 304",
    "+CLCC: 1,0,3,0,0,\"+491701111111\",145",
    "+CLIP: \"+15550001111\",145,\"\",,\"\",0",
    "+CMTI: \"SM\",3",
    "+CMT: ,24",
    "+CMGS: 7",
    "+CMGR: 0,,24",
    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
    "+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7",
    "+COPS: 0,0,\"Sim Telecom\",7",
    "+CSQ: 20,99",
    "AT+CLCC",
    "ATE0",
    "+QIND: \"ccinfo\",1,0,0,0,0,\"+4917\",145",
    "VOICE CALL: BEGIN",
    "+CRING: VOICE",
];

fn structured() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        6 => prop::sample::select(PIECES).prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::collection::vec(any::<u8>(), 0..16),
        1 => (0usize..6000).prop_map(|n| vec![b'7'; n]),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        line_parser(Instant::now(), &data);
    }

    #[test]
    fn modem_like_streams_never_panic(data in structured()) {
        line_parser(Instant::now(), &data);
    }
}
