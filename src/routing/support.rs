//! Support hours of a routing number: weekly windows in a zone, holidays and exception
//! days; "is R in support hours at t, and what applies".
//!
//! Precedence on a local day: an **exception** (special hours for that day; no hours =
//! closed) beats a **holiday** (closed all day), which beats the **weekly windows**.
//! A window belongs to the day it starts on: a Friday 22:00–06:00 window runs into
//! Saturday even when Saturday is a holiday, and does not start on a holiday Friday.
//! Yearly dates repeat on the same month and day; a yearly 29 February only exists in
//! leap years.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::time::{
    Window, date_of, day_number, local_date, local_instant, window_at, window_edges,
};

/// A span of local dates (inclusive), once or every year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateSpan {
    /// Name ("Christmas").
    pub name: String,
    /// First day.
    pub from: Date,
    /// Last day (inclusive).
    pub to: Date,
    /// Repeats every year (month and day only).
    pub yearly: bool,
}

impl DateSpan {
    /// Whether `d` falls in the span.
    pub fn contains(&self, d: Date) -> bool {
        if !self.yearly {
            return self.from <= d && d <= self.to;
        }
        let md = |x: Date| (x.month(), x.day());
        let (a, b, x) = (md(self.from), md(self.to), md(d));
        if a <= b {
            a <= x && x <= b
        } else {
            x >= a || x <= b
        }
    }
}

/// Special hours on some days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The days.
    pub dates: DateSpan,
    /// Open windows on those days (weekdays ignored); empty = closed.
    pub windows: Vec<Window>,
}

/// What the routing number does outside support hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfHours {
    /// Route as in hours (support hours are informational).
    Route,
    /// Play the closed message and hang up.
    Closed,
    /// Record a voicemail at once (skip greeting and menu).
    Voicemail,
}

/// The support hours of a routing number.
#[derive(Debug, Clone)]
pub struct SupportHours {
    /// Zone of the windows and dates.
    pub tz: TimeZone,
    /// Weekly open windows.
    pub windows: Vec<Window>,
    /// Closed days.
    pub holidays: Vec<DateSpan>,
    /// Days with special hours.
    pub exceptions: Vec<Exception>,
    /// Behaviour outside support hours.
    pub out_of_hours: OutOfHours,
}

/// Why the routing number is open or closed at an instant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HoursReason {
    /// No support hours configured: always in hours.
    Always,
    /// Inside weekly window number `window` (1-based).
    Window {
        /// 1-based window number.
        window: usize,
    },
    /// Outside every weekly window.
    OutsideWindows,
    /// A holiday.
    Holiday {
        /// Its name.
        name: String,
    },
    /// An exception day, open or closed.
    Exception {
        /// Its name.
        name: String,
    },
}

/// The answer to "is R in support hours at t, and what applies".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HoursStatus {
    /// In support hours.
    pub in_hours: bool,
    /// Why.
    pub reason: HoursReason,
    /// What applies: `None` in hours (the normal menu), the behaviour otherwise.
    pub applies: Option<OutOfHours>,
}

impl SupportHours {
    /// Is `t` in support hours, and why.
    pub fn status(&self, t: Timestamp) -> HoursStatus {
        let today = local_date(&self.tz, t);
        let yesterday = date_of(day_number(today) - 1);
        // An exception day: only its own windows count, starting today...
        let exc = |d: Date| self.exceptions.iter().find(|e| e.dates.contains(d));
        let mut reason = HoursReason::OutsideWindows;
        if let Some(e) = exc(today) {
            let open = e.windows.iter().any(|w| {
                let (a, b) = w.span_on(&self.tz, today);
                a <= t && t < b
            });
            reason = HoursReason::Exception {
                name: e.dates.name.clone(),
            };
            if open {
                return self.done(true, reason);
            }
        }
        // ...or running over from yesterday's exception windows.
        if let Some(e) = exc(yesterday) {
            if e.windows.iter().any(|w| {
                let (a, b) = w.span_on(&self.tz, yesterday);
                a <= t && t < b
            }) {
                return self.done(
                    true,
                    HoursReason::Exception {
                        name: e.dates.name.clone(),
                    },
                );
            }
        }
        let holiday = |d: Date| self.holidays.iter().find(|h| h.contains(d));
        let weekly = window_at(&self.tz, &self.windows, t, |d| {
            exc(d).is_none() && holiday(d).is_none()
        });
        if let Some(i) = weekly {
            return self.done(true, HoursReason::Window { window: i + 1 });
        }
        if matches!(reason, HoursReason::OutsideWindows) {
            if let Some(h) = holiday(today) {
                reason = HoursReason::Holiday {
                    name: h.name.clone(),
                };
            }
        }
        self.done(false, reason)
    }

