//! Caller ID on the FXO path end to end: the simulated central office sends the caller's
//! number as FSK audio in the first ring pause (Bell 202 in the US, V.23 in Germany),
//! and the box demodulates it from the line's audio and records it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchboard::config::{BoardProfile, Config};
use switchboard::scenario;

fn tts_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("tts-cache")
}

#[test]
fn the_box_demodulates_the_caller_id_sent_between_the_rings() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hil-tests/scenarios/01-accepted-by-first-responder.toml");
    let sc = scenario::load(&f).unwrap();
    for (country, standard) in [("US", "bell202"), ("DE", "v23")] {
        let mut board = BoardProfile::sim();
        board.country = country.to_string();
        let out = scenario::run(&sc, Arc::new(Config::demo()), &board, Some(tts_cache())).unwrap();
        assert!(out.passed(), "{country}: {:?}", out.failures);
        let t = out.transcript.join("\n");
        // the simulated network's side (its own log of what it did)
        assert!(
            t.contains("network sends caller ID +15550001111"),
            "{country}: no caller ID sent:\n{t}"
        );
        // the box's side, typed
        let kind = |e: &serde_json::Value, k: &str| e["kind"] == k;
        let decoded = out
            .events
            .iter()
            .position(|e| {
                kind(e, "caller_id")
                    && e["number"] == "+15550001111"
                    && e["detail"]
                        .as_str()
                        .is_some_and(|d| d.starts_with(&format!("{standard} mdmf")))
            })
            .unwrap_or_else(|| panic!("{country}: caller ID not demodulated:\n{t}"));
        let incoming = out
            .events
            .iter()
            .position(|e| kind(e, "incoming_call") && e["caller_id"] == "+15550001111")
            .unwrap_or_else(|| panic!("{country}: {t}"));
        assert!(decoded < incoming, "{t}");
        assert!(
            !out.events.iter().any(|e| kind(e, "caller_id_rejected")),
            "{t}"
        );
        let cdr = out.cdr.expect("a CDR");
        assert_eq!(cdr.caller_id.as_deref(), Some("+15550001111"), "{country}");
    }
}
