//! SIMCom serial PCM audio of the simulated modem: a second pseudo-terminal, or (for
//! virtual time, with [`SimModem::in_memory`]) a second in-memory line.

use super::*;
use crate::hw::sim::memlink::MemLink;

impl SimModem {
    /// Gives the modem a serial PCM port (SIMCom) that carries the call's audio between
    /// `AT+CPCMREG=1` and `AT+CPCMREG=0` (see [`SimModem::pcm_send_downlink`] and
    /// [`SimModem::pcm_read_uplink`]): a second pseudo-terminal, or, for a modem made
    /// [`SimModem::in_memory`] first, a second in-memory line
    /// ([`SimModem::pcm_mem_link`]).
    pub fn with_pcm(mut self) -> Result<Self> {
        let end = if self.mem.is_some() {
            PcmEnd::Mem(MemLink::new())
        } else {
            let (master, slave, path) = new_pty()?;
            PcmEnd::Pty {
                master,
                _slave: slave,
                path,
            }
        };
        self.pcm = Some(PcmPty {
            end,
            link: None,
            written: 0,
            read: 0,
            on: false,
            next: None,
            reasm: crate::hw::serial_pcm::Reassembler::new(),
            frames_down: 0,
            frames_up: 0,
        });
        Ok(self)
    }

    /// Keeps a symlink at `link` pointing to the PCM port's pseudo-terminal (as udev
    /// keeps `/dev/modem-pcm`). No-op without a PCM port.
    pub fn keep_pcm_symlink(&mut self, link: &std::path::Path) -> Result<()> {
        if let Some(p) = self.pcm.as_mut()
            && let PcmEnd::Pty { path, .. } = &p.end
        {
            let _ = std::fs::remove_file(link);
            std::os::unix::fs::symlink(path, link)
                .with_context(|| format!("cannot create the symlink {}", link.display()))?;
            p.link = Some(link.to_path_buf());
        }
        Ok(())
    }

    /// The PCM port's device name (the kept symlink, else the pty), if it has one on a
    /// pseudo-terminal.
    pub fn pcm_device(&self) -> Option<String> {
        let p = self.pcm.as_ref()?;
        let PcmEnd::Pty { path, .. } = &p.end else {
            return None;
        };
        Some(match &p.link {
            Some(l) => l.display().to_string(),
            None => path.clone(),
        })
    }

    /// The box's end of the PCM port's in-memory line, if it has one.
    pub fn pcm_mem_link(&self) -> Option<MemLink> {
        match &self.pcm.as_ref()?.end {
            PcmEnd::Mem(l) => Some(l.clone()),
            PcmEnd::Pty { .. } => None,
        }
    }

    /// Bytes written to and read from the PCM port's master side (for virtual time:
    /// the board waits until the other end has caught up).
    pub fn pcm_counts(&self) -> Option<(u64, u64)> {
        self.pcm.as_ref().map(|p| (p.written, p.read))
    }

    /// Frames streamed (downlink to the box, uplink from the box) so far.
    pub fn pcm_frames(&self) -> Option<(u64, u64)> {
        self.pcm.as_ref().map(|p| (p.frames_down, p.frames_up))
    }

    /// Whether call audio streams on the PCM port now: `AT+CPCMREG=1` was sent for the
    /// connected call.
    pub fn pcm_streaming(&self) -> bool {
        self.pcm.as_ref().is_some_and(|p| p.on) && self.in_call()
    }

    /// When the PCM port's clock sends its next frame.
    pub fn pcm_timeout(&self) -> Option<Instant> {
        if self.pcm_streaming() {
            self.pcm.as_ref().and_then(|p| p.next)
        } else {
            None
        }
    }

    /// Reads the uplink the box wrote (whole frames go to `hear` while streaming; bytes
    /// while not streaming are discarded, as the modem ignores them).
    pub fn pcm_read_uplink(&mut self, hear: &mut dyn FnMut(&crate::media::Frame)) {
        let streaming = self.pcm_streaming();
        let Some(p) = self.pcm.as_mut() else {
            return;
        };
        let mut buf = [0u8; 2048];
        let mut mem_bytes = Vec::new();
        if let PcmEnd::Mem(l) = &p.end {
            l.modem_read(&mut mem_bytes);
        }
        let mut mem: &[u8] = &mem_bytes;
        loop {
            let got = match &p.end {
                PcmEnd::Pty { master, .. } => nix::unistd::read(master, &mut buf),
                PcmEnd::Mem(_) => {
                    let n = mem.len().min(buf.len());
                    buf[..n].copy_from_slice(&mem[..n]);
                    mem = &mem[n..];
                    Ok(n)
                }
            };
            match got {
                Ok(0) => break,
                Ok(n) => {
                    p.read += n as u64;
                    if streaming {
                        let up = &mut p.frames_up;
                        p.reasm.push(&buf[..n], |f| {
                            *up += 1;
                            hear(f);
                        });
                    }
                }
                Err(_) => break, // EAGAIN: nothing more; EIO: nobody has the port open
            }
        }
    }

    /// Runs the PCM port's clock to `now`: every 20 ms of a streaming call, `speak`
    /// fills the far end's frame and it is written to the box. A call that ended
    /// switches streaming off: the driver must send `AT+CPCMREG=1` again for the next
    /// one (SIMCom needs the toggle per call).
    pub fn pcm_send_downlink(
        &mut self,
        now: Instant,
        speak: &mut dyn FnMut(&mut crate::media::Frame),
    ) {
        let in_call = self.in_call();
        let Some(p) = self.pcm.as_mut() else {
            return;
        };
        if p.on && !in_call {
            (p.on, p.next) = (false, None);
            p.reasm.reset();
        }
        if !p.on {
            return;
        }
        let tick = Duration::from_millis(20);
        let mut bytes = [0u8; crate::hw::serial_pcm::FRAME_BYTES];
        while let Some(t) = p.next.filter(|t| now >= *t) {
            let mut f = crate::media::SILENCE;
            speak(&mut f);
            crate::hw::serial_pcm::encode_frame(&f, &mut bytes);
            let master = match &p.end {
                PcmEnd::Pty { master, .. } => master,
                PcmEnd::Mem(l) => {
                    l.modem_write(&bytes);
                    p.written += bytes.len() as u64;
                    p.frames_down += 1;
                    p.next = Some(t + tick);
                    continue;
                }
            };
            let mut b: &[u8] = &bytes;
            let mut stalls = 0u32;
            while !b.is_empty() {
                match nix::unistd::write(master, b) {
                    Ok(n) => {
                        p.written += n as u64;
                        b = &b[n..];
                    }
                    Err(nix::errno::Errno::EAGAIN) if stalls < 2000 => {
                        // the box is not reading (its port closed): wait a little, then drop
                        stalls += 1;
                        std::thread::sleep(Duration::from_micros(500));
                    }
                    Err(nix::errno::Errno::EAGAIN) => break,
                    Err(e) => {
                        tracing::error!("simulated modem: PCM write failed: {e}");
                        break;
                    }
                }
            }
            p.frames_down += 1;
            p.next = Some(t + tick);
        }
    }
}
