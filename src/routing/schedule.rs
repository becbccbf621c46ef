//! On-call schedules: rotations in layers, weekly restrictions, overrides and iCal
//! feed events; "who is on call at t" and the timeline of handoffs.
//!
//! Rules:
//! * a rotation hands off every `shift` at the handoff time, local to the layer's
//!   zone, from its start date until its optional end (exclusive); participants take
//!   turns in order;
//! * layers are listed lowest first: where several layers have someone, the
//!   **last listed (highest) layer wins**; a layer restricted to weekly windows has
//!   nobody outside them, so the layer below shows through;
//! * overrides beat every layer and every feed event; where overrides overlap, the
//!   **newest** (listed last) wins;
//! * a feed schedule puts on call everyone whose event covers t (in order of the
//!   events' start).
//!
//! Local times become instants by the DST rule in [`super::time`].

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::ical::Occurrence;
use super::time::{
    Window, date_of, day_number, local_date, local_instant, window_at, window_edges,
};

/// How long one shift lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    /// A fixed number of hours (elapsed time: a 12 h shift across a DST change still
    /// lasts 12 h).
    Hours(u32),
    /// A number of local days: the handoff stays at the same local time across DST.
    Days(u32),
    /// A number of local weeks.
    Weeks(u32),
}

/// A rotation: participants take turns, one shift each.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// User ids in turn order (a user may appear more than once).
    pub participants: Vec<String>,
    /// Shift length.
    pub shift: Shift,
    /// First day of the first shift (local).
    pub start: Date,
    /// Handoff time, minutes after local midnight.
    pub handoff: u16,
    /// End of the rotation (exclusive), if any.
    pub end: Option<Timestamp>,
}

/// One layer of a schedule.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Display name (`layer 1` when none is configured).
    pub name: String,
    /// The zone of the rotation and the restrictions (the schedule's unless set).
    pub tz: TimeZone,
    /// The rotation.
    pub rotation: Rotation,
    /// Weekly windows the layer is restricted to; empty = always.
    pub restrictions: Vec<Window>,
}

/// Someone covers a span, whatever the layers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// User id.
    pub user: String,
    /// Start (inclusive).
    pub from: Timestamp,
    /// End (exclusive).
    pub to: Timestamp,
}

/// A schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Id used by policies.
    pub id: String,
    /// The schedule's zone.
    pub tz: TimeZone,
    /// Layers, lowest first (the last one wins).
    pub layers: Vec<Layer>,
    /// Overrides, oldest first (the last one wins).
    pub overrides: Vec<Override>,
    /// Events of the iCal feed, already mapped to users (feed schedules only).
    pub feed_events: Vec<super::ical::MappedEvent>,
}

/// Why someone is on call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Their turn in a layer's rotation (1-based layer number).
    Rotation {
        /// 1-based layer number.
        layer: usize,
        /// Layer name.
        name: String,
        /// 0-based shift number since the rotation's start.
        shift: i64,
    },
    /// An override (1-based, in configuration order).
    Override {
        /// 1-based override number.
        index: usize,
    },
    /// An event of the iCal feed.
    FeedEvent {
        /// The event's UID.
        uid: String,
        /// The event's summary.
        summary: String,
    },
}

/// One person on call and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OnCall {
    /// User id.
    pub user: String,
    /// Why.
    pub reason: Reason,
}

/// A change of who is on call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Handoff {
    /// When it happens.
    pub at: Timestamp,
    /// Who is on call from then on (empty: nobody).
    pub on_call: Vec<OnCall>,
}

impl Rotation {
    fn len_days(&self) -> Option<i64> {
        match self.shift {
            Shift::Hours(_) => None,
            Shift::Days(n) => Some(i64::from(n.max(1))),
            Shift::Weeks(n) => Some(7 * i64::from(n.max(1))),
        }
    }

