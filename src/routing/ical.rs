//! iCal feeds (RFC 5545): text → events → occurrences, and events → users.
//!
//! Pure: fetching and caching live in `crate::app::feeds`. Parsing uses the
//! `icalendar` crate's parser, recurrence (`RRULE`) the `rrule` crate; `EXDATE`,
//! `RDATE`, `RECURRENCE-ID` (a moved instance) and `STATUS:CANCELLED` are applied
//! here. All-day events (`VALUE=DATE`) and floating times are read in the schedule's
//! zone; an unknown `TZID` falls back to it too, with a warning. Local times that do
//! not exist or exist twice follow the DST rule of [`super::time`].

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rrule::RRuleSet;

use super::time::{date_of, day_number, local_date, local_instant};

/// Cap on expanded instances per event and query (a guard against runaway rules).
const MAX_INSTANCES: usize = 200_000;

/// How long each occurrence lasts.
#[derive(Debug, Clone, Copy)]
enum Length {
    Exact(SignedDuration),
    /// A `DURATION` in nominal units (days, weeks) added in the event's zone.
    Nominal(jiff::Span),
    /// Whole local days (all-day events): the end is local midnight, DST or not.
    Days(i64),
}

/// One event of a feed.
#[derive(Debug, Clone)]
pub struct Event {
    /// UID (or `event-N` when missing).
    pub uid: String,
    /// SUMMARY.
    pub summary: String,
    /// DESCRIPTION.
    pub description: String,
    /// ATTENDEE and ORGANIZER values (`mailto:...`, `tel:...`) and their CN names.
    pub people: Vec<String>,
    /// Start of the first occurrence.
    pub start: Timestamp,
    /// Whether it is an all-day event.
    pub all_day: bool,
    tz: TimeZone,
    length: Length,
    rrule: Option<RRuleSet>,
    rdates: Vec<Timestamp>,
    exdates: Vec<Timestamp>,
}

/// One occurrence of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Occurrence {
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
}

/// A parsed feed.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// Events, cancelled ones left out.
    pub events: Vec<Event>,
    /// Problems that did not stop the parse (each names the event).
    pub warnings: Vec<String>,
}

/// An event with the users it names.
#[derive(Debug, Clone)]
pub struct MappedEvent {
    /// The event.
    pub event: Event,
    /// User ids it maps to.
    pub users: Vec<String>,
}

/// How feed events are mapped to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchBy {
    /// `ATTENDEE`/`ORGANIZER` `mailto:` addresses, or an address in the summary or
    /// description, equal to a user's `email`.
    Email,
    /// A user's phone number (E.164; spaces, dashes and brackets ignored) in the event.
    Phone,
    /// A user's name or id in the summary or an attendee's `CN` (whole words, any case).
    Name,
}

/// What a mapper needs to know of a user.
#[derive(Debug, Clone)]
pub struct Person {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail address, if known.
    pub email: Option<String>,
    /// Phone numbers (E.164).
    pub phones: Vec<String>,
}

fn parse_value(
    val: &str,
    tzid: Option<&str>,
    is_date: bool,
    default_tz: &TimeZone,
    warnings: &mut Vec<String>,
    uid: &str,
) -> Result<(Timestamp, bool, TimeZone), String> {
    let val = val.trim();
    if is_date || (val.len() == 8 && val.bytes().all(|b| b.is_ascii_digit())) {
        let d = Date::strptime("%Y%m%d", val).map_err(|e| format!("`{val}` is not a date: {e}"))?;
        return Ok((local_instant(default_tz, d, 0), true, default_tz.clone()));
    }
    let (text, utc) = match val.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (val, false),
    };
    let dt = DateTime::strptime("%Y%m%dT%H%M%S", text)
        .map_err(|e| format!("`{val}` is not a date-time: {e}"))?;
    let tz = if utc {
        TimeZone::UTC
    } else if let Some(id) = tzid {
        match TimeZone::get(id.trim_matches('"')) {
            Ok(tz) => tz,
            Err(_) => {
                warnings.push(format!(
                    "event {uid}: unknown TZID `{id}`, read in the schedule's zone instead"
                ));
                default_tz.clone()
            }
        }
    } else {
        default_tz.clone()
    };
    let t = tz
        .to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|e| format!("`{val}`: {e}"))?;
    Ok((t, false, tz))
}

