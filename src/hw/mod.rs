//! Hardware adapters behind one trait: the real boards (later: GPIO, ALSA, serial)
//! and the simulated board ([`sim`]), which is a first-class board.
//!
//! Ports are addressed by index, in the order of the board profile (analog ports, then
//! the modem's voice port), the same order the exchange uses.

pub mod alsa;
pub mod board;
pub mod gpio;
pub mod modem_link;
pub mod serial_pcm;
pub mod sim;
pub mod slic;

use std::time::Instant;

use crate::exchange::PortIdx;
use crate::line::{LineCommand, LineSignal};
use crate::media::Frame;

/// What the engine needs from a board.
pub trait Board {
    /// The next line signal (ring, caller ID, loop drop), if any.
    fn poll_line_signal(&mut self) -> Option<(PortIdx, LineSignal)>;
    /// Sets an analog line's hook state.
    fn line_command(&mut self, now: Instant, port: PortIdx, cmd: LineCommand);
    /// The 20 ms frame received on a port during the current tick.
    fn read_frame(&mut self, now: Instant, port: PortIdx, out: &mut Frame);
    /// The 20 ms frame to send on a port during the current tick.
    fn write_frame(&mut self, now: Instant, port: PortIdx, frame: &Frame);
    /// Lets the board's own machinery (the simulated world) catch up to `now`.
    fn step(&mut self, now: Instant);
    /// When [`Board::step`] must run next on its own account.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The modem's AT port: device path and baud rate.
    fn modem_serial(&self) -> Option<(String, u32)>;
    /// Opens the modem's AT port: by default the serial device of
    /// [`Board::modem_serial`] (the simulated board may give an in-memory line
    /// instead). `None` when the board has no modem; an error when the port cannot be
    /// opened right now (the engine tries again with back-off).
    fn open_modem_port(&self) -> Option<anyhow::Result<modem_link::ModemLink>> {
        let (path, baud) = self.modem_serial()?;
        Some(modem_link::ModemLink::open_serial(&path, baud))
    }
    /// Pulses the modem's power key (or reset line) to power-cycle a modem that no
    /// longer answers (the recovery ladder's hard step). Must not block the engine for
    /// long. Returns `Ok(false)` when the board has no way to do it (the default).
    fn modem_power_cycle(&mut self, _now: Instant) -> anyhow::Result<bool> {
        Ok(false)
    }
}
