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
        let mt: Vec<ClccRow> = rows
            .iter()
            .filter(voice)
            .filter(|r| r.dir == 1)
            .cloned()
            .collect();
        for row in &mt {
            self.apply_mt_row(row);
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

    pub(super) fn apply_mt_row(&mut self, row: &ClccRow) {
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
            (None, RowState::Released | RowState::Other) => return,
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
            return;
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
                return;
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

    /// The incoming call a `RING`/`+CLIP` is about (created if new).
    pub(super) fn ringing_call(&mut self) -> usize {
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
