//! Call forwarding (`AT+CCFC`, 3GPP 27.007 §7.11): query, register and erase, used to
//! divert the SIM's number to a backup box.
//!
//! `AT+CCFC=<reason>,<mode>[,"<number>",<type>]`: reason 0 unconditional, 1 busy,
//! 2 no reply, 3 not reachable, 4 all, 5 all conditional; mode 2 query, 3 register,
//! 4 erase. A query answers `+CCFC: <status>,<class>[,"<number>",<type>]` per class.
//! Each is a network round trip of seconds (30 s timeout).

/// Why a call is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardReason {
    /// Always (0).
    Unconditional,
    /// When busy (1).
    Busy,
    /// When not answered (2).
    NoReply,
    /// When not reachable (3).
    NotReachable,
    /// All of them (4; set/erase only).
    All,
    /// All conditional ones: busy, no reply, not reachable (5; set/erase only).
    AllConditional,
}

impl ForwardReason {
    /// The 27.007 `<reason>` number.
    pub fn code(self) -> u8 {
        match self {
            ForwardReason::Unconditional => 0,
            ForwardReason::Busy => 1,
            ForwardReason::NoReply => 2,
            ForwardReason::NotReachable => 3,
            ForwardReason::All => 4,
            ForwardReason::AllConditional => 5,
        }
    }

    /// Parses `unconditional`, `busy`, `no-reply`, `not-reachable`, `all`,
    /// `all-conditional` (or the number 0-5).
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(
            match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "unconditional" | "0" => ForwardReason::Unconditional,
                "busy" | "1" => ForwardReason::Busy,
                "no-reply" | "no-answer" | "2" => ForwardReason::NoReply,
                "not-reachable" | "unreachable" | "3" => ForwardReason::NotReachable,
                "all" | "4" => ForwardReason::All,
                "all-conditional" | "5" => ForwardReason::AllConditional,
                _ => {
                    return Err(format!(
                        "unknown forwarding reason `{s}`: use unconditional, busy, no-reply, not-reachable, all or all-conditional"
                    ));
                }
            },
        )
    }
}

/// One forwarding rule as the network reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForwardRule {
    /// Whether forwarding is active for this class.
    pub active: bool,
    /// Bearer class bit mask (1 voice, 2 data, 4 fax, 8 SMS; 7 or 255 = all).
    pub class: u16,
    /// Target number (`+` added for type 145), when forwarded.
    pub number: Option<String>,
}

/// `AT+CCFC=<reason>,2`.
pub fn query_command(reason: ForwardReason) -> String {
    format!("AT+CCFC={},2", reason.code())
}

/// `AT+CCFC=<reason>,3,"<number>",<type>`; the number must be E.164 (`+` and digits)
/// or a national number (digits).
pub fn register_command(reason: ForwardReason, number: &str) -> Result<String, String> {
    let n = number.trim();
    let digits = n.strip_prefix('+').unwrap_or(n);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{number}` is not a phone number: write it in E.164 form, e.g. +491701234567"
        ));
    }
    let toa = if n.starts_with('+') { 145 } else { 129 };
    Ok(format!("AT+CCFC={},3,\"{digits}\",{toa}", reason.code()))
}

/// `AT+CCFC=<reason>,4`.
pub fn erase_command(reason: ForwardReason) -> String {
    format!("AT+CCFC={},4", reason.code())
}

/// Parses one `+CCFC: <status>,<class>[,"<number>",<type>]` line.
pub fn parse_ccfc(line: &str) -> Option<ForwardRule> {
    let t = line.trim();
    let rest = t
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("+CCFC:"))
        .and_then(|_| t.get(6..))?;
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    let f = |i: usize| fields.get(i).map(|s| s.trim()).filter(|s| !s.is_empty());
    let status: u8 = f(0)?.parse().ok()?;
    let class: u16 = f(1).map_or(Some(7), |c| c.parse().ok())?;
    let toa: Option<u8> = f(3).and_then(|t| t.parse().ok());
    let number = f(2).map(|n| {
        if toa == Some(145) && !n.starts_with('+') {
            format!("+{n}")
        } else {
            n.to_owned()
        }
    });
    Some(ForwardRule {
        active: status == 1,
        class,
        number,
    })
}

/// Rules from the lines of a query response (URC lines are never among them, see
/// [`crate::at::classify`]).
pub fn parse_rules(lines: &[String]) -> Vec<ForwardRule> {
    lines.iter().filter_map(|l| parse_ccfc(l)).collect()
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    #[test]
    fn commands_and_parsing() {
        assert_eq!(query_command(ForwardReason::Unconditional), "AT+CCFC=0,2");
        assert_eq!(
            register_command(ForwardReason::Busy, "+491701234567").unwrap(),
            "AT+CCFC=1,3,\"491701234567\",145"
        );
        assert_eq!(
            register_command(ForwardReason::NoReply, "01701234567").unwrap(),
            "AT+CCFC=2,3,\"01701234567\",129"
        );
        assert!(register_command(ForwardReason::All, "call me").is_err());
        assert_eq!(erase_command(ForwardReason::AllConditional), "AT+CCFC=5,4");
        assert_eq!(
            parse_ccfc("+CCFC: 1,1,\"491701234567\",145"),
            Some(ForwardRule {
                active: true,
                class: 1,
                number: Some("+491701234567".into())
            })
        );
        assert_eq!(
            parse_ccfc("+CCFC: 0,7"),
            Some(ForwardRule {
                active: false,
                class: 7,
                number: None
            })
        );
        assert_eq!(parse_ccfc("+CCFC: x"), None);
        assert_eq!(
            ForwardReason::parse("not_reachable"),
            Ok(ForwardReason::NotReachable)
        );
        assert!(ForwardReason::parse("sometimes").is_err());
    }
}
