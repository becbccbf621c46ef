//! Every date and date-time field of schedules and support hours, read through
//! `Config::parse`, across the DST changes of Europe/Berlin (2026-03-29 and
//! 2026-10-25); assertions on who is on call and on the support-hours answer.

use jiff::Timestamp;

use super::{BoardProfile, Config, ConfigError};
use crate::routing::schedule::Reason;
use crate::routing::support::{HoursReason, OutOfHours};
use crate::routing::{support_next_change, support_status};

const USERS: &str = r#"
[[user]]
id = "a"
email = "a@example.com"
phone = ["+491701111111"]
[[user]]
id = "b"
phone = ["+491702222222"]
[[user]]
id = "c"
phone = ["+491703333333"]
"#;

fn parse(body: &str) -> Result<Config, ConfigError> {
    Config::parse("t.toml", &format!("{USERS}{body}"), &BoardProfile::sim())
}

fn ok(body: &str) -> Config {
    parse(body).unwrap_or_else(|e| panic!("{e}"))
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Who is on call on schedule `s` at each instant, as (instant, users).
fn on_call(cfg: &Config, s: &str, at: &[&str]) -> Vec<(String, Vec<String>)> {
    let sched = cfg.model.schedule(s).unwrap();
    at.iter()
        .map(|t| (t.to_string(), sched.users_at(ts(t))))
        .collect()
}

fn expect(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(t, u)| (t.to_string(), u.iter().map(|x| x.to_string()).collect()))
        .collect()
}

/// The problem recorded for `key` (exactly one).
fn problem(e: &ConfigError, key: &str) -> super::Problem {
    let found: Vec<_> = e.problems.iter().filter(|p| p.key == key).collect();
    assert_eq!(found.len(), 1, "{key} in\n{e}");
    found[0].clone()
}

const DAILY_A: &str = r#"
[[schedule]]
id = "s"
time_zone = "Europe/Berlin"
  [[schedule.layer]]
  users = ["a"]
  shift = "1d"
  start = "2026-01-01"
"#;

#[test]
fn override_bounds_are_local_times_of_the_schedule() {
    let cfg = ok(&format!(
        r#"{DAILY_A}
  [[schedule.override]]     # the issue's example
  user = "b"
  from = "2026-04-08T10:00"
  to = "2026-04-08T12:00"
  [[schedule.override]]     # across spring forward, with seconds
  user = "b"
  from = "2026-03-28T22:00:00"
  to = "2026-03-29T10:00:00"
  [[schedule.override]]     # starts in the gap: 02:30 is read as 03:30 CEST
  user = "c"
  from = "2026-03-29T02:30"
  to = "2026-03-29T03:45"
  [[schedule.override]]     # the repeated hour: the first 02:30 (CEST); ends with an offset
  user = "c"
  from = "2026-10-25T02:30"
  to = "2026-10-25T12:00:00+01:00"
"#
    ));
    let at = [
        "2026-04-08T07:59:59Z",
        "2026-04-08T08:00:00Z",
        "2026-04-08T09:59:59Z",
        "2026-04-08T10:00:00Z",
        "2026-03-28T20:59:59Z",
        "2026-03-28T21:00:00Z",
        "2026-03-29T01:29:59Z",
        "2026-03-29T01:30:00Z",
        "2026-03-29T01:45:00Z",
        "2026-03-29T07:59:59Z",
        "2026-03-29T08:00:00Z",
        "2026-10-25T00:29:59Z",
        "2026-10-25T00:30:00Z",
        "2026-10-25T10:59:59Z",
        "2026-10-25T11:00:00Z",
    ];
    assert_eq!(
        on_call(&cfg, "s", &at),
        expect(&[
            (at[0], &["a"]),
            (at[1], &["b"]),
            (at[2], &["b"]),
            (at[3], &["a"]),
            (at[4], &["a"]),
            (at[5], &["b"]),
            (at[6], &["b"]),
            (at[7], &["c"]),
            (at[8], &["b"]),
            (at[9], &["b"]),
            (at[10], &["a"]),
            (at[11], &["a"]),
            (at[12], &["c"]),
            (at[13], &["c"]),
            (at[14], &["a"]),
        ])
    );
    // a local time and the same instant with its offset are one override
    let with_offset = ok(&format!(
        "{DAILY_A}  [[schedule.override]]\n  user = \"b\"\n  from = \"2026-04-08T10:00:00+02:00\"\n  to = \"2026-04-08T12:00:00Z\"\n"
    ));
    let o = &with_offset.model.schedule("s").unwrap().overrides[0];
    assert_eq!(o.from, cfg.model.schedule("s").unwrap().overrides[0].from);
    assert_eq!(o.to, ts("2026-04-08T12:00:00Z"));
    // a date is its local midnight
    let dates = ok(&format!(
        "{DAILY_A}  [[schedule.override]]\n  user = \"b\"\n  from = \"2026-03-29\"\n  to = \"2026-03-30\"\n"
    ));
    let o = &dates.model.schedule("s").unwrap().overrides[0];
    assert_eq!(
        (o.from, o.to),
        (ts("2026-03-28T23:00:00Z"), ts("2026-03-29T22:00:00Z"))
    );
}

