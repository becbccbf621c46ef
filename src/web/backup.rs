//! Backup and restore of the data directory, streamed both ways (no size limit from
//! memory: a backup is written to the client as it is read, a restore upload goes to
//! a file in the data directory as it arrives).
//!
//! - **Backup** (`GET /api/system/backup`): a tar of `switchboard.db` (a consistent
//!   copy made with SQLite's `VACUUM INTO` while the service runs), `config.toml` (the
//!   version in force, for reading), `voicemail/`, `recordings/` and `tls/` (the box's
//!   certificate and key, so a restored box keeps its fingerprint). The database copy is
//!   made first (an error there is a clean 500); then a blocking task writes the tar
//!   into a bounded channel of 64 KiB chunks that is the response body, so memory stays
//!   flat whatever the size. A client that goes away ends the task; a failure half-way
//!   aborts the response (the download is incomplete, never silently short).
//! - **Restore** (`POST /api/system/restore`, the tar file as the body): the accept
//!   loop streams this route's body (`server::Limits::streamed_paths`, at most
//!   `max_stream_body`, 2 GiB by default, `--max-restore-size`) and the handler writes
//!   it to `<data>/restore-upload-*.part`. Then every entry is checked (relative paths
//!   under those names only, regular files, each entry whole, the end-of-archive
//!   marker present: a cut-off file is refused), the database must pass
//!   `PRAGMA integrity_check` and open with this version's migrations, and
//!   `config.toml` must pass the same rules as `check-config`. Only a valid backup
//!   replaces `<data>/restore-pending/`, which is swapped in at the next start (before
//!   the database is opened); the files it replaces are kept in
//!   `<data>/before-restore-<time>/`. A bad upload changes nothing.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::Extension;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::openapi::{ok, op};
use super::server::BodyError;
use super::{ApiError, Session, Web};
use crate::store::web::Role;

type ApiResult<T> = Result<T, ApiError>;

/// The staged restore, swapped in at the next start.
pub const PENDING_DIR: &str = "restore-pending";
/// The directories of the data directory a backup holds.
pub const DIRS: [&str; 3] = ["voicemail", "recordings", "tls"];
/// The database's file name.
pub const DB: &str = "switchboard.db";
/// Name prefixes of the temporary files and directories of backups and restores
/// (removed at the next start if a crash left them).
const TEMP_PREFIXES: [&str; 3] = ["backup-tmp-", "restore-upload-", "restore-staging"];
/// Size of the chunks a backup is sent in.
const CHUNK: usize = 64 * 1024;
/// Tar blocks.
const BLOCK: u64 = 512;

/// One restore at a time (two would race for `restore-pending/`).
static RESTORING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn add_dir(tar: &mut tar::Builder<impl Write>, data: &Path, name: &str) -> Result<()> {
    let dir = data.join(name);
    if !dir.is_dir() {
        return Ok(());
    }
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && p.extension().is_none_or(|x| x != "part") {
                let rel = p
                    .strip_prefix(data)
                    .context("path outside the data directory")?;
                tar.append_path_with_name(&p, rel)
                    .with_context(|| format!("adding {}", p.display()))?;
            }
        }
    }
    Ok(())
}

/// A consistent copy of the database (`VACUUM INTO`) in a new temporary directory
/// under `data`; returns the directory (the copy is `<dir>/switchboard.db`).
pub fn snapshot_db(web_store: &crate::store::Store, data: &Path) -> Result<PathBuf> {
    let tmp = temp_dir_in(data, "backup-tmp-")?;
    let copy = tmp.join(DB);
    if let Err(e) = web_store
        .conn
        .execute("VACUUM INTO ?1", [copy.to_string_lossy().as_ref()])
    {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e).context("copying the database (VACUUM INTO)");
    }
    Ok(tmp)
}

