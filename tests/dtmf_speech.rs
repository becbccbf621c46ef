//! DTMF receiver against real-world material: talk-off on 80 minutes of synthetic speech
//! (espeak-ng voice variants in five languages, Debian's flite voices), talk-down (digits
//! over speech 10 dB weaker), and the GSM-FR / AMR-NB voice codecs of the modem path
//! (through `sox`).
//!
//! Needs `espeak-ng`, `flite` and `sox` with GSM/AMR support (`scripts/ensure-deps`
//! installs them); the tests fail with a clear message when they are missing. Speech is
//! synthesised at test time, in memory (the codec files go to `CARGO_TARGET_TMPDIR`;
//! nothing large is committed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use switchboard::dsp::dtmf::{DtmfDetector, DtmfEvent};
use switchboard::dsp::testsignal::{self as ts, DtmfSpec};
mod common;

const ALL: &str = "123A456B789C*0#D";

/// (voice, espeak-ng pitch 0–99, text).
const CORPUS: &[(&str, u32, &str)] = &[
    (
        "en",
        50,
        "Thank you for calling. All of our agents are busy at the moment. Please hold the line \
         and your call will be answered in the order it was received. If you know the extension \
         of the person you want to reach, you may dial it at any time. For sales, press one.",
    ),
    (
        "en+f3",
        70,
        "She sells sea shells by the sea shore, and the shells she sells are surely seashells. \
         How much wood would a woodchuck chuck if a woodchuck could chuck wood? Eleven, twelve, \
         ninety nine, one hundred and forty four, seven thousand three hundred.",
    ),
    (
        "en+m3",
        20,
        "Good morning, this is the night duty service. The technician on call will return \
         your call within fifteen minutes. Please leave your name and your number after the tone.",
    ),
    (
        "de",
        45,
        "Guten Tag, Sie sind mit dem Bereitschaftsdienst verbunden. Bitte warten Sie, der nächste \
         freie Mitarbeiter ist gleich für Sie da. Zwölf, dreizehn, siebenundneunzig, achthundert.",
    ),
    (
        "fr",
        60,
        "Bonjour, vous êtes en communication avec le service d'astreinte. Veuillez patienter, \
         un technicien va prendre votre appel. Quatre-vingt-dix-neuf, soixante et onze, mille.",
    ),
    (
        "es",
        55,
        "Buenos días, gracias por llamar. Todos nuestros operadores están ocupados. Por favor, \
         espere en la línea. Cuatrocientos cincuenta y seis, ochenta y nueve.",
    ),
    (
        "it",
        40,
        "Buongiorno, grazie per aver chiamato. Tutti i nostri operatori sono occupati. Resti in \
         linea per favore. Novantanove, centoventitré, mille e cinquecento.",
    ),
    (
        "nl",
        50,
        "Goedemiddag, u bent verbonden met de storingsdienst. Een ogenblik geduld alstublieft, \
         u wordt zo snel mogelijk geholpen. Achtentachtig, zesenzestig, honderd.",
    ),
    (
        "pl",
        35,
        "Dzień dobry, dziękujemy za telefon. Wszyscy konsultanci są zajęci. Prosimy czekać na \
         połączenie. Dziewięćdziesiąt dziewięć, sto dwadzieścia trzy.",
    ),
    (
        "ru",
        45,
        "Здравствуйте, вы позвонили в дежурную службу. Пожалуйста, оставайтесь на линии, \
         оператор скоро ответит. Девяносто девять, сто двадцать три.",
    ),
    (
        "sv",
        65,
        "God dag, du har kommit till jourtjänsten. Var vänlig vänta, en tekniker svarar snart. \
         Nittionio, hundratjugotre, tusen.",
    ),
    (
        "cmn",
        55,
        "您好，欢迎致电值班服务。所有座席都在忙，请不要挂机，我们将尽快为您服务。九十九，一百二十三。",
    ),
    (
        "hi",
        50,
        "नमस्ते, आपने ड्यूटी सेवा को कॉल किया है। कृपया लाइन पर बने रहें, हमारा तकनीशियन जल्द ही आपसे बात करेगा।",
    ),
    (
        "pt",
        75,
        "Bom dia, obrigado por ligar. Todos os nossos atendentes estão ocupados. Por favor, \
         aguarde na linha. Noventa e nove, cento e vinte e três.",
    ),
];

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dtmf-corpus")
}

