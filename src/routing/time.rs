//! Local-time helpers shared by schedules and support hours.
//!
//! **The DST rule.** A local time is turned into an instant with RFC 5545's rule (the
//! same as jiff's and Temporal's `compatible` disambiguation):
//! * a local time that does not exist (in the spring-forward gap) is read with the
//!   offset in force *before* the gap, so it lands as far after the gap as it was into
//!   it: a 02:30 handoff on 2026-03-29 in Europe/Berlin happens at 03:30 CEST;
//! * a local time that exists twice (the repeated hour in autumn) is the *first*
//!   occurrence: 02:30 on 2026-10-25 in Europe/Berlin is 02:30 CEST (00:30 UTC).
//!
//! iCal feeds use the same rule, so a feed and a local rotation agree.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;

/// Minutes in a day; a window may end at `24:00`.
pub const DAY_MINUTES: u16 = 1440;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn day_number(d: Date) -> i64 {
    let (y, m, day) = (
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`day_number`]).
pub fn date_of(n: i64) -> Date {
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Dates come from validated configuration (years 1900..=2200) or from instants
    // in jiff's range, so the constructor cannot fail; clamp defensively anyway.
    Date::new(y.clamp(-9999, 9999) as i16, m as i8, d as i8).unwrap_or(Date::MAX)
}

/// The instant of a local date and minute of day in a zone, by the DST rule above.
/// `minutes` may be [`DAY_MINUTES`] (midnight at the end of the day).
pub fn local_instant(tz: &TimeZone, date: Date, minutes: u16) -> Timestamp {
    let (date, minutes) = if minutes >= DAY_MINUTES {
        (date_of(day_number(date) + 1), minutes - DAY_MINUTES)
    } else {
        (date, minutes)
    };
    local_datetime_instant(
        tz,
        date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0),
    )
}

/// The instant of a local date-time in a zone, by the DST rule above.
pub fn local_datetime_instant(tz: &TimeZone, dt: DateTime) -> Timestamp {
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .unwrap_or(if dt.year() < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
}

/// A date or a date-time as the configuration writes it (see [`parse_written`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// `YYYY-MM-DD`.
    Date(Date),
    /// `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS`: a local time, in the zone the
    /// context gives (the schedule's, the layer's).
    Local(DateTime),
    /// RFC 3339 with an offset, `YYYY-MM-DDTHH:MM:SS+HH:MM` (or `-HH:MM`, `Z`).
    Instant(Timestamp),
}

impl Written {
    /// The instant this names in `tz`: a date is its local midnight, a local time is
    /// read by the DST rule above, an instant with an offset is itself.
    pub fn instant(self, tz: &TimeZone) -> Timestamp {
        match self {
            Written::Date(d) => local_instant(tz, d, 0),
            Written::Local(dt) => local_datetime_instant(tz, dt),
            Written::Instant(t) => t,
        }
    }
}