fn param<'a>(p: &'a icalendar::parser::Property<'a>, key: &str) -> Option<&'a str> {
    p.params
        .iter()
        .find(|x| x.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|x| x.val.as_ref().map(|v| v.as_str()))
}

/// Parses the text of a feed. `tz` is the schedule's zone (for all-day and floating
/// times). An error means the text is not an iCalendar at all.
pub fn parse(text: &str, tz: &TimeZone) -> Result<Feed, String> {
    if !text.trim_start().starts_with("BEGIN:VCALENDAR") {
        return Err("not an iCalendar file (it does not start with BEGIN:VCALENDAR)".into());
    }
    let unfolded = icalendar::parser::unfold(text);
    let cal = icalendar::parser::read_calendar(&unfolded).map_err(|e| {
        format!(
            "not a valid iCalendar file: {}",
            e.lines().next().unwrap_or("")
        )
    })?;
    let mut feed = Feed::default();
    let mut moved: Vec<(String, Timestamp)> = Vec::new();
    let mut vevents = Vec::new();
    fn collect<'a>(
        c: &'a icalendar::parser::Component<'a>,
        out: &mut Vec<&'a icalendar::parser::Component<'a>>,
    ) {
        if c.name.as_str().eq_ignore_ascii_case("VEVENT") {
            out.push(c);
        }
        for s in &c.components {
            collect(s, out);
        }
    }
    for c in &cal.components {
        collect(c, &mut vevents);
    }
    for (n, c) in vevents.into_iter().enumerate() {
        let get = |name: &str| {
            c.properties
                .iter()
                .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
        };
        let all = |name: &'static str| {
            c.properties
                .iter()
                .filter(move |p| p.name.as_str().eq_ignore_ascii_case(name))
        };
        let uid = get("UID").map_or_else(
            || format!("event-{}", n + 1),
            |p| p.val.as_str().to_string(),
        );
        let w = &mut feed.warnings;
        let status = get("STATUS").map(|p| p.val.as_str().to_ascii_uppercase());
        let value = |p: &icalendar::parser::Property<'_>, w: &mut Vec<String>| {
            parse_value(
                p.val.as_str(),
                param(p, "TZID"),
                param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE")),
                tz,
                w,
                &uid,
            )
        };
        if let Some(rid) = get("RECURRENCE-ID") {
            if let Ok((t, _, _)) = value(rid, w) {
                moved.push((uid.clone(), t));
            }
        }
        if status.as_deref() == Some("CANCELLED") {
            continue;
        }
        let Some(dtstart) = get("DTSTART") else {
            w.push(format!("event {uid}: no DTSTART, ignored"));
            continue;
        };
        let (start, all_day, ev_tz) = match value(dtstart, w) {
            Ok(v) => v,
            Err(e) => {
                w.push(format!("event {uid}: DTSTART {e}, ignored"));
                continue;
            }
        };
        let length = if let Some(end) = get("DTEND") {
            match value(end, w) {
                Ok((e, true, _)) if all_day => {
                    Length::Days(day_number(local_date(tz, e)) - day_number(local_date(tz, start)))
                }
                Ok((e, _, _)) => Length::Exact(e.duration_since(start)),
                Err(e) => {
                    w.push(format!("event {uid}: DTEND {e}, ignored"));
                    continue;
                }
            }
        } else if let Some(d) = get("DURATION") {
            match d.val.as_str().parse::<jiff::Span>() {
                Ok(span) if all_day && span.get_hours() == 0 && span.get_minutes() == 0 => {
                    Length::Days(i64::from(span.get_days()) + 7 * i64::from(span.get_weeks()))
                }
                Ok(span) => match start.to_zoned(ev_tz.clone()).checked_add(span) {
                    Ok(z) if z.timestamp() > start => Length::Nominal(span),
                    Ok(_) => Length::Exact(SignedDuration::ZERO),
                    Err(e) => {
                        w.push(format!("event {uid}: DURATION {e}, ignored"));
                        continue;
                    }
                },
                Err(e) => {
                    w.push(format!(
                        "event {uid}: DURATION `{}` {e}, ignored",
                        d.val.as_str()
                    ));
                    continue;
                }
            }
        } else if all_day {
            Length::Days(1)
        } else {
            Length::Exact(SignedDuration::ZERO)
        };
        if matches!(length, Length::Exact(d) if d <= SignedDuration::ZERO)
            || matches!(length, Length::Days(d) if d <= 0)
        {
            w.push(format!(
                "event {uid}: ends before it starts or lasts no time, ignored"
            ));
            continue;
        }
        let rrule = match get("RRULE") {
            None => None,
            Some(r) => {
                // DTSTART in the event's own zone so the rule repeats in local time.
                let local = ev_tz.to_datetime(start);
                let dtstart = match ev_tz.iana_name() {
                    Some(name) if name != "UTC" => {
                        format!("DTSTART;TZID={name}:{}", local.strftime("%Y%m%dT%H%M%S"))
                    }
                    _ => format!("DTSTART:{}Z", start.strftime("%Y%m%dT%H%M%S")),
                };
                match format!("{dtstart}\nRRULE:{}", r.val.as_str()).parse::<RRuleSet>() {
                    Ok(set) => Some(set),
                    Err(e) => {
                        w.push(format!(
                            "event {uid}: RRULE `{}`: {e}; only the first occurrence is used",
                            r.val.as_str()
                        ));
                        None
                    }
                }
            }
        };
        let dates = |name: &'static str, w: &mut Vec<String>| {
            let mut out = Vec::new();
            for p in all(name) {
                for v in p.val.as_str().split(',') {
                    match parse_value(
                        v,
                        param(p, "TZID"),
                        param(p, "VALUE").is_some_and(|x| x.eq_ignore_ascii_case("DATE")),
                        tz,
                        w,
                        &uid,
                    ) {
                        // a date-only EXDATE/RDATE of a timed event means that day at the start's time
                        Ok((t, true, _)) if !all_day => {
                            let d = local_date(tz, t);
                            let tod = ev_tz.to_datetime(start).time();
                            let dt = d.to_datetime(tod);
                            out.push(ev_tz.to_ambiguous_timestamp(dt).compatible().unwrap_or(t));
                        }
                        Ok((t, _, _)) => out.push(t),
                        Err(e) => w.push(format!("event {uid}: {name} {e}, ignored")),
                    }
                }
            }
            out
        };
        let exdates = dates("EXDATE", w);
        let rdates = dates("RDATE", w);
        let mut people = Vec::new();
        for p in all("ATTENDEE").chain(all("ORGANIZER")) {
            people.push(p.val.as_str().to_string());
            if let Some(cn) = param(p, "CN") {
                people.push(cn.trim_matches('"').to_string());
            }
        }
        feed.events.push(Event {
            uid,
            summary: get("SUMMARY")
                .map(|p| p.val.as_str().to_string())
                .unwrap_or_default(),
            description: get("DESCRIPTION")
                .map(|p| p.val.as_str().to_string())
                .unwrap_or_default(),
            people,
            start,
            all_day,
            tz: ev_tz,
            length,
            rrule,
            rdates,
            exdates,
        });
    }
    // A moved instance (RECURRENCE-ID) replaces the master's instance at that time.
    for (uid, t) in moved {
        for e in feed
            .events
            .iter_mut()
            .filter(|e| e.uid == uid && e.rrule.is_some())
        {
            e.exdates.push(t);
        }
    }
    Ok(feed)
}

