//! What the driver does with a command's answer: `Modem::complete` per purpose,
//! status lines (`+CSQ`, `+COPS`, …) and registration reports.

use super::*;

impl Modem {
    pub(super) fn complete(
        &mut self,
        now: Instant,
        cmd: Cmd,
        result: Result<Final, ()>,
        lines: Vec<String>,
    ) {
        let ok = matches!(&result, Ok(f) if f.is_success());
        let outcome = match &result {
            Ok(f) => format!("{f:?}"),
            Err(()) => "timeout".to_string(),
        };
        match cmd.purpose {
            Purpose::SmsSubmit(id) => {
                if !ok {
                    self.fail_sms(id, format!("AT+CMGS failed: {outcome}"));
                    return;
                }
                let mr = lines.iter().find_map(|l| {
                    l.trim()
                        .strip_prefix("+CMGS:")
                        .and_then(|r| r.trim().split(',').next())
                        .and_then(|r| r.trim().parse::<u8>().ok())
                });
                let done = match self.sms_out.get_mut(&id) {
                    Some(o) => {
                        o.references.push(mr.unwrap_or(0));
                        o.remaining = o.remaining.saturating_sub(1);
                        o.remaining == 0
                    }
                    None => false,
                };
                if done {
                    if let Some(o) = self.sms_out.remove(&id) {
                        self.events.push_back(ModemEvent::SmsSent {
                            id,
                            result: Ok(o.references),
                        });
                    }
                }
            }
            Purpose::SmsRead(index) => self.on_sms_read(index, ok, outcome, &lines),
            Purpose::SmsList => {
                if ok {
                    self.on_sms_list(&lines);
                }
            }
            Purpose::Query(id) => self.events.push_back(ModemEvent::Response {
                id,
                ok,
                lines,
                outcome,
            }),
            Purpose::Init { last, essential } => {
                if !ok && essential {
                    self.stop_init(format!(
                        "the modem rejected `{}` ({outcome}), which the service needs: check that this is a voice/SMS capable modem and the dialect setting",
                        cmd.text
                    ));
                    return;
                }
                if !ok && cmd.text == dialect::VOLTE_ON {
                    self.events.push_back(ModemEvent::Fault(format!(
                        "the modem refused to switch VoLTE on (`{}` → {outcome}): its carrier profile (MBN) may lock VoLTE off (e.g. ROW_Generic_3GPP); select the carrier's MBN (AT+QMBNCFG) or remove `volte` from the board profile. On LTE-only networks calls fail without VoLTE",
                        cmd.text
                    )));
                } else if !ok && cmd.text == dialect::IMS_READ {
                    self.status.ims = Some("unknown");
                }
                if !ok {
                    tracing::info!(command = %cmd.text, ?result, "modem: init command rejected; continuing without it");
                    if cmd.text.starts_with("AT+CEREG") {
                        self.cereg_unsupported = true;
                        self.queue.retain(|c| c.text != "AT+CEREG?");
                    }
                }
                if last && !self.init_stopped {
                    self.status.ready = true;
                    self.next_status_poll = Some(now + self.timing.status_poll);
                    self.events.push_back(ModemEvent::Ready);
                    // messages still in storage (not yet stored by the driver)
                    self.push("AT+CMGL=4", Purpose::SmsList, self.timing.command);
                }
                self.apply_status_lines(&lines);
            }
            Purpose::Cpin => {
                let step = self.sim.on_query(&lines, result.as_ref().ok());
                self.on_sim_step(now, step);
            }
            Purpose::PinEntry => {
                let step = self.sim.on_pin_result(result.as_ref().ok());
                match step {
                    // ask the state again: READY (or busy for a while)
                    SimStep::Continue | SimStep::Retry => {
                        self.cpin_retry_at = Some(now + self.timing.sim_retry);
                    }
                    other => self.on_sim_step(now, other),
                }
            }
            Purpose::ManualPin => self.on_manual_pin(result.as_ref().ok()),
            Purpose::PinAttempts => self.on_pin_attempts(ok, &lines),
            Purpose::PinRecheck => self.on_pin_recheck(now, &lines, result.as_ref().ok()),
            Purpose::Ident(which) => {
                if ok {
                    self.ident.extend(
                        lines
                            .iter()
                            .map(|l| l.trim().to_string())
                            .filter(|l| !l.is_empty()),
                    );
                    let first = lines
                        .iter()
                        .map(|l| {
                            let t = l.trim();
                            let t = t.strip_prefix("+CGMI:").unwrap_or(t);
                            t.strip_prefix("+CGMM:").unwrap_or(t).trim().to_string()
                        })
                        .find(|l| !l.is_empty());
                    match which {
                        0 => self.status.manufacturer = first,
                        1 => self.status.model = first,
                        _ => {}
                    }
                }
                let last_ident = match which {
                    1 if self.ident.is_empty() && self.cfg.dialect == DialectSetting::Auto => {
                        // both failed: try ATI
                        self.push("ATI", Purpose::Ident(2), self.timing.command);
                        false
                    }
                    1 | 2 => true,
                    _ => false,
                };
                if last_ident {
                    if self.cfg.dialect == DialectSetting::Auto {
                        let ids: Vec<&str> = self.ident.iter().map(String::as_str).collect();
                        self.dialect = dialect::detect(&ids);
                    }
                    self.status.dialect = Some(self.dialect.as_str());
                    tracing::info!(dialect = %self.dialect, "modem: dialect");
                    self.push("AT+CPIN?", Purpose::Cpin, self.timing.command);
                }
            }
            Purpose::Answer(leg) => {
                let Some(pos) = self.incoming.iter().position(|c| c.leg == leg) else {
                    return;
                };
                if ok {
                    let was_waiting = cmd.text.starts_with("AT+CHLD");
                    if let Some(c) = self.incoming.get_mut(pos) {
                        c.state = InState::Active;
                    }
                    if was_waiting {
                        self.hold_others(leg);
                    }
                    self.events.push_back(ModemEvent::Leg {
                        leg,
                        state: LegState::Active,
                    });
                    self.poll_calls_now();
                } else {
                    self.incoming.remove(pos);
                    self.pcm_off_when_idle();
                    let end = match result {
                        Ok(Final::NoCarrier) => LegEnd::NoCarrier,
                        Ok(other) => LegEnd::Error(format!("answer failed: {other:?}")),
                        Err(()) => LegEnd::Error("answer timed out".into()),
                    };
                    self.events.push_back(ModemEvent::Leg {
                        leg,
                        state: LegState::Ended(end),
                    });
                }
            }
            Purpose::Chld(id) => {
                self.events.push_back(ModemEvent::Response {
                    id,
                    ok,
                    lines,
                    outcome,
                });
                self.poll_calls_now();
            }
            Purpose::Forward(id) => {
                let result = if ok {
                    Ok(forward::parse_rules(&lines))
                } else {
                    Err(format!("{} failed: {outcome}", cmd.text))
                };
                self.events.push_back(ModemEvent::Forwarding { id, result });
            }
            Purpose::Dial(id) => {
                let Some(leg) = self.leg.as_mut().filter(|l| l.id == id) else {
                    return;
                };
                if ok {
                    leg.phase = Phase::Placed;
                } else {
                    let end = match result {
                        Ok(Final::Busy) => LegEnd::Busy,
                        Ok(Final::NoAnswer) => LegEnd::NoAnswer,
                        Ok(Final::NoCarrier) => LegEnd::NoCarrier,
                        Ok(other) => LegEnd::Error(format!("{other:?}")),
                        Err(()) => LegEnd::Error("dial command timed out".into()),
                    };
                    self.end_leg(end);
                }
            }
            Purpose::Clcc => {
                if ok {
                    let rows: Vec<ClccRow> =
                        lines.iter().filter_map(|l| at::parse_clcc(l)).collect();
                    self.apply_clcc(&rows, true);
                }
            }
            Purpose::Creg if !ok && cmd.text.starts_with("AT+CEREG") => {
                // simpler modems and 2G/3G-only ones do not know +CEREG
                self.cereg_unsupported = true;
            }
            Purpose::Csq | Purpose::Creg | Purpose::Cops => self.apply_status_lines(&lines),
            Purpose::Reset | Purpose::Probe => self.recovery_answer(cmd.purpose, result.is_ok()),
            Purpose::Hangup | Purpose::Other => {
                if !ok {
                    tracing::warn!(command = %cmd.text, ?result, "modem: command failed");
                }
            }
        }
    }

