//! The service's own ring buffer of recent log lines (what the System page's log
//! tail shows; journalctl is not readable by the service's user). The log writer tees
//! every formatted line to stderr and into the buffer.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

/// Lines kept.
pub const KEEP: usize = 500;

static LINES: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Without terminal colour codes (`ESC [ … m`).
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends a line (oldest dropped past [`KEEP`]).
pub fn push(line: &str) {
    let line = plain(line);
    if let Ok(mut l) = LINES.lock() {
        for part in line.lines().filter(|p| !p.trim().is_empty()) {
            if l.len() >= KEEP {
                l.pop_front();
            }
            l.push_back(part.to_string());
        }
    }
}

/// The last `n` lines, oldest first.
pub fn recent(n: usize) -> Vec<String> {
    LINES
        .lock()
        .map(|l| l.iter().skip(l.len().saturating_sub(n)).cloned().collect())
        .unwrap_or_default()
}

/// A log writer: stderr, and the ring buffer.
pub struct Tee;

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        push(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// For `tracing_subscriber::fmt().with_writer(...)`.
pub fn make_writer() -> Tee {
    Tee
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_newest_lines() {
        for i in 0..(super::KEEP + 10) {
            super::push(&format!("ring-test line {i}\n"));
        }
        let r = super::recent(3);
        assert_eq!(r.len(), 3);
        assert!(
            r[2].ends_with(&format!("line {}", super::KEEP + 9)),
            "{r:?}"
        );
        assert_eq!(super::plain("\u{1b}[32m INFO\u{1b}[0m x"), " INFO x");
    }
}
