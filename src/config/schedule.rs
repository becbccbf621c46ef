//! `[[schedule]]` and `support_hours`: the TOML shape, validation with located
//! problems, and compilation into the pure `crate::routing` types.

use std::collections::HashSet;
use std::time::Duration;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde::Deserialize;
use toml::Spanned;

use super::error::Problems;
use crate::routing::ical::MatchBy;
use crate::routing::schedule::{Layer, Override, Rotation, Schedule, Shift};
use crate::routing::support::{DateSpan, Exception, OutOfHours, SupportHours};
use crate::routing::time::{Window, Written, local_instant, parse_days, parse_hhmm, parse_written};

/// An on-call schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Id used by policy levels.
    pub id: Spanned<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// IANA time zone (`Europe/Berlin`).
    pub time_zone: Spanned<String>,
    /// Rotation layers, lowest first.
    #[serde(default, rename = "layer")]
    pub layers: Vec<LayerConfig>,
    /// Overrides, oldest first.
    #[serde(default, rename = "override")]
    pub overrides: Vec<OverrideConfig>,
    /// Follow an iCal feed instead of layers.
    #[serde(default)]
    pub feed: Option<FeedConfig>,
}

/// A rotation layer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Participants in turn order.
    #[serde(default)]
    pub users: Vec<Spanned<String>>,
    /// Shift length: `12h`, `1d`, `2w`.
    pub shift: Spanned<String>,
    /// First day of the first shift (`2026-01-05`), or its first handoff as a local
    /// date-time (`2026-01-05T09:00`).
    pub start: Spanned<String>,
    /// Handoff time `HH:MM`, local.
    #[serde(default = "midnight")]
    pub handoff: Spanned<String>,
    /// End of the rotation (exclusive): a local date-time or date in the layer's zone,
    /// or a date-time with offset.
    #[serde(default)]
    pub end: Option<Spanned<String>>,
    /// Zone of this layer, if it differs from the schedule's.
    #[serde(default)]
    pub time_zone: Option<Spanned<String>>,
    /// Weekly windows this layer is restricted to.
    #[serde(default, rename = "restriction")]
    pub restrictions: Vec<WindowConfig>,
}

/// A weekly window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Weekdays on which the window starts: `["mon-fri"]`, `["sat", "sun"]`, `["daily"]`.
    pub days: Spanned<Vec<String>>,
    /// Start `HH:MM`.
    pub from: Spanned<String>,
    /// End `HH:MM` (`24:00` allowed; earlier than `from`: runs over midnight).
    pub to: Spanned<String>,
}

/// Someone covers a span.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideConfig {
    /// User id.
    pub user: Spanned<String>,
    /// Start (local date-time in the schedule's zone, or RFC 3339).
    pub from: Spanned<String>,
    /// End (exclusive).
    pub to: Spanned<String>,
}

/// An iCal feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// `http://` or `https://` URL.
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// A file path.
    #[serde(default)]
    pub file: Option<Spanned<String>>,
    /// How events map to users: `email`, `phone` or `name`.
    #[serde(default = "by_email", rename = "match")]
    pub match_by: Spanned<String>,
    /// How often a URL is fetched.
    #[serde(default = "m15", deserialize_with = "super::duration")]
    pub refresh: Spanned<Duration>,
}

impl FeedConfig {
    /// How events map to users (validated).
    pub fn matcher(&self) -> MatchBy {
        match self.match_by.get_ref().as_str() {
            "phone" => MatchBy::Phone,
            "name" => MatchBy::Name,
            _ => MatchBy::Email,
        }
    }
}

/// Support hours of a routing number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportHoursConfig {
    /// IANA time zone.
    pub time_zone: Spanned<String>,
    /// Weekly open windows.
    #[serde(default, rename = "window")]
    pub windows: Vec<WindowConfig>,
    /// Closed days.
    #[serde(default, rename = "holiday")]
    pub holidays: Vec<DaysConfig>,
    /// Days with special hours.
    #[serde(default, rename = "exception")]
    pub exceptions: Vec<DaysConfig>,
    /// `route` (default) or `closed`.
    #[serde(default = "route")]
    pub out_of_hours: Spanned<String>,
}

/// A day or a span of days, for holidays and exceptions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaysConfig {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// A single date.
    #[serde(default)]
    pub date: Option<Spanned<String>>,
    /// First date of a span.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// Last date of a span (inclusive).
    #[serde(default)]
    pub to: Option<Spanned<String>>,
    /// Every year.
    #[serde(default)]
    pub yearly: bool,
    /// Exceptions only: open hours on those days, `["10:00-14:00"]`; empty = closed.
    #[serde(default)]
    pub hours: Option<Spanned<Vec<String>>>,
}