    /// Start of shift number `k`.
    pub fn shift_start(&self, tz: &TimeZone, k: i64) -> Timestamp {
        match (self.shift, self.len_days()) {
            (Shift::Hours(h), _) => {
                let first = local_instant(tz, self.start, self.handoff);
                let secs = k.saturating_mul(3600 * i64::from(h.max(1)));
                first
                    .checked_add(jiff::SignedDuration::from_secs(secs))
                    .unwrap_or(Timestamp::MAX)
            }
            (_, Some(len)) => local_instant(
                tz,
                date_of(day_number(self.start) + k.saturating_mul(len)),
                self.handoff,
            ),
            _ => Timestamp::MAX,
        }
    }

    /// The shift number covering `t` (negative before the start), ignoring the end.
    pub fn shift_index(&self, tz: &TimeZone, t: Timestamp) -> i64 {
        let k = match (self.shift, self.len_days()) {
            (Shift::Hours(h), _) => {
                let first = local_instant(tz, self.start, self.handoff);
                let secs = t.as_second() - first.as_second();
                secs.div_euclid(3600 * i64::from(h.max(1)))
            }
            (_, Some(len)) => {
                let dn = day_number(local_date(tz, t)) - day_number(self.start);
                dn.div_euclid(len)
            }
            _ => 0,
        };
        // The local-date estimate is off by one before the handoff time of a boundary day.
        if t < self.shift_start(tz, k) {
            k - 1
        } else {
            k
        }
    }

    /// Who is on call in this rotation at `t`, with the shift number.
    pub fn at(&self, tz: &TimeZone, t: Timestamp) -> Option<(&str, i64)> {
        if self.participants.is_empty() || self.end.is_some_and(|e| t >= e) {
            return None;
        }
        let k = self.shift_index(tz, t);
        if k < 0 {
            return None;
        }
        let n = self.participants.len() as i64;
        Some((self.participants[k.rem_euclid(n) as usize].as_str(), k))
    }
}

impl Layer {
    /// Who this layer has on call at `t`, with the shift number.
    pub fn at(&self, t: Timestamp) -> Option<(&str, i64)> {
        let who = self.rotation.at(&self.tz, t)?;
        if !self.restrictions.is_empty()
            && window_at(&self.tz, &self.restrictions, t, |_| true).is_none()
        {
            return None;
        }
        Some(who)
    }

    fn edges(&self, t1: Timestamp, t2: Timestamp, out: &mut Vec<Timestamp>) {
        let r = &self.rotation;
        let first = local_instant(&self.tz, r.start, r.handoff);
        for e in [Some(first), r.end].into_iter().flatten() {
            if t1 < e && e < t2 {
                out.push(e);
            }
        }
        let mut k = r.shift_index(&self.tz, t1).max(0);
        loop {
            let s = r.shift_start(&self.tz, k);
            if s >= t2 || r.end.is_some_and(|e| s >= e) {
                break;
            }
            if s > t1 {
                out.push(s);
            }
            k += 1;
        }
        window_edges(&self.tz, &self.restrictions, t1, t2, out);
    }
}

impl Schedule {
    /// Who is on call at `t`, and why. Empty: nobody (a gap).
    pub fn on_call(&self, t: Timestamp) -> Vec<OnCall> {
        if let Some((i, o)) = self
            .overrides
            .iter()
            .enumerate()
            .rev()
            .find(|(_, o)| o.from <= t && t < o.to)
        {
            return vec![OnCall {
                user: o.user.clone(),
                reason: Reason::Override { index: i + 1 },
            }];
        }
        let mut out: Vec<OnCall> = Vec::new();
        if !self.feed_events.is_empty() {
            let mut hits: Vec<(Occurrence, &super::ical::MappedEvent)> = Vec::new();
            for ev in &self.feed_events {
                for occ in ev.event.occurrences_covering(t) {
                    hits.push((occ, ev));
                }
            }
            hits.sort_by_key(|(o, _)| o.start);
            for (_, ev) in hits {
                for u in &ev.users {
                    if !out.iter().any(|o| &o.user == u) {
                        out.push(OnCall {
                            user: u.clone(),
                            reason: Reason::FeedEvent {
                                uid: ev.event.uid.clone(),
                                summary: ev.event.summary.clone(),
                            },
                        });
                    }
                }
            }
            return out;
        }
        for (i, layer) in self.layers.iter().enumerate().rev() {
            if let Some((user, shift)) = layer.at(t) {
                out.push(OnCall {
                    user: user.to_string(),
                    reason: Reason::Rotation {
                        layer: i + 1,
                        name: layer.name.clone(),
                        shift,
                    },
                });
                break;
            }
        }
        out
    }