/// Writes the backup tar to `out`: the database copy in `snapshot` (from
/// [`snapshot_db`]), the configuration text, then the directories. Reads and writes
/// file by file: memory does not grow with the size.
pub fn write_backup(
    out: impl Write,
    snapshot: &Path,
    data: &Path,
    config_text: Option<&str>,
) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.append_path_with_name(snapshot.join(DB), DB)?;
    if let Some(text) = config_text {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(jiff::Timestamp::now().as_second().max(0) as u64);
        h.set_cksum();
        tar.append_data(&mut h, "config.toml", text.as_bytes())?;
    }
    for d in DIRS {
        add_dir(&mut tar, data, d)?;
    }
    let mut out = tar.into_inner()?;
    out.flush()?;
    Ok(())
}

/// Builds the backup tar in memory (tests and small tools; the page streams it).
pub fn make_backup(
    web_store: &crate::store::Store,
    data: &Path,
    config_text: Option<String>,
) -> Result<Vec<u8>> {
    let tmp = snapshot_db(web_store, data)?;
    let mut bytes = Vec::new();
    let r = write_backup(&mut bytes, &tmp, data, config_text.as_deref());
    let _ = std::fs::remove_dir_all(&tmp);
    r.map(|()| bytes)
}

fn temp_dir_in(data: &Path, prefix: &str) -> Result<PathBuf> {
    let d = data.join(format!(
        "{prefix}{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    Ok(d)
}

/// Whether a tar entry's path is one a backup holds.
pub(super) fn allowed(path: &Path) -> bool {
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return false;
    }
    let first = path
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or("");
    path == Path::new(DB)
        || path == Path::new("config.toml")
        || (DIRS.contains(&first) && path.components().count() >= 2)
}

/// Extracts the backup in `upload` into `staging`, checking every entry and that the
/// archive is whole. Returns the number of files.
fn extract_checked(upload: &Path, staging: &Path) -> Result<usize> {
    let file = std::fs::File::open(upload)
        .with_context(|| format!("cannot read the upload {}", upload.display()))?;
    let mut ar = tar::Archive::new(std::io::BufReader::with_capacity(CHUNK, file));
    let mut files = 0usize;
    // where the data of the last entry ends (rounded up to a block)
    let mut end = 0u64;
    for entry in ar
        .entries()
        .context("not a tar file: upload a file made by Backup")?
    {
        let mut e =
            entry.context("the tar file is damaged (upload the file made by Backup again)")?;
        let path = e
            .path()
            .context("a file name in the backup is not valid")?
            .into_owned();
        let size = e
            .header()
            .size()
            .context("a size in the backup is not valid")?;
        end = (e.raw_file_position() + size).div_ceil(BLOCK) * BLOCK;
        if e.header().entry_type().is_dir() {
            continue;
        }
        if !e.header().entry_type().is_file() || !allowed(&path) {
            bail!(
                "`{}` does not belong in a backup (only switchboard.db, config.toml, voicemail/, recordings/ and tls/): upload a file made by Backup",
                path.display()
            );
        }
        let dest = staging.join(&path);
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p)?;
        }
        let mut out = std::fs::File::create(&dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        let copied = std::io::copy(&mut e, &mut out)
            .with_context(|| format!("reading `{}` from the backup", path.display()))?;
        if copied != size {
            bail!(
                "the backup is cut off in `{}` ({copied} of {size} bytes): the upload or the download was incomplete; upload the whole file made by Backup",
                path.display()
            );
        }
        files += 1;
    }
    drop(ar);
    // the end-of-archive marker (two zero blocks) must follow the last entry: without
    // it the file was cut off at an entry boundary
    let mut f = std::fs::File::open(upload)?;
    let len = f.metadata()?.len();
    let mut marker = [0u8; 2 * BLOCK as usize];
    let whole = len >= end + marker.len() as u64
        && f.seek(SeekFrom::Start(end)).is_ok()
        && f.read_exact(&mut marker).is_ok()
        && marker.iter().all(|b| *b == 0);
    if !whole {
        bail!(
            "the backup is cut off (no end-of-archive marker after its last file): the upload or the download was incomplete; upload the whole file made by Backup"
        );
    }
    Ok(files)
}

