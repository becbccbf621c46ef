//! `switchboard run`: the service's threads.
//!
//! - the **engine thread** owns the exchange, the board and the modem's serial port, and
//!   runs the 20 ms audio clock (see [`super::engine`]);
//! - the **store thread** owns the SQLite connection and writes CDRs it receives over a
//!   channel, so a slow SD card never stalls the engine;
//! - the **tokio runtime** (main thread + workers) serves HTTP and waits for signals.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use super::engine::Engine;
use crate::config::{BoardProfile, Config};
use crate::exchange::{CallEvent, Command, CommandResult, Exchange, Output};
use crate::hw::board::HwBoard;
use crate::hw::sim::SimBoard;
use crate::media::tts::Tts;
use crate::store::Store;
use crate::web::{self, PrepareError, ServiceStatus, Shared, SimCall};

/// Options of `switchboard run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Configuration file; None = built-in demo.
    pub config: Option<PathBuf>,
    /// Board profile; None = the simulated board.
    pub board: Option<PathBuf>,
    /// Data directory.
    pub data: PathBuf,
    /// Listen address of the web page.
    pub listen: SocketAddr,
    /// HTTPS with this certificate; None = plain HTTP.
    pub tls: Option<web::tls::CertSource>,
    /// A plain-HTTP listener that redirects to the HTTPS page.
    pub http_redirect: Option<SocketAddr>,
    /// File holding the bearer token of `/metrics` (metrics off without it).
    pub metrics_token_file: Option<PathBuf>,
    /// Web sessions end after this long unused.
    pub idle_timeout: Duration,
    /// The largest backup the page's restore takes (streamed to the data directory).
    pub max_restore_bytes: u64,
}

/// A command for the engine thread, with the channel its result goes back on.
pub struct EngineRequest {
    /// What to do.
    pub cmd: Command,
    /// Where the result goes (the engine never blocks on it).
    pub reply: crossbeam_channel::Sender<CommandResult>,
}

/// An SMS's result as the engine reported it.
type SmsDone = (crate::modem::SmsId, Result<(), String>);

/// How the rest of the service talks to the engine thread: commands in (taken every
/// engine turn, at most 20 ms later), typed call events out (a broadcast that drops
/// the oldest events for a listener that falls behind, never blocking the engine).
#[derive(Clone)]
pub struct EngineHandle {
    tx: crossbeam_channel::Sender<EngineRequest>,
    events: tokio::sync::broadcast::Sender<CallEvent>,
    /// Results of sent SMS ([`Output::SmsSent`]): the engine pushes (dropping the
    /// oldest when nobody reads), the alert sender's SMS path waits for its own.
    sms_done: (
        crossbeam_channel::Sender<SmsDone>,
        crossbeam_channel::Receiver<SmsDone>,
    ),
    /// Results of SIM PINs typed on the page ([`Output::SimPin`]).
    sim_pin: tokio::sync::broadcast::Sender<crate::modem::PinEntryResult>,
}

impl EngineHandle {
    /// A handle and the receiving end the engine thread drains.
    pub fn new() -> (Self, crossbeam_channel::Receiver<EngineRequest>) {
        let (tx, rx) = crossbeam_channel::bounded(64);
        let (events, _) = tokio::sync::broadcast::channel(256);
        let sms_done = crossbeam_channel::bounded(64);
        let (sim_pin, _) = tokio::sync::broadcast::channel(8);
        (
            Self {
                tx,
                events,
                sms_done,
                sim_pin,
            },
            rx,
        )
    }

    /// The engine reports an SMS's result (never blocks: the oldest unread result
    /// makes room).
    fn sms_result(&self, id: crate::modem::SmsId, result: Result<(), String>) {
        if let Err(crossbeam_channel::TrySendError::Full(r)) =
            self.sms_done.0.try_send((id, result))
        {
            let _ = self.sms_done.1.try_recv();
            let _ = self.sms_done.0.try_send(r);
        }
    }

    /// Sends a command and waits (up to `timeout`) for its result. Blocking: from async
    /// code call it through `tokio::task::spawn_blocking`.
    pub fn command(&self, cmd: Command, timeout: Duration) -> Result<CommandResult> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        self.tx
            .try_send(EngineRequest { cmd, reply })
            .map_err(|_| anyhow!("the engine is not taking commands (stopped or overloaded)"))?;
        rx.recv_timeout(timeout)
            .map_err(|_| anyhow!("the engine did not answer within {timeout:?}"))
    }

    /// Sends a command without waiting for its result (the store thread: deleting
    /// stored SMS, confirmations). `false` when the engine does not take it now.
    pub fn send(&self, cmd: Command) -> bool {
        let (reply, _) = crossbeam_channel::bounded(1);
        self.tx.try_send(EngineRequest { cmd, reply }).is_ok()
    }

    /// Results of SIM PINs typed on the page from now on (subscribe before sending
    /// [`Command::EnterSimPin`]).
    pub fn sim_pin_results(
        &self,
    ) -> tokio::sync::broadcast::Receiver<crate::modem::PinEntryResult> {
        self.sim_pin.subscribe()
    }

    /// Typed call events from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<CallEvent> {
        self.events.subscribe()
    }
}

