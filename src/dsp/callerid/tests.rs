use super::message::finish_frame;
use super::*;
use crate::dsp::testsignal as ts;

fn decode_with(sig: Signalling, audio: &[i16]) -> Vec<CallerIdEvent> {
    let mut d = CallerIdDecoder::new(sig);
    let mut ev = Vec::new();
    for chunk in audio.chunks(160) {
        d.push(chunk, |e| ev.push(e));
    }
    d.finish(|e| ev.push(e));
    ev
}

fn decode(audio: &[i16]) -> Vec<CallerIdEvent> {
    decode_with(Signalling::Auto, audio)
}

fn fsk_messages(ev: &[CallerIdEvent]) -> Vec<FskMessage> {
    ev.iter()
        .filter_map(|e| match e {
            CallerIdEvent::Fsk(m) => Some(*m),
            _ => None,
        })
        .collect()
}

fn sample_id() -> CallerId {
    CallerId {
        date_time: Some(DateTime {
            month: 11,
            day: 22,
            hour: 1,
            minute: 3,
        }),
        number: Some("0123456789".into()),
        name: Some("ACME Plumbing".into()),
        ..CallerId::default()
    }
}

/// Decodes `audio` and checks that exactly one valid message equal to `id` (as
/// MDMF) of `standard` was found, with no errors.
fn expect_one(audio: &[i16], standard: FskStandard, what: &str) -> FskMessage {
    let ev = decode(audio);
    let msgs = fsk_messages(&ev);
    assert_eq!(msgs.len(), 1, "{what}: {ev:?}");
    assert!(
        ev.iter().all(|e| !matches!(e, CallerIdEvent::Error(_))),
        "{what}: {ev:?}"
    );
    let m = msgs[0];
    assert_eq!(m.standard, standard, "{what}: {m:?}");
    m
}

fn mdmf_audio(p: &FskGenParams) -> Vec<f64> {
    modulate_f64(&sample_id().encode_mdmf().unwrap(), p)
}

#[test]
fn checksum_and_encoding() {
    let f = sample_id().encode_mdmf().unwrap();
    assert_eq!(f[0], 0x80);
    assert_eq!(usize::from(f[1]), f.len() - 3);
    assert_eq!(f.iter().fold(0u8, |a, &b| a.wrapping_add(b)), 0);
    // Parameters: date (10 bytes), number (12), name (15).
    assert_eq!(&f[2..12], b"\x01\x0811220103");
    assert_eq!(&f[12..14], &[0x02, 10]);
    let id = parse_message(&f).unwrap();
    assert_eq!(id.number.as_deref(), Some("0123456789"));
    assert_eq!(id.name.as_deref(), Some("ACME Plumbing"));
    assert_eq!(id.date_time, sample_id().date_time);
    assert_eq!(id.params.len(), 3);

    let s = sample_id();
    assert!(s.encode_sdmf().is_err(), "SDMF has no name");
    let s = CallerId {
        name: None,
        ..sample_id()
    };
    let f = s.encode_sdmf().unwrap();
    assert_eq!(
        &f[..],
        b"\x04\x1211220103\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x53"
    );
    let id = parse_message(&f).unwrap();
    assert_eq!(id.number.as_deref(), Some("0123456789"));
    assert!(id.params.is_empty());
}

#[test]
fn parse_errors_name_the_problem() {
    let mut f = sample_id().encode_mdmf().unwrap();
    let last = f.len() - 1;
    f[last] ^= 0x10;
    assert!(matches!(
        parse_message(&f),
        Err(MessageError::ChecksumMismatch { .. })
    ));
    assert_eq!(
        parse_message(&[0x80]),
        Err(MessageError::TooShort { len: 1 })
    );
    assert!(matches!(
        parse_message(&[0x80, 5, 1, 0]),
        Err(MessageError::LengthMismatch { .. })
    ));
    // A parameter claiming more bytes than there are.
    let mut bad = vec![0x80, 3, 0x02, 9, b'1'];
    bad.push(checksum(&bad));
    assert_eq!(
        parse_message(&bad),
        Err(MessageError::ParamOverrun { kind: 0x02 })
    );
    // SDMF with a date that is not a date.
    let mut bad = vec![0x04, 9];
    bad.extend(b"13450000O");
    bad.push(checksum(&bad));
    assert!(matches!(
        parse_message(&bad),
        Err(MessageError::BadField(_))
    ));
    let e = parse_message(&f).unwrap_err().to_string();
    assert!(e.contains("checksum mismatch"), "{e}");
}