impl Event {
    fn end_of(&self, start: Timestamp) -> Timestamp {
        match self.length {
            Length::Exact(d) => start.checked_add(d).unwrap_or(Timestamp::MAX),
            Length::Nominal(span) => start
                .to_zoned(self.tz.clone())
                .checked_add(span)
                .map_or(Timestamp::MAX, |z| z.timestamp()),
            Length::Days(n) => local_instant(
                &self.tz,
                date_of(day_number(local_date(&self.tz, start)) + n),
                0,
            ),
        }
    }

    /// Every occurrence that overlaps `[from, to)`, in order of start.
    pub fn occurrences_between(&self, from: Timestamp, to: Timestamp) -> Vec<Occurrence> {
        let mut starts: Vec<Timestamp> = self.rdates.clone();
        match &self.rrule {
            None => starts.push(self.start),
            Some(set) => {
                for dt in set.into_iter().take(MAX_INSTANCES) {
                    let Ok(s) = Timestamp::from_second(dt.timestamp()) else {
                        break;
                    };
                    if s >= to {
                        break;
                    }
                    starts.push(s);
                }
            }
        }
        let mut out: Vec<Occurrence> = starts
            .into_iter()
            .filter(|s| !self.exdates.contains(s))
            .map(|s| Occurrence {
                start: s,
                end: self.end_of(s),
            })
            .filter(|o| o.start < to && o.end > from)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The occurrences in force at `t`.
    pub fn occurrences_covering(&self, t: Timestamp) -> Vec<Occurrence> {
        let next = t.checked_add(SignedDuration::from_nanos(1)).unwrap_or(t);
        self.occurrences_between(t, next)
    }

    /// Starts and ends of occurrences strictly inside `(from, to)`.
    pub fn edges(&self, from: Timestamp, to: Timestamp, out: &mut Vec<Timestamp>) {
        for o in self.occurrences_between(from, to) {
            for e in [o.start, o.end] {
                if from < e && e < to {
                    out.push(e);
                }
            }
        }
    }
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| {
        !c.is_alphanumeric() && c != '-' && c != '_' && c != '.' && c != '@' && c != '+'
    })
    .filter(|w| !w.is_empty())
    .map(|w| w.to_lowercase())
    .collect()
}