/// The alert sender's way to the modem in the service: `Command::SendSms` to the
/// engine thread, then the wait for its [`Output::SmsSent`].
pub struct EngineSms {
    handle: EngineHandle,
    /// How long one SMS may take (the modem's own timeout is 90 s per part).
    pub timeout: Duration,
}

impl EngineSms {
    /// A path through `handle`.
    pub fn new(handle: EngineHandle) -> Self {
        Self {
            handle,
            timeout: Duration::from_secs(300),
        }
    }
}

impl crate::alerts::SmsPath for EngineSms {
    fn send(&mut self, to: &str, text: &str) -> Result<(), String> {
        let cmd = Command::SendSms {
            to: to.to_string(),
            text: text.to_string(),
        };
        let id = match self.handle.command(cmd, Duration::from_secs(5)) {
            Ok(CommandResult::SmsQueued(id)) => id,
            Ok(CommandResult::Rejected(why)) => return Err(why),
            Ok(other) => return Err(format!("the engine did not queue the SMS: {other:?}")),
            Err(e) => return Err(format!("{e:#}")),
        };
        let until = Instant::now() + self.timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.handle.sms_done.1.recv_timeout(left) {
                Ok((got, result)) if got == id => return result,
                Ok(_) => {}
                Err(_) => {
                    return Err(format!(
                        "the modem did not report the SMS within {:?}",
                        self.timeout
                    ));
                }
            }
        }
    }
}

/// Loads the board profile and configuration the options name.
pub fn load(board: Option<&PathBuf>, config: Option<&PathBuf>) -> Result<(BoardProfile, Config)> {
    let board = match board {
        Some(p) => {
            let src = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the board profile {}", p.display()))?;
            BoardProfile::parse(&p.display().to_string(), &src).map_err(|e| anyhow!("{e}"))?
        }
        None => BoardProfile::sim(),
    };
    let cfg = match config {
        Some(p) => Config::load(p, &board).map_err(|e| anyhow!("{e}"))?,
        None => Config::parse("<built-in config/demo.toml>", crate::config::DEMO_CONFIG_TOML, &board)
            .map_err(|e| anyhow!("{e}\n(the built-in demo configuration is written for the sim board; pass --config for this board)"))?,
    };
    Ok((board, cfg))
}

