//! Incoming calls (ringing, waiting, answered, held) and the `AT+CHLD` operations that
//! let a second call be handled. Outbound legs stay in the parent module; both share
//! [`super::LegId`] numbering.
//!
//! An incoming call becomes a leg when it is first seen: `RING` / `+CRING: VOICE`,
//! `+CLIP`, `+CCWA` (call waiting), a `+CLCC` row or Quectel `+QIND: "ccinfo"` with
//! direction 1. It is announced ([`super::ModemEvent::Incoming`]) once the caller ID is
//! known (`+CLIP`, or a `+CLCC`/ccinfo row with the number), or on the second ring
//! without one (caller ID withheld or `+CLIP` unsupported).

use super::LegId;
use crate::at::ClccRow;

/// Where an incoming call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InState {
    /// Ringing (no other call).
    Ringing,
    /// Waiting behind another call (`+CCWA`, CLCC stat 5).
    Waiting,
    /// `ATA` / `AT+CHLD=2` sent, not confirmed yet.
    Answering,
    /// Connected.
    Active,
    /// On hold.
    Held,
}

/// One incoming call.
#[derive(Debug, Clone)]
pub struct InCall {
    /// Its leg id.
    pub leg: LegId,
    /// Caller ID (E.164 with `+` when international), if known.
    pub number: Option<String>,
    /// The modem's call index (`+CLCC` `<id>`), once seen.
    pub index: Option<u8>,
    /// State.
    pub state: InState,
    /// [`super::ModemEvent::Incoming`] / `CallWaiting` was emitted.
    pub announced: bool,
    /// Rings seen before the announcement.
    pub rings: u32,
    /// Seen in a full `+CLCC` list (so its absence from one means it ended).
    pub seen_in_clcc: bool,
    /// Full `+CLCC` lists without it (before it was ever seen).
    pub missing_polls: u32,
}

impl InCall {
    /// A new incoming call in `state`.
    pub fn new(leg: LegId, state: InState) -> Self {
        Self {
            leg,
            number: None,
            index: None,
            state,
            announced: false,
            rings: 0,
            seen_in_clcc: false,
            missing_polls: 0,
        }
    }

    /// Whether `row` (direction 1) is this call: by index once known, else by
    /// number, else the only unmatched candidate.
    pub fn matches(&self, row: &ClccRow) -> bool {
        match (self.index, &self.number, &row.number) {
            (Some(i), _, _) => i == row.id,
            (None, Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

/// What a `+CLCC` row means for an incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// Connected (stat 0).
    Active,
    /// Held (stat 1).
    Held,
    /// Ringing (stat 4).
    Ringing,
    /// Waiting (stat 5).
    Waiting,
    /// Released (stat 6 / 7, vendor URC forms).
    Released,
    /// Dialing / alerting: not an incoming state.
    Other,
}

impl RowState {
    /// Maps a `+CLCC` `<stat>`.
    pub fn of(stat: u8) -> Self {
        match stat {
            0 => RowState::Active,
            1 => RowState::Held,
            4 => RowState::Ringing,
            5 => RowState::Waiting,
            6 | 7 => RowState::Released,
            _ => RowState::Other,
        }
    }
}

/// `AT+CHLD` operations (27.007 §7.13; the ones both vendors support reliably).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chld {
    /// `0`: release held calls, or reject the waiting call.
    ReleaseHeldOrWaiting,
    /// `1`: release active calls and accept the held or waiting one.
    ReleaseActiveAcceptOther,
    /// `1x`: release the call with this index.
    Release(u8),
    /// `2`: hold active calls and accept the held or waiting one (swap).
    HoldActiveAcceptOther,
    /// `2x`: hold all calls except this one (private consultation).
    HoldAllExcept(u8),
}

impl Chld {
    /// The command line.
    pub fn command(self) -> String {
        match self {
            Chld::ReleaseHeldOrWaiting => "AT+CHLD=0".into(),
            Chld::ReleaseActiveAcceptOther => "AT+CHLD=1".into(),
            Chld::Release(x) => format!("AT+CHLD=1{x}"),
            Chld::HoldActiveAcceptOther => "AT+CHLD=2".into(),
            Chld::HoldAllExcept(x) => format!("AT+CHLD=2{x}"),
        }
    }

    /// Parses `0`, `1`, `1x`, `2`, `2x` (x = call index 1-9).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad =
            || format!("`{s}` is not a call-hold operation: use 0, 1, 1<index>, 2 or 2<index>");
        let mut c = t.chars();
        let op = c.next().ok_or_else(bad)?;
        let idx = match c.as_str() {
            "" => None,
            r => Some(
                r.parse::<u8>()
                    .ok()
                    .filter(|i| (1..=9).contains(i))
                    .ok_or_else(bad)?,
            ),
        };
        Ok(match (op, idx) {
            ('0', None) => Chld::ReleaseHeldOrWaiting,
            ('1', None) => Chld::ReleaseActiveAcceptOther,
            ('1', Some(i)) => Chld::Release(i),
            ('2', None) => Chld::HoldActiveAcceptOther,
            ('2', Some(i)) => Chld::HoldAllExcept(i),
            _ => return Err(bad()),
        })
    }
}

/// True for a DTMF digit `AT+VTS` accepts.
pub fn is_dtmf_digit(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    #[test]
    fn chld_round_trip_and_errors() {
        for s in ["0", "1", "12", "2", "23"] {
            let c = Chld::parse(s).unwrap();
            assert_eq!(c.command(), format!("AT+CHLD={s}"));
        }
        assert!(Chld::parse("3").is_err());
        assert!(Chld::parse("1x").is_err());
        assert!(Chld::parse("").is_err());
    }

    #[test]
    fn row_matching() {
        let row = ClccRow {
            id: 2,
            dir: 1,
            stat: 5,
            mode: 0,
            mpty: 0,
            number: Some("+15550001111".into()),
            toa: Some(145),
        };
        let mut c = InCall::new(1, InState::Waiting);
        assert!(c.matches(&row));
        c.number = Some("+15550002222".into());
        assert!(!c.matches(&row));
        c.index = Some(2);
        assert!(c.matches(&row));
        assert_eq!(RowState::of(5), RowState::Waiting);
        assert_eq!(RowState::of(7), RowState::Released);
    }
}
