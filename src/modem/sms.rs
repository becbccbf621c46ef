//! SMS PDU codec (3GPP TS 23.040 / 23.038), pure.
//!
//! * [`encode_submit`]: text → one or more SMS-SUBMIT PDUs (hex, with a zero SMSC
//!   length so the SIM's SMSC is used). GSM 7-bit default alphabet with the extension
//!   table when every character is representable, UCS2 otherwise; a concatenated
//!   message (UDH IEI 0x00, 8-bit reference) when the text does not fit one PDU. Parts
//!   never split an escape sequence or a surrogate pair.
//! * [`decode_deliver`]: an SMS-DELIVER PDU (as read with `AT+CMGR` in PDU mode) →
//!   originator (numeric or alphanumeric), service-centre timestamp with time zone,
//!   text (7-bit, UCS2 or 8-bit) and concatenation info.
//! * [`encode_deliver`] / [`decode_submit`]: the other direction of each, used by the
//!   simulated modem (the network side) and by the round-trip tests.
//!
//! No I/O and no panics on any input.

use std::fmt;

/// Single-part capacity in septets (7-bit).
const GSM7_SINGLE: usize = 160;
/// Per-part capacity in septets with a 6-octet concatenation UDH.
const GSM7_MULTI: usize = 153;
/// Single-part capacity in UTF-16 code units (UCS2).
const UCS2_SINGLE: usize = 70;
/// Per-part capacity in UTF-16 code units with a concatenation UDH.
const UCS2_MULTI: usize = 67;
/// Relative validity period: 0xAA = 4 days.
const VALIDITY_4_DAYS: u8 = 0xAA;
/// Escape to the extension table.
const GSM7_ESC: u8 = 0x1B;

/// The GSM 03.38 default alphabet, indexed by septet (0x1B is the escape, shown as
/// U+00A0 here and never matched when encoding).
const GSM7_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{A0}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: (septet after ESC, character).
const GSM7_EXT: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// What can go wrong with an SMS PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// The destination is not a phone number.
    #[error("invalid destination number `{0}`: digits with an optional leading +, 1 to 20 digits")]
    BadNumber(String),
    /// More than 255 parts would be needed.
    #[error("text too long: it needs more than 255 SMS parts")]
    TooLong,
    /// The PDU is not valid hex or ends early.
    #[error("malformed PDU: {0}")]
    Malformed(&'static str),
    /// The PDU is not of the expected type.
    #[error("not an SMS-{expected} PDU (TP-MTI {mti})")]
    WrongType {
        /// The type that was expected.
        expected: &'static str,
        /// The TP-MTI found.
        mti: u8,
    },
    /// Compressed user data (TS 23.042) is not supported.
    #[error("compressed SMS user data is not supported")]
    Compressed,
}

/// Text encoding of the user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet (DCS 0x00).
    Gsm7,
    /// 8-bit data (shown as Latin-1).
    Eight,
    /// UCS2 / UTF-16 (DCS 0x08).
    Ucs2,
}

/// Concatenation info from the user data header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Concat {
    /// Reference number shared by all parts (8- or 16-bit).
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
    /// This part's sequence number (1-based).
    pub seq: u8,
}

/// One encoded SMS-SUBMIT part, ready for `AT+CMGS=<tpdu_len>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitPdu {
    /// The whole PDU in hex, including the leading `00` SMSC length.
    pub hex: String,
    /// TPDU length in octets (without the SMSC part): the `AT+CMGS` argument.
    pub tpdu_len: usize,
}

/// Service-centre timestamp (local time of the SMSC and its offset from UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmsTimestamp {
    /// Full year (two-digit years are taken as 20xx).
    pub year: u16,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
    /// Offset from UTC in quarters of an hour.
    pub tz_quarters: i8,
}

impl fmt::Display for SmsTimestamp {
    /// RFC 3339: `2024-05-01T12:34:56+02:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = i32::from(self.tz_quarters);
        let sign = if q < 0 { '-' } else { '+' };
        let mins = q.abs() * 15;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            mins / 60,
            mins % 60
        )
    }
}