/// Checks a backup (the tar file at `upload`) and stages it under
/// `<data>/restore-pending/`, replacing a backup staged before only when this one is
/// valid. Returns what it holds, in words.
pub fn stage_restore_file(
    upload: &Path,
    data: &Path,
    board: &crate::config::BoardProfile,
) -> Result<String> {
    let staging = temp_dir_in(data, "restore-staging-")?;
    let result = (|| -> Result<String> {
        let files = extract_checked(upload, &staging)?;
        let db = staging.join(DB);
        if !db.exists() {
            bail!("the backup holds no switchboard.db: upload a file made by Backup");
        }
        {
            let conn = rusqlite::Connection::open(&db).context("switchboard.db does not open")?;
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .context("switchboard.db is not an SQLite database")?;
            if check != "ok" {
                bail!("switchboard.db is damaged: {check}");
            }
        }
        let store = crate::store::Store::open(&db)
            .context("switchboard.db cannot be used by this version")?;
        let versions = store.config_versions(1_000_000)?.len();
        let cdrs = store.cdr_count()?;
        drop(store);
        let cfg = staging.join("config.toml");
        if cfg.exists() {
            let text = std::fs::read_to_string(&cfg).context("config.toml is not text")?;
            crate::config::Config::parse("config.toml (in the backup)", &text, board)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(format!(
            "{files} files: {cdrs} call records, {versions} configuration versions"
        ))
    })();
    match result {
        Ok(summary) => {
            let pending = data.join(PENDING_DIR);
            let _ = std::fs::remove_dir_all(&pending);
            std::fs::rename(&staging, &pending)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// [`stage_restore_file`] for a backup in memory (tests).
pub fn stage_restore(
    bytes: &[u8],
    data: &Path,
    board: &crate::config::BoardProfile,
) -> Result<String> {
    let upload = data.join(format!(
        "restore-upload-{}-{}.part",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::write(&upload, bytes)?;
    let r = stage_restore_file(&upload, data, board);
    let _ = std::fs::remove_file(&upload);
    r
}

/// At start, before the database is opened: removes what a crash left of backups and
/// restores in progress, then swaps a staged restore in. The files it replaces go to
/// `<data>/before-restore-<unix time>/`. Returns whether it did.
pub fn apply_pending_restore(data: &Path) -> Result<bool> {
    if let Ok(rd) = std::fs::read_dir(data) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if TEMP_PREFIXES.iter().any(|p| name.starts_with(p)) {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
    let pending = data.join(PENDING_DIR);
    if !pending.join(DB).exists() {
        return Ok(false);
    }
    let aside = data.join(format!(
        "before-restore-{}",
        jiff::Timestamp::now().as_second()
    ));
    std::fs::create_dir_all(&aside)?;
    for name in [DB, "switchboard.db-wal", "switchboard.db-shm"]
        .into_iter()
        .chain(DIRS)
    {
        let p = data.join(name);
        if p.exists() {
            std::fs::rename(&p, aside.join(name))
                .with_context(|| format!("moving {} aside", p.display()))?;
        }
    }
    for name in [DB].into_iter().chain(DIRS) {
        let p = pending.join(name);
        if p.exists() {
            std::fs::rename(&p, data.join(name))
                .with_context(|| format!("restoring {}", p.display()))?;
        }
    }
    // the text copy of the configuration stays with what was replaced
    let _ = std::fs::rename(
        pending.join("config.toml"),
        aside.join("config.toml (restored)"),
    );
    std::fs::remove_dir_all(&pending)?;
    Ok(true)
}

/// `std::io::Write` into the response body: 64 KiB chunks into a bounded channel
/// (a blocking send: this runs on the blocking pool). A closed channel (the client
/// went away) is a broken pipe, which ends the backup.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
    sent: u64,
}

impl ChunkWriter {
    fn send_buf(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        let n = chunk.len() as u64;
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client stopped the download",
            )
        })?;
        self.sent += n;
        Ok(())
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = b.len().min(room);
        self.buf.extend_from_slice(&b[..n]);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send_buf()
    }
}

pub(super) async fn backup(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
) -> ApiResult<Response> {
    if s.role != Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a backup holds password hashes and the box's key: only admins download it",
        ));
    }
    let data = web.options.data_dir.clone();
    let d = data.clone();
    let (snapshot, text) = web
        .db(move |st| {
            let text = st.latest_config_version()?.map(|v| v.toml);
            Ok((snapshot_db(st, &d)?, text))
        })
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let store = web.store.clone();
    let (who, addr) = (s.account.clone(), s.address.to_string());
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
            sent: 0,
        };
        let r = write_backup(&mut w, &snapshot, &data, text.as_deref());
        let _ = std::fs::remove_dir_all(&snapshot);
        let detail = match &r {
            Ok(()) => format!("downloaded a backup ({} bytes)", w.sent),
            Err(e) => {
                tracing::warn!("backup download broken off: {e:#}");
                // the response ends with an error: the client sees an incomplete
                // download, not a short file that looks whole
                let _ = tx.blocking_send(Err(std::io::Error::other(format!("{e:#}"))));
                format!("backup broken off after {} bytes: {e:#}", w.sent)
            }
        };
        if let Ok(st) = store.lock() {
            if let Err(e) = st.audit(&who, &addr, "backup", &detail) {
                tracing::error!("audit log: {e:#}");
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let name = format!(
        "switchboard-backup-{}.tar",
        jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S")
    );
    let mut r = Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// Free bytes of the file system of `dir` (for unprivileged users), if known.
fn free_bytes(dir: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    Some(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// The HTTP answer for a streamed body that failed.
fn body_error(e: &axum::Error) -> ApiError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(b) = c.downcast_ref::<BodyError>() {
            return match b {
                BodyError::TooLarge(limit) => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the upload is larger than {limit} bytes ({} MiB), the limit of restores (--max-restore-size); nothing was changed",
                        limit / (1024 * 1024)
                    ),
                ),
                BodyError::Timeout(t) => ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the upload stalled (nothing arrived for {} s); nothing was changed: try again",
                        t.as_secs()
                    ),
                ),
                BodyError::Broken(why) => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("the upload broke off ({why}); nothing was changed: try again"),
                ),
            };
        }
        cur = c.source();
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("the upload broke off ({e}); nothing was changed: try again"),
    )
}