fn midnight() -> Spanned<String> {
    Spanned::new(0..0, "00:00".into())
}
fn by_email() -> Spanned<String> {
    Spanned::new(0..0, "email".into())
}
fn route() -> Spanned<String> {
    Spanned::new(0..0, "route".into())
}
fn m15() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(900))
}

fn span_of<T>(s: &Spanned<T>) -> Option<std::ops::Range<usize>> {
    let r = s.span();
    (r != (0..0)).then_some(r)
}

/// A real IANA zone or a problem.
pub(crate) fn zone(p: &mut Problems<'_>, s: &Spanned<String>, key: &str) -> Option<TimeZone> {
    match TimeZone::get(s.get_ref()) {
        Ok(tz) => Some(tz),
        Err(_) => {
            p.at(
                span_of(s),
                key,
                format!(
                    "`{}` is not a known IANA time zone: write e.g. \"Europe/Berlin\", \"America/New_York\" or \"UTC\"",
                    s.get_ref()
                ),
            );
            None
        }
    }
}

/// What a date or date-time field takes. Every such field is read by
/// [`parse_written`] (one syntax for the whole file); this only says which of its
/// forms make sense for the field, and how to say so.
#[derive(Debug, Clone, Copy)]
enum Takes {
    /// Whole local days (holidays, exceptions): a date only.
    Day,
    /// A rotation's start: a date, or its first handoff as a local date-time.
    Start,
    /// An instant (override bounds, a rotation's end): any form; a local date-time
    /// and a date (its midnight) are in the zone named here.
    Instant(&'static str),
}

/// The one reader of date and date-time fields: a located problem names the key and
/// shows the forms the field accepts.
fn written(p: &mut Problems<'_>, s: &Spanned<String>, key: &str, takes: Takes) -> Option<Written> {
    let v = s.get_ref();
    let parsed = parse_written(v);
    let message = match (takes, parsed) {
        (Takes::Day, Some(Written::Date(_)))
        | (Takes::Start, Some(Written::Date(_) | Written::Local(_)))
        | (Takes::Instant(_), Some(_)) => return parsed,
        (Takes::Day, Some(_)) => format!(
            "`{v}` has a time of day, but this is a whole local day: write the date alone, YYYY-MM-DD, e.g. \"{}\" (for special hours on a day use an exception with hours = [\"10:00-14:00\"])",
            v.get(..10).unwrap_or("2026-12-24")
        ),
        (Takes::Day, None) => format!("`{v}` is not a date: write YYYY-MM-DD, e.g. \"2026-12-24\""),
        (Takes::Start, Some(_)) => format!(
            "`{v}` has an offset, but a rotation starts at a local time of the layer's zone: write the first day, \"2026-01-05\" (the first shift starts at `handoff`), or the first handoff, \"2026-01-05T09:00\""
        ),
        (Takes::Start, None) => format!(
            "`{v}` is not a date: write the first day, YYYY-MM-DD, e.g. \"2026-01-05\" (the first shift starts at `handoff`), or the first handoff as YYYY-MM-DDTHH:MM, e.g. \"2026-01-05T09:00\""
        ),
        (Takes::Instant(zone), None) => format!(
            "`{v}` is not a date-time: write a local time in the {zone} zone as \"2026-04-08T10:00\" or \"2026-04-08T10:00:00\", with an offset as \"2026-04-08T10:00:00+02:00\", or a date as \"2026-04-08\" (its local midnight)"
        ),
    };
    p.at(span_of(s), key, message);
    None
}

fn hhmm(p: &mut Problems<'_>, s: &Spanned<String>, key: &str) -> Option<u16> {
    let r = parse_hhmm(s.get_ref());
    if r.is_none() {
        p.at(
            span_of(s),
            key,
            format!(
                "`{}` is not a time of day: write HH:MM from 00:00 to 24:00, e.g. \"09:00\"",
                s.get_ref()
            ),
        );
    }
    r
}

fn window(p: &mut Problems<'_>, w: &WindowConfig, key: &str) -> Option<Window> {
    let days: Vec<&str> = w.days.get_ref().iter().map(String::as_str).collect();
    let days = match parse_days(&days) {
        Ok(d) if d.iter().any(|x| *x) => Some(d),
        Ok(_) => {
            p.at(
                span_of(&w.days),
                format!("{key}.days"),
                "no weekdays: list at least one, e.g. [\"mon-fri\"]",
            );
            None
        }
        Err(e) => {
            p.at(span_of(&w.days), format!("{key}.days"), e);
            None
        }
    };
    let from = hhmm(p, &w.from, &format!("{key}.from"));
    let to = hhmm(p, &w.to, &format!("{key}.to"));
    if from == Some(1440) {
        p.at(
            span_of(&w.from),
            format!("{key}.from"),
            "a window cannot start at 24:00: use 00:00",
        );
        return None;
    }
    Some(Window {
        days: days?,
        from: from?,
        to: to?,
    })
}

fn shift(p: &mut Problems<'_>, s: &Spanned<String>, key: &str) -> Option<Shift> {
    let v = s.get_ref().trim();
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: Option<u32> = num.parse().ok().filter(|n| (1..=9000).contains(n));
    let r = match (n, unit.trim()) {
        (Some(n), "h") => Some(Shift::Hours(n)),
        (Some(n), "d") => Some(Shift::Days(n)),
        (Some(n), "w") => Some(Shift::Weeks(n)),
        _ => None,
    };
    if r.is_none() {
        p.at(
            span_of(s),
            key,
            format!("`{v}` is not a shift length: write a number (1 to 9000) and h, d or w, e.g. \"12h\", \"1d\", \"1w\""),
        );
    }
    r
}

/// Validates the schedules and compiles them.
pub(crate) fn build_schedules(
    list: &[ScheduleConfig],
    users: &HashSet<&str>,
    p: &mut Problems<'_>,
) -> Vec<Schedule> {
    let mut ids = HashSet::new();
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let key = format!("schedule[{i}]");
        let id = s.id.get_ref();
        if !super::board::valid_id(id) {
            p.at(
                span_of(&s.id),
                format!("{key}.id"),
                format!("`{id}` is not a valid id: use letters, digits, `-` or `_`"),
            );
        }
        if !ids.insert(id.as_str()) {
            p.at(
                span_of(&s.id),
                format!("{key}.id"),
                format!("schedule id `{id}` is used twice: every schedule needs its own id"),
            );
        }
        let tz = zone(p, &s.time_zone, &format!("{key}.time_zone")).unwrap_or(TimeZone::UTC);
        let user_ok = |p: &mut Problems<'_>, u: &Spanned<String>, k: String| {
            if !users.contains(u.get_ref().as_str()) {
                p.at(
                    span_of(u),
                    k,
                    format!(
                        "no user with id `{}`: define it in a [[user]] section or fix the spelling",
                        u.get_ref()
                    ),
                );
            }
        };
        match (&s.feed, s.layers.is_empty()) {
            (Some(_), false) => p.at(
                span_of(&s.id),
                format!("{key}.feed"),
                format!("schedule `{id}` has both a feed and layers: a schedule follows either an iCal feed or its own rotations; split it in two"),
            ),
            (None, true) => p.at(
                span_of(&s.id),
                format!("{key}.layer"),
                format!("schedule `{id}` has no layers: add [[schedule.layer]] with users, shift and start, or feed = {{ file = \"...\" }}"),
            ),
            _ => {}
        }
        if let Some(f) = &s.feed {
            let fk = format!("{key}.feed");
            match (&f.url, &f.file) {
                (Some(_), Some(_)) | (None, None) => p.at(
                    span_of(&s.id),
                    fk.clone(),
                    "a feed needs exactly one of url = \"https://...\" or file = \"/path/to/calendar.ics\"",
                ),
                (Some(u), None) => {
                    let v = u.get_ref();
                    if !(v.starts_with("http://") || v.starts_with("https://")) {
                        p.at(span_of(u), format!("{fk}.url"), format!("`{v}` is not an http(s) URL: for a local file write file = \"...\""));
                    }
                }
                (None, Some(_)) => {}
            }
            if !["email", "phone", "name"].contains(&f.match_by.get_ref().as_str()) {
                p.at(
                    span_of(&f.match_by),
                    format!("{fk}.match"),
                    format!(
                        "`{}`: use \"email\", \"phone\" or \"name\"",
                        f.match_by.get_ref()
                    ),
                );
            }
            let secs = f.refresh.get_ref().as_secs();
            if !(60..=86_400).contains(&secs) {
                p.at(
                    span_of(&f.refresh),
                    format!("{fk}.refresh"),
                    format!("{secs} s is out of range: use 1m to 24h"),
                );
            }
        }
        let mut layers = Vec::new();
        for (l, lc) in s.layers.iter().enumerate() {
            let lk = format!("{key}.layer[{l}]");
            if lc.users.is_empty() {
                p.at(
                    span_of(&lc.shift),
                    format!("{lk}.users"),
                    "the layer has no users: list the participants in turn order",
                );
            }
            for (k, u) in lc.users.iter().enumerate() {
                user_ok(p, u, format!("{lk}.users[{k}]"));
            }
            let ltz = match &lc.time_zone {
                Some(z) => zone(p, z, &format!("{lk}.time_zone")).unwrap_or(TimeZone::UTC),
                None => tz.clone(),
            };
            let sh = shift(p, &lc.shift, &format!("{lk}.shift"));
            let handoff = hhmm(p, &lc.handoff, &format!("{lk}.handoff"));
            if handoff == Some(1440) {
                p.at(
                    span_of(&lc.handoff),
                    format!("{lk}.handoff"),
                    "24:00 is not a handoff time: use 00:00",
                );
            }
            let (start, handoff) = match written(p, &lc.start, &format!("{lk}.start"), Takes::Start)
            {
                Some(Written::Local(dt)) => {
                    (Some(dt.date()), start_handoff(p, lc, dt, handoff, &lk))
                }
                Some(Written::Date(d)) => (Some(d), handoff),
                _ => (None, handoff),
            };
            let end = lc.end.as_ref().and_then(|e| {
                written(p, e, &format!("{lk}.end"), Takes::Instant("layer's"))
                    .map(|w| w.instant(&ltz))
            });
            let restrictions: Vec<Option<Window>> = lc
                .restrictions
                .iter()
                .enumerate()
                .map(|(r, w)| window(p, w, &format!("{lk}.restriction[{r}]")))
                .collect();
            if let (Some(sh), Some(start), Some(handoff)) = (sh, start, handoff) {
                if let Some(e) = end {
                    if e <= local_instant(&ltz, start, handoff) {
                        p.at(
                            lc.end.as_ref().and_then(span_of),
                            format!("{lk}.end"),
                            "the rotation ends before its first handoff: move end after start",
                        );
                    }
                }
                layers.push(Layer {
                    name: lc
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("layer {}", l + 1)),
                    tz: ltz,
                    rotation: Rotation {
                        participants: lc.users.iter().map(|u| u.get_ref().clone()).collect(),
                        shift: sh,
                        start,
                        handoff: handoff.min(1439),
                        end,
                    },
                    restrictions: restrictions.into_iter().flatten().collect(),
                });
            }
        }
        let mut overrides = Vec::new();
        for (o, oc) in s.overrides.iter().enumerate() {
            let ok = format!("{key}.override[{o}]");
            user_ok(p, &oc.user, format!("{ok}.user"));
            let from = written(
                p,
                &oc.from,
                &format!("{ok}.from"),
                Takes::Instant("schedule's"),
            )
            .map(|w| w.instant(&tz));
            let to = written(p, &oc.to, &format!("{ok}.to"), Takes::Instant("schedule's"))
                .map(|w| w.instant(&tz));
            if let (Some(from), Some(to)) = (from, to) {
                if to <= from {
                    p.at(
                        span_of(&oc.to),
                        format!("{ok}.to"),
                        "the override ends before it starts: `to` must be after `from`",
                    );
                }
                overrides.push(Override {
                    user: oc.user.get_ref().clone(),
                    from,
                    to,
                });
            }
        }
        out.push(Schedule {
            id: id.clone(),
            tz,
            layers,
            overrides,
            feed_events: Vec::new(),
        });
    }
    out
}

