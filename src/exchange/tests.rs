//! Exchange-level tests in virtual time: the real exchange, call state machine, modem
//! driver and DTMF detector, with the modem's side of the AT dialogue played by a
//! small scripted peer (what a Quectel modem answers) and the caller's keys fed as real
//! DTMF audio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::call::{AttemptOutcome, Noted};
const FRAME_SAMPLES: usize = SILENCE.len();

// Test code only (its `mod` is `#[cfg(test)]` too); the attribute below also tells
// tests/sans_io.rs where the sans-IO core ends and the test rig, which reads the clock
// once for a starting instant, begins.
#[cfg(test)]
/// A modem's answers (Quectel or a plain one): `OK` to everything, identity, registration, and
/// `+CLCC` with the one call's state.
struct Peer {
    /// `+CLCC` state of the outbound call (`None`: no call).
    call: Option<u8>,
    sent: Vec<String>,
    /// Manufacturer and model it reports.
    ident: (&'static str, &'static str),
    /// The SIM asks for its PUK (after a reboot, say).
    puk: bool,
}

impl Peer {
    fn reply(&mut self, cmd: &str) -> String {
        self.sent.push(cmd.to_string());
        match cmd {
            "AT+CGMI" => format!("\r\n{}\r\n\r\nOK\r\n", self.ident.0),
            "AT+CGMM" => format!("\r\n{}\r\n\r\nOK\r\n", self.ident.1),
            "AT+CPIN?" if self.puk => "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n".into(),
            "AT+CPIN?" => "\r\n+CPIN: READY\r\n\r\nOK\r\n".into(),
            "AT+CREG?" => "\r\n+CREG: 2,1,\"1A2B\",\"01C3D4E5\",7\r\n\r\nOK\r\n".into(),
            "AT+CSQ" => "\r\n+CSQ: 20,99\r\n\r\nOK\r\n".into(),
            "AT+CLCC" => match self.call {
                Some(stat) => {
                    format!("\r\n+CLCC: 1,0,{stat},0,0,\"+491701111111\",145\r\n\r\nOK\r\n")
                }
                None => "\r\nOK\r\n".into(),
            },
            c if c.starts_with("ATD") => {
                self.call = Some(3);
                "\r\nOK\r\n".into()
            }
            _ => "\r\nOK\r\n".into(),
        }
    }
}

struct Rig {
    ex: Exchange,
    peer: Peer,
    now: Instant,
    /// Noted facts and call events, in order.
    notes: Vec<Fact>,
    calls: Vec<CallEvent>,
    fxo: PortIdx,
    modem: PortIdx,
}

impl Rig {
    fn new(dtmf_source: &str) -> Self {
        Self::with_dialect(dtmf_source, "quectel")
    }

    fn with_dialect(dtmf_source: &str, dialect: &str) -> Self {
        let mut board = BoardProfile::sim();
        if let Some(m) = board.modem.as_mut() {
            m.dialect = dialect.into();
            m.dtmf_source = dtmf_source.into();
        }
        let cfg = Arc::new(Config::demo());
        let mut prompts = PromptLibrary::default();
        for (key, _voice, text) in crate::media::prompt_texts(&cfg) {
            // 300 ms of silence stands in for speech
            prompts.insert(key, text, vec![0; 2400]);
        }
        let now = Instant::now();
        let ex = Exchange::new(
            &board,
            cfg,
            Arc::new(prompts),
            now,
            Timestamp::UNIX_EPOCH,
            1,
        );
        let fxo = ex.port_index("fxo1").unwrap();
        let modem = ex.modem_port().unwrap();
        let mut rig = Rig {
            ex,
            peer: Peer {
                call: None,
                sent: Vec::new(),
                ident: if dialect == "quectel" {
                    ("Quectel", "EC25")
                } else {
                    ("Acme", "Basic GSM")
                },
                puk: false,
            },
            now,
            notes: Vec::new(),
            calls: Vec::new(),
            fxo,
            modem,
        };
        rig.settle();
        assert!(rig.ex.status().modem.unwrap().ready, "{:?}", rig.peer.sent);
        rig
    }

    /// Answers everything the driver writes and collects notes.
    fn settle(&mut self) {
        for _ in 0..200 {
            let Some(tx) = self.ex.poll_modem_transmit() else {
                break;
            };
            let cmd = String::from_utf8_lossy(&tx).trim().to_string();
            let reply = self.peer.reply(&cmd);
            self.ex.on_modem_bytes(self.now, reply.as_bytes());
        }
        while let Some(o) = self.ex.poll_output() {
            match o {
                Output::Note(n) => self.notes.push(n.what),
                Output::Call(ev) => self.calls.push(ev),
                _ => {}
            }
        }
    }

    /// One 20 ms tick: audio in on every port (`input` on `port`), audio out, timers.
    fn tick(&mut self, port: PortIdx, input: &Frame) {
        self.now += Duration::from_millis(20);
        if self.ex.poll_timeout().is_some_and(|t| t <= self.now) {
            self.ex.handle_timeout(self.now);
        }
        for p in 0..self.ex.port_count() {
            let f = if p == port { *input } else { SILENCE };
            self.ex.on_audio(self.now, p, &f);
            let mut out = SILENCE;
            self.ex.fill_audio(self.now, p, &mut out);
        }
        self.settle();
    }

