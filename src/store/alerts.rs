//! Alerts, their events and the durable outbox.
//!
//! An alert belongs to a call (one per call at most). Its events (`trigger`, `accept`,
//! `resolve`, `voicemail`, `nobody_reached`) are numbered per alert (`seq`) and written
//! in the same transaction as the call record change that caused them, together with
//! one outbox row per target. The sender ([`crate::alerts`]) takes, per alert and target,
//! only the lowest undelivered event, so events of one alert arrive in order; a row is
//! marked delivered only after the receiver acknowledged it, so delivery is
//! at-least-once and an acknowledged, committed event is never sent again.

use anyhow::Result;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::Store;

/// Kinds of alert event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new alert (caller, routing number, option, time).
    Trigger,
    /// A responder accepted (the bridge started).
    Accept,
    /// The call ended after it was accepted (or a responder closed it).
    Resolve,
    /// The caller left a voicemail (attached for webhooks).
    Voicemail,
    /// Nobody was reached and no message was left.
    NobodyReached,
}

impl EventKind {
    /// Name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Trigger => "trigger",
            EventKind::Accept => "accept",
            EventKind::Resolve => "resolve",
            EventKind::Voicemail => "voicemail",
            EventKind::NobodyReached => "nobody_reached",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "trigger" => EventKind::Trigger,
            "accept" => EventKind::Accept,
            "resolve" => EventKind::Resolve,
            "voicemail" => EventKind::Voicemail,
            "nobody_reached" => EventKind::NobodyReached,
            _ => return None,
        })
    }
}

/// A new alert.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// The call's record.
    pub cdr_id: Option<i64>,
    /// Routing number id.
    pub routing_id: String,
    /// One line: what happened.
    pub summary: String,
    /// Caller ID.
    pub caller_id: Option<String>,
    /// Target names.
    pub targets: Vec<String>,
}

/// An event to add to an alert.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Kind.
    pub kind: EventKind,
    /// When it happened (RFC 3339).
    pub at: String,
    /// Details (JSON object) for the receivers.
    pub details: serde_json::Value,
    /// Voicemail attached.
    pub voicemail_id: Option<i64>,
}

/// Delivery state of an event at a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not tried yet.
    Pending,
    /// Tried and failed; retried at `next_at`.
    Failing,
    /// The receiver acknowledged it.
    Delivered,
    /// Refused for good (a 4xx other than 408/429) or not delivered within the target's
    /// `give_up_after`.
    GivenUp,
    /// Not needed: an SMS fallback whose event a data target delivered in time.
    Skipped,
}

impl DeliveryState {
    /// Name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Failing => "failing",
            DeliveryState::Delivered => "delivered",
            DeliveryState::GivenUp => "given_up",
            DeliveryState::Skipped => "skipped",
        }
    }
}

/// One event due at one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Event row id (the receivers' per-event idempotency key).
    pub event_id: i64,
    /// Target name.
    pub target: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When the event was queued (unix ms).
    pub created_ms: i64,
    /// Alert id.
    pub alert_id: i64,
    /// The alert's de-duplication key at the receiver.
    pub dedup_key: String,
    /// Alert summary.
    pub summary: String,
    /// Routing number id.
    pub routing_id: String,
    /// Caller ID.
    pub caller_id: Option<String>,
    /// Event number within the alert (1 = trigger).
    pub seq: i64,
    /// Kind.
    pub kind: EventKind,
    /// When it happened.
    pub at: String,
    /// Details.
    pub details: serde_json::Value,
    /// Voicemail attached.
    pub voicemail_id: Option<i64>,
}

/// Outbox counts for `/api/status` and the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Not tried yet.
    pub pending: i64,
    /// Retrying.
    pub failing: i64,
    /// Delivered.
    pub delivered: i64,
    /// Given up.
    pub given_up: i64,
    /// Not needed (SMS fallbacks of events a data target delivered).
    pub skipped: i64,
}

/// An alert as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRow {
    /// Id (also the short code in SMS replies: `12a` acknowledges alert 12).
    pub id: i64,
    /// The call's record.
    pub cdr_id: Option<i64>,
    /// Routing number id.
    pub routing_id: String,
    /// De-duplication key at the receivers.
    pub dedup_key: String,
    /// Summary.
    pub summary: String,
    /// `triggered`, `accepted`, `resolved`.
    pub status: String,
    /// Created.
    pub created_at: String,
    /// Per target: delivery states of its events in order (`trigger:delivered`, ...).
    pub deliveries: Vec<(String, String, String, u32, Option<String>)>,
}