/// Runs the service until SIGINT/SIGTERM.
pub fn run(opts: RunOptions) -> Result<()> {
    let (board, cfg) = load(opts.board.as_ref(), opts.config.as_ref())?;
    std::fs::create_dir_all(&opts.data)
        .with_context(|| format!("cannot create the data directory {}", opts.data.display()))?;
    // held until the process exits (the kernel drops it on any exit, kill -9 included)
    let (mut lock, previous) = lock_data_dir(&opts.data)?;
    let unclean = !previous.is_empty() && previous != STOPPED;
    if web::backup::apply_pending_restore(&opts.data)? {
        tracing::warn!("restored the data directory from the backup staged on the web page");
        eprintln!(
            "restored the data directory from a backup (the replaced files are in before-restore-*)"
        );
    }
    let db_path = opts.data.join("switchboard.db");
    let web_store = Store::open(&db_path)?;
    let (cfg, config_version) = choose_config(&web_store, &board, cfg, opts.config.as_ref())?;
    if let Some(token) = web::ensure_setup_token(&web_store)? {
        // the journal (or the console) is where the installer finds it
        eprintln!("setup token (first visit of the web page): {token}");
    }
    let mut cfg = cfg;
    let config_dir = opts
        .config
        .as_ref()
        .and_then(|c| c.parent())
        .map_or_else(|| PathBuf::from("."), |p| p.to_path_buf());
    let base_cfg = Arc::new(RwLock::new(cfg.clone()));
    let feed_cache = opts.data.join("feeds");
    // when each feed was last read fresh (for the stale-feed health alert)
    let feed_fresh: FeedFresh = Arc::default();
    let reports = super::feeds::load(&mut cfg, &config_dir, Some(&feed_cache));
    log_feeds(&reports);
    note_feeds(&feed_fresh, &reports);
    let cfg = Arc::new(cfg);

    let tts = Arc::new(
        Tts::new(Some(opts.data.join("tts")))
            .with_recordings(opts.data.join(crate::media::upload::RECORDINGS_DIR)),
    );
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let prompts = tts.render_library(&cfg, |done, total| {
        if interactive {
            eprint!("\rrendering prompts: {done}/{total}");
        }
        if done == total {
            if interactive {
                eprintln!();
            } else {
                eprintln!("rendered {total} prompts");
            }
        }
    })?;
    let prompts = Arc::new(prompts);

    let mut store = Store::open(&db_path)?;
    let interrupted = store.mark_interrupted()?;
    if interrupted > 0 {
        tracing::warn!(
            calls = interrupted,
            "the service did not stop cleanly last time: {interrupted} call records were left in progress and are marked interrupted"
        );
    }
    if unclean {
        tracing::warn!(
            previous_pid = %previous,
            "the previous run did not stop cleanly (crash, kill or power cut)"
        );
        if !cfg.health.targets.is_empty() {
            let now = jiff::Timestamp::now();
            let summary = format!(
                "Switchboard at {} restarted after an unclean stop ({interrupted} calls interrupted)",
                cfg.site.name
            );
            store.insert_alert(
                &crate::store::alerts::NewAlert {
                    cdr_id: None,
                    routing_id: "health".into(),
                    summary,
                    caller_id: None,
                    targets: cfg
                        .health
                        .targets
                        .iter()
                        .map(|t| t.get_ref().clone())
                        .collect(),
                },
                &crate::store::alerts::NewEvent {
                    kind: crate::store::alerts::EventKind::Trigger,
                    at: now.to_string(),
                    details: serde_json::json!({
                        "health": "unclean_restart",
                        "previous_pid": previous,
                        "calls_interrupted": interrupted,
                    }),
                    voicemail_id: None,
                },
                now.as_millisecond(),
            )?;
        }
    }
    let cdrs_stored = store.cdr_count()?;
    let alerts_outbox = store.outbox_counts()?;

    let status: Shared = Arc::new(RwLock::new(ServiceStatus {
        version: env!("CARGO_PKG_VERSION"),
        site: cfg.site.name.clone(),
        board: board.name.clone(),
        started_at: jiff::Timestamp::now().to_string(),
        engine_running: false,
        calls_total: 0,
        cdrs_stored,
        config_version,
        alerts_outbox,
        sms_cap: Default::default(),
        exchange: Default::default(),
    }));

    // Store thread.
    let (cdr_tx, cdr_rx) = crossbeam_channel::bounded::<StoreMsg>(256);
    let store_status = status.clone();
    let voicemail_dir = opts.data.join("voicemail");
    let (wake_tx, wake_rx) = crossbeam_channel::bounded::<()>(1);
    let writer_cfg = cfg.clone();
    let writer_dir = voicemail_dir.clone();
    let retention_dir = voicemail_dir.clone();

    let (handle, cmd_rx) = EngineHandle::new();
    let store_handle = handle.clone();
    let health_data_dir = opts.data.clone();
    let health_feeds = feed_fresh.clone();
    let store_thread = std::thread::Builder::new()
        .name("store".into())
        .spawn(move || {
            let mut store = store;
            let mut writer = CallWriter::new(writer_dir, writer_cfg, Some(wake_tx));
            let mut health = crate::alerts::health::HealthMonitor::new();
            let started_ms = jiff::Timestamp::now().as_millisecond();
            let mut next_self_test_try = Instant::now();
            let mut next_prune = Instant::now();
            let mut last_counts = Instant::now();
            loop {
                if Instant::now() >= next_prune {
                    next_prune = Instant::now() + Duration::from_secs(3600);
                    let retention = writer.config().voicemail.clone();
                    match store.prune_voicemail(
                        &retention_dir,
                        jiff::Timestamp::now(),
                        retention.retention_days,
                        u64::from(retention.max_total_mb) * 1_000_000,
                    ) {
                        Ok(gone) if !gone.is_empty() => {
                            tracing::info!(deleted = gone.len(), "voicemail retention")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!("voicemail retention: {e:#}"),
                    }
                }
                // the outbox as the sender thread leaves it, for /api/status
                if last_counts.elapsed() >= Duration::from_secs(2) {
                    last_counts = Instant::now();
                    let now_ms = jiff::Timestamp::now().as_millisecond();
                    let sms_cap = *writer.config().sms.cap.get_ref();
                    let sms_cap_window = *writer.config().sms.cap_window.get_ref();
                    let cap = store.sms_cap_status(
                        now_ms,
                        sms_cap_window.as_millis() as i64,
                        sms_cap,
                    );
                    if let (Ok(c), Ok(cap), Ok(mut s)) =
                        (store.outbox_counts(), cap, store_status.write())
                    {
                        s.alerts_outbox = c;
                        s.sms_cap = cap;
                    }
                    // the box's own health, from the engine's last snapshot
                    let obs = store_status.read().ok().filter(|s| s.engine_running).map(|s| {
                        let mut o = crate::alerts::health::Observation::from_status(&s.exchange);
                        o.disk_used_percent = disk_used_percent(&health_data_dir);
                        o.feed_ages = feed_ages(&health_feeds);
                        o
                    });
                    // the periodic self-test call (`[health.self_test]`)
                    let test_cfg = writer.config().health.self_test.clone();
                    if let Some(st) = test_cfg
                        && Instant::now() >= next_self_test_try
                    {
                        let now_ms = jiff::Timestamp::now().as_millisecond();
                        let last = store.last_self_test().ok().flatten().map(|l| l.0);
                        if crate::alerts::health::self_test_due(last, started_ms, now_ms, *st.every.get_ref()) {
                            let cmd = Command::TestCall {
                                number: st.number.get_ref().clone(),
                                tone: *st.tone.get_ref(),
                                ring: *st.ring.get_ref(),
                                manual: false,
                            };
                            // the result comes back as Output::TestCall; meanwhile (or
                            // when the modem is busy now) try again in 5 minutes at most
                            next_self_test_try = Instant::now() + Duration::from_secs(300);
                            match store_handle.command(cmd, Duration::from_secs(2)) {
                                Ok(CommandResult::TestCallStarted(id)) => {
                                    tracing::info!(test_call = id, "periodic self-test call started")
                                }
                                Ok(other) => tracing::warn!("periodic self-test call not started, trying again in 5 min: {other:?}"),
                                Err(e) => tracing::warn!("periodic self-test call not started: {e:#}"),
                            }
                        }
                    }
                    if let Some(obs) = obs {
                        let now = jiff::Timestamp::now();
                        let cfg = writer.config().clone();
                        let changes = health.observe(now, &obs, &cfg.health, &cfg.site.name);
                        if let Err(e) = writer.health(&mut store, &changes, now) {
                            tracing::error!("cannot queue a health alert: {e:#}");
                        }
                    }
                }
                let msg = match cdr_rx.recv_timeout(Duration::from_secs(2)) {
                    Ok(m) => m,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                };
                let stored = writer.handle(&mut store, msg);
                for cmd in writer.take_commands() {
                    if !store_handle.send(cmd) {
                        // an SMS not deleted now stays on the SIM and is read (and
                        // recognised as stored) again at the next start
                        tracing::warn!("the engine did not take a command from the store thread");
                    }
                }
                if let Some(Ok(_)) = stored
                    && let Ok(mut s) = store_status.write()
                {
                    s.cdrs_stored += 1;
                }
            }
        })?;

    // Alert sender thread: its own connection to the database (WAL).
    let sender_store = Store::open(&db_path)?;
    let sender = crate::alerts::Sender::new(
        cfg.clone(),
        voicemail_dir,
        jiff::Timestamp::now().as_nanosecond() as u64,
    )
    .with_sms(Box::new(EngineSms::new(handle.clone())));
    let sender_stop = Arc::new(AtomicBool::new(false));
    // configurations that took effect (reloads, feed refreshes), for the sender's targets
    let (sender_cfg_tx, sender_cfg_rx) = crossbeam_channel::bounded::<Arc<Config>>(4);
    let sender = sender.with_config_updates(sender_cfg_rx);
    let sender_thread = {
        let stop = sender_stop.clone();
        std::thread::Builder::new()
            .name("alerts".into())
            .spawn(move || sender.run(sender_store, stop, wake_rx, Duration::from_secs(5)))?
    };

    // Engine thread.
    let stop = Arc::new(AtomicBool::new(false));

    // Feeds thread: re-reads iCal feeds every `refresh` and hands the engine the new
    // schedules for calls that start afterwards.
    let (cfg_tx, cfg_rx) = crossbeam_channel::bounded::<Arc<Config>>(1);
    let refresh = cfg
        .schedules
        .iter()
        .filter_map(|s| s.feed.as_ref().map(|f| *f.refresh.get_ref()))
        .min();
    if let Some(every) = refresh {
        let stop = stop.clone();
        let base_cfg = base_cfg.clone();
        let config_dir = config_dir.clone();
        let feed_cache = feed_cache.clone();
        let feed_fresh_thread = feed_fresh.clone();
        std::thread::Builder::new()
            .name("feeds".into())
            .spawn(move || {
                let mut next = Instant::now() + every;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(500));
                    if Instant::now() < next {
                        continue;
                    }
                    next = Instant::now() + every;
                    // the configuration in force (the web page may have changed it)
                    let Ok(mut fresh) = base_cfg.read().map(|c| c.clone()) else {
                        continue;
                    };
                    let reports = super::feeds::load(&mut fresh, &config_dir, Some(&feed_cache));
                    log_feeds(&reports);
                    note_feeds(&feed_fresh_thread, &reports);
                    if cfg_tx.try_send(Arc::new(fresh)).is_err() {
                        tracing::warn!("the engine has not taken the previous feed refresh yet");
                    }
                }
            })?;
    }
    let (sim_tx, sim_rx) = crossbeam_channel::bounded::<SimCall>(8);
    let web_cfg = cfg.clone();
    let web_prompts = prompts.clone();
    let engine_events = handle.events.clone();
    let engine_handle = handle.clone();
    let engine_sender_cfg = sender_cfg_tx;
    let engine_stop = stop.clone();
    let engine_status = status.clone();
    let engine_board = board.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
    let engine_thread = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let ctx = EngineCtx {
                board: engine_board,
                cfg,
                prompts,
                stop: engine_stop,
                status: engine_status,
                cdr_tx,
                ready_tx,
                cfg_rx,
                cmd_rx,
                events: engine_events,
                handle: engine_handle,
                alerts_cfg: engine_sender_cfg,
            };
            if ctx.board.is_sim() {
                let b = ctx.board.clone();
                let ports = b.port_ids();
                // the simulated network answers the users' phones (after 2 s), so a
                // test call from the page has someone to reach
                let answering: Vec<(String, String)> = ctx
                    .cfg
                    .users
                    .iter()
                    .flat_map(|u| {
                        u.phone
                            .iter()
                            .map(move |p| (p.get_ref().clone(), u.id.get_ref().clone()))
                    })
                    .filter(|(p, _)| crate::config::is_e164(p))
                    .collect();
                run_engine(
                    move || {
                        let mut sim = SimBoard::new(&b)?;
                        for (number, name) in &answering {
                            sim.add_responder(number, super::bench_calls::responder(name));
                        }
                        Ok(sim)
                    },
                    ctx,
                    move |e| {
                        while let Ok(c) = sim_rx.try_recv() {
                            match ports.iter().position(|p| *p == c.port) {
                                Some(port) => place_sim_call(e, port, c),
                                None => {
                                    tracing::warn!(port = %c.port, "simulated call: no such port")
                                }
                            }
                        }
                    },
                );
            } else {
                let b = ctx.board.clone();
                run_engine(move || HwBoard::open(&b), ctx, |_| {});
            }
        })?;
    ready_rx
        .recv()
        .map_err(|_| anyhow!("the engine thread died while starting"))??;

    // HTTP + signals on tokio.
    let nofile = web::server::raise_file_limit();
    let metrics_token = match &opts.metrics_token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the metrics token file {}", p.display()))?
                .trim()
                .to_string(),
        )
        .filter(|t| !t.is_empty()),
        None => None,
    };
    // the certificate before the engine matters: a bad --tls-cert stops the start with
    // its reason
    let tls = match &opts.tls {
        Some(src) => Some(web::tls::load_or_create(&opts.data, src)?),
        None => {
            web::tls::forget_fingerprint(&opts.data);
            None
        }
    };
    let prepare_board = board.clone();
    let prepare_tts = tts.clone();
    let prepare: Box<web::PrepareFn> = Box::new(move |text: &str| {
        let parsed =
            Config::parse("configuration", text, &prepare_board).map_err(PrepareError::Invalid)?;
        let mut cfg = parsed.clone();
        log_feeds(&super::feeds::load(
            &mut cfg,
            &config_dir,
            Some(&feed_cache),
        ));
        let prompts = prepare_tts
            .render_library(&cfg, |_, _| {})
            .map_err(PrepareError::Failed)?;
        if let Ok(mut b) = base_cfg.write() {
            *b = parsed;
        }
        Ok((Arc::new(cfg), Arc::new(prompts)))
    });
    let web_state = web::Web::new(
        status.clone(),
        web_store,
        (web_cfg, config_version),
        board.clone(),
        Some(web::Backend {
            engine: handle.clone(),
            prepare,
            sim_calls: board.is_sim().then_some(sim_tx),
            render: {
                let tts = tts.clone();
                Box::new(move |voice: &str, text: &str| tts.render(voice, text))
            },
        }),
        web::WebOptions {
            idle_timeout: opts.idle_timeout,
            secure_cookies: tls.is_some(),
            metrics_token,
            data_dir: opts.data.clone(),
            max_restore_bytes: opts.max_restore_bytes,
        },
    );
    if let Ok(mut p) = web_state.prompts.write() {
        *p = Some(web_prompts);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let restart_asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let restart_flag = restart_asked.clone();
    let restart_web = web_state.clone();
    let result = rt.block_on(async {
        let signal = shutdown_signal()?;
        let stop_signal = async move {
            tokio::select! {
                _ = signal => {}
                _ = restart_web.restart.notified() => restart_flag.store(true, Ordering::Relaxed),
            }
        };
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("cannot listen on {}: is another service using the port? choose one with --listen", opts.listen))?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let redirect = match opts.http_redirect {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("cannot listen on {a} (--http-redirect): is another service using the port?"))?,
            ),
            None => None,
        };
        eprintln!("switchboard {} running on board `{}`", env!("CARGO_PKG_VERSION"), board.name);
        eprintln!("  page:    {scheme}://{addr}/");
        if let Some(t) = &tls {
            // the installer compares this with what the browser shows
            eprintln!("  certificate SHA-256: {}", t.fingerprint);
            eprintln!("  certificate file:    {}", t.cert_path.display());
        }
        if let Some(r) = &redirect {
            eprintln!("  redirect: http://{}/ -> {scheme}://…:{}/", r.local_addr()?, addr.port());
        }
        eprintln!("  status:  {scheme}://{addr}/api/status");
        eprintln!("  health:  {scheme}://{addr}/healthz");
        eprintln!("  data:    {}", opts.data.display());
        eprintln!("  stop with Ctrl-C");
        // Under systemd (Type=notify): the board is up and the HTTP port is bound.
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status("running")]);
        // the System page's signal history: a sample a minute
        let sampler = web_state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Ok(st) = sampler.status.read() {
                    sampler.signal.sample(&st);
                }
            }
        });
        let app = web::router(web_state);
        let limits = web::server::Limits {
            max_stream_body: opts.max_restore_bytes,
            ..web::server::Limits::for_file_limit(nofile)
        };
        if let Some(r) = redirect {
            let app = web::server::redirect_router(addr.port());
            // it only answers with a redirect: a small share of the connections
            let small = web::server::Limits { max_connections: limits.max_connections.min(256), ..limits };
            tokio::spawn(web::server::serve(r, app, small, std::future::pending()));
        }
        web::server::serve_with(listener, app, limits, tls.map(|t| t.config), stop_signal)
            .await
            .context("HTTP server failed")
    });
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    stop.store(true, Ordering::Relaxed);
    let _ = engine_thread.join();
    sender_stop.store(true, Ordering::Relaxed);
    let _ = store_thread.join();
    let _ = sender_thread.join();
    // a clean stop: the next start does not report a crash
    {
        use std::io::{Seek, Write};
        let _ = lock.set_len(0);
        let _ = lock.rewind();
        let _ = lock.write_all(STOPPED.as_bytes());
        let _ = lock.sync_all();
    }
    tracing::info!("stopped");
    result?;
    if restart_asked.load(Ordering::Relaxed) {
        // a failure exit: systemd's Restart=on-failure starts the service again
        anyhow::bail!(
            "restart requested on the web page: stopped; systemd starts the service again"
        );
    }
    Ok(())
}

