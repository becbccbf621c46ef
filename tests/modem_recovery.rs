//! Modem recovery against the simulated modem. Through the real serial code on a
//! pseudo-terminal (the serial edge): a port that vanishes and comes back under a new
//! name behind the same symlink, and a soft reset's boot URCs. In virtual time over the
//! in-memory line: garbage / overlong / partial lines in the middle of a response.
//! (The call-level cases — reboot mid-call, a hung modem power-cycled — are scenario
//! files in hil-tests/scenarios/, run by tests/scenarios.rs.)

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::app::engine::Engine;
use switchboard::config::{BoardProfile, Config};
use switchboard::exchange::{Exchange, Fact, Happening, Output};
use switchboard::hw::modem_link::ModemLink;
use switchboard::hw::sim::modem::SimModemConfig;
use switchboard::hw::sim::modem::{NoNetwork, SimModem};
use switchboard::hw::sim::modem_rig::{ModemRig, pty_run_until};
use switchboard::hw::sim::{ModemFault, SimBoard};
use switchboard::media::tts::Tts;
use switchboard::modem::health::Stage;
use switchboard::modem::{Modem, ModemConfig, ModemEvent, ModemTiming};

#[test]
fn a_vanished_port_is_found_again_behind_the_symlink_and_reinitialised() {
    let board = BoardProfile::sim();
    let cfg = Arc::new(Config::demo());
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tts-cache");
    let prompts = Arc::new(
        Tts::new(Some(cache))
            .render_library(&cfg, |_, _| {})
            .unwrap(),
    );
    let start = Instant::now();
    let mut sim = SimBoard::new(&board).unwrap();
    let first_pty = sim.sim_modem().unwrap().path().to_string();
    sim.schedule_modem_fault(
        start + Duration::from_secs(2),
        ModemFault::Unplug(Duration::from_secs(6)),
    );
    let wall = "2026-03-02T09:00:00Z".parse().unwrap();
    let ex = Exchange::new(&board, cfg, prompts, start, wall, 1);
    let mut engine = Engine::new(ex, sim, start).unwrap();
    let mut notes = Vec::new();
    let mut sink = |_: Instant, o: Output| {
        if let Output::Note(n) = o {
            notes.push(n.what);
        }
    };
    engine.run_virtual(start, Duration::from_secs(5), &mut sink, |_| false);
    // the port is gone: the driver knows, and the status says so
    let st = engine.exchange.status().modem.unwrap();
    assert!(!st.ready);
    assert!(!st.recovery.link_up);
    assert_eq!(st.recovery.stage, Stage::SoftReset);
    assert!(
        st.recovery
            .last_reset_reason
            .as_deref()
            .unwrap()
            .contains("AT port was lost")
    );
    let t = engine.run_virtual(
        start + Duration::from_secs(5),
        Duration::from_secs(25),
        &mut sink,
        |_| false,
    );
    assert!(t >= start + Duration::from_secs(30));
    let sim = engine.board.sim_modem().unwrap();
    assert_ne!(sim.path(), first_pty, "the port came back under a new name");
    assert_eq!(
        std::fs::read_link(sim.device())
            .unwrap()
            .display()
            .to_string(),
        sim.path()
    );
    // initialised twice: at start and after the port came back
    assert_eq!(sim.commands.iter().filter(|c| *c == "ATE0").count(), 2);
    let st = engine.exchange.status().modem.unwrap();
    assert!(st.ready, "{notes:?}");
    assert!(st.recovery.link_up);
    assert_eq!(st.recovery.stage, Stage::Up);
    assert_eq!((st.recovery.resets, st.recovery.recoveries), (1, 1));
    // /api/status carries the figures
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["recovery"]["resets"], 1);
    assert!(notes.iter().any(|n| matches!(
        n,
        Fact::Exchange(Happening::ModemReset { reason }) if reason.starts_with("the AT port was lost")
    )));
    assert!(
        notes
            .iter()
            .any(|n| matches!(n, Fact::Exchange(Happening::ModemRecovered)))
    );
}

#[test]
fn a_port_missing_at_start_is_retried_and_the_box_starts_anyway() {
    use switchboard::hw::Board;
    let board = BoardProfile::sim();
    let cfg = Arc::new(Config::demo());
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tts-cache");
    let prompts = Arc::new(
        Tts::new(Some(cache))
            .render_library(&cfg, |_, _| {})
            .unwrap(),
    );
    let start = Instant::now();
    let mut sim = SimBoard::new(&board).unwrap();
    // the modem is still enumerating when the service starts: its symlink is missing
    sim.schedule_modem_fault(start, ModemFault::Unplug(Duration::from_secs(7)));
    sim.step(start);
    let (path, _) = sim.modem_serial().unwrap();
    assert!(!Path::new(&path).exists());
    let wall = "2026-03-02T09:00:00Z".parse().unwrap();
    let ex = Exchange::new(&board, cfg, prompts, start, wall, 1);
    let mut engine = Engine::new(ex, sim, start).expect("a missing modem port is not fatal");
    let st = engine.exchange.status().modem.unwrap();
    assert!(!st.recovery.link_up);
    assert!(
        st.recovery
            .last_reset_reason
            .unwrap()
            .contains("cannot open the modem's AT port")
    );
    engine.run_virtual(start, Duration::from_secs(20), &mut |_, _| {}, |_| false);
    let st = engine.exchange.status().modem.unwrap();
    assert!(st.ready && st.recovery.link_up, "{st:?}");
}

