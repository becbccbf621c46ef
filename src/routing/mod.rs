//! Who to call: on-call schedules, escalation policies, support hours and the hunt
//! plan of a policy at an instant.
//!
//! Pure domain code: no clock, no files, no network. The instant is an argument.
//! * [`schedule`]: rotations, layers, restrictions, overrides, feed events; who is on
//!   call at t and the timeline of handoffs;
//! * [`ical`]: iCal feed text → events → occurrences (RRULE, EXDATE, all-day), events →
//!   users (fetching and caching are in `crate::app::feeds`);
//! * [`support`]: support hours of a routing number;
//! * [`time`]: local time ↔ instants and the DST rule.
//!
//! Hunt rules from the seeds (ilert / PagerDuty live call routing): escalation delays
//! are ignored (a call is real time), responders of one level are tried in random
//! order, every level is walked once, nobody is called twice, users without a phone
//! number are skipped and reported, a schedule with nobody on call (a gap) adds nobody
//! to its level, and an empty plan is an explicit "nobody on call" outcome.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod ical;
pub mod schedule;
pub mod support;
pub mod time;

use std::collections::HashMap;

use jiff::Timestamp;
use rand::Rng;
use rand::seq::SliceRandom;

pub use schedule::{Handoff, OnCall, Reason, Schedule};
pub use support::{HoursStatus, OutOfHours, SupportHours};

/// What routing reads from the configuration: the compiled [`Model`], policies and
/// users' phone numbers. `config::Config` implements it, so routing does not depend on
/// the configuration module (which depends on routing to compile the model).
pub trait Directory {
    /// The compiled schedules and support hours.
    fn model(&self) -> &Model;
    /// The levels of a policy, each as (user ids, schedule ids); `None` for an unknown
    /// policy.
    fn policy_levels(&self, policy: &str) -> Option<Vec<(Vec<&str>, Vec<&str>)>>;
    /// A user's first phone number: `None` for an unknown user, `Some(None)` for a
    /// user without a phone.
    fn first_phone(&self, user: &str) -> Option<Option<&str>>;
}

impl<T: Directory + ?Sized> Directory for std::sync::Arc<T> {
    fn model(&self) -> &Model {
        (**self).model()
    }
    fn policy_levels(&self, policy: &str) -> Option<Vec<(Vec<&str>, Vec<&str>)>> {
        (**self).policy_levels(policy)
    }
    fn first_phone(&self, user: &str) -> Option<Option<&str>> {
        (**self).first_phone(user)
    }
}

/// The configuration's schedules and support hours, compiled for queries (time zones
/// resolved, times parsed, feed events attached). Built by `Config::parse`; feed
/// events are attached by `crate::app::feeds`.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Schedules in configuration order.
    pub schedules: Vec<Schedule>,
    /// Schedule id → index.
    pub schedule_index: HashMap<String, usize>,
    /// User id → index in `Config::users`.
    pub user_index: HashMap<String, usize>,
    /// Support hours per routing number (same index), if configured.
    pub support_hours: Vec<Option<SupportHours>>,
}

impl Model {
    /// A schedule by id.
    pub fn schedule(&self, id: &str) -> Option<&Schedule> {
        self.schedule_index.get(id).map(|&i| &self.schedules[i])
    }
}

/// One dial attempt of a hunt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedAttempt {
    /// 1-based escalation level.
    pub level: usize,
    /// User id.
    pub user: String,
    /// Number to dial (E.164).
    pub number: String,
}

/// The ordered attempts for one call, and who was left out and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HuntPlan {
    /// Attempts in dialling order.
    pub attempts: Vec<PlannedAttempt>,
    /// Users skipped, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Schedules of the policy that had nobody on call (1-based level, schedule id).
    pub gaps: Vec<(usize, String)>,
}

impl HuntPlan {
    /// True when nobody can be called ("nobody on call").
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty()
    }
}

/// Who is on call on a schedule at `at` (empty for an unknown schedule or a gap).
pub fn on_call(cfg: &impl Directory, schedule: &str, at: Timestamp) -> Vec<OnCall> {
    cfg.model()
        .schedule(schedule)
        .map(|s| s.on_call(at))
        .unwrap_or_default()
}