    fn idle(&mut self, ms: u64) {
        for _ in 0..ms / 20 {
            self.tick(self.fxo, &SILENCE);
        }
    }

    fn press(&mut self, port: PortIdx, digits: &str) {
        let samples = crate::dsp::dtmf::generate(digits, 80, 80, -8.0).unwrap();
        for chunk in samples.chunks(FRAME_SAMPLES) {
            let mut f = SILENCE;
            f[..chunk.len()].copy_from_slice(chunk);
            self.tick(port, &f);
        }
    }

    fn urc(&mut self, line: &str) {
        self.ex
            .on_modem_bytes(self.now, format!("\r\n{line}\r\n").as_bytes());
        self.settle();
    }

    /// Noted facts that `f` picks.
    fn count(&self, f: impl Fn(&Fact) -> bool) -> usize {
        self.notes.iter().filter(|n| f(n)).count()
    }

    /// Dials of `user`.
    fn dialled(&self, user: &str) -> usize {
        self.calls
            .iter()
            .filter(|e| matches!(e, CallEvent::Dialling { user: u, .. } if u == user))
            .count()
    }

    /// Bridges (a responder accepted).
    fn bridged(&self) -> usize {
        self.calls
            .iter()
            .filter(|e| matches!(e, CallEvent::Accepted { .. }))
            .count()
    }

    /// Responder keys counted: `key` from `origin` (`None`: any key from anywhere).
    fn pressed(&self, key: Option<(char, DigitOrigin)>) -> usize {
        self.count(|n| match n {
            Fact::Exchange(Happening::KeyPressed {
                side: Side::Responder,
                key: k,
                origin,
            }) => key.is_none_or(|(want, from)| *k == want && *origin == Some(from)),
            _ => false,
        })
    }

    /// `user` accepted with `key`.
    fn accepted(&self, user: &str, key: char) -> usize {
        self.count(|n| {
            matches!(n, Fact::Call(Noted::Accepted { user: u, key: Some(k) }) if u == user && *k == key)
        })
    }

    /// `user`'s attempt ended with `outcome`.
    fn attempt(&self, user: &str, outcome: AttemptOutcome) -> usize {
        self.count(|n| {
            matches!(n, Fact::Call(Noted::AttemptEnded { user: u, outcome: o, .. }) if u == user && *o == outcome)
        })
    }

    /// A caller on fxo1 chooses option 1; alice answers and hears the announcement.
    fn reach_await_accept(&mut self) {
        let (now, fxo) = (self.now, self.fxo);
        self.ex.on_line_signal(now, fxo, LineSignal::RingStart);
        self.ex
            .on_line_signal(now, fxo, LineSignal::CallerId("+15550001111".into()));
        self.settle();
        self.idle(1000);
        self.press(fxo, "1");
        self.idle(1000);
        assert_eq!(self.dialled("alice"), 1, "{:#?}", self.calls);
        self.peer.call = Some(0);
        self.idle(1500);
        assert_eq!(
            self.count(|n| matches!(n, Fact::Exchange(Happening::ResponderPickedUp { .. }))),
            1,
            "{:#?}",
            self.notes
        );
        // the announcement (300 ms here) ends; keys are awaited
        self.idle(1000);
        assert_eq!(self.ex.status().calls[0].phase, "awaiting accept");
    }
}

#[test]
fn responder_key_reported_only_by_the_modem_accepts_the_call() {
    let mut rig = Rig::new("both");
    rig.reach_await_accept();
    // the audio carries nothing (a codec that ate the tones); the modem heard the key
    rig.urc("+QTONEDET: 49");
    assert_eq!(
        rig.pressed(Some(('1', DigitOrigin::Modem))),
        1,
        "{:#?}",
        rig.notes
    );
    assert_eq!(rig.accepted("alice", '1'), 1);
    assert_eq!(rig.bridged(), 1);
    assert_eq!(rig.ex.status().calls[0].phase, "bridged");
}

