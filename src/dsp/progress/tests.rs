use super::super::testsignal::{self as ts, Rng};
use super::*;

fn run_with(c: &'static Country, sig: &[i16]) -> (Vec<ToneReport>, Vec<ToneReport>) {
    let mut det = ProgressDetector::new(c);
    let mut detected = Vec::new();
    let mut ended = Vec::new();
    let mut on = |e: ToneEvent| match e {
        ToneEvent::Detected(r) => detected.push(r),
        ToneEvent::Ended(r) => ended.push(r),
    };
    det.push(sig, &mut on);
    det.finish(&mut on);
    (detected, ended)
}

fn kinds(c: &'static Country, sig: &[i16]) -> Vec<ToneKind> {
    let (d, e) = run_with(c, sig);
    assert_eq!(d.len(), e.len(), "every detection ends: {d:?} {e:?}");
    e.iter().map(|r| r.kind).collect()
}

/// `secs` of `def`, starting `skip_ms` into its cadence.
fn tone(def: &ToneDef, level: f32, fk: f32, tk: f32, secs: f32, skip_ms: u32) -> Vec<i16> {
    let skip = ms_to_samples(skip_ms);
    let n = (secs * 8000.0) as usize + skip;
    let mut v = vec![0i16; n];
    CadenceGen::with(def, level, fk, tk).fill(&mut v);
    v.split_off(skip)
}

/// Long enough for two full cycles after any start.
fn secs_for(def: &ToneDef) -> f32 {
    if def.is_continuous() {
        4.0
    } else {
        (3.0 * def.cycle_ms() as f32 / 1000.0 * 1.1).max(4.0)
    }
}

fn secs(def: &ToneDef) -> f32 {
    if def.kind == ToneKind::FaxCed {
        4.0
    } else {
        secs_for(def)
    }
}

#[test]
fn table_lookup_and_errors() {
    for code in ["US", "uk", "De", "fr", "NL", "au", "GB", " gb "] {
        assert!(country(code).is_ok(), "{code}");
    }
    assert_eq!(country("gb").map(|c| c.code), Ok("UK"));
    let e = country("XX").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("\"XX\"") && msg.contains("US, UK, DE, FR, NL, AU"),
        "{msg}"
    );
    for c in COUNTRIES {
        for k in ToneKind::GENERATED {
            let d = c.tone(k).unwrap_or_else(|| panic!("{} {k}", c.code));
            assert_eq!(d.kind, k);
        }
        assert!(c.tone(ToneKind::Unknown).is_none());
        assert!(c.tone(ToneKind::Dial).is_some_and(ToneDef::is_continuous));
    }
    let us = country("us").unwrap_or(&COUNTRIES[0]);
    assert_eq!(
        us.tone(Busy).map(ToneDef::notation).as_deref(),
        Some("480+620/500,0/500")
    );
    assert_eq!(
        us.tone(Dial).map(ToneDef::notation).as_deref(),
        Some("350+440")
    );
    for k in ToneKind::GENERATED {
        assert_eq!(ToneKind::parse(k.name()), Some(k));
    }
    assert_eq!(ToneKind::parse("REORDER"), Some(Congestion));
    assert_eq!(ToneKind::parse("ced"), Some(ToneKind::FaxCed));
    assert_eq!(ToneKind::parse("hum"), None);
}

#[test]
fn generator_cadence_and_level() {
    let de = country("DE").unwrap_or(&COUNTRIES[0]);
    let busy = de.tone(Busy).unwrap_or(&SIT);
    let v = generate(busy, -20.0, 1.92);
    let on = &v[..ms_to_samples(480)];
    let off = &v[ms_to_samples(480)..ms_to_samples(960)];
    assert!((super::super::level::rms_dbm0(on) + 20.0).abs() < 0.1);
    assert!(off.iter().all(|&s| s == 0));
    assert!(
        v[ms_to_samples(960)..ms_to_samples(1440)]
            .iter()
            .any(|&s| s != 0)
    );
    // Chunked generation equals one call.
    let mut g = CadenceGen::new(busy);
    let mut w = vec![0i16; v.len()];
    for c in w.chunks_mut(77) {
        g.fill(c);
    }
    let mut g2 = CadenceGen::with(busy, -20.0, 1.0, 1.0);
    let mut v2 = vec![0i16; v.len()];
    g2.fill(&mut v2);
    assert_eq!(v, v2);
    assert_eq!(w.len(), v.len());
    // Phase reversals: the sign flips every 450 ms.
    let pr = generate(&FAX_CED_PR, -10.0, 1.0);
    let plain = generate(&FAX_CED, -10.0, 1.0);
    let i = ms_to_samples(500);
    assert_eq!(pr[i], -plain[i]);
    assert_eq!(pr[100], plain[100]);
}

