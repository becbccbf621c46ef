//! Analog line state machines (sans-IO).
//!
//! [`FxoLine`] turns what the line interface reports (ring voltage on/off, caller ID,
//! loop current) into call-level events, and tracks the hook state the exchange asks
//! for. It never touches GPIO; the board adapter does.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::{Duration, Instant};

/// What the line hardware reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineSignal {
    /// Ringing voltage appeared (start of a ring burst).
    RingStart,
    /// Ringing voltage stopped (end of a ring burst).
    RingStop,
    /// Caller ID decoded by the line interface or the FSK/DTMF demodulator.
    CallerId(String),
    /// Loop current dropped while off-hook (far end hung up: CPC / disconnect).
    LoopDrop,
    /// FXS: the phone's handset was lifted (switch-hook, debounced by the board).
    HandsetLifted,
    /// FXS: the handset was put down.
    HandsetDown,
}

/// What the line should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCommand {
    /// Seize the line (answer).
    OffHook,
    /// Release the line (hang up).
    OnHook,
    /// FXS: start ringing the phone (the board's ringer applies the country cadence).
    RingStart,
    /// FXS: stop ringing the phone.
    RingStop,
}

/// Call-level events of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// A call is ringing in and is ready to be answered (caller ID window passed).
    Incoming {
        /// Caller ID if one was received.
        caller_id: Option<String>,
    },
    /// Ringing stopped before the call was answered.
    Abandoned,
    /// The far end hung up while the line was off-hook.
    Disconnected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    Ringing {
        rings: u32,
        caller_id: Option<String>,
        announced: bool,
        last_activity: Instant,
    },
    OffHook,
}

/// Timing of an FXO line.
#[derive(Debug, Clone, Copy)]
pub struct FxoTiming {
    /// Announce the call after this many ring bursts even without caller ID
    /// (caller ID arrives between the first and second ring in most countries).
    pub answer_after_rings: u32,
    /// Ringing is over when no ring starts for this long.
    pub ring_timeout: Duration,
}

impl Default for FxoTiming {
    fn default() -> Self {
        Self {
            answer_after_rings: 2,
            ring_timeout: Duration::from_secs(8),
        }
    }
}

/// One FXO line.
#[derive(Debug, Clone)]
pub struct FxoLine {
    state: State,
    timing: FxoTiming,
}

impl FxoLine {
    /// A new idle line.
    pub fn new(timing: FxoTiming) -> Self {
        Self {
            state: State::Idle,
            timing,
        }
    }

    /// A short name of the line state, for status pages.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Idle => "idle",
            State::Ringing { .. } => "ringing",
            State::OffHook => "off-hook",
        }
    }

    /// Whether the line is seized.
    pub fn is_off_hook(&self) -> bool {
        self.state == State::OffHook
    }

    /// Feeds a hardware signal; returns the resulting event, if any.
    pub fn on_signal(&mut self, now: Instant, sig: LineSignal) -> Option<LineEvent> {
        match (&mut self.state, sig) {
            (State::Idle, LineSignal::RingStart) => {
                self.state = State::Ringing {
                    rings: 1,
                    caller_id: None,
                    announced: false,
                    last_activity: now,
                };
                self.maybe_announce()
            }
            (State::Idle, LineSignal::CallerId(cid)) => {
                // Caller ID before the first ring (ETSI / DTMF CLIP).
                self.state = State::Ringing {
                    rings: 0,
                    caller_id: Some(cid),
                    announced: false,
                    last_activity: now,
                };
                None
            }
            (
                State::Ringing {
                    rings,
                    last_activity,
                    ..
                },
                LineSignal::RingStart,
            ) => {
                *rings += 1;
                *last_activity = now;
                self.maybe_announce()
            }
            (State::Ringing { last_activity, .. }, LineSignal::RingStop) => {
                *last_activity = now;
                None
            }
            (
                State::Ringing {
                    caller_id,
                    rings,
                    announced,
                    last_activity,
                },
                LineSignal::CallerId(cid),
            ) => {
                *caller_id = Some(cid);
                *last_activity = now;
                if *rings >= 1 && !*announced {
                    *announced = true;
                    return Some(LineEvent::Incoming {
                        caller_id: caller_id.clone(),
                    });
                }
                None
            }
            (State::OffHook, LineSignal::LoopDrop) => Some(LineEvent::Disconnected),
            _ => None,
        }
    }

    fn maybe_announce(&mut self) -> Option<LineEvent> {
        if let State::Ringing {
            rings,
            caller_id,
            announced,
            ..
        } = &mut self.state
        {
            if !*announced && *rings >= self.timing.answer_after_rings {
                *announced = true;
                return Some(LineEvent::Incoming {
                    caller_id: caller_id.clone(),
                });
            }
        }
        None
    }

    /// Applies a command from the exchange and returns what the hardware must do.
    pub fn command(&mut self, cmd: LineCommand) -> LineCommand {
        self.state = match cmd {
            LineCommand::OffHook => State::OffHook,
            LineCommand::OnHook => State::Idle,
            // ringing is for FXS ports; an FXO line ignores it
            LineCommand::RingStart | LineCommand::RingStop => return cmd,
        };
        cmd
    }

    /// When [`FxoLine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Ringing { last_activity, .. } => Some(*last_activity + self.timing.ring_timeout),
            _ => None,
        }
    }

    /// Fires timers: ringing that stopped without an answer.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<LineEvent> {
        if let State::Ringing {
            last_activity,
            announced,
            ..
        } = &self.state
        {
            if now >= *last_activity + self.timing.ring_timeout {
                let was_announced = *announced;
                self.state = State::Idle;
                return was_announced.then_some(LineEvent::Abandoned);
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    #[test]
    fn caller_id_after_first_ring_announces() {
        let t = Instant::now();
        let mut l = FxoLine::new(FxoTiming::default());
        assert_eq!(l.on_signal(t, LineSignal::RingStart), None);
        assert_eq!(l.on_signal(t, LineSignal::RingStop), None);
        assert_eq!(
            l.on_signal(t, LineSignal::CallerId("+15551234567".into())),
            Some(LineEvent::Incoming {
                caller_id: Some("+15551234567".into())
            })
        );
        // second ring: no second announcement
        assert_eq!(l.on_signal(t, LineSignal::RingStart), None);
    }

    #[test]
    fn no_caller_id_announces_on_second_ring() {
        let t = Instant::now();
        let mut l = FxoLine::new(FxoTiming::default());
        l.on_signal(t, LineSignal::RingStart);
        l.on_signal(t, LineSignal::RingStop);
        assert_eq!(
            l.on_signal(t, LineSignal::RingStart),
            Some(LineEvent::Incoming { caller_id: None })
        );
    }

    #[test]
    fn ringing_that_stops_is_abandoned_and_loop_drop_disconnects() {
        let t = Instant::now();
        let mut l = FxoLine::new(FxoTiming::default());
        l.on_signal(t, LineSignal::RingStart);
        l.on_signal(t, LineSignal::RingStart);
        let dl = l.poll_timeout().unwrap();
        assert_eq!(l.handle_timeout(dl), Some(LineEvent::Abandoned));
        assert_eq!(l.state_name(), "idle");
        l.command(LineCommand::OffHook);
        assert_eq!(
            l.on_signal(t, LineSignal::LoopDrop),
            Some(LineEvent::Disconnected)
        );
    }
}
