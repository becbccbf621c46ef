//! Durable state in SQLite (rusqlite, bundled): call detail records; the web page's
//! accounts, sessions, audit log and configuration versions (`web.rs`).
//!
//! WAL journal, schema migrations by `user_version` (rusqlite_migration). Opened by the
//! store thread of the service and directly by the scenario runner and tests.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};

use crate::call::{AttemptRecord, Cdr};

pub mod alerts;
pub mod inbox;
pub mod sms_log;
pub mod voicemail;
pub mod web;
pub use voicemail::VoicemailRow;

const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE cdr (
        id                INTEGER PRIMARY KEY,
        call_id           INTEGER NOT NULL,
        started_at        TEXT NOT NULL,
        ended_at          TEXT NOT NULL,
        routing_number    TEXT NOT NULL,
        port              TEXT NOT NULL,
        caller_id         TEXT,
        option_key        INTEGER,
        option_label      TEXT,
        policy            TEXT,
        digits            TEXT NOT NULL,
        accepted_by       TEXT,
        bridge_started_at TEXT,
        bridge_seconds    REAL,
        duration_seconds  REAL NOT NULL,
        end_reason        TEXT NOT NULL
    );
    CREATE INDEX cdr_started ON cdr(started_at);
    CREATE TABLE cdr_attempt (
        cdr_id     INTEGER NOT NULL REFERENCES cdr(id) ON DELETE CASCADE,
        seq        INTEGER NOT NULL,
        level      INTEGER NOT NULL,
        user_id    TEXT NOT NULL,
        number     TEXT NOT NULL,
        started_at TEXT NOT NULL,
        seconds    REAL NOT NULL,
        outcome    TEXT NOT NULL,
        PRIMARY KEY (cdr_id, seq)
    );",
    ),
    // routing numbers by id; queue, overflow and PIN gate (issue "many calls")
    M::up(
        "ALTER TABLE cdr ADD COLUMN routing_id TEXT NOT NULL DEFAULT '';
         ALTER TABLE cdr ADD COLUMN queue_seconds REAL;
         ALTER TABLE cdr ADD COLUMN overflow TEXT;
         ALTER TABLE cdr ADD COLUMN pin TEXT;",
    ),
    // the web page (issue 15): accounts, sessions, the setup token, the audit log
    M::up(web::MIGRATION_WEB_ACCOUNTS),
    // the web page (issue 15): configuration versions
    M::up(web::MIGRATION_CONFIG_VERSIONS),
    // issue 14 — voicemail: the index of recorded messages (files under <data>/voicemail)
    M::up(
        "CREATE TABLE voicemail (
        id             INTEGER PRIMARY KEY,
        call_id        INTEGER NOT NULL,
        cdr_id         INTEGER REFERENCES cdr(id) ON DELETE SET NULL,
        routing_id     TEXT NOT NULL,
        routing_number TEXT NOT NULL,
        caller_id      TEXT,
        recorded_at    TEXT NOT NULL,
        seconds        REAL NOT NULL,
        bytes          INTEGER NOT NULL,
        sha256         TEXT NOT NULL,
        file           TEXT NOT NULL,
        empty          INTEGER NOT NULL,
        ended_by       TEXT NOT NULL
    );
    CREATE INDEX voicemail_recorded ON voicemail(recorded_at);",
    ),
    // issue 14 — cdr: voicemail reason and id, alert id
    M::up(
        "ALTER TABLE cdr ADD COLUMN voicemail TEXT;
         ALTER TABLE cdr ADD COLUMN voicemail_id INTEGER;
         ALTER TABLE cdr ADD COLUMN alert_id INTEGER;",
    ),
    // issue 14 — alert, alert_event, outbox: alert records and their durable delivery
    M::up(
        "CREATE TABLE alert (
        id         INTEGER PRIMARY KEY,
        cdr_id     INTEGER,
        routing_id TEXT NOT NULL,
        dedup_key  TEXT NOT NULL UNIQUE,
        summary    TEXT NOT NULL,
        caller_id  TEXT,
        targets    TEXT NOT NULL,
        status     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE alert_event (
        id           INTEGER PRIMARY KEY,
        alert_id     INTEGER NOT NULL REFERENCES alert(id),
        seq          INTEGER NOT NULL,
        kind         TEXT NOT NULL,
        at           TEXT NOT NULL,
        details      TEXT NOT NULL,
        voicemail_id INTEGER,
        UNIQUE (alert_id, seq)
    );
    CREATE TABLE outbox (
        event_id     INTEGER NOT NULL REFERENCES alert_event(id),
        target       TEXT NOT NULL,
        state        TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_at_ms   INTEGER NOT NULL,
        created_ms   INTEGER NOT NULL,
        last_error   TEXT,
        delivered_at TEXT,
        PRIMARY KEY (event_id, target)
    );
    CREATE INDEX outbox_due ON outbox(state, next_at_ms);",
    ),
    // issue 14 — cdr: the call record is written at call start and updated per step
    M::up("ALTER TABLE cdr ADD COLUMN phase TEXT;"),
    // issue 14 — sms_inbox: every received SMS, stored before it is deleted from the SIM
    M::up(
        "CREATE TABLE sms_inbox (
        id          INTEGER PRIMARY KEY,
        sender      TEXT NOT NULL,
        sent_at     TEXT NOT NULL,
        text        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        action      TEXT NOT NULL,
        alert_id    INTEGER,
        UNIQUE (sender, sent_at, text)
    );",
    ),
    // issue 14 — sms_log: every SMS the box sends on its own, and the cap's refusals
    M::up(
        "CREATE TABLE sms_log (
        id        INTEGER PRIMARY KEY,
        at_ms     INTEGER NOT NULL,
        to_number TEXT NOT NULL,
        purpose   TEXT NOT NULL,
        capped    INTEGER NOT NULL
    );
    CREATE INDEX sms_log_at ON sms_log(capped, at_ms);",
    ),
    // issue 14 — self_test: the periodic self-test calls and how they went
    M::up(
        "CREATE TABLE self_test (
        id      INTEGER PRIMARY KEY,
        at_ms   INTEGER NOT NULL,
        number  TEXT NOT NULL,
        passed  INTEGER NOT NULL,
        detail  TEXT NOT NULL
    );",
    ),
    // issue 13 — cdr: the call-flow steps the caller went through, `a > b > c`
    M::up("ALTER TABLE cdr ADD COLUMN path TEXT;"),
    // test calls from the web page: `manual` ones (no health alert, not the periodic
    // schedule's last test) and the engine's test-call id the page waits for
    M::up(
        "ALTER TABLE self_test ADD COLUMN manual INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE self_test ADD COLUMN test_id INTEGER;",
    ),
];

