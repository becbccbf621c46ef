//! Call state from `AT+CLCC` rows and call URCs: the outbound leg, incoming and
//! waiting calls, hold, and serial PCM switched per call.

use super::*;

impl Modem {
    /// Call rows from a full `AT+CLCC` list (`full`) or one URC (`+CLCC` with
    /// `AT+CLCC=1`, Quectel ccinfo): direction 0 drives the outbound leg, direction 1
    /// the incoming calls. Only a full list can tell that a call vanished.
    pub(super) fn apply_clcc(&mut self, rows: &[ClccRow], full: bool) {
        let voice = |r: &&ClccRow| r.mode == 0;
        if self.leg.is_some() {
            let leg_index = self.leg.and_then(|l| l.index);
            let mo = rows
                .iter()
                .filter(voice)
                .find(|r| r.dir == 0 && leg_index.is_none_or(|i| i == r.id));
            self.apply_mo_row(mo.cloned(), full);
        }
        let released = |r: &&ClccRow| !self.released_rows.iter().any(|(i, _)| *i == r.id);
        let mt: Vec<ClccRow> = rows
            .iter()
            .filter(voice)
            .filter(|r| r.dir == 1)
            .filter(released)
            .cloned()
            .collect();
        if full {
            // a released call's row is stale until a list no longer shows it (at most
            // the lists asked for before the release)
            self.released_rows.retain_mut(|(i, left)| {
                *left = left.saturating_sub(1);
                *left > 0 && rows.iter().any(|r| r.id == *i && r.dir == 1)
            });
        }
        // a waiting call the network now presents as ringing is announced once the
        // calls that vanished have ended (the exchange sees the modem free first)
        let mut presented = Vec::new();
        for row in &mt {
            if self.apply_mt_row(row) {
                presented.push(row.id);
            }
        }
        if full {
            let mut ended = Vec::new();
            for c in &mut self.incoming {
                let present = mt.iter().any(|r| c.index.is_some_and(|i| i == r.id));
                if present {
                    continue;
                }
                c.missing_polls += 1;
                // never listed: gone once it has not rung for 8 s (each RING resets the
                // count; RING repeats every 2-6 s)
                if c.seen_in_clcc || c.missing_polls >= UNSEEN_CALL_POLLS {
                    ended.push(c.leg);
                }
            }
            for leg in ended {
                self.end_incoming(leg, LegEnd::NoCarrier);
            }
        }
        for id in presented {
            if let Some(p) = self.incoming.iter().position(|c| c.index == Some(id)) {
                self.announce(p, true);
            }
        }
    }

    pub(super) fn apply_mo_row(&mut self, mo: Option<ClccRow>, full: bool) {
        let Some(leg) = self.leg.as_mut() else {
            return;
        };
        match mo {
            Some(row) => {
                leg.seen_in_clcc = true;
                leg.index = Some(row.id);
                let id = leg.id;
                let emit = |phase: Phase, state: LegState, leg: &mut Leg| {
                    leg.phase = phase;
                    Some(ModemEvent::Leg { leg: id, state })
                };
                let ev = match row.stat {
                    3 if matches!(leg.phase, Phase::Placed | Phase::Dialing) => {
                        emit(Phase::Alerting, LegState::Alerting, leg)
                    }
                    0 if leg.phase != Phase::Active => emit(Phase::Active, LegState::Active, leg),
                    1 if leg.phase == Phase::Active => emit(Phase::Held, LegState::Held, leg),
                    6 | 7 => {
                        self.end_leg(LegEnd::NoCarrier);
                        None
                    }
                    _ => None,
                };
                if let Some(ev) = ev {
                    self.events.push_back(ev);
                }
            }
            None if full && leg.phase != Phase::Dialing => {
                leg.missing_polls += 1;
                // The call vanished from the list: it ended without a result code.
                if leg.seen_in_clcc || leg.missing_polls >= 4 {
                    self.end_leg(LegEnd::NoCarrier);
                }
            }
            None => {}
        }
    }