/// The users of each level of a policy at `at`: the level's users, then whoever is on
/// call on its schedules, each once per level, in configuration order. Also returns the
/// schedules with nobody on call. Unknown policy: no levels.
pub fn resolved_levels(
    cfg: &impl Directory,
    policy: &str,
    at: Timestamp,
) -> (Vec<Vec<String>>, Vec<(usize, String)>) {
    let mut gaps = Vec::new();
    let Some(levels) = cfg.policy_levels(policy) else {
        return (Vec::new(), gaps);
    };
    let levels = levels
        .iter()
        .enumerate()
        .map(|(i, (level_users, level_schedules))| {
            let mut users: Vec<String> = Vec::new();
            let mut add = |u: &str| {
                if !users.iter().any(|x| x == u) {
                    users.push(u.to_string());
                }
            };
            for u in level_users {
                add(u);
            }
            for s in level_schedules {
                let who = on_call(cfg, s, at);
                if who.is_empty() {
                    gaps.push((i + 1, s.to_string()));
                }
                for o in who {
                    add(&o.user);
                }
            }
            users
        })
        .collect();
    (levels, gaps)
}

/// Builds the hunt plan of a policy at the instant `at`. `rng` orders users within a
/// level (seed it for reproducible tests). An unknown policy gives an empty plan.
pub fn hunt_plan(
    cfg: &impl Directory,
    policy: &str,
    at: Timestamp,
    rng: &mut impl Rng,
) -> HuntPlan {
    let (levels, gaps) = resolved_levels(cfg, policy, at);
    let mut plan = HuntPlan {
        gaps,
        ..HuntPlan::default()
    };
    let mut called: Vec<String> = Vec::new();
    for (i, mut users) in levels.into_iter().enumerate() {
        users.shuffle(rng);
        for id in users {
            if called.contains(&id) {
                continue;
            }
            match cfg.first_phone(&id) {
                Some(Some(number)) => plan.attempts.push(PlannedAttempt {
                    level: i + 1,
                    user: id.clone(),
                    number: number.to_string(),
                }),
                None => plan
                    .skipped
                    .push((id.clone(), "not a configured user".to_string())),
                Some(None) => plan
                    .skipped
                    .push((id.clone(), "no phone number".to_string())),
            }
            called.push(id);
        }
    }
    plan
}

/// Is the routing number (by index) in support hours at `at`, and what applies.
pub fn support_status(cfg: &impl Directory, routing_number: usize, at: Timestamp) -> HoursStatus {
    match cfg.model().support_hours.get(routing_number) {
        Some(Some(sh)) => sh.status(at),
        _ => support::always(),
    }
}

