//! The box's end of the modem's AT port, and the one loop step that moves bytes
//! between it and whatever speaks AT on the box's side.
//!
//! [`ModemLink`] is the real serial driver ([`SerialLink`], for hardware, `switchboard
//! run` and `switchboard modem`) or the simulated modem's in-memory line ([`MemLink`],
//! for virtual time). [`ModemLink::pump`] is the modem I/O step shared by the engine
//! (through the [`Exchange`]), the `switchboard modem` bring-up tool and the driver
//! tests (through a bare [`Modem`]): read what the modem sent and feed it, then write
//! what the driver wants sent. Waiting (on the clock or on a descriptor) is left to the
//! caller, so the same step serves real and virtual time.

use std::os::fd::RawFd;
use std::time::Instant;

use anyhow::Result;

use crate::exchange::Exchange;
use crate::hw::sim::memlink::MemLink;
use crate::modem::Modem;
use crate::modem::serial::SerialLink;

/// Something on the box's side that speaks AT: the bare driver, or the exchange that
/// owns one.
pub trait AtPeer {
    /// Bytes read from the AT port, at `now`.
    fn at_input(&mut self, now: Instant, bytes: &[u8]);
    /// The next bytes to write to the AT port.
    fn at_output(&mut self) -> Option<Vec<u8>>;
}

impl AtPeer for Modem {
    fn at_input(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_input(now, bytes);
    }
    fn at_output(&mut self) -> Option<Vec<u8>> {
        self.poll_transmit()
    }
}

impl AtPeer for Exchange {
    fn at_input(&mut self, now: Instant, bytes: &[u8]) {
        self.on_modem_bytes(now, bytes);
    }
    fn at_output(&mut self) -> Option<Vec<u8>> {
        self.poll_modem_transmit()
    }
}

enum Kind {
    Serial(SerialLink),
    Memory(MemLink),
}

/// The box's end of the modem's AT port.
pub struct ModemLink {
    kind: Kind,
    name: String,
}

impl ModemLink {
    /// Opens a serial device (a tty, or a pseudo-terminal).
    pub fn open_serial(path: &str, baud: u32) -> Result<Self> {
        Ok(Self {
            kind: Kind::Serial(SerialLink::open(path, baud)?),
            name: path.to_string(),
        })
    }

    /// The box's end of the simulated modem's in-memory line.
    pub fn memory(link: MemLink) -> Self {
        Self {
            kind: Kind::Memory(link),
            name: "the simulated modem's line".into(),
        }
    }

    /// What the port is (device path), for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is an in-memory line (virtual time: bytes cross at once).
    pub fn is_memory(&self) -> bool {
        matches!(self.kind, Kind::Memory(_))
    }

    /// Reads what is there (0 when nothing); fails when the port is gone.
    pub fn read_available(&mut self, buf: &mut [u8]) -> Result<usize> {
        match &mut self.kind {
            Kind::Serial(s) => s.read_available(buf),
            Kind::Memory(m) => m.read(buf),
        }
    }

    /// Writes all of `bytes`; fails when the port is gone.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.kind {
            Kind::Serial(s) => s.write_all(bytes),
            Kind::Memory(m) => m.write(bytes),
        }
    }

    /// Bytes read and written by the box so far.
    pub fn counts(&self) -> (u64, u64) {
        match &self.kind {
            Kind::Serial(s) => (s.read, s.written),
            Kind::Memory(m) => m.box_counts(),
        }
    }

    /// The descriptor to wait on for the modem's bytes (none for an in-memory line).
    pub fn raw_fd(&self) -> Option<RawFd> {
        match &self.kind {
            Kind::Serial(s) => Some(s.raw_fd()),
            Kind::Memory(_) => None,
        }
    }

    /// One I/O step: reads up to one buffer of what the modem sent and feeds it to
    /// `peer` at `now`, then writes everything `peer` has to send. Returns whether any
    /// byte moved; an error means the port is lost (close it and open it again).
    pub fn pump(&mut self, now: Instant, peer: &mut impl AtPeer) -> Result<bool> {
        let mut buf = [0u8; 1024];
        let mut moved = false;
        let n = self.read_available(&mut buf)?;
        if n > 0 {
            peer.at_input(now, &buf[..n]);
            moved = true;
        }
        while let Some(tx) = peer.at_output() {
            self.write_all(&tx)?;
            moved = true;
        }
        Ok(moved)
    }
}
