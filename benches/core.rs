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
use switchboard::dsp::callerid::{
    CallerId, CallerIdDecoder, CallerIdEvent, FskGenParams, FskStandard, Signalling, modulate,
};
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

fn callerid(c: &mut Criterion) {
    // 10 s of audio: a Bell 202 and a V.23 MDMF message (1.1 s each) in silence with
    // a little noise, decoded with `--standard auto` (both FSK standards and DTMF CLIP).
    let id = CallerId {
        number: Some("0123456789".into()),
        name: Some("ACME Plumbing".into()),
        ..CallerId::default()
    };
    let frame = id.encode_mdmf().unwrap();
    let mut audio = modulate(&frame, &FskGenParams::new(FskStandard::Bell202));
    audio.extend(modulate(&frame, &FskGenParams::new(FskStandard::V23)));
    audio.resize(80_000, 0);
    let mut g = c.benchmark_group("callerid");
    g.throughput(Throughput::Elements(audio.len() as u64));
    g.bench_function("decode 10 s of 8 kHz audio (auto: FSK + DTMF CLIP)", |b| {
        b.iter(|| {
            let mut d = CallerIdDecoder::new(Signalling::Auto);
            let mut n = 0;
            for frame in audio.chunks(160) {
                d.push(black_box(frame), |e| {
                    if matches!(e, CallerIdEvent::Fsk(_)) {
                        n += 1
                    }
                });
            }
            assert_eq!(n, 2);
        })
    });
    g.bench_function("FSK only (bell202), 10 s", |b| {
        b.iter(|| {
            let mut d = CallerIdDecoder::new(Signalling::Bell202);
            let mut n = 0;
            for frame in audio.chunks(160) {
                d.push(black_box(frame), |_| n += 1);
            }
            black_box(n)
        })
    });
    g.finish();
}

/// Call-progress/fax tone detector: 10 s of DE busy tone (4 cycles) then ringback, with
/// noise.
fn tones(c: &mut Criterion) {
    use switchboard::dsp::progress::{ProgressDetector, ToneKind, country, generate};
    let de = country("DE").unwrap();
    let mut audio = generate(de.tone(ToneKind::Busy).unwrap(), -20.0, 3.84);
    audio.extend(generate(de.tone(ToneKind::Ringback).unwrap(), -20.0, 6.16));
    let mut rng = switchboard::dsp::testsignal::Rng::new(1);
    for s in audio.iter_mut() {
        *s = s.saturating_add((rng.gaussian() * 30.0) as i16);
    }
    let mut g = c.benchmark_group("tones");
    g.throughput(Throughput::Elements(audio.len() as u64));
    g.bench_function("detect 10 s of 8 kHz audio (DE plan)", |b| {
        b.iter(|| {
            let mut d = ProgressDetector::new(de);
            let mut n = 0;
            for frame in audio.chunks(160) {
                d.push(black_box(frame), |_| n += 1);
            }
            d.finish(|_| n += 1);
            assert_eq!(n, 4);
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
                let (mut call, _) = Call::new(
                    1,
                    cfg.clone(),
                    0,
                    Default::default(),
                    t0,
                    jiff::Timestamp::UNIX_EPOCH,
                    1,
                );
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
                let (_, out) = switchboard::scenario::run_file(&f, Some(cache.clone())).unwrap();
                assert!(out.passed());
            })
        },
    );
    g.finish();
}

