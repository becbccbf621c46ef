//! The core state machines never read a clock, sleep, spawn or touch a device:
//! time and I/O are their inputs (design principle 1). This test keeps it that way.

use std::path::Path;

const CORE: &[&str] = &["at", "call", "dsp", "exchange", "line", "routing"];
const FORBIDDEN: &[&str] = &[
    "Instant::now",
    "SystemTime::now",
    "Timestamp::now",
    "Zoned::now",
    "thread::sleep",
    "thread::spawn",
    "tokio::",
    "std::fs",
    "std::net",
    "std::process",
    "File::open",
    "serialport",
    "nix::",
];

fn scan(dir: &Path, hits: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            scan(&p, hits);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let src = std::fs::read_to_string(&p).unwrap();
            // only the non-test part of the file
            let code = src.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for f in FORBIDDEN {
                    if line.contains(f) {
                        hits.push(format!("{}:{}: {f}", p.display(), n + 1));
                    }
                }
            }
        }
    }
}

#[test]
fn core_modules_do_no_io_and_read_no_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut hits = Vec::new();
    for m in CORE {
        scan(&src.join(m), &mut hits);
    }
    // the modem core is pure; its serial edge lives in modem/serial.rs
    for file in [
        "mod.rs",
        "sms.rs",
        "dialect.rs",
        "sim_card.rs",
        "calls.rs",
        "forward.rs",
    ] {
        let modem = std::fs::read_to_string(src.join("modem").join(file)).unwrap();
        for f in FORBIDDEN {
            if modem.split("#[cfg(test)]").next().unwrap().contains(f) {
                hits.push(format!("src/modem/{file}: {f}"));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "clock reads or I/O in the sans-IO core:\n{}",
        hits.join("\n")
    );
}