/// How a CDR's path is stored: step names joined by ` > `.
const PATH_SEP: &str = " > ";

/// The SQLite store.
pub struct Store {
    pub(crate) conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        Self::setup(conn)
    }

    /// An in-memory store (tests).
    pub fn in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: every commit (call record steps, outbox rows, delivery marks) is on disk
        // before the commit returns, so a power cut loses no queued alert and never
        // forgets a delivery the receiver acknowledged (NORMAL would only survive a
        // process kill).
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .context("cannot migrate the database schema")?;
        Ok(Self { conn })
    }

    /// Writes a CDR with its attempts in one transaction; returns its row id.
    pub fn insert_cdr(&mut self, cdr: &Cdr) -> Result<i64> {
        let tx = self.conn.transaction()?;
        let id = insert_cdr_tx(&tx, cdr)?;
        tx.commit()?;
        Ok(id)
    }

    /// Marks call records a previous run left in progress as `interrupted` (the
    /// service stopped without ending them: a crash or power cut); returns how many.
    pub fn mark_interrupted(&mut self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE cdr SET end_reason = 'interrupted' WHERE end_reason = 'in_progress'",
            [],
        )?)
    }
}

/// Inserts a whole record inside a transaction (a call whose start was not recorded).
pub fn insert_cdr_in(tx: &rusqlite::Transaction<'_>, cdr: &Cdr) -> Result<i64> {
    insert_cdr_tx(tx, cdr)
}

/// The CDR's 15 main columns, in the order the insert and the finish name them.
fn cdr_columns(cdr: &Cdr) -> [Value; 15] {
    let text = |s: &str| Value::Text(s.to_string());
    let opt_text = |s: Option<&str>| s.map_or(Value::Null, text);
    [
        Value::Integer(cdr.call_id as i64),
        Value::Text(cdr.started_at.to_string()),
        Value::Text(cdr.ended_at.to_string()),
        text(&cdr.routing_number),
        text(&cdr.port),
        opt_text(cdr.caller_id.as_deref()),
        cdr.option_key
            .map_or(Value::Null, |k| Value::Integer(i64::from(k))),
        opt_text(cdr.option_label.as_deref()),
        opt_text(cdr.policy.as_deref()),
        text(&cdr.digits),
        opt_text(cdr.accepted_by.as_deref()),
        cdr.bridge_started_at
            .map_or(Value::Null, |t| Value::Text(t.to_string())),
        cdr.bridge_seconds.map_or(Value::Null, Value::Real),
        Value::Real(cdr.duration_seconds),
        text(cdr.end_reason.as_str()),
    ]
}

