//! The calls benchmark runs whole calls through the engine: a short run completes every
//! call, back to back and in a burst on four lines, and keeps memory flat.

use std::path::Path;

#[test]
fn calls_back_to_back_and_in_a_burst_all_complete() {
    let cache = Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("tts-cache"));
    for (calls, burst) in [(12, 1), (12, 12)] {
        let f = switchboard::app::bench_calls::run(calls, burst, cache.clone()).unwrap();
        assert_eq!(f.calls, calls, "{f}");
        assert_eq!(f.outcomes.get("completed"), Some(&calls), "{f}");
        // each call rings, is accepted and talks for 5 s
        assert!(f.virtual_time.as_secs() >= calls * 5 / burst.max(1), "{f}");
    }
}