    /// When the answer of [`status`](Self::status) at `t` changes next (in or out of
    /// hours, the window, holiday or exception that applies): the first instant after
    /// `t` at which it differs, looking a year and a day ahead. `None`: no change
    /// within that horizon (a window open around the clock, say).
    pub fn next_change(&self, t: Timestamp) -> Option<Timestamp> {
        let now = self.status(t);
        let week = jiff::SignedDuration::from_hours(24 * 7);
        let mut from = t;
        for _ in 0..53 {
            let to = from.checked_add(week).ok()?;
            // The status can only change at a window edge (weekly or exception) or at
            // a local midnight (where holidays and exceptions begin and end).
            let mut edges = vec![to];
            window_edges(&self.tz, &self.windows, from, to, &mut edges);
            for e in &self.exceptions {
                window_edges(&self.tz, &e.windows, from, to, &mut edges);
            }
            let (first, last) = (
                day_number(local_date(&self.tz, from)),
                day_number(local_date(&self.tz, to)),
            );
            for dn in first..=last + 1 {
                let m = local_instant(&self.tz, date_of(dn), 0);
                if from < m && m < to {
                    edges.push(m);
                }
            }
            edges.sort();
            edges.dedup();
            if let Some(e) = edges.into_iter().find(|e| self.status(*e) != now) {
                return Some(e);
            }
            from = to;
        }
        None
    }

    fn done(&self, in_hours: bool, reason: HoursReason) -> HoursStatus {
        HoursStatus {
            in_hours,
            reason,
            applies: (!in_hours).then_some(self.out_of_hours),
        }
    }
}

