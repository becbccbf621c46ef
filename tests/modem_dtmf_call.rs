//! Modem-reported DTMF in a real call flow: the exchange, its modem driver and the
//! simulated Quectel modem over the in-memory line, through the engine's modem I/O
//! step (`ModemLink::pump`). The
//! responder's key reaches the box only as a modem URC (`+QTONEDET`, the call audio
//! carries no tone) and still accepts the call; a key that arrives both as a URC and
//! as a tone in the audio counts once.
//!
//! Everything runs on one virtual clock that advances 20 ms per audio frame (the
//! simulated modem's far end answers in virtual time too), so the de-duplication
//! window is measured in frames, never in how fast this machine is.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::call::Noted;
use switchboard::config::{BoardProfile, Config};
use switchboard::exchange::{
    CallEvent, DigitOrigin, Exchange, Fact, Happening, Output, PortIdx, Side,
};
use switchboard::hw::modem_link::ModemLink;
use switchboard::hw::sim::modem::{FarEnd, Network, SimModem, SimModemConfig};
use switchboard::line::LineSignal;
use switchboard::media::{Frame, PromptLibrary, SILENCE};
use switchboard::modem::Dialect;

struct Net;
impl Network for Net {
    fn place_call(&mut self, _: Instant, _: &str) -> FarEnd {
        FarEnd::Rings {
            answer_after: Some(Duration::from_millis(800)),
        }
    }
    fn modem_hung_up(&mut self, _: Instant, _: &str) {}
    fn answered(&mut self, _: Instant, _: &str) {}
}

struct Rig {
    ex: Exchange,
    sim: SimModem,
    link: ModemLink,
    start: Instant,
    /// Virtual time of the exchange.
    vt: Instant,
    input: Vec<VecDeque<i16>>,
    /// Noted facts and call events, in order.
    notes: Vec<Fact>,
    calls: Vec<CallEvent>,
    fxo: PortIdx,
    modem: PortIdx,
}

impl Rig {
    fn new(dtmf_source: &str) -> Self {
        let sim = SimModem::open_with(SimModemConfig {
            dialect: Some(Dialect::Quectel),
            ..SimModemConfig::default()
        })
        .unwrap()
        .in_memory();
        let link = ModemLink::memory(sim.mem_link().unwrap());
        let mut board = BoardProfile::sim();
        if let Some(m) = board.modem.as_mut() {
            m.dialect = "auto".into();
            m.dtmf_source = dtmf_source.into();
        }
        let cfg = Arc::new(Config::demo());
        let mut prompts = PromptLibrary::default();
        for (key, _voice, text) in switchboard::media::prompt_texts(&cfg) {
            // 300 ms of silence stands in for speech
            prompts.insert(key, text, vec![0; 2400]);
        }
        let start = Instant::now();
        let wall = "2026-03-02T09:00:00Z".parse().unwrap();
        let ex = Exchange::new(&board, cfg, Arc::new(prompts), start, wall, 1);
        let fxo = ex.port_index("fxo1").unwrap();
        let modem = ex.modem_port().unwrap();
        let ports = ex.port_count();
        Rig {
            ex,
            sim,
            link,
            start,
            vt: start,
            input: vec![VecDeque::new(); ports],
            notes: Vec::new(),
            calls: Vec::new(),
            fxo,
            modem,
        }
    }

    /// Moves modem bytes both ways until both sides are quiet (no audio tick).
    fn io(&mut self) {
        loop {
            let mut moved = self.link.pump(self.vt, &mut self.ex).unwrap();
            let before = self.sim.written;
            self.sim.step(self.vt, &mut Net);
            moved |= self.sim.written != before;
            if !moved {
                break;
            }
        }
        while let Some(o) = self.ex.poll_output() {
            match o {
                Output::Note(n) => self.notes.push(n.what),
                Output::Call(ev) => self.calls.push(ev),
                _ => {}
            }
        }
    }

