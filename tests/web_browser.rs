//! The web page in a real browser (Debian's chromium, headless, through chromedriver):
//! first start with the token → password → log in; a simulated call live on the
//! dashboard and then in the call list; an invalid configuration shows its error with
//! nothing saved; a valid change and a rollback; log out closes every page.
//!
//! With SWITCHBOARD_SCREENSHOTS=<dir>, screenshots of the main pages are written there
//! (`docs/screenshots/` holds the committed ones).

mod web_support;

use serde_json::json;
use web_support::webdriver::Browser;
use web_support::{ADMIN_PASSWORD, Service, browser_tools, screenshot_dir};

#[test]
fn browser_journeys() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let shots = screenshot_dir();
    let shot = |b: &mut Browser, name: &str| {
        if let Some(d) = &shots {
            b.screenshot(&d.join(format!("{name}.png")));
        }
    };

    let rx = switchboard::alerts::test_receiver::TestReceiver::start().unwrap();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = web_support::config_with_targets(cfg_dir.path(), &rx.url("/hook"));
    let svc = Service::start(&[
        "--http-redirect",
        "127.0.0.1:0",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let base = svc.base.clone();
    assert!(base.starts_with("https://"), "HTTPS by default: {base}");
    let redirect = svc.redirect_addr();
    let mut b = Browser::start(&chromium, &driver);

    // first start: plain HTTP sends the browser on to HTTPS, where the page asks for
    // the setup token and a new password
    b.goto(&format!("http://{redirect}/"));
    b.wait_path("/setup", 30);
    assert!(b.url().starts_with(&format!("{base}/")), "{}", b.url());
    shot(&mut b, "setup");
    b.type_into("#token", "WRONG-TOKEN");
    b.type_into("#password", ADMIN_PASSWORD);
    b.type_into("#password2", "something else entirely");
    b.click("#setup");
    assert!(b.text("[data-error-for=password2]").contains("differ"));
    b.type_into("#password2", ADMIN_PASSWORD);
    b.click("#setup");
    b.wait("#setup-error:not(:empty)", 30);
    assert!(b.text("#setup-error").contains("wrong setup token"));
    b.type_into("#token", &svc.setup_token.to_lowercase());
    b.click("#setup");
    b.wait_path("/", 30);
    assert_eq!(b.text("#me"), "admin");

    // log out, then log in with the new password
    b.click("#logout");
    b.wait_path("/login", 30);
    shot(&mut b, "login");
    b.type_into("#name", "admin");
    b.type_into("#password", "not the password");
    b.click("#login");
    b.wait("#login-error:not(:empty)", 30);
    b.type_into("#password", ADMIN_PASSWORD);
    b.click("#login");
    b.wait_path("/", 30);
    b.wait("#ports tr", 30);

    // a simulated caller rings in on fxo1: live on the dashboard, then in the calls
    b.type_into("#sim-hangup", "6");
    b.click("#sim-call");
    b.wait("#live-calls tr[data-call]", 60);
    b.wait("#events li.ev-phase", 60);
    shot(&mut b, "dashboard");
    let call: String = b
        .script(
            "return document.querySelector('#live-calls tr[data-call]').dataset.call",
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_string();
    b.wait(&format!("#events li.ev-ended[data-call=\"{call}\"]"), 90);
    b.wait("#last-calls tr[data-cdr]", 60);
    b.goto(&format!("{base}/calls"));
    b.wait(&format!("#cdrs tr[data-call=\"{call}\"]"), 30);
    let end = b.text(&format!("#cdrs tr[data-call=\"{call}\"] td.end"));
    assert!(
        ["caller_abandoned", "caller_hung_up"].contains(&end.as_str()),
        "{end}"
    );
    shot(&mut b, "calls");

    // a voicemail plays in the browser
    let vm = web_support::insert_voicemail(svc.data_path());
    b.goto(&format!("{base}/voicemail"));
    b.wait(&format!("audio[data-voicemail=\"{vm}\"]"), 30);
    shot(&mut b, "voicemail");
    let played = b.script_async(&format!(
        r#"const done = arguments[arguments.length - 1];
        const a = document.querySelector('audio[data-voicemail="{vm}"]');
        a.muted = true;
        a.addEventListener('timeupdate', () => {{ if (a.currentTime > 0.3) done({{ t: a.currentTime, d: a.duration }}); }});
        a.addEventListener('error', () => done({{ error: String(a.error && a.error.code) }}));
        a.play().catch(e => done({{ error: String(e) }}));"#
    ));
    assert!(played["error"].is_null(), "{played}");
    let d = played["d"].as_f64().unwrap();
    assert!((1.5..2.5).contains(&d), "a 2 s message: {played}");

    // alerts: a test alert per target, its delivery state, retry
    b.goto(&format!("{base}/alerts"));
    b.click("#test-hook");
    b.wait("#alerts li[data-target=hook][data-state=delivered]", 60);
    b.click("#test-dead");
    b.wait("tr[data-target=dead] .form-error:not(:empty)", 60);
    assert!(
        b.text("tr[data-target=dead] .form-error")
            .contains("did not take the test alert")
    );
    b.goto(&format!("{base}/alerts"));
    b.wait("#alerts li[data-target=dead][data-state=given_up]", 30);
    shot(&mut b, "alerts");
    b.click("#alerts button[id^=retry-]");
    b.wait(
        "#alerts li[data-target=dead]:not([data-state=given_up])",
        60,
    );

    // an invalid change: the error at its line, nothing saved
    b.goto(&format!("{base}/config"));
    let versions_before = b.find_all("#versions tr").len();
    assert_eq!(versions_before, 1);
    let text = b.script(
        "return document.getElementById('config-text').value",
        json!([]),
    );
    let text = text.as_str().unwrap().to_string();
    let bad = text.replacen("[site]", "[site]\ntimezone_typo = \"x\"", 1);
    b.script(
        "document.getElementById('config-text').value = arguments[0]",
        json!([bad]),
    );
    b.click("#config-save");
    b.wait("#config-problems li.problem", 60);
    let problem = b.text("#config-problems li.problem");
    let line = text.lines().position(|l| l == "[site]").unwrap() + 2;
    assert!(problem.starts_with(&format!("line {line}")), "{problem}");
    assert!(problem.contains("timezone_typo"), "{problem}");
    shot(&mut b, "config-error");
    b.goto(&format!("{base}/config"));
    assert_eq!(b.find_all("#versions tr").len(), 1, "nothing was saved");

    // a valid change becomes version 2; roll back to version 1 (version 3)
    let good = text.replacen("name = \"Acme Demo\"", "name = \"Acme Browser\"", 1);
    b.script(
        "document.getElementById('config-text').value = arguments[0]",
        json!([good]),
    );
    b.click("#config-save");
    b.wait_path("/config", 60);
    b.wait("#versions tr:nth-child(2)", 60);
    b.goto(&format!("{base}/config/versions/2"));
    assert!(b.text("#diff").contains("+name = \"Acme Browser\""));
    shot(&mut b, "config-diff");
    b.goto(&format!("{base}/config/versions/1"));
    b.script("window.confirm = () => true", json!([]));
    b.click("#rollback");
    b.wait("#versions tr:nth-child(3)", 60);
    let now = b.script(
        "return document.getElementById('config-text').value",
        json!([]),
    );
    assert_eq!(
        now.as_str(),
        Some(text.as_str()),
        "version 1's text is in force again"
    );
    shot(&mut b, "config");

    // add a user, put them on a schedule ("I take tonight"), see the picture and who is
    // on call change
    let with_erin = text.replacen(
        "[[user]]",
        "[[user]]\nid = \"erin\"\nname = \"Erin Browser\"\nphone = [\"+491705555555\"]\n\n[[user]]",
        1,
    );
    b.script(
        "document.getElementById('config-text').value = arguments[0]",
        json!([with_erin]),
    );
    b.click("#config-save");
    b.wait("#versions tr:nth-child(4)", 60);
    b.goto(&format!("{base}/schedules"));
    let sched = "netops-rotation";
    b.wait(
        &format!("section[data-schedule={sched}] svg g[data-row=on_call]"),
        30,
    );
    assert_ne!(
        b.text(&format!("section[data-schedule={sched}] .now-on-call")),
        "erin"
    );
    assert!(
        b.find_all(&format!(
            "section[data-schedule={sched}] g[data-row=overrides] g[data-users]"
        ))
        .is_empty()
    );
    b.script(
        "document.getElementById(arguments[0]).value = 'erin'",
        json!([format!("take-user-{sched}")]),
    );
    b.click(&format!("#take-button-{sched}"));
    b.wait(
        &format!("section[data-schedule={sched}] g[data-row=overrides] g[data-users=erin]"),
        60,
    );
    assert_eq!(
        b.text(&format!("section[data-schedule={sched}] .now-on-call")),
        "erin"
    );
    b.wait(
        &format!("section[data-schedule={sched}] g[data-row=on_call] g[data-users=erin]"),
        5,
    );
    shot(&mut b, "schedules");
    b.goto(&format!("{base}/"));
    b.wait(&format!("#oncall tr[data-schedule={sched}]"), 30);
    assert!(
        b.text(&format!("#oncall tr[data-schedule={sched}]"))
            .contains("erin")
    );

    // edit a routing number's greeting and listen to it, then save it
    let rn = "emergency-hotline";
    b.goto(&format!("{base}/prompts"));
    b.type_into(
        &format!("#greeting-text-{rn}"),
        "Thank you for calling the browser test line.",
    );
    b.click(&format!("#listen-{rn}"));
    let heard = b.script_async(&format!(
        r#"const done = arguments[arguments.length - 1];
        const a = document.getElementById('listen-audio-greeting-text-{rn}');
        const check = () => {{ if (a.src && a.duration > 0 && isFinite(a.duration)) done({{ d: a.duration }}); else setTimeout(check, 100); }};
        check();"#
    ));
    let d = heard["d"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&d), "the spoken text: {heard}");
    b.click(&format!("#greeting-save-{rn}"));
    // saved: the page comes back as /prompts?saved=<id>
    let t0 = std::time::Instant::now();
    while !b.url().contains("saved=") {
        assert!(t0.elapsed().as_secs() < 60, "the greeting was not saved");
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    b.wait(&format!("#greeting-text-{rn}"), 30);
    let now: String = b
        .script(
            &format!("return document.getElementById('greeting-text-{rn}').value"),
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(now, "Thank you for calling the browser test line.");

    // upload hold music as an MP3
    let music = tempfile::tempdir().unwrap();
    if let Some(mp3) = web_support::sox_file(music.path(), "hold.mp3", 4.0) {
        b.send_file("#hold-file", &mp3);
        b.click("#hold-upload");
        // the page reloads with the player, or shows why the upload was refused
        b.wait("#hold-audio, #hold-result.error:not(:empty)", 60);
        assert!(
            b.try_find("#hold-audio").is_some(),
            "the upload failed: {}",
            b.text("#hold-result")
        );
        let d = b.script_async(
            r#"const done = arguments[arguments.length - 1];
            const a = document.getElementById('hold-audio'); a.preload = 'metadata'; a.load();
            const check = () => { if (a.duration > 0 && isFinite(a.duration)) done(a.duration); else setTimeout(check, 100); };
            check();"#,
        );
        let d = d.as_f64().unwrap();
        assert!(
            (3.8..4.3).contains(&d),
            "the uploaded music, 8 kHz WAV: {d}"
        );
        shot(&mut b, "prompts");
    } else {
        eprintln!("skipped the MP3 upload: sox cannot write MP3 here");
    }

    // the system page: modem, log tail, backup and restore
    b.goto(&format!("{base}/system"));
    assert!(b.text("#modem-info").contains("registration"));
    assert!(!b.text("#log-tail").is_empty());
    b.wait("#backup", 10);
    shot(&mut b, "system");

    // the audit log shows the changes
    b.goto(&format!("{base}/audit"));
    assert!(b.text("#audit").contains("config.apply"));

    // a phone-sized screen
    if shots.is_some() {
        b.set_size(390, 844);
        b.goto(&format!("{base}/"));
        b.wait("#ports tr", 30);
        shot(&mut b, "dashboard-phone");
        b.set_size(1280, 900);
    }

    // log out: every page is closed
    b.goto(&format!("{base}/"));
    b.click("#logout");
    b.wait_path("/login", 30);
    for p in [
        "/",
        "/calls",
        "/config",
        "/config/versions/1",
        "/audit",
        "/accounts",
    ] {
        b.goto(&format!("{base}{p}"));
        b.wait_path("/login", 30);
    }
    let status = b.script_async(
        "const done = arguments[arguments.length - 1]; fetch('/api/status').then(r => done(r.status));",
    );
    assert_eq!(status.as_u64(), Some(401));
    drop(b);
    let log = svc.stop();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}
