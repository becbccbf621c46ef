//! Final result codes (verbose form, `ATV1`).

use super::fields::{parse_num, strip_prefix_ci};

/// A `+CME ERROR:` (27.007 §9.2), from either `AT+CMEE=1` (numeric) or
/// `AT+CMEE=2` (text).
///
/// Both forms are normalised so that `code` and `text` are filled whenever
/// they can be: a numeric report gets its text from the 27.007 table, and
/// a text report gets its number by a case-insensitive reverse look-up.
/// A number not in the table keeps `text: None`; a text not in the table
/// keeps `code: None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmeError {
    /// The error number, if reported or known for the text.
    pub code: Option<u16>,
    /// The error text, as reported or from the table for the number.
    pub text: Option<String>,
}

/// A `+CMS ERROR:` (27.005 §3.2.5). The same shape as [`CmeError`]
/// (number and text both kept when known); modems normally report the
/// number, and some firmware reports text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmsError {
    /// The error number, if reported or known for the text.
    pub code: Option<u16>,
    /// The error text, as reported or from the table for the number.
    pub text: Option<String>,
}

/// 27.007 §9.2 `+CME ERROR` codes (subset used by voice/SMS modems).
const CME_TABLE: &[(u16, &str)] = &[
    (0, "phone failure"),
    (1, "no connection to phone"),
    (2, "phone-adaptor link reserved"),
    (3, "operation not allowed"),
    (4, "operation not supported"),
    (5, "PH-SIM PIN required"),
    (6, "PH-FSIM PIN required"),
    (7, "PH-FSIM PUK required"),
    (10, "SIM not inserted"),
    (11, "SIM PIN required"),
    (12, "SIM PUK required"),
    (13, "SIM failure"),
    (14, "SIM busy"),
    (15, "SIM wrong"),
    (16, "incorrect password"),
    (17, "SIM PIN2 required"),
    (18, "SIM PUK2 required"),
    (20, "memory full"),
    (21, "invalid index"),
    (22, "not found"),
    (23, "memory failure"),
    (24, "text string too long"),
    (25, "invalid characters in text string"),
    (26, "dial string too long"),
    (27, "invalid characters in dial string"),
    (30, "no network service"),
    (31, "network timeout"),
    (32, "network not allowed - emergency calls only"),
    (40, "network personalization PIN required"),
    (41, "network personalization PUK required"),
    (42, "network subset personalization PIN required"),
    (43, "network subset personalization PUK required"),
    (44, "service provider personalization PIN required"),
    (45, "service provider personalization PUK required"),
    (46, "corporate personalization PIN required"),
    (47, "corporate personalization PUK required"),
    (100, "unknown"),
];

/// 27.005 §3.2.5 `+CMS ERROR` codes.
const CMS_TABLE: &[(u16, &str)] = &[
    (300, "ME failure"),
    (301, "SMS service of ME reserved"),
    (302, "operation not allowed"),
    (303, "operation not supported"),
    (304, "invalid PDU mode parameter"),
    (305, "invalid text mode parameter"),
    (310, "SIM not inserted"),
    (311, "SIM PIN required"),
    (312, "PH-SIM PIN required"),
    (313, "SIM failure"),
    (314, "SIM busy"),
    (315, "SIM wrong"),
    (316, "SIM PUK required"),
    (317, "SIM PIN2 required"),
    (318, "SIM PUK2 required"),
    (320, "memory failure"),
    (321, "invalid memory index"),
    (322, "memory full"),
    (330, "SMSC address unknown"),
    (331, "no network service"),
    (332, "network timeout"),
    (340, "no +CNMA acknowledgement expected"),
    (500, "unknown error"),
];

fn split_code(table: &[(u16, &str)], rest: &str) -> (Option<u16>, Option<String>) {
    let r = rest.trim().trim_matches('"').trim();
    if r.is_empty() {
        return (None, None);
    }
    if let Some(n) = parse_num::<u16>(r) {
        let text = table
            .iter()
            .find(|(c, _)| *c == n)
            .map(|(_, t)| (*t).to_owned());
        return (Some(n), text);
    }
    let code = table
        .iter()
        .find(|(_, t)| t.eq_ignore_ascii_case(r))
        .map(|(c, _)| *c);
    (code, Some(r.to_owned()))
}

