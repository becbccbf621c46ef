//! The web page's tables: accounts (argon2id hashes), sessions (hashed tokens), the
//! one-time setup token, the audit log and the configuration versions.
//!
//! Times of sessions are unix seconds passed in by the caller (the web layer owns the
//! clock), so idle timeouts are testable without waiting.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Store;

pub(super) const MIGRATION_WEB_ACCOUNTS: &str = "
CREATE TABLE web_account (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE web_session (
    token_hash TEXT PRIMARY KEY,
    account    TEXT NOT NULL REFERENCES web_account(name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    address    TEXT NOT NULL
);
CREATE TABLE web_setup_token (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    token      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE web_audit (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    account TEXT NOT NULL,
    address TEXT NOT NULL,
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL
);";

pub(super) const MIGRATION_CONFIG_VERSIONS: &str = "
CREATE TABLE config_version (
    id         INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    account    TEXT NOT NULL,
    source     TEXT NOT NULL,
    toml       TEXT NOT NULL
);";

/// Kind of web account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Changes anything.
    Admin,
    /// Only watches.
    Viewer,
}

impl Role {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
    fn parse(s: &str) -> Role {
        if s == "admin" {
            Role::Admin
        } else {
            Role::Viewer
        }
    }
}

/// A web account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Account name.
    pub account: String,
    /// Its role.
    pub role: Role,
    /// The session's CSRF token.
    pub csrf: String,
    /// Unix seconds of the last request.
    pub last_seen: i64,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who (account name, or `setup`/`console`).
    pub account: String,
    /// From which address.
    pub address: String,
    /// What kind of change (`login`, `config.save`, ...).
    pub action: String,
    /// Details in words.
    pub detail: String,
}

/// A saved configuration version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigVersion {
    /// Version number (row id).
    pub id: i64,
    /// When it was saved (RFC 3339).
    pub created_at: String,
    /// Who saved it.
    pub account: String,
    /// Where it came from (`file <path>`, `web`, `rollback to N`, `built-in demo`).
    pub source: String,
    /// The TOML text.
    pub toml: String,
}

impl Store {
    /// The setup token, if the box is still waiting for its first admin password.
    pub fn setup_token(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT token FROM web_setup_token WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Stores a setup token (replacing any previous one).
    pub fn set_setup_token(&self, token: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO web_setup_token (id, token, created_at) VALUES (1, ?1, ?2)",
            params![token, jiff::Timestamp::now().to_string()],
        )?;
        Ok(())
    }

    /// Voids the setup token.
    pub fn clear_setup_token(&self) -> Result<()> {
        self.conn.execute("DELETE FROM web_setup_token", [])?;
        Ok(())
    }

    /// Number of admin accounts.
    pub fn admin_count(&self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM web_account WHERE role = 'admin'",
            [],
            |r| r.get(0),
        )?)
    }

    /// Creates or replaces an account's password hash and role.
    pub fn upsert_account(&self, name: &str, role: Role, password_hash: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO web_account (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
            params![name, role.as_str(), password_hash, jiff::Timestamp::now().to_string()],
        )?;
        Ok(())
    }

    /// Deletes an account (and its sessions). Returns whether it existed.
    pub fn delete_account(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM web_account WHERE name = ?1", [name])?
            > 0)
    }

    /// Removes every admin account's password and every session: the console's
    /// `reset-password`. Accounts stay (for the audit log's sake) but cannot log in.
    pub fn reset_admin_passwords(&self) -> Result<()> {
        self.conn.execute("DELETE FROM web_session", [])?;
        self.conn
            .execute("DELETE FROM web_account WHERE role = 'admin'", [])?;
        Ok(())
    }

    /// The password hash and role of an account.
    pub fn account_hash(&self, name: &str) -> Result<Option<(String, Role)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT password_hash, role FROM web_account WHERE name = ?1",
                [name],
                |r| Ok((r.get::<_, String>(0)?, Role::parse(&r.get::<_, String>(1)?))),
            )
            .optional()?)
    }

    /// Every account.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        let mut st = self
            .conn
            .prepare("SELECT name, role, created_at FROM web_account ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(Account {
                name: r.get(0)?,
                role: Role::parse(&r.get::<_, String>(1)?),
                created_at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Stores a new session.
    pub fn insert_session(
        &self,
        token_hash: &str,
        account: &str,
        csrf: &str,
        now: i64,
        address: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO web_session (token_hash, account, csrf, created_at, last_seen, address)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            params![token_hash, account, csrf, now, address],
        )?;
        Ok(())
    }

    /// A session by its token hash.
    pub fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT s.account, a.role, s.csrf, s.last_seen FROM web_session s
                 JOIN web_account a ON a.name = s.account WHERE s.token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(SessionRow {
                        account: r.get(0)?,
                        role: Role::parse(&r.get::<_, String>(1)?),
                        csrf: r.get(2)?,
                        last_seen: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Marks a session as used now.
    pub fn touch_session(&self, token_hash: &str, now: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE web_session SET last_seen = ?2 WHERE token_hash = ?1",
            params![token_hash, now],
        )?;
        Ok(())
    }

    /// Ends a session.
    pub fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM web_session WHERE token_hash = ?1",
            [token_hash],
        )?;
        Ok(())
    }

    /// Removes sessions idle since before `cutoff` (unix seconds).
    pub fn expire_sessions(&self, cutoff: i64) -> Result<usize> {
        Ok(self
            .conn
            .execute("DELETE FROM web_session WHERE last_seen < ?1", [cutoff])?)
    }

    /// Appends to the audit log.
    pub fn audit(&self, account: &str, address: &str, action: &str, detail: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO web_audit (at, account, address, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![jiff::Timestamp::now().to_string(), account, address, action, detail],
        )?;
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        let mut st = self.conn.prepare(
            "SELECT id, at, account, address, action, detail FROM web_audit ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                account: r.get(2)?,
                address: r.get(3)?,
                action: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Saves a configuration version; returns its number.
    pub fn insert_config_version(&self, account: &str, source: &str, toml: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO config_version (created_at, account, source, toml) VALUES (?1, ?2, ?3, ?4)",
            params![jiff::Timestamp::now().to_string(), account, source, toml],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A configuration version.
    pub fn config_version(&self, id: i64) -> Result<Option<ConfigVersion>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, created_at, account, source, toml FROM config_version WHERE id = ?1",
                [id],
                version_row,
            )
            .optional()?)
    }

    /// The newest configuration version (the one in force).
    pub fn latest_config_version(&self) -> Result<Option<ConfigVersion>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, created_at, account, source, toml FROM config_version ORDER BY id DESC LIMIT 1",
                [],
                version_row,
            )
            .optional()?)
    }

    /// The newest version that came from a file on disk.
    pub fn latest_file_version(&self) -> Result<Option<ConfigVersion>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, created_at, account, source, toml FROM config_version
                 WHERE source LIKE 'file %' ORDER BY id DESC LIMIT 1",
                [],
                version_row,
            )
            .optional()?)
    }

    /// The newest `limit` versions, newest first.
    pub fn config_versions(&self, limit: i64) -> Result<Vec<ConfigVersion>> {
        let mut st = self.conn.prepare(
            "SELECT id, created_at, account, source, toml FROM config_version ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit], version_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The version before `id`, if any.
    pub fn previous_config_version(&self, id: i64) -> Result<Option<ConfigVersion>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, created_at, account, source, toml FROM config_version
                 WHERE id < ?1 ORDER BY id DESC LIMIT 1",
                [id],
                version_row,
            )
            .optional()?)
    }
}

