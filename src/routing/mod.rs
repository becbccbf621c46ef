//! Who to call: the hunt plan of an escalation policy.
//!
//! Pure domain code. Rules from the seeds (ilert / PagerDuty live call routing):
//! escalation delays are ignored (a call is real time), responders of one level are
//! tried in random order, every level is walked once, nobody is called twice, users
//! without a phone number are skipped and reported, and an empty plan is an explicit
//! "nobody on call" outcome. Schedules (who is on call at t) are a later step: levels
//! name users directly for now.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::config::Config;

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
}

impl HuntPlan {
    /// True when nobody can be called ("nobody on call").
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty()
    }
}

/// Builds the hunt plan of a policy. `rng` orders users within a level (seed it for
/// reproducible tests). An unknown policy gives an empty plan.
pub fn hunt_plan(cfg: &Config, policy: &str, rng: &mut impl Rng) -> HuntPlan {
    let mut plan = HuntPlan::default();
    let Some(pol) = cfg.policy(policy) else {
        return plan;
    };
    let mut called: Vec<&str> = Vec::new();
    for (i, level) in pol.levels.iter().enumerate() {
        let mut users: Vec<&str> = level.users.iter().map(|u| u.get_ref().as_str()).collect();
        users.shuffle(rng);
        for id in users {
            if called.contains(&id) {
                continue;
            }
            called.push(id);
            match cfg.user(id).and_then(|u| u.phone.first()) {
                Some(number) => plan.attempts.push(PlannedAttempt {
                    level: i + 1,
                    user: id.to_string(),
                    number: number.get_ref().clone(),
                }),
                None => plan
                    .skipped
                    .push((id.to_string(), "no phone number".to_string())),
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BoardProfile;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

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
            let plan = hunt_plan(&cfg, "p", &mut StdRng::seed_from_u64(seed));
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
                hunt_plan(&cfg, "p", &mut StdRng::seed_from_u64(s)).attempts[0]
                    .user
                    .clone()
            })
            .collect();
        assert_eq!(firsts.len(), 2, "both level-1 users come first sometimes");
    }

    #[test]
    fn unknown_policy_is_empty() {
        assert!(hunt_plan(&cfg(), "zzz", &mut StdRng::seed_from_u64(1)).is_empty());
    }
}