    /// Applies one direction-1 row; true when a waiting call became a ringing one
    /// (announced by the caller, after the rest of the list).
    pub(super) fn apply_mt_row(&mut self, row: &ClccRow) -> bool {
        let rs = RowState::of(row.stat);
        let pos = self
            .incoming
            .iter()
            .position(|c| c.index == Some(row.id))
            .or_else(|| {
                self.incoming
                    .iter()
                    .position(|c| c.index.is_none() && c.matches(row))
            });
        let pos = match (pos, rs) {
            (Some(p), _) => p,
            (None, RowState::Released | RowState::Other) => return false,
            (None, RowState::Ringing | RowState::Waiting) => {
                let leg = self.new_leg_id();
                let st = if rs == RowState::Waiting || self.call_count() > 0 {
                    InState::Waiting
                } else {
                    InState::Ringing
                };
                self.incoming.push(InCall::new(leg, st));
                self.incoming.len() - 1
            }
            // an answered call we did not see ring (e.g. answered elsewhere)
            (None, RowState::Active | RowState::Held) => {
                let leg = self.new_leg_id();
                let mut c = InCall::new(leg, InState::Active);
                c.announced = true;
                self.events.push_back(ModemEvent::Incoming {
                    leg,
                    caller_id: row.number.clone(),
                });
                self.incoming.push(c);
                self.incoming.len() - 1
            }
        };
        let Some(c) = self.incoming.get_mut(pos) else {
            return false;
        };
        c.index = Some(row.id);
        c.seen_in_clcc = true;
        if c.number.is_none() {
            c.number.clone_from(&row.number);
        }
        let leg = c.leg;
        let ev = match (rs, c.state) {
            (RowState::Released, _) => {
                self.end_incoming(leg, LegEnd::NoCarrier);
                return false;
            }
            // the call it waited behind ended: the network presents it as a normal
            // incoming call (stat 4), announced again as `Incoming` on the same leg
            (RowState::Ringing, InState::Waiting) if c.announced => {
                c.state = InState::Ringing;
                c.announced = false;
                c.rings = 0;
                return true;
            }
            (
                RowState::Active,
                InState::Held | InState::Answering | InState::Ringing | InState::Waiting,
            ) => {
                let was_unanswered = matches!(c.state, InState::Ringing | InState::Waiting);
                c.state = InState::Active;
                // answered by us (ATA still pending) or elsewhere
                (!was_unanswered || c.announced).then_some(LegState::Active)
            }
            (RowState::Held, InState::Active) => {
                c.state = InState::Held;
                Some(LegState::Held)
            }
            (RowState::Waiting, InState::Ringing) => {
                c.state = InState::Waiting;
                None
            }
            _ => None,
        };
        if let Some(state) = ev {
            self.events.push_back(ModemEvent::Leg { leg, state });
        }
        self.announce(pos, true);
        false
    }

    /// Emits `Incoming` / `CallWaiting` for an incoming call once (`have_cid`: the
    /// caller ID is as known as it gets).
    pub(super) fn announce(&mut self, pos: usize, have_cid: bool) {
        let Some(c) = self.incoming.get_mut(pos) else {
            return;
        };
        if c.announced || !(have_cid || c.number.is_some() || c.rings >= 2) {
            return;
        }
        c.announced = true;
        let (leg, caller_id) = (c.leg, c.number.clone());
        self.events.push_back(match c.state {
            InState::Waiting => ModemEvent::CallWaiting { leg, caller_id },
            _ => ModemEvent::Incoming { leg, caller_id },
        });
    }

    pub(super) fn end_incoming(&mut self, leg: LegId, end: LegEnd) {
        if let Some(pos) = self.incoming.iter().position(|c| c.leg == leg) {
            let c = self.incoming.remove(pos);
            self.queue.retain(|q| q.purpose != Purpose::Answer(leg));
            if c.announced {
                self.events.push_back(ModemEvent::Leg {
                    leg,
                    state: LegState::Ended(end),
                });
            }
        }
        self.pcm_off_when_idle();
    }

