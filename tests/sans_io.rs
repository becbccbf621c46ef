//! The core never reads a clock, sleeps, spawns or touches a device (design principle
//! 1). The rule is enforced by clippy (`clippy.toml` lists the clock, sleep, file,
//! process, socket and serial calls; each core module denies them; CI runs clippy with
//! `-D warnings`). This test keeps that wiring from being loosened quietly: every core
//! module denies the lints, nothing in the core allows them except test modules and the
//! modem's serial edge, and the list still names what matters.

use std::path::Path;

const DENY: &str = "#![deny(clippy::disallowed_methods, clippy::disallowed_types)]";
const ROOTS: &[&str] = &[
    "at/mod.rs",
    "call/mod.rs",
    "dsp/mod.rs",
    "exchange/mod.rs",
    "line/mod.rs",
    "modem/mod.rs",
    "routing/mod.rs",
    "country.rs",
];

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_core_module_denies_io_and_clock_calls() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for root in ROOTS {
        let text = std::fs::read_to_string(src.join(root)).unwrap();
        assert!(
            text.contains(DENY),
            "src/{root} does not deny the sans-IO lints"
        );
    }
}

#[test]
fn only_tests_and_the_serial_edge_allow_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for root in ROOTS {
        let p = src.join(root);
        match p
            .parent()
            .filter(|_| p.file_name().is_some_and(|f| f == "mod.rs"))
        {
            Some(dir) => rs_files(dir, &mut files),
            None => files.push(p),
        }
    }
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if !l.contains("allow(clippy::disallowed_") {
                continue;
            }
            let after_cfg_test = i > 0 && lines[i - 1].trim() == "#[cfg(test)]";
            let serial_edge = f.ends_with("modem/serial.rs");
            if !after_cfg_test && !serial_edge {
                hits.push(format!("{}:{}", f.display(), i + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "the sans-IO lints are allowed at: {hits:?}"
    );
}

#[test]
fn the_lint_list_names_clock_sleep_file_process_socket_and_serial_calls() {
    let cfg =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("clippy.toml")).unwrap();
    for must in [
        "std::time::Instant::now",
        "std::time::SystemTime::now",
        "jiff::Timestamp::now",
        "std::thread::sleep",
        "std::thread::spawn",
        "std::fs::File",
        "std::process::Command",
        "std::net::TcpStream",
        "serialport::new",
        // issue 12: the runtime reads plain configuration values, not `Spanned` fields
        "toml::Spanned::get_ref",
        "toml::Spanned::span",
    ] {
        assert!(
            cfg.contains(&format!("\"{must}\"")),
            "clippy.toml does not list {must}"
        );
    }
}
