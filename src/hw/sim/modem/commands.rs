//! The simulated modem's AT command interpreter: generic 27.007 commands, PIN entry,
//! call forwarding, SMS submission and the dialects' vendor commands.

use super::*;

impl SimModem {
    pub(super) fn command(&mut self, now: Instant, cmd: &str, net: &mut dyn Network) {
        let upper = cmd.to_ascii_uppercase();
        let dialect = self.dialect;
        let vendor = |d: Dialect| dialect == d;
        match upper.as_str() {
            "AT+CFUN=1,1" => {
                self.line("OK");
                self.reboot(now, SOFT_RESET_BOOT, net);
            }
            "AT" | "AT+CMEE=0" | "AT+CMEE=1" | "AT+CMEE=2" | "AT+COPS=3,0" | "AT+COPS=3,2"
            | "AT+CNMI=2,1,0,0,0" | "AT+CLIP=0" | "AT+CRC=0" | "AT+CCWA=0" | "AT+VTD=1" => {
                self.line("OK")
            }
            "AT+CLIP=1" => {
                self.clip = true;
                self.line("OK");
            }
            "AT+CRC=1" => {
                self.crc = true;
                self.line("OK");
            }
            "AT+CCWA=1" | "AT+CCWA=1,1" => {
                self.ccwa = true;
                self.line("OK");
            }
            "AT+CREG=2" => {
                self.creg_urc = true;
                self.line("OK");
            }
            _ if upper.starts_with("AT+CEREG") && self.cfg.quirks.no_cereg => self.line("ERROR"),
            "AT+CEREG=2" => {
                self.cereg_urc = true;
                self.line("OK");
            }
            "AT+CEREG?" => {
                let l = self.creg_line("+CEREG", true);
                self.line(&l);
                self.line("OK");
            }
            "AT+CREG?" => {
                let l = self.creg_line("+CREG", true);
                self.line(&l);
                self.line("OK");
            }
            "AT+QINDCFG=\"CCINFO\",1" | "AT+QINDCFG=\"CCINFO\",1,0" if vendor(Dialect::Quectel) => {
                self.ccinfo = true;
                self.line("OK");
            }
            "AT+QTONEDET=1" if vendor(Dialect::Quectel) => {
                self.tonedet = true;
                self.line("OK");
            }
            "AT+QPCMV=1,2" | "AT+QPCMV=0" if vendor(Dialect::Quectel) => self.line("OK"),
            "AT+DDET=1" if vendor(Dialect::Simcom) => {
                self.ddet = true;
                self.line("OK");
            }
            "AT+CPCMREG=1" | "AT+CPCMREG=0" | "AT+CPCMREG=0,0" if vendor(Dialect::Simcom) => {
                let on = upper == "AT+CPCMREG=1";
                if let Some(p) = self.pcm.as_mut() {
                    p.on = on;
                    p.next = on.then_some(now);
                }
                self.line("OK")
            }
            "AT+CMGF=0" | "AT+CMGF=1" => {
                self.pdu_mode = upper.ends_with('0');
                self.line("OK");
            }
            "AT+CMGF?" => {
                let mode = if self.pdu_mode { 0 } else { 1 };
                self.line(&format!("+CMGF: {mode}"));
                self.line("OK");
            }
            "AT+CGMI" => {
                let (m, _, _) = self.identity();
                self.line(m);
                self.line("OK");
            }
            "AT+CGMM" => {
                let (_, m, _) = self.identity();
                self.line(m);
                self.line("OK");
            }
            "AT+CGMR" => {
                let (_, _, f) = self.identity();
                let l = match self.dialect {
                    Dialect::Generic => format!("Revision: {f}"),
                    Dialect::Quectel => f.to_string(),
                    Dialect::Simcom => format!("+CGMR: {f}"),
                };
                self.line(&l);
                self.line("OK");
            }
            "ATI" => {
                let (m, model, f) = self.identity();
                let l = match self.dialect {
                    Dialect::Simcom => format!(
                        "Manufacturer: {m}\r\nModel: {model}\r\nRevision: {f}\r\nIMEI: {SIM_IMEI}\r\n+GCAP: +CGSM"
                    ),
                    _ => format!("{m}\r\n{model}\r\nRevision: {f}"),
                };
                self.line(&l);
                self.line("OK");
            }
            "AT+CPIN?" => match self.cfg.sim {
                SimLock::Absent => self.cme(10),
                _ => {
                    let l = format!("+CPIN: {}", self.sim_state());
                    self.line(&l);
                    self.line("OK");
                }
            },
            _ if upper.starts_with("AT+CPIN=") => self.pin_entry(cmd),
            // PIN attempts left: 27.007 (generic), Quectel, SIMCom (PUK counter 10)
            "AT+CPINR=\"SIM PIN\"" if self.cfg.sim != SimLock::Absent => {
                let l = format!("+CPINR: \"SIM PIN\",{},3", self.pin_attempts_left);
                self.line(&l);
                self.line("OK");
            }
            "AT+QPINC=\"SC\"" if self.dialect == Dialect::Quectel => {
                let l = format!("+QPINC: \"SC\",{},10", self.pin_attempts_left);
                self.line(&l);
                self.line("OK");
            }
            "AT+SPIC" if self.dialect == Dialect::Simcom => {
                let l = format!("+SPIC: {},10,3,10", self.pin_attempts_left);
                self.line(&l);
                self.line("OK");
            }
            "ATE0" => {
                self.echo = false;
                self.line("OK");
            }
            "ATE1" => {
                self.echo = !self.cfg.quirks.no_echo;
                self.line("OK");
            }
            "AT+CGSN" => {
                self.line(SIM_IMEI);
                self.line("OK");
            }
            "AT+CSQ" => {
                let l = if self.registered {
                    "+CSQ: 21,99"
                } else {
                    "+CSQ: 99,99"
                };
                self.line(l);
                self.line("OK");
            }
            "AT+QCSQ" if vendor(Dialect::Quectel) => {
                let l = if self.registered {
                    "+QCSQ: \"LTE\",-52,-81,195,-10"
                } else {
                    "+QCSQ: \"NOSERVICE\""
                };
                self.line(l);
                self.line("OK");
            }
            "AT+CPSI?" if vendor(Dialect::Simcom) => {
                let l = if self.registered {
                    "+CPSI: LTE,Online,262-01,0x1A2B,29613285,332,EUTRAN-BAND3,1300,5,5,-83,-810,-536,23"
                } else {
                    "+CPSI: NO SERVICE,Online"
                };
                self.line(l);
                self.line("OK");
            }
            "AT+COPS?" => {
                if self.registered && self.sim_ready() {
                    self.line("+COPS: 0,0,\"Switchboard Sim\",7");
                } else {
                    self.line("+COPS: 0");
                }
                self.line("OK");
            }
            "AT+CLCC" => {
                let rows: Vec<String> = self
                    .calls
                    .iter()
                    .map(|c| {
                        format!(
                            "+CLCC: {},{},{},0,0,\"{}\",{}",
                            c.idx,
                            c.dir,
                            c.state.clcc(),
                            c.number,
                            c.toa
                        )
                    })
                    .collect();
                for r in rows {
                    self.line(&r);
                }
                self.line("OK");
            }
            "AT+CHUP" | "ATH" | "ATH0" => {
                let all: Vec<u8> = self.calls.iter().map(|c| c.idx).collect();
                for idx in all {
                    self.release(now, idx, net, false);
                }
                self.line("OK");
            }
            "ATA" => {
                match self
                    .calls
                    .iter()
                    .position(|c| c.state == CallState::Incoming)
                {
                    Some(i) => {
                        let number = format!("+{}", self.calls[i].number);
                        self.connect(now, i);
                        self.line("OK");
                        net.answered(now, &number);
                    }
                    None => self.line("NO CARRIER"),
                }
            }
            _ if upper.starts_with("AT+CHLD=") => self.chld(now, &upper["AT+CHLD=".len()..], net),
            _ if upper.starts_with("AT+VTS=") => {
                let d = cmd["AT+VTS=".len()..].trim().trim_matches('"').to_string();
                if !self.in_call() || d.is_empty() {
                    self.cme(3);
                } else {
                    self.dtmf_sent.push_str(&d);
                    self.line("OK");
                }
            }
            _ if upper.starts_with("AT+CCFC=") => {
                if !self.sim_blocks() {
                    self.ccfc(&cmd["AT+CCFC=".len()..]);
                }
            }
            _ if upper.starts_with("ATD") && upper.ends_with(';') => {
                if self.sim_blocks() {
                    return;
                }
                let number = cmd[3..cmd.len() - 1].to_string();
                let busy = self
                    .calls
                    .iter()
                    .any(|c| !matches!(c.state, CallState::Held));
                if busy || number.is_empty() || !self.registered {
                    self.cme(3);
                    return;
                }
                let far = net.place_call(now, &number);
                let idx = self.free_index();
                self.calls.push(SimCall {
                    idx,
                    dir: 0,
                    toa: if number.starts_with('+') { 145 } else { 129 },
                    number,
                    state: CallState::Dialing,
                    since: now,
                    far: Some(far),
                    answered_at: None,
                    next_ring: now,
                });
                self.line("OK");
                self.ccinfo_urc(idx);
            }
            _ if upper.starts_with("AT+CMGS=") => {
                if !self.pdu_mode {
                    // text mode is not simulated
                    self.cms(302);
                    return;
                }
                match upper["AT+CMGS=".len()..].trim().parse::<usize>() {
                    Ok(n) if (1..=164).contains(&n) => {
                        self.awaiting_pdu = Some(n);
                        self.send("\r\n> ");
                    }
                    _ => self.cms(304),
                }
            }
            _ if upper.starts_with("AT+CMGR=") => {
                let idx = upper["AT+CMGR=".len()..].trim().parse::<u32>().ok();
                match idx.and_then(|i| self.store.iter_mut().find(|m| m.index == i)) {
                    Some(m) => {
                        let stat = u8::from(m.read);
                        m.read = true;
                        let (pdu, len) = (m.pdu.clone(), m.pdu.len() / 2 - 1);
                        self.line(&format!("+CMGR: {stat},,{len}"));
                        self.line(&pdu);
                        self.line("OK");
                    }
                    None => self.cms(321),
                }
            }
            _ if upper.starts_with("AT+CMGL") => {
                let list: Vec<(u32, u8, String)> = self
                    .store
                    .iter()
                    .map(|m| (m.index, u8::from(m.read), m.pdu.clone()))
                    .collect();
                for (idx, stat, pdu) in list {
                    self.line(&format!("+CMGL: {idx},{stat},,{}", pdu.len() / 2 - 1));
                    self.line(&pdu);
                }
                for m in &mut self.store {
                    m.read = true;
                }
                self.line("OK");
            }
            _ if upper.starts_with("AT+CMGD=") => {
                match upper["AT+CMGD=".len()..]
                    .split(',')
                    .next()
                    .map(|i| i.trim().parse::<u32>())
                {
                    Some(Ok(i)) => {
                        self.store.retain(|m| m.index != i);
                        self.line("OK");
                    }
                    _ => self.cms(321),
                }
            }
            _ if self.extras_command(&upper) => {}
            _ => self.line("ERROR"),
        }
    }