/// Receives the upload into `path` (a blocking writer fed through a bounded channel).
async fn receive(body: Body, path: PathBuf) -> ApiResult<u64> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut f = std::fs::File::create(&path)?;
        let mut n = 0u64;
        while let Some(b) = rx.blocking_recv() {
            f.write_all(&b)?;
            n += b.len() as u64;
        }
        f.flush()?;
        Ok(n)
    });
    let mut stream = body.into_data_stream();
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                if tx.send(b).await.is_err() {
                    break; // the writer failed: its error is below
                }
            }
            Err(e) => {
                failed = Some(body_error(&e));
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    if let Some(e) = failed {
        return Err(e);
    }
    written.map_err(|e| {
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            format!("cannot store the upload in the data directory ({e}); nothing was changed: free some space"),
        )
    })
}

pub(super) async fn restore(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let Ok(_one) = RESTORING.try_lock() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "another restore is being checked: wait for it to finish",
        ));
    };
    let data = web.options.data_dir.clone();
    // the upload and its extracted copy both need room
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let (Some(len), Some(free)) = (declared, free_bytes(&data)) {
        if len.saturating_mul(2) > free {
            return Err(ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "the data directory has {} MiB free; checking a backup of {} MiB needs twice its size: free some space; nothing was changed",
                    free / (1024 * 1024),
                    len / (1024 * 1024)
                ),
            ));
        }
    }
    let upload = data.join(format!(
        "restore-upload-{}-{}.part",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let received = receive(body, upload.clone()).await;
    let checked = match received {
        Ok(bytes) => {
            let (u, d, board) = (upload.clone(), data.clone(), web.board.clone());
            tokio::task::spawn_blocking(move || stage_restore_file(&u, &d, &board))
                .await
                .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))
                .map(|r| r.map(|summary| (summary, bytes)))
        }
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&upload);
    let (summary, bytes) = checked?
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("file: {e:#}")))?;
    let (who, addr, sm) = (s.account.clone(), s.address.to_string(), summary.clone());
    web.db(move |st| {
        st.audit(
            &who,
            &addr,
            "restore.staged",
            &format!("{sm} ({bytes} bytes); applied at the next start"),
        )
    })
    .await?;
    Ok(Json(json!({ "staged": summary, "restart_needed": true })))
}