/// Status for a routing number without support hours: always in hours.
pub fn always() -> HoursStatus {
    HoursStatus {
        in_hours: true,
        reason: HoursReason::Always,
        applies: None,
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

    fn office() -> SupportHours {
        SupportHours {
            tz: TimeZone::get("Europe/Berlin").unwrap(),
            windows: vec![
                Window {
                    days: parse_days(&["mon-fri"]).unwrap(),
                    from: 8 * 60,
                    to: 17 * 60,
                },
                Window {
                    days: parse_days(&["fri"]).unwrap(),
                    from: 22 * 60,
                    to: 2 * 60,
                },
            ],
            holidays: vec![
                DateSpan {
                    name: "Christmas".into(),
                    from: date(2000, 12, 24),
                    to: date(2000, 12, 26),
                    yearly: true,
                },
                DateSpan {
                    name: "New Year".into(),
                    from: date(2000, 12, 31),
                    to: date(2001, 1, 1),
                    yearly: true,
                },
                DateSpan {
                    name: "Leap".into(),
                    from: date(2028, 2, 29),
                    to: date(2028, 2, 29),
                    yearly: true,
                },
                DateSpan {
                    name: "Closure".into(),
                    from: date(2026, 8, 3),
                    to: date(2026, 8, 7),
                    yearly: false,
                },
            ],
            exceptions: vec![Exception {
                dates: DateSpan {
                    name: "Stocktaking".into(),
                    from: date(2026, 12, 26),
                    to: date(2026, 12, 26),
                    yearly: false,
                },
                windows: vec![Window {
                    days: [true; 7],
                    from: 10 * 60,
                    to: 14 * 60,
                }],
            }],
            out_of_hours: OutOfHours::Closed,
        }
    }

    #[test]
    fn weekly_windows_in_their_zone() {
        let s = office();
        // Wed 2026-01-14 08:00 CET = 07:00Z
        assert!(s.status(ts("2026-01-14T07:00:00Z")).in_hours);
        assert!(!s.status(ts("2026-01-14T06:59:59Z")).in_hours);
        let st = s.status(ts("2026-01-14T16:00:00Z"));
        assert_eq!((st.in_hours, st.applies), (false, Some(OutOfHours::Closed)));
        // summer: 08:00 CEST = 06:00Z
        assert!(s.status(ts("2026-07-15T06:00:00Z")).in_hours);
        // Friday late window runs into Saturday 02:00
        assert_eq!(
            s.status(ts("2026-01-17T00:30:00Z")).reason,
            HoursReason::Window { window: 2 }
        );
    }

    #[test]
    fn next_change_of_the_answer() {
        let s = office();
        let next = |t: &str| s.next_change(ts(t)).map(|t| t.to_string());
        // Wed 08:00 CET in hours: until 17:00 CET; then out until Thu 08:00
        assert_eq!(
            next("2026-01-14T07:00:00Z").as_deref(),
            Some("2026-01-14T16:00:00Z")
        );
        assert_eq!(
            next("2026-01-14T16:00:00Z").as_deref(),
            Some("2026-01-15T07:00:00Z")
        );
        // Friday late window until Saturday 02:00, then closed until Monday 08:00
        assert_eq!(
            next("2026-01-17T00:30:00Z").as_deref(),
            Some("2026-01-17T01:00:00Z")
        );
        assert_eq!(
            next("2026-01-17T01:00:00Z").as_deref(),
            Some("2026-01-19T07:00:00Z")
        );
        // across spring forward: Monday 08:00 CEST is 06:00Z
        assert_eq!(
            next("2026-03-28T12:00:00Z").as_deref(),
            Some("2026-03-30T06:00:00Z")
        );
        // the evening before Christmas: out of hours, then the holiday at midnight
        assert_eq!(
            next("2027-12-23T17:00:00Z").as_deref(),
            Some("2027-12-23T23:00:00Z")
        );
        // a window open around the clock never changes
        let always_open = SupportHours {
            windows: vec![Window {
                days: [true; 7],
                from: 0,
                to: 0,
            }],
            holidays: vec![],
            exceptions: vec![],
            ..office()
        };
        assert_eq!(always_open.next_change(ts("2026-01-14T07:00:00Z")), None);
    }

    #[test]
    fn holidays_yearly_ranges_and_exceptions() {
        let s = office();
        // Thu 2027-12-23 in hours; Fri 24th is Christmas (yearly)
        assert!(s.status(ts("2027-12-23T10:00:00Z")).in_hours);
        assert_eq!(
            s.status(ts("2027-12-24T10:00:00Z")).reason,
            HoursReason::Holiday {
                name: "Christmas".into()
            }
        );
        // New Year wraps the year
        assert!(!s.status(ts("2027-12-31T10:00:00Z")).in_hours);
        assert!(!s.status(ts("2029-01-01T10:00:00Z")).in_hours);
        assert!(s.status(ts("2029-01-02T10:00:00Z")).in_hours);
        // one-off closure week
        assert!(!s.status(ts("2026-08-05T10:00:00Z")).in_hours);
        assert!(s.status(ts("2027-08-05T10:00:00Z")).in_hours);
        // a yearly 29 February exists only in leap years (2028-02-29 is a Tuesday)
        assert!(!s.status(ts("2028-02-29T10:00:00Z")).in_hours);
        assert!(s.status(ts("2028-02-28T10:00:00Z")).in_hours);
        // exception beats the Christmas holiday on 2026-12-26 (a Saturday): 10-14 open
        let st = s.status(ts("2026-12-26T10:00:00Z"));
        assert!(st.in_hours);
        assert_eq!(
            st.reason,
            HoursReason::Exception {
                name: "Stocktaking".into()
            }
        );
        let st = s.status(ts("2026-12-26T14:00:00Z"));
        assert!(!st.in_hours);
        assert_eq!(
            st.reason,
            HoursReason::Exception {
                name: "Stocktaking".into()
            }
        );
    }
}