#[test]
fn etsi_parameters_are_parsed_generically() {
    let mut data = Vec::new();
    for (k, v) in [
        (0x01u8, &b"01020304"[..]),
        (0x03, b"5551234"),
        (0x04, b"P"),
        (0x08, b"O"),
        (0x11, &[0x01][..]),
        (0x99, b"xyz"),
    ] {
        data.push(k);
        data.push(v.len() as u8);
        data.extend_from_slice(v);
    }
    let f = finish_frame(0x80, data).unwrap();
    let id = parse_message(&f).unwrap();
    assert_eq!(id.called_number.as_deref(), Some("5551234"));
    assert_eq!(id.number_absent, Some(Absence::Private));
    assert_eq!(id.name_absent, Some(Absence::Unavailable));
    assert_eq!(id.call_type, Some(1));
    assert_eq!(id.number, None);
    assert_eq!(id.params.len(), 6);
    assert_eq!(id.params[5].kind, 0x99);
    assert_eq!(id.params[5].value, b"xyz");
}

#[test]
fn bell202_sdmf_and_mdmf_nominal() {
    let p = FskGenParams::new(FskStandard::Bell202);
    let m = expect_one(&ts::quantize(&mdmf_audio(&p)), FskStandard::Bell202, "mdmf");
    assert_eq!(m.format(), MessageFormat::Mdmf);
    assert_eq!(m.caller_id().unwrap(), parse_message(m.bytes()).unwrap());
    let id = m.caller_id().unwrap();
    assert_eq!(id.number.as_deref(), Some("0123456789"));
    assert_eq!(id.name.as_deref(), Some("ACME Plumbing"));
    assert!((m.mark_hz - 1200.0).abs() < 6.0, "{m:?}");
    assert!((m.space_hz - 2200.0).abs() < 15.0, "{m:?}");
    assert!((m.level_dbm0 + 13.0).abs() < 1.5, "{m:?}");
    // The message starts after 100 ms lead, 300 seizure and 180 mark bits.
    let start = 800.0 + 480.0 * 8000.0 / 1200.0;
    assert!((m.start_sample as f64 - start).abs() < 8.0, "{m:?}");

    let sdmf = CallerId {
        name: None,
        ..sample_id()
    }
    .encode_sdmf()
    .unwrap();
    let m = expect_one(&modulate(&sdmf, &p), FskStandard::Bell202, "sdmf");
    assert_eq!(m.format(), MessageFormat::Sdmf);
    assert_eq!(m.bytes(), &sdmf[..]);
}

#[test]
fn v23_etsi_nominal_with_inter_character_marks() {
    let mut p = FskGenParams::new(FskStandard::V23);
    let m = expect_one(&ts::quantize(&mdmf_audio(&p)), FskStandard::V23, "v23");
    assert!((m.mark_hz - 1300.0).abs() < 6.0, "{m:?}");
    assert!((m.space_hz - 2100.0).abs() < 15.0, "{m:?}");
    // ETSI allows up to 10 mark bits between characters, and a short mark signal.
    p.inter_char_mark_bits = 10;
    p.mark_bits = 55;
    p.seizure_bits = 96;
    expect_one(&ts::quantize(&mdmf_audio(&p)), FskStandard::V23, "gaps");
    // No channel seizure at all (e.g. a message during a call).
    p.seizure_bits = 0;
    expect_one(
        &ts::quantize(&mdmf_audio(&p)),
        FskStandard::V23,
        "no seizure",
    );
}

#[test]
fn levels_from_minus_5_to_minus_40_dbm0() {
    for std in [FskStandard::Bell202, FskStandard::V23] {
        for level in [-3.0, -5.0, -10.0, -20.0, -30.0, -40.0, -44.0] {
            let p = FskGenParams {
                level_dbm0: level,
                ..FskGenParams::new(std)
            };
            let m = expect_one(
                &ts::quantize(&mdmf_audio(&p)),
                std,
                &format!("{std:?} {level}"),
            );
            assert!((m.level_dbm0 - level).abs() < 1.5, "{level}: {m:?}");
        }
    }
}

#[test]
fn below_the_carrier_threshold_nothing_is_reported() {
    let p = FskGenParams {
        level_dbm0: -55.0,
        ..FskGenParams::new(FskStandard::Bell202)
    };
    assert!(decode(&ts::quantize(&mdmf_audio(&p))).is_empty());
}

