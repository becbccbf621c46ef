//! Shared helpers: case-insensitive prefixes and 27.007 parameter lists.

/// One comma-separated parameter of an information response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The text, without surrounding quotes and whitespace.
    pub text: String,
    /// Whether the parameter was a quoted string.
    pub quoted: bool,
}

impl Field {
    /// The text as `u8`, if it is a plain number in range.
    pub fn as_u8(&self) -> Option<u8> {
        parse_num(&self.text)
    }

    /// The text as `u16`, if it is a plain number in range.
    pub fn as_u16(&self) -> Option<u16> {
        parse_num(&self.text)
    }

    /// The text as `u32`, if it is a plain number in range.
    pub fn as_u32(&self) -> Option<u32> {
        parse_num(&self.text)
    }

    /// The text as `i32`, if it is a (possibly negative) number.
    pub fn as_i32(&self) -> Option<i32> {
        let t = self.text.strip_prefix('-').unwrap_or(&self.text);
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.text.parse().ok()
    }

    /// The text, or `None` if it is empty.
    pub fn non_empty(&self) -> Option<String> {
        if self.text.is_empty() {
            None
        } else {
            Some(self.text.clone())
        }
    }
}

/// Parses a number made of ASCII digits only (no sign, no spaces).
pub(crate) fn parse_num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Splits a 27.007 parameter list: `1,"a,b",,7` → `1`, `a,b` (quoted), ``,
/// `7`. Quoted strings may contain commas. Text between a closing quote
/// and the next comma is ignored. An all-whitespace input has no fields.
pub(crate) fn split_fields(s: &str) -> Vec<Field> {
    let mut out = Vec::new();
    if s.trim().is_empty() {
        return out;
    }
    let mut text = String::new();
    let mut quoted = false; // the field began with a quote
    let mut in_quotes = false; // inside the quoted string
    let mut after_quote = false; // closing quote seen: ignore until ','
    let mut started = false; // a non-space character was seen
    for c in s.chars() {
        if in_quotes {
            if c == '"' {
                in_quotes = false;
                after_quote = true;
            } else {
                text.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                out.push(make_field(std::mem::take(&mut text), quoted));
                quoted = false;
                after_quote = false;
                started = false;
            }
            _ if after_quote => {}
            '"' if !started => {
                quoted = true;
                in_quotes = true;
                started = true;
            }
            _ => {
                if started || !c.is_whitespace() {
                    started = true;
                    text.push(c);
                }
            }
        }
    }
    out.push(make_field(text, quoted));
    out
}

fn make_field(text: String, quoted: bool) -> Field {
    if quoted {
        Field { text, quoted }
    } else {
        Field {
            text: text.trim_end().to_owned(),
            quoted,
        }
    }
}

/// If `line` starts with `prefix` (ASCII case-insensitive), returns the
/// rest with leading whitespace removed.
pub(crate) fn strip_prefix_ci<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.as_bytes().get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix.as_bytes()) {
        return None;
    }
    line.get(prefix.len()..).map(str::trim_start)
}

/// Adds the international `+` when the type of address says so
/// (145 = international) and the number lacks it.
pub(crate) fn normalise_number(number: &str, toa: Option<u8>) -> String {
    if toa == Some(145) && !number.is_empty() && !number.starts_with('+') {
        format!("+{number}")
    } else {
        number.to_owned()
    }
}
