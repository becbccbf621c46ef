//! Typed unsolicited result codes, and parsers for the information
//! responses that share their formats.

use super::fields::{Field, normalise_number, split_fields, strip_prefix_ci};

/// Which registration report a [`Reg`] / [`Urc::Creg`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegKind {
    /// `+CREG` (circuit-switched).
    Creg,
    /// `+CGREG` (GPRS / packet-switched).
    Cgreg,
    /// `+CEREG` (EPS / LTE).
    Cereg,
    /// `+C5GREG` (5GS).
    C5greg,
}

impl RegKind {
    /// The response / URC prefix, including the colon (`"+CREG:"`).
    pub fn prefix(self) -> &'static str {
        match self {
            RegKind::Creg => "+CREG:",
            RegKind::Cgreg => "+CGREG:",
            RegKind::Cereg => "+CEREG:",
            RegKind::C5greg => "+C5GREG:",
        }
    }

    const ALL: [RegKind; 4] = [
        RegKind::Creg,
        RegKind::Cgreg,
        RegKind::Cereg,
        RegKind::C5greg,
    ];

    /// Recognises a registration prefix at the start of `line`; returns the
    /// kind and the rest of the line.
    pub fn strip(line: &str) -> Option<(RegKind, &str)> {
        RegKind::ALL
            .iter()
            .find_map(|k| strip_prefix_ci(line, k.prefix()).map(|r| (*k, r)))
    }
}

/// A parsed registration report (`+CREG` / `+CGREG` / `+CEREG` /
/// `+C5GREG`), response or URC form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reg {
    /// Which report this is.
    pub kind: RegKind,
    /// The `<n>` setting; only present in the response (read) form.
    pub n: Option<u8>,
    /// `<stat>`: 0 not registered, 1 home, 2 searching, 3 denied,
    /// 4 unknown, 5 roaming (higher values: SMS-only/emergency variants).
    pub stat: u8,
    /// `<lac>` / `<tac>` as reported (hex string), if present and not empty.
    pub lac: Option<String>,
    /// `<ci>` as reported (hex string), if present and not empty.
    pub ci: Option<String>,
    /// `<AcT>` (0 GSM, 2 UTRAN, 7 E-UTRAN, …), if present.
    pub act: Option<u8>,
}

impl Reg {
    /// Registered, home (1) or roaming (5).
    pub fn is_registered(&self) -> bool {
        matches!(self.stat, 1 | 5)
    }
}

/// The answer to `AT+COPS?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cops {
    /// `<mode>`: 0 automatic, 1 manual, 2 deregister, 3 set format only,
    /// 4 manual/automatic.
    pub mode: u8,
    /// `<format>`: 0 long alphanumeric, 1 short, 2 numeric.
    pub format: Option<u8>,
    /// `<oper>` in that format, if present and not empty.
    pub operator: Option<String>,
    /// `<AcT>`, if present.
    pub act: Option<u8>,
}

/// One call from `+CLCC` (response or URC) or Quectel
/// `+QIND: "ccinfo"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClccRow {
    /// Call index (used by `AT+CHLD=1x` / `2x`).
    pub id: u8,
    /// Direction: 0 mobile-originated, 1 mobile-terminated.
    pub dir: u8,
    /// State: 0 active, 1 held, 2 dialing, 3 alerting, 4 incoming,
    /// 5 waiting, 6 disconnected (vendor URC form), 7 released (Quectel
    /// ccinfo; a reported `-1` is mapped to 7).
    pub stat: u8,
    /// Mode: 0 voice, 1 data, 2 fax (ignore non-voice rows).
    pub mode: u8,
    /// 1 when the call is part of a multiparty call.
    pub mpty: u8,
    /// Number, if present and not empty; a `+` is added when `toa` is 145.
    pub number: Option<String>,
    /// Type of address (145 international, 129 other), if present.
    pub toa: Option<u8>,
}