#[test]
fn baud_and_frequency_offsets() {
    for std in [FskStandard::Bell202, FskStandard::V23] {
        for (baud, freq) in [
            (0.01, 0.0),
            (-0.01, 0.0),
            (0.0, 0.01),
            (0.0, -0.01),
            (0.01, 0.01),
            (-0.01, -0.01),
            (0.02, -0.02),
            (-0.02, 0.02),
        ] {
            let p = FskGenParams {
                baud_error: baud,
                freq_error: freq,
                level_dbm0: -30.0,
                ..FskGenParams::new(std)
            };
            let m = expect_one(
                &ts::quantize(&mdmf_audio(&p)),
                std,
                &format!("{std:?} baud {baud} freq {freq}"),
            );
            // The measured frequencies follow the offset.
            let f = 1.0 + freq as f32;
            assert!((m.mark_hz - std.mark_hz() * f).abs() < 8.0, "{m:?}");
            assert!((m.space_hz - std.space_hz() * f).abs() < 20.0, "{m:?}");
        }
    }
}

#[test]
fn white_noise_at_20_db_snr() {
    for std in [FskStandard::Bell202, FskStandard::V23] {
        for level in [-13.0f32, -30.0, -40.0] {
            for seed in 1..=4 {
                let p = FskGenParams {
                    level_dbm0: level,
                    ..FskGenParams::new(std)
                };
                let mut v = mdmf_audio(&p);
                // The signal's power is that of a sine at `level`.
                ts::add_white_noise(&mut v, level - 20.0, &mut ts::Rng::new(seed));
                expect_one(
                    &ts::quantize(&v),
                    std,
                    &format!("{std:?} {level} dBm0 seed {seed}"),
                );
            }
        }
    }
}

#[test]
fn g711_mu_law_round_trip() {
    for std in [FskStandard::Bell202, FskStandard::V23] {
        for level in [-5.0, -20.0, -40.0] {
            let p = FskGenParams {
                level_dbm0: level,
                ..FskGenParams::new(std)
            };
            let a = ts::ulaw_roundtrip(&ts::quantize(&mdmf_audio(&p)));
            expect_one(&a, std, &format!("µ-law {std:?} {level}"));
            let a = ts::alaw_roundtrip(&ts::quantize(&mdmf_audio(&p)));
            expect_one(&a, std, &format!("A-law {std:?} {level}"));
        }
    }
}

#[test]
fn dc_offset_and_mains_hum() {
    for std in [FskStandard::Bell202, FskStandard::V23] {
        let p = FskGenParams {
            level_dbm0: -35.0,
            ..FskGenParams::new(std)
        };
        let mut v = mdmf_audio(&p);
        let hum = ts::tones(
            &[(50.0, -6.0), (150.0, -20.0), (250.0, -30.0)],
            v.len(),
            0.3,
        );
        for (x, h) in v.iter_mut().zip(hum) {
            *x += h + 3000.0;
        }
        expect_one(&ts::quantize(&v), std, &format!("hum {std:?}"));
        let mut v = mdmf_audio(&p);
        let hum = ts::tones(&[(60.0, -6.0), (180.0, -20.0)], v.len(), 0.0);
        for (x, h) in v.iter_mut().zip(hum) {
            *x += h - 2000.0;
        }
        expect_one(&ts::quantize(&v), std, &format!("60 Hz hum {std:?}"));
    }
}

#[test]
fn a_wrong_checksum_is_rejected() {
    let mut f = sample_id().encode_mdmf().unwrap();
    let last = f.len() - 1;
    f[last] = f[last].wrapping_add(1);
    let ev = decode(&modulate(&f, &FskGenParams::new(FskStandard::Bell202)));
    assert!(fsk_messages(&ev).is_empty());
    assert_eq!(ev.len(), 1, "{ev:?}");
    let CallerIdEvent::Error(e) = ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        e.kind,
        DecodeErrorKind::ChecksumMismatch {
            message_type: 0x80,
            received: f[last],
            computed: f[last].wrapping_sub(1),
        }
    );
    assert!(e.to_string().contains("checksum"), "{e}");
    // A corrupted data byte is caught too.
    let mut f = sample_id().encode_mdmf().unwrap();
    f[15] ^= 0x04;
    let ev = decode(&modulate(&f, &FskGenParams::new(FskStandard::V23)));
    assert!(fsk_messages(&ev).is_empty());
    assert!(matches!(
        ev[..],
        [CallerIdEvent::Error(DecodeError {
            kind: DecodeErrorKind::ChecksumMismatch { .. },
            ..
        })]
    ));
}