#[test]
fn layer_start_and_end_are_local_times_of_the_layer() {
    let cfg = ok(r#"
[[schedule]]
id = "s"
time_zone = "Europe/Berlin"
  [[schedule.layer]]
  users = ["a", "b"]
  shift = "1d"
  start = "2026-03-28T09:00"      # the first handoff; the next ones at 09:00 local
  end = "2026-10-25T02:30"        # the first 02:30 (CEST)
[[schedule]]
id = "follow"
time_zone = "Europe/Berlin"
  [[schedule.layer]]
  users = ["c"]
  shift = "12h"
  start = "2026-03-29T02:30"      # in the gap: 03:30 CEST
  [[schedule.layer]]
  users = ["a"]
  shift = "1w"
  start = "2026-03-01"
  handoff = "09:00"
  time_zone = "America/New_York"
  end = "2026-03-08T09:00:00"     # in the layer's zone: 09:00 EDT, after its spring change
"#);
    let at = [
        "2026-03-28T07:59:59Z",
        "2026-03-28T08:00:00Z",
        "2026-03-29T06:59:59Z",
        "2026-03-29T07:00:00Z",
        "2026-10-25T00:29:59Z",
        "2026-10-25T00:30:00Z",
    ];
    assert_eq!(
        on_call(&cfg, "s", &at),
        expect(&[
            (at[0], &[]),
            (at[1], &["a"]),
            (at[2], &["a"]),
            (at[3], &["b"]),
            (at[4], &["a"]),
            (at[5], &[]),
        ])
    );
    let at = [
        "2026-03-08T12:59:59Z",
        "2026-03-08T13:00:00Z",
        "2026-03-29T01:29:59Z",
        "2026-03-29T01:30:00Z",
        "2026-03-29T13:29:59Z",
    ];
    assert_eq!(
        on_call(&cfg, "follow", &at),
        expect(&[
            (at[0], &["a"]),
            (at[1], &[]),
            (at[2], &[]),
            (at[3], &["c"]),
            (at[4], &["c"]),
        ])
    );
    assert_eq!(
        cfg.model.schedule("follow").unwrap().on_call(ts(at[4]))[0].reason,
        Reason::Rotation {
            layer: 1,
            name: "layer 1".into(),
            shift: 0
        }
    );
}

#[test]
fn a_start_with_a_time_agrees_with_the_handoff() {
    let layer = |start: &str, handoff: &str| {
        format!(
            "[[schedule]]\nid = \"s\"\ntime_zone = \"Europe/Berlin\"\n[[schedule.layer]]\nusers = [\"a\"]\nshift = \"1d\"\nstart = \"{start}\"\n{handoff}\n"
        )
    };
    let same = ok(&layer("2026-03-28T09:00", "handoff = \"09:00\""));
    assert_eq!(same.model.schedules[0].layers[0].rotation.handoff, 9 * 60);
    for (start, handoff, says) in [
        (
            "2026-03-28T09:00",
            "handoff = \"20:00\"",
            "starts at 09:00 but handoff = \"20:00\"",
        ),
        ("2026-03-28T09:00:30", "", "handoffs are on the minute"),
        ("2026-03-28T09:00:00+01:00", "", "has an offset"),
        ("2026-03-28 09:00", "", "\"2026-01-05T09:00\""),
    ] {
        let e = parse(&layer(start, handoff)).unwrap_err();
        let p = problem(&e, "schedule[0].layer[0].start");
        assert_eq!((p.line, p.column), (Some(18), Some(9)), "{e}");
        assert!(p.message.contains(says), "{start}: {e}");
    }
}

const SUPPORT: &str = r#"
[[policy]]
id = "p"
  [[policy.level]]
  users = ["a"]
[[routing_number]]
name = "X"
port = "fxo1"
  [[routing_number.option]]
  key = 1
  label = "L"
  policy = "p"
  [routing_number.support_hours]
  time_zone = "Europe/Berlin"
  out_of_hours = "closed"
  window = [{ days = ["daily"], from = "08:00", to = "18:00" }]
"#;

#[test]
fn holidays_and_exceptions_are_whole_local_days_across_dst() {
    let cfg = ok(&format!(
        r#"{SUPPORT}  holiday = [
    {{ name = "Spring", date = "2026-03-29" }},
    {{ name = "Autumn", from = "2026-10-24", to = "2026-10-25" }},
  ]
  exception = [
    {{ name = "Night", date = "2026-03-28", hours = ["22:00-04:00"] }},
    {{ name = "Short", from = "2026-10-26", to = "2026-10-26", hours = ["10:00-12:00"] }},
  ]
"#
    ));
    let status = |t: &str| {
        let s = support_status(&cfg, 0, ts(t));
        (s.in_hours, s.reason)
    };
    let exc = |n: &str| HoursReason::Exception { name: n.into() };
    let hol = |n: &str| HoursReason::Holiday { name: n.into() };
    // Saturday 28 March is an exception day: 22:00 CET to 04:00 CEST (into the holiday)
    assert_eq!(status("2026-03-28T07:00:00Z"), (false, exc("Night")));
    assert_eq!(status("2026-03-28T21:00:00Z"), (true, exc("Night")));
    assert_eq!(status("2026-03-29T01:59:59Z"), (true, exc("Night")));
    assert_eq!(status("2026-03-29T02:00:00Z"), (false, hol("Spring")));
    assert_eq!(status("2026-03-29T21:59:59Z"), (false, hol("Spring")));
    assert_eq!(
        status("2026-03-29T22:00:00Z"),
        (false, HoursReason::OutsideWindows)
    );
    assert_eq!(
        status("2026-03-30T06:00:00Z"),
        (true, HoursReason::Window { window: 1 })
    );
    assert_eq!(
        support_status(&cfg, 0, ts("2026-03-29T02:00:00Z")).applies,
        Some(OutOfHours::Closed)
    );
    // when it changes next: at 04:00 CEST, then at the holiday's end (local midnight)
    let next = |t: &str| support_next_change(&cfg, 0, ts(t));
    assert_eq!(
        next("2026-03-29T01:00:00Z"),
        Some(ts("2026-03-29T02:00:00Z"))
    );
    assert_eq!(
        next("2026-03-29T10:00:00Z"),
        Some(ts("2026-03-29T22:00:00Z"))
    );
    // autumn: the holiday runs from midnight CEST to midnight CET (49 hours)
    assert_eq!(
        status("2026-10-23T21:59:59Z").1,
        HoursReason::OutsideWindows
    );
    assert_eq!(status("2026-10-23T22:00:00Z"), (false, hol("Autumn")));
    assert_eq!(status("2026-10-25T22:59:59Z"), (false, hol("Autumn")));
    assert_eq!(status("2026-10-25T23:00:00Z"), (false, exc("Short")));
    assert_eq!(status("2026-10-26T07:00:00Z"), (false, exc("Short")));
    assert_eq!(status("2026-10-26T09:00:00Z"), (true, exc("Short")));
    assert_eq!(status("2026-10-26T11:00:00Z"), (false, exc("Short")));
    assert_eq!(
        next("2026-10-24T12:00:00Z"),
        Some(ts("2026-10-25T23:00:00Z"))
    );
}

