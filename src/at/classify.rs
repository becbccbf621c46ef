//! Line classification: echo, final result, response to the command in
//! flight, URC, or unknown. The rule is "never mistake a URC for a
//! response, never lose one".

use super::fields::{Field, split_fields, strip_prefix_ci};
use super::result::{Final, parse_final};
use super::urc::{RegKind, Urc, is_urc_prefix, parse_urc};

/// What a line from the modem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// The echo of the command in flight (echo returns after every reboot).
    Echo,
    /// The final result of the command in flight.
    Final(Final),
    /// An intermediate line belonging to the command in flight (the line as
    /// given).
    Response(String),
    /// An unsolicited result code.
    Urc(Urc),
    /// Anything else (the line as given): log it.
    Unknown(String),
}

/// The syntax form of an extended command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandForm {
    /// `AT+XYZ` (action / execution).
    Exec,
    /// `AT+XYZ?` (read).
    Read,
    /// `AT+XYZ=?` (test).
    Test,
    /// `AT+XYZ=<args>` (set).
    Set,
}

/// What the classifier derives from a command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandInfo {
    /// Response prefixes (with colon, upper case) of the extended commands
    /// in the line, with their form: `AT+CREG?` → `("+CREG:", Read)`.
    /// Compound lines (`AT+CMEE=1;+CREG?`) give one entry per command.
    pub extended: Vec<(String, CommandForm)>,
    /// `ATD…` or `ATA`: the only commands whose final result can be
    /// `NO CARRIER` / `BUSY` / `NO ANSWER`.
    pub dial_or_answer: bool,
    /// The command answers with bare lines without a prefix (`ATI`,
    /// `AT+CGMI`, `AT+CGSN`, `AT+CIMI`, …, and the SMS bodies of
    /// `AT+CMGR` / `AT+CMGL`).
    pub bare_lines: bool,
}

/// Extended commands whose information response is a bare line.
const BARE_RESPONSE_COMMANDS: &[&str] = &[
    "CGMI",
    "CGMM",
    "CGMR",
    "CGSN",
    "CIMI",
    "GSN",
    "GMR",
    "GMM",
    "GMI",
    "CMGR",
    "CMGL",
    "QGMR",
    "SIMCOMATI",
];

/// Commands whose response prefix differs from their name.
const PREFIX_ALIASES: &[(&str, &str)] = &[("+CICCID:", "+ICCID:")];

/// Characters that introduce an extended command after `AT`.
const EXT_CHARS: &[char] = &['+', '^', '$', '%', '*', '#'];