#[test]
fn a_message_cut_off_is_reported_as_truncated() {
    let f = sample_id().encode_mdmf().unwrap();
    let p = FskGenParams::new(FskStandard::Bell202);
    let a = modulate(&f, &p);
    // Cut in the middle of the name: carrier stops.
    let cut = 800 + ((480 + 10 * 25) as f64 * 8000.0 / 1200.0) as usize;
    let mut v = a[..cut].to_vec();
    v.extend(std::iter::repeat_n(0, 800));
    let ev = decode(&v);
    assert!(fsk_messages(&ev).is_empty());
    assert!(
        matches!(
            ev[..],
            [CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::Truncated {
                    message_type: 0x80,
                    expected: Some(40),
                    ..
                },
                ..
            })]
        ),
        "{ev:?}"
    );
}

#[test]
fn private_and_unavailable() {
    let p = FskGenParams::new(FskStandard::Bell202);
    for a in [Absence::Private, Absence::Unavailable] {
        let id = CallerId {
            date_time: sample_id().date_time,
            number_absent: Some(a),
            ..CallerId::default()
        };
        let m = expect_one(
            &modulate(&id.encode_sdmf().unwrap(), &p),
            p.standard,
            "sdmf",
        );
        let got = m.caller_id().unwrap();
        assert_eq!(got.number, None);
        assert_eq!(got.number_absent, Some(a));

        let id = CallerId {
            name_absent: Some(a),
            ..id
        };
        let m = expect_one(
            &modulate(&id.encode_mdmf().unwrap(), &p),
            p.standard,
            "mdmf",
        );
        let got = m.caller_id().unwrap();
        assert_eq!(got.number_absent, Some(a));
        assert_eq!(got.name_absent, Some(a));
        assert_eq!(got.name, None);
    }
}

#[test]
fn asking_for_one_standard_rejects_the_other() {
    let a = ts::quantize(&mdmf_audio(&FskGenParams::new(FskStandard::V23)));
    let ev = decode_with(Signalling::Bell202, &a);
    assert!(
        matches!(
            ev[..],
            [CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::OtherStandard {
                    detected: FskStandard::V23
                },
                ..
            })]
        ),
        "{ev:?}"
    );
    let ev = decode_with(Signalling::V23, &a);
    assert_eq!(fsk_messages(&ev).len(), 1);
    // DTMF only: the FSK is ignored.
    assert!(decode_with(Signalling::Dtmf, &a).is_empty());
}

/// A ring burst as it reaches the audio path of an FXO port: 25 Hz at a high level
/// plus a little of its harmonics.
fn ring_burst(n: usize) -> Vec<f64> {
    ts::tones(&[(25.0, 0.0), (75.0, -20.0)], n, 0.0)
}

#[test]
fn between_two_rings() {
    for std in [FskStandard::Bell202, FskStandard::V23] {
        let p = FskGenParams {
            lead_ms: 500,
            tail_ms: 300,
            level_dbm0: -25.0,
            ..FskGenParams::new(std)
        };
        let mut v = ring_burst(16_000);
        v.extend(mdmf_audio(&p));
        v.extend(ring_burst(16_000));
        v.extend(ts::silence(8000));
        let mut rng = ts::Rng::new(7);
        ts::add_white_noise(&mut v, -60.0, &mut rng);
        let m = expect_one(&ts::quantize(&v), std, "between rings");
        assert_eq!(m.caller_id().unwrap().number.as_deref(), Some("0123456789"));
        assert!(m.start_sample > 16_000 + 4000);
    }
}

#[test]
fn speech_music_and_noise_give_nothing() {
    let mut rng = ts::Rng::new(3);
    for level in [-10.0, -25.0] {
        let v = ts::sung_vowels(20.0, level, &mut rng);
        assert!(decode(&ts::quantize(&v)).is_empty(), "vowels {level}");
        let v = ts::music(20.0, level, &mut rng);
        assert!(decode(&ts::quantize(&v)).is_empty(), "music {level}");
        let mut v = ts::silence(80_000);
        ts::add_white_noise(&mut v, level, &mut rng);
        assert!(decode(&ts::quantize(&v)).is_empty(), "noise {level}");
    }
    // Random bytes sent as FSK (valid framing, no message structure).
    let junk: Vec<u8> = (0..200).map(|_| (rng.next_u64() & 0xff) as u8).collect();
    let ev = decode(&modulate(&junk, &FskGenParams::new(FskStandard::Bell202)));
    assert!(fsk_messages(&ev).is_empty(), "{ev:?}");
}

