//! The backup box (seed 003's "backup number or server"): conditional call forwarding
//! on the SIM (`AT+CCFC`: busy, no reply, not reachable) to a second box or a person,
//! set by the service from the configuration whenever the modem becomes ready and
//! after every reload, read back to verify, and checked again every few hours so that
//! a change made elsewhere (the carrier, another phone) shows as drift.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Exchange, Happening, Output};
use crate::modem::{ForwardReason, ForwardRule, QueryId};

/// How often the forwarding is read back while nothing changes.
pub const RECHECK: Duration = Duration::from_secs(6 * 3600);

/// The forwarding of one reason, as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ForwardState {
    /// Being set or read.
    Pending,
    /// The network forwards to the configured number.
    Verified,
    /// The network forwards elsewhere, or not at all.
    Drift {
        /// What the network reports (`None`: not forwarded).
        found: Option<String>,
    },
    /// Setting or reading failed.
    Failed {
        /// Why.
        error: String,
    },
}

/// The backup forwarding, for `/api/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupStatus {
    /// Where calls go when the box cannot take them.
    pub number: String,
    /// Per reason (`busy`, `no-reply`, `not-reachable`).
    pub reasons: Vec<(ForwardReason, ForwardState)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Set,
    Verify,
}

/// The exchange's side of it: what is wanted, what is in flight, what was found.
#[derive(Default)]
pub(super) struct Backup {
    status: Option<BackupStatus>,
    pending: HashMap<QueryId, (ForwardReason, Step)>,
    next_check: Option<Instant>,
}

impl Backup {
    pub(super) fn status(&self) -> Option<&BackupStatus> {
        self.status.as_ref()
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.next_check
    }
}

impl Exchange {
    /// Sets the configured forwarding now (modem ready, or a new configuration).
    pub(super) fn sync_backup(&mut self, now: Instant) {
        let Some(b) = self.generation.cfg.site.backup.clone() else {
            self.backup.status = None;
            self.backup.next_check = None;
            return;
        };
        let ready = self.modem.as_ref().is_some_and(|m| m.status().ready);
        let Some(m) = self.modem.as_mut().filter(|_| ready) else {
            return;
        };
        let number = b.number_e164().to_string();
        let mut reasons = Vec::new();
        self.backup.pending.clear();
        for r in b.reasons() {
            let state = match m.forward_set(now, r, &number) {
                Ok(id) => {
                    self.backup.pending.insert(id, (r, Step::Set));
                    ForwardState::Pending
                }
                Err(error) => ForwardState::Failed { error },
            };
            reasons.push((r, state));
        }
        self.backup.status = Some(BackupStatus { number, reasons });
        self.backup.next_check = Some(now + RECHECK);
        let n = self.backup.pending.len();
        self.note(
            None,
            self.modem_port,
            Happening::ForwardingSet { reasons: n },
        );
    }

    /// Reads the forwarding back (the periodic drift check).
    pub(super) fn recheck_backup(&mut self, now: Instant) {
        if self.backup.next_check.is_none_or(|t| now < t) {
            return;
        }
        self.backup.next_check = Some(now + RECHECK);
        let ready = self.modem.as_ref().is_some_and(|m| m.status().ready);
        let (Some(m), Some(st)) = (
            self.modem.as_mut().filter(|_| ready),
            self.backup.status.as_ref(),
        ) else {
            return;
        };
        for (r, _) in &st.reasons {
            let id = m.forward_query(now, *r);
            self.backup.pending.insert(id, (*r, Step::Verify));
        }
    }

    /// A forwarding request finished.
    pub(super) fn on_forwarding(
        &mut self,
        now: Instant,
        id: QueryId,
        result: Result<Vec<ForwardRule>, String>,
    ) {
        let Some((reason, step)) = self.backup.pending.remove(&id) else {
            return;
        };
        let Some(number) = self.backup.status.as_ref().map(|s| s.number.clone()) else {
            return;
        };
        let state = match (step, result) {
            (_, Err(error)) => ForwardState::Failed { error },
            (Step::Set, Ok(_)) => {
                // set: now read it back
                if let Some(m) = self.modem.as_mut() {
                    let q = m.forward_query(now, reason);
                    self.backup.pending.insert(q, (reason, Step::Verify));
                }
                ForwardState::Pending
            }
            (Step::Verify, Ok(rules)) => {
                let voice = rules
                    .iter()
                    .find(|r| r.active && (r.class & 1 == 1 || r.class == 255));
                let found = voice.and_then(|r| r.number.clone());
                if found.as_deref().is_some_and(|f| same_number(f, &number)) {
                    ForwardState::Verified
                } else {
                    ForwardState::Drift { found }
                }
            }
        };
        let Some(st) = self.backup.status.as_mut() else {
            return;
        };
        let changed = st
            .reasons
            .iter_mut()
            .find(|(r, _)| *r == reason)
            .map(|(_, s)| {
                let changed = *s != state;
                *s = state.clone();
                changed
            })
            .unwrap_or(false);
        if changed && state != ForwardState::Pending {
            if let Some(st) = self.backup.status.clone() {
                self.out.push_back(Output::Backup(st));
            }
        }
    }
}

/// Numbers compare without `+`, spaces or a national trunk prefix difference.
fn same_number(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    digits(a) == digits(b)
}