fn need(program: &str, package: &str) {
    let ok = Command::new(program)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{program}` is needed by this test: install it with `apt-get install {package}` \
         (scripts/ensure-deps does it)"
    );
}

/// The corpus: every utterance, each normalised to −20 dBm0 active level.
fn corpus() -> &'static Vec<(String, Vec<f64>)> {
    static C: OnceLock<Vec<(String, Vec<f64>)>> = OnceLock::new();
    C.get_or_init(|| {
        need("espeak-ng", "espeak-ng");
        std::fs::create_dir_all(tmp()).ok();
        CORPUS
            .iter()
            .map(|&(v, p, t)| {
                let mut s = common::speak(v, p, 160, t);
                set_active_level(&mut s, -20.0);
                (format!("{v} p{p}"), s)
            })
            .collect()
    })
}

/// Scales speech so that its power over the active 20 ms frames (those within 30 dB of
/// the loudest) is `dbm0`.
fn set_active_level(v: &mut [f64], dbm0: f32) {
    let frames: Vec<f32> = v.chunks(160).map(ts::power_dbm0).collect();
    let peak = frames.iter().cloned().fold(-200.0f32, f32::max);
    let active: Vec<f64> = v
        .chunks(160)
        .zip(&frames)
        .filter(|(_, p)| **p > peak - 30.0)
        .flat_map(|(c, _)| c.iter().copied())
        .collect();
    let cur = ts::power_dbm0(&active);
    let g = 10f64.powf(f64::from(dbm0 - cur) / 20.0);
    v.iter_mut().for_each(|x| *x *= g);
}

fn detect(sig: &[i16]) -> String {
    let mut det = DtmfDetector::new();
    let mut s = String::new();
    det.push(sig, |e| {
        if let DtmfEvent::Start { digit, .. } = e {
            s.push(digit)
        }
    });
    s
}

/// Long texts of the talk-off corpus, one per language.
const LONG_TEXTS: &[(&str, &str)] = &[
    (
        "en",
        "Thank you for calling the on call service. All of our engineers are busy helping \
         other customers at the moment. Please stay on the line and your call will be answered \
         in the order in which it was received. If you already know the extension of the person \
         you wish to reach, you may dial it at any time. Our office hours are Monday to Friday \
         from eight in the morning until six in the evening. Outside these hours an engineer on \
         call will return your message within fifteen minutes. Please say your name, your \
         company and the number where we can reach you after the tone, and describe the problem \
         briefly. Eleven, twelve, ninety nine, one hundred and forty four, seven thousand three \
         hundred and twenty one. Zero, one, two, three, four, five, six, seven, eight, nine.",
    ),
    (
        "de",
        "Vielen Dank für Ihren Anruf beim Bereitschaftsdienst. Alle unsere Techniker sind im \
         Moment im Gespräch. Bitte bleiben Sie in der Leitung, Ihr Anruf wird in der Reihenfolge \
         des Eingangs beantwortet. Wenn Sie die Durchwahl Ihres Gesprächspartners kennen, können \
         Sie sie jederzeit wählen. Unsere Geschäftszeiten sind Montag bis Freitag von acht bis \
         achtzehn Uhr. Außerhalb dieser Zeiten ruft Sie der diensthabende Techniker innerhalb von \
         fünfzehn Minuten zurück. Bitte nennen Sie nach dem Signalton Ihren Namen, Ihre Firma und \
         Ihre Rückrufnummer und beschreiben Sie kurz das Problem. Elf, zwölf, neunundneunzig, \
         hundertvierundvierzig, siebentausenddreihunderteinundzwanzig. Null, eins, zwei, drei, \
         vier, fünf, sechs, sieben, acht, neun.",
    ),
    (
        "fr",
        "Merci d'avoir appelé le service d'astreinte. Tous nos techniciens sont actuellement en \
         ligne. Veuillez rester en ligne, votre appel sera traité dans l'ordre d'arrivée. Si vous \
         connaissez le numéro de poste de votre correspondant, vous pouvez le composer à tout \
         moment. Nos bureaux sont ouverts du lundi au vendredi de huit heures à dix-huit heures. \
         En dehors de ces horaires, le technicien d'astreinte vous rappellera dans un délai de \
         quinze minutes. Après le signal sonore, indiquez votre nom, votre société et le numéro \
         où nous pouvons vous joindre, et décrivez brièvement le problème. Onze, douze, \
         quatre-vingt-dix-neuf, cent quarante-quatre, sept mille trois cent vingt et un. Zéro, \
         un, deux, trois, quatre, cinq, six, sept, huit, neuf.",
    ),
    (
        "es",
        "Gracias por llamar al servicio de guardia. Todos nuestros técnicos están atendiendo \
         otras llamadas en este momento. Por favor, permanezca en la línea y su llamada será \
         atendida por orden de llegada. Si conoce la extensión de la persona con la que desea \
         hablar, puede marcarla en cualquier momento. Nuestro horario es de lunes a viernes, de \
         ocho de la mañana a seis de la tarde. Fuera de este horario, el técnico de guardia le \
         devolverá la llamada en quince minutos. Después de la señal, diga su nombre, su empresa \
         y el número donde podemos localizarle, y describa brevemente el problema. Once, doce, \
         noventa y nueve, ciento cuarenta y cuatro, siete mil trescientos veintiuno. Cero, uno, \
         dos, tres, cuatro, cinco, seis, siete, ocho, nueve.",
    ),
    (
        "it",
        "Grazie per aver chiamato il servizio di reperibilità. Tutti i nostri tecnici sono \
         occupati in questo momento. Resti in linea, la sua chiamata riceverà risposta \
         nell'ordine di arrivo. Se conosce l'interno della persona che desidera raggiungere, può \
         comporlo in qualsiasi momento. I nostri uffici sono aperti dal lunedì al venerdì dalle \
         otto alle diciotto. Al di fuori di questi orari il tecnico reperibile la richiamerà \
         entro quindici minuti. Dopo il segnale acustico lasci il suo nome, la sua azienda e il \
         numero a cui possiamo richiamarla, e descriva brevemente il problema. Undici, dodici, \
         novantanove, centoquarantaquattro, settemilatrecentoventuno. Zero, uno, due, tre, \
         quattro, cinque, sei, sette, otto, nove.",
    ),
];

/// espeak-ng voice variants of the talk-off corpus: every female and male variant and a
/// selection of the others (Klatt synthesis, croak, whisper, named voices).
const VARIANTS: &[&str] = &[
    "f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "klatt", "klatt2",
    "klatt3", "croak", "whisper", "Annie", "max", "steph",
];

/// Debian's flite voices.
const FLITE_VOICES: &[&str] = &["kal", "kal16", "awb", "rms", "slt"];

/// One item of the talk-off corpus: its name and the synthesiser command.
fn talk_off_items() -> Vec<(String, Command)> {
    let mut items = Vec::new();
    let pitches = [15u32, 30, 45, 60, 75, 90, 99];
    let speeds = [130u32, 150, 175, 200, 230];
    let mut n = 0;
    for (lang, text) in LONG_TEXTS {
        for v in VARIANTS {
            let (p, s) = (pitches[n % pitches.len()], speeds[(n / 3) % speeds.len()]);
            n += 1;
            let mut c = Command::new("espeak-ng");
            c.args(["-v", &format!("{lang}+{v}"), "-p", &p.to_string()])
                .args(["-s", &s.to_string(), "--stdout", text]);
            items.push((format!("espeak-ng {lang}+{v} p{p} s{s}"), c));
        }
    }
    for &(v, p, t) in CORPUS {
        let mut c = Command::new("espeak-ng");
        c.args(["-v", v, "-p", &p.to_string(), "-s", "160", "--stdout", t]);
        items.push((format!("espeak-ng {v} p{p} s160"), c));
    }
    for v in FLITE_VOICES {
        let mut c = Command::new("flite");
        c.args(["-voice", v, "-t", LONG_TEXTS[0].1, "-o", "/dev/stdout"]);
        items.push((format!("flite {v}"), c));
    }
    items
}

/// Synthesises every item of the talk-off corpus, two processes at a time.
fn talk_off_corpus() -> Vec<(String, Vec<f64>)> {
    need("espeak-ng", "espeak-ng");
    need("sox", "sox");
    // `flite --version` exits 1; running at all is enough.
    let flite = Command::new("flite").arg("--version").output().is_ok();
    assert!(
        flite,
        "`flite` is needed by this test: apt-get install flite (scripts/ensure-deps does it)"
    );
    let items = std::sync::Mutex::new(talk_off_items().into_iter().enumerate().collect::<Vec<_>>());
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| {
                loop {
                    let Some((i, (name, cmd))) = items.lock().unwrap().pop() else {
                        break;
                    };
                    let mut s = common::synth_8k(cmd);
                    assert!(s.len() > 8000, "{name}: no speech");
                    set_active_level(&mut s, -20.0);
                    done.lock().unwrap().push((i, name, s));
                }
            });
        }
    });
    let mut v = done.into_inner().unwrap();
    v.sort_by_key(|x| x.0);
    v.into_iter().map(|(_, n, s)| (n, s)).collect()
}

/// Talk-off over more than an hour of synthetic speech: every espeak-ng voice variant
/// (`+f1`…`+f5`, `+m1`…`+m7` and others) in English, German, French, Spanish and Italian at
/// several pitches and speeds, the multilingual corpus above, and Debian's flite voices;
/// each utterance at four levels (−30 … −3 dBm0 active speech level).
#[test]
fn talk_off_speech_corpus_gives_no_digit() {
    let c = talk_off_corpus();
    let total: usize = c.iter().map(|(_, s)| s.len()).sum();
    let levels = [-30.0f32, -20.0, -10.0, -3.0];
    let mut false_hits = Vec::new();
    for (name, s) in &c {
        for level in levels {
            let g = 10f64.powf(f64::from(level + 20.0) / 20.0);
            let v: Vec<f64> = s.iter().map(|x| x * g).collect();
            let got = detect(&ts::quantize(&v));
            if !got.is_empty() {
                eprintln!("talk-off: {name} at {level} dBm0: {got:?}");
                false_hits.push((name.clone(), level, got));
            }
        }
    }
    let minutes = total as f64 / 8000.0 / 60.0;
    let n: usize = false_hits.iter().map(|x| x.2.len()).sum();
    let voices: std::collections::BTreeSet<&str> = c
        .iter()
        .map(|(name, _)| name.split(" p").next().unwrap_or(name))
        .collect();
    eprintln!(
        "talk-off: {n} false digits in {minutes:.1} min of speech ({} utterances, {} voice × language combinations) at {} levels ({:.1} min through the detector)",
        c.len(),
        voices.len(),
        levels.len(),
        minutes * levels.len() as f64
    );
    assert!(minutes >= 60.0, "corpus too small: {minutes:.1} min");
    assert_eq!(false_hits, vec![]);
}

#[test]
fn talk_down_digits_over_speech_10db_weaker() {
    let c = corpus();
    let mut missed = 0;
    let mut extra = 0;
    let mut n = 0;
    for level in [-10.0f32, -20.0] {
        for (name, s) in c {
            // Digits 60 ms on / 60 ms off over the whole utterance.
            let reps = s.len() / (16 * 960) + 1;
            let text = ALL.repeat(reps);
            let spec = DtmfSpec {
                level_dbm0: level,
                ..DtmfSpec::default()
            };
            let mut sig = ts::dtmf_sequence(&text, spec, 0, 480, 480);
            // Speech (active level) 10 dB below each tone, as for noise and dial tone.
            let g = 10f64.powf(f64::from(level - 10.0 + 20.0) / 20.0);
            let sp: Vec<f64> = s.iter().map(|x| x * g).collect();
            ts::mix_at(&mut sig, &sp, 0);
            let got = detect(&ts::quantize(&sig));
            n += text.len();
            if got != text {
                eprintln!("talk-down {name} {level}: {} of {}", got.len(), text.len());
                missed += text.len().saturating_sub(got.len());
                extra += got.len().saturating_sub(text.len());
            }
        }
    }
    eprintln!("talk-down: {n} digits, {missed} missed, {extra} extra");
    assert_eq!((missed, extra), (0, 0));
}

/// Runs `sox` to encode 8 kHz PCM with `codec_args` into `ext` and back.
fn through_sox(sig: &[i16], ext: &str, codec_args: &[&str]) -> Vec<i16> {
    need("sox", "sox libsox-fmt-all");
    let dir = tmp();
    std::fs::create_dir_all(&dir).unwrap();
    let tag = format!("{}-{}", ext, codec_args.join(""));
    let wav = dir.join(format!("in-{tag}.wav"));
    let enc = dir.join(format!("enc-{tag}.{ext}"));
    let back = dir.join(format!("back-{tag}.wav"));
    write_wav(&wav, sig);
    let st = Command::new("sox")
        .arg(&wav)
        .args(codec_args)
        .arg(&enc)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "sox cannot write .{ext} (apt-get install libsox-fmt-all)"
    );
    let st = Command::new("sox")
        .arg(&enc)
        .args(["-b", "16", "-r", "8000", "-c", "1", "-e", "signed-integer"])
        .arg(&back)
        .status()
        .unwrap();
    assert!(st.success(), "sox cannot decode .{ext}");
    hound::WavReader::open(&back)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap())
        .collect()
}

fn write_wav(p: &Path, s: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(p, spec).unwrap();
    for &x in s {
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn gsm_fr_and_amr_nb_12_2() {
    for level in [-5.0f32, -15.0, -25.0] {
        let text = ALL.repeat(3);
        let spec = DtmfSpec {
            level_dbm0: level,
            ..DtmfSpec::default()
        };
        let sig = ts::quantize(&ts::dtmf_sequence(&text, spec, 200, 480, 480));
        let gsm = through_sox(&sig, "gsm", &[]);
        assert_eq!(detect(&gsm), text, "GSM-FR at {level} dBm0");
        let amr = through_sox(&sig, "amr-nb", &["-C", "7"]);
        assert_eq!(detect(&amr), text, "AMR-NB 12.2 at {level} dBm0");
        // Lower AMR modes are measured, not required (spandsp loses digits there too).
        for (mode, name) in [("4", "7.4"), ("0", "4.75")] {
            let amr = through_sox(&sig, "amr-nb", &["-C", mode]);
            let got = detect(&amr);
            let ok = got
                .chars()
                .zip(text.chars())
                .filter(|(a, b)| a == b)
                .count();
            eprintln!(
                "AMR-NB {name} at {level} dBm0: {} digits detected of {} ({} in order)",
                got.len(),
                text.len(),
                ok
            );
        }
    }
}