impl CmeError {
    /// Parses the text after `+CME ERROR:` (a number or a text).
    pub fn from_report(rest: &str) -> Self {
        let (code, text) = split_code(CME_TABLE, rest);
        Self { code, text }
    }

    /// The 27.007 text for a `+CME ERROR` number, if known.
    pub fn text_for(code: u16) -> Option<&'static str> {
        CME_TABLE.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
    }

    /// `+CME ERROR: 14` (SIM busy): retry with back-off, typically for
    /// ~10 s after boot or PIN entry.
    pub fn is_sim_busy(&self) -> bool {
        self.code == Some(14)
    }
}

impl CmsError {
    /// Parses the text after `+CMS ERROR:` (a number or a text).
    pub fn from_report(rest: &str) -> Self {
        let (code, text) = split_code(CMS_TABLE, rest);
        Self { code, text }
    }

    /// The 27.005 text for a `+CMS ERROR` number, if known.
    pub fn text_for(code: u16) -> Option<&'static str> {
        CMS_TABLE.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
    }
}

/// A final result code: the end of a command's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// `OK`.
    Ok,
    /// `ERROR`.
    Error,
    /// `+CME ERROR: <n|text>`.
    CmeError(CmeError),
    /// `+CMS ERROR: <n|text>` (number and text kept, see [`CmsError`]).
    CmsError(CmsError),
    /// `NO CARRIER`.
    NoCarrier,
    /// `BUSY`.
    Busy,
    /// `NO ANSWER`.
    NoAnswer,
    /// `NO DIALTONE` (also accepted as `NO DIAL TONE`).
    NoDialtone,
    /// `CONNECT` with its optional text (`CONNECT 150000000` → `Some`).
    /// A data phase follows.
    Connect(Option<String>),
    /// `DOWNLOAD` (SIMCom `AT+HTTPDATA` and similar): the modem now expects
    /// the announced number of raw bytes.
    Download,
}

impl Final {
    /// True for results that mean the command was accepted: `OK`,
    /// `CONNECT` and `DOWNLOAD`.
    pub fn is_success(&self) -> bool {
        matches!(self, Final::Ok | Final::Connect(_) | Final::Download)
    }
}

/// Parses a final result code (verbose form). Matching is ASCII
/// case-insensitive and ignores surrounding whitespace. Returns `None` for
/// any other line.
pub fn parse_final(line: &str) -> Option<Final> {
    let l = line.trim();
    let is = |w: &str| l.eq_ignore_ascii_case(w);
    if is("OK") {
        return Some(Final::Ok);
    }
    if is("ERROR") {
        return Some(Final::Error);
    }
    if is("NO CARRIER") {
        return Some(Final::NoCarrier);
    }
    if is("BUSY") {
        return Some(Final::Busy);
    }
    if is("NO ANSWER") {
        return Some(Final::NoAnswer);
    }
    if is("NO DIALTONE") || is("NO DIAL TONE") {
        return Some(Final::NoDialtone);
    }
    if is("DOWNLOAD") {
        return Some(Final::Download);
    }
    if is("CONNECT") {
        return Some(Final::Connect(None));
    }
    if let Some(rest) = strip_prefix_ci(l, "CONNECT ") {
        let rest = rest.trim();
        return Some(Final::Connect(if rest.is_empty() {
            None
        } else {
            Some(rest.to_owned())
        }));
    }
    if let Some(rest) = strip_prefix_ci(l, "+CME ERROR:") {
        return Some(Final::CmeError(CmeError::from_report(rest)));
    }
    if let Some(rest) = strip_prefix_ci(l, "+CMS ERROR:") {
        return Some(Final::CmsError(CmsError::from_report(rest)));
    }
    None
}
