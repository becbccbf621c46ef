//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use super::service::{self, RunOptions};

/// Switchboard: on-site call routing. Runs on the simulated board by default.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum FlowCommand {
    /// Print the compiled flow of a routing number (by id, name or port) as a tree.
    Show {
        /// Routing number: its id, its name or one of its ports.
        number: String,
        /// Configuration file (TOML); default: the built-in demo configuration.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Board profile (TOML); default: the simulated board.
        #[arg(long)]
        board: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (default: simulated board, built-in demo configuration).
    Run {
        /// Configuration file (TOML); default: the built-in demo configuration.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Board profile (TOML); default: the simulated board (board/sim.toml, built in).
        #[arg(long)]
        board: Option<PathBuf>,
        /// Data directory (database, rendered prompts).
        #[arg(long, default_value = "switchboard-data")]
        data: PathBuf,
        /// Listen address of the web page (HTTPS unless --no-tls).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Serve the page over plain HTTP (e.g. behind a TLS proxy); default: HTTPS with
        /// the box's own certificate (made on first start) or --tls-cert/--tls-key.
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key", "http_redirect"])]
        no_tls: bool,
        /// Your own certificate chain for the page (PEM, leaf first), instead of the
        /// box's self-signed one; needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM, unencrypted).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Also listen for plain HTTP here and send every request on to the HTTPS page
        /// (e.g. 0.0.0.0:80).
        #[arg(long)]
        http_redirect: Option<SocketAddr>,
        /// File with the bearer token for `/metrics` (metrics are off without it).
        #[arg(long)]
        metrics_token_file: Option<PathBuf>,
        /// Web sessions end after this long unused (e.g. "30m").
        #[arg(long, default_value = "30m", value_parser = crate::config::parse_duration)]
        idle_timeout: std::time::Duration,
        /// The largest backup a restore on the page takes (e.g. "2GiB", "500MiB"); the
        /// upload is streamed to the data directory, which needs twice its size free.
        #[arg(long, default_value = "2GiB", value_parser = crate::web::server::parse_size)]
        max_restore_size: u64,
    },
    /// Print the web page's setup token (while the box has no admin password yet).
    SetupToken {
        /// Data directory of the service.
        #[arg(long, default_value = "switchboard-data")]
        data: PathBuf,
    },
    /// Forgotten password: void every admin password and web session and print a new
    /// setup token; the next visit of the web page sets a new password with it.
    ResetPassword {
        /// Data directory of the service.
        #[arg(long, default_value = "switchboard-data")]
        data: PathBuf,
    },
    /// Call flows: `flow show NUMBER` prints a routing number's compiled flow as a tree.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
    /// Validate a configuration file; exits non-zero and names each problem.
    CheckConfig {
        /// Configuration file.
        file: PathBuf,
        /// Board profile to check the ports against; default: the simulated board.
        #[arg(long)]
        board: Option<PathBuf>,
    },
    /// DTMF: decode digits from a WAV file, or generate one.
    Dtmf {
        #[command(subcommand)]
        command: DtmfCommand,
    },
    /// Caller ID (Bell 202 / V.23 FSK, DTMF CLIP): decode a WAV file, or generate one.
    Callerid {
        #[command(subcommand)]
        command: CallerIdCommand,
    },
    /// Call-progress and fax tones: detect them in a WAV file, or generate one.
    Tones {
        #[command(subcommand)]
        command: TonesCommand,
    },
    /// Benchmarks of the signal processing.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Who is on call: every schedule, each policy's levels, with --policy the hunt
    /// plan; with --schedule, --from and --to the handoff timeline.
    Oncall(super::oncall::OncallOptions),
    /// Modem bring-up: talk to a GSM/LTE modem's AT port directly.
    Modem {
        /// The AT port (e.g. /dev/modem-at).
        #[arg(long)]
        port: String,
        /// Baud rate.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// AT dialect: auto (detect from AT+CGMI/AT+CGMM/ATI), generic, quectel, simcom.
        #[arg(long, default_value = "auto")]
        dialect: String,
        /// The SIM's PIN: sent once if (and only if) the SIM asks for it.
        #[arg(long)]
        pin: Option<String>,
        #[command(subcommand)]
        command: super::modem_cli::ModemCommand,
    },
    /// Stored voicemail: list, export as WAV (or Ogg Opus), delete.
    Voicemail(super::records_cli::VoicemailArgs),
    /// Call detail records: list, export as CSV or JSON lines.
    Cdr(super::records_cli::CdrArgs),
    /// The alert outbox: list, retry, test a target, flush.
    Alerts(super::alerts_cli::AlertsArgs),
    /// Received SMS (the inbox in the data directory).
    Sms(super::records_cli::SmsArgs),
    /// The simulated board.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DtmfCommand {
    /// Print the digits of an 8 kHz mono 16-bit WAV file as one string (other rates
    /// and channel counts are converted).
    Decode {
        /// WAV file.
        file: PathBuf,
        /// Print one JSON line per digit (start/end ms, levels) instead.
        #[arg(long)]
        events: bool,
    },
    /// Write DTMF digits to an 8 kHz mono WAV file.
    Gen {
        /// Digits (0-9, *, #, A-D).
        digits: String,
        /// Output WAV file.
        #[arg(short, long)]
        output: PathBuf,
        /// Tone duration per digit, ms.
        #[arg(long, default_value_t = 50)]
        on_ms: u32,
        /// Pause after each digit, ms.
        #[arg(long, default_value_t = 50)]
        off_ms: u32,
        /// Level of the low tone, dBm0.
        #[arg(long, default_value_t = -10.0, allow_hyphen_values = true)]
        level: f32,
        /// Twist: high tone minus low tone, dB.
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        twist: f32,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CidStandardArg {
    /// Bell 202 and V.23 FSK, and DTMF CLIP.
    Auto,
    /// Bell 202 FSK (mark 1200 Hz, space 2200 Hz).
    Bell202,
    /// ITU-T V.23 FSK as used by ETSI EN 300 659 (mark 1300 Hz, space 2100 Hz).
    V23,
    /// DTMF CLIP (A<number>C, D<number>#, B00C, …).
    Dtmf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CidGenStandardArg {
    /// Bell 202 FSK.
    Bell202,
    /// V.23 FSK (ETSI).
    V23,
    /// DTMF CLIP.
    Dtmf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CidFormatArg {
    /// Single data message format (type 0x04: date/time and number).
    Sdmf,
    /// Multiple data message format (type 0x80: date/time, number, name).
    Mdmf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CidWithheldArg {
    /// Number withheld by the caller ('P', DTMF B10C).
    Private,
    /// Number unavailable ('O', DTMF B00C).
    Unavailable,
}

#[derive(Debug, Subcommand)]
enum CallerIdCommand {
    /// Find caller ID messages in a WAV file (other rates and channel counts are
    /// converted). Prints one JSON line per message found; `"valid": true` for those
    /// received intact. Exit status 0 if at least one valid message was found, 1 if
    /// none, 2 if the file cannot be read.
    Decode {
        /// WAV file.
        file: PathBuf,
        /// Signalling to listen for.
        #[arg(long, value_enum, default_value_t = CidStandardArg::Auto)]
        standard: CidStandardArg,
    },
    /// Write a caller ID message to an 8 kHz mono WAV file.
    Gen {
        /// Calling number.
        #[arg(long, required_unless_present = "withheld")]
        number: Option<String>,
        /// Send the reason the number is absent instead of a number.
        #[arg(long, value_enum, conflicts_with = "number")]
        withheld: Option<CidWithheldArg>,
        /// Calling name (MDMF only).
        #[arg(long)]
        name: Option<String>,
        /// Date and time sent, MMDDHHMM; default: now (local time).
        #[arg(long)]
        date: Option<String>,
        /// Signalling.
        #[arg(long, value_enum, default_value_t = CidGenStandardArg::Bell202)]
        standard: CidGenStandardArg,
        /// Message format (FSK only).
        #[arg(long, value_enum, default_value_t = CidFormatArg::Mdmf)]
        format: CidFormatArg,
        /// Level, dBm0 (DTMF: per tone).
        #[arg(long, default_value_t = -13.0, allow_hyphen_values = true)]
        level: f32,
        /// Baud-rate error, percent (FSK).
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        baud_error: f64,
        /// Frequency error of both tones, percent (FSK).
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        freq_error: f64,
        /// Channel-seizure bits (FSK); default 300.
        #[arg(long)]
        seizure_bits: Option<u32>,
        /// Mark bits before the message (FSK); default 180 (Bell 202), 80 (V.23).
        #[arg(long)]
        mark_bits: Option<u32>,
        /// DTMF CLIP start and end codes, e.g. AC, DC, A#, D#.
        #[arg(long, default_value = "AC")]
        clip_codes: String,
        /// Silence before and after, ms.
        #[arg(long, default_value_t = 200)]
        pad_ms: u32,
        /// Output WAV file.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TonesCommand {
    /// Print one JSON line per call-progress or fax tone found in a WAV file (nothing if
    /// none); exit 2 on an unreadable file or an unknown country.
    Detect {
        /// WAV file (any rate and channel count; converted to 8 kHz mono).
        file: PathBuf,
        /// Country whose tone plan to use: US, UK, DE, FR, NL, AU.
        #[arg(long)]
        country: String,
    },
    /// Write a tone with its cadence to an 8 kHz mono WAV file.
    Gen {
        /// dial, ringback, busy, congestion, sit, cng or ced.
        kind: String,
        /// Country (needed for dial, ringback, busy, congestion).
        #[arg(long)]
        country: Option<String>,
        /// Output WAV file.
        #[arg(short, long)]
        output: PathBuf,
        /// Length in seconds (default: 5 s continuous, 4 s CED, else two cycles).
        #[arg(long)]
        seconds: Option<f32>,
        /// Level per component, dBm0 (default: the table's).
        #[arg(long, allow_hyphen_values = true)]
        level: Option<f32>,
        /// CED with a phase reversal every 450 ms.
        #[arg(long)]
        phase_reversals: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Whole calls through the engine on the simulated board, in virtual time: calls
    /// back to back, then bursts of callers at once on four lines. Prints calls per
    /// second, wall time per second of call, outcomes and resident memory.
    Calls {
        /// Calls back to back.
        #[arg(long, default_value_t = 1000)]
        calls: u64,
        /// Callers arriving at once in the burst run.
        #[arg(long, default_value_t = 100)]
        burst: u64,
        /// Directory for cached speech.
        #[arg(long, default_value = "target/tts-cache")]
        tts_cache: PathBuf,
    },
    /// Scenario files on the simulated board, each run several times: seconds of call,
    /// best CPU and wall time of a run, speed-up over real time, and how many reach
    /// the goal (1,000× real time by CPU time).
    Scenarios {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Runs per scenario (the best is reported).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// The speed-up the summary counts against.
        #[arg(long, default_value_t = 1000.0)]
        goal: f64,
        /// Where rendered prompts are cached.
        #[arg(long, default_value = "switchboard-data/tts")]
        tts_cache: PathBuf,
    },
    /// DTMF detection throughput on one core, in audio-seconds per CPU-second.
    Dtmf {
        /// Audio file to use (WAV); default: the built-in benchmark signal.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Length of the built-in signal, seconds.
        #[arg(long, default_value_t = 600)]
        seconds: u32,
        /// Repetitions.
        #[arg(long, default_value_t = 5)]
        reps: u32,
        /// Write the built-in signal as raw 16-bit little-endian PCM here (for other
        /// detectors, e.g. the spandsp harness) and exit.
        #[arg(long)]
        write_raw: Option<PathBuf>,
        /// Write the built-in signal as an 8 kHz mono 16-bit WAV file here (for the
        /// end-to-end `dtmf decode` measurement) and exit.
        #[arg(long)]
        write_wav: Option<PathBuf>,
    },
    /// Alert delivery: N queued events to a local test receiver; events per second and
    /// peak memory, as JSON.
    Alerts {
        /// Events to queue and deliver.
        #[arg(long, default_value_t = 10_000)]
        events: usize,
    },
}

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Serve the simulated modem on a pseudo-terminal: prints its path (one line),
    /// then what the network sees (SMS, PIN entries, calls, forwarding) as JSON lines,
    /// until killed.
    Modem(super::modem_cli::SimModemArgs),
    /// Run scenario files on the simulated board in virtual time; exit 0 only if every
    /// scenario's [expect] holds.
    Scenario {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print only the verdict, not the transcript.
        #[arg(long, short)]
        quiet: bool,
        /// Where rendered prompts are cached.
        #[arg(long, default_value = "switchboard-data/tts")]
        tts_cache: PathBuf,
    },
}

fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::web::logtail::make_writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Entry point of the binary.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run {
        config: None,
        board: None,
        data: PathBuf::from("switchboard-data"),
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        no_tls: false,
        tls_cert: None,
        tls_key: None,
        http_redirect: None,
        metrics_token_file: None,
        idle_timeout: crate::web::auth::DEFAULT_IDLE_TIMEOUT,
        max_restore_size: crate::web::server::DEFAULT_MAX_STREAM_BODY,
    });
    match command {
        Command::Run {
            config,
            board,
            data,
            listen,
            no_tls,
            tls_cert,
            tls_key,
            http_redirect,
            metrics_token_file,
            idle_timeout,
            max_restore_size,
        } => {
            init_logging(cli.log_format, "info");
            match service::run(RunOptions {
                config,
                board,
                data,
                listen,
                tls: match (no_tls, tls_cert, tls_key) {
                    (true, _, _) => None,
                    (false, Some(cert), Some(key)) => {
                        Some(crate::web::tls::CertSource::Files { cert, key })
                    }
                    _ => Some(crate::web::tls::CertSource::Generated),
                },
                http_redirect,
                metrics_token_file,
                idle_timeout,
                max_restore_bytes: max_restore_size,
            }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::SetupToken { data } => {
            init_logging(cli.log_format, "warn");
            print_or_fail(super::web_cli::setup_token(&data))
        }
        Command::ResetPassword { data } => {
            init_logging(cli.log_format, "warn");
            match super::web_cli::reset_password(&data) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Voicemail(args) => {
            init_logging(cli.log_format, "warn");
            super::records_cli::voicemail(args)
        }
        Command::Cdr(args) => {
            init_logging(cli.log_format, "warn");
            super::records_cli::cdr(args)
        }
        Command::Sms(args) => {
            init_logging(cli.log_format, "warn");
            super::records_cli::sms(args)
        }
        Command::Alerts(args) => {
            init_logging(cli.log_format, "warn");
            super::alerts_cli::alerts(args)
        }
        Command::Bench {
            command: BenchCommand::Alerts { events },
        } => {
            init_logging(cli.log_format, "error");
            let run = tempfile_dir().and_then(|d| {
                let r = super::alerts_cli::bench_delivery(&d, events);
                let _ = std::fs::remove_dir_all(&d);
                r
            });
            match run {
                Ok(r) => {
                    println!("{}", serde_json::to_string(&r).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Flow {
            command:
                FlowCommand::Show {
                    number,
                    config,
                    board,
                },
        } => {
            init_logging(cli.log_format, "warn");
            print_or_fail(
                service::load(board.as_ref(), config.as_ref())
                    .and_then(|(_, cfg)| flow_show(&cfg, &number)),
            )
        }
        Command::CheckConfig { file, board } => {
            init_logging(cli.log_format, "warn");
            match service::load(board.as_ref(), Some(&file)) {
                Ok((board, cfg)) => {
                    println!(
                        "{}: OK ({} users, {} policies, {} routing numbers, board `{}`)",
                        file.display(),
                        cfg.users.len(),
                        cfg.policies.len(),
                        cfg.routing_numbers.len(),
                        board.name
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Dtmf { command } => {
            init_logging(cli.log_format, "warn");
            let r = match command {
                DtmfCommand::Decode { file, events } => {
                    super::dsp_cli::dtmf_decode(&file, events, &mut std::io::stdout().lock())
                }
                DtmfCommand::Gen {
                    digits,
                    output,
                    on_ms,
                    off_ms,
                    level,
                    twist,
                } => super::dsp_cli::dtmf_gen(
                    &digits,
                    &output,
                    &crate::dsp::dtmf::DtmfGenParams {
                        on_ms,
                        off_ms,
                        level_dbm0: level,
                        twist_db: twist,
                    },
                ),
            };
            match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Callerid { command } => {
            init_logging(cli.log_format, "warn");
            callerid(command)
        }
        Command::Tones { command } => {
            init_logging(cli.log_format, "warn");
            let r = match command {
                TonesCommand::Detect { file, country } => {
                    super::dsp_cli::tones_detect(&file, &country, &mut std::io::stdout().lock())
                }
                TonesCommand::Gen {
                    kind,
                    country,
                    output,
                    seconds,
                    level,
                    phase_reversals,
                } => super::dsp_cli::tones_gen(
                    &kind,
                    country.as_deref(),
                    &output,
                    seconds,
                    level,
                    phase_reversals,
                ),
            };
            match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Bench {
            command:
                BenchCommand::Calls {
                    calls,
                    burst,
                    tts_cache,
                },
        } => {
            init_logging(cli.log_format, "error");
            for (what, n, at_once) in [("back to back", calls, 1), ("burst", burst, burst)] {
                if n == 0 {
                    continue;
                }
                eprintln!("running {n} calls {what} ...");
                match super::bench_calls::run(n, at_once, Some(tts_cache.clone())) {
                    Ok(f) => println!("{what}: {f}"),
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Command::Bench {
            command:
                BenchCommand::Scenarios {
                    files,
                    runs,
                    goal,
                    tts_cache,
                },
        } => {
            // the scenarios' own errors (a modem unplugged on purpose) are not news here
            init_logging(cli.log_format, "off");
            use super::bench_scenarios as b;
            println!("{}", b::HEADER);
            let mut all = Vec::new();
            for f in &files {
                match b::time_one(f, runs, &tts_cache) {
                    Ok(t) => {
                        println!("{}", b::line(&t));
                        all.push(t);
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            println!("{}", b::summary(&all, goal, runs.max(1)));
            ExitCode::SUCCESS
        }
        Command::Bench {
            command:
                BenchCommand::Dtmf {
                    file,
                    seconds,
                    reps,
                    write_raw,
                    write_wav,
                },
        } => {
            init_logging(cli.log_format, "warn");
            let audio = match &file {
                Some(f) => match super::dsp_cli::read_wav_8k_mono(f) {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        return ExitCode::FAILURE;
                    }
                },
                None => super::dsp_cli::bench_signal(seconds),
            };
            if let Some(p) = write_wav {
                return match super::dsp_cli::write_wav_8k(&p, &audio) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        ExitCode::FAILURE
                    }
                };
            }
            if let Some(p) = write_raw {
                let bytes: Vec<u8> = audio.iter().flat_map(|s| s.to_le_bytes()).collect();
                return match std::fs::write(&p, bytes) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: cannot write {}: {e}", p.display());
                        ExitCode::FAILURE
                    }
                };
            }
            let r = super::dsp_cli::bench_dtmf(&audio, reps);
            println!(
                "switchboard dtmf: {:.0} audio-s in {:.3} CPU-s = {:.0} audio-seconds per CPU-second ({} digits per pass)",
                r.audio_seconds,
                r.cpu_seconds,
                r.audio_seconds / r.cpu_seconds.max(1e-9),
                r.digits
            );
            ExitCode::SUCCESS
        }
        Command::Oncall(opts) => {
            init_logging(cli.log_format, "error");
            match super::oncall::run(&opts) {
                Ok(out) => {
                    println!("{}", out.trim_end());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Modem {
            port,
            baud,
            dialect,
            pin,
            command,
        } => {
            init_logging(cli.log_format, "warn");
            match super::modem_cli::run(&port, baud, &dialect, pin, command) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Sim {
            command: SimCommand::Modem(args),
        } => {
            init_logging(cli.log_format, "warn");
            match super::modem_cli::serve_sim(&args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Sim {
            command:
                SimCommand::Scenario {
                    files,
                    quiet,
                    tts_cache,
                },
        } => {
            init_logging(cli.log_format, "warn");
            let mut failed = 0;
            for f in &files {
                match crate::scenario::run_file(f, Some(tts_cache.clone())) {
                    Ok((sc, out)) => {
                        if !quiet {
                            println!("== {} ({})", sc.name, f.display());
                            for l in &out.transcript {
                                println!("{l}");
                            }
                        }
                        let verdict = if out.passed() { "PASS" } else { "FAIL" };
                        println!(
                            "{verdict} {} — {:.1} s of call in {:.0} ms",
                            f.display(),
                            out.virtual_time.as_secs_f64(),
                            out.real_time.as_secs_f64() * 1000.0
                        );
                        for fl in &out.failures {
                            println!("  expected: {fl}");
                        }
                        if !out.passed() {
                            failed += 1;
                        }
                    }
                    Err(e) => {
                        println!("ERROR {}: {e:#}", f.display());
                        failed += 1;
                    }
                }
            }
            println!("{} passed, {failed} failed", files.len() - failed);
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn callerid(command: CallerIdCommand) -> ExitCode {
    use crate::dsp::callerid::{
        Absence, CallerId, ClipStyle, DateTime, FskGenParams, FskStandard, Signalling,
    };
    match command {
        CallerIdCommand::Decode { file, standard } => {
            let signalling = match standard {
                CidStandardArg::Auto => Signalling::Auto,
                CidStandardArg::Bell202 => Signalling::Bell202,
                CidStandardArg::V23 => Signalling::V23,
                CidStandardArg::Dtmf => Signalling::Dtmf,
            };
            match super::dsp_cli::callerid_decode(&file, signalling, &mut std::io::stdout().lock())
            {
                Ok(s) if s.valid > 0 => ExitCode::SUCCESS,
                Ok(s) => {
                    if s.rejected > 0 {
                        eprintln!(
                            "no valid caller ID message in {}: {} message(s) rejected (see the JSON lines for why)",
                            file.display(),
                            s.rejected
                        );
                    } else {
                        let hint = if matches!(standard, CidStandardArg::Auto) {
                            ""
                        } else {
                            "try --standard auto; "
                        };
                        eprintln!(
                            "no caller ID message found in {} ({hint}FSK needs at least -48 dBm0 and 40 mark bits before the message; DTMF CLIP needs a start code A, B or D and an end code C or #)",
                            file.display()
                        );
                    }
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        CallerIdCommand::Gen {
            number,
            withheld,
            name,
            date,
            standard,
            format,
            level,
            baud_error,
            freq_error,
            seizure_bits,
            mark_bits,
            clip_codes,
            pad_ms,
            output,
        } => {
            let date_time = match date {
                Some(d) => match DateTime::parse(d.as_bytes()) {
                    Some(dt) => dt,
                    None => {
                        eprintln!(
                            "error: --date {d:?} is not MMDDHHMM (e.g. 11221403 for 22 November 14:03)"
                        );
                        return ExitCode::FAILURE;
                    }
                },
                None => {
                    let now = jiff::Zoned::now();
                    DateTime {
                        month: now.month() as u8,
                        day: now.day() as u8,
                        hour: now.hour() as u8,
                        minute: now.minute() as u8,
                    }
                }
            };
            let clip_style = {
                let c: Vec<char> = clip_codes.chars().collect();
                match c[..] {
                    [start @ ('A' | 'D'), end @ ('C' | '#')] => ClipStyle { start, end },
                    _ => {
                        eprintln!(
                            "error: --clip-codes {clip_codes:?}: give a start code A or D and an end code C or #, e.g. AC or D#"
                        );
                        return ExitCode::FAILURE;
                    }
                }
            };
            let id = CallerId {
                date_time: Some(date_time),
                number,
                number_absent: withheld.map(|w| match w {
                    CidWithheldArg::Private => Absence::Private,
                    CidWithheldArg::Unavailable => Absence::Unavailable,
                }),
                name,
                ..CallerId::default()
            };
            let fsk = match standard {
                CidGenStandardArg::Bell202 => Some(FskStandard::Bell202),
                CidGenStandardArg::V23 => Some(FskStandard::V23),
                CidGenStandardArg::Dtmf => None,
            }
            .map(|s| {
                let d = FskGenParams::new(s);
                FskGenParams {
                    baud_error: baud_error / 100.0,
                    freq_error: freq_error / 100.0,
                    seizure_bits: seizure_bits.unwrap_or(d.seizure_bits),
                    mark_bits: mark_bits.unwrap_or(d.mark_bits),
                    ..d
                }
            });
            let g = super::dsp_cli::CallerIdGen {
                id,
                fsk,
                sdmf: matches!(format, CidFormatArg::Sdmf),
                clip_style,
                level_dbm0: level,
                pad_ms,
            };
            match super::dsp_cli::callerid_gen(&g, &output) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Prints a command's text, or its error (exit 1).
fn print_or_fail(r: anyhow::Result<String>) -> ExitCode {
    match r {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `switchboard flow show`: the routing number (by id, name or port) and its flow tree.
fn flow_show(cfg: &crate::config::Config, number: &str) -> anyhow::Result<String> {
    let rn = cfg
        .routing_numbers
        .iter()
        .find(|r| r.key == number || r.name == number || r.serves_port(number))
        .ok_or_else(|| {
            let ids: Vec<&str> = cfg.routing_numbers.iter().map(|r| r.key.as_str()).collect();
            anyhow::anyhow!(
                "no routing number `{number}`: use an id, a name or a port; the ids are {}",
                ids.join(", ")
            )
        })?;
    let shape = if rn.flow.explicit {
        "[[routing_number.step]]"
    } else {
        "compiled from greeting, options and settings"
    };
    Ok(format!(
        "{} ({}) on {} — {shape}\n{}",
        rn.name,
        rn.key,
        rn.port.get_ref(),
        rn.flow.tree()
    ))
}
