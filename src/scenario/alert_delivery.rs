//! Alert delivery after a scenario's calls: the real [`Sender`] against the local test
//! receiver, with SMS targets sending through the simulated modem of the same virtual
//! engine ([`VirtualSms`]). Time keeps running virtually until nothing is due before
//! the longest fallback has passed (plus a minute), so SMS fallbacks (`fallback_after`) and retries happen as they would on a box.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::alerts::{Sender, SmsPath};
use crate::app::engine::Engine;
use crate::config::Config;
use crate::config::alerts::TargetKind;
use crate::exchange::{Command, CommandResult, Output};
use crate::hw::sim::SimBoard;
use crate::store::Store;

/// Sends an SMS through the simulated modem, running the engine in virtual time until
/// the modem reports it.
pub struct VirtualSms<'a> {
    /// The scenario's engine.
    pub engine: &'a mut Engine<SimBoard>,
    /// Virtual now (moves on while SMS are sent).
    pub now: Instant,
}

impl SmsPath for VirtualSms<'_> {
    fn send(&mut self, to: &str, text: &str) -> Result<(), String> {
        let cmd = Command::SendSms {
            to: to.into(),
            text: text.into(),
        };
        let id = match self.engine.exchange.command(self.now, cmd) {
            CommandResult::SmsQueued(id) => id,
            CommandResult::Rejected(why) => return Err(why),
            other => return Err(format!("the SMS was not queued: {other:?}")),
        };
        let got: Rc<Cell<Option<Result<(), String>>>> = Rc::default();
        let seen = got.clone();
        let mut sink = |_t: Instant, out: Output| {
            if let Output::SmsSent { id: i, result } = out
                && i == id
            {
                seen.set(Some(result));
            }
        };
        let done_flag = got.clone();
        self.now = self.engine.run_virtual_with(
            self.now,
            Duration::from_secs(300),
            &mut sink,
            |_, _| {},
            |_| {
                let r = done_flag.take();
                let done = r.is_some();
                done_flag.set(r);
                done
            },
        );
        got.take()
            .unwrap_or_else(|| Err("the modem did not report the SMS within 300 s".into()))
    }
}

/// Delivers what is due at the scenario's end, then (when there are SMS targets) keeps
/// virtual time running from due time to due time until the longest
/// `fallback_after` (plus a minute) has passed.
pub fn deliver(
    engine: &mut Engine<SimBoard>,
    store: &mut Store,
    sender: &mut Sender,
    cfg: &Config,
    start: Instant,
    wall: jiff::Timestamp,
    end: Instant,
) -> Result<()> {
    let wall_at = |t: Instant| -> Result<jiff::Timestamp> {
        Ok(wall.checked_add(jiff::SignedDuration::try_from(
            t.saturating_duration_since(start),
        )?)?)
    };
    let has_sms = cfg
        .alert_targets
        .iter()
        .any(|t| t.kind() == TargetKind::Sms);
    let longest_fallback = cfg
        .alert_targets
        .iter()
        .filter_map(|t| t.fallback_after.as_ref().map(|f| *f.get_ref()))
        .max()
        .unwrap_or_default();
    let horizon = end + longest_fallback + Duration::from_secs(60);
    let mut now = end;
    loop {
        let mut path = VirtualSms { engine, now };
        let sms = has_sms.then_some(&mut path as &mut dyn SmsPath);
        sender.deliver_due_with(store, wall_at(now)?, sms)?;
        now = path.now;
        if !has_sms {
            return Ok(());
        }
        let Some(due_ms) = store.next_due_ms()? else {
            return Ok(());
        };
        let due = start + Duration::from_millis((due_ms - wall.as_millisecond()).max(0) as u64);
        if due > horizon {
            return Ok(());
        }
        if due > now {
            now = engine.run_virtual_with(now, due - now, &mut |_, _| {}, |_, _| {}, |_| false);
        }
    }
}