#[test]
fn a_time_of_day_on_a_whole_day_field_is_a_located_error() {
    let e = parse(&format!(
        r#"{SUPPORT}  holiday = [
    {{ name = "Eve", date = "2026-12-24T12:00" }},
    {{ name = "Span", from = "2026-12-30", to = "2026-12-31T23:59:59" }},
  ]
  exception = [
    {{ name = "Late", from = "2026-12-27T10:00", to = "2026-12-28", hours = ["10:00-14:00"] }},
    {{ name = "Typo", date = "27.12.2026" }},
  ]
"#
    ))
    .unwrap_err();
    let key = "routing_number[0].support_hours";
    for (k, line, says) in [
        (
            "holiday[0].date",
            29,
            "write the date alone, YYYY-MM-DD, e.g. \"2026-12-24\"",
        ),
        ("holiday[1].to", 30, "e.g. \"2026-12-31\""),
        ("exception[0].from", 33, "has a time of day"),
        ("exception[1].date", 34, "is not a date: write YYYY-MM-DD"),
    ] {
        let p = problem(&e, &format!("{key}.{k}"));
        assert_eq!(p.line, Some(line), "{k}: {e}");
        assert!(p.message.contains(says), "{k}: {e}");
    }
}

#[test]
fn a_date_time_in_another_form_is_a_located_error_showing_the_forms() {
    let e = parse(
        r#"
[[schedule]]
id = "s"
time_zone = "Europe/Berlin"
  [[schedule.layer]]
  users = ["a"]
  shift = "1d"
  start = "2026-01-01"
  end = "2026-07-10T9:00"
  [[schedule.override]]
  user = "b"
  from = "2026-04-08 10:00"
  to = "2026-04-08T12:00 CEST"
"#,
    )
    .unwrap_err();
    for (k, line, col) in [
        ("schedule[0].layer[0].end", 20, 9),
        ("schedule[0].override[0].from", 23, 10),
        ("schedule[0].override[0].to", 24, 8),
    ] {
        let p = problem(&e, k);
        assert_eq!((p.line, p.column), (Some(line), Some(col)), "{k}: {e}");
        for form in [
            "\"2026-04-08T10:00\"",
            "\"2026-04-08T10:00:00\"",
            "\"2026-04-08T10:00:00+02:00\"",
            "\"2026-04-08\"",
        ] {
            assert!(p.message.contains(form), "{k} lacks {form}: {e}");
        }
    }
    assert!(
        problem(&e, "schedule[0].layer[0].end")
            .message
            .contains("layer's zone")
    );
    assert!(
        problem(&e, "schedule[0].override[0].to")
            .message
            .contains("schedule's zone")
    );
}