pub use super::writer::{CallWriter, StoreMsg};

/// Takes the data directory's lock (`switchboard.lock`, `flock`): a second service on
/// the same directory would share the database and the voicemail files.
/// What the lock file says after a clean stop (otherwise it holds the running pid).
const STOPPED: &str = "stopped";

/// Returns the lock and what the lock file said before (the previous pid if that run
/// did not stop cleanly, [`STOPPED`] if it did, empty on the first start).
pub fn lock_data_dir(dir: &std::path::Path) -> Result<(nix::fcntl::Flock<std::fs::File>, String)> {
    use std::io::{Read, Seek, Write};
    let path = dir.join("switchboard.lock");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut holder = String::new();
    let _ = f.read_to_string(&mut holder);
    let mut lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| {
            anyhow!(
                "another switchboard (pid {}) is running on the data directory {} ({e}): stop it first, or use another --data",
                holder.trim(),
                dir.display()
            )
        })?;
    lock.set_len(0)?;
    lock.rewind()?;
    write!(lock, "{}", std::process::id())?;
    lock.sync_all()?;
    Ok((lock, holder.trim().to_string()))
}

/// What the engine thread needs.
struct EngineCtx {
    board: BoardProfile,
    cfg: Arc<Config>,
    prompts: Arc<crate::media::PromptLibrary>,
    stop: Arc<AtomicBool>,
    status: Shared,
    cdr_tx: crossbeam_channel::Sender<StoreMsg>,
    ready_tx: std::sync::mpsc::Sender<Result<()>>,
    cfg_rx: crossbeam_channel::Receiver<Arc<Config>>,
    cmd_rx: crossbeam_channel::Receiver<EngineRequest>,
    events: tokio::sync::broadcast::Sender<CallEvent>,
    /// For SMS results (the alert sender waits for them).
    handle: EngineHandle,
    /// Configurations that took effect, for the alert sender.
    alerts_cfg: crossbeam_channel::Sender<Arc<Config>>,
}

