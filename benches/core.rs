//! Benchmarks of the hot and the heavy paths: DTMF detection (per channel, per audio
//! second), the pure call state machine (one whole call), and a whole scenario on the
//! simulated board in virtual time (pseudo-terminal modem, audio, DTMF, store).
//! Figures go in the README; no test asserts on them.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchboard::call::{Action, Call, Event};
use switchboard::config::Config;
use switchboard::dsp::dtmf::{DtmfDetector, generate};

fn dtmf(c: &mut Criterion) {
    // 10 s of audio: digits with pauses, then silence-level noise-free gaps
    let mut audio = generate("1234567890*#ABCD", 50, 50, -10.0).unwrap();
    audio.resize(80_000, 0);
    let mut g = c.benchmark_group("dtmf");
    g.throughput(Throughput::Elements(audio.len() as u64));
    g.bench_function("detect 10 s of 8 kHz audio", |b| {
        b.iter(|| {
            let mut d = DtmfDetector::new();
            let mut n = 0;
            for frame in audio.chunks(160) {
                d.push(black_box(frame), |_| n += 1);
            }
            assert_eq!(n, 32);
        })
    });
    g.finish();
}

fn call_state_machine(c: &mut Criterion) {
    let cfg = Arc::new(Config::demo());
    c.bench_function(
        "call: one whole call (menu, decline, accept, bridge, CDR)",
        |b| {
            b.iter(|| {
                let t0 = Instant::now();
                let s = Duration::from_secs;
                let (mut call, _) =
                    Call::new(1, cfg.clone(), 0, None, t0, jiff::Timestamp::UNIX_EPOCH, 1);
                call.handle(t0, Event::CallerAnswered);
                call.handle(t0 + s(8), Event::CallerPromptDone);
                call.handle(t0 + s(9), Event::CallerDigit('1'));
                call.handle(t0 + s(12), Event::LegAnswered);
                call.handle(t0 + s(13), Event::ResponderDigit('2'));
                call.handle(t0 + s(16), Event::LegAnswered);
                call.handle(t0 + s(20), Event::ResponderPromptDone);
                call.handle(t0 + s(21), Event::ResponderDigit('1'));
                let out = call.handle(t0 + s(80), Event::CallerHangup);
                assert!(matches!(out.last(), Some(Action::Finished(_))));
                black_box(out)
            })
        },
    );
}

fn scenario(c: &mut Criterion) {
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hil-tests/scenarios/01-accepted-by-first-responder.toml");
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-tts-cache");
    let mut g = c.benchmark_group("scenario");
    g.sample_size(10);
    g.bench_function(
        "accepted by first responder (43 s of call, virtual time)",
        |b| {
            b.iter(|| {
                let (_, out) =
                    switchboard::hw::sim::scenario::run_file(&f, Some(cache.clone())).unwrap();
                assert!(out.passed());
            })
        },
    );
    g.finish();
}

criterion_group!(benches, dtmf, call_state_machine, scenario);
criterion_main!(benches);
