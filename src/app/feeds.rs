//! iCal feeds of schedules: fetch (a file, or an http(s) URL), keep the last good copy
//! on disk, and attach the parsed, user-mapped events to the configuration's schedules.
//!
//! The I/O edge of `crate::routing::ical` (which is pure). A feed that cannot be read
//! or is not valid iCalendar keeps the last good copy (from the cache) and yields a
//! warning; with no good copy ever, the schedule has nobody on call and the warning
//! says so. Only a feed that parses overwrites the cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::routing::ical::{self, Person};

/// Where a feed's text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Freshly read or fetched.
    Fresh,
    /// The cached last good copy.
    Cached,
    /// Nothing usable.
    None,
}

/// The outcome for one feed schedule.
#[derive(Debug, Clone)]
pub struct FeedReport {
    /// Schedule id.
    pub schedule: String,
    /// Where the events came from.
    pub source: Source,
    /// Events attached.
    pub events: usize,
    /// Problems (unreachable, invalid, unmapped events, ...).
    pub warnings: Vec<String>,
}

/// Fetches an http(s) URL (10 s timeout).
pub fn fetch_url(url: &str) -> Result<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    resp.body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("cannot read {url}: {e}"))
}

fn cache_path(cache_dir: &Path, schedule: &str) -> PathBuf {
    cache_dir.join(format!("{schedule}.ics"))
}