fn random_key() -> String {
    use rand::{RngCore, SeedableRng};
    use std::sync::atomic::{AtomicU64, Ordering};
    // unique per database, and unlikely to repeat after a database is reset: seeded
    // from the clock, the process and a counter (the crate's OS RNG is not enabled)
    static N: AtomicU64 = AtomicU64::new(0);
    let seed = (jiff::Timestamp::now().as_nanosecond() as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ N.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut b = [0u8; 8];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut b);
    format!(
        "switchboard-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

/// Creates an alert inside a transaction; returns its id.
pub fn create_alert(tx: &Transaction<'_>, a: &NewAlert, at: &str) -> Result<i64> {
    tx.execute(
        "INSERT INTO alert (cdr_id, routing_id, dedup_key, summary, caller_id, targets, status,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'triggered', ?7, ?7)",
        params![
            a.cdr_id,
            a.routing_id,
            random_key(),
            a.summary,
            a.caller_id,
            a.targets.join(","),
            at
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Adds an event to an alert and queues it for each of the alert's targets, inside a
/// transaction; returns the event id.
pub fn add_event(tx: &Transaction<'_>, alert_id: i64, e: &NewEvent, now_ms: i64) -> Result<i64> {
    let (seq, targets): (i64, String) = tx.query_row(
        "SELECT (SELECT coalesce(max(seq), 0) + 1 FROM alert_event WHERE alert_id = ?1), targets
         FROM alert WHERE id = ?1",
        [alert_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    tx.execute(
        "INSERT INTO alert_event (alert_id, seq, kind, at, details, voicemail_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            alert_id,
            seq,
            e.kind.as_str(),
            e.at,
            e.details.to_string(),
            e.voicemail_id
        ],
    )?;
    let event_id = tx.last_insert_rowid();
    for t in targets.split(',').filter(|t| !t.is_empty()) {
        tx.execute(
            "INSERT INTO outbox (event_id, target, state, attempts, next_at_ms, created_ms)
             VALUES (?1, ?2, 'pending', 0, ?3, ?3)",
            params![event_id, t, now_ms],
        )?;
    }
    let status = match e.kind {
        EventKind::Accept => Some("accepted"),
        EventKind::Resolve => Some("resolved"),
        _ => None,
    };
    if let Some(s) = status {
        tx.execute(
            "UPDATE alert SET status = ?1, updated_at = ?2 WHERE id = ?3",
            params![s, e.at, alert_id],
        )?;
    }
    Ok(event_id)
}

/// The newest alert of a routing id (`health:disk`) that is not resolved.
pub fn open_alert_for(conn: &rusqlite::Connection, routing_id: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM alert WHERE routing_id = ?1 AND status != 'resolved'
             ORDER BY id DESC LIMIT 1",
            [routing_id],
            |r| r.get(0),
        )
        .optional()?)
}

impl Store {
    /// Creates an alert with its first event, in one transaction (tests, CLI
    /// `alerts test`, benchmarks); calls go through the call writer instead.
    pub fn insert_alert(&mut self, a: &NewAlert, first: &NewEvent, now_ms: i64) -> Result<i64> {
        let tx = self.conn.transaction()?;
        let id = create_alert(&tx, a, &first.at)?;
        add_event(&tx, id, first, now_ms)?;
        tx.commit()?;
        Ok(id)
    }

    /// Adds an event to an existing alert (one transaction).
    pub fn insert_event(&mut self, alert_id: i64, e: &NewEvent, now_ms: i64) -> Result<i64> {
        let tx = self.conn.transaction()?;
        let id = add_event(&tx, alert_id, e, now_ms)?;
        tx.commit()?;
        Ok(id)
    }

    /// Deliveries due at `now_ms`: per alert and target only the lowest undelivered
    /// event (order within an alert), oldest first.
    pub fn due_deliveries(&self, now_ms: i64, limit: usize) -> Result<Vec<Delivery>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.event_id, o.target, o.attempts, o.created_ms, a.id, a.dedup_key, a.summary,
                    a.routing_id, a.caller_id, e.seq, e.kind, e.at, e.details, e.voicemail_id
             FROM outbox o
             JOIN alert_event e ON e.id = o.event_id
             JOIN alert a ON a.id = e.alert_id
             WHERE o.state IN ('pending', 'failing') AND o.next_at_ms <= ?1
               AND NOT EXISTS (
                 SELECT 1 FROM outbox o2 JOIN alert_event e2 ON e2.id = o2.event_id
                 WHERE e2.alert_id = e.alert_id AND o2.target = o.target AND e2.seq < e.seq
                   AND o2.state IN ('pending', 'failing'))
             ORDER BY o.next_at_ms, o.event_id, o.rowid
             LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![now_ms, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, String>(11)?,
                    r.get::<_, String>(12)?,
                    r.get::<_, Option<i64>>(13)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|r| {
                Ok(Delivery {
                    event_id: r.0,
                    target: r.1,
                    attempts: r.2,
                    created_ms: r.3,
                    alert_id: r.4,
                    dedup_key: r.5,
                    summary: r.6,
                    routing_id: r.7,
                    caller_id: r.8,
                    seq: r.9,
                    kind: EventKind::parse(&r.10)
                        .ok_or_else(|| anyhow::anyhow!("unknown event kind {}", r.10))?,
                    at: r.11,
                    details: serde_json::from_str(&r.12)?,
                    voicemail_id: r.13,
                })
            })
            .collect()
    }

    /// When the next delivery falls due (unix ms), if any is waiting.
    pub fn next_due_ms(&self) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT min(next_at_ms) FROM outbox WHERE state IN ('pending', 'failing')",
            [],
            |r| r.get(0),
        )?)
    }

    /// Records the receiver's acknowledgement (committed before the next event of the
    /// alert is sent).
    pub fn mark_delivered(&mut self, event_id: i64, target: &str, at: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?1,
                last_error = NULL
             WHERE event_id = ?2 AND target = ?3",
            params![at, event_id, target],
        )?;
        Ok(())
    }

    /// Records a failed attempt: retry at `next_at_ms`, or give up.
    pub fn mark_failed(
        &mut self,
        event_id: i64,
        target: &str,
        error: &str,
        next_at_ms: i64,
        give_up: bool,
    ) -> Result<()> {
        let state = if give_up { "given_up" } else { "failing" };
        self.conn.execute(
            "UPDATE outbox SET state = ?1, attempts = attempts + 1, last_error = ?2,
                next_at_ms = ?3
             WHERE event_id = ?4 AND target = ?5",
            params![state, error, next_at_ms, event_id, target],
        )?;
        Ok(())
    }

    /// Marks a delivery as not needed (an SMS fallback after a data target delivered).
    pub fn mark_skipped(&mut self, event_id: i64, target: &str, why: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET state = 'skipped', last_error = ?1 WHERE event_id = ?2 AND target = ?3",
            params![why, event_id, target],
        )?;
        Ok(())
    }

    /// Makes a delivery due later without counting an attempt (an SMS fallback waits
    /// for the data targets).
    pub fn defer_delivery(&mut self, event_id: i64, target: &str, next_at_ms: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET next_at_ms = ?1 WHERE event_id = ?2 AND target = ?3",
            params![next_at_ms, event_id, target],
        )?;
        Ok(())
    }

    /// The first of `targets` that has delivered the event, if any.
    pub fn delivered_by(&self, event_id: i64, targets: &[String]) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT target FROM outbox WHERE event_id = ?1 AND state = 'delivered'",
        )?;
        let done = stmt
            .query_map([event_id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(targets.iter().find(|t| done.contains(t)).cloned())
    }

    /// Delivery state of one event at one target: state, attempts, last error.
    pub fn delivery_state(
        &self,
        event_id: i64,
        target: &str,
    ) -> Result<Option<(String, u32, Option<String>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT state, attempts, last_error FROM outbox WHERE event_id = ?1 AND target = ?2",
                params![event_id, target],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// Outbox counts by state.
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        let mut c = OutboxCounts::default();
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) FROM outbox GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            match state.as_str() {
                "pending" => c.pending = n,
                "failing" => c.failing = n,
                "delivered" => c.delivered = n,
                "skipped" => c.skipped = n,
                _ => c.given_up = n,
            }
        }
        Ok(c)
    }

    /// Alerts, newest first, with their deliveries (target, event kind, state,
    /// attempts, last error).
    pub fn alerts(&self, limit: usize) -> Result<Vec<AlertRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, cdr_id, routing_id, dedup_key, summary, status, created_at FROM alert
             ORDER BY id DESC LIMIT ?1",
        )?;
        let mut rows = stmt
            .query_map([limit as i64], |r| {
                Ok(AlertRow {
                    id: r.get(0)?,
                    cdr_id: r.get(1)?,
                    routing_id: r.get(2)?,
                    dedup_key: r.get(3)?,
                    summary: r.get(4)?,
                    status: r.get(5)?,
                    created_at: r.get(6)?,
                    deliveries: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut d = self.conn.prepare(
            "SELECT o.target, e.kind, o.state, o.attempts, o.last_error FROM outbox o
             JOIN alert_event e ON e.id = o.event_id WHERE e.alert_id = ?1
             ORDER BY o.target, e.seq",
        )?;
        for a in &mut rows {
            a.deliveries = d
                .query_map([a.id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
        }
        Ok(rows)
    }

    /// The kinds of an alert's events, in order.
    pub fn alert_event_kinds(&self, alert_id: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind FROM alert_event WHERE alert_id = ?1 ORDER BY seq")?;
        let v = stmt
            .query_map([alert_id], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(v)
    }

    /// Makes every failing or given-up delivery of an alert due again now.
    pub fn retry_alert(&mut self, alert_id: i64, now_ms: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE outbox SET state = 'pending', next_at_ms = ?1
             WHERE state IN ('failing', 'given_up')
               AND event_id IN (SELECT id FROM alert_event WHERE alert_id = ?2)",
            params![now_ms, alert_id],
        )?)
    }

    /// Whether the alert a voicemail belongs to has events not yet delivered (such a
    /// voicemail is never deleted by retention).
    pub fn voicemail_undelivered(&self, voicemail_id: i64) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox o JOIN alert_event e ON e.id = o.event_id
                WHERE e.voicemail_id = ?1 AND o.state IN ('pending', 'failing'))",
            [voicemail_id],
            |r| r.get(0),
        )?)
    }
}
