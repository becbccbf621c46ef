//! AT command line codec and response / URC classifier for GSM/LTE modems
//! (3GPP TS 27.007 / 27.005, Quectel EC25/EG25-G, SIMCom SIM7600).
//!
//! The module is pure: no I/O, no clock, no threads, and no panics on any
//! input. It is layered as follows:
//!
//! * [`codec`]: bytes from the serial port → [`Token`]s (lines, the SMS
//!   prompt `"> "`, overlong-line markers), and command encoding.
//! * [`result`]: final result codes (`OK`, `ERROR`, `+CME ERROR: …`, …).
//! * [`urc`]: typed unsolicited result codes and parsers for the
//!   information responses that share their formats (`+CLCC`, `+CSQ`,
//!   `+CREG`, `+COPS`).
//! * [`mod@classify`]: decides for every line whether it is the echo, the final
//!   result, an intermediate response of the command in flight, a URC, or
//!   unknown.
//!
//! Typical use: push bytes into a [`LineCodec`], and for each
//! [`Token::Line`] call [`classify()`] with the command currently awaiting
//! its final result. When a [`Urc`] reports [`Urc::expects_body_line`]
//! (`+CMT:`, `+CBM:`, PDU-mode `+CDS:`), take the next line as its body
//! without classifying it.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]
#![warn(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

pub mod classify;
pub mod codec;
mod fields;
pub mod result;
pub mod urc;

pub use classify::{Class, CommandForm, CommandInfo, classify};
pub use codec::{CTRL_Z, ESC, LineCodec, MAX_LINE, Token, encode_command, encode_sms_body};
pub use result::{CmeError, CmsError, Final, parse_final};
pub use urc::{
    ClccRow, Cops, Reg, RegKind, Urc, parse_clcc, parse_cops, parse_creg, parse_csq, parse_urc,
    rssi_to_dbm,
};

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
// tests read the clock once for a start instant
mod tests;
