//! Line framing: bytes from the serial port → [`Token`]s, and command
//! encoding for the way back.

use std::collections::VecDeque;

/// Longest line, in raw bytes (after dropping control bytes), that the
/// codec keeps. A longer line is discarded and reported as
/// [`Token::Overlong`].
pub const MAX_LINE: usize = 2048;

/// Ctrl-Z (`0x1A`): terminates the SMS body after the `"> "` prompt.
pub const CTRL_Z: u8 = 0x1A;

/// ESC (`0x1B`): aborts an SMS body after the `"> "` prompt.
pub const ESC: u8 = 0x1B;

/// One unit of modem output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A complete, non-empty line: line end removed, trailing whitespace
    /// trimmed, control bytes dropped, invalid UTF-8 replaced by U+FFFD.
    Line(String),
    /// The SMS prompt `"> "`, which the modem sends without a line end.
    Prompt,
    /// A line longer than [`MAX_LINE`] bytes was discarded (up to and
    /// including its line end). Reported once per such line, as soon as the
    /// limit is exceeded.
    Overlong,
}

/// Incremental line splitter for the modem's AT port.
///
/// Framing rules:
/// * `\r\n`, `\n` and `\r` all end a line; empty lines (and lines of only
///   whitespace) are skipped.
/// * Control bytes (`0x00`–`0x1F` except `\r`/`\n`, and `0x7F`) are dropped
///   wherever they occur, including NUL and Ctrl-Z echoes.
/// * Trailing whitespace is trimmed; invalid UTF-8 is replaced lossily.
/// * `">"` followed by a space at the very start of a line is a
///   [`Token::Prompt`]; whatever follows it starts a new line. The
///   decision is made byte by byte, so it does not depend on how the input
///   was chunked (a `"> "` with nothing after it is reported as soon as the
///   space arrives).
/// * A line exceeding [`MAX_LINE`] bytes yields one [`Token::Overlong`];
///   the rest of it, up to the next line end, is dropped. Memory stays
///   bounded by `MAX_LINE` for the partial line.
///
/// Tokens are produced while bytes are pushed and queued until taken with
/// [`LineCodec::next_token`]; drain the queue after each push. The token
/// sequence is identical for any chunking of the same byte stream.
#[derive(Debug, Clone, Default)]
pub struct LineCodec {
    line: Vec<u8>,
    discarding: bool,
    ready: VecDeque<Token>,
}

impl LineCodec {
    /// Creates an empty codec.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes read from the port. Accepts any chunking.
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.feed(b);
        }
    }

    /// Takes the next complete token, if any.
    pub fn next_token(&mut self) -> Option<Token> {
        self.ready.pop_front()
    }

    /// Number of bytes of the current, unterminated line held back.
    pub fn pending_bytes(&self) -> usize {
        self.line.len()
    }

    /// Drops all buffered bytes and queued tokens (e.g. after the port was
    /// reopened following a modem reset).
    pub fn reset(&mut self) {
        self.line.clear();
        self.discarding = false;
        self.ready.clear();
    }

    fn feed(&mut self, b: u8) {
        match b {
            b'\r' | b'\n' => {
                if self.discarding {
                    self.discarding = false;
                } else {
                    self.finish_line();
                }
            }
            0x00..=0x1F | 0x7F => {}
            _ if self.discarding => {}
            b' ' if self.line.as_slice() == b">" => {
                self.line.clear();
                self.ready.push_back(Token::Prompt);
            }
            _ if self.line.len() >= MAX_LINE => {
                self.line.clear();
                self.discarding = true;
                self.ready.push_back(Token::Overlong);
            }
            _ => self.line.push(b),
        }
    }

    fn finish_line(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let trimmed = text.trim_end();
        if !trimmed.is_empty() {
            self.ready.push_back(Token::Line(trimmed.to_owned()));
        }
        self.line.clear();
    }
}

/// Encodes one command line for the modem: `"AT+CSQ"` → `b"AT+CSQ\r"`.
///
/// Control bytes in `cmd` (including `\r`, `\n`, Ctrl-Z and ESC) are
/// removed, so the result is always exactly one command terminated by a
/// single `\r`.
pub fn encode_command(cmd: &str) -> Vec<u8> {
    let mut out: Vec<u8> = cmd.bytes().filter(|&b| !(b < 0x20 || b == 0x7F)).collect();
    out.push(b'\r');
    out
}

/// Encodes an SMS body (text-mode text or a hex PDU) to send after the
/// `"> "` prompt: the body with any Ctrl-Z / ESC removed, followed by
/// [`CTRL_Z`]. To abort instead, send the single byte [`ESC`].
pub fn encode_sms_body(body: &str) -> Vec<u8> {
    let mut out: Vec<u8> = body.bytes().filter(|&b| b != CTRL_Z && b != ESC).collect();
    out.push(CTRL_Z);
    out
}