/// A large configuration: 1,000 users, 200 schedules of 5 layers each (weekly, daily,
/// 12-hour, nights and weekend restrictions, zones differing between layers), 50
/// 3 overrides per schedule, 100 policies of 3 levels mixing schedules and users.
fn big_config() -> String {
    let mut s = String::new();
    for u in 0..1000 {
        s.push_str(&format!(
            "[[user]]\nid = \"u{u}\"\nphone = [\"+4917{:08}\"]\n",
            u
        ));
    }
    let zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"];
    for sc in 0..200 {
        s.push_str(&format!(
            "[[schedule]]\nid = \"s{sc}\"\ntime_zone = \"{}\"\n",
            zones[sc % 4]
        ));
        let shifts = ["1w", "1d", "12h", "1w", "2d"];
        for (l, shift) in shifts.iter().enumerate() {
            let users: Vec<String> = (0..5)
                .map(|k| format!("\"u{}\"", (sc * 5 + l * 7 + k * 13) % 1000))
                .collect();
            s.push_str(&format!(
                "[[schedule.layer]]\nusers = [{}]\nshift = \"{}\"\nstart = \"2025-01-0{}\"\nhandoff = \"0{}:30\"\n",
                users.join(", "),
                shift,
                1 + l,
                l + 2
            ));
            if l == 1 {
                s.push_str(&format!("time_zone = \"{}\"\n", zones[(sc + 1) % 4]));
            }
            if l >= 3 {
                s.push_str(
                    "[[schedule.layer.restriction]]\ndays = [\"mon-fri\"]\nfrom = \"20:00\"\nto = \"08:00\"\n[[schedule.layer.restriction]]\ndays = [\"sat-sun\"]\nfrom = \"00:00\"\nto = \"24:00\"\n",
                );
            }
        }
        for o in 0..3 {
            s.push_str(&format!(
                "[[schedule.override]]\nuser = \"u{}\"\nfrom = \"2026-0{}-10T18:00\"\nto = \"2026-0{}-12T09:00\"\n",
                (sc + o * 100) % 1000,
                o + 1,
                o + 1
            ));
        }
    }
    for p in 0..100 {
        s.push_str(&format!(
            "[[policy]]\nid = \"p{p}\"\n[[policy.level]]\nschedules = [\"s{}\", \"s{}\"]\n[[policy.level]]\nschedules = [\"s{}\"]\nusers = [\"u{}\"]\n[[policy.level]]\nusers = [\"u{}\", \"u{}\", \"u{}\"]\n",
            (p * 2) % 200,
            (p * 2 + 1) % 200,
            (p + 100) % 200,
            p,
            p + 1,
            p + 2,
            p + 3
        ));
    }
    s
}

fn schedules(c: &mut Criterion) {
    use rand::SeedableRng;
    use switchboard::routing;
    let src = big_config();
    let cfg = Config::parse("big.toml", &src, &switchboard::config::BoardProfile::sim())
        .expect("the benchmark configuration is valid");
    assert_eq!((cfg.users.len(), cfg.model.schedules.len()), (1000, 200));
    let now: jiff::Timestamp = "2026-03-29T01:45:00Z".parse().unwrap();
    let mut g = c.benchmark_group("schedules (1,000 users, 200 schedules x 5 layers)");
    g.bench_function("who is on call now, one schedule", |b| {
        b.iter(|| black_box(routing::on_call(&cfg, black_box("s117"), now)))
    });
    g.bench_function("who is on call now, all 200 schedules", |b| {
        b.iter(|| {
            let mut n = 0;
            for s in &cfg.model.schedules {
                n += s.on_call(black_box(now)).len();
            }
            black_box(n)
        })
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    g.bench_function("hunt plan of a policy (3 levels, 3 schedules)", |b| {
        b.iter(|| {
            let plan = routing::hunt_plan(&cfg, black_box("p42"), now, &mut rng);
            assert!(!plan.is_empty());
            black_box(plan)
        })
    });
    let year: jiff::Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
    let from: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    g.bench_function("a year of handoffs, one schedule", |b| {
        b.iter(|| {
            let tl = cfg.model.schedule("s117").unwrap().timeline(from, year);
            assert!(tl.len() > 365);
            black_box(tl)
        })
    });
    g.bench_function("parse and validate the configuration", |b| {
        b.iter(|| {
            black_box(
                Config::parse("big.toml", &src, &switchboard::config::BoardProfile::sim()).unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    dtmf,
    callerid,
    tones,
    call_state_machine,
    scenario,
    schedules
);
criterion_main!(benches);