/// An unsolicited result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `RING`.
    Ring,
    /// `+CRING: <type>` (with `AT+CRC=1`), e.g. `VOICE`.
    CRing(String),
    /// `+CLIP: "<num>",<type>,<subaddr>,<satype>,"<alpha>",<validity>`.
    Clip {
        /// Caller number (`+` added when `toa` is 145); empty when withheld.
        number: String,
        /// Type of address; 129 when the modem left it out.
        toa: u8,
        /// CLI validity: 0 valid, 1 withheld, 2 unavailable.
        validity: Option<u8>,
        /// Phone-book / network name, if not empty.
        alpha: Option<String>,
    },
    /// Registration URC (`+CREG`, `+CGREG`, `+CEREG`, `+C5GREG`;
    /// `<stat>[,<lac>,<ci>[,<AcT>]]` form).
    Creg {
        /// Which report this is.
        kind: RegKind,
        /// Registration state (see [`Reg::stat`]).
        stat: u8,
        /// Location / tracking area code, if present.
        lac: Option<String>,
        /// Cell id, if present.
        ci: Option<String>,
        /// Access technology, if present.
        act: Option<u8>,
    },
    /// `+CLCC:` row as a URC (SIMCom/Quectel `AT+CLCC=1`).
    Clcc(ClccRow),
    /// `NO CARRIER` outside a dial/answer command: the call ended.
    NoCarrier,
    /// `BUSY` outside a dial/answer command.
    Busy,
    /// `NO ANSWER` outside a dial/answer command.
    NoAnswer,
    /// `+CMTI: "<mem>",<index>`: a new SMS was stored.
    Cmti {
        /// Storage (`"SM"`, `"ME"`, …).
        mem: String,
        /// Index in that storage (for `AT+CMGR`).
        index: u32,
    },
    /// `RDY`: the modem booted (re-send configuration, echo is back on).
    Rdy,
    /// `+CPIN: <state>` as a URC (`READY`, `SIM PIN`, `NOT READY`, …).
    CpinState(String),
    /// `SMS DONE` (SIMCom) / `+QIND: SMS DONE` (Quectel).
    SmsDone,
    /// `PB DONE` (SIMCom) / `+QIND: PB DONE` (Quectel).
    PbDone,
    /// SIMCom `VOICE CALL: BEGIN`: the call is connected.
    VoiceCallBegin,
    /// SIMCom `VOICE CALL: END[: <duration>]`.
    VoiceCallEnd {
        /// Call duration as reported (e.g. `0:12`), if any.
        duration: Option<String>,
    },
    /// SIMCom `MISSED_CALL: <time> <number>`: holds the number (the last
    /// word; the modem-clock time before it is dropped).
    MissedCall(String),
    /// Quectel `+QIND: "ccinfo",<idx>,<dir>,<state>,<mode>,<mpty>,"<num>",<type>`.
    QindCcinfo(ClccRow),
    /// Quectel `+QIND: "csq",<rssi>,<ber>`.
    QindCsq {
        /// RSSI index (see [`rssi_to_dbm`]).
        rssi: u8,
        /// Bit error rate index (99 unknown).
        ber: u8,
    },
    /// SIMCom `+CSQ: <rssi>,<ber>` reported unsolicited (`AT+AUTOCSQ=1,1`).
    Csq {
        /// RSSI index (see [`rssi_to_dbm`]).
        rssi: u8,
        /// Bit error rate index (99 unknown).
        ber: u8,
    },
    /// Quectel `+QTONEDET: <ascii code>` (`56` → `'8'`).
    QToneDet(char),
    /// SIMCom `+RXDTMF: <key>` / `+DTMF: <key>`.
    RxDtmf(char),
    /// `+CCWA: "<num>",<type>,<class>[,…]`: a call is waiting.
    Ccwa {
        /// Number of the waiting caller (`+` added when `toa` is 145).
        number: String,
        /// Type of address; 129 when the modem left it out.
        toa: u8,
    },
    /// A line recognised as unsolicited whose format is not typed (yet),
    /// e.g. `+QIND: "act","LTE"`, `+CUSD:`, `^DSCI:`, `+CGEV:`, `+CMT:`,
    /// `+CDS:`; also a typed prefix whose parameters did not parse.
    /// Holds the whole (trimmed) line. See [`Urc::expects_body_line`].
    Other(String),
}

impl Urc {
    /// True when the modem sends a second line belonging to this URC: the
    /// `+CMT:` header (text or PDU follows), `+CBM:`, and the PDU-mode
    /// `+CDS: <length>`. The caller must take the next line as the body and
    /// not classify it.
    pub fn expects_body_line(&self) -> bool {
        let Urc::Other(line) = self else {
            return false;
        };
        if strip_prefix_ci(line, "+CMT:").is_some() || strip_prefix_ci(line, "+CBM:").is_some() {
            return true;
        }
        match strip_prefix_ci(line, "+CDS:") {
            Some(rest) => {
                let f = split_fields(rest);
                f.len() == 1 && f.first().and_then(Field::as_u16).is_some()
            }
            None => false,
        }
    }
}