    pub(super) fn apply_status_lines(&mut self, lines: &[String]) {
        for l in lines {
            if let Some((rssi, _)) = at::parse_csq(l) {
                self.status.signal_dbm = at::rssi_to_dbm(rssi);
            } else if let Some(ims) = dialect::parse_ims(l) {
                self.status.ims = Some(ims);
            } else if let Some(rest) = l.trim().strip_prefix("+CSMS:") {
                // +CSMS: <service>,<mt>,<mo>,<bm>
                self.csms_phase2 = rest.split(',').next().map(str::trim) == Some("1");
            } else if l.starts_with("+QCSQ:") || l.starts_with("+CPSI:") {
                self.status.rsrp_dbm = dialect::parse_rsrp(l);
            } else if let Some(r) = at::parse_creg(l, true) {
                self.on_registration(r);
            } else if let Some(cops) = at::parse_cops(l) {
                if cops.operator.is_some() || cops.mode == 2 {
                    self.status.operator = cops.operator;
                }
                if let Some(act) = cops.act {
                    self.status.access_technology = Some(act_name(act));
                }
            }
        }
    }

    /// A `+CREG`/`+CEREG` report (answer or URC): the combined state prefers a
    /// registered report (CS or EPS: on LTE-only networks `+CREG` may stay 0 while
    /// `+CEREG` is 1), then "searching"; a change of registered-ness is an event.
    pub(super) fn on_registration(&mut self, r: at::Reg) {
        match r.kind {
            RegKind::Creg => self.creg = Some(r),
            RegKind::Cereg => self.cereg = Some(r),
            RegKind::Cgreg | RegKind::C5greg => return,
        }
        let pick = [&self.cereg, &self.creg]
            .into_iter()
            .flatten()
            .find(|r| r.is_registered())
            .or_else(|| {
                [&self.creg, &self.cereg]
                    .into_iter()
                    .flatten()
                    .find(|r| r.stat == 2)
            })
            .or(self.creg.as_ref())
            .or(self.cereg.as_ref())
            .cloned();
        let Some(best) = pick else { return };
        let state = registration_name(best.stat);
        self.status.registration = Some(state);
        if best.is_registered() {
            if best.lac.is_some() {
                self.status.lac = best.lac.clone();
                self.status.cell_id = best.ci.clone();
            }
            if let Some(act) = best.act {
                self.status.access_technology = Some(act_name(act));
            }
        }
        let registered = best.is_registered();
        if self.registered.is_some_and(|was| was != registered) {
            if !registered {
                tracing::warn!(state, "modem: lost network registration");
            }
            self.events
                .push_back(ModemEvent::Registration { registered, state });
        }
        self.registered = Some(registered);
    }
}