/// Runs driver and simulator against each other over the pty until `done` holds.
fn run(
    sim: &mut SimModem,
    link: &mut ModemLink,
    m: &mut Modem,
    events: &mut Vec<ModemEvent>,
    done: impl Fn(&[ModemEvent]) -> bool,
) {
    pty_run_until(sim, link, m, events, Duration::from_secs(20), |e, _| {
        done(e)
    })
    .unwrap();
}

/// Garbage is the driver's logic (the AT codec), not the serial edge: virtual time.
#[test]
fn garbage_long_and_partial_lines_mid_response_do_not_break_the_command_in_flight() {
    let mut r = ModemRig::new(
        SimModemConfig::default(),
        ModemConfig::default(),
        ModemTiming::default(),
        Box::new(NoNetwork),
        Instant::now(),
    )
    .unwrap();
    let limit = Duration::from_secs(20);
    r.run_until("Ready", limit, |r| r.events.contains(&ModemEvent::Ready))
        .unwrap();
    // answers now come 300 ms late; meanwhile the line is full of noise
    r.sim.set_slow(Duration::from_millis(300));
    let q = r.modem.query(r.now, "AT+CGSN");
    r.settle();
    let mut noise: Vec<u8> = b"\r\n\x00\xff\xfe\x1b[31mline noise\x07\r\n".to_vec();
    noise.extend(std::iter::repeat_n(b'A', 10_000)); // far beyond the codec's limit
    noise.extend_from_slice(b"\r\n+CS"); // and a partial line, ended by the response
    r.sim.inject_garbage(&noise);
    r.run_until("the answer", limit, |r| {
        r.events
            .iter()
            .any(|e| matches!(e, ModemEvent::Response { .. }))
    })
    .unwrap();
    let resp = r
        .events
        .iter()
        .find_map(|e| match e {
            ModemEvent::Response { id, ok, lines, .. } if *id == q => Some((*ok, lines.clone())),
            _ => None,
        })
        .unwrap();
    assert!(resp.0, "{resp:?}");
    assert!(resp.1.iter().any(|l| l == "356938035643809"), "{resp:?}");
    // no reset, no lost command
    assert!(
        !r.events
            .iter()
            .any(|e| matches!(e, ModemEvent::Reset { .. }))
    );
    r.sim.set_slow(Duration::ZERO);
    let q2 = r.modem.query(r.now, "AT+CGMI");
    r.run_until("the second answer", limit, |r| {
        r.events
            .iter()
            .any(|e| matches!(e, ModemEvent::Response { id, ok: true, .. } if *id == q2))
    })
    .unwrap();
}

#[test]
fn soft_reset_of_the_simulated_modem_reboots_it_with_boot_urcs() {
    let mut sim = SimModem::open().unwrap();
    let mut link = ModemLink::open_serial(sim.path(), 115_200).unwrap();
    let t = Instant::now();
    let timing = ModemTiming::default();
    let mut m = Modem::new(t, timing);
    let mut ev = Vec::new();
    run(&mut sim, &mut link, &mut m, &mut ev, |e| {
        e.contains(&ModemEvent::Ready)
    });
    // the driver's own soft reset command, as the ladder sends it
    link.write_all(b"AT+CFUN=1,1\r").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    sim.step(Instant::now(), &mut NoNetwork);
    assert_eq!(sim.reboots(), 1);
    // the boot URCs come once the boot time has passed (stepped with a later clock)
    sim.step(Instant::now() + Duration::from_secs(30), &mut NoNetwork);
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains("SMS DONE") {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        let n = link.read_available(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    let rdy = text.find("RDY").unwrap();
    assert!(text[rdy..].contains("+CPIN: READY"), "{text}");
    // the driver takes RDY as a restart and initialises again (echo is back on)
    m.handle_input(Instant::now(), &got);
    ev.clear();
    ev.extend(std::iter::from_fn(|| m.poll_event()));
    assert!(
        ev.iter().any(|e| matches!(e, ModemEvent::Reset { .. })),
        "{ev:?}"
    );
    run(&mut sim, &mut link, &mut m, &mut ev, |e| {
        e.contains(&ModemEvent::Ready)
    });
}