impl serde::Serialize for SmsTimestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A decoded SMS-DELIVER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// Originator: E.164 with `+` when international, digits otherwise, or the
    /// alphanumeric sender name.
    pub from: String,
    /// Service-centre timestamp.
    pub timestamp: SmsTimestamp,
    /// Text of this part.
    pub text: String,
    /// Encoding of the user data.
    pub alphabet: Alphabet,
    /// Concatenation info when this is one part of a longer message.
    pub concat: Option<Concat>,
}

/// A decoded SMS-SUBMIT (what the simulated network receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    /// Destination (with `+` when international).
    pub to: String,
    /// Message reference.
    pub reference: u8,
    /// Text of this part.
    pub text: String,
    /// Encoding of the user data.
    pub alphabet: Alphabet,
    /// Concatenation info.
    pub concat: Option<Concat>,
}

fn gsm7_septets(c: char) -> Option<Vec<u8>> {
    if c != '\u{A0}' {
        if let Some(i) = GSM7_BASIC.iter().position(|&b| b == c) {
            return Some(vec![i as u8]);
        }
    }
    GSM7_EXT
        .iter()
        .find(|(_, e)| *e == c)
        .map(|(s, _)| vec![GSM7_ESC, *s])
}

/// One text unit that must stay in one part: a character's septets or UTF-16 units.
enum Units {
    Gsm7(Vec<Vec<u8>>),
    Ucs2(Vec<Vec<u16>>),
}

fn units_of(text: &str) -> Units {
    let gsm: Option<Vec<Vec<u8>>> = text.chars().map(gsm7_septets).collect();
    match gsm {
        Some(g) => Units::Gsm7(g),
        None => Units::Ucs2(
            text.chars()
                .map(|c| {
                    let mut b = [0u16; 2];
                    c.encode_utf16(&mut b).to_vec()
                })
                .collect(),
        ),
    }
}

/// Splits units into parts of at most `single` (when everything fits) or `multi`
/// units, never splitting one character.
fn split<T: Clone>(chars: &[Vec<T>], single: usize, multi: usize) -> Vec<Vec<T>> {
    let total: usize = chars.iter().map(Vec::len).sum();
    if total <= single {
        return vec![chars.iter().flatten().cloned().collect()];
    }
    let mut parts: Vec<Vec<T>> = vec![Vec::new()];
    for c in chars {
        let fits = parts.last().is_some_and(|p| p.len() + c.len() <= multi);
        if !fits {
            parts.push(Vec::new());
        }
        if let Some(p) = parts.last_mut() {
            p.extend_from_slice(c);
        }
    }
    parts
}

/// Encoded user data of one part: (DCS, UDL, UD octets).
struct UserData {
    dcs: u8,
    udl: u8,
    ud: Vec<u8>,
    udhi: bool,
}

fn concat_udh(reference: u8, total: u8, seq: u8) -> [u8; 6] {
    [0x05, 0x00, 0x03, reference, total, seq]
}

/// Packs septets LSB-first starting at bit `start_bits` of the user data.
fn pack_septets(prefix: &[u8], septets: &[u8]) -> (Vec<u8>, usize) {
    let start_bits = prefix.len() * 8;
    // the septet stream starts on a septet boundary after the header (fill bits)
    let start_septets = start_bits.div_ceil(7);
    let total_septets = start_septets + septets.len();
    let mut out = vec![0u8; (total_septets * 7).div_ceil(8)];
    out[..prefix.len()].copy_from_slice(prefix);
    for (i, &s) in septets.iter().enumerate() {
        let bit = (start_septets + i) * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let s = u16::from(s & 0x7F) << shift;
        out[byte] |= (s & 0xFF) as u8;
        if shift > 1 {
            out[byte + 1] |= (s >> 8) as u8;
        }
    }
    (out, total_septets)
}