/// The engine thread's body, for any board.
fn run_engine<B: crate::hw::Board + crate::hw::sim::InProcessPeers>(
    make_board: impl FnOnce() -> Result<B>,
    ctx: EngineCtx,
    mut extra: impl FnMut(&mut Engine<B>),
) {
    let now = Instant::now();
    let seed = jiff::Timestamp::now().as_nanosecond() as u64;
    let setup = make_board().and_then(|hw| {
        let exchange = Exchange::new(
            &ctx.board,
            ctx.cfg,
            ctx.prompts,
            now,
            jiff::Timestamp::now(),
            seed,
        );
        Engine::new(exchange, hw, now)
    });
    let mut engine = match setup {
        Ok(e) => {
            if let Ok(mut s) = ctx.status.write() {
                s.engine_running = true;
                s.exchange = e.exchange.status();
            }
            let _ = ctx.ready_tx.send(Ok(()));
            e
        }
        Err(e) => {
            let _ = ctx.ready_tx.send(Err(e));
            return;
        }
    };
    let cdr_tx = ctx.cdr_tx;
    let events = ctx.events;
    let handle = ctx.handle;
    // alert settings follow the configuration in force: the store thread's writer
    // (targets of new alerts, SMS cap, retention) and the sender (endpoints, keys)
    let alerts_cfg = ctx.alerts_cfg;
    let store_cfg = cdr_tx.clone();
    let took_effect = move |cfg: Arc<Config>| {
        if store_cfg.send(StoreMsg::Config(cfg.clone())).is_err() {
            tracing::error!("store thread is gone; the new alert settings do not apply");
        }
        if alerts_cfg.try_send(cfg).is_err() {
            tracing::warn!("the alert sender has not taken the previous configuration yet");
        }
    };
    let to_store = |msg: StoreMsg, lost: &str| {
        if cdr_tx.send(msg).is_err() {
            tracing::error!("store thread is gone; {lost}");
        }
    };
    let mut sink = |_t: Instant, out: Output| match out {
        Output::Cdr(cdr) => to_store(StoreMsg::Cdr(cdr), "CDR lost"),
        Output::SmsReceived {
            from,
            text,
            at,
            indexes,
        } => to_store(
            StoreMsg::Sms {
                from,
                text,
                at,
                indexes,
            },
            "the SMS stays on the SIM",
        ),
        Output::Voicemail(vm) => to_store(StoreMsg::Voicemail(vm), "voicemail lost"),
        Output::Call(ev) => {
            to_store(StoreMsg::Call(ev.clone()), "call record not updated");
            // no listener is fine
            drop(events.send(ev));
        }
        Output::SmsSent { id, result } => handle.sms_result(id, result),
        // nobody waiting is fine
        Output::SimPin(r) => drop(handle.sim_pin.send(r)),
        Output::TestCall(r) => to_store(
            StoreMsg::TestCall(r, jiff::Timestamp::now()),
            "test call result not recorded",
        ),
        _ => {}
    };
    let mut last_publish = Instant::now() - Duration::from_secs(1);
    // systemd's watchdog is petted from this loop: if the call engine hangs, the
    // pings stop and systemd restarts the service.
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut last_ping = Instant::now();
    let status = ctx.status;
    let cfg_rx = ctx.cfg_rx;
    let cmd_rx = ctx.cmd_rx;
    engine.run_realtime(ctx.stop, &mut sink, |e| {
        extra(e);
        while let Ok(req) = cmd_rx.try_recv() {
            let reload = match &req.cmd {
                Command::Reload { cfg, .. } => Some(cfg.clone()),
                _ => None,
            };
            let result = e.exchange.command(Instant::now(), req.cmd);
            if let (Some(cfg), CommandResult::Done) = (reload, &result) {
                took_effect(cfg);
            }
            let _ = req.reply.try_send(result);
        }
        if let Ok(cfg) = cfg_rx.try_recv() {
            e.exchange.set_config(cfg.clone());
            took_effect(cfg);
            tracing::info!("schedules from refreshed feeds apply to new calls");
        }
        if let Some(every) = watchdog {
            if last_ping.elapsed() >= every {
                last_ping = Instant::now();
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
        }
        if last_publish.elapsed() >= Duration::from_millis(200) {
            last_publish = Instant::now();
            if let Ok(mut s) = status.write() {
                s.engine_running = true;
                s.calls_total = e.exchange.calls_started();
                s.exchange = e.exchange.status();
            }
        }
    });
    if let Ok(mut s) = status.write() {
        s.engine_running = false;
    }
}

/// Places a simulated caller from the web page on the simulated board: it rings in
/// shortly, presses its keys after the first prompt and hangs up after a while.
fn place_sim_call(e: &mut Engine<SimBoard>, port: crate::exchange::PortIdx, c: SimCall) {
    use crate::hw::sim::party::{Act, CALLER_MARKER_HZ, Party, RESPONDER_MARKER_HZ, Step, Trigger};
    let mut steps = Vec::new();
    if !c.keys.is_empty() {
        steps.push(Step {
            trigger: Trigger::PromptEnd,
            delay: Duration::from_millis(200),
            act: Act::Press(c.keys.clone()),
        });
    }
    steps.push(Step {
        trigger: Trigger::Answered,
        delay: Duration::from_secs(u64::from(c.hangup_after_seconds)),
        act: Act::Hangup,
    });
    let party = Party::new(
        "web test caller",
        steps,
        CALLER_MARKER_HZ,
        RESPONDER_MARKER_HZ,
        true,
    );
    e.board.schedule_call(
        Instant::now() + Duration::from_millis(200),
        port,
        c.caller_id,
        party,
    );
    tracing::info!(port = %c.port, "simulated caller rings in");
}

/// Picks the configuration to start with and records it as a version: the file (or
/// the built-in demo) when it changed since it was last recorded; otherwise the newest
/// version saved on the web page, if it still validates.
fn choose_config(
    store: &Store,
    board: &BoardProfile,
    from_file: Config,
    path: Option<&PathBuf>,
) -> Result<(Config, Option<i64>)> {
    let (text, source) = match path {
        Some(p) => (
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
            format!("file {}", p.display()),
        ),
        None => (
            crate::config::DEMO_CONFIG_TOML.to_string(),
            "file <built-in config/demo.toml>".to_string(),
        ),
    };
    let last_file = store.latest_file_version()?;
    if last_file
        .as_ref()
        .is_none_or(|v| v.toml != text || v.source != source)
    {
        let id = store.insert_config_version("console", &source, &text)?;
        store.audit(
            "console",
            "console",
            "config.file",
            &format!("version {id} read from {source}"),
        )?;
        return Ok((from_file, Some(id)));
    }
    let latest = store.latest_config_version()?;
    match latest {
        Some(v) if Some(v.id) != last_file.as_ref().map(|f| f.id) => {
            match Config::parse(&format!("version {}", v.id), &v.toml, board) {
                Ok(cfg) => {
                    tracing::info!(
                        version = v.id,
                        "using the configuration saved on the web page"
                    );
                    Ok((cfg, Some(v.id)))
                }
                Err(e) => {
                    tracing::warn!(
                        version = v.id,
                        "the configuration saved on the web page no longer validates ({e}); using {source}"
                    );
                    let id = store.insert_config_version("console", &source, &text)?;
                    Ok((from_file, Some(id)))
                }
            }
        }
        _ => Ok((from_file, last_file.map(|f| f.id))),
    }
}

/// When each feed schedule was last read fresh (or, never read fresh, when the service
/// started).
type FeedFresh = Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>;

fn note_feeds(fresh: &FeedFresh, reports: &[super::feeds::FeedReport]) {
    if let Ok(mut m) = fresh.lock() {
        let now = Instant::now();
        for r in reports {
            if r.source == super::feeds::Source::Fresh {
                m.insert(r.schedule.clone(), now);
            } else {
                m.entry(r.schedule.clone()).or_insert(now);
            }
        }
    }
}

fn feed_ages(fresh: &FeedFresh) -> Vec<(String, Duration)> {
    fresh
        .lock()
        .map(|m| m.iter().map(|(k, t)| (k.clone(), t.elapsed())).collect())
        .unwrap_or_default()
}

/// Percent of the data directory's file system in use (what ordinary users can write).
fn disk_used_percent(dir: &std::path::Path) -> Option<f64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    let total = st.blocks() as f64;
    if total <= 0.0 {
        return None;
    }
    // as df counts it: used / (used + available to unprivileged users)
    let used = (st.blocks() - st.blocks_free()) as f64;
    let avail = st.blocks_available() as f64;
    Some(100.0 * used / (used + avail).max(1.0))
}

fn log_feeds(reports: &[super::feeds::FeedReport]) {
    for r in reports {
        // (each warning was logged by feeds::load)
        tracing::info!(schedule = %r.schedule, events = r.events, source = ?r.source, "iCal feed loaded");
    }
}

/// Waits for SIGINT or SIGTERM. The handlers are installed when this is called (not
/// when the future is first polled), so a signal that arrives right after the service
/// said it is running still stops it cleanly instead of killing it.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
    })
}