/// Prefixes that are always unsolicited and not (yet) typed →
/// [`Urc::Other`].
const UNTYPED_URC_PREFIXES: &[&str] = &[
    "+CUSD:",
    "^DSCI:",
    "+CGEV:",
    "+CMT:",
    "+CDS:",
    "+CDSI:",
    "+CBM:",
    "+CBMI:",
    "+CNAP:",
    "*ECAV:",
    "+CSSI:",
    "+CSSU:",
    "+CIEV:",
    "+CTZV:",
    "+CTZE:",
    "+QIURC:",
    "+QUSIM:",
    "+QSIMSTAT:",
    "+QHTTPGET:",
    "+QHTTPPOST:",
    "+HTTPACTION:",
    "+CPSI:",
    "+CNSMOD:",
];

/// Whole lines that are always unsolicited and not typed.
const UNTYPED_URC_LINES: &[&str] = &["POWERED DOWN", "NORMAL POWER DOWN"];

fn is_dtmf(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

fn dtmf_from_key(s: &str) -> Option<char> {
    let t = s.trim().trim_matches('"').trim();
    let mut chars = t.chars();
    let c = chars.next()?.to_ascii_uppercase();
    (chars.next().is_none() && is_dtmf(c)).then_some(c)
}

fn clcc_from_fields(f: &[Field], ccinfo: bool) -> Option<ClccRow> {
    let num = |i: usize| f.get(i).and_then(Field::as_u8);
    let stat = if ccinfo {
        let s = f.get(2)?.as_i32()?;
        if s < 0 { 7 } else { u8::try_from(s).ok()? }
    } else {
        num(2)?
    };
    let toa = num(6);
    let number = f
        .get(5)
        .and_then(Field::non_empty)
        .map(|n| normalise_number(&n, toa));
    Some(ClccRow {
        id: num(0)?,
        dir: num(1)?,
        stat,
        mode: num(3)?,
        mpty: num(4)?,
        number,
        toa,
    })
}

/// Parses a `+CLCC:` line, with or without number/type/alpha:
/// `+CLCC: 1,0,3,0,0,"+4917012345",145` or `+CLCC: 1,1,4,0,0`.
/// Commas inside a quoted alpha field are handled.
pub fn parse_clcc(line: &str) -> Option<ClccRow> {
    let rest = strip_prefix_ci(line.trim(), "+CLCC:")?;
    clcc_from_fields(&split_fields(rest), false)
}

fn csq_fields(rest: &str) -> Option<(u8, u8)> {
    let f = split_fields(rest);
    Some((f.first()?.as_u8()?, f.get(1)?.as_u8()?))
}

/// Parses `+CSQ: <rssi>,<ber>`.
pub fn parse_csq(line: &str) -> Option<(u8, u8)> {
    csq_fields(strip_prefix_ci(line.trim(), "+CSQ:")?)
}

/// RSSI index → dBm: `-113 + 2·rssi` for 0..=31; `None` for 99 (unknown)
/// and any other out-of-range value.
pub fn rssi_to_dbm(rssi: u8) -> Option<i32> {
    (rssi <= 31).then(|| -113 + 2 * i32::from(rssi))
}

fn reg_from_fields(kind: RegKind, f: &[Field], response: bool) -> Option<Reg> {
    let (n, off) = if response {
        (Some(f.first()?.as_u8()?), 1)
    } else {
        (None, 0)
    };
    let stat = f.get(off)?.as_u8()?;
    Some(Reg {
        kind,
        n,
        stat,
        lac: f.get(off + 1).and_then(Field::non_empty),
        ci: f.get(off + 2).and_then(Field::non_empty),
        act: f.get(off + 3).and_then(Field::as_u8),
    })
}

/// Parses `+CREG:` / `+CGREG:` / `+CEREG:` / `+C5GREG:`.
///
/// `response: true` for the answer to `AT+CREG?`
/// (`+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]`), `false` for the URC
/// (`+CREG: <stat>[,<lac>,<ci>[,<AcT>]]`); the caller must say which,
/// because `+CREG: 1` is ambiguous. Fields after `<AcT>` (`<rac>`,
/// reject causes) are ignored.
pub fn parse_creg(line: &str, response: bool) -> Option<Reg> {
    let (kind, rest) = RegKind::strip(line.trim())?;
    reg_from_fields(kind, &split_fields(rest), response)
}

/// Parses the answer to `AT+COPS?`:
/// `+COPS: <mode>[,<format>,"<oper>"[,<AcT>]]`. The `AT+COPS=?` list is not
/// accepted.
pub fn parse_cops(line: &str) -> Option<Cops> {
    let rest = strip_prefix_ci(line.trim(), "+COPS:")?;
    let f = split_fields(rest);
    Some(Cops {
        mode: f.first()?.as_u8()?,
        format: f.get(1).and_then(Field::as_u8),
        operator: f.get(2).and_then(Field::non_empty),
        act: f.get(3).and_then(Field::as_u8),
    })
}

/// `"<num>",<type>` at the start of `+CLIP` / `+CCWA`; a missing or empty
/// type defaults to 129, a malformed one fails.
fn number_and_toa(f: &[Field]) -> Option<(String, u8)> {
    let raw = f.first()?;
    let toa = match f.get(1) {
        None => 129,
        Some(t) if t.text.is_empty() => 129,
        Some(t) => t.as_u8()?,
    };
    Some((normalise_number(&raw.text, Some(toa)), toa))
}

fn parse_clip_rest(rest: &str) -> Option<Urc> {
    let f = split_fields(rest);
    let (number, toa) = number_and_toa(&f)?;
    Some(Urc::Clip {
        number,
        toa,
        alpha: f.get(4).and_then(Field::non_empty),
        validity: f.get(5).and_then(Field::as_u8),
    })
}

fn parse_qind(line: &str, rest: &str) -> Urc {
    let f = split_fields(rest);
    let other = || Urc::Other(line.to_owned());
    let Some(first) = f.first() else {
        return other();
    };
    let key = first.text.to_ascii_lowercase();
    match key.as_str() {
        "sms done" => Urc::SmsDone,
        "pb done" => Urc::PbDone,
        "ccinfo" => f
            .get(1..)
            .and_then(|r| clcc_from_fields(r, true))
            .map_or_else(other, Urc::QindCcinfo),
        "csq" => match (
            f.get(1).and_then(Field::as_u8),
            f.get(2).and_then(Field::as_u8),
        ) {
            (Some(rssi), Some(ber)) => Urc::QindCsq { rssi, ber },
            _ => other(),
        },
        _ => other(),
    }
}

/// Recognises an unsolicited result code. Returns `None` when the line is
/// not a known URC. A known prefix whose parameters do not parse yields
/// [`Urc::Other`] with the line, so that no URC is lost.
///
/// This looks at the line alone: it does not know about the command in
/// flight, so it reports `+CLCC:`, `+CREG:`, `+CSQ:` or `NO CARRIER` as
/// URCs even where they answer a command. Use [`super::classify()`] for
/// that decision.
pub fn parse_urc(line: &str) -> Option<Urc> {
    let l = line.trim();
    if l.is_empty() {
        return None;
    }
    let other = || Urc::Other(l.to_owned());
    let is = |w: &str| l.eq_ignore_ascii_case(w);

    if is("RING") {
        return Some(Urc::Ring);
    }
    if is("NO CARRIER") {
        return Some(Urc::NoCarrier);
    }
    if is("BUSY") {
        return Some(Urc::Busy);
    }
    if is("NO ANSWER") {
        return Some(Urc::NoAnswer);
    }
    if is("RDY") {
        return Some(Urc::Rdy);
    }
    if is("SMS DONE") {
        return Some(Urc::SmsDone);
    }
    if is("PB DONE") {
        return Some(Urc::PbDone);
    }
    if is("VOICE CALL: BEGIN") {
        return Some(Urc::VoiceCallBegin);
    }
    if UNTYPED_URC_LINES.iter().any(|w| is(w)) {
        return Some(other());
    }
    if let Some(rest) = strip_prefix_ci(l, "VOICE CALL: END") {
        let d = rest.trim_start_matches(':').trim();
        return Some(Urc::VoiceCallEnd {
            duration: (!d.is_empty()).then(|| d.to_owned()),
        });
    }
    if let Some(rest) = strip_prefix_ci(l, "MISSED_CALL:") {
        return Some(match rest.split_whitespace().last() {
            Some(n) => Urc::MissedCall(n.to_owned()),
            None => other(),
        });
    }
    if let Some(rest) = strip_prefix_ci(l, "+CRING:") {
        let t = rest.trim();
        return Some(if t.is_empty() {
            other()
        } else {
            Urc::CRing(t.to_owned())
        });
    }
    if let Some(rest) = strip_prefix_ci(l, "+CLIP:") {
        return Some(parse_clip_rest(rest).unwrap_or_else(other));
    }
    if let Some(rest) = strip_prefix_ci(l, "+CCWA:") {
        let f = split_fields(rest);
        return Some(match number_and_toa(&f) {
            Some((number, toa)) if f.first().is_some_and(|x| x.quoted) => Urc::Ccwa { number, toa },
            _ => other(),
        });
    }
    if let Some(rest) = strip_prefix_ci(l, "+CLCC:") {
        return Some(clcc_from_fields(&split_fields(rest), false).map_or_else(other, Urc::Clcc));
    }
    if let Some((kind, rest)) = RegKind::strip(l) {
        return Some(
            reg_from_fields(kind, &split_fields(rest), false).map_or_else(other, |r| Urc::Creg {
                kind: r.kind,
                stat: r.stat,
                lac: r.lac,
                ci: r.ci,
                act: r.act,
            }),
        );
    }
    if let Some(rest) = strip_prefix_ci(l, "+CMTI:") {
        let f = split_fields(rest);
        return Some(
            match (
                f.first().map(|m| m.text.clone()),
                f.get(1).and_then(Field::as_u32),
            ) {
                (Some(mem), Some(index)) => Urc::Cmti { mem, index },
                _ => other(),
            },
        );
    }
    if let Some(rest) = strip_prefix_ci(l, "+CPIN:") {
        let s = rest.trim().trim_matches('"').trim();
        return Some(if s.is_empty() {
            other()
        } else {
            Urc::CpinState(s.to_owned())
        });
    }
    if let Some(rest) = strip_prefix_ci(l, "+QIND:") {
        return Some(parse_qind(l, rest));
    }
    if let Some(rest) = strip_prefix_ci(l, "+CSQ:") {
        return Some(csq_fields(rest).map_or_else(other, |(rssi, ber)| Urc::Csq { rssi, ber }));
    }
    if let Some(rest) = strip_prefix_ci(l, "+QTONEDET:") {
        let code = split_fields(rest).first().and_then(Field::as_u8);
        let c = code.map(char::from).filter(|c| is_dtmf(*c));
        return Some(c.map_or_else(other, Urc::QToneDet));
    }
    if let Some(rest) = strip_prefix_ci(l, "+RXDTMF:").or_else(|| strip_prefix_ci(l, "+DTMF:")) {
        let key = split_fields(rest)
            .first()
            .and_then(|f| dtmf_from_key(&f.text));
        return Some(key.map_or_else(other, Urc::RxDtmf));
    }
    if UNTYPED_URC_PREFIXES
        .iter()
        .any(|p| strip_prefix_ci(l, p).is_some())
    {
        return Some(other());
    }
    None
}

/// Prefixes (with colon) that [`parse_urc`] types.
const TYPED_URC_PREFIXES: &[&str] = &[
    "+CRING:",
    "+CLIP:",
    "+CCWA:",
    "+CLCC:",
    "+CREG:",
    "+CGREG:",
    "+CEREG:",
    "+C5GREG:",
    "+CMTI:",
    "+CPIN:",
    "+QIND:",
    "+CSQ:",
    "+QTONEDET:",
    "+RXDTMF:",
    "+DTMF:",
];

/// True when `prefix` (e.g. `"+CLCC:"`, ASCII case-insensitive) is one that
/// [`parse_urc`] recognises as unsolicited, typed or not.
pub(crate) fn is_urc_prefix(prefix: &str) -> bool {
    TYPED_URC_PREFIXES
        .iter()
        .chain(UNTYPED_URC_PREFIXES)
        .any(|p| p.eq_ignore_ascii_case(prefix))
}
