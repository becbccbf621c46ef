//! The voicemail index: one row per message (call, routing number, caller, duration,
//! size, sha256), the Ogg Opus file under `<data>/voicemail/`.
//!
//! A file is written (to a temporary name, synced, renamed) before its row is
//! committed, so an indexed message always has its file; a crash in between leaves at
//! most an unindexed file, never a row without audio.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Store;
use crate::exchange::VoicemailOut;

/// A stored voicemail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoicemailRow {
    /// Row id.
    pub id: i64,
    /// Call id (per service run).
    pub call_id: i64,
    /// The call's CDR row, once written.
    pub cdr_id: Option<i64>,
    /// Routing number id.
    pub routing_id: String,
    /// Routing number name.
    pub routing_number: String,
    /// Caller ID.
    pub caller_id: Option<String>,
    /// When recording started (RFC 3339).
    pub recorded_at: String,
    /// Length after trimming.
    pub seconds: f64,
    /// File size.
    pub bytes: i64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// File name under the voicemail directory.
    pub file: String,
    /// No speech in it (VAD): not alerted as a voicemail.
    pub empty: bool,
    /// Why recording ended (`key`, `silence`, `max_length`, `hangup`, `shutdown`).
    pub ended_by: String,
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("part");
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

const COLUMNS: &str = "id, call_id, cdr_id, routing_id, routing_number, caller_id, recorded_at,
    seconds, bytes, sha256, file, empty, ended_by";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VoicemailRow> {
    Ok(VoicemailRow {
        id: r.get(0)?,
        call_id: r.get(1)?,
        cdr_id: r.get(2)?,
        routing_id: r.get(3)?,
        routing_number: r.get(4)?,
        caller_id: r.get(5)?,
        recorded_at: r.get(6)?,
        seconds: r.get(7)?,
        bytes: r.get(8)?,
        sha256: r.get(9)?,
        file: r.get(10)?,
        empty: r.get(11)?,
        ended_by: r.get(12)?,
    })
}

impl Store {
    /// Encodes a recording as Ogg Opus, writes it under `dir` and indexes it. An empty
    /// recording (no speech) is indexed with an empty file, marked `empty`.
    pub fn insert_voicemail(&mut self, dir: &Path, vm: &VoicemailOut) -> Result<VoicemailRow> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the voicemail directory {}", dir.display()))?;
        let ogg = crate::media::ogg_opus::encode(&vm.recording.samples)?;
        let sha = sha256_hex(&ogg);
        let stamp = vm.started_at.strftime("%Y%m%dT%H%M%SZ").to_string();
        let file = format!("{stamp}-call{}-{}.ogg", vm.call, &sha[..8]);
        write_durably(&dir.join(&file), &ogg)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO voicemail (call_id, routing_id, routing_number, caller_id, recorded_at,
                seconds, bytes, sha256, file, empty, ended_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                vm.call as i64,
                vm.routing_id,
                vm.routing_number,
                vm.caller_id,
                vm.started_at.to_string(),
                vm.recording.seconds(),
                ogg.len() as i64,
                sha,
                file,
                !vm.recording.speech,
                vm.recording.ended.as_str(),
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        self.voicemail(id)?
            .context("the voicemail row vanished after its insert")
    }

    /// One voicemail.
    pub fn voicemail(&self, id: i64) -> Result<Option<VoicemailRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM voicemail WHERE id = ?1"),
                [id],
                row,
            )
            .optional()?)
    }

    /// Every voicemail, newest first.
    pub fn voicemails(&self) -> Result<Vec<VoicemailRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM voicemail ORDER BY recorded_at DESC, id DESC"
        ))?;
        let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Reads a voicemail's file and checks its sha256.
    pub fn voicemail_audio(&self, dir: &Path, id: i64) -> Result<(VoicemailRow, Vec<u8>)> {
        let Some(vm) = self.voicemail(id)? else {
            bail!("no voicemail {id}: `switchboard voicemail list` shows the ids");
        };
        let path: PathBuf = dir.join(&vm.file);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if sha256_hex(&bytes) != vm.sha256 {
            bail!(
                "{} does not match its recorded sha256: the file was changed or damaged",
                path.display()
            );
        }
        Ok((vm, bytes))
    }

    /// Deletes a voicemail (file and row).
    pub fn delete_voicemail(&mut self, dir: &Path, id: i64) -> Result<()> {
        let Some(vm) = self.voicemail(id)? else {
            bail!("no voicemail {id}: `switchboard voicemail list` shows the ids");
        };
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE cdr SET voicemail_id = NULL WHERE voicemail_id = ?1",
            [id],
        )?;
        tx.execute("DELETE FROM voicemail WHERE id = ?1", [id])?;
        tx.commit()?;
        let path = dir.join(&vm.file);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot delete {}", path.display())),
        }
    }
}