fn user_data(text: &str, reference: u8) -> Result<Vec<UserData>, SmsError> {
    match units_of(text) {
        Units::Gsm7(chars) => {
            let parts = split(&chars, GSM7_SINGLE, GSM7_MULTI);
            let total = u8::try_from(parts.len()).map_err(|_| SmsError::TooLong)?;
            Ok(parts
                .iter()
                .enumerate()
                .map(|(i, septets)| {
                    let udh = if total > 1 {
                        concat_udh(reference, total, i as u8 + 1).to_vec()
                    } else {
                        Vec::new()
                    };
                    let (ud, udl) = pack_septets(&udh, septets);
                    UserData {
                        dcs: 0x00,
                        udl: udl as u8,
                        ud,
                        udhi: total > 1,
                    }
                })
                .collect())
        }
        Units::Ucs2(chars) => {
            let parts = split(&chars, UCS2_SINGLE, UCS2_MULTI);
            let total = u8::try_from(parts.len()).map_err(|_| SmsError::TooLong)?;
            Ok(parts
                .iter()
                .enumerate()
                .map(|(i, units)| {
                    let mut ud = if total > 1 {
                        concat_udh(reference, total, i as u8 + 1).to_vec()
                    } else {
                        Vec::new()
                    };
                    for u in units {
                        ud.extend_from_slice(&u.to_be_bytes());
                    }
                    UserData {
                        dcs: 0x08,
                        udl: ud.len() as u8,
                        ud,
                        udhi: total > 1,
                    }
                })
                .collect())
        }
    }
}

/// Address field: length in digits, type of address, swapped semi-octets.
fn encode_address(number: &str) -> Result<Vec<u8>, SmsError> {
    let n = number.trim();
    let (intl, digits) = match n.strip_prefix('+') {
        Some(d) => (true, d),
        None => (false, n),
    };
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SmsError::BadNumber(number.to_owned()));
    }
    let mut out = vec![digits.len() as u8, if intl { 0x91 } else { 0x81 }];
    for pair in digits.as_bytes().chunks(2) {
        let lo = pair[0] - b'0';
        let hi = pair.get(1).map_or(0x0F, |d| d - b'0');
        out.push(hi << 4 | lo);
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Encodes `text` to `number` as SMS-SUBMIT PDUs (one per part). `reference` is the
/// concatenation reference shared by the parts (pick a new one per message).
pub fn encode_submit(number: &str, text: &str, reference: u8) -> Result<Vec<SubmitPdu>, SmsError> {
    let da = encode_address(number)?;
    let parts = user_data(text, reference)?;
    Ok(parts
        .into_iter()
        .map(|p| {
            // TP-MTI 01 (submit), TP-VPF 10 (relative), TP-UDHI when concatenated
            let first = 0x11 | if p.udhi { 0x40 } else { 0 };
            let mut tpdu = vec![first, 0x00];
            tpdu.extend_from_slice(&da);
            tpdu.extend_from_slice(&[0x00, p.dcs, VALIDITY_4_DAYS, p.udl]);
            tpdu.extend_from_slice(&p.ud);
            SubmitPdu {
                hex: format!("00{}", hex(&tpdu)),
                tpdu_len: tpdu.len(),
            }
        })
        .collect())
}

fn bcd_swapped(v: u8) -> u8 {
    ((v % 10) << 4) | (v / 10 % 10)
}

/// Encodes SMS-DELIVER PDUs (with a zero SMSC length) as the network would deliver
/// `text` from `from` (a number, or an alphanumeric sender of up to 11 characters).
pub fn encode_deliver(
    from: &str,
    text: &str,
    timestamp: SmsTimestamp,
    reference: u8,
) -> Result<Vec<String>, SmsError> {
    let oa = match encode_address(from) {
        Ok(a) => a,
        Err(e) => {
            // alphanumeric sender: packed GSM 7-bit, length in semi-octets
            let septets: Option<Vec<u8>> = from
                .chars()
                .map(|c| gsm7_septets(c).filter(|s| s.len() == 1).map(|s| s[0]))
                .collect();
            let septets = septets
                .filter(|s| !s.is_empty() && s.len() <= 11)
                .ok_or(e)?;
            let (packed, _) = pack_septets(&[], &septets);
            let mut a = vec![(septets.len() * 7).div_ceil(4) as u8, 0xD0];
            a.extend_from_slice(&packed);
            a
        }
    };
    let parts = user_data(text, reference)?;
    let tz = timestamp.tz_quarters.unsigned_abs();
    let tz_octet = bcd_swapped(tz) | if timestamp.tz_quarters < 0 { 0x08 } else { 0 };
    let scts = [
        bcd_swapped((timestamp.year % 100) as u8),
        bcd_swapped(timestamp.month),
        bcd_swapped(timestamp.day),
        bcd_swapped(timestamp.hour),
        bcd_swapped(timestamp.minute),
        bcd_swapped(timestamp.second),
        tz_octet,
    ];
    Ok(parts
        .into_iter()
        .map(|p| {
            // TP-MTI 00 (deliver), TP-MMS (no more messages), TP-UDHI when concatenated
            let first = 0x04 | if p.udhi { 0x40 } else { 0 };
            let mut tpdu = vec![0x00, first];
            tpdu.extend_from_slice(&oa);
            tpdu.extend_from_slice(&[0x00, p.dcs]);
            tpdu.extend_from_slice(&scts);
            tpdu.push(p.udl);
            tpdu.extend_from_slice(&p.ud);
            hex(&tpdu)
        })
        .collect())
}

/// A cursor over PDU octets that never panics.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, SmsError> {
        let v = *self
            .b
            .get(self.pos)
            .ok_or(SmsError::Malformed("PDU ends early"))?;
        self.pos += 1;
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SmsError> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(SmsError::Malformed("PDU ends early"))?;
        self.pos += n;
        Ok(s)
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or(&[])
    }
}

