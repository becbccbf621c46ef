//! An in-memory serial line between the driver and the simulated modem, for virtual
//! time: bytes written on one end are readable on the other at once, with no kernel
//! pseudo-terminal and no waiting on the wall clock. The scenario runner and the
//! benchmarks use it; `switchboard run` on the simulated board and the serial-edge tests
//! keep the real pseudo-terminal (and so the real serial driver).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Result, bail};

#[derive(Default)]
struct Pipe {
    to_box: VecDeque<u8>,
    to_modem: VecDeque<u8>,
    /// `false` once the modem's end is gone (unplugged): the box's reads and writes fail.
    up: bool,
    /// Bytes the box read / wrote.
    box_read: u64,
    box_written: u64,
}

/// One line; both ends hold a clone.
#[derive(Clone)]
pub struct MemLink(Arc<Mutex<Pipe>>);

impl Default for MemLink {
    fn default() -> Self {
        Self::new()
    }
}

impl MemLink {
    /// A new line, up.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Pipe {
            up: true,
            ..Pipe::default()
        })))
    }

    fn pipe(&self) -> MutexGuard<'_, Pipe> {
        // a panic while holding the lock cannot leave the queues inconsistent
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the modem's end is still there.
    pub fn is_up(&self) -> bool {
        self.pipe().up
    }

    /// The modem end goes away (the USB device is unplugged).
    pub fn cut(&self) {
        self.pipe().up = false;
    }

    /// Modem side: takes what the box wrote.
    pub fn modem_read(&self, out: &mut Vec<u8>) -> usize {
        let mut p = self.pipe();
        let n = p.to_modem.len();
        out.extend(p.to_modem.drain(..));
        n
    }

    /// Modem side: sends bytes to the box.
    pub fn modem_write(&self, bytes: &[u8]) {
        let mut p = self.pipe();
        if p.up {
            p.to_box.extend(bytes);
        }
    }

    /// Box side: reads what is there (0 when nothing); fails when the modem is gone.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        let mut p = self.pipe();
        if !p.up {
            bail!("the simulated modem's port is gone (unplugged)");
        }
        let n = buf.len().min(p.to_box.len());
        for (dst, src) in buf.iter_mut().zip(p.to_box.drain(..n)) {
            *dst = src;
        }
        p.box_read += n as u64;
        Ok(n)
    }

    /// Box side: writes bytes; fails when the modem is gone.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        let mut p = self.pipe();
        if !p.up {
            bail!("the simulated modem's port is gone (unplugged)");
        }
        p.to_modem.extend(bytes);
        p.box_written += bytes.len() as u64;
        Ok(())
    }

    /// Box side: bytes read and written so far.
    pub fn box_counts(&self) -> (u64, u64) {
        let p = self.pipe();
        (p.box_read, p.box_written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_both_ways_and_a_cut_fails_the_box_side() {
        let l = MemLink::new();
        l.write(b"AT\r").unwrap();
        let mut got = Vec::new();
        assert_eq!(l.modem_read(&mut got), 3);
        assert_eq!(got, b"AT\r");
        l.modem_write(b"\r\nOK\r\n");
        let mut buf = [0u8; 4];
        assert_eq!(l.read(&mut buf).unwrap(), 4);
        assert_eq!(l.read(&mut buf).unwrap(), 2);
        assert_eq!(l.box_counts(), (6, 3));
        l.cut();
        assert!(l.read(&mut buf).is_err());
        assert!(l.write(b"AT").is_err());
    }
}
