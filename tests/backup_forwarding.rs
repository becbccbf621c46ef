//! The backup box: the SIM's calls are forwarded (busy, no reply, not reachable) to the
//! configured number, set when the modem is ready and after a reload, and verified by
//! reading it back — against the simulated modem over its in-memory line, in virtual time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::app::engine::Engine;
use switchboard::config::{BoardProfile, Config};
use switchboard::exchange::{Command, Exchange, ForwardState, Output};
use switchboard::hw::sim::SimBoard;
use switchboard::media::PromptLibrary;

fn config(number: &str) -> Arc<Config> {
    let src = config_src(number);
    Arc::new(Config::parse("backup.toml", &src, &BoardProfile::sim()).unwrap())
}

fn config_src(number: &str) -> String {
    switchboard::config::DEMO_CONFIG_TOML.replace(
        "[site]\nname = \"Acme Demo\"",
        &format!("[site]\nname = \"Acme Demo\"\n[site.backup]\nnumber = \"{number}\"\n"),
    )
}

#[test]
fn forwarding_is_set_verified_and_follows_a_reload() {
    let board = BoardProfile::sim();
    let start = Instant::now();
    let prompts = Arc::new(PromptLibrary::default());
    let ex = Exchange::new(
        &board,
        config("+493011111111"),
        prompts.clone(),
        start,
        jiff::Timestamp::UNIX_EPOCH,
        1,
    );
    let mut e = Engine::new(ex, SimBoard::new_virtual(&board).unwrap(), start).unwrap();
    let mut seen = Vec::new();
    let mut sink = |_: Instant, o: Output| {
        if let Output::Backup(b) = o {
            seen.push(b);
        }
    };
    let t = e.run_virtual(start, Duration::from_secs(60), &mut sink, |_| false);
    let st = e.exchange.status().backup.expect("backup status");
    assert_eq!(st.reasons.len(), 3);
    assert!(
        st.reasons.iter().all(|(_, s)| *s == ForwardState::Verified),
        "{st:?}"
    );
    let m = e.board.sim_modem().unwrap();
    for reason in [1, 2, 3] {
        assert_eq!(m.forwarding(reason), Some("+493011111111"));
    }

    // a new configuration moves the forwarding to the new number
    e.exchange.command(
        t,
        Command::Reload {
            cfg: config("+493022222222"),
            prompts,
        },
    );
    e.run_virtual(t, Duration::from_secs(60), &mut sink, |_| false);
    let m = e.board.sim_modem().unwrap();
    assert_eq!(m.forwarding(1), Some("+493022222222"));
    let st = e.exchange.status().backup.unwrap();
    assert_eq!(st.number, "+493022222222");
    assert!(st.reasons.iter().all(|(_, s)| *s == ForwardState::Verified));
    assert!(!seen.is_empty(), "typed outputs announce the state");
}

#[test]
fn check_config_rejects_a_bad_backup_number_and_condition() {
    let src = config_src("0301234").replace(
        "number = \"0301234\"",
        "number = \"0301234\"\nwhen = [\"busy\", \"sometimes\"]",
    );
    let err = Config::parse("backup.toml", &src, &BoardProfile::sim()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("site.backup.number"), "{text}");
    assert!(text.contains("site.backup.when[1]"), "{text}");
}