/// Every country × every kind, at several start points: detected as that kind only.
#[test]
fn every_country_and_kind_detected() {
    for c in COUNTRIES {
        for k in ToneKind::GENERATED {
            let Some(d) = c.tone(k) else { continue };
            for skip in [0, d.cycle_ms() / 3, d.cycle_ms() * 3 / 4] {
                let v = tone(d, d.level_dbm0, 1.0, 1.0, secs(d), skip);
                let (det, ended) = run_with(c, &v);
                let got: Vec<ToneKind> = ended.iter().map(|r| r.kind).collect();
                assert_eq!(got, vec![k], "{} {k} skip {skip}: {det:?}", c.code);
                let r = ended[0];
                assert!(
                    (r.level_dbm0 - d.level_dbm0).abs() < 1.5,
                    "{} {k}: level {}",
                    c.code,
                    r.level_dbm0
                );
                if !d.is_continuous() && k != ToneKind::FaxCed {
                    assert!(r.cycles >= 1, "{} {k}: {r:?}", c.code);
                }
            }
        }
    }
}

/// Levels −10 … −35 dBm0, frequencies ±1.5 %, cadence ±10 %.
#[test]
fn levels_frequency_and_cadence_deviations() {
    for c in COUNTRIES {
        for k in ToneKind::GENERATED {
            let Some(d) = c.tone(k) else { continue };
            for (level, fk, tk) in [
                (-10.0, 1.0, 1.0),
                (-35.0, 1.0, 1.0),
                (-20.0, 0.985, 1.0),
                (-20.0, 1.015, 1.0),
                (-20.0, 1.0, 0.9),
                (-20.0, 1.0, 1.1),
                (-30.0, 0.985, 0.9),
                (-30.0, 1.015, 1.1),
            ] {
                if matches!(k, ToneKind::FaxCed | ToneKind::FaxCng) && fk != 1.0 {
                    continue; // fax tolerances are tighter (±15 Hz / ±38 Hz), below
                }
                let v = tone(d, level, fk, tk, secs(d) * tk, 70);
                let got = kinds(c, &v);
                assert_eq!(got, vec![k], "{} {k} level {level} f×{fk} t×{tk}", c.code);
            }
        }
    }
}

#[test]
fn white_noise_20db_snr_and_g711() {
    let mut rng = Rng::new(7);
    for c in COUNTRIES {
        for k in ToneKind::GENERATED {
            let Some(d) = c.tone(k) else { continue };
            for level in [-15.0f32, -30.0] {
                let v = tone(d, level, 1.0, 1.0, secs(d), 130);
                let mut f = ts::to_f64(&v);
                ts::add_white_noise(&mut f, level - 20.0, &mut rng);
                let noisy = ts::quantize(&f);
                assert_eq!(kinds(c, &noisy), vec![k], "{} {k} {level} + noise", c.code);
                let u = ts::ulaw_roundtrip(&v);
                assert_eq!(kinds(c, &u), vec![k], "{} {k} {level} µ-law", c.code);
                let a = ts::alaw_roundtrip(&v);
                assert_eq!(kinds(c, &a), vec![k], "{} {k} {level} A-law", c.code);
            }
        }
    }
}

#[test]
fn noise_music_singing_and_dtmf_give_nothing() {
    let mut rng = Rng::new(11);
    for c in COUNTRIES {
        for level in [-30.0f32, -15.0] {
            let mut n = ts::silence(8000 * 10);
            ts::add_white_noise(&mut n, level, &mut rng);
            assert_eq!(
                kinds(c, &ts::quantize(&n)),
                vec![],
                "{} noise {level}",
                c.code
            );
        }
        for level in [-25.0f32, -10.0] {
            let m = ts::music(30.0, level, &mut rng);
            assert_eq!(
                kinds(c, &ts::quantize(&m)),
                vec![],
                "{} music {level}",
                c.code
            );
            let s = ts::sung_vowels(30.0, level, &mut rng);
            assert_eq!(
                kinds(c, &ts::quantize(&s)),
                vec![],
                "{} singing {level}",
                c.code
            );
        }
        // DTMF dialling: digits of 50-500 ms with pauses, and long held digits.
        for (on, offms) in [
            (50u32, 50u32),
            (100, 100),
            (250, 250),
            (500, 500),
            (480, 480),
        ] {
            let spec = ts::DtmfSpec {
                level_dbm0: -10.0,
                ..ts::DtmfSpec::default()
            };
            let v = ts::dtmf_sequence(
                "1234567890*#ABCD",
                spec,
                0,
                ms_to_samples(on),
                ms_to_samples(offms),
            );
            assert_eq!(
                kinds(c, &ts::quantize(&v)),
                vec![],
                "{} DTMF {on}/{offms}",
                c.code
            );
        }
    }
}

