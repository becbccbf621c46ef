//! The driver against the simulated modem over a real pseudo-terminal.

use super::*;
use crate::hw::modem_link::ModemLink;
use crate::hw::sim::modem_rig::pty_run_until;
use crate::modem::{Modem, ModemEvent, ModemTiming};

/// Runs driver and simulator against each other over the pty until `done` holds.
fn run(
    sim: &mut SimModem,
    link: &mut ModemLink,
    m: &mut Modem,
    events: &mut Vec<ModemEvent>,
    done: impl Fn(&[ModemEvent], &SimModem) -> bool,
) {
    pty_run_until(sim, link, m, events, Duration::from_secs(10), done).unwrap();
}

#[test]
fn driver_sends_and_receives_sms_through_the_pty() {
    let mut sim = SimModem::open().unwrap();
    let mut link = ModemLink::open_serial(sim.path(), 115_200).unwrap();
    let mut m = Modem::new(Instant::now(), ModemTiming::default());
    let mut ev = Vec::new();
    run(&mut sim, &mut link, &mut m, &mut ev, |e, _| {
        e.contains(&ModemEvent::Ready)
    });
    assert!(sim.commands.iter().any(|c| c == "AT+CMGF=0"));
    let text = format!("Alarm 🚨 {}", "Ünïcödé ".repeat(12));
    let id = m.send_sms(Instant::now(), "+491701234567", &text);
    run(&mut sim, &mut link, &mut m, &mut ev, |e, _| {
        e.iter().any(|e| matches!(e, ModemEvent::SmsSent { .. }))
    });
    assert!(ev.iter().any(
        |e| matches!(e, ModemEvent::SmsSent { id: i, result: Ok(r) } if *i == id && r.len() == 2)
    ));
    assert_eq!(
        sim.sms_sent,
        vec![SentSms {
            to: "+491701234567".into(),
            text,
            parts: 2
        }]
    );
    let at = SmsTimestamp {
        year: 2025,
        month: 6,
        day: 7,
        hour: 8,
        minute: 9,
        second: 10,
        tz_quarters: 8,
    };
    sim.deliver_sms("+15550001111", "ack {ok}", at).unwrap();
    run(&mut sim, &mut link, &mut m, &mut ev, |e, _| {
        e.iter()
            .any(|e| matches!(e, ModemEvent::SmsReceived { .. }))
    });
    let indexes = ev
        .iter()
        .find_map(|e| match e {
            ModemEvent::SmsReceived { indexes, .. } => Some(indexes.clone()),
            _ => None,
        })
        .unwrap();
    assert!(ev.contains(&ModemEvent::SmsReceived {
        from: "+15550001111".into(),
        text: "ack {ok}".into(),
        at,
        indexes: indexes.clone(),
    }));
    // still on the SIM until the driver says it is stored
    assert_eq!(sim.stored_sms(), 1);
    m.delete_sms(std::time::Instant::now(), &indexes);
    run(&mut sim, &mut link, &mut m, &mut ev, |_, s| {
        s.stored_sms() == 0
    });
}