/// When the routing number's (by index) support-hours answer at `at` changes next;
/// `None` without support hours or without a change within a year.
pub fn support_next_change(
    cfg: &impl Directory,
    routing_number: usize,
    at: Timestamp,
) -> Option<Timestamp> {
    match cfg.model().support_hours.get(routing_number) {
        Some(Some(sh)) => sh.next_change(at),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;
    use crate::config::{BoardProfile, Config};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const T0: Timestamp = Timestamp::UNIX_EPOCH;

    #[test]
    fn a_user_without_a_phone_is_skipped_and_reported() {
        let src = r#"
[[user]]
id = "a"
[[user]]
id = "b"
phone = ["+491702222222"]
[[policy]]
id = "p"
[[policy.level]]
users = ["a", "b"]
"#;
        let cfg = Config::parse("t.toml", src, &BoardProfile::sim()).unwrap();
        let plan = hunt_plan(&cfg, "p", T0, &mut StdRng::seed_from_u64(1));
        assert_eq!(
            plan.attempts
                .iter()
                .map(|a| a.user.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );
        assert_eq!(
            plan.skipped,
            vec![("a".to_string(), "no phone number".to_string())]
        );
    }

    fn cfg() -> Config {
        let src = r#"
[[user]]
id = "a"
phone = ["+491701111111"]
[[user]]
id = "b"
phone = ["+491702222222"]
[[user]]
id = "c"
phone = ["+491703333333"]
[[policy]]
id = "p"
[[policy.level]]
users = ["a", "b"]
[[policy.level]]
users = ["b", "c"]
"#;
        Config::parse("t.toml", src, &BoardProfile::sim()).unwrap()
    }

    #[test]
    fn levels_once_nobody_twice() {
        let cfg = cfg();
        for seed in 0..20 {
            let plan = hunt_plan(&cfg, "p", T0, &mut StdRng::seed_from_u64(seed));
            let users: Vec<_> = plan.attempts.iter().map(|a| a.user.as_str()).collect();
            assert_eq!(users.len(), 3, "{users:?}");
            assert!(users[..2].contains(&"a") && users[..2].contains(&"b"));
            assert_eq!(users[2], "c");
            assert_eq!(plan.attempts[2].level, 2);
        }
    }

    #[test]
    fn random_within_level() {
        let cfg = cfg();
        let firsts: std::collections::HashSet<String> = (0..40)
            .map(|s| {
                hunt_plan(&cfg, "p", T0, &mut StdRng::seed_from_u64(s)).attempts[0]
                    .user
                    .clone()
            })
            .collect();
        assert_eq!(firsts.len(), 2, "both level-1 users come first sometimes");
    }

    #[test]
    fn unknown_policy_is_empty() {
        assert!(hunt_plan(&cfg(), "zzz", T0, &mut StdRng::seed_from_u64(1)).is_empty());
    }

    proptest::proptest! {
        /// Plans never repeat a user, walk levels in order, and every attempt is a
        /// configured user with their first number — whatever the levels and schedules.
        #[test]
        fn plans_never_repeat_a_user(
            levels in proptest::collection::vec(
                (proptest::collection::vec(0usize..6, 0..4), proptest::collection::vec(0usize..3, 0..3)),
                1..5,
            ),
            seed in 0u64..1000,
            hours in 0i64..(24 * 400),
        ) {
            let mut src = String::new();
            for u in 0..6 {
                src.push_str(&format!("[[user]]\nid = \"u{u}\"\nphone = [\"+4917011111{u}0\"]\n"));
            }
            for sc in 0..3 {
                src.push_str(&format!(
                    "[[schedule]]\nid = \"s{sc}\"\ntime_zone = \"Europe/Berlin\"\n[[schedule.layer]]\nusers = [\"u{}\", \"u{}\"]\nshift = \"1d\"\nstart = \"2026-01-01\"\nhandoff = \"02:30\"\n[[schedule.layer]]\nusers = [\"u{}\"]\nshift = \"12h\"\nstart = \"2026-01-01\"\n[[schedule.layer.restriction]]\ndays = [\"sat-sun\"]\nfrom = \"00:00\"\nto = \"24:00\"\n",
                    sc, sc + 1, sc + 3
                ));
            }
            src.push_str("[[policy]]\nid = \"p\"\n");
            for (users, scheds) in &levels {
                let (users, scheds): (Vec<_>, Vec<_>) = if users.is_empty() && scheds.is_empty() {
                    (vec![0], vec![])
                } else {
                    (users.clone(), scheds.clone())
                };
                let u: Vec<String> = users.iter().map(|u| format!("\"u{u}\"")).collect();
                let s: Vec<String> = scheds.iter().map(|s| format!("\"s{s}\"")).collect();
                src.push_str(&format!("[[policy.level]]\nusers = [{}]\nschedules = [{}]\n", u.join(","), s.join(",")));
            }
            let cfg = Config::parse("t.toml", &src, &BoardProfile::sim()).unwrap();
            let at = "2026-01-01T00:00:00Z".parse::<Timestamp>().unwrap()
                .checked_add(jiff::SignedDuration::from_hours(hours)).unwrap();
            let plan = hunt_plan(&cfg, "p", at, &mut StdRng::seed_from_u64(seed));
            let mut seen = std::collections::HashSet::new();
            let mut last_level = 0;
            for a in &plan.attempts {
                proptest::prop_assert!(seen.insert(a.user.clone()), "{} twice", a.user);
                proptest::prop_assert!(a.level >= last_level);
                last_level = a.level;
                let u = cfg.user(&a.user).unwrap();
                proptest::prop_assert_eq!(Some(a.number.as_str()), u.first_phone());
            }
            // everyone named by the resolved levels is in the plan exactly once
            let (resolved, _) = resolved_levels(&cfg, "p", at);
            let all: std::collections::HashSet<String> = resolved.into_iter().flatten().collect();
            proptest::prop_assert_eq!(all, seen);
        }
    }

    #[test]
    fn schedule_gap_escalates_to_the_next_level_and_empty_plan_is_nobody() {
        let src = r#"
[[user]]
id = "a"
phone = ["+491701111111"]
[[schedule]]
id = "s"
time_zone = "UTC"
  [[schedule.layer]]
  users = ["a"]
  shift = "1d"
  start = "2026-01-01"
  end = "2026-02-01"
[[policy]]
id = "p"
  [[policy.level]]
  schedules = ["s"]
"#;
        let cfg = Config::parse("t.toml", src, &BoardProfile::sim()).unwrap();
        let rng = &mut StdRng::seed_from_u64(1);
        let plan = hunt_plan(&cfg, "p", "2026-01-15T00:00:00Z".parse().unwrap(), rng);
        assert_eq!(plan.attempts.len(), 1);
        let plan = hunt_plan(&cfg, "p", "2026-02-01T00:00:00Z".parse().unwrap(), rng);
        assert!(plan.is_empty(), "after the end date nobody is on call");
        assert_eq!(plan.gaps, vec![(1, "s".to_string())]);
    }
}