fn clips(ev: &[CallerIdEvent]) -> Vec<ClipMessage> {
    ev.iter()
        .filter_map(|e| match e {
            CallerIdEvent::Clip(m) => Some(*m),
            _ => None,
        })
        .collect()
}

#[test]
fn dtmf_clip_variants() {
    let cases: [(&str, Option<&str>, Option<Absence>); 7] = [
        ("A0123456789C", Some("0123456789"), None),
        ("D0123456789C", Some("0123456789"), None),
        ("A5551234#", Some("5551234"), None),
        ("B00C", None, Some(Absence::Unavailable)),
        ("B10C", None, Some(Absence::Private)),
        ("D1#", None, Some(Absence::Private)),
        ("D3#", None, Some(Absence::Unavailable)),
    ];
    for (s, number, absent) in cases {
        for level in [-5.0, -25.0] {
            let mut a = vec![0i16; 4000];
            a.extend(clip_audio(s, level).unwrap());
            a.extend(vec![0i16; 4000]);
            let ev = decode(&a);
            let c = clips(&ev);
            assert_eq!(c.len(), 1, "{s}: {ev:?}");
            assert_eq!(c[0].as_str(), s);
            assert_eq!(ev.len(), 1, "{s}: {ev:?}");
            let id = c[0].caller_id().unwrap();
            assert_eq!(id.number.as_deref(), number, "{s}");
            assert_eq!(id.number_absent, absent, "{s}");
            let ev = decode_with(Signalling::Bell202, &a);
            assert!(ev.is_empty(), "{s}: FSK only: {ev:?}");
        }
    }
    // Encoding matches.
    let id = CallerId::with_number("0123456789");
    assert_eq!(
        id.encode_clip(ClipStyle::default()).unwrap(),
        "A0123456789C"
    );
    let style = ClipStyle {
        start: 'D',
        end: '#',
    };
    assert_eq!(id.encode_clip(style).unwrap(), "D0123456789#");
    let private = CallerId {
        number_absent: Some(Absence::Private),
        ..CallerId::default()
    };
    assert_eq!(private.encode_clip(style).unwrap(), "B10C");
    assert!(CallerId::with_number("12a").encode_clip(style).is_err());
}

#[test]
fn dtmf_clip_errors() {
    // No end code.
    let a = clip_audio("A12345", -10.0).unwrap();
    let ev = decode_with(Signalling::Dtmf, &a);
    assert!(
        matches!(
            ev[..],
            [CallerIdEvent::Error(DecodeError {
                kind: DecodeErrorKind::UnterminatedClip { len: 6, .. },
                ..
            })]
        ),
        "{ev:?}"
    );
    // Digits without a start code are ignored (ordinary dialling).
    let a = clip_audio("5551234", -10.0).unwrap();
    assert!(decode_with(Signalling::Dtmf, &a).is_empty());
    // Bad layouts are parse errors, not panics.
    for s in ["AC", "A12*4C", "B1C", "Z12C", "A123", ""] {
        assert!(parse_clip(s).is_err(), "{s}");
    }
}

#[test]
fn streaming_in_odd_chunks_gives_the_same_result() {
    let p = FskGenParams {
        level_dbm0: -20.0,
        ..FskGenParams::new(FskStandard::V23)
    };
    let a = ts::quantize(&mdmf_audio(&p));
    let whole = decode(&a);
    let mut d = CallerIdDecoder::new(Signalling::Auto);
    let mut ev = Vec::new();
    let mut i = 0;
    let mut k = 1;
    while i < a.len() {
        let j = (i + k).min(a.len());
        d.push(&a[i..j], |e| ev.push(e));
        i = j;
        k = k % 97 + 13;
    }
    d.finish(|e| ev.push(e));
    assert_eq!(ev, whole);
}

#[test]
fn leading_digital_silence_takes_the_shortcut_and_decodes_the_same() {
    let p = FskGenParams {
        level_dbm0: -20.0,
        ..FskGenParams::new(FskStandard::Bell202)
    };
    let msg = ts::quantize(&mdmf_audio(&p));
    let mut a = vec![0i16; 8000];
    a.extend(&msg);
    a.extend(vec![0i16; 800]);
    // the shortcut over the leading zeros, against the per-sample path over the same
    // second of silence: a first sample of one LSB leaves the shortcut at once
    let fast = decode_with(Signalling::Bell202, &a);
    let mut slow_in = a.clone();
    slow_in[0] = 1;
    let slow = decode_with(Signalling::Bell202, &slow_in);
    assert_eq!(fsk_messages(&fast).len(), 1, "{fast:?}");
    assert_eq!(fast, slow);
}