    pub(super) fn pin_entry(&mut self, cmd: &str) {
        self.pin_entries += 1;
        let given = cmd["AT+CPIN=".len()..]
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .to_string();
        match self.cfg.sim.clone() {
            // a PIN when none is asked for counts against the SIM on real modems; the
            // simulation just refuses it
            SimLock::Ready => self.cme(3),
            SimLock::Absent => self.cme(10),
            SimLock::Puk => self.cme(16),
            SimLock::Pin(pin) => {
                if given == pin {
                    self.cfg.sim = SimLock::Ready;
                    self.line("OK");
                    self.line("+CPIN: READY");
                    if self.dialect != Dialect::Generic {
                        let l = if self.dialect == Dialect::Quectel {
                            "+QIND: SMS DONE"
                        } else {
                            "SMS DONE"
                        };
                        self.line(l);
                    }
                } else {
                    self.pin_attempts_left = self.pin_attempts_left.saturating_sub(1);
                    if self.pin_attempts_left == 0 {
                        self.cfg.sim = SimLock::Puk;
                    }
                    self.cme(16);
                }
            }
        }
    }

    pub(super) fn ccfc(&mut self, args: &str) {
        let f: Vec<String> = args
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .collect();
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<u8>().ok());
        let (Some(reason), Some(mode)) = (num(0), num(1)) else {
            self.cme(50);
            return;
        };
        let reasons: Vec<usize> = match reason {
            0..=3 => vec![usize::from(reason)],
            4 => vec![0, 1, 2, 3],
            5 => vec![1, 2, 3],
            _ => {
                self.cme(50);
                return;
            }
        };
        match mode {
            2 => {
                if reason > 3 {
                    self.cme(50);
                    return;
                }
                match self.forwarding[usize::from(reason)].clone() {
                    Some(n) => {
                        let (digits, toa) = match n.strip_prefix('+') {
                            Some(d) => (d.to_string(), 145),
                            None => (n.clone(), 129),
                        };
                        self.line(&format!("+CCFC: 1,1,\"{digits}\",{toa}"));
                    }
                    None => self.line("+CCFC: 0,7"),
                }
                self.line("OK");
            }
            1 | 3 => {
                let Some(number) = f.get(2).filter(|n| !n.is_empty()) else {
                    // enable without a number: only if one is registered
                    if reasons.iter().all(|r| self.forwarding[*r].is_some()) {
                        self.line("OK");
                    } else {
                        self.cme(3);
                    }
                    return;
                };
                let n = if num(3) == Some(145) && !number.starts_with('+') {
                    format!("+{number}")
                } else {
                    number.clone()
                };
                for r in reasons {
                    self.forwarding[r] = Some(n.clone());
                }
                self.line("OK");
            }
            0 | 4 => {
                for r in reasons {
                    self.forwarding[r] = None;
                }
                self.line("OK");
            }
            _ => self.cme(50),
        }
    }

    /// The PDU after `AT+CMGS=<len>`: checks the length, decodes it and answers.
    pub(super) fn submit(&mut self, len: usize, hex: &str) {
        let smsc_octets = hex
            .get(..2)
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .map(|n| n + 1);
        let tpdu_ok = smsc_octets.is_some_and(|s| hex.len() / 2 == s + len);
        match sms::decode_submit(hex) {
            Ok(sub) if tpdu_ok => {
                self.next_mr = self.next_mr.wrapping_add(1);
                let mr = self.next_mr;
                self.line(&format!("+CMGS: {mr}"));
                self.line("OK");
                self.collect_submitted(sub);
            }
            Ok(_) => {
                tracing::warn!("simulated modem: AT+CMGS length {len} does not match the PDU");
                self.cms(304);
            }
            Err(e) => {
                tracing::warn!("simulated modem: bad SMS PDU: {e}");
                self.cms(304);
            }
        }
    }

    pub(super) fn collect_submitted(&mut self, sub: Submit) {
        let Some(c) = sub.concat else {
            self.sms_sent.push(SentSms {
                to: sub.to,
                text: sub.text,
                parts: 1,
            });
            return;
        };
        let (to, reference, total) = (sub.to.clone(), c.reference, c.total);
        self.submitted.push(sub);
        let same = |s: &Submit| {
            s.to == to
                && s.concat
                    .is_some_and(|x| x.reference == reference && x.total == total)
        };
        let parts: Vec<(u8, String)> = self
            .submitted
            .iter()
            .filter(|s| same(s))
            .filter_map(|s| s.concat.map(|x| (x.seq, s.text.clone())))
            .collect();
        if let Some(text) = sms::reassemble(&parts, total) {
            self.submitted.retain(|s| !same(s));
            self.sms_sent.push(SentSms {
                to,
                text,
                parts: usize::from(total),
            });
        }
    }

    /// `AT+CSMS`, `AT+CNMA` and the Quectel `AT+QCFG="ims"` / `AT+QURCCFG`
    /// commands; false when `upper` is none of them.
    pub(super) fn extras_command(&mut self, upper: &str) -> bool {
        let quectel = self.dialect == Dialect::Quectel;
        match upper {
            "AT+CSMS?" => {
                let l = format!("+CSMS: {},1,1,1", self.extras.csms_service);
                self.line(&l);
                self.line("OK");
            }
            "AT+CSMS=0" | "AT+CSMS=1" => {
                self.extras.csms_service = u8::from(upper.ends_with('1'));
                self.line("+CSMS: 1,1,1");
                self.line("OK");
            }
            "AT+CNMA" => {
                if self.extras.csms_service == 1 && self.extras.unacked_cmt > 0 {
                    self.extras.unacked_cmt -= 1;
                    self.extras.cnma_acks += 1;
                    self.line("OK");
                } else {
                    // no acknowledgement expected
                    self.cms(340);
                }
            }
            "AT+QCFG=\"IMS\"" if quectel => {
                // VoLTE is up when on (or left to a carrier profile that allows it)
                let on = match self.extras.ims_cfg {
                    1 => true,
                    0 => !self.extras.volte_locked,
                    _ => false,
                };
                let state = u8::from(on && self.registered);
                let l = format!("+QCFG: \"ims\",{},{state}", self.extras.ims_cfg);
                self.line(&l);
                self.line("OK");
            }
            "AT+QCFG=\"IMS\",0" | "AT+QCFG=\"IMS\",1" | "AT+QCFG=\"IMS\",2" if quectel => {
                let v = upper.bytes().last().map_or(0, |b| b - b'0');
                if v == 1 && self.extras.volte_locked {
                    self.line("ERROR");
                } else {
                    self.extras.ims_cfg = v;
                    self.line("OK");
                }
            }
            "AT+QURCCFG=\"URCPORT\"" if quectel => {
                let port = self
                    .extras
                    .urc_port
                    .clone()
                    .unwrap_or_else(|| "usbat".into());
                self.line(&format!("+QURCCFG: \"urcport\",\"{port}\""));
                self.line("OK");
            }
            _ if quectel && upper.starts_with("AT+QURCCFG=\"URCPORT\",") => {
                let port = upper["AT+QURCCFG=\"URCPORT\",".len()..]
                    .trim_matches('"')
                    .to_ascii_lowercase();
                if ["usbat", "usbmodem", "uart1", "all"].contains(&port.as_str()) {
                    self.extras.urc_port = Some(port);
                    self.line("OK");
                } else {
                    self.line("ERROR");
                }
            }
            _ => return false,
        }
        true
    }
}