/// Parses the one date and date-time syntax of the configuration, strictly:
/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS`, and
/// `YYYY-MM-DDTHH:MM:SS` followed by `Z` or an offset `+HH:MM` / `-HH:MM`.
/// Years 1900 to 2200. Anything else (a time without its date, a space instead of
/// `T`, an hour alone, a zone name, trailing text) is `None`: nothing is dropped
/// silently.
pub fn parse_written(s: &str) -> Option<Written> {
    fn num(b: &[u8]) -> Option<i32> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(b.iter().fold(0, |n, d| n * 10 + i32::from(d - b'0')))
    }
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = num(&b[0..4]).filter(|y| (1900..=2200).contains(y))?;
    let (month, day) = (num(&b[5..7])?, num(&b[8..10])?);
    let date = Date::new(year as i16, month as i8, day as i8).ok()?;
    if b.len() == 10 {
        return Some(Written::Date(date));
    }
    let t = &b[10..];
    if t.len() < 6 || t[0] != b'T' || t[3] != b':' {
        return None;
    }
    let hour = num(&t[1..3]).filter(|h| *h < 24)?;
    let minute = num(&t[4..6]).filter(|m| *m < 60)?;
    let (second, rest) = match t.get(6..) {
        Some([b':', s1, s2, rest @ ..]) => (num(&[*s1, *s2]).filter(|s| *s < 60)?, rest),
        Some(rest) => (-1, rest),
        None => return None,
    };
    let dt = date.at(hour as i8, minute as i8, second.max(0) as i8, 0);
    match rest {
        [] => Some(Written::Local(dt)),
        // RFC 3339: an offset needs the seconds
        _ if second < 0 => None,
        [b'Z'] => jiff::tz::Offset::UTC
            .to_timestamp(dt)
            .ok()
            .map(Written::Instant),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = num(&[*h1, *h2]).filter(|h| *h < 24)?;
            let om = num(&[*m1, *m2]).filter(|m| *m < 60)?;
            let secs = (oh * 3600 + om * 60) * if *sign == b'-' { -1 } else { 1 };
            let offset = jiff::tz::Offset::from_seconds(secs).ok()?;
            offset.to_timestamp(dt).ok().map(Written::Instant)
        }
        _ => None,
    }
}

/// The local date of an instant in a zone.
pub fn local_date(tz: &TimeZone, t: Timestamp) -> Date {
    tz.to_datetime(t).date()
}

/// A weekly time window: on the given weekdays, from `from` to `to` (minutes of the
/// local day). `to <= from` runs over midnight into the next day; `from == to` is a
/// whole day. A window belongs to the day it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Weekdays on which the window starts, Monday first.
    pub days: [bool; 7],
    /// Start, minutes after local midnight (0..1440).
    pub from: u16,
    /// End, minutes after local midnight (0..=1440).
    pub to: u16,
}

impl Window {
    /// Whether the window starts on this weekday.
    pub fn on(&self, wd: Weekday) -> bool {
        self.days[wd.to_monday_zero_offset() as usize]
    }

    /// The window's span when it starts on `date` (whatever the weekday).
    pub fn span_on(&self, tz: &TimeZone, date: Date) -> (Timestamp, Timestamp) {
        let start = local_instant(tz, date, self.from);
        let end = if self.to > self.from {
            local_instant(tz, date, self.to)
        } else {
            local_instant(tz, date_of(day_number(date) + 1), self.to)
        };
        (start, end)
    }
}

/// The first window (index) that contains `t`, looking at windows that start on `t`'s
/// local day or the day before (overnight windows). `allow(date)` may veto a day
/// (a holiday, say).
pub fn window_at(
    tz: &TimeZone,
    windows: &[Window],
    t: Timestamp,
    mut allow: impl FnMut(Date) -> bool,
) -> Option<usize> {
    let today = day_number(local_date(tz, t));
    for dn in [today, today - 1] {
        let date = date_of(dn);
        let wd = date.weekday();
        let mut allowed = None;
        for (i, w) in windows.iter().enumerate() {
            if !w.on(wd) {
                continue;
            }
            if !*allowed.get_or_insert_with(|| allow(date)) {
                break;
            }
            let (a, b) = w.span_on(tz, date);
            if a <= t && t < b {
                return Some(i);
            }
        }
    }
    None
}

/// Every window edge (start or end) strictly inside `(t1, t2)`, unsorted.
pub fn window_edges(
    tz: &TimeZone,
    windows: &[Window],
    t1: Timestamp,
    t2: Timestamp,
    out: &mut Vec<Timestamp>,
) {
    if windows.is_empty() || t2 <= t1 {
        return;
    }
    let first = day_number(local_date(tz, t1)) - 1;
    let last = day_number(local_date(tz, t2));
    for dn in first..=last {
        let date = date_of(dn);
        let wd = date.weekday();
        for w in windows.iter().filter(|w| w.on(wd)) {
            let (a, b) = w.span_on(tz, date);
            for e in [a, b] {
                if t1 < e && e < t2 {
                    out.push(e);
                }
            }
        }
    }
}

/// Parses `HH:MM` (00:00 to 24:00) into minutes of the day.
pub fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Parses weekday names and ranges: `mon`, `monday`, `mon-fri`, `sat-sun`, `daily`.
pub fn parse_days(items: &[&str]) -> Result<[bool; 7], String> {
    fn one(s: &str) -> Option<usize> {
        let full = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        let l = s.trim().to_ascii_lowercase();
        full.iter().position(|f| *f == l || f[..3] == l)
    }
    let mut days = [false; 7];
    for item in items {
        let item = item.trim();
        if item.eq_ignore_ascii_case("daily") || item.eq_ignore_ascii_case("all") {
            days = [true; 7];
            continue;
        }
        let bad = || {
            format!(
                "`{item}` is not a weekday: use mon, tue, wed, thu, fri, sat, sun, a range such as \"mon-fri\", or \"daily\""
            )
        };
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (one(a).ok_or_else(bad)?, one(b).ok_or_else(bad)?);
                let mut i = a;
                loop {
                    days[i] = true;
                    if i == b {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => days[one(item).ok_or_else(bad)?] = true,
        }
    }
    Ok(days)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn day_numbers_round_trip() {
        assert_eq!(day_number(date(1970, 1, 1)), 0);
        assert_eq!(
            day_number(date(2024, 2, 29)) + 1,
            day_number(date(2024, 3, 1))
        );
        for n in -800_000..800_000i64 {
            if n % 997 == 0 {
                assert_eq!(day_number(date_of(n)), n);
            }
        }
        assert_eq!(date_of(day_number(date(2028, 2, 29))), date(2028, 2, 29));
    }

    #[test]
    fn dst_rule_berlin() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        // spring forward: 02:30 does not exist; read with +01:00 → 03:30 CEST
        let t = local_instant(&tz, date(2026, 3, 29), 150);
        assert_eq!(t.to_string(), "2026-03-29T01:30:00Z");
        // autumn: 02:30 happens twice; the first (CEST, +02:00)
        let t = local_instant(&tz, date(2026, 10, 25), 150);
        assert_eq!(t.to_string(), "2026-10-25T00:30:00Z");
    }

    #[test]
    fn dst_rule_new_york() {
        let tz = TimeZone::get("America/New_York").unwrap();
        let t = local_instant(&tz, date(2026, 3, 8), 150);
        assert_eq!(t.to_string(), "2026-03-08T07:30:00Z"); // 03:30 EDT
        let t = local_instant(&tz, date(2026, 11, 1), 90);
        assert_eq!(t.to_string(), "2026-11-01T05:30:00Z"); // first 01:30 (EDT)
    }

    #[test]
    fn written_forms_are_strict() {
        use jiff::civil::date;
        assert_eq!(
            parse_written("2026-04-08"),
            Some(Written::Date(date(2026, 4, 8)))
        );
        assert_eq!(
            parse_written("2026-04-08T10:00"),
            Some(Written::Local(date(2026, 4, 8).at(10, 0, 0, 0)))
        );
        assert_eq!(
            parse_written("2026-04-08T10:00:30"),
            Some(Written::Local(date(2026, 4, 8).at(10, 0, 30, 0)))
        );
        let t = |s: &str| Some(Written::Instant(s.parse::<Timestamp>().unwrap()));
        assert_eq!(
            parse_written("2026-04-08T10:00:00+02:00"),
            t("2026-04-08T08:00:00Z")
        );
        assert_eq!(
            parse_written("2026-04-08T10:00:00-04:30"),
            t("2026-04-08T14:30:00Z")
        );
        assert_eq!(
            parse_written("2026-04-08T10:00:00Z"),
            t("2026-04-08T10:00:00Z")
        );
        for bad in [
            "",
            "2026-4-08",
            "2026-02-30",
            "1899-12-31",
            "2026-04-08 10:00",
            "2026-04-08T10",
            "2026-04-08T1000",
            "2026-04-08T24:00",
            "2026-04-08T10:60",
            "2026-04-08T10:00:60",
            "2026-04-08T10:00+02:00",
            "2026-04-08T10:00:00+0200",
            "2026-04-08T10:00:00[Europe/Berlin]",
            "2026-04-08T10:00:00.5",
            "2026-04-08t10:00",
            "2026-04-08T10:00 ",
            "2026-04-08T10:0é",
            "20260408T100000",
        ] {
            assert_eq!(parse_written(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn written_local_times_follow_the_dst_rule() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let at = |s: &str| parse_written(s).unwrap().instant(&tz).to_string();
        assert_eq!(at("2026-03-29T02:30"), "2026-03-29T01:30:00Z");
        assert_eq!(at("2026-10-25T02:30:15"), "2026-10-25T00:30:15Z");
        assert_eq!(at("2026-10-25"), "2026-10-24T22:00:00Z");
        assert_eq!(at("2026-10-25T02:30:00+01:00"), "2026-10-25T01:30:00Z");
    }

    #[test]
    fn hhmm_and_days() {
        assert_eq!(parse_hhmm("08:30"), Some(510));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:01"), None);
        assert_eq!(parse_hhmm("8:30"), None);
        assert_eq!(
            parse_days(&["mon-fri"]).unwrap(),
            [true, true, true, true, true, false, false]
        );
        assert_eq!(
            parse_days(&["sat-mon"]).unwrap(),
            [true, false, false, false, false, true, true]
        );
        assert_eq!(
            parse_days(&["Sunday", "wed"]).unwrap(),
            [false, false, true, false, false, false, true]
        );
        assert!(parse_days(&["funday"]).is_err());
    }

    #[test]
    fn overnight_window() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let w = [Window {
            days: parse_days(&["fri"]).unwrap(),
            from: 18 * 60,
            to: 8 * 60,
        }];
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        // Fri 2026-01-09 20:00 CET and Sat 07:59 are inside; Sat 08:00 is not
        assert_eq!(
            window_at(&tz, &w, at("2026-01-09T19:00:00Z"), |_| true),
            Some(0)
        );
        assert_eq!(
            window_at(&tz, &w, at("2026-01-10T06:59:00Z"), |_| true),
            Some(0)
        );
        assert_eq!(
            window_at(&tz, &w, at("2026-01-10T07:00:00Z"), |_| true),
            None
        );
        assert_eq!(
            window_at(&tz, &w, at("2026-01-09T16:59:00Z"), |_| true),
            None
        );
        let mut edges = vec![];
        window_edges(
            &tz,
            &w,
            at("2026-01-05T00:00:00Z"),
            at("2026-01-12T00:00:00Z"),
            &mut edges,
        );
        edges.sort();
        assert_eq!(
            edges,
            vec![at("2026-01-09T17:00:00Z"), at("2026-01-10T07:00:00Z")]
        );
    }
}