fn digits(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// Maps each event to users. Events that name nobody known are reported and left out.
pub fn map_events(feed: &Feed, people: &[Person], by: MatchBy) -> (Vec<MappedEvent>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for ev in &feed.events {
        let mut users = Vec::new();
        let text = format!("{} {} {}", ev.summary, ev.description, ev.people.join(" "));
        for p in people {
            let hit = match by {
                MatchBy::Email => p.email.as_ref().is_some_and(|e| {
                    let e = e.to_lowercase();
                    words(&text)
                        .iter()
                        .any(|w| w.trim_start_matches("mailto:") == e)
                }),
                MatchBy::Phone => {
                    let flat = digits(&text.replace("tel:", " "));
                    p.phones
                        .iter()
                        .any(|ph| !ph.is_empty() && flat.contains(ph.as_str()))
                }
                MatchBy::Name => {
                    let hay = format!("{} {}", ev.summary, ev.people.join(" ")).to_lowercase();
                    let ws = words(&hay);
                    let name = p.name.to_lowercase();
                    let name_words = words(&name);
                    (!name_words.is_empty()
                        && ws
                            .windows(name_words.len())
                            .any(|w| w == name_words.as_slice()))
                        || ws.iter().any(|w| *w == p.id.to_lowercase())
                }
            };
            if hit {
                users.push(p.id.clone());
            }
        }
        if users.is_empty() {
            warnings.push(format!(
                "event {} (`{}`) names no known user (matching by {}): add the person as a [[user]] or fix the feed",
                ev.uid,
                ev.summary,
                match by {
                    MatchBy::Email => "email",
                    MatchBy::Phone => "phone",
                    MatchBy::Name => "name",
                }
            ));
            continue;
        }
        out.push(MappedEvent {
            event: ev.clone(),
            users,
        });
    }
    (out, warnings)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nSUMMARY:On call: Alice Adams\r\n\
ATTENDEE;CN=Alice Adams:mailto:alice@example.com\r\n\
DTSTART;TZID=Europe/Berlin:20260302T090000\r\nDTEND;TZID=Europe/Berlin:20260309T090000\r\n\
RRULE:FREQ=WEEKLY;INTERVAL=2\r\nEXDATE;TZID=Europe/Berlin:20260330T090000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly-2\r\nSUMMARY:On call: Bob Brown\r\n\
ATTENDEE:mailto:BOB@example.com\r\n\
DTSTART;TZID=Europe/Berlin:20260309T090000\r\nDURATION:P7D\r\n\
RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=20260501T000000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:holiday\r\nSUMMARY:Carol covers the holiday\r\n\
DTSTART;VALUE=DATE:20260406\r\nDTEND;VALUE=DATE:20260407\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:gone\r\nSTATUS:CANCELLED\r\nSUMMARY:Alice\r\n\
DTSTART:20260101T000000Z\r\nDTEND:20260102T000000Z\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    fn people() -> Vec<Person> {
        let p = |id: &str, name: &str, email: &str, phone: &str| Person {
            id: id.into(),
            name: name.into(),
            email: Some(email.into()),
            phones: vec![phone.into()],
        };
        vec![
            p("alice", "Alice Adams", "alice@example.com", "+491701111111"),
            p("bob", "Bob Brown", "bob@example.com", "+491702222222"),
            p("carol", "Carol Clark", "carol@example.com", "+491703333333"),
        ]
    }

    #[test]
    fn recurring_events_with_exdate_across_dst() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let f = parse(FEED, &tz).unwrap();
        assert_eq!(f.events.len(), 3, "{:?}", f.warnings);
        let alice = &f.events[0];
        let occ = alice.occurrences_between(ts("2026-03-01T00:00:00Z"), ts("2026-05-01T00:00:00Z"));
        // Mar 2, Mar 16, (Mar 30 excluded), Apr 13, Apr 27 — 09:00 local, CET then CEST
        let starts: Vec<String> = occ.iter().map(|o| o.start.to_string()).collect();
        assert_eq!(
            starts,
            vec![
                "2026-03-02T08:00:00Z",
                "2026-03-16T08:00:00Z",
                "2026-04-13T07:00:00Z",
                "2026-04-27T07:00:00Z"
            ]
        );
        // the week across the DST change still ends at 09:00 local: 168 h minus 1 h
        assert_eq!(occ[1].end, ts("2026-03-23T08:00:00Z"));
        let bob = &f.events[1];
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        let o = bob.occurrences_covering(ts("2026-03-24T12:00:00Z"));
        assert_eq!(o.len(), 1);
        // DURATION:P7D is seven local days: 09:00 CET to 09:00 CEST
        assert_eq!(o[0].end, ts("2026-03-30T07:00:00Z"));
        assert!(
            bob.occurrences_covering(ts("2026-05-05T12:00:00Z"))
                .is_empty(),
            "UNTIL"
        );
    }

    #[test]
    fn all_day_event_is_local_midnight_to_midnight() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let f = parse(FEED, &tz).unwrap();
        let h = &f.events[2];
        assert!(h.all_day);
        let o = h.occurrences_between(ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"));
        assert_eq!(
            o,
            vec![Occurrence {
                start: ts("2026-04-05T22:00:00Z"),
                end: ts("2026-04-06T22:00:00Z")
            }]
        );
    }

    #[test]
    fn mapping_by_email_name_and_phone() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let f = parse(FEED, &tz).unwrap();
        let (m, w) = map_events(&f, &people(), MatchBy::Email);
        assert_eq!(
            m.iter().map(|e| e.users.join(",")).collect::<Vec<_>>(),
            vec!["alice", "bob"]
        );
        assert_eq!(w.len(), 1, "the holiday event names no e-mail: {w:?}");
        let (m, _) = map_events(&f, &people(), MatchBy::Name);
        assert_eq!(m.len(), 3, "Carol is found by name");
        let text = FEED.replace("Carol covers the holiday", "Cover +49 170 3333333");
        let (m, _) = map_events(&parse(&text, &tz).unwrap(), &people(), MatchBy::Phone);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].users, vec!["carol"]);
    }

    #[test]
    fn moved_instance_and_garbage() {
        let tz = TimeZone::UTC;
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nSUMMARY:a\nDTSTART:20260101T000000Z\nDTEND:20260101T080000Z\nRRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT\nBEGIN:VEVENT\nUID:x\nRECURRENCE-ID:20260102T000000Z\nSUMMARY:a\nDTSTART:20260102T100000Z\nDTEND:20260102T120000Z\nEND:VEVENT\nEND:VCALENDAR\n";
        let f = parse(text, &tz).unwrap();
        let all: Vec<_> = f
            .events
            .iter()
            .flat_map(|e| {
                e.occurrences_between(ts("2026-01-01T00:00:00Z"), ts("2026-01-10T00:00:00Z"))
            })
            .map(|o| o.start.to_string())
            .collect();
        assert_eq!(
            all,
            vec![
                "2026-01-01T00:00:00Z",
                "2026-01-03T00:00:00Z",
                "2026-01-02T10:00:00Z"
            ]
        );
        assert!(
            parse("<html>oops</html>", &tz)
                .unwrap_err()
                .contains("BEGIN:VCALENDAR")
        );
        let bad = parse(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:y\nDTSTART:garbage\nEND:VEVENT\nEND:VCALENDAR\n",
            &tz,
        )
        .unwrap();
        assert!(bad.events.is_empty());
        assert!(bad.warnings[0].contains("event y"), "{:?}", bad.warnings);
    }
}
