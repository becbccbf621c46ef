//! Caller ID receiver against real speech (espeak-ng, several languages and voices):
//! speech alone gives no message and no rejected-message report, and an FSK message
//! with speech 20 dB below it (crosstalk on the line) still decodes.
//!
//! Needs `espeak-ng` (`scripts/ensure-deps` installs it); fails with a clear message
//! when it is missing.

use switchboard::dsp::callerid::{
    CallerId, CallerIdDecoder, CallerIdEvent, DateTime, FskGenParams, FskStandard, Signalling,
    modulate_f64,
};
use switchboard::dsp::testsignal as ts;
mod common;

const CORPUS: &[(&str, &str)] = &[
    (
        "en",
        "Thank you for calling. All of our agents are busy. Please hold the line and your \
         call will be answered in the order it was received. Press one for sales.",
    ),
    (
        "en+f3",
        "She sells sea shells by the sea shore. Eleven, twelve, ninety nine, seven thousand.",
    ),
    (
        "de",
        "Vielen Dank für Ihren Anruf. Bitte bleiben Sie in der Leitung, der nächste freie \
         Mitarbeiter ist gleich für Sie da.",
    ),
    (
        "fr",
        "Merci de votre appel. Tous nos conseillers sont occupés, veuillez patienter.",
    ),
    (
        "sv",
        "Tack för att du ringer. Alla våra handläggare är upptagna just nu.",
    ),
];

fn decode(audio: &[i16]) -> Vec<CallerIdEvent> {
    let mut d = CallerIdDecoder::new(Signalling::Auto);
    let mut ev = Vec::new();
    for c in audio.chunks(160) {
        d.push(c, |e| ev.push(e));
    }
    d.finish(|e| ev.push(e));
    ev
}

#[test]
fn speech_gives_no_caller_id_and_does_not_mask_one() {
    let mut total = 0usize;
    for &(voice, text) in CORPUS {
        let speech = common::speak(voice, 50, 160, text);
        for level in [-30.0f32, -20.0, -10.0, -3.0] {
            let mut s = speech.clone();
            ts::set_power_dbm0(&mut s, level);
            let ev = decode(&ts::quantize(&s));
            assert!(ev.is_empty(), "{voice} at {level} dBm0: {ev:?}");
            total += s.len();
        }
        for std in [FskStandard::Bell202, FskStandard::V23] {
            let id = CallerId {
                date_time: Some(DateTime {
                    month: 3,
                    day: 4,
                    hour: 5,
                    minute: 6,
                }),
                number: Some("0612345678".into()),
                name: Some("Dr. Müller".into()),
                ..CallerId::default()
            };
            let frame = id.encode_mdmf().unwrap();
            let p = FskGenParams {
                level_dbm0: -20.0,
                ..FskGenParams::new(std)
            };
            let mut v = modulate_f64(&frame, &p);
            let mut s = speech.clone();
            s.resize(v.len(), 0.0);
            ts::set_power_dbm0(&mut s, -40.0);
            for (x, y) in v.iter_mut().zip(&s) {
                *x += y;
            }
            let ev = decode(&ts::quantize(&v));
            let msgs: Vec<_> = ev
                .iter()
                .filter_map(|e| match e {
                    CallerIdEvent::Fsk(m) => Some(m),
                    _ => None,
                })
                .collect();
            assert_eq!(msgs.len(), 1, "{voice} {std:?}: {ev:?}");
            assert_eq!(msgs[0].standard, std);
            assert_eq!(msgs[0].bytes(), &frame[..]);
            let got = msgs[0].caller_id().unwrap();
            assert_eq!(got.name.as_deref(), Some("Dr. Müller"));
            assert_eq!(got.number.as_deref(), Some("0612345678"));
        }
    }
    // At least a couple of minutes of speech went through.
    assert!(total > 8000 * 60, "{total}");
}
