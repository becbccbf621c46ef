//! Alert delivery: the sender that empties the durable outbox (`crate::store::alerts`)
//! into PagerDuty, ilert and webhooks.
//!
//! At-least-once: an event is marked delivered only after the receiver answered 2xx,
//! and that is committed before the alert's next event is taken, so events of one alert
//! arrive in order and an acknowledged, committed event is never sent again (a crash
//! between the answer and the commit repeats it; receivers de-duplicate by the alert
//! key and the event id). Failures are retried with exponential back-off and jitter;
//! a 4xx other than 408/429 is a refusal and is given up at once, anything else (5xx,
//! timeouts, resets, refused connections, no route) is retried until the target's
//! `give_up_after`. Time comes in as an argument, so tests drive back-off without
//! waiting.

pub mod health;
pub mod payload;
pub mod reply;
pub mod sms;
pub mod test_receiver;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::config::Config;
use crate::config::alerts::{AlertTarget, TargetKind};
use crate::store::Store;
use crate::store::alerts::Delivery;

pub use sms::SmsPath;

/// First retry after about this long.
pub const BACKOFF_BASE_MS: i64 = 5_000;
/// Retries are at most this far apart.
pub const BACKOFF_MAX_MS: i64 = 15 * 60_000;

/// Delay before retry number `attempts` (1 = the first retry): exponential, capped,
/// with jitter of -50 %..0 so that many events that failed together do not retry in
/// one burst.
pub fn backoff_ms(attempts: u32, rng: &mut impl Rng) -> i64 {
    let exp = BACKOFF_BASE_MS.saturating_mul(1i64 << attempts.saturating_sub(1).min(20));
    let full = exp.min(BACKOFF_MAX_MS);
    full - rng.random_range(0..=full / 2)
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx.
    Delivered(u16),
    /// Worth retrying (5xx, 408, 429, network error, timeout), with the reason.
    Retry(String),
    /// Refused for good (other 4xx), with the reason.
    Refused(String),
}

/// Counts of one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PassStats {
    /// Delivered now.
    pub delivered: u32,
    /// Failed, will retry.
    pub retrying: u32,
    /// Given up.
    pub given_up: u32,
    /// SMS fallbacks not needed (a data target delivered in time).
    pub skipped: u32,
}

/// What an SMS target does with a due event.
enum SmsStep {
    /// Sent, retry or refused.
    Done(Attempt),
    /// A fallback waiting for the data targets until then (unix ms).
    Defer(i64),
    /// Not needed: a data target delivered it.
    Skip(String),
}

/// The sender: one per service (a thread), or driven directly by tests and the CLI.
pub struct Sender {
    cfg: Arc<Config>,
    voicemail_dir: PathBuf,
    agents: HashMap<String, ureq::Agent>,
    rng: StdRng,
    sms: Option<Box<dyn SmsPath + Send>>,
    updates: Option<crossbeam_channel::Receiver<Arc<Config>>>,
}