#[test]
fn a_key_heard_by_both_detectors_counts_once() {
    let mut rig = Rig::new("both");
    rig.reach_await_accept();
    // alice presses 1: the modem reports it at once, the audio detector a few tens of
    // milliseconds into the tone
    rig.urc("+QTONEDET: 49");
    let modem = rig.modem;
    rig.press(modem, "1");
    assert_eq!(rig.pressed(None), 1, "{:#?}", rig.notes);
    assert_eq!(rig.pressed(Some(('1', DigitOrigin::Modem))), 1);
    assert_eq!(
        rig.count(|n| matches!(
            n,
            Fact::Exchange(Happening::KeyCountedOnce {
                side: Side::Responder,
                key: '1',
                origin: DigitOrigin::Audio
            })
        )),
        1,
        "{:#?}",
        rig.notes
    );
    assert_eq!(rig.accepted("alice", '1'), 1);
    // the same key a second later is a new key press (from either detector)
    rig.idle(1000);
    rig.press(modem, "1");
    assert_eq!(
        rig.pressed(Some(('1', DigitOrigin::Audio))),
        1,
        "{:#?}",
        rig.notes
    );
    rig.idle(1000);
    rig.urc("+QTONEDET: 49");
    assert_eq!(
        rig.pressed(Some(('1', DigitOrigin::Modem))),
        2,
        "{:#?}",
        rig.notes
    );
    // a different key within the window is not swallowed
    rig.idle(1000);
    rig.urc("+QTONEDET: 53");
    rig.press(modem, "6");
    assert_eq!(
        rig.pressed(Some(('5', DigitOrigin::Modem))),
        1,
        "{:#?}",
        rig.notes
    );
    assert_eq!(
        rig.pressed(Some(('6', DigitOrigin::Audio))),
        1,
        "{:#?}",
        rig.notes
    );
}

#[test]
fn a_declining_key_from_both_detectors_declines_once() {
    let mut rig = Rig::new("both");
    rig.reach_await_accept();
    let modem = rig.modem;
    rig.press(modem, "2");
    // the modem's report comes after the audio already declined: the leg is gone
    rig.urc("+QTONEDET: 50");
    assert_eq!(
        rig.pressed(Some(('2', DigitOrigin::Audio))),
        1,
        "{:#?}",
        rig.notes
    );
    assert_eq!(rig.pressed(None), 1, "{:#?}", rig.notes);
    assert_eq!(rig.attempt("alice", AttemptOutcome::Declined), 1);
    assert_eq!(rig.dialled("bob"), 1, "{:#?}", rig.calls);
}

#[test]
fn the_profile_chooses_the_dtmf_source() {
    // audio only: the modem's report is ignored, the tone counts
    let mut rig = Rig::new("audio");
    rig.reach_await_accept();
    rig.urc("+QTONEDET: 49");
    assert_eq!(rig.pressed(None), 0, "{:#?}", rig.notes);
    let modem = rig.modem;
    rig.press(modem, "1");
    assert_eq!(
        rig.pressed(Some(('1', DigitOrigin::Audio))),
        1,
        "{:#?}",
        rig.notes
    );
    assert_eq!(rig.accepted("alice", '1'), 1);

    // modem only: the tone is ignored, the report counts
    let mut rig = Rig::new("modem");
    rig.reach_await_accept();
    let modem = rig.modem;
    rig.press(modem, "1");
    assert_eq!(rig.pressed(None), 0, "{:#?}", rig.notes);
    rig.urc("+QTONEDET: 49");
    assert_eq!(
        rig.pressed(Some(('1', DigitOrigin::Modem))),
        1,
        "{:#?}",
        rig.notes
    );
}

#[test]
fn modem_only_dtmf_falls_back_to_audio_on_a_modem_that_reports_none() {
    // auto-detected as generic: "modem" would leave responders unable to accept
    let mut rig = Rig::with_dialect("modem", "auto");
    assert_eq!(
        rig.count(|n| matches!(n, Fact::Exchange(Happening::ModemNoDtmf))),
        1,
        "{:#?}",
        rig.notes
    );
    rig.reach_await_accept();
    let modem = rig.modem;
    rig.press(modem, "1");
    assert_eq!(
        rig.pressed(Some(('1', DigitOrigin::Audio))),
        1,
        "{:#?}",
        rig.notes
    );
    assert_eq!(rig.accepted("alice", '1'), 1);
}

#[test]
fn a_modem_that_restarts_locked_is_not_waited_for() {
    let mut rig = Rig::new("both");
    let (now, fxo) = (rig.now, rig.fxo);
    rig.ex.on_line_signal(now, fxo, LineSignal::RingStart);
    rig.ex
        .on_line_signal(now, fxo, LineSignal::CallerId("+15550001111".into()));
    rig.settle();
    rig.idle(1000);
    rig.press(fxo, "1");
    rig.idle(1000);
    assert_eq!(rig.dialled("alice"), 1, "{:#?}", rig.calls);
    // the modem restarts by itself; the SIM now wants its PUK
    rig.peer.call = None;
    rig.peer.puk = true;
    rig.ex.on_modem_bytes(rig.now, b"\r\nRDY\r\n");
    rig.settle();
    assert_eq!(
        rig.count(|n| matches!(
            n,
            Fact::Exchange(Happening::ModemWait { user, up_to_s: 45 }) if user == "bob"
        )),
        1,
        "{:#?}",
        rig.notes
    );
    assert_eq!(
        rig.count(|n| matches!(
            n,
            Fact::Exchange(Happening::CannotDial {
                user,
                why: NoDial::ModemStopped,
                ..
            }) if user == "bob"
        )),
        1,
        "{:#?}",
        rig.notes
    );
    assert_eq!(rig.attempt("bob", AttemptOutcome::ModemUnavailable), 1);
    assert_eq!(rig.ex.status().calls[0].phase, "closing");
}
