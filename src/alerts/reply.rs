//! Responders answering by SMS, with short codes like GoAlert's: `12a` acknowledges
//! alert 12, `12c` closes it (also `12 ack`, `12 close`); a bare `ack` or `close` acts on
//! the newest open alert. Pure: anything else is `None` (logged and ignored by the
//! caller, never acted on).

/// What a reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyAction {
    /// Acknowledge (accept) the alert.
    Ack,
    /// Close (resolve) the alert.
    Close,
}

/// A parsed reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsReply {
    /// The alert id, or `None` for the newest open alert.
    pub alert: Option<i64>,
    /// What to do.
    pub action: ReplyAction,
}

fn action(word: &str) -> Option<ReplyAction> {
    match word {
        "a" | "ack" | "acknowledge" => Some(ReplyAction::Ack),
        "c" | "close" | "resolve" => Some(ReplyAction::Close),
        _ => None,
    }
}

/// Parses an SMS reply.
pub fn parse(text: &str) -> Option<SmsReply> {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() || t.len() > 40 {
        return None;
    }
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let rest = t[digits.len()..].trim();
    let action = action(rest)?;
    let alert = if digits.is_empty() {
        None
    } else {
        Some(digits.parse::<i64>().ok().filter(|n| *n > 0)?)
    };
    Some(SmsReply { alert, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let r = |a, action| Some(SmsReply { alert: a, action });
        assert_eq!(parse("1a"), r(Some(1), ReplyAction::Ack));
        assert_eq!(parse(" 12C "), r(Some(12), ReplyAction::Close));
        assert_eq!(parse("7 ack"), r(Some(7), ReplyAction::Ack));
        assert_eq!(parse("ACK"), r(None, ReplyAction::Ack));
        assert_eq!(parse("close"), r(None, ReplyAction::Close));
        for bad in [
            "",
            "hello",
            "1",
            "1x",
            "a1",
            "0a",
            "ok thanks",
            "99999999999999999999a",
            "1 a b",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
