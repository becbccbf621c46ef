//! Call-progress detector against speech: an espeak-ng corpus (several languages, voices
//! and pitches) must give no tone in any country's plan, alone and with tones under it.
//!
//! Needs `espeak-ng` (`scripts/ensure-deps` installs it); the test fails with a clear
//! message when it is missing.

use switchboard::dsp::progress::{COUNTRIES, ProgressDetector, ToneEvent, ToneKind};
use switchboard::dsp::testsignal as ts;
mod common;

/// (voice, pitch 0–99, text).
const CORPUS: &[(&str, u32, &str)] = &[
    (
        "en",
        50,
        "Thank you for calling. All of our agents are busy at the moment. Please hold the \
         line and your call will be answered in the order it was received.",
    ),
    (
        "en+f3",
        75,
        "Hello? Hello, can you hear me? The line is very bad. I will call you back in five \
         minutes, please wait by the phone. Ring ring, beep beep, hmmmmm.",
    ),
    (
        "de",
        40,
        "Guten Tag, Sie sind mit dem Bereitschaftsdienst verbunden. Bitte warten Sie, der \
         nächste freie Mitarbeiter ist gleich für Sie da.",
    ),
    (
        "fr",
        65,
        "Bonjour, vous êtes en communication avec le service d'astreinte. Veuillez patienter, \
         un technicien va prendre votre appel.",
    ),
    (
        "nl",
        55,
        "Goedemiddag, u bent verbonden met de storingsdienst. Een ogenblik geduld alstublieft.",
    ),
    (
        "en-gb-x-rp",
        30,
        "The number you have dialled has not been recognised. Please check and try again. \
         Aaaah, ooooh, eeeee, mmmmm.",
    ),
];

fn kinds(country: usize, sig: &[i16]) -> Vec<(ToneKind, u64)> {
    let mut det = ProgressDetector::new(&COUNTRIES[country]);
    let mut v = Vec::new();
    let mut on = |e: ToneEvent| {
        if let ToneEvent::Detected(r) = e {
            v.push((r.kind, r.start_sample / 8))
        }
    };
    det.push(sig, &mut on);
    det.finish(&mut on);
    v
}

#[test]
fn speech_gives_no_tone_and_tones_survive_speech() {
    let corpus: Vec<(String, Vec<f64>)> = CORPUS
        .iter()
        .map(|&(v, p, t)| (format!("{v} p{p}"), common::speak(v, p, 150, t)))
        .collect();
    let total: usize = corpus.iter().map(|c| c.1.len()).sum();
    assert!(total > 8000 * 30, "corpus too short: {} s", total / 8000);
    let mut false_hits = Vec::new();
    for level in [-30.0f32, -20.0, -10.0] {
        for (name, s) in &corpus {
            let mut v = s.clone();
            ts::set_power_dbm0(&mut v, level);
            let q = ts::quantize(&v);
            for (ci, c) in COUNTRIES.iter().enumerate() {
                let got = kinds(ci, &q);
                if !got.is_empty() {
                    false_hits.push(format!("{name} at {level} dBm0, {}: {got:?}", c.code));
                }
            }
        }
    }
    eprintln!(
        "{} s of speech × 3 levels × {} countries: {} false tones",
        total / 8000,
        COUNTRIES.len(),
        false_hits.len()
    );
    assert!(false_hits.is_empty(), "{false_hits:#?}");

    // Busy tone at −15 dBm0 with speech 15 dB weaker over it is still busy (with speech
    // only 10 dB weaker the UK busy tone breaks up).
    for (ci, c) in COUNTRIES.iter().enumerate() {
        let Some(busy) = c.tone(ToneKind::Busy) else {
            continue;
        };
        let (_, s) = &corpus[ci % corpus.len()];
        let tone = switchboard::dsp::progress::generate(busy, -15.0, 8.0);
        let mut v = ts::to_f64(&tone);
        let mut sp = s.clone();
        ts::set_power_dbm0(&mut sp, -30.0);
        ts::mix_at(&mut v, &sp, 0);
        let got = kinds(ci, &ts::quantize(&v));
        assert!(
            got.first().is_some_and(|g| g.0 == ToneKind::Busy),
            "{}: {got:?}",
            c.code
        );
    }
}
