//! GPIO lines: the kernel's GPIO character device (gpiocdev), and an in-memory line
//! model for tests.
//!
//! Why gpiocdev rather than rppal: it uses the kernel's uAPI v2, finds lines by **name**
//! (`GPIO17`), which stays right on the Pi 5 where the RP1's chip number differs from
//! the Pi 4's, works on any SoC with a GPIO driver, and needs no `/dev/gpiomem`
//! register mapping. rppal remains an option for hardware PWM later.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use gpiocdev::line::Value;

/// One GPIO line, input or output.
pub trait Line: Send + Sync {
    /// Drives an output line.
    fn set(&self, high: bool) -> Result<()>;
    /// Reads the line.
    fn get(&self) -> Result<bool>;
}

/// A line requested from the kernel's GPIO character device.
pub struct CdevLine {
    req: gpiocdev::Request,
    offset: u32,
}

impl CdevLine {
    /// Requests a line by spec: a line name (`GPIO17`) or `gpiochipN:OFFSET`.
    pub fn open(spec: &str, output: bool, consumer: &str) -> Result<Self> {
        let (chip, offset) = match spec.split_once(':') {
            Some((chip, off)) => (
                std::path::PathBuf::from(format!("/dev/{chip}")),
                off.parse::<u32>()
                    .with_context(|| format!("`{spec}`: the offset is not a number"))?,
            ),
            None => {
                let found = gpiocdev::find_named_line(spec).ok_or_else(|| {
                    anyhow!("no GPIO line named `{spec}`: `gpioinfo` lists the lines; check the board profile")
                })?;
                (found.chip, found.info.offset)
            }
        };
        let mut b = gpiocdev::Request::builder();
        b.on_chip(&chip).with_consumer(consumer).with_line(offset);
        if output {
            b.as_output(Value::Inactive);
        } else {
            b.as_input();
        }
        let req = b.request().with_context(|| {
            format!(
                "cannot request GPIO line `{spec}` ({}): is the service user in the gpio group?",
                chip.display()
            )
        })?;
        Ok(Self { req, offset })
    }
}

impl Line for CdevLine {
    fn set(&self, high: bool) -> Result<()> {
        let v = if high { Value::Active } else { Value::Inactive };
        Ok(self.req.set_value(self.offset, v)?)
    }

    fn get(&self) -> Result<bool> {
        Ok(self.req.value(self.offset)? == Value::Active)
    }
}

/// An in-memory line that records every change with its time (tests, the simulated
/// board).
#[derive(Clone, Default)]
pub struct MemLine {
    inner: Arc<Mutex<MemState>>,
}

#[derive(Default)]
struct MemState {
    level: bool,
    changes: Vec<(Instant, bool)>,
}

impl MemLine {
    /// A new line, low.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every change so far: (when, new level).
    pub fn changes(&self) -> Vec<(Instant, bool)> {
        self.inner
            .lock()
            .map(|s| s.changes.clone())
            .unwrap_or_default()
    }
}

impl Line for MemLine {
    fn set(&self, high: bool) -> Result<()> {
        let mut s = self
            .inner
            .lock()
            .map_err(|_| anyhow!("line state poisoned"))?;
        if s.level != high || s.changes.is_empty() {
            s.level = high;
            s.changes.push((Instant::now(), high));
        }
        Ok(())
    }

    fn get(&self) -> Result<bool> {
        Ok(self
            .inner
            .lock()
            .map_err(|_| anyhow!("line state poisoned"))?
            .level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_line_records_changes_only() {
        let l = MemLine::new();
        l.set(true).unwrap();
        l.set(true).unwrap();
        l.set(false).unwrap();
        assert_eq!(
            l.changes().iter().map(|c| c.1).collect::<Vec<_>>(),
            vec![true, false]
        );
        assert!(!l.get().unwrap());
    }

    #[test]
    fn missing_named_line_is_a_clear_error() {
        let e = CdevLine::open("NO_SUCH_LINE_XYZ", true, "test")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no GPIO line named `NO_SUCH_LINE_XYZ`"), "{e}");
    }
}