fn day(p: &mut Problems<'_>, s: &Spanned<String>, key: &str) -> Option<Date> {
    match written(p, s, key, Takes::Day)? {
        Written::Date(d) => Some(d),
        _ => None,
    }
}

/// The handoff of a layer whose start is a local date-time: that time of day, which
/// must be on the minute and agree with an explicit `handoff`.
fn start_handoff(
    p: &mut Problems<'_>,
    lc: &LayerConfig,
    dt: DateTime,
    handoff: Option<u16>,
    lk: &str,
) -> Option<u16> {
    let v = lc.start.get_ref();
    if dt.second() != 0 {
        p.at(
            span_of(&lc.start),
            format!("{lk}.start"),
            format!(
                "`{v}`: handoffs are on the minute: write \"{}\"",
                v.get(..16).unwrap_or(v)
            ),
        );
        return None;
    }
    let at = dt.hour() as u16 * 60 + dt.minute() as u16;
    if span_of(&lc.handoff).is_some() && handoff.is_some_and(|h| h != at) {
        p.at(
            span_of(&lc.start),
            format!("{lk}.start"),
            format!(
                "`{v}` starts at {:02}:{:02} but handoff = \"{}\": give the handoff once, either start = \"{}\" with handoff, or start = \"{v}\" alone",
                at / 60,
                at % 60,
                lc.handoff.get_ref(),
                dt.date()
            ),
        );
        return None;
    }
    Some(at)
}