    /// After `AT+CHLD=2` took `leg`: the other connected calls are on hold.
    pub(super) fn hold_others(&mut self, leg: LegId) {
        if let Some(l) = self.leg.as_mut().filter(|l| l.phase == Phase::Active) {
            l.phase = Phase::Held;
            self.events.push_back(ModemEvent::Leg {
                leg: l.id,
                state: LegState::Held,
            });
        }
        for c in &mut self.incoming {
            if c.leg != leg && c.state == InState::Active {
                c.state = InState::Held;
                self.events.push_back(ModemEvent::Leg {
                    leg: c.leg,
                    state: LegState::Held,
                });
            }
        }
    }

    /// Queues an `AT+CLCC` now (after a hold/swap, an ambiguous `NO CARRIER`, …).
    pub(super) fn poll_calls_now(&mut self) {
        if !self.queue.iter().any(|c| c.purpose == Purpose::Clcc) {
            self.push("AT+CLCC", Purpose::Clcc, self.timing.command);
        }
    }

    pub(super) fn end_leg(&mut self, end: LegEnd) {
        if let Some(leg) = self.leg.take() {
            self.queue.retain(|c| c.purpose != Purpose::Clcc);
            self.events.push_back(ModemEvent::Leg {
                leg: leg.id,
                state: LegState::Ended(end),
            });
        }
        self.pcm_off_when_idle();
    }

    /// SIMCom serial PCM audio is switched per call (`AT+CPCMREG`), when configured.
    pub(super) fn simcom_pcm(&mut self, on: bool) {
        if self.dialect == Dialect::Simcom && self.cfg.options.simcom_pcm && on != self.pcm_on {
            self.pcm_on = on;
            let cmd = if on { "AT+CPCMREG=1" } else { "AT+CPCMREG=0" };
            self.push(cmd, Purpose::Other, self.timing.command);
        }
    }

    /// Serial PCM goes off once no call is left, however the last one ended
    /// (`VOICE CALL: END`, a bare `NO CARRIER`, `BUSY`, a hang-up of ours).
    pub(super) fn pcm_off_when_idle(&mut self) {
        if self.pcm_on && self.call_count() == 0 {
            self.simcom_pcm(false);
        }
    }

    /// A call ended without saying which (`NO CARRIER`, SIMCom `VOICE CALL: END`):
    /// with one call it is that one; with several, `AT+CLCC` tells.
    pub(super) fn call_ended(&mut self) {
        match self.call_count() {
            0 => {}
            1 if self.leg.is_some() => self.end_leg(LegEnd::NoCarrier),
            1 => {
                if let Some(leg) = self.incoming.first().map(|c| c.leg) {
                    self.end_incoming(leg, LegEnd::NoCarrier);
                }
            }
            _ => self.poll_calls_now(),
        }
    }

    /// The incoming call a `RING`/`+CLIP` is about (created if new). A waiting call
    /// that rings is being presented because the call it waited behind ended: once it
    /// is the only call it becomes a ringing one (announced again as `Incoming`);
    /// while the other call is still listed, `AT+CLCC` tells.
    pub(super) fn ringing_call(&mut self) -> usize {
        let others = self.call_count().saturating_sub(1);
        if let Some(p) = self
            .incoming
            .iter()
            .position(|c| c.state == InState::Waiting && c.announced)
        {
            if others == 0 {
                let c = &mut self.incoming[p];
                c.state = InState::Ringing;
                c.announced = false;
                c.rings = 0;
            } else {
                self.poll_calls_now();
            }
            return p;
        }
        if let Some(p) = self.incoming.iter().position(|c| {
            matches!(c.state, InState::Ringing | InState::Answering)
                || (c.state == InState::Waiting && !c.announced)
        }) {
            return p;
        }
        let leg = self.new_leg_id();
        let st = if self.call_count() > 0 {
            InState::Waiting
        } else {
            InState::Ringing
        };
        self.incoming.push(InCall::new(leg, st));
        self.incoming.len() - 1
    }
}