/// Which CDRs to list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CdrFilter {
    /// Started at or after (RFC 3339).
    pub from: Option<String>,
    /// Started before (RFC 3339).
    pub to: Option<String>,
    /// Routing number id.
    pub routing_number: Option<String>,
    /// Caller ID contains.
    pub caller: Option<String>,
    /// At most this many (default 100, at most 10000).
    pub limit: Option<i64>,
}

impl Store {
    /// CDRs matching the filter, newest first, with their row ids.
    pub fn cdr_list(&self, f: &CdrFilter) -> Result<Vec<(i64, crate::call::Cdr)>> {
        let limit = f.limit.unwrap_or(100).clamp(1, 10_000);
        let mut st = self.conn.prepare(
            "SELECT id FROM cdr WHERE (?1 IS NULL OR started_at >= ?1) AND (?2 IS NULL OR started_at < ?2)
               AND (?3 IS NULL OR routing_id = ?3) AND (?4 IS NULL OR instr(caller_id, ?4) > 0)
             ORDER BY id DESC LIMIT ?5",
        )?;
        let ids = st
            .query_map(
                params![f.from, f.to, f.routing_number, f.caller, limit],
                |r| r.get::<_, i64>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.cdr(id)? {
                out.push((id, c));
            }
        }
        Ok(out)
    }

    /// Responder attempts by outcome, over every stored CDR (for `/metrics`).
    pub fn attempts_by_outcome(&self) -> Result<Vec<(String, i64)>> {
        let mut st = self.conn.prepare(
            "SELECT outcome, count(*) FROM cdr_attempt GROUP BY outcome ORDER BY outcome",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConfigVersion> {
    Ok(ConfigVersion {
        id: r.get(0)?,
        created_at: r.get(1)?,
        account: r.get(2)?,
        source: r.get(3)?,
        toml: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_sessions_and_reset() {
        let s = Store::in_memory().unwrap();
        assert_eq!(s.admin_count().unwrap(), 0);
        s.upsert_account("admin", Role::Admin, "h1").unwrap();
        s.upsert_account("watch", Role::Viewer, "h2").unwrap();
        assert_eq!(s.admin_count().unwrap(), 1);
        s.insert_session("t1", "admin", "c1", 100, "127.0.0.1")
            .unwrap();
        s.insert_session("t2", "watch", "c2", 100, "127.0.0.1")
            .unwrap();
        let row = s.session("t1").unwrap().unwrap();
        assert_eq!(
            (row.role, row.csrf.as_str(), row.last_seen),
            (Role::Admin, "c1", 100)
        );
        s.touch_session("t1", 500).unwrap();
        assert_eq!(s.expire_sessions(200).unwrap(), 1);
        assert!(s.session("t2").unwrap().is_none());
        assert_eq!(s.session("t1").unwrap().unwrap().last_seen, 500);
        s.reset_admin_passwords().unwrap();
        assert!(s.session("t1").unwrap().is_none());
        assert_eq!(s.admin_count().unwrap(), 0);
        assert_eq!(s.accounts().unwrap().len(), 1);
    }

    #[test]
    fn config_versions_in_order() {
        let s = Store::in_memory().unwrap();
        let a = s
            .insert_config_version("setup", "file /etc/x.toml", "a = 1")
            .unwrap();
        let b = s.insert_config_version("admin", "web", "a = 2").unwrap();
        assert_eq!(s.latest_config_version().unwrap().unwrap().id, b);
        assert_eq!(s.previous_config_version(b).unwrap().unwrap().id, a);
        assert_eq!(s.latest_file_version().unwrap().unwrap().id, a);
        assert_eq!(s.config_versions(10).unwrap().len(), 2);
    }
}