fn insert_cdr_tx(tx: &rusqlite::Transaction<'_>, cdr: &Cdr) -> Result<i64> {
    tx.execute(
        "INSERT INTO cdr (call_id, started_at, ended_at, routing_number, port, caller_id,
                option_key, option_label, policy, digits, accepted_by, bridge_started_at,
                bridge_seconds, duration_seconds, end_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        rusqlite::params_from_iter(cdr_columns(cdr)),
    )?;
    let id = tx.last_insert_rowid();
    update_cdr_tx(tx, id, cdr)?;
    Ok(id)
}

/// Writes the record of a call that has just started (end reason `in_progress`, phase
/// `started`) inside a transaction; returns its row id.
pub fn begin_cdr_tx(tx: &rusqlite::Transaction<'_>, cdr: &Cdr) -> Result<i64> {
    let id = insert_cdr_tx(tx, cdr)?;
    tx.execute("UPDATE cdr SET phase = 'started' WHERE id = ?1", [id])?;
    Ok(id)
}

/// Updates a call record's phase inside a transaction.
pub fn set_phase_tx(tx: &rusqlite::Transaction<'_>, id: i64, phase: &str) -> Result<()> {
    tx.execute(
        "UPDATE cdr SET phase = ?1 WHERE id = ?2",
        params![phase, id],
    )?;
    Ok(())
}

/// Writes the whole record (and its attempts) over row `id`, inside a transaction.
pub fn finish_cdr_tx(tx: &rusqlite::Transaction<'_>, id: i64, cdr: &Cdr) -> Result<()> {
    tx.execute(
        "UPDATE cdr SET call_id = ?1, started_at = ?2, ended_at = ?3, routing_number = ?4,
            port = ?5, caller_id = ?6, option_key = ?7, option_label = ?8, policy = ?9,
            digits = ?10, accepted_by = ?11, bridge_started_at = ?12, bridge_seconds = ?13,
            duration_seconds = ?14, end_reason = ?15, phase = 'ended' WHERE id = ?16",
        rusqlite::params_from_iter(cdr_columns(cdr).into_iter().chain([Value::Integer(id)])),
    )?;
    tx.execute("DELETE FROM cdr_attempt WHERE cdr_id = ?1", [id])?;
    update_cdr_tx(tx, id, cdr)
}

fn update_cdr_tx(tx: &rusqlite::Transaction<'_>, id: i64, cdr: &Cdr) -> Result<()> {
    tx.execute(
        "UPDATE cdr SET routing_id = ?1, queue_seconds = ?2, overflow = ?3, pin = ?4,
                voicemail = ?5, voicemail_id = ?6, alert_id = ?7, path = ?8 WHERE id = ?9",
        params![
            cdr.routing_id,
            cdr.queue_seconds,
            cdr.overflow,
            cdr.pin,
            cdr.voicemail,
            cdr.voicemail_id,
            cdr.alert_id,
            cdr.path.join(PATH_SEP),
            id
        ],
    )?;
    if let Some(vm) = cdr.voicemail_id {
        tx.execute(
            "UPDATE voicemail SET cdr_id = ?1 WHERE id = ?2",
            params![id, vm],
        )?;
    }
    for (seq, a) in cdr.attempts.iter().enumerate() {
        tx.execute(
                "INSERT INTO cdr_attempt (cdr_id, seq, level, user_id, number, started_at, seconds, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    seq as i64,
                    a.level as i64,
                    a.user,
                    a.number,
                    a.started_at.to_string(),
                    a.seconds,
                    a.outcome.as_str(),
                ],
            )?;
    }
    Ok(())
}