    /// One loop turn: modem I/O, then one 20 ms audio frame.
    fn turn(&mut self) {
        self.io();
        self.vt += Duration::from_millis(20);
        if self.ex.poll_timeout().is_some_and(|t| t <= self.vt) {
            self.ex.handle_timeout(self.vt);
        }
        for p in 0..self.ex.port_count() {
            let mut f: Frame = SILENCE;
            for s in f.iter_mut() {
                *s = self.input[p].pop_front().unwrap_or(0);
            }
            self.ex.on_audio(self.vt, p, &f);
            let mut out = SILENCE;
            self.ex.fill_audio(self.vt, p, &mut out);
        }
        self.io();
    }

    /// Turns until `done` holds (60 s of virtual time at most).
    fn until(&mut self, what: &str, done: impl Fn(&Rig) -> bool) {
        let limit = self.vt + Duration::from_secs(60);
        while !done(self) {
            assert!(
                self.vt < limit,
                "waiting for {what} since {:?}: {:#?}\nthe modem saw {:?}",
                self.vt - self.start,
                self.notes,
                self.sim.commands
            );
            self.turn();
        }
    }

    /// Noted facts that `f` picks.
    fn count(&self, f: impl Fn(&Fact) -> bool) -> usize {
        self.notes.iter().filter(|n| f(n)).count()
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

    fn phase(&self) -> Option<&'static str> {
        self.ex.status().calls.first().map(|c| c.phase)
    }

    fn tone(&mut self, port: PortIdx, digits: &str) {
        let s = switchboard::dsp::dtmf::generate(digits, 80, 80, -8.0).unwrap();
        self.input[port].extend(s);
    }

    /// A caller chooses option 1 and alice answers and hears the announcement.
    fn reach_await_accept(&mut self) {
        self.until("modem ready", |r| {
            r.count(|n| matches!(n, Fact::Exchange(Happening::ModemReady))) == 1
        });
        let (vt, fxo) = (self.vt, self.fxo);
        self.ex.on_line_signal(vt, fxo, LineSignal::RingStart);
        self.ex
            .on_line_signal(vt, fxo, LineSignal::CallerId("+15550001111".into()));
        self.until("the menu", |r| r.phase() == Some("menu"));
        self.tone(fxo, "1");
        self.until("alice's announcement", |r| {
            r.phase() == Some("awaiting accept")
        });
        assert_eq!(
            self.calls
                .iter()
                .filter(|e| matches!(e, CallEvent::Dialling { user, .. } if user == "alice"))
                .count(),
            1
        );
    }
}

#[test]
fn a_key_only_the_modem_reports_accepts_the_call() {
    let mut r = Rig::new("both");
    r.reach_await_accept();
    // alice presses 1: the simulated Quectel reports +QTONEDET: 49; the call audio
    // stays silent (as when a codec or the network eats the in-band tone)
    assert!(r.sim.far_end_dtmf("1"));
    r.until("the bridge", |r| r.phase() == Some("bridged"));
    assert_eq!(
        r.pressed(Some(('1', DigitOrigin::Modem))),
        1,
        "{:#?}",
        r.notes
    );
    assert_eq!(r.accepted("alice", '1'), 1);
    assert_eq!(r.pressed(None), 1);
}

#[test]
fn a_key_reported_by_the_modem_and_heard_in_the_audio_counts_once() {
    let mut r = Rig::new("both");
    r.reach_await_accept();
    let modem = r.modem;
    // the same key press in both: the URC, and the tone in the call audio
    assert!(r.sim.far_end_dtmf("1"));
    r.until("the modem's report", |r| {
        r.pressed(Some(('1', DigitOrigin::Modem))) == 1
    });
    r.tone(modem, "1");
    r.until("the tone heard", |r| {
        r.count(|n| {
            matches!(
                n,
                Fact::Exchange(Happening::KeyCountedOnce {
                    origin: DigitOrigin::Audio,
                    ..
                })
            )
        }) == 1
    });
    assert_eq!(r.pressed(None), 1, "{:#?}", r.notes);
    assert_eq!(r.accepted("alice", '1'), 1);
    assert_eq!(r.phase(), Some("bridged"));
    // a later key press is a new one
    let before = r.vt;
    r.until("a second later", |r| {
        r.vt >= before + Duration::from_secs(1)
    });
    r.tone(modem, "1");
    r.until("the second key", |r| {
        r.pressed(Some(('1', DigitOrigin::Audio))) == 1
    });
    assert_eq!(r.pressed(None), 2, "{:#?}", r.notes);
}
