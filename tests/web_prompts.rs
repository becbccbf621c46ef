//! Greeting and prompts on the web: listen (espeak-ng as WAV), save a greeting text as
//! a new version, upload recordings (MP3 hold music, FLAC and Ogg greetings) decoded
//! and resampled to 8 kHz, and clear errors for bad or huge files; a recorded
//! voicemail prompt per routing number.

mod web_support;

use serde_json::json;
use web_support::{Service, sox_file};

fn wav_seconds(bytes: &[u8]) -> f64 {
    let r = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!((r.spec().sample_rate, r.spec().channels), (8000, 1));
    r.duration() as f64 / 8000.0
}

#[test]
fn listen_save_upload_and_remove() {
    let svc = Service::start(&[]);
    let mut admin = svc.admin();
    let id = "emergency-hotline";

    // listen to a text before saving it
    let r = admin.post_json(
        "/api/prompts/render",
        &json!({ "text": "Welcome to the listening test.", "language": "en" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("audio/wav"));
    let said = wav_seconds(&r.bytes);
    assert!((0.8..6.0).contains(&said), "{said}");
    let r = admin.post_json(
        "/api/prompts/render",
        &json!({ "text": "x", "language": "en; rm -rf" }),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("language: ")
    );
    let r = admin.post_json("/api/prompts/render", &json!({ "text": "x".repeat(5000) }));
    assert_eq!(r.status, 422);
    assert!(r.json()["error"].as_str().unwrap().starts_with("text: "));

    // the greeting callers hear, then a new text saved as a version
    let before = admin.get(&format!("/api/routing-numbers/{id}/greeting.wav"));
    assert_eq!(before.status, 200);
    let r = admin.post_json(
        &format!("/api/routing-numbers/{id}/greeting"),
        &json!({ "text": "Hi." }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json()["version"].as_i64().unwrap();
    let d = admin.get(&format!("/api/config/versions/{v}")).json();
    assert!(
        d["diff"].as_str().unwrap().contains("+greeting = \"Hi.\""),
        "{d}"
    );
    let after = admin.get(&format!("/api/routing-numbers/{id}/greeting.wav"));
    assert!(
        wav_seconds(&after.bytes) < wav_seconds(&before.bytes),
        "the short greeting is in force"
    );
    assert_eq!(
        admin.get("/api/routing-numbers/nope/greeting.wav").status,
        404
    );

    // uploads: an MP3 as hold music, a FLAC and an Ogg Vorbis as the greeting
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(admin.get("/api/hold-music.wav").status, 404, "none yet");
    if let Some(mp3) = sox_file(dir.path(), "hold.mp3", 3.0) {
        let r = admin.post_bytes(
            "/api/hold-music?name=hold.mp3",
            &std::fs::read(&mp3).unwrap(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let secs = r.json()["seconds"].as_f64().unwrap();
        assert!((2.8..3.3).contains(&secs), "{secs}");
        let w = admin.get("/api/hold-music.wav");
        assert_eq!(w.status, 200);
        assert!((2.8..3.3).contains(&wav_seconds(&w.bytes)));
        assert!(svc.data_path().join("recordings/hold-music.wav").exists());
    } else {
        eprintln!("skipped the MP3 upload: sox cannot write MP3 here");
    }
    for name in ["greeting.flac", "greeting.ogg"] {
        let Some(f) = sox_file(dir.path(), name, 2.0) else {
            eprintln!("skipped {name}: sox cannot write it here");
            continue;
        };
        let r = admin.post_bytes(
            &format!("/api/routing-numbers/{id}/greeting/recording?name={name}"),
            &std::fs::read(&f).unwrap(),
        );
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let g = admin.get(&format!("/api/routing-numbers/{id}/greeting.wav"));
        assert!(
            wav_seconds(&g.bytes) >= 1.9,
            "{name}: the recording (then the menu) plays"
        );
    }

    // bad and huge files
    let r = admin.post_bytes("/api/hold-music?name=x.mp3", b"this is not audio at all");
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("file: not an audio file"),
        "{}",
        r.body
    );
    let r = admin.post_bytes(
        "/api/hold-music?name=big.wav",
        &vec![0u8; 16 * 1024 * 1024 + 10],
    );
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("at most 16 MiB"),
        "{}",
        r.body
    );
    // over the server's body limit: refused from the request head alone
    let r = admin.post_declared("/api/hold-music?name=huge.wav", 18 * 1024 * 1024, b"");
    assert_eq!(r.status, 413, "{}", r.body);

    // remove: the generated hold music again
    if svc.data_path().join("recordings/hold-music.wav").exists() {
        assert_eq!(admin.delete("/api/hold-music").status, 204);
        assert_eq!(admin.get("/api/hold-music.wav").status, 404);
    }
    assert_eq!(admin.delete("/api/hold-music").status, 404);
    let audit = admin.get("/api/audit").json().to_string();
    assert!(audit.contains("recording.greeting"), "{audit}");

    let page = admin.get("/prompts");
    assert!(
        page.body
            .contains(&format!("data-listen=\"greeting-text-{id}\""))
    );
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}

#[test]
fn a_voicemail_prompt_recording_is_uploaded_heard_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let id = "emergency-hotline";
    let cfg = dir.path().join("box.toml");
    let text = switchboard::config::DEMO_CONFIG_TOML.replace(
        "greeting = \"Welcome to the Acme emergency hotline.\"\n",
        "greeting = \"Welcome to the Acme emergency hotline.\"\nvoicemail = { enabled = true }\n",
    );
    assert_ne!(text, switchboard::config::DEMO_CONFIG_TOML);
    std::fs::write(&cfg, text).unwrap();
    let svc = Service::start(&["--config", cfg.to_str().unwrap()]);
    let mut admin = svc.admin();
    let wav_url = format!("/api/routing-numbers/{id}/voicemail-prompt.wav");
    let rec_url = format!("/api/routing-numbers/{id}/voicemail-prompt/recording");

    // the spoken prompt first
    let spoken = admin.get(&wav_url);
    assert_eq!(spoken.status, 200, "{}", spoken.body);
    assert_eq!(spoken.header("content-type"), Some("audio/wav"));
    let spoken_secs = wav_seconds(&spoken.bytes);
    assert!(spoken_secs > 3.0, "{spoken_secs}");
    // a routing number without voicemail has no prompt; an unknown one is named
    let r = admin.get("/api/routing-numbers/facilities-line/voicemail-prompt.wav");
    assert_eq!(r.status, 404, "{}", r.body);
    let r = admin.get("/api/routing-numbers/nope/voicemail-prompt.wav");
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("no routing number `nope`")
    );

    // upload a 1.5 s tone as WAV: callers hear exactly it, nothing spoken after it
    let mut c = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut c, spec).unwrap();
        for i in 0..24_000 {
            w.write_sample(((i as f32 * 0.2).sin() * 8000.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
    }
    let r = admin.post_bytes(&format!("{rec_url}?name=leave.wav"), &c.into_inner());
    assert_eq!(r.status, 200, "{}", r.body);
    let secs = r.json()["seconds"].as_f64().unwrap();
    assert!((1.45..1.55).contains(&secs), "{secs}");
    assert!(
        svc.data_path()
            .join(format!("recordings/{id}/voicemail.wav"))
            .exists()
    );
    let heard = admin.get(&wav_url);
    assert_eq!(heard.status, 200);
    let heard_secs = wav_seconds(&heard.bytes);
    assert!((1.45..1.55).contains(&heard_secs), "{heard_secs}");
    // the greeting is untouched
    let g = admin.get(&format!("/api/routing-numbers/{id}/greeting.wav"));
    assert_eq!(g.status, 200);
    let page = admin.get("/prompts");
    assert!(page.body.contains(&format!("id=\"voicemail-upload-{id}\"")));
    assert!(page.body.contains(&format!("data-delete=\"{rec_url}\"")));

    // a file that is not audio is refused with the reason
    let r = admin.post_bytes(
        &format!("{rec_url}?name=x.mp3"),
        b"this is not audio at all",
    );
    assert_eq!(r.status, 422);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("file: not an audio file"),
        "{}",
        r.body
    );
    assert_eq!(
        wav_seconds(&admin.get(&wav_url).bytes),
        heard_secs,
        "the recording stays"
    );

    // remove: the spoken prompt again
    assert_eq!(admin.delete(&rec_url).status, 204);
    let again = wav_seconds(&admin.get(&wav_url).bytes);
    assert_eq!(again, spoken_secs);
    assert_eq!(admin.delete(&rec_url).status, 404);
    let audit = admin.get("/api/audit").json().to_string();
    assert!(audit.contains("recording.voicemail_prompt"), "{audit}");
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}