#[test]
fn overrides_on_a_feed_schedule_are_local_times_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("f.ics"),
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\nSUMMARY:a\nATTENDEE:mailto:a@example.com\nDTSTART:20260101T000000Z\nDTEND:20260102T000000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\nEND:VCALENDAR\n",
    )
    .unwrap();
    let mut cfg = ok(r#"
[[schedule]]
id = "cal"
time_zone = "Europe/Berlin"
feed = { file = "f.ics" }
  [[schedule.override]]
  user = "b"
  from = "2026-03-29T01:00"
  to = "2026-03-29T09:00"
  [[schedule.override]]
  user = "c"
  from = "2026-10-25T01:00"
  to = "2026-10-25T09:00:00"
"#);
    let r = crate::app::feeds::load(&mut cfg, dir.path(), None);
    assert_eq!(r[0].events, 1, "{r:?}");
    let at = [
        "2026-03-28T23:59:59Z",
        "2026-03-29T00:00:00Z",
        "2026-03-29T06:59:59Z",
        "2026-03-29T07:00:00Z",
        "2026-10-24T22:59:59Z",
        "2026-10-24T23:00:00Z",
        "2026-10-25T07:59:59Z",
        "2026-10-25T08:00:00Z",
    ];
    assert_eq!(
        on_call(&cfg, "cal", &at),
        expect(&[
            (at[0], &["a"]),
            (at[1], &["b"]),
            (at[2], &["b"]),
            (at[3], &["a"]),
            (at[4], &["a"]),
            (at[5], &["c"]),
            (at[6], &["c"]),
            (at[7], &["a"]),
        ])
    );
}

#[test]
fn the_example_configuration_hands_off_at_nine() {
    let cfg = Config::parse(
        "docs/example.toml",
        include_str!("../../docs/example.toml"),
        &BoardProfile::sim(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = cfg.model.schedule("netops-primary").unwrap();
    let reason = |t: &str| s.on_call(ts(t)).first().map(|o| o.reason.clone());
    // the weekly layer ends on Monday 2027-01-04 at 09:00 CET (08:00Z), not midnight
    assert_eq!(
        reason("2027-01-04T07:59:59Z"),
        Some(Reason::Rotation {
            layer: 1,
            name: "weekly".into(),
            shift: 51
        })
    );
    assert_eq!(s.users_at(ts("2027-01-04T07:59:59Z")), vec!["bob"]);
    assert_eq!(reason("2027-01-04T08:00:00Z"), None);
    // the Christmas override covers 24 December 09:00 to 27 December 09:00 CET
    let christmas = Some(Reason::Override { index: 1 });
    assert_ne!(reason("2026-12-24T07:59:59Z"), christmas);
    assert_eq!(reason("2026-12-24T08:00:00Z"), christmas);
    assert_eq!(reason("2026-12-27T07:59:59Z"), christmas);
    assert_ne!(reason("2026-12-27T08:00:00Z"), christmas);
    // the weekly handoff stays at 09:00 local across spring forward (07:00Z in CEST)
    assert_eq!(s.users_at(ts("2026-03-30T06:59:59Z")), vec!["bob"]);
    assert_eq!(s.users_at(ts("2026-03-30T07:00:00Z")), vec!["alice"]);
    // support hours: Christmas holiday, then the Stocktaking exception (10:00-14:00)
    let st = support_status(&cfg, 0, ts("2026-12-25T10:00:00Z"));
    assert_eq!(
        (st.in_hours, st.reason),
        (
            false,
            HoursReason::Holiday {
                name: "Christmas".into()
            }
        )
    );
    let st = support_status(&cfg, 0, ts("2026-12-27T09:00:00Z"));
    assert_eq!(
        (st.in_hours, st.reason),
        (
            true,
            HoursReason::Exception {
                name: "Stocktaking".into()
            }
        )
    );
}