/// Splits on `;` outside double quotes.
fn split_compound(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_q = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_q = !in_q,
            ';' if !in_q => {
                parts.push(s.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts
}

impl CommandInfo {
    /// Derives the response prefixes and properties of a command line
    /// (`"AT+CLCC"`, `"ATD+4917012345;"`, `"at+creg?"`). A line that does
    /// not start with `AT` yields the default (nothing derived).
    pub fn parse(cmd: &str) -> Self {
        let mut info = CommandInfo::default();
        let up = cmd.trim().to_ascii_uppercase();
        let Some(body) = up.strip_prefix("AT") else {
            return info;
        };
        let body = body.trim_start();
        if body.starts_with('D') {
            info.dial_or_answer = true;
            // Intermediate result of ATD with AT+COLP=1.
            info.extended.push(("+COLP:".to_owned(), CommandForm::Exec));
            return info;
        }
        if body == "A" {
            info.dial_or_answer = true;
            return info;
        }
        if body.starts_with('I') {
            info.bare_lines = true;
            return info;
        }
        for seg in split_compound(body) {
            let seg = seg.trim();
            let mut chars = seg.chars();
            let Some(ext) = chars.next().filter(|c| EXT_CHARS.contains(c)) else {
                break;
            };
            let rest = chars.as_str();
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = rest.get(..name_len).unwrap_or("");
            if name.is_empty() {
                break;
            }
            let args = rest.get(name_len..).unwrap_or("").trim_start();
            let form = if args.starts_with("=?") {
                CommandForm::Test
            } else if args.starts_with('?') {
                CommandForm::Read
            } else if args.starts_with('=') {
                CommandForm::Set
            } else {
                CommandForm::Exec
            };
            if ext == '+' && BARE_RESPONSE_COMMANDS.contains(&name) {
                info.bare_lines = true;
            }
            let prefix = format!("{ext}{name}:");
            for (from, to) in PREFIX_ALIASES {
                if *from == prefix {
                    info.extended.push(((*to).to_owned(), form));
                }
            }
            info.extended.push((prefix, form));
        }
        info
    }

    /// True when `line` carries the response prefix of one of the
    /// commands, and its shape does not betray a URC sharing that prefix:
    ///
    /// * a set command (`AT+CLCC=1`, `AT+CREG=2`, `AT+CPIN="1234"`, …)
    ///   never answers with a prefix that is also a URC prefix, so such a
    ///   line is the URC (exception: `AT+CCWA=1,2` queries);
    /// * during `AT+CREG?` (and `+CGREG`/`+CEREG`/`+C5GREG`) the response
    ///   is `<n>,<stat>,…`; a single field, or a quoted second field, is the
    ///   URC form;
    /// * during `AT+CLIP?` / `AT+CCWA…` a quoted first field (a number) is
    ///   the URC.
    ///
    /// Identical formats (`+CLCC:` during `AT+CLCC`, `+CPIN:` during
    /// `AT+CPIN?`, `+CSQ:` during `AT+CSQ`) count as the response.
    pub fn owns(&self, line: &str) -> bool {
        let l = line.trim();
        self.extended.iter().any(|(prefix, form)| {
            strip_prefix_ci(l, prefix).is_some_and(|rest| claims(prefix, *form, rest))
        })
    }
}

fn claims(prefix: &str, form: CommandForm, rest: &str) -> bool {
    let fields = || split_fields(rest);
    if RegKind::strip(prefix).is_some() {
        return match form {
            CommandForm::Set => false,
            CommandForm::Read => {
                let f = fields();
                f.len() >= 2 && f.get(1).is_some_and(|s| !s.quoted && s.as_u8().is_some())
            }
            CommandForm::Exec | CommandForm::Test => true,
        };
    }
    if prefix.eq_ignore_ascii_case("+CCWA:") || prefix.eq_ignore_ascii_case("+CLIP:") {
        let number_first = fields().first().is_some_and(|f: &Field| f.quoted);
        let clip_set = prefix.eq_ignore_ascii_case("+CLIP:") && form == CommandForm::Set;
        return !(number_first || clip_set);
    }
    !(form == CommandForm::Set && is_urc_prefix(prefix))
}

/// Classifies one line (a [`super::Token::Line`]) given the command
/// currently awaiting its final result (`None` when idle).
///
/// Order of the rules:
/// 1. the in-flight command itself (ASCII case-insensitive) → [`Class::Echo`];
/// 2. final result codes → [`Class::Final`] while a command is in flight.
///    `NO CARRIER` / `BUSY` / `NO ANSWER` are final only for `ATD…`/`ATA`
///    and a [`Class::Urc`] otherwise; other finals with nothing in flight
///    → [`Class::Unknown`];
/// 3. the in-flight command's own response prefix, derived generically
///    (`AT+XYZ…` → `+XYZ:`), see [`CommandInfo::owns`] → [`Class::Response`];
/// 4. a known URC → [`Class::Urc`] (typed, or [`Urc::Other`]). After an
///    [`Urc::Other`] for which [`Urc::expects_body_line`] holds (`+CMT:`),
///    the caller must take the next line as the body, unclassified;
/// 5. any other line while a bare-line command (`ATI`, `AT+CGSN`, …) is in
///    flight → [`Class::Response`];
/// 6. anything else → [`Class::Unknown`].
///
/// The verbose result format (`ATV1`) is assumed.
pub fn classify(line: &str, in_flight: Option<&str>) -> Class {
    let l = line.trim();
    let cmd = in_flight.map(str::trim).filter(|c| !c.is_empty());
    if l.is_empty() {
        return Class::Unknown(line.to_owned());
    }
    if cmd.is_some_and(|c| l.eq_ignore_ascii_case(c)) {
        return Class::Echo;
    }
    let info = cmd.map(CommandInfo::parse);
    if let Some(f) = parse_final(l) {
        let call_end = match f {
            Final::NoCarrier => Some(Urc::NoCarrier),
            Final::Busy => Some(Urc::Busy),
            Final::NoAnswer => Some(Urc::NoAnswer),
            _ => None,
        };
        return match call_end {
            Some(u) if !info.as_ref().is_some_and(|i| i.dial_or_answer) => Class::Urc(u),
            _ if cmd.is_some() => Class::Final(f),
            _ => Class::Unknown(line.to_owned()),
        };
    }
    if info.as_ref().is_some_and(|i| i.owns(l)) {
        return Class::Response(line.to_owned());
    }
    if let Some(u) = parse_urc(l) {
        return Class::Urc(u);
    }
    if info.as_ref().is_some_and(|i| i.bare_lines) {
        return Class::Response(line.to_owned());
    }
    Class::Unknown(line.to_owned())
}