impl Store {
    /// The CDR with this row id, read back from the tables.
    pub fn cdr(&self, id: i64) -> Result<Option<Cdr>> {
        let row = self
            .conn
            .query_row(
                "SELECT call_id, started_at, ended_at, routing_number, port, caller_id, option_key,
                    option_label, policy, digits, accepted_by, bridge_started_at, bridge_seconds,
                    duration_seconds, end_reason FROM cdr WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<u8>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, String>(9)?,
                        r.get::<_, Option<String>>(10)?,
                        r.get::<_, Option<String>>(11)?,
                        r.get::<_, Option<f64>>(12)?,
                        r.get::<_, f64>(13)?,
                        r.get::<_, String>(14)?,
                    ))
                },
            )
            .optional()?;
        let Some(r) = row else { return Ok(None) };
        let (routing_id, queue_seconds, overflow, pin, voicemail, voicemail_id, alert_id, path) =
            self.conn.query_row(
                "SELECT routing_id, queue_seconds, overflow, pin, voicemail, voicemail_id, alert_id,
                        path
                 FROM cdr WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get::<_, Option<String>>(7)?,
                    ))
                },
            )?;
        let path = path
            .filter(|p| !p.is_empty())
            .map(|p| p.split(PATH_SEP).map(str::to_string).collect())
            .unwrap_or_default();
        let mut stmt = self.conn.prepare(
            "SELECT level, user_id, number, started_at, seconds, outcome FROM cdr_attempt
             WHERE cdr_id = ?1 ORDER BY seq",
        )?;
        let attempts = stmt
            .query_map([id], |a| {
                Ok((
                    a.get::<_, i64>(0)?,
                    a.get::<_, String>(1)?,
                    a.get::<_, String>(2)?,
                    a.get::<_, String>(3)?,
                    a.get::<_, f64>(4)?,
                    a.get::<_, String>(5)?,
                ))
            })?
            .map(|a| {
                let (level, user, number, started, seconds, outcome) = a?;
                Ok(AttemptRecord {
                    level: level as usize,
                    user,
                    number,
                    started_at: started.parse()?,
                    seconds,
                    outcome: serde_json::from_value(serde_json::Value::String(outcome))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Cdr {
            call_id: r.0 as u64,
            started_at: r.1.parse()?,
            ended_at: r.2.parse()?,
            routing_number: r.3,
            port: r.4,
            caller_id: r.5,
            option_key: r.6,
            option_label: r.7,
            policy: r.8,
            digits: r.9,
            accepted_by: r.10,
            bridge_started_at: r.11.map(|s| s.parse()).transpose()?,
            bridge_seconds: r.12,
            duration_seconds: r.13,
            end_reason: serde_json::from_value(serde_json::Value::String(r.14))?,
            routing_id,
            queue_seconds,
            overflow,
            pin,
            voicemail,
            voicemail_id,
            alert_id,
            attempts,
            path,
        }))
    }

    /// CDRs whose call started within `[from, to]` (either open), oldest first, with
    /// their row ids.
    pub fn cdrs_between(
        &self,
        from: Option<jiff::Timestamp>,
        to: Option<jiff::Timestamp>,
    ) -> Result<Vec<(i64, Cdr)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, started_at FROM cdr ORDER BY id")?;
        let ids = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        for (id, started) in ids {
            let t: jiff::Timestamp = started.parse()?;
            if from.is_some_and(|f| t < f) || to.is_some_and(|e| t > e) {
                continue;
            }
            if let Some(c) = self.cdr(id)? {
                out.push((id, c));
            }
        }
        Ok(out)
    }

    /// Number of stored CDRs.
    pub fn cdr_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM cdr", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{AttemptOutcome, EndReason};

    #[test]
    fn cdr_round_trip_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/switchboard.db");
        let t: jiff::Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let cdr = Cdr {
            call_id: 3,
            started_at: t,
            ended_at: t,
            routing_number: "Hotline".into(),
            routing_id: "hotline".into(),
            queue_seconds: Some(12.5),
            overflow: Some("max_wait -> message".into()),
            pin: Some("ok".into()),
            voicemail: Some("nobody_accepted".into()),
            voicemail_id: None,
            alert_id: None,
            path: Vec::new(),
            port: "fxo1".into(),
            caller_id: Some("+15551234567".into()),
            option_key: Some(1),
            option_label: Some("Ops".into()),
            policy: Some("ops".into()),
            digits: "1".into(),
            attempts: vec![AttemptRecord {
                level: 1,
                user: "alice".into(),
                number: "+491701111111".into(),
                started_at: t,
                seconds: 4.5,
                outcome: AttemptOutcome::Declined,
            }],
            accepted_by: None,
            bridge_started_at: None,
            bridge_seconds: None,
            duration_seconds: 30.0,
            end_reason: EndReason::NobodyAccepted,
        };
        let id = {
            let mut s = Store::open(&path).unwrap();
            s.insert_cdr(&cdr).unwrap()
        };
        // reopen: migrations are idempotent and the data is durable
        let s = Store::open(&path).unwrap();
        assert_eq!(s.cdr(id).unwrap(), Some(cdr));
        assert_eq!(s.cdr_count().unwrap(), 1);
    }
}