fn days(p: &mut Problems<'_>, d: &DaysConfig, key: &str, what: &str) -> Option<DateSpan> {
    let span = d.date.as_ref().or(d.from.as_ref()).and_then(span_of);
    let (from, to) = match (&d.date, &d.from, &d.to) {
        (Some(x), None, None) => {
            let v = day(p, x, &format!("{key}.date"))?;
            (v, v)
        }
        (None, Some(a), Some(b)) => {
            let (a, b) = (
                day(p, a, &format!("{key}.from")),
                day(p, b, &format!("{key}.to")),
            );
            (a?, b?)
        }
        _ => {
            p.at(
                span,
                key,
                format!("a {what} needs either date = \"YYYY-MM-DD\" or both from and to"),
            );
            return None;
        }
    };
    let backwards = if d.yearly {
        // a yearly span may wrap the new year (12-31 to 01-01) but not cover more than a year
        to.year() - from.year() > 1
            || (to.year() - from.year() == 1
                && (to.month(), to.day()) >= (from.month(), from.day()))
    } else {
        to < from
    };
    if backwards {
        p.at(
            span,
            format!("{key}.to"),
            format!(
                "the {what} ends before it starts (or spans more than a year): check from and to"
            ),
        );
        return None;
    }
    Some(DateSpan {
        name: d.name.clone(),
        from,
        to,
        yearly: d.yearly,
    })
}

