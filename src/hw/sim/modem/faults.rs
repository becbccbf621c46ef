//! Fault injection on the simulated modem: reboot, hang, slow answers, garbage, and
//! a port that vanishes (USB unplugged).

use super::*;

impl SimModem {
    /// Keeps a symlink at `link` pointing to the current pseudo-terminal (as udev keeps
    /// `/dev/modem-at` pointing at whichever `ttyUSBn` the modem got); [`SimModem::path`]
    /// returns the link from now on.
    pub fn keep_symlink(&mut self, link: &std::path::Path) -> Result<()> {
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&self.path, link)
            .with_context(|| format!("cannot create the symlink {}", link.display()))?;
        self.faults.link = Some(link.to_path_buf());
        Ok(())
    }

    /// The device name the driver should open: the kept symlink, else the pty itself.
    pub fn device(&self) -> String {
        match &self.faults.link {
            Some(l) => l.display().to_string(),
            None => self.path.clone(),
        }
    }

    /// Reboots (power key, `AT+CFUN=1,1`, brown-out): the call drops, the modem is
    /// silent for `boot`, then sends `RDY`, `+CFUN: 1`, `+CPIN: READY`, `SMS DONE` with
    /// echo back on.
    pub fn reboot(&mut self, now: Instant, boot: Duration, net: &mut dyn Network) {
        self.drop_calls(now, net);
        self.rx.clear();
        self.awaiting_pdu = None;
        self.echo = !self.cfg.quirks.no_echo;
        self.pdu_mode = false;
        self.outq.clear();
        self.release = None;
        // settings made by init are lost with the reboot
        (self.clip, self.crc, self.ccwa) = (false, false, false);
        (self.creg_urc, self.cereg_urc) = (false, false);
        (self.ccinfo, self.tonedet, self.ddet) = (false, false, false);
        if let Some(p) = self.pcm.as_mut() {
            (p.on, p.next) = (false, None);
        }
        self.faults.hung = false;
        self.faults.boot_at = Some(now + boot);
        self.faults.reboots += 1;
    }

    /// Stops answering entirely (firmware crash) until power-cycled with
    /// [`SimModem::reboot`].
    pub fn hang(&mut self) {
        self.faults.hung = true;
    }

    /// Whether the modem is hung.
    pub fn is_hung(&self) -> bool {
        self.faults.hung
    }

    /// Reboots so far.
    pub fn reboots(&self) -> u32 {
        self.faults.reboots
    }

    /// Answers every command `delay` late (0 = normal).
    pub fn set_slow(&mut self, delay: Duration) {
        self.cfg.slow = delay;
    }

    /// Writes raw bytes to the driver: line noise, very long lines, partial lines.
    pub fn inject_garbage(&mut self, bytes: &[u8]) {
        if let Some(l) = &self.mem {
            l.modem_write(bytes);
            self.written += bytes.len() as u64;
            return;
        }
        let mut buf = bytes;
        while !buf.is_empty() {
            match nix::unistd::write(&self.master, buf) {
                Ok(n) => {
                    self.written += n as u64;
                    buf = &buf[n..];
                }
                Err(nix::errno::Errno::EAGAIN) => std::thread::yield_now(),
                Err(_) => return,
            }
        }
    }

    /// The USB device goes away for `gone` (as when a modem resets and re-enumerates):
    /// the pseudo-terminal is closed (the driver's reads fail), the symlink removed;
    /// afterwards a new pseudo-terminal (another `/dev/pts/N`) appears and the symlink
    /// points to it.
    pub fn unplug(&mut self, now: Instant, gone: Duration, net: &mut dyn Network) -> Result<()> {
        self.drop_calls(now, net);
        // The new device is created now (so it gets another number, as a re-enumerated
        // USB modem gets another ttyUSBn) but stays hidden until the replug; dropping
        // the old pair hangs up the driver's open port.
        if let Some(l) = &self.mem {
            l.cut();
        } else {
            let (master, slave, path) = new_pty()?;
            self.master = master;
            self._slave = slave;
            self.path = path;
        }
        self.rx.clear();
        if let Some(l) = &self.faults.link {
            let _ = std::fs::remove_file(l);
        }
        self.faults.replug_at = Some(now + gone);
        Ok(())
    }

    /// Every call drops (reboot, unplug); the far ends of outbound calls hear it.
    pub(super) fn drop_calls(&mut self, now: Instant, net: &mut dyn Network) {
        for c in std::mem::take(&mut self.calls) {
            if c.dir == 0 {
                net.modem_hung_up(now, &c.number);
            }
        }
    }

    /// Whether the port is currently gone.
    pub fn unplugged(&self) -> bool {
        self.faults.replug_at.is_some()
    }

    pub(super) fn replug(&mut self) -> Result<()> {
        self.written = 0;
        self.read = 0;
        if self.mem.is_some() {
            self.mem = Some(crate::hw::sim::memlink::MemLink::new());
        }
        self.rx.clear();
        self.echo = !self.cfg.quirks.no_echo;
        self.awaiting_pdu = None;
        self.faults.replug_at = None;
        if let Some(l) = self.faults.link.clone() {
            self.keep_symlink(&l)?;
        }
        Ok(())
    }

    /// When the fault machinery must run next (boot done, port back, slow answer due).
    pub fn faults_timeout(&self) -> Option<Instant> {
        [self.faults.boot_at, self.faults.replug_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Called by `step` after reading input: whether the input may be answered now.
    pub(super) fn faults_gate(&mut self, now: Instant) -> bool {
        if self.faults.replug_at.is_some_and(|t| now >= t) {
            if let Err(e) = self.replug() {
                tracing::error!("simulated modem: cannot re-create the port: {e:#}");
            }
        }
        if self.faults.replug_at.is_some() {
            self.rx.clear();
            return false;
        }
        if let Some(t) = self.faults.boot_at {
            if now < t {
                self.rx.clear();
                return false;
            }
            self.faults.boot_at = None;
            self.rx.clear();
            let cpin = match self.cfg.sim {
                SimLock::Ready => "+CPIN: READY",
                SimLock::Pin(_) => "+CPIN: SIM PIN",
                SimLock::Puk => "+CPIN: SIM PUK",
                SimLock::Absent => "+CPIN: NOT INSERTED",
            };
            for urc in ["RDY", "+CFUN: 1", cpin, "SMS DONE"] {
                self.line(urc);
            }
        }
        if self.faults.hung {
            self.rx.clear();
            return false;
        }
        true
    }
}

impl Drop for SimModem {
    fn drop(&mut self) {
        if let Some(l) = &self.faults.link {
            let _ = std::fs::remove_file(l);
        }
        if let Some(l) = self.pcm.as_ref().and_then(|p| p.link.as_ref()) {
            let _ = std::fs::remove_file(l);
        }
    }
}