    /// The user ids on call at `t`.
    pub fn users_at(&self, t: Timestamp) -> Vec<String> {
        self.on_call(t).into_iter().map(|o| o.user).collect()
    }

    /// Who is on call at `from`, then every change until `to` (exclusive). Changes of
    /// reason alone (the same person on a new shift) are included.
    pub fn timeline(&self, from: Timestamp, to: Timestamp) -> Vec<Handoff> {
        let mut edges = Vec::new();
        for l in &self.layers {
            l.edges(from, to, &mut edges);
        }
        for o in &self.overrides {
            for e in [o.from, o.to] {
                if from < e && e < to {
                    edges.push(e);
                }
            }
        }
        for ev in &self.feed_events {
            ev.event.edges(from, to, &mut edges);
        }
        edges.sort_unstable();
        edges.dedup();
        let mut out: Vec<Handoff> = vec![Handoff {
            at: from,
            on_call: self.on_call(from),
        }];
        for e in edges {
            let now = self.on_call(e);
            if out.last().is_some_and(|h| h.on_call != now) {
                out.push(Handoff {
                    at: e,
                    on_call: now,
                });
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;
    use crate::routing::time::parse_days;
    use jiff::civil::date;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn rot(p: &[&str], shift: Shift, start: Date, handoff: u16) -> Rotation {
        Rotation {
            participants: p.iter().map(|s| s.to_string()).collect(),
            shift,
            start,
            handoff,
            end: None,
        }
    }

    fn layer(tz: &str, r: Rotation) -> Layer {
        Layer {
            name: String::new(),
            tz: TimeZone::get(tz).unwrap(),
            rotation: r,
            restrictions: vec![],
        }
    }

    fn sched(layers: Vec<Layer>) -> Schedule {
        Schedule {
            id: "s".into(),
            tz: TimeZone::get("Europe/Berlin").unwrap(),
            layers,
            overrides: vec![],
            feed_events: vec![],
        }
    }

    #[test]
    fn daily_rotation_with_handoff() {
        let l = layer(
            "Europe/Berlin",
            rot(&["a", "b", "c"], Shift::Days(1), date(2026, 1, 1), 9 * 60),
        );
        assert_eq!(
            l.at(ts("2026-01-01T07:59:59Z")),
            None,
            "before the first handoff"
        );
        assert_eq!(l.at(ts("2026-01-01T08:00:00Z")), Some(("a", 0)));
        assert_eq!(l.at(ts("2026-01-02T07:59:59Z")), Some(("a", 0)));
        assert_eq!(l.at(ts("2026-01-02T08:00:00Z")), Some(("b", 1)));
        assert_eq!(l.at(ts("2026-01-04T08:00:00Z")), Some(("a", 3)));
    }

    #[test]
    fn spring_forward_handoff_at_0230_berlin() {
        // Handoff at 02:30 local: on 2026-03-29 02:30 does not exist → 03:30 CEST.
        let l = layer(
            "Europe/Berlin",
            rot(&["a", "b"], Shift::Days(1), date(2026, 3, 1), 150),
        );
        let k = l.rotation.shift_index(&l.tz, ts("2026-03-28T12:00:00Z"));
        assert_eq!(
            l.rotation.shift_start(&l.tz, k + 1),
            ts("2026-03-29T01:30:00Z")
        );
        let before = l.at(ts("2026-03-29T01:29:59Z")).unwrap();
        let after = l.at(ts("2026-03-29T01:30:00Z")).unwrap();
        assert_ne!(before.0, after.0);
        // the next day's handoff is at 02:30 CEST again
        assert_eq!(
            l.rotation.shift_start(&l.tz, k + 2),
            ts("2026-03-30T00:30:00Z")
        );
    }

    #[test]
    fn autumn_repeated_hour_first_occurrence() {
        let l = layer(
            "Europe/Berlin",
            rot(&["a", "b"], Shift::Days(1), date(2026, 10, 1), 150),
        );
        let k = l.rotation.shift_index(&l.tz, ts("2026-10-24T12:00:00Z"));
        // 02:30 CEST (first occurrence) = 00:30 UTC; the second 02:30 would be 01:30 UTC
        assert_eq!(
            l.rotation.shift_start(&l.tz, k + 1),
            ts("2026-10-25T00:30:00Z")
        );
        assert_eq!(l.at(ts("2026-10-25T00:30:00Z")).unwrap().1, k + 1);
        assert_eq!(l.at(ts("2026-10-25T00:29:59Z")).unwrap().1, k);
        // shift on the long day lasts 25 h
        let len = l.rotation.shift_start(&l.tz, k + 2).as_second()
            - l.rotation.shift_start(&l.tz, k + 1).as_second();
        assert_eq!(len, 25 * 3600);
    }

    #[test]
    fn new_york_weekly_and_hours_across_dst() {
        let r = rot(&["a", "b"], Shift::Weeks(1), date(2026, 3, 2), 9 * 60);
        let l = layer("America/New_York", r);
        // 09:00 EST on Mar 2 = 14:00Z; 09:00 EDT on Mar 9 = 13:00Z
        assert_eq!(l.at(ts("2026-03-09T12:59:59Z")), Some(("a", 0)));
        assert_eq!(l.at(ts("2026-03-09T13:00:00Z")), Some(("b", 1)));
        // hour shifts are elapsed time
        let l = layer(
            "America/New_York",
            rot(&["a", "b"], Shift::Hours(12), date(2026, 3, 7), 20 * 60),
        );
        // starts 2026-03-08T01:00Z; shift 1 starts 12 h later at 13:00Z (09:00 EDT)
        assert_eq!(l.at(ts("2026-03-08T12:59:59Z")), Some(("a", 0)));
        assert_eq!(l.at(ts("2026-03-08T13:00:00Z")), Some(("b", 1)));
    }

    #[test]
    fn leap_day_and_end_date() {
        let mut r = rot(&["a", "b"], Shift::Days(1), date(2028, 2, 28), 0);
        r.end = Some(ts("2028-03-01T00:00:00Z"));
        let l = layer("UTC", r);
        assert_eq!(l.at(ts("2028-02-29T12:00:00Z")), Some(("b", 1)));
        assert_eq!(l.at(ts("2028-03-01T00:00:00Z")), None, "end is exclusive");
        let l = layer("UTC", rot(&["a"], Shift::Weeks(52), date(2028, 2, 29), 0));
        // 52 weeks (364 days) after 2028-02-29 is 2029-02-27
        assert_eq!(l.rotation.shift_start(&l.tz, 1), ts("2029-02-27T00:00:00Z"));
    }

    #[test]
    fn higher_layer_with_restriction_wins_in_its_window() {
        let base = layer(
            "Europe/Berlin",
            rot(&["a"], Shift::Weeks(1), date(2026, 1, 5), 540),
        );
        let mut nights = layer(
            "Europe/Berlin",
            rot(&["n"], Shift::Weeks(1), date(2026, 1, 5), 540),
        );
        nights.restrictions = vec![Window {
            days: parse_days(&["daily"]).unwrap(),
            from: 20 * 60,
            to: 8 * 60,
        }];
        let s = sched(vec![base, nights]);
        assert_eq!(s.users_at(ts("2026-01-07T12:00:00Z")), vec!["a"]);
        assert_eq!(s.users_at(ts("2026-01-07T20:00:00Z")), vec!["n"]);
        assert_eq!(s.users_at(ts("2026-01-08T06:59:00Z")), vec!["n"]);
        assert_eq!(s.users_at(ts("2026-01-08T07:00:00Z")), vec!["a"]);
        let tl = s.timeline(ts("2026-01-07T00:00:00Z"), ts("2026-01-08T00:00:00Z"));
        let users: Vec<_> = tl
            .iter()
            .map(|h| (h.at.to_string(), h.on_call[0].user.clone()))
            .collect();
        assert_eq!(
            users,
            vec![
                ("2026-01-07T00:00:00Z".into(), "n".into()),
                ("2026-01-07T07:00:00Z".into(), "a".into()),
                ("2026-01-07T19:00:00Z".into(), "n".into()),
            ]
        );
    }

    #[test]
    fn layers_in_different_zones() {
        // base in Berlin, a follow-the-sun layer in New York 09:00-17:00 local
        let base = layer(
            "Europe/Berlin",
            rot(&["eu"], Shift::Weeks(1), date(2026, 1, 5), 540),
        );
        let mut us = layer(
            "America/New_York",
            rot(&["us"], Shift::Weeks(1), date(2026, 1, 5), 540),
        );
        us.restrictions = vec![Window {
            days: parse_days(&["mon-fri"]).unwrap(),
            from: 540,
            to: 1020,
        }];
        let s = sched(vec![base, us]);
        // Wed 14:00Z = 09:00 EST → us; 13:59Z → eu
        assert_eq!(s.users_at(ts("2026-01-14T14:00:00Z")), vec!["us"]);
        assert_eq!(s.users_at(ts("2026-01-14T13:59:00Z")), vec!["eu"]);
        assert_eq!(s.users_at(ts("2026-01-14T22:00:00Z")), vec!["eu"]);
    }

    #[test]
    fn newest_override_wins() {
        let mut s = sched(vec![layer(
            "UTC",
            rot(&["a"], Shift::Days(1), date(2026, 1, 1), 0),
        )]);
        s.overrides = vec![
            Override {
                user: "x".into(),
                from: ts("2026-02-01T00:00:00Z"),
                to: ts("2026-02-03T00:00:00Z"),
            },
            Override {
                user: "y".into(),
                from: ts("2026-02-02T00:00:00Z"),
                to: ts("2026-02-02T12:00:00Z"),
            },
        ];
        assert_eq!(s.users_at(ts("2026-02-01T12:00:00Z")), vec!["x"]);
        assert_eq!(s.users_at(ts("2026-02-02T06:00:00Z")), vec!["y"]);
        assert_eq!(
            s.on_call(ts("2026-02-02T06:00:00Z"))[0].reason,
            Reason::Override { index: 2 }
        );
        assert_eq!(s.users_at(ts("2026-02-02T12:00:00Z")), vec!["x"]);
        assert_eq!(s.users_at(ts("2026-02-03T00:00:00Z")), vec!["a"]);
        let tl = s.timeline(ts("2026-01-31T00:00:00Z"), ts("2026-02-04T00:00:00Z"));
        let who: Vec<_> = tl.iter().map(|h| h.on_call[0].user.as_str()).collect();
        // a's daily shifts show as changes of reason (new shift) too
        assert!(who.windows(2).any(|w| w == ["a", "x"]));
        assert!(who.windows(3).any(|w| w == ["x", "y", "x"]));
        assert!(who.windows(2).any(|w| w == ["x", "a"]));
    }

    proptest::proptest! {
        #[test]
        fn exactly_one_participant_within_span(
            n in 1usize..6, hours in proptest::bool::ANY, len in 1u32..30,
            handoff in 0u16..1440, offset_h in 0i64..(24 * 800), zone in 0usize..4,
        ) {
            let zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"];
            let parts: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
            let r = Rotation {
                participants: parts.clone(),
                shift: if hours { Shift::Hours(len) } else { Shift::Days(len) },
                start: date(2025, 1, 1),
                handoff,
                end: None,
            };
            let tz = TimeZone::get(zones[zone]).unwrap();
            let first = r.shift_start(&tz, 0);
            let t = first.checked_add(jiff::SignedDuration::from_hours(offset_h)).unwrap();
            let (who, k) = r.at(&tz, t).expect("someone within the span");
            proptest::prop_assert!(parts.iter().any(|p| p == who));
            // the shift found really covers t
            proptest::prop_assert!(r.shift_start(&tz, k) <= t && t < r.shift_start(&tz, k + 1));
        }
    }
}