/// Reads every feed, refreshes the cache, and attaches events to `cfg.model`.
/// Relative feed files are relative to `config_dir`. `cache_dir` is created if needed;
/// `None` disables the cache (e.g. a quick CLI look-up without a data directory).
pub fn load(cfg: &mut Config, config_dir: &Path, cache_dir: Option<&Path>) -> Vec<FeedReport> {
    let people: Vec<Person> = cfg
        .users
        .iter()
        .map(|u| Person {
            id: u.id.get_ref().clone(),
            name: u.name.clone(),
            email: u.email.as_ref().map(|e| e.get_ref().clone()),
            phones: u.phone.iter().map(|p| p.get_ref().clone()).collect(),
        })
        .collect();
    let mut reports = Vec::new();
    for (i, sc) in cfg.schedules.iter().enumerate() {
        let Some(feed) = &sc.feed else { continue };
        let id = sc.id.get_ref().clone();
        let tz = cfg.model.schedules[i].tz.clone();
        let mut warnings = Vec::new();
        let text = match (&feed.file, &feed.url) {
            (Some(f), _) => {
                let path = config_dir.join(f.get_ref());
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
            (None, Some(u)) => fetch_url(u.get_ref()),
            (None, None) => Err("no file or url".into()),
        };
        let fresh = text.and_then(|t| {
            ical::parse(&t, &tz)
                .map(|f| (f, t))
                .map_err(|e| format!("the feed is {e}"))
        });
        let (parsed, source) = match fresh {
            Ok((parsed, text)) => {
                if let Some(dir) = cache_dir {
                    let path = cache_path(dir, &id);
                    let write = std::fs::create_dir_all(dir)
                        .and_then(|_| std::fs::write(path.with_extension("ics.tmp"), &text))
                        .and_then(|_| std::fs::rename(path.with_extension("ics.tmp"), &path));
                    if let Err(e) = write {
                        warnings.push(format!("cannot cache the feed in {}: {e}", dir.display()));
                    }
                }
                (Some(parsed), Source::Fresh)
            }
            Err(e) => {
                let cached = cache_dir
                    .map(|d| cache_path(d, &id))
                    .and_then(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
                    .and_then(|(p, t)| ical::parse(&t, &tz).ok().map(|f| (p, f)));
                match cached {
                    Some((p, f)) => {
                        warnings.push(format!("{e}; using the last good copy {}", p.display()));
                        (Some(f), Source::Cached)
                    }
                    None => {
                        warnings.push(format!(
                            "{e}; no good copy cached, so nobody is on call on this schedule until the feed can be read"
                        ));
                        (None, Source::None)
                    }
                }
            }
        };
        let mut events = 0;
        if let Some(parsed) = parsed {
            warnings.extend(parsed.warnings.iter().cloned());
            let (mapped, w) = ical::map_events(&parsed, &people, feed.matcher());
            warnings.extend(w);
            events = mapped.len();
            cfg.model.schedules[i].feed_events = mapped;
        }
        for w in &warnings {
            tracing::warn!(schedule = %id, "feed: {w}");
        }
        reports.push(FeedReport {
            schedule: id,
            source,
            events,
            warnings,
        });
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BoardProfile;
    use std::io::{Read, Write};

    const ICS: &str = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\nSUMMARY:x\nATTENDEE:mailto:a@example.com\nDTSTART:20260101T000000Z\nDTEND:20260102T000000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\nEND:VCALENDAR\n";

    fn cfg(feed: &str) -> Config {
        let src = format!(
            "[[user]]\nid = \"a\"\nemail = \"a@example.com\"\nphone = [\"+491701111111\"]\n[[schedule]]\nid = \"s\"\ntime_zone = \"UTC\"\nfeed = {feed}\n"
        );
        Config::parse("t.toml", &src, &BoardProfile::sim()).unwrap()
    }

    fn at() -> jiff::Timestamp {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn file_feed_is_cached_and_the_last_good_copy_survives_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        std::fs::write(dir.path().join("f.ics"), ICS).unwrap();
        let mut c = cfg("{ file = \"f.ics\" }");
        let r = load(&mut c, dir.path(), Some(&cache));
        assert_eq!(
            (r[0].source.clone(), r[0].events),
            (Source::Fresh, 1),
            "{r:?}"
        );
        assert_eq!(c.model.schedule("s").unwrap().users_at(at()), vec!["a"]);
        // the file turns into garbage: the cached copy is used, with a warning
        std::fs::write(dir.path().join("f.ics"), "<html>502 Bad Gateway</html>").unwrap();
        let mut c = cfg("{ file = \"f.ics\" }");
        let r = load(&mut c, dir.path(), Some(&cache));
        assert_eq!(r[0].source, Source::Cached);
        assert!(
            r[0].warnings[0].contains("last good copy"),
            "{:?}",
            r[0].warnings
        );
        assert_eq!(c.model.schedule("s").unwrap().users_at(at()), vec!["a"]);
        // the file disappears and there is no cache: nobody, and the warning says so
        std::fs::remove_file(dir.path().join("f.ics")).unwrap();
        let mut c = cfg("{ file = \"f.ics\" }");
        let r = load(&mut c, dir.path(), None);
        assert_eq!(r[0].source, Source::None);
        assert!(
            r[0].warnings[0].contains("nobody is on call"),
            "{:?}",
            r[0].warnings
        );
        assert!(c.model.schedule("s").unwrap().users_at(at()).is_empty());
    }

    #[test]
    fn url_feed_from_a_local_server_then_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).unwrap();
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ICS}",
                ICS.len()
            )
            .unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let feed = format!("{{ url = \"http://127.0.0.1:{port}/oncall.ics\" }}");
        let mut c = cfg(&feed);
        let r = load(&mut c, dir.path(), Some(dir.path()));
        server.join().unwrap();
        assert_eq!(r[0].source, Source::Fresh, "{r:?}");
        assert_eq!(c.model.schedule("s").unwrap().users_at(at()), vec!["a"]);
        // the server is gone: the cached copy keeps the schedule working
        let mut c = cfg(&feed);
        let r = load(&mut c, dir.path(), Some(dir.path()));
        assert_eq!(r[0].source, Source::Cached, "{r:?}");
        assert!(
            r[0].warnings[0].contains("cannot fetch"),
            "{:?}",
            r[0].warnings
        );
        assert_eq!(c.model.schedule("s").unwrap().users_at(at()), vec!["a"]);
    }
}
