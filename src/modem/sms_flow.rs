//! The SMS side of the driver: sending (`AT+CMGS` with the `> ` prompt), reading
//! (`+CMTI` → `AT+CMGR`, `+CMT`, `AT+CMGL`), reassembly and deletion once stored.

use super::*;

impl Modem {
    /// Sends an SMS in PDU mode (GSM 7-bit or UCS2, concatenated when long). Each
    /// part is its own `AT+CMGS`; [`ModemEvent::SmsSent`] reports the outcome once
    /// all parts are acknowledged or one fails (also for a number or text that cannot
    /// be encoded).
    pub fn send_sms(&mut self, now: Instant, number: &str, text: &str) -> SmsId {
        let id = self.next_sms;
        self.next_sms = self.next_sms.wrapping_add(1).max(1);
        self.sms_reference = self.sms_reference.wrapping_add(1);
        match sms::encode_submit(number, text, self.sms_reference) {
            Ok(parts) => {
                self.sms_out.insert(
                    id,
                    SmsOut {
                        remaining: parts.len(),
                        references: Vec::new(),
                    },
                );
                for p in parts {
                    self.queue.push_back(Cmd {
                        text: format!("AT+CMGS={}", p.tpdu_len),
                        purpose: Purpose::SmsSubmit(id),
                        timeout: self.timing.sms,
                        body: Some(at::encode_sms_body(&p.hex)),
                    });
                }
            }
            Err(e) => self.events.push_back(ModemEvent::SmsSent {
                id,
                result: Err(e.to_string()),
            }),
        }
        self.pump(now);
        id
    }

    pub(super) fn on_prompt(&mut self) {
        match self.inflight.as_mut() {
            Some(f) if !f.prompted && f.cmd.body.is_some() => {
                f.prompted = true;
                if let Some(body) = f.cmd.body.clone() {
                    self.tx.push_back(body);
                }
            }
            _ => tracing::debug!("modem: unexpected SMS prompt ignored"),
        }
    }

    pub(super) fn fail_sms(&mut self, id: SmsId, why: String) {
        if self.sms_out.remove(&id).is_some() {
            self.queue.retain(|c| c.purpose != Purpose::SmsSubmit(id));
            self.events.push_back(ModemEvent::SmsSent {
                id,
                result: Err(why),
            });
        }
    }

    pub(super) fn on_sms_read(&mut self, index: u32, ok: bool, outcome: String, lines: &[String]) {
        if !ok {
            tracing::warn!(index, %outcome, "modem: reading a stored SMS failed");
            return;
        }
        let pdu = lines
            .iter()
            .map(|l| l.trim())
            .find(|l| l.len() >= 2 && l.bytes().all(|b| b.is_ascii_hexdigit()));
        match pdu.map(sms::decode_deliver) {
            // stays on the SIM until the driver stored it (Modem::delete_sms)
            Some(Ok(d)) => self.on_deliver(d, Some(index)),
            Some(Err(e)) => {
                self.events.push_back(ModemEvent::Fault(format!(
                    "an incoming SMS (index {index}) could not be decoded: {e}; its PDU was {}",
                    pdu.unwrap_or("")
                )));
                self.delete_sms_now(index);
            }
            None => self.events.push_back(ModemEvent::Fault(format!(
                "an incoming SMS (index {index}) had no PDU in the AT+CMGR answer; left on the SIM"
            ))),
        }
    }

    pub(super) fn delete_sms_now(&mut self, index: u32) {
        self.push(
            &format!("AT+CMGD={index}"),
            Purpose::Other,
            self.timing.command,
        );
    }

    /// Deletes stored messages (the `indexes` of a [`ModemEvent::SmsReceived`]) once
    /// the driver has stored them durably.
    pub fn delete_sms(&mut self, now: Instant, indexes: &[u32]) {
        for &i in indexes {
            if !self.queue.iter().any(|c| c.text == format!("AT+CMGD={i}")) {
                self.delete_sms_now(i);
            }
        }
        self.pump(now);
    }

    /// The answer to `AT+CMGL=4`: `+CMGL: <index>,<stat>,[<alpha>],<length>` lines,
    /// each followed by its PDU.
    pub(super) fn on_sms_list(&mut self, lines: &[String]) {
        let mut current: Option<u32> = None;
        for l in lines {
            let l = l.trim();
            if let Some(rest) = l.strip_prefix("+CMGL:") {
                current = rest.split(',').next().and_then(|i| i.trim().parse().ok());
            } else if let Some(index) = current.take()
                && l.len() >= 2
                && l.bytes().all(|b| b.is_ascii_hexdigit())
            {
                match sms::decode_deliver(l) {
                    Ok(d) => self.on_deliver(d, Some(index)),
                    Err(e) => {
                        tracing::warn!(index, "modem: a stored SMS could not be decoded: {e}")
                    }
                }
            }
        }
    }

    pub(super) fn on_deliver(&mut self, d: sms::Deliver, index: Option<u32>) {
        let Some(c) = d.concat.filter(|c| c.total > 1) else {
            self.events.push_back(ModemEvent::SmsReceived {
                from: d.from,
                text: d.text,
                at: d.timestamp,
                indexes: index.into_iter().collect(),
            });
            return;
        };
        let pos = self
            .partial
            .iter()
            .position(|p| p.from == d.from && p.reference == c.reference && p.total == c.total);
        let pos = match pos {
            Some(i) => i,
            None => {
                if self.partial.len() >= MAX_PARTIAL_SMS {
                    if let Some(old) = self.partial.pop_front() {
                        self.events.push_back(ModemEvent::Fault(format!(
                            "an incomplete SMS from {} was dropped ({} of {} parts)",
                            old.from,
                            old.parts.len(),
                            old.total
                        )));
                    }
                }
                self.partial.push_back(Partial {
                    from: d.from.clone(),
                    reference: c.reference,
                    total: c.total,
                    at: d.timestamp,
                    parts: Vec::new(),
                    indexes: Vec::new(),
                });
                self.partial.len() - 1
            }
        };
        let Some(p) = self.partial.get_mut(pos) else {
            return;
        };
        if !p.parts.iter().any(|(s, _)| *s == c.seq) {
            p.parts.push((c.seq, d.text));
        }
        if let Some(i) = index
            && !p.indexes.contains(&i)
        {
            p.indexes.push(i);
        }
        if c.seq == 1 {
            p.at = d.timestamp;
        }
        if let Some(text) = sms::reassemble(&p.parts, p.total) {
            if let Some(p) = self.partial.remove(pos) {
                self.events.push_back(ModemEvent::SmsReceived {
                    from: p.from,
                    text,
                    at: p.at,
                    indexes: p.indexes,
                });
            }
        }
    }
}