impl Store {
    /// Retention: deletes voicemail older than `days`, then the oldest until the files
    /// total at most `max_bytes` — never a message whose alert events are not all
    /// delivered (or given up). Returns the ids deleted.
    pub fn prune_voicemail(
        &mut self,
        dir: &Path,
        now: jiff::Timestamp,
        days: u32,
        max_bytes: u64,
    ) -> Result<Vec<i64>> {
        let cutoff = now
            .checked_sub(jiff::SignedDuration::from_hours(24 * i64::from(days)))
            .unwrap_or(now);
        // oldest first
        let mut all = self.voicemails()?;
        all.reverse();
        let mut total: u64 = all.iter().map(|v| v.bytes.max(0) as u64).sum();
        let mut deleted = Vec::new();
        for vm in all {
            let old = vm
                .recorded_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|t| t < cutoff);
            if !old && total <= max_bytes {
                continue;
            }
            if self.voicemail_undelivered(vm.id)? {
                tracing::info!(
                    voicemail = vm.id,
                    "retention: kept, its alert is not delivered yet"
                );
                continue;
            }
            self.delete_voicemail(dir, vm.id)?;
            total = total.saturating_sub(vm.bytes.max(0) as u64);
            deleted.push(vm.id);
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::tone::ToneGen;
    use crate::media::recorder::{RecordEnd, Recording};

    #[test]
    fn stored_voicemail_decodes_and_checks_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::in_memory().unwrap();
        let mut samples = vec![0i16; 16000];
        ToneGen::single(2000.0, -20.0).fill(&mut samples);
        let vm = VoicemailOut {
            call: 4,
            routing_id: "hotline".into(),
            routing_number: "Hotline".into(),
            caller_id: Some("+15550001111".into()),
            started_at: "2026-03-02T09:00:00Z".parse().unwrap(),
            recording: Recording {
                samples,
                speech: true,
                ended: RecordEnd::Key,
            },
        };
        let row = store.insert_voicemail(dir.path(), &vm).unwrap();
        assert_eq!(row.seconds, 2.0);
        assert!(!row.empty);
        let (_, bytes) = store.voicemail_audio(dir.path(), row.id).unwrap();
        assert_eq!(crate::media::ogg_opus::decode(&bytes).unwrap().len(), 16000);
        assert_eq!(store.voicemails().unwrap().len(), 1);
        // a damaged file is reported, not served
        std::fs::write(dir.path().join(&row.file), b"x").unwrap();
        assert!(store.voicemail_audio(dir.path(), row.id).is_err());
        std::fs::write(dir.path().join(&row.file), &bytes).unwrap();
        // retention keeps a message whose alert is not delivered
        store
            .insert_alert(
                &crate::store::alerts::NewAlert {
                    cdr_id: None,
                    routing_id: "hotline".into(),
                    summary: "s".into(),
                    caller_id: None,
                    targets: vec!["hook".into()],
                },
                &crate::store::alerts::NewEvent {
                    kind: crate::store::alerts::EventKind::Voicemail,
                    at: "2026-03-02T09:00:00Z".into(),
                    details: serde_json::json!({}),
                    voicemail_id: Some(row.id),
                },
                0,
            )
            .unwrap();
        let years_later: jiff::Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        assert!(
            store
                .prune_voicemail(dir.path(), years_later, 90, 0)
                .unwrap()
                .is_empty()
        );
        let ev = store.due_deliveries(0, 10).unwrap()[0].event_id;
        store
            .mark_delivered(ev, "hook", "2026-03-02T09:00:01Z")
            .unwrap();
        assert_eq!(
            store
                .prune_voicemail(dir.path(), years_later, 90, 1 << 30)
                .unwrap(),
            vec![row.id]
        );
        assert!(store.voicemails().unwrap().is_empty());
        assert!(!dir.path().join(&row.file).exists());
    }
}