fn unhex(s: &str) -> Result<Vec<u8>, SmsError> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return Err(SmsError::Malformed("odd number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or(SmsError::Malformed("not hex"))
        })
        .collect()
}

fn unpack_septets(bytes: &[u8], skip_septets: usize, count: usize) -> Vec<u8> {
    (skip_septets..count)
        .filter_map(|i| {
            let bit = i * 7;
            let (byte, shift) = (bit / 8, bit % 8);
            let lo = u16::from(*bytes.get(byte)?);
            let hi = u16::from(bytes.get(byte + 1).copied().unwrap_or(0));
            Some((((hi << 8 | lo) >> shift) & 0x7F) as u8)
        })
        .collect()
}

fn gsm7_decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut it = septets.iter();
    while let Some(&s) = it.next() {
        if s == GSM7_ESC {
            // a trailing lone escape is dropped
            if let Some(&e) = it.next() {
                match GSM7_EXT.iter().find(|(k, _)| *k == e) {
                    Some((_, c)) => out.push(*c),
                    // unknown extension: show the basic character (23.038)
                    None => out.push(GSM7_BASIC.get(usize::from(e)).copied().unwrap_or('?')),
                }
            }
        } else {
            out.push(GSM7_BASIC.get(usize::from(s)).copied().unwrap_or('?'));
        }
    }
    out
}

fn decode_address(r: &mut Reader<'_>) -> Result<String, SmsError> {
    let len = usize::from(r.u8()?);
    let toa = r.u8()?;
    let octets = r.take(len.div_ceil(2))?;
    if toa & 0x70 == 0x50 {
        let septets = unpack_septets(octets, 0, len * 4 / 7);
        return Ok(gsm7_decode(&septets));
    }
    let mut s = String::new();
    if toa & 0x70 == 0x10 {
        s.push('+');
    }
    for o in octets {
        for nib in [o & 0x0F, o >> 4] {
            match nib {
                0..=9 => s.push(char::from(b'0' + nib)),
                0x0A => s.push('*'),
                0x0B => s.push('#'),
                0x0C..=0x0E => s.push(char::from(b'a' + nib - 0x0C)),
                _ => {}
            }
        }
    }
    Ok(s)
}

fn alphabet_of(dcs: u8) -> Result<Alphabet, SmsError> {
    match dcs >> 4 {
        // general data coding / automatic deletion groups
        0x0..=0x7 => {
            if dcs & 0x20 != 0 {
                return Err(SmsError::Compressed);
            }
            Ok(match (dcs >> 2) & 0x03 {
                1 => Alphabet::Eight,
                2 => Alphabet::Ucs2,
                _ => Alphabet::Gsm7,
            })
        }
        // message waiting, UCS2 group
        0xE => Ok(Alphabet::Ucs2),
        // data coding / message class
        0xF => Ok(if dcs & 0x04 != 0 {
            Alphabet::Eight
        } else {
            Alphabet::Gsm7
        }),
        _ => Ok(Alphabet::Gsm7),
    }
}

