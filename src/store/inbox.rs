//! The SMS inbox: every received SMS, with what the box did with it. A message is
//! committed here before it is deleted from the SIM; one read twice (a crash between the
//! commit and the delete) is stored once.

use anyhow::Result;
use rusqlite::params;
use serde::Serialize;

use super::Store;

/// A received SMS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxRow {
    /// Row id.
    pub id: i64,
    /// Sender.
    pub sender: String,
    /// Service-centre time stamp.
    pub sent_at: String,
    /// Text.
    pub text: String,
    /// When the box stored it.
    pub received_at: String,
    /// What the box did (`acknowledged alert 3`, `ignored: unknown sender`, ...).
    pub action: String,
    /// The alert it acted on.
    pub alert_id: Option<i64>,
}

impl Store {
    /// Stores a received SMS; `false` when it was already stored (read again).
    pub fn insert_sms(
        &mut self,
        sender: &str,
        sent_at: &str,
        text: &str,
        received_at: &str,
    ) -> Result<Option<i64>> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO sms_inbox (sender, sent_at, text, received_at, action)
             VALUES (?1, ?2, ?3, ?4, 'stored')",
            params![sender, sent_at, text, received_at],
        )?;
        Ok((n == 1).then(|| self.conn.last_insert_rowid()))
    }

    /// Records what was done with an inbox message.
    pub fn set_sms_action(&mut self, id: i64, action: &str, alert_id: Option<i64>) -> Result<()> {
        self.conn.execute(
            "UPDATE sms_inbox SET action = ?1, alert_id = ?2 WHERE id = ?3",
            params![action, alert_id, id],
        )?;
        Ok(())
    }

    /// The inbox, newest first.
    pub fn inbox(&self, limit: usize) -> Result<Vec<InboxRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, sender, sent_at, text, received_at, action, alert_id FROM sms_inbox
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(InboxRow {
                    id: r.get(0)?,
                    sender: r.get(1)?,
                    sent_at: r.get(2)?,
                    text: r.get(3)?,
                    received_at: r.get(4)?,
                    action: r.get(5)?,
                    alert_id: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The newest alert that is not resolved.
    pub fn newest_open_alert(&self) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT max(id) FROM alert WHERE status != 'resolved'",
            [],
            |r| r.get(0),
        )?)
    }

    /// An alert's status, if it exists.
    pub fn alert_status(&self, id: i64) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row("SELECT status FROM alert WHERE id = ?1", [id], |r| r.get(0))
            .optional()?)
    }
}