fn decoded_ok(audio: &[i16], std: FskStandard) -> bool {
    let ev = decode(audio);
    let m = fsk_messages(&ev);
    m.len() == 1 && m[0].standard == std && m[0].bytes() == &sample_id().encode_mdmf().unwrap()[..]
}

#[test]
fn worst_case_combination() {
    // −40 dBm0, 20 dB SNR, 1 % slow and 1 % low, hum, then G.711 µ-law. (The hum
    // is kept 15 dB above the signal: µ-law's quantisation noise follows the
    // instantaneous amplitude, so hum 30 dB above the signal leaves it an SNR of
    // about 8 dB.)
    for std in [FskStandard::Bell202, FskStandard::V23] {
        for seed in 1..=3 {
            let p = FskGenParams {
                level_dbm0: -40.0,
                baud_error: -0.01,
                freq_error: -0.01,
                ..FskGenParams::new(std)
            };
            let mut v = mdmf_audio(&p);
            ts::add_white_noise(&mut v, -60.0, &mut ts::Rng::new(seed));
            let hum = ts::tones(&[(50.0, -25.0)], v.len(), 0.0);
            for (x, h) in v.iter_mut().zip(hum) {
                *x += h;
            }
            let a = ts::ulaw_roundtrip(&ts::quantize(&v));
            assert!(decoded_ok(&a, std), "{std:?} seed {seed} {:?}", decode(&a));
        }
    }
}

/// Sweeps level, SNR and offsets and prints the limits (README figures):
/// `cargo test --lib dsp::callerid::tests::measure_limits -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_limits() {
    const SEEDS: u64 = 20;
    for std in [FskStandard::Bell202, FskStandard::V23] {
        let rate = |f: &dyn Fn(u64) -> Vec<i16>| {
            (1..=SEEDS).filter(|&s| decoded_ok(&f(s), std)).count() as f64 / SEEDS as f64
        };
        // Lowest level (noise-free, and through µ-law).
        let mut lowest = 0.0;
        let mut lowest_ulaw = 0.0;
        for l in 0..=60 {
            let level = -(l as f32);
            let p = FskGenParams {
                level_dbm0: level,
                ..FskGenParams::new(std)
            };
            let a = ts::quantize(&mdmf_audio(&p));
            if decoded_ok(&a, std) {
                lowest = level;
            }
            if decoded_ok(&ts::ulaw_roundtrip(&a), std) {
                lowest_ulaw = level;
            }
        }
        // Lowest SNR with ≥ 95 % messages at −20 dBm0.
        let mut snr_min = f32::NAN;
        for snr in (0..=20).rev() {
            let r = rate(&|seed| {
                let p = FskGenParams {
                    level_dbm0: -20.0,
                    ..FskGenParams::new(std)
                };
                let mut v = mdmf_audio(&p);
                ts::add_white_noise(&mut v, -20.0 - snr as f32, &mut ts::Rng::new(seed));
                ts::quantize(&v)
            });
            if r >= 0.95 {
                snr_min = snr as f32;
            } else {
                break;
            }
        }
        // Largest baud and frequency errors (both signs) at −20 dBm0, 20 dB SNR.
        let sweep = |baud: bool| {
            let mut best = 0.0;
            for k in 1..=40 {
                let e = k as f64 * 0.0025;
                let ok = [e, -e].iter().all(|&e| {
                    rate(&|seed| {
                        let p = FskGenParams {
                            level_dbm0: -20.0,
                            baud_error: if baud { e } else { 0.0 },
                            freq_error: if baud { 0.0 } else { e },
                            ..FskGenParams::new(std)
                        };
                        let mut v = mdmf_audio(&p);
                        ts::add_white_noise(&mut v, -40.0, &mut ts::Rng::new(seed));
                        ts::quantize(&v)
                    }) >= 0.95
                });
                if ok {
                    best = e;
                } else {
                    break;
                }
            }
            best * 100.0
        };
        println!(
            "{std:?}: lowest level {lowest} dBm0 (µ-law {lowest_ulaw}), lowest SNR {snr_min} dB at -20 dBm0, baud error ±{:.2} %, frequency error ±{:.2} %",
            sweep(true),
            sweep(false)
        );
    }
}