fn parse_udh(udh: &[u8]) -> Option<Concat> {
    let mut i = 0;
    let mut found = None;
    while let (Some(&iei), Some(&len)) = (udh.get(i), udh.get(i + 1)) {
        let data = udh.get(i + 2..i + 2 + usize::from(len))?;
        match (iei, data) {
            (0x00, [r, t, s]) => {
                found = Some(Concat {
                    reference: u16::from(*r),
                    total: *t,
                    seq: *s,
                })
            }
            (0x08, [r1, r2, t, s]) => {
                found = Some(Concat {
                    reference: u16::from_be_bytes([*r1, *r2]),
                    total: *t,
                    seq: *s,
                })
            }
            _ => {}
        }
        i += 2 + usize::from(len);
    }
    found.filter(|c| c.total > 0 && c.seq > 0 && c.seq <= c.total)
}

fn decode_user_data(
    r: &mut Reader<'_>,
    alphabet: Alphabet,
    udhi: bool,
) -> Result<(String, Option<Concat>), SmsError> {
    let udl = usize::from(r.u8()?);
    let ud = r.rest();
    let (udh_len, concat) = if udhi {
        let l = usize::from(*ud.first().ok_or(SmsError::Malformed("UDH missing"))?) + 1;
        let h = ud
            .get(1..l)
            .ok_or(SmsError::Malformed("UDH longer than UD"))?;
        (l, parse_udh(h))
    } else {
        (0, None)
    };
    let text = match alphabet {
        Alphabet::Gsm7 => {
            if ud.len() < (udl * 7).div_ceil(8) {
                return Err(SmsError::Malformed("user data shorter than its length"));
            }
            let skip = (udh_len * 8).div_ceil(7);
            gsm7_decode(&unpack_septets(ud, skip, udl))
        }
        Alphabet::Ucs2 | Alphabet::Eight => {
            let body = ud
                .get(udh_len..udl)
                .ok_or(SmsError::Malformed("user data shorter than its length"))?;
            if alphabet == Alphabet::Eight {
                body.iter().map(|&b| char::from(b)).collect()
            } else {
                let units: Vec<u16> = body
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
                    .collect();
                String::from_utf16_lossy(&units)
            }
        }
    };
    Ok((text, concat))
}

fn skip_smsc(r: &mut Reader<'_>) -> Result<(), SmsError> {
    let l = usize::from(r.u8()?);
    r.take(l)?;
    Ok(())
}

fn from_bcd(b: u8) -> u8 {
    (b & 0x0F) * 10 + (b >> 4)
}

/// Decodes an SMS-DELIVER PDU in hex, including the leading SMSC information (as
/// `AT+CMGR` gives it in PDU mode).
pub fn decode_deliver(pdu_hex: &str) -> Result<Deliver, SmsError> {
    let bytes = unhex(pdu_hex)?;
    let mut r = Reader { b: &bytes, pos: 0 };
    skip_smsc(&mut r)?;
    let first = r.u8()?;
    if first & 0x03 != 0 {
        return Err(SmsError::WrongType {
            expected: "DELIVER",
            mti: first & 0x03,
        });
    }
    let from = decode_address(&mut r)?;
    let _pid = r.u8()?;
    let alphabet = alphabet_of(r.u8()?)?;
    let ts = r.take(7)?;
    let tz = ts[6];
    let q = ((tz & 0x07) * 10 + (tz >> 4)) as i8;
    let timestamp = SmsTimestamp {
        year: 2000 + u16::from(from_bcd(ts[0])),
        month: from_bcd(ts[1]),
        day: from_bcd(ts[2]),
        hour: from_bcd(ts[3]),
        minute: from_bcd(ts[4]),
        second: from_bcd(ts[5]),
        tz_quarters: if tz & 0x08 != 0 { -q } else { q },
    };
    let (text, concat) = decode_user_data(&mut r, alphabet, first & 0x40 != 0)?;
    Ok(Deliver {
        from,
        timestamp,
        text,
        alphabet,
        concat,
    })
}

/// Decodes an SMS-SUBMIT PDU in hex, including the leading SMSC information.
pub fn decode_submit(pdu_hex: &str) -> Result<Submit, SmsError> {
    let bytes = unhex(pdu_hex)?;
    let mut r = Reader { b: &bytes, pos: 0 };
    skip_smsc(&mut r)?;
    let first = r.u8()?;
    if first & 0x03 != 0x01 {
        return Err(SmsError::WrongType {
            expected: "SUBMIT",
            mti: first & 0x03,
        });
    }
    let reference = r.u8()?;
    let to = decode_address(&mut r)?;
    let _pid = r.u8()?;
    let alphabet = alphabet_of(r.u8()?)?;
    match (first >> 3) & 0x03 {
        0 => {}
        2 => {
            r.u8()?;
        }
        _ => {
            r.take(7)?;
        }
    }
    let (text, concat) = decode_user_data(&mut r, alphabet, first & 0x40 != 0)?;
    Ok(Submit {
        to,
        reference,
        text,
        alphabet,
        concat,
    })
}