/// The OpenAPI paths of this file.
pub(super) fn openapi_paths() -> Value {
    let s = |t: &str| json!({ "type": t });
    json!({
        "/api/system/backup": { "get": op("A backup of the data directory (tar: database, configuration, voicemail, recordings, certificate), streamed",
            json!({ "200": { "description": "tar file", "content": { "application/x-tar": { "schema": { "type": "string", "format": "binary" } } } } })) },
        "/api/system/restore": { "post": {
            "summary": "Check a backup (streamed to the data directory; at most --max-restore-size, 2 GiB by default) and stage it; applied at the next start. A bad file changes nothing",
            "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": { "200": ok(json!({ "type": "object", "properties": { "staged": s("string"), "restart_needed": s("boolean") }, "required": ["staged", "restart_needed"] })),
                "default": { "$ref": "#/components/responses/Error" } } } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_backup_paths_are_allowed() {
        for ok in [
            "switchboard.db",
            "config.toml",
            "voicemail/1.opus",
            "recordings/a/greeting.wav",
            "tls/cert.pem",
        ] {
            assert!(allowed(Path::new(ok)), "{ok}");
        }
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "voicemail",
            "other.db",
            "tls/../../x",
            "./switchboard.db",
        ] {
            assert!(!allowed(Path::new(bad)), "{bad}");
        }
    }

    /// A backup of a data directory with a database and a voicemail file; it is cut
    /// at every kind of place and each cut is refused, the whole one staged.
    #[test]
    fn a_cut_off_backup_is_refused_and_a_whole_one_staged() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let store = crate::store::Store::open(&data.join(DB)).unwrap();
        std::fs::create_dir_all(data.join("voicemail")).unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8 + 1).collect();
        std::fs::write(data.join("voicemail/1.opus"), &big).unwrap();
        let bytes = make_backup(&store, data, None).unwrap();
        let board = crate::config::BoardProfile::sim();
        // cut inside the voicemail file, at a block boundary after it (no end
        // marker), and inside the end marker
        let vm_data = bytes.len() - 1024 - big.len().div_ceil(512) * 512;
        for cut in [vm_data + 1000, bytes.len() - 1024, bytes.len() - 100] {
            let e = stage_restore(&bytes[..cut], data, &board).unwrap_err();
            assert!(format!("{e:#}").contains("cut off"), "{cut}: {e:#}");
            assert!(!data.join(PENDING_DIR).exists());
        }
        let summary = stage_restore(&bytes, data, &board).unwrap();
        assert!(summary.starts_with("2 files"), "{summary}");
        assert_eq!(
            std::fs::read(data.join(PENDING_DIR).join("voicemail/1.opus")).unwrap(),
            big
        );
        // a bad one afterwards leaves the staged one alone
        assert!(stage_restore(&bytes[..bytes.len() / 2], data, &board).is_err());
        assert_eq!(
            std::fs::read(data.join(PENDING_DIR).join("voicemail/1.opus")).unwrap(),
            big
        );
        let left: Vec<String> = std::fs::read_dir(data)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| TEMP_PREFIXES.iter().any(|p| n.starts_with(p)))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn the_chunk_writer_sends_bounded_chunks() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let mut w = ChunkWriter {
            tx,
            buf: Vec::new(),
            sent: 0,
        };
        let data = vec![7u8; CHUNK * 3 + 10];
        w.write_all(&data).unwrap();
        w.flush().unwrap();
        drop(w);
        let mut sizes = Vec::new();
        while let Some(Ok(c)) = rx.blocking_recv() {
            sizes.push(c.len());
        }
        assert_eq!(sizes, vec![CHUNK, CHUNK, CHUNK, 10]);
    }
}
