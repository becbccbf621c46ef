//! `switchboard voicemail …` and `switchboard cdr …`: the stored records, read from the
//! data directory's database (SQLite in WAL mode: safe while the service runs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand, ValueEnum};

use crate::call::Cdr;
use crate::store::Store;

/// `switchboard voicemail`.
#[derive(Debug, Args)]
pub struct VoicemailArgs {
    /// Data directory of the service.
    #[arg(long, default_value = "switchboard-data", global = true)]
    data: PathBuf,
    #[command(subcommand)]
    command: VoicemailCommand,
}

#[derive(Debug, Subcommand)]
enum VoicemailCommand {
    /// Every stored message, newest first (JSON lines with --json).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Write a message as 8 kHz mono WAV (or the stored Ogg Opus with --ogg).
    Export {
        /// Voicemail id (from `list`).
        id: i64,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Copy the stored Ogg Opus file instead of decoding it to WAV.
        #[arg(long)]
        ogg: bool,
    },
    /// Delete a message (file and index row).
    Delete {
        /// Voicemail id.
        id: i64,
    },
}

/// `switchboard cdr`.
#[derive(Debug, Args)]
pub struct CdrArgs {
    /// Data directory of the service.
    #[arg(long, default_value = "switchboard-data", global = true)]
    data: PathBuf,
    #[command(subcommand)]
    command: CdrCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CdrFormat {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
enum CdrCommand {
    /// Call records, oldest first, one line each.
    List {
        /// From this instant (RFC 3339, e.g. 2026-03-01T00:00:00Z).
        #[arg(long)]
        from: Option<jiff::Timestamp>,
        /// Up to this instant.
        #[arg(long)]
        to: Option<jiff::Timestamp>,
    },
    /// Call records as CSV (with a header) or JSON lines.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = CdrFormat::Csv)]
        format: CdrFormat,
        /// From this instant (RFC 3339).
        #[arg(long)]
        from: Option<jiff::Timestamp>,
        /// Up to this instant.
        #[arg(long)]
        to: Option<jiff::Timestamp>,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// `switchboard sms`.
#[derive(Debug, Args)]
pub struct SmsArgs {
    /// Data directory of the service.
    #[arg(long, default_value = "switchboard-data", global = true)]
    data: PathBuf,
    #[command(subcommand)]
    command: SmsCommand,
}

#[derive(Debug, Subcommand)]
enum SmsCommand {
    /// Received SMS, newest first, with what the box did with each (JSON lines).
    Inbox {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// Runs `switchboard sms …`.
pub fn sms(args: SmsArgs) -> ExitCode {
    exit((|| {
        let store = open_store(&args.data)?;
        match args.command {
            SmsCommand::Inbox { limit } => {
                for r in store.inbox(limit)? {
                    println!("{}", serde_json::to_string(&r)?);
                }
            }
        }
        Ok(())
    })())
}

fn open_store(data: &Path) -> Result<Store> {
    let db = data.join("switchboard.db");
    if !db.exists() {
        return Err(anyhow!(
            "no database at {}: give the service's data directory with --data",
            db.display()
        ));
    }
    Store::open(&db)
}

fn exit(r: Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs `switchboard voicemail …`.
pub fn voicemail(args: VoicemailArgs) -> ExitCode {
    exit(voicemail_inner(args))
}

fn voicemail_inner(args: VoicemailArgs) -> Result<()> {
    let mut store = open_store(&args.data)?;
    let dir = args.data.join("voicemail");
    match args.command {
        VoicemailCommand::List { json } => {
            let rows = store.voicemails()?;
            let mut out = std::io::stdout().lock();
            if !json {
                writeln!(
                    out,
                    "{:>5}  {:<24}  {:<18}  {:<16}  {:>7}  {:>8}  flags",
                    "id", "recorded", "routing number", "caller", "seconds", "bytes"
                )?;
            }
            for r in rows {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&r)?)?;
                } else {
                    writeln!(
                        out,
                        "{:>5}  {:<24}  {:<18}  {:<16}  {:>7.1}  {:>8}  {}{}",
                        r.id,
                        r.recorded_at,
                        r.routing_id,
                        r.caller_id.as_deref().unwrap_or("anonymous"),
                        r.seconds,
                        r.bytes,
                        if r.empty { "empty " } else { "" },
                        r.ended_by
                    )?;
                }
            }
            Ok(())
        }
        VoicemailCommand::Export { id, output, ogg } => {
            let (row, bytes) = store.voicemail_audio(&dir, id)?;
            if ogg {
                std::fs::write(&output, &bytes)
                    .with_context(|| format!("cannot write {}", output.display()))?;
            } else {
                let samples = crate::media::ogg_opus::decode(&bytes)?;
                let spec = hound::WavSpec {
                    channels: 1,
                    sample_rate: crate::dsp::SAMPLE_RATE,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let mut w = hound::WavWriter::create(&output, spec)
                    .with_context(|| format!("cannot write {}", output.display()))?;
                for s in samples {
                    w.write_sample(s)?;
                }
                w.finalize()?;
            }
            eprintln!(
                "voicemail {} ({:.1} s from {}) written to {}",
                row.id,
                row.seconds,
                row.caller_id.as_deref().unwrap_or("anonymous"),
                output.display()
            );
            Ok(())
        }
        VoicemailCommand::Delete { id } => {
            store.delete_voicemail(&dir, id)?;
            eprintln!("voicemail {id} deleted");
            Ok(())
        }
    }
}

/// Runs `switchboard cdr …`.
pub fn cdr(args: CdrArgs) -> ExitCode {
    exit(cdr_inner(args))
}

fn cdr_inner(args: CdrArgs) -> Result<()> {
    let store = open_store(&args.data)?;
    match args.command {
        CdrCommand::List { from, to } => {
            let mut out = std::io::stdout().lock();
            for (id, c) in store.cdrs_between(from, to)? {
                writeln!(
                    out,
                    "{id:>5}  {}  {:<18}  {:<16}  {:<16}  {:>6.1} s  {}{}{}",
                    c.started_at,
                    c.routing_id,
                    c.caller_id.as_deref().unwrap_or("anonymous"),
                    c.end_reason.as_str(),
                    c.duration_seconds,
                    c.accepted_by
                        .as_deref()
                        .map(|a| format!("accepted by {a}"))
                        .unwrap_or_default(),
                    c.voicemail_id
                        .map(|v| format!(" voicemail {v}"))
                        .unwrap_or_default(),
                    if c.path.is_empty() {
                        String::new()
                    } else {
                        format!("  path {}", c.path.join(" > "))
                    },
                )?;
            }
            Ok(())
        }
        CdrCommand::Export {
            format,
            from,
            to,
            output,
        } => {
            let rows = store.cdrs_between(from, to)?;
            let mut buf = Vec::new();
            match format {
                CdrFormat::Csv => write_csv(&mut buf, &rows)?,
                CdrFormat::Json => write_json_lines(&mut buf, &rows)?,
            }
            match output {
                Some(p) => std::fs::write(&p, &buf)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => std::io::stdout().lock().write_all(&buf)?,
            }
            Ok(())
        }
    }
}

/// Writes CDRs as JSON lines, each with its `id`.
pub fn write_json_lines(w: &mut impl Write, rows: &[(i64, Cdr)]) -> Result<()> {
    for (id, c) in rows {
        let mut v = serde_json::to_value(c)?;
        v["id"] = (*id).into();
        writeln!(w, "{}", serde_json::to_string(&v)?)?;
    }
    Ok(())
}

/// The CSV columns of `cdr export`.
pub const CSV_HEADER: &[&str] = &[
    "id",
    "call_id",
    "started_at",
    "ended_at",
    "routing_id",
    "routing_number",
    "port",
    "caller_id",
    "option_key",
    "option_label",
    "policy",
    "digits",
    "attempts",
    "accepted_by",
    "bridge_started_at",
    "bridge_seconds",
    "queue_seconds",
    "overflow",
    "voicemail",
    "voicemail_id",
    "alert_id",
    "duration_seconds",
    "end_reason",
];

/// One CSV field: quoted when it must be (RFC 4180), and a text a spreadsheet would
/// run as a formula (`=`, `@`, a tab, or `+`/`-` not starting a number: caller IDs and
/// labels come from outside) is defused with a leading `'`.
fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '@', '\t', '\r'])
        || (s.starts_with(['+', '-']) && !s[1..].starts_with(|c: char| c.is_ascii_digit()));
    let s = if formula {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    if formula || s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// Writes CDRs as RFC 4180 CSV with a header line.
pub fn write_csv(w: &mut impl Write, rows: &[(i64, Cdr)]) -> Result<()> {
    writeln!(w, "{}", CSV_HEADER.join(","))?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for (id, c) in rows {
        let attempts: Vec<String> = c
            .attempts
            .iter()
            .map(|a| format!("{}:{}", a.user, a.outcome.as_str()))
            .collect();
        let fields = [
            id.to_string(),
            c.call_id.to_string(),
            c.started_at.to_string(),
            c.ended_at.to_string(),
            c.routing_id.clone(),
            c.routing_number.clone(),
            c.port.clone(),
            opt(c.caller_id.clone()),
            opt(c.option_key.map(|k| k.to_string())),
            opt(c.option_label.clone()),
            opt(c.policy.clone()),
            c.digits.clone(),
            attempts.join(";"),
            opt(c.accepted_by.clone()),
            opt(c.bridge_started_at.map(|t| t.to_string())),
            opt(c.bridge_seconds.map(|s| format!("{s:.1}"))),
            opt(c.queue_seconds.map(|s| format!("{s:.1}"))),
            opt(c.overflow.clone()),
            opt(c.voicemail.clone()),
            opt(c.voicemail_id.map(|v| v.to_string())),
            opt(c.alert_id.map(|v| v.to_string())),
            format!("{:.1}", c.duration_seconds),
            c.end_reason.as_str().to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(w, "{}", line.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        // numbers stay numbers; formulas are defused
        assert_eq!(csv_field("+15551234567"), "+15551234567");
        assert_eq!(csv_field("-1.5"), "-1.5");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_field("+cmd"), "\"'+cmd\"");
    }
}