#[test]
fn fax_tones() {
    let us = &COUNTRIES[0];
    // CNG: each burst counted.
    let v = tone(&FAX_CNG, -20.0, 1.0, 1.0, 12.0, 0);
    let (_, e) = run_with(us, &v);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].kind, e[0].cycles), (ToneKind::FaxCng, 4));
    assert_eq!((e[0].start_ms(), e[0].duration_ms()), (0, 11_000));
    assert!((e[0].freqs_hz[0] - 1100.0).abs() < 2.0, "{e:?}");
    // CNG ±38 Hz (T.30 tolerance) is still CNG up to ±1.5 %.
    for fk in [0.985f32, 1.015] {
        let v = tone(&FAX_CNG, -30.0, fk, 1.0, 8.0, 0);
        assert_eq!(kinds(us, &v), vec![ToneKind::FaxCng], "CNG ×{fk}");
    }
    // CED with and without phase reversals, ±15 Hz.
    for d in [&FAX_CED, &FAX_CED_PR] {
        for fk in [1.0f32, 2085.0 / 2100.0, 2115.0 / 2100.0] {
            for level in [-10.0f32, -35.0] {
                let v = tone(d, level, fk, 1.0, 4.0, 0);
                let (_, e) = run_with(us, &v);
                assert_eq!(e.len(), 1, "{} {fk} {level}: {e:?}", d.phase_reversal_ms);
                assert_eq!(e[0].kind, ToneKind::FaxCed);
                let want = if d.phase_reversal_ms > 0 { 7 } else { 0 };
                assert_eq!(e[0].phase_reversals, want, "{fk} {level}: {e:?}");
                let dur = (e[0].end_sample - e[0].start_sample) as f32 / 8.0;
                assert!((dur - 3300.0).abs() < 60.0, "{dur}");
            }
        }
    }
    // Reversals counted under 20 dB white noise and through A-law; none invented.
    let mut rng = Rng::new(21);
    for (d, want) in [(&FAX_CED_PR, 7), (&FAX_CED, 0)] {
        for level in [-15.0f32, -30.0] {
            let mut f = ts::to_f64(&tone(d, level, 1.0, 1.0, 4.0, 0));
            ts::add_white_noise(&mut f, level - 20.0, &mut rng);
            for v in [ts::quantize(&f), ts::alaw_roundtrip(&ts::quantize(&f))] {
                let (_, e) = run_with(us, &v);
                assert_eq!(e.len(), 1, "{e:?}");
                assert_eq!(e[0].phase_reversals, want, "{level}: {e:?}");
            }
        }
    }
    // A 300 ms (or 1.5 s) 2100 Hz beep is not CED; a 400 ms 1100 Hz beep alone is CNG
    // only if it lasts 0.5 s ± 15 %.
    for ms in [300u32, 1500] {
        let mut v = vec![0i16; 8000 * 3];
        let mut g = ToneGen::single(2100.0, -10.0);
        g.fill(&mut v[8000..8000 + ms_to_samples(ms)]);
        assert_eq!(kinds(us, &v), vec![], "2100 Hz {ms} ms");
    }
    let mut v = vec![0i16; 8000 * 3];
    ToneGen::single(1100.0, -10.0).fill(&mut v[8000..8000 + ms_to_samples(200)]);
    assert_eq!(kinds(us, &v), vec![]);
}