fn unix_ms(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

impl Sender {
    /// A sender for the targets of `cfg`; voicemail files are read from
    /// `voicemail_dir`.
    pub fn new(cfg: Arc<Config>, voicemail_dir: PathBuf, seed: u64) -> Self {
        Self {
            agents: Self::agents(&cfg),
            cfg,
            voicemail_dir,
            rng: StdRng::seed_from_u64(seed),
            sms: None,
            updates: None,
        }
    }

    /// The sender thread takes new configurations from `rx` (reloads) before each pass.
    pub fn with_config_updates(mut self, rx: crossbeam_channel::Receiver<Arc<Config>>) -> Self {
        self.updates = Some(rx);
        self
    }

    /// SMS targets send through `path` (the service: the engine thread's modem).
    pub fn with_sms(mut self, path: Box<dyn SmsPath + Send>) -> Self {
        self.sms = Some(path);
        self
    }

    /// Uses the targets of a new configuration (after a reload); queued events keep
    /// their target names, and a target no longer configured is given up.
    pub fn set_config(&mut self, cfg: Arc<Config>) {
        self.agents = Self::agents(&cfg);
        self.cfg = cfg;
    }

    fn agents(cfg: &Config) -> HashMap<String, ureq::Agent> {
        cfg.alert_targets
            .iter()
            .filter(|t| t.kind() != TargetKind::Sms)
            .map(|t| {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(*t.timeout.get_ref()))
                    .http_status_as_error(false)
                    .user_agent(format!("switchboard/{}", env!("CARGO_PKG_VERSION")))
                    .build()
                    .into();
                (t.name.get_ref().clone(), agent)
            })
            .collect()
    }

    /// An SMS target's step for a due event: wait for the data targets (fallback), skip
    /// (a data target delivered), or send to each recipient within the cap.
    fn sms_step(
        &self,
        store: &mut Store,
        d: &Delivery,
        t: &AlertTarget,
        now: jiff::Timestamp,
        path: Option<&mut dyn SmsPath>,
    ) -> Result<SmsStep> {
        let now_ms = unix_ms(now);
        if let Some(f) = &t.fallback_after {
            let data = sms::data_targets(&self.cfg);
            if let Some(by) = store.delivered_by(d.event_id, &data)? {
                return Ok(SmsStep::Skip(format!("not needed: delivered by {by}")));
            }
            let at = d.created_ms + f.get_ref().as_millis() as i64;
            if now_ms < at {
                return Ok(SmsStep::Defer(at));
            }
        }
        let Some(path) = path else {
            return Ok(SmsStep::Done(Attempt::Retry(
                "no modem in this process: SMS go out from the running service".into(),
            )));
        };
        let to = sms::recipients(&self.cfg, t, &d.routing_id, now);
        if to.is_empty() {
            return Ok(SmsStep::Done(Attempt::Refused(
                "no recipient: nobody with an E.164 number is on call and `numbers` is empty"
                    .into(),
            )));
        }
        let text = sms::text(d, &self.cfg.site.name);
        let cap = *self.cfg.sms.cap.get_ref();
        let window = *self.cfg.sms.cap_window.get_ref();
        for n in &to {
            if !store.take_sms_slot(now_ms, window.as_millis() as i64, cap, n, "alert")? {
                let why = format!(
                    "SMS cap reached: {cap} SMS within {} already sent; not sent to {n} (raise [sms] cap, or `switchboard alerts retry {}` later)",
                    sms::human(window),
                    d.alert_id
                );
                tracing::error!(alert = d.alert_id, target = %d.target, to = %n, "{why}");
                return Ok(SmsStep::Done(Attempt::Refused(why)));
            }
            if let Err(e) = path.send(n, &text) {
                return Ok(SmsStep::Done(Attempt::Retry(format!("SMS to {n}: {e}"))));
            }
        }
        Ok(SmsStep::Done(Attempt::Delivered(0)))
    }

    /// Makes one attempt (no store changes).
    pub fn attempt(&self, store: &Store, d: &Delivery, now: jiff::Timestamp) -> Attempt {
        let Some(target) = self.cfg.alert_target(&d.target) else {
            return Attempt::Refused(format!(
                "alert target `{}` is no longer configured",
                d.target
            ));
        };
        if target.kind() == TargetKind::Sms {
            return Attempt::Retry(
                "an SMS target sends through the modem of the running service".into(),
            );
        }
        let vm = match d.voicemail_id {
            Some(id) => match store.voicemail_audio(&self.voicemail_dir, id) {
                Ok(x) => Some(x),
                Err(e) => {
                    tracing::warn!(voicemail = id, "voicemail not attached: {e:#}");
                    None
                }
            },
            None => None,
        };
        let req = payload::build(
            target,
            d,
            &self.cfg.site.name,
            vm.as_ref().map(|(r, b)| (r, b.as_slice())),
            now.as_second(),
        );
        let Some(agent) = self.agents.get(&d.target) else {
            return Attempt::Refused("no HTTP client for the target".into());
        };
        let mut rb = agent
            .post(&req.url)
            .header("Content-Type", &req.content_type);
        for (k, v) in &req.headers {
            rb = rb.header(k, v);
        }
        match rb.send(&req.body[..]) {
            Ok(mut resp) => {
                let code = resp.status().as_u16();
                let text = resp
                    .body_mut()
                    .with_config()
                    .limit(4096)
                    .read_to_string()
                    .unwrap_or_default();
                match code {
                    200..=299 => Attempt::Delivered(code),
                    408 | 429 | 500..=599 => {
                        Attempt::Retry(format!("HTTP {code}: {}", text.trim()))
                    }
                    _ => Attempt::Refused(format!("HTTP {code}: {}", text.trim())),
                }
            }
            Err(e) => Attempt::Retry(e.to_string()),
        }
    }

    /// Delivers everything due at `now` (one attempt each), committing each result
    /// before the next; repeats while deliveries make further events of the same
    /// alerts due. Returns the counts.
    pub fn deliver_due(&mut self, store: &mut Store, now: jiff::Timestamp) -> Result<PassStats> {
        let mut sms = self.sms.take();
        let r = self.deliver_due_with(
            store,
            now,
            sms.as_mut().map(|p| &mut **p as &mut dyn SmsPath),
        );
        self.sms = sms;
        r
    }

    /// [`Self::deliver_due`] with SMS going through `sms` (the scenario runner's virtual
    /// engine); without a path, SMS targets retry later.
    pub fn deliver_due_with(
        &mut self,
        store: &mut Store,
        now: jiff::Timestamp,
        mut sms: Option<&mut dyn SmsPath>,
    ) -> Result<PassStats> {
        let now_ms = unix_ms(now);
        let mut stats = PassStats::default();
        loop {
            let due = store.due_deliveries(now_ms, 256)?;
            if due.is_empty() {
                return Ok(stats);
            }
            let mut progressed = false;
            for d in due {
                let target = self.cfg.alert_target(&d.target).cloned();
                let attempt = match target.filter(|t| t.kind() == TargetKind::Sms) {
                    Some(t) => match self.sms_step(
                        store,
                        &d,
                        &t,
                        now,
                        sms.as_mut().map(|p| &mut **p as &mut dyn SmsPath),
                    )? {
                        SmsStep::Done(a) => a,
                        SmsStep::Defer(at) => {
                            store.defer_delivery(d.event_id, &d.target, at)?;
                            continue;
                        }
                        SmsStep::Skip(why) => {
                            store.mark_skipped(d.event_id, &d.target, &why)?;
                            stats.skipped += 1;
                            progressed = true;
                            continue;
                        }
                    },
                    None => self.attempt(store, &d, now),
                };
                match attempt {
                    Attempt::Delivered(code) => {
                        store.mark_delivered(d.event_id, &d.target, &now.to_string())?;
                        tracing::info!(
                            alert = d.alert_id,
                            event = d.kind.as_str(),
                            target = %d.target,
                            code,
                            "alert event delivered"
                        );
                        stats.delivered += 1;
                        progressed = true;
                    }
                    Attempt::Retry(why) => {
                        let give_up_after = self
                            .cfg
                            .alert_target(&d.target)
                            .map_or(Duration::ZERO, |t| *t.give_up_after.get_ref());
                        let expired = now_ms - d.created_ms >= give_up_after.as_millis() as i64;
                        let next = now_ms + backoff_ms(d.attempts + 1, &mut self.rng);
                        store.mark_failed(d.event_id, &d.target, &why, next, expired)?;
                        if expired {
                            tracing::error!(alert = d.alert_id, target = %d.target, "alert event given up after {give_up_after:?}: {why}");
                            stats.given_up += 1;
                            progressed = true;
                        } else {
                            tracing::warn!(alert = d.alert_id, target = %d.target, attempts = d.attempts + 1, "alert event not delivered, retrying: {why}");
                            stats.retrying += 1;
                        }
                    }
                    Attempt::Refused(why) => {
                        store.mark_failed(d.event_id, &d.target, &why, now_ms, true)?;
                        tracing::error!(alert = d.alert_id, target = %d.target, "alert event refused, given up: {why}");
                        stats.given_up += 1;
                        progressed = true;
                    }
                }
            }
            if !progressed {
                return Ok(stats);
            }
        }
    }

    /// The sender thread's loop: deliver what is due, then sleep until the next due
    /// time (at most `poll`), or until woken (a new event was queued).
    pub fn run(
        mut self,
        mut store: Store,
        stop: Arc<AtomicBool>,
        wake: crossbeam_channel::Receiver<()>,
        poll: Duration,
    ) {
        while !stop.load(Ordering::Relaxed) {
            let newest = self.updates.as_ref().and_then(|rx| rx.try_iter().last());
            if let Some(cfg) = newest {
                self.set_config(cfg);
                tracing::info!("alert targets of the new configuration in force");
            }
            let now = jiff::Timestamp::now();
            if let Err(e) = self.deliver_due(&mut store, now) {
                tracing::error!("alert sender: {e:#}");
            }
            let wait = match store.next_due_ms() {
                Ok(Some(t)) => {
                    Duration::from_millis((t - unix_ms(jiff::Timestamp::now())).max(0) as u64)
                }
                _ => poll,
            }
            .min(poll);
            match wake.recv_timeout(wait) {
                Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                // the store thread is gone: the service is stopping (the outbox is
                // durable; what is left goes out after the next start)
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
            }
            while wake.try_recv().is_ok() {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let mut rng = StdRng::seed_from_u64(1);
        let first: Vec<i64> = (0..50).map(|_| backoff_ms(1, &mut rng)).collect();
        assert!(first.iter().all(|&d| (2_500..=5_000).contains(&d)));
        assert!(first.iter().any(|&d| d != first[0]), "jitter");
        let d4 = backoff_ms(4, &mut rng);
        assert!((20_000..=40_000).contains(&d4), "{d4}");
        for n in [12, 30, 1000] {
            let d = backoff_ms(n, &mut rng);
            assert!(
                (BACKOFF_MAX_MS / 2..=BACKOFF_MAX_MS).contains(&d),
                "{n}: {d}"
            );
        }
    }
}