/// Validates and compiles the support hours of one routing number.
pub(crate) fn build_support(
    sh: &SupportHoursConfig,
    key: &str,
    p: &mut Problems<'_>,
) -> Option<SupportHours> {
    let tz = zone(p, &sh.time_zone, &format!("{key}.time_zone"));
    let windows: Vec<Option<Window>> = sh
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| window(p, w, &format!("{key}.window[{i}]")))
        .collect();
    if sh.windows.is_empty() {
        p.at(span_of(&sh.time_zone), format!("{key}.window"), "support hours without windows are always closed: add window = [{ days = [\"mon-fri\"], from = \"08:00\", to = \"17:00\" }]");
    }
    let holidays: Vec<Option<DateSpan>> = sh
        .holidays
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let k = format!("{key}.holiday[{i}]");
            if let Some(hours) = &h.hours {
                p.at(
                    span_of(hours),
                    format!("{k}.hours"),
                    "holidays are closed all day: for special hours use an exception",
                );
            }
            days(p, h, &k, "holiday")
        })
        .collect();
    let mut exceptions = Vec::new();
    for (i, e) in sh.exceptions.iter().enumerate() {
        let k = format!("{key}.exception[{i}]");
        let mut ws = Vec::new();
        for (j, h) in e
            .hours
            .as_ref()
            .map(|h| h.get_ref().clone())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let parsed = h
                .split_once('-')
                .and_then(|(a, b)| Some((parse_hhmm(a.trim())?, parse_hhmm(b.trim())?)));
            match parsed {
                Some((a, b)) if a < 1440 => ws.push(Window {
                    days: [true; 7],
                    from: a,
                    to: b,
                }),
                _ => p.at(
                    e.hours.as_ref().and_then(span_of),
                    format!("{k}.hours[{j}]"),
                    format!(
                        "`{h}` is not a span of hours: write \"HH:MM-HH:MM\", e.g. \"10:00-14:00\""
                    ),
                ),
            }
        }
        if let Some(d) = days(p, e, &k, "exception") {
            exceptions.push(Exception {
                dates: d,
                windows: ws,
            });
        }
    }
    let out_of_hours = match sh.out_of_hours.get_ref().as_str() {
        "route" => OutOfHours::Route,
        "closed" => OutOfHours::Closed,
        "voicemail" => OutOfHours::Voicemail,
        other => {
            p.at(span_of(&sh.out_of_hours), format!("{key}.out_of_hours"), format!("`{other}`: use \"route\" (calls go through as in hours), \"closed\" (closed message, hang up) or \"voicemail\" (the caller leaves a message)"));
            OutOfHours::Route
        }
    };
    Some(SupportHours {
        tz: tz?,
        windows: windows.into_iter().collect::<Option<Vec<_>>>()?,
        holidays: holidays.into_iter().collect::<Option<Vec<_>>>()?,
        exceptions,
        out_of_hours,
    })
}
