//! The thin serial edge of the modem driver: the AT port opened with `serialport`.
//!
//! Non-blocking reads (the engine waits on the file descriptor itself) and plain
//! writes. Counts bytes both ways so the virtual-time runner can tell when the link is
//! quiet.

// The serial edge of the modem: the one place in `modem` that touches a device.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use anyhow::{Context, Result};
use serialport::TTYPort;

/// An open AT port.
pub struct SerialLink {
    port: TTYPort,
    /// Bytes written so far.
    pub written: u64,
    /// Bytes read so far.
    pub read: u64,
}

impl SerialLink {
    /// Opens `path` at `baud`, 8N1, no flow control.
    pub fn open(path: &str, baud: u32) -> Result<Self> {
        let port = serialport::new(path, baud)
            .timeout(Duration::ZERO)
            .open_native()
            .with_context(|| {
                format!(
                    "cannot open the modem's AT port {path}: check the board profile's [modem] serial path and that the service user is in the dialout group"
                )
            })?;
        Ok(Self {
            port,
            written: 0,
            read: 0,
        })
    }

    /// Reads whatever is available without blocking. An error (hang-up, `EIO`, end of
    /// file) means the port is gone: close it and open the path again later (see
    /// `app::engine`).
    pub fn read_available(&mut self, buf: &mut [u8]) -> Result<usize> {
        match self.port.read(buf) {
            // the port said it was readable, yet there is nothing: end of file
            Ok(0) if !buf.is_empty() => Err(anyhow::anyhow!(
                "the modem's AT port reported end of file (the device went away)"
            )),
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(e).context("reading the modem's AT port"),
        }
    }

    /// Writes all bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.port
            .write_all(bytes)
            .context("writing to the modem's AT port")?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// The file descriptor, to wait for input.
    pub fn raw_fd(&self) -> RawFd {
        self.port.as_raw_fd()
    }
}