#[test]
fn sit_report_and_ansi_variant() {
    let de = country("DE").unwrap_or(&COUNTRIES[0]);
    let v = tone(&SIT, -20.0, 1.0, 1.0, 6.0, 0);
    let (_, e) = run_with(de, &v);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].kind, ToneKind::Sit);
    assert!(e[0].cycles >= 2, "{e:?}");
    assert_eq!(e[0].cadence_len, 3);
    assert!(
        e[0].cadence_ms
            .iter()
            .take(3)
            .all(|&m| (m as i32 - 330).abs() <= 40),
        "{e:?}"
    );
    // ANSI T1.401 variant: 985.2 / 1370.6 / 1776.7 Hz, 274 ms and 380 ms segments.
    static ANSI: ToneDef = def(
        ToneKind::Sit,
        -24.0,
        &[
            on1(985.2, 274),
            on1(1370.6, 380),
            on1(1776.7, 380),
            off(1000),
        ],
    );
    let v = tone(&ANSI, -24.0, 1.0, 1.0, 4.0, 0);
    assert_eq!(kinds(de, &v), vec![ToneKind::Sit]);
    // Two of the three segments are not SIT.
    static PART: ToneDef = def(
        ToneKind::Sit,
        -20.0,
        &[on1(950.0, 330), on1(1400.0, 330), off(2000)],
    );
    assert_eq!(kinds(de, &tone(&PART, -20.0, 1.0, 1.0, 8.0, 0)), vec![]);
}

#[test]
fn unknown_cadence_and_kind_changes() {
    let de = country("DE").unwrap_or(&COUNTRIES[0]);
    // 425 Hz at 700/700 ms: regular, but in no table.
    static ODD: ToneDef = def(ToneKind::Unknown, -16.0, &[on1(425.0, 700), off(700)]);
    let v = tone(&ODD, -16.0, 1.0, 1.0, 10.0, 0);
    assert_eq!(kinds(de, &v), vec![ToneKind::Unknown]);
    // Continuous 400 Hz in the UK (only cadenced tones use 400 Hz alone): unknown.
    let uk = country("UK").unwrap_or(&COUNTRIES[0]);
    static HUM: ToneDef = def(ToneKind::Unknown, -16.0, &[on1(400.0, 0)]);
    assert_eq!(
        kinds(uk, &tone(&HUM, -16.0, 1.0, 1.0, 5.0, 0)),
        vec![ToneKind::Unknown]
    );
    // Dial tone, then busy, then congestion: three episodes in order, with times.
    let mut v = tone(de.tone(Dial).unwrap_or(&SIT), -13.0, 1.0, 1.0, 3.0, 0);
    v.extend(vec![0i16; 4000]);
    v.extend(tone(de.tone(Busy).unwrap_or(&SIT), -16.0, 1.0, 1.0, 4.8, 0));
    v.extend(tone(
        de.tone(Congestion).unwrap_or(&SIT),
        -16.0,
        1.0,
        1.0,
        3.0,
        0,
    ));
    let (_, e) = run_with(de, &v);
    let k: Vec<ToneKind> = e.iter().map(|r| r.kind).collect();
    assert_eq!(k, vec![Dial, Busy, Congestion], "{e:?}");
    let ms = |s: u64| s / 8;
    assert!(ms(e[0].start_sample) <= 20, "{e:?}");
    assert!(ms(e[1].start_sample).abs_diff(3500) <= 40, "{e:?}");
    assert!(ms(e[2].start_sample).abs_diff(8300) <= 60, "{e:?}");
    assert!(e[1].cycles >= 4, "{e:?}");
}

#[test]
fn chunking_does_not_change_events() {
    let c = country("UK").unwrap_or(&COUNTRIES[0]);
    let mut rng = Rng::new(3);
    let mut v = tone(c.tone(Ringback).unwrap_or(&SIT), -20.0, 1.0, 1.0, 7.0, 500);
    v.extend(tone(
        c.tone(Congestion).unwrap_or(&SIT),
        -20.0,
        1.0,
        1.0,
        4.0,
        0,
    ));
    let mut f = ts::to_f64(&v);
    ts::add_white_noise(&mut f, -45.0, &mut rng);
    let v = ts::quantize(&f);
    let mut whole = Vec::new();
    let mut d = ProgressDetector::new(c);
    d.push(&v, |e| whole.push(e));
    d.finish(|e| whole.push(e));
    assert_eq!(whole.len(), 4, "{whole:?}");
    for seed in 1..6u64 {
        let mut r = Rng::new(seed);
        let mut d = ProgressDetector::new(c);
        let mut ev = Vec::new();
        let mut rest = &v[..];
        while !rest.is_empty() {
            let n = (r.next_u64() % 700) as usize;
            let (a, b) = rest.split_at(n.min(rest.len()));
            d.push(a, |e| ev.push(e));
            rest = b;
        }
        d.finish(|e| ev.push(e));
        assert_eq!(ev, whole, "seed {seed}");
        assert_eq!(d.samples_seen(), v.len() as u64);
    }
    d.reset();
    assert_eq!(d.samples_seen(), 0);
}