/// Joins the parts of a concatenated message in sequence order. Returns `None` until
/// every part `1..=total` is present.
pub fn reassemble(parts: &[(u8, String)], total: u8) -> Option<String> {
    (1..=total)
        .map(|seq| {
            parts
                .iter()
                .find(|(s, _)| *s == seq)
                .map(|(_, t)| t.as_str())
        })
        .collect::<Option<Vec<&str>>>()
        .map(|v| v.concat())
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    #[test]
    fn hellohello_matches_the_classic_23040_layout() {
        // 00 SMSC from SIM | 11 SUBMIT, VPF relative | 00 MR | 0B 91 6407281553F8 DA
        // +46708251358 | 00 PID | 00 DCS | AA VP 4 days | 0A UDL | packed "hellohello"
        let p = encode_submit("+46708251358", "hellohello", 0).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].hex, "0011000B916407281553F80000AA0AE8329BFD4697D9EC37");
        assert_eq!(p[0].tpdu_len, 23);
        let s = decode_submit(&p[0].hex).unwrap();
        assert_eq!(s.to, "+46708251358");
        assert_eq!(s.text, "hellohello");
    }

    #[test]
    fn national_number_and_extension_table() {
        let p = encode_submit("0170123", "[€]", 0).unwrap();
        // 7 digits, type 81, 10 07 21 F3 → "0170123"; 6 septets: ESC 3C ESC 65 ESC 3E
        assert!(
            p[0].hex
                .starts_with("0011000781100721F30000AA061BDEA6BCF101"),
            "{}",
            p[0].hex
        );
        assert_eq!(decode_submit(&p[0].hex).unwrap().text, "[€]");
        assert!(encode_submit("12ab", "x", 0).is_err());
        assert!(encode_submit("", "x", 0).is_err());
    }

    #[test]
    fn ucs2_for_non_gsm_text() {
        let p = encode_submit("+4917012345", "Привет", 0).unwrap();
        let s = decode_submit(&p[0].hex).unwrap();
        assert_eq!(s.alphabet, Alphabet::Ucs2);
        assert!(p[0].hex.contains("0008AA0C041F04400438"), "{}", p[0].hex);
        assert_eq!(s.text, "Привет");
    }

    #[test]
    fn concatenation_limits_and_no_split_escape_or_surrogate() {
        assert_eq!(encode_submit("+1", &"a".repeat(160), 0).unwrap().len(), 1);
        let p = encode_submit("+1", &"a".repeat(161), 7).unwrap();
        assert_eq!(p.len(), 2);
        let s1 = decode_submit(&p[0].hex).unwrap();
        assert_eq!(
            s1.concat,
            Some(Concat {
                reference: 7,
                total: 2,
                seq: 1
            })
        );
        assert_eq!(s1.text.len(), 153);
        // 152 plain + '€' (2 septets) must move the escape whole to part 2
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let p = encode_submit("+1", &text, 1).unwrap();
        let parts: Vec<Submit> = p.iter().map(|x| decode_submit(&x.hex).unwrap()).collect();
        assert_eq!(parts[0].text, "a".repeat(152));
        assert!(parts[1].text.starts_with('€'));
        // UCS2: 66 units + an emoji (surrogate pair) → the pair goes to part 2
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
        let p = encode_submit("+1", &text, 1).unwrap();
        let parts: Vec<Submit> = p.iter().map(|x| decode_submit(&x.hex).unwrap()).collect();
        assert_eq!(parts[0].text, "ж".repeat(66));
        assert!(parts[1].text.starts_with('😀'));
        assert_eq!(
            reassemble(
                &parts
                    .iter()
                    .map(|p| (p.concat.unwrap().seq, p.text.clone()))
                    .collect::<Vec<_>>(),
                2
            ),
            Some(text)
        );
    }

    #[test]
    fn decodes_a_real_world_deliver() {
        // The widely reproduced dreamfabric SMS-DELIVER example: SMSC +27381000015,
        // originator 27838890001 (TOA C8, not international), SCTS 99-03-29
        // 15:16:59 with TZ octet 80 (8 quarters = +02:00), "hellohello" in 7-bit
        let d = decode_deliver(
            "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
        );
        let d = d.unwrap();
        assert_eq!(d.from, "27838890001");
        assert_eq!(d.alphabet, Alphabet::Gsm7);
        assert_eq!(d.text, "hellohello");
        assert_eq!(d.timestamp.to_string(), "2099-03-29T15:16:59+02:00");
    }

    #[test]
    fn alphanumeric_sender_and_negative_timezone() {
        let ts = SmsTimestamp {
            year: 2024,
            month: 5,
            day: 1,
            hour: 12,
            minute: 34,
            second: 56,
            tz_quarters: -20,
        };
        let pdus = encode_deliver("Alerts", "hi {x}", ts, 0).unwrap();
        let d = decode_deliver(&pdus[0]).unwrap();
        assert_eq!(d.from, "Alerts");
        assert_eq!(d.text, "hi {x}");
        assert_eq!(d.timestamp, ts);
        assert_eq!(d.timestamp.to_string(), "2024-05-01T12:34:56-05:00");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "0",
            "zz",
            "00",
            "0004",
            "0040",
            "07917283010010F504",
            "00FF",
        ] {
            assert!(decode_deliver(bad).is_err(), "{bad}");
            assert!(decode_submit(bad).is_err(), "{bad}");
        }
        // SUBMIT given to the DELIVER decoder
        let p = encode_submit("+1", "x", 0).unwrap();
        assert!(matches!(
            decode_deliver(&p[0].hex),
            Err(SmsError::WrongType { .. })
        ));
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn text_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            // GSM alphabet including the extension table
            proptest::collection::vec(
                proptest::sample::select(
                    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCZÄÖÑÜ§¿abcxyzäöñüà^{}\\[~]|€\u{0C}"
                        .chars()
                        .collect::<Vec<_>>()
                ),
                0..400
            )
            .prop_map(|v| v.into_iter().collect()),
            // anything
            proptest::collection::vec(any::<char>(), 0..200).prop_map(|v| v.into_iter().collect()),
        ]
    }

    proptest! {
        #[test]
        fn submit_and_deliver_round_trip(text in text_strategy(), reference in any::<u8>()) {
            let parts = encode_submit("+491701234567", &text, reference).unwrap();
            let mut got = Vec::new();
            for p in &parts {
                prop_assert_eq!(p.hex.len() / 2, p.tpdu_len + 1);
                let s = decode_submit(&p.hex).unwrap();
                prop_assert_eq!(s.to.as_str(), "+491701234567");
                got.push((s.concat.map_or(1, |c| c.seq), s.text));
            }
            prop_assert_eq!(reassemble(&got, parts.len() as u8), Some(text.clone()));

            let ts = SmsTimestamp { year: 2025, month: 12, day: 31, hour: 23, minute: 59, second: 58, tz_quarters: 4 };
            let pdus = encode_deliver("+15550001111", &text, ts, reference).unwrap();
            prop_assert_eq!(pdus.len(), parts.len());
            let mut got = Vec::new();
            for h in &pdus {
                let d = decode_deliver(h).unwrap();
                prop_assert_eq!(d.timestamp, ts);
                prop_assert_eq!(d.from.as_str(), "+15550001111");
                got.push((d.concat.map_or(1, |c| c.seq), d.text));
            }
            prop_assert_eq!(reassemble(&got, pdus.len() as u8), Some(text));
        }

        #[test]
        fn every_part_fits_140_octets(text in text_strategy()) {
            for p in encode_submit("+1", &text, 0).unwrap() {
                // SUBMIT header: 00 SMSC | first | MR | DA (2 + 1) | PID | DCS | VP | UDL
                let header = 1 + 1 + 1 + 3 + 1 + 1 + 1 + 1;
                prop_assert!(p.hex.len() / 2 - header <= 140, "{} octets of UD", p.hex.len() / 2 - header);
            }
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let h = hex(&bytes);
            let _ = decode_deliver(&h);
            let _ = decode_submit(&h);
        }
    }
}
