//! The configuration: one declarative TOML file is the source of truth.
//!
//! Users, escalation policies and routing numbers; the board (ports and modem) comes
//! from a board profile ([`board`]). Loading validates references and values and
//! reports every problem with file, line, key and the fix. The format is documented in
//! `docs/configuration.md`.

pub mod alerts;
pub mod board;
mod error;
pub mod flow;
pub mod routing_number;
pub mod schedule;
#[cfg(test)]
mod schedule_tests;

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

pub use board::{BoardProfile, PortKind};
pub use error::{ConfigError, Problem};
use error::{Problems, from_toml};
pub use routing_number::{
    MenuOption, OverflowConfig, OverflowReason, OverflowTo, QueueConfig, RoutingNumber,
    VoicemailConfig, WaitingCall,
};
pub use schedule::{
    DaysConfig, FeedConfig, LayerConfig, OverrideConfig, ScheduleConfig, SupportHoursConfig,
    WindowConfig,
};

/// The built-in demo configuration (used when `switchboard run` gets no `--config`).
pub const DEMO_CONFIG_TOML: &str = include_str!("../../config/demo.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Site-wide settings.
    #[serde(default)]
    pub site: Site,
    /// People who can be called.
    #[serde(default, rename = "user")]
    pub users: Vec<User>,
    /// Escalation policies: who is called, level by level.
    #[serde(default, rename = "policy")]
    pub policies: Vec<Policy>,
    /// Routing numbers: a port where calls arrive, with greeting and menu.
    #[serde(default, rename = "routing_number")]
    pub routing_numbers: Vec<RoutingNumber>,
    /// On-call schedules.
    #[serde(default, rename = "schedule")]
    pub schedules: Vec<ScheduleConfig>,
    /// Where alerts go (PagerDuty, ilert, webhooks).
    #[serde(default, rename = "alert_target")]
    pub alert_targets: Vec<alerts::AlertTarget>,
    /// Voicemail storage limits.
    #[serde(default)]
    pub voicemail: alerts::VoicemailStorage,
    /// The box's own health alerts.
    #[serde(default)]
    pub health: alerts::HealthConfig,
    /// SMS the box sends on its own (alert SMS, reply confirmations): the cap.
    #[serde(default)]
    pub sms: alerts::SmsSettings,
    /// Schedules and support hours compiled for queries (built when parsing).
    #[serde(skip)]
    pub model: crate::routing::Model,
}

/// Site-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Name of the site, shown on the status page.
    #[serde(default = "default_site_name")]
    pub name: String,
    /// Ports that place calls to responders, tried in this order: the modem's id and
    /// FXO port ids (an FXO line dials with DTMF and listens to the call-progress
    /// tones). Default: the modem alone.
    #[serde(default)]
    pub trunks: Vec<Spanned<String>>,
    /// A backup box or person: the SIM's calls are forwarded there by the network
    /// (`AT+CCFC`) when the box is busy, does not answer or cannot be reached.
    #[serde(default)]
    pub backup: Option<BackupConfig>,
}

impl Site {
    /// The trunk port ids, in the order they are tried.
    pub fn trunk_ids(&self) -> impl Iterator<Item = &str> {
        self.trunks.iter().map(|t| t.get_ref().as_str())
    }
}

impl User {
    /// The user's first phone number.
    pub fn first_phone(&self) -> Option<&str> {
        self.phone.first().map(|p| p.get_ref().as_str())
    }
}

/// `[site.backup]`: conditional call forwarding of the SIM's number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// E.164 number of the second box or a person.
    pub number: Spanned<String>,
    /// When: `busy`, `no-reply`, `not-reachable` (default all three).
    #[serde(default)]
    pub when: Vec<Spanned<String>>,
}

impl BackupConfig {
    /// The number calls are forwarded to.
    pub fn number_e164(&self) -> &str {
        self.number.get_ref()
    }

    /// The forwarding reasons (validated when parsing).
    pub fn reasons(&self) -> Vec<crate::modem::ForwardReason> {
        use crate::modem::ForwardReason as R;
        if self.when.is_empty() {
            return vec![R::Busy, R::NoReply, R::NotReachable];
        }
        self.when
            .iter()
            .filter_map(|w| R::parse(w.get_ref()).ok())
            .collect()
    }
}

impl Default for Site {
    fn default() -> Self {
        Self {
            name: default_site_name(),
            trunks: Vec::new(),
            backup: None,
        }
    }
}

fn default_site_name() -> String {
    "Switchboard".into()
}

/// A person who can be called.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Short id used in policies (`alice`).
    pub id: Spanned<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Phone numbers in E.164 (`+491701234567`), or `port:fxs1` for a local phone on an
    /// FXS port of the box, tried in order.
    #[serde(default)]
    pub phone: Vec<Spanned<String>>,
    /// E-mail address (maps iCal feed events to this user).
    #[serde(default)]
    pub email: Option<Spanned<String>>,
    /// Language of prompts played to this user (`en`, `de`, ...).
    #[serde(default = "default_language")]
    pub language: Spanned<String>,
}

/// An escalation policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Short id used by routing options (`netops`).
    pub id: Spanned<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Levels, walked once in order.
    #[serde(default, rename = "level")]
    pub levels: Vec<Level>,
}

/// One escalation level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// User ids; tried in random order within the level.
    #[serde(default)]
    pub users: Vec<Spanned<String>>,
    /// Schedule ids; whoever is on call on them when the call comes joins the level.
    #[serde(default)]
    pub schedules: Vec<Spanned<String>>,
}

/// A user's phone written `port:fxs1` is the local phone on that FXS port (the box
/// rings it; off-hook answers).
pub const LOCAL_PHONE_PREFIX: &str = "port:";

/// Parses a human duration such as `10s`, `1m 30s` or `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = s.trim().parse().map_err(|_| {
        format!("`{s}` is not a duration: write e.g. \"10s\", \"1m 30s\" or \"500ms\"")
    })?;
    Duration::try_from(d).map_err(|_| format!("`{s}` is negative: durations must be positive"))
}

fn default_language() -> Spanned<String> {
    Spanned::new(0..0, "en".into())
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Spanned<Duration>, D::Error> {
    let s: Spanned<String> = Spanned::deserialize(d)?;
    let span = s.span();
    parse_duration(s.get_ref())
        .map(|v| Spanned::new(span, v))
        .map_err(serde::de::Error::custom)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<Duration>>, D::Error> {
    duration(d).map(Some)
}

/// Whether a number is in E.164 form: `+`, a non-zero digit, 7 to 15 digits in all.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn valid_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts
            .all(|p| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Config {
    /// Parses and validates a configuration against a board profile.
    pub fn parse(file: &str, src: &str, board: &BoardProfile) -> Result<Self, ConfigError> {
        let mut cfg: Config = toml::from_str(src).map_err(|e| from_toml(file, src, &e))?;
        let mut p = Problems::new(src);
        routing_number::assign_ids(&mut cfg);
        let (model, overflow) = cfg.validate(board, &mut p);
        let flows: Vec<_> = (0..cfg.routing_numbers.len())
            .map(|i| flow::compile(&cfg, i, &mut p))
            .collect();
        flow::check_gotos(&cfg, &flows, &mut p);
        p.into_result(file)?;
        for (rn, f) in cfg.routing_numbers.iter_mut().zip(flows) {
            rn.flow = std::sync::Arc::new(f);
        }
        cfg.model = model;
        for (rn, o) in cfg.routing_numbers.iter_mut().zip(overflow) {
            rn.overflow_to = o;
        }
        Ok(cfg)
    }

    /// Reads, parses and validates a configuration file.
    pub fn load(path: &std::path::Path, board: &BoardProfile) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            problems: vec![Problem {
                line: None,
                column: None,
                key: String::new(),
                message: format!("cannot read the file: {e}"),
            }],
        })?;
        Self::parse(&file, &src, board)
    }

    /// The built-in demo configuration on the simulated board.
    pub fn demo() -> Self {
        // Checked by a unit test; failing here is a build defect.
        Self::parse(
            "<built-in config/demo.toml>",
            DEMO_CONFIG_TOML,
            &BoardProfile::sim(),
        )
        .expect("embedded config/demo.toml is valid")
    }

    fn validate(
        &self,
        board: &BoardProfile,
        p: &mut Problems<'_>,
    ) -> (crate::routing::Model, Vec<Option<OverflowTo>>) {
        let mut trunks: HashSet<&str> = HashSet::new();
        for (i, t) in self.site.trunks.iter().enumerate() {
            let id = t.get_ref().as_str();
            match board.port_kind(id) {
                Some(PortKind::Modem | PortKind::Fxo) => {}
                other => {
                    let what = other.map_or("not a port of this board", |k| k.as_str());
                    let usable: Vec<String> = board
                        .ports
                        .iter()
                        .filter(|p| *p.kind.get_ref() == PortKind::Fxo)
                        .map(|p| p.id.get_ref().clone())
                        .chain(board.modem.as_ref().map(|m| m.id.clone()))
                        .collect();
                    p.at(
                        Some(t.span()),
                        format!("site.trunks[{i}]"),
                        format!(
                            "`{id}` is {what}: a trunk is the modem or an FXO line ({})",
                            usable.join(", ")
                        ),
                    );
                }
            }
            if !trunks.insert(id) {
                p.at(
                    Some(t.span()),
                    format!("site.trunks[{i}]"),
                    format!("`{id}` is listed twice"),
                );
            }
        }
        if let Some(b) = &self.site.backup {
            if !is_e164(b.number.get_ref()) {
                p.at(
                    Some(b.number.span()),
                    "site.backup.number",
                    format!(
                        "`{}` is not an E.164 number: write it with + and country code, e.g. \"+493012345678\"",
                        b.number.get_ref()
                    ),
                );
            }
            if board.modem.is_none() {
                p.at(
                    Some(b.number.span()),
                    "site.backup",
                    "this board has no modem: forwarding is set on the SIM; remove [site.backup]",
                );
            }
            for (i, w) in b.when.iter().enumerate() {
                use crate::modem::ForwardReason as R;
                match R::parse(w.get_ref()) {
                    Ok(R::Busy | R::NoReply | R::NotReachable) => {}
                    _ => p.at(
                        Some(w.span()),
                        format!("site.backup.when[{i}]"),
                        format!(
                            "`{}` is not a condition: use \"busy\", \"no-reply\" or \"not-reachable\"",
                            w.get_ref()
                        ),
                    ),
                }
            }
        }
        let mut users: HashSet<&str> = HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            let id = u.id.get_ref();
            if !board::valid_id(id) {
                p.at(
                    Some(u.id.span()),
                    format!("user[{i}].id"),
                    format!("`{id}` is not a valid id: use letters, digits, `-` or `_`"),
                );
            }
            if !users.insert(id) {
                p.at(
                    Some(u.id.span()),
                    format!("user[{i}].id"),
                    format!("user id `{id}` is used twice: every user needs its own id"),
                );
            }
            // A user without a phone number is allowed (on a schedule for the record,
            // reached by other means): the hunt skips them and the call notes it.
            for (j, ph) in u.phone.iter().enumerate() {
                if let Some(port) = ph.get_ref().strip_prefix(LOCAL_PHONE_PREFIX) {
                    if board.port_kind(port) != Some(PortKind::Fxs) {
                        let fxs: Vec<String> = board
                            .ports
                            .iter()
                            .filter(|p| *p.kind.get_ref() == PortKind::Fxs)
                            .map(|p| format!("\"port:{}\"", p.id.get_ref()))
                            .collect();
                        p.at(
                            Some(ph.span()),
                            format!("user[{i}].phone[{j}]"),
                            format!(
                                "`{port}` is not an FXS port of board `{}`: a local phone is written \"port:\" and the FXS port id ({})",
                                board.name,
                                if fxs.is_empty() { "this board has none".to_string() } else { fxs.join(", ") }
                            ),
                        );
                    }
                } else if !is_e164(ph.get_ref()) {
                    p.at(
                        Some(ph.span()),
                        format!("user[{i}].phone[{j}]"),
                        format!(
                            "`{}` is not an E.164 number: write it with + and country code, no spaces, e.g. \"+491701234567\"",
                            ph.get_ref()
                        ),
                    );
                }
            }
            check_language(p, &u.language, &format!("user[{i}].language"));
            if let Some(e) = &u.email {
                let v = e.get_ref();
                let ok = v.split_once('@').is_some_and(|(a, b)| {
                    !a.is_empty() && b.contains('.') && !v.contains(char::is_whitespace)
                });
                if !ok {
                    p.at(
                        Some(e.span()),
                        format!("user[{i}].email"),
                        format!("`{v}` is not an e-mail address: write it as name@example.com"),
                    );
                }
            }
        }
        let schedules = schedule::build_schedules(&self.schedules, &users, p);
        let schedule_ids: HashSet<&str> = schedules.iter().map(|s| s.id.as_str()).collect();

        let mut policies: HashSet<&str> = HashSet::new();
        for (i, pol) in self.policies.iter().enumerate() {
            let id = pol.id.get_ref();
            if !policies.insert(id) {
                p.at(
                    Some(pol.id.span()),
                    format!("policy[{i}].id"),
                    format!("policy id `{id}` is used twice"),
                );
            }
            if pol.levels.is_empty() {
                p.at(
                    Some(pol.id.span()),
                    format!("policy[{i}].level"),
                    format!(
                        "policy `{id}` has no levels: add [[policy.level]] with users = [\"...\"]"
                    ),
                );
            }
            for (l, level) in pol.levels.iter().enumerate() {
                if level.users.is_empty() && level.schedules.is_empty() {
                    p.at(
                        Some(pol.id.span()),
                        format!("policy[{i}].level[{l}].users"),
                        "the level has no users and no schedules: list at least one user id or schedule id",
                    );
                }
                for (k, s) in level.schedules.iter().enumerate() {
                    if !schedule_ids.contains(s.get_ref().as_str()) {
                        p.at(
                            Some(s.span()),
                            format!("policy[{i}].level[{l}].schedules[{k}]"),
                            format!(
                                "no schedule with id `{}`: define it in a [[schedule]] section or fix the spelling",
                                s.get_ref()
                            ),
                        );
                    }
                }
                for (k, u) in level.users.iter().enumerate() {
                    if !users.contains(u.get_ref().as_str()) {
                        p.at(
                            Some(u.span()),
                            format!("policy[{i}].level[{l}].users[{k}]"),
                            format!(
                                "no user with id `{}`: define it in a [[user]] section or fix the spelling",
                                u.get_ref()
                            ),
                        );
                    }
                }
            }
        }

        let (support_hours, overflow) = routing_number::validate(self, board, &policies, p);
        alerts::validate(self, p);

        let model = crate::routing::Model {
            schedule_index: schedules
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), i))
                .collect(),
            schedules,
            user_index: self
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| (u.id.get_ref().clone(), i))
                .collect(),
            support_hours,
        };
        (model, overflow)
    }

    /// The alert target with this name.
    pub fn alert_target(&self, name: &str) -> Option<&alerts::AlertTarget> {
        self.alert_targets.iter().find(|t| t.name.get_ref() == name)
    }

    /// The routing number with this id, and its position.
    pub fn routing_number(&self, id: &str) -> Option<(usize, &RoutingNumber)> {
        self.routing_numbers
            .iter()
            .enumerate()
            .find(|(_, r)| r.key == id)
    }

    /// The routing number whose calls arrive on this port.
    pub fn routing_for_port(&self, port: &str) -> Option<&RoutingNumber> {
        self.routing_numbers.iter().find(|r| r.serves_port(port))
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        match self.model.user_index.get(id) {
            Some(&i) => self.users.get(i),
            None => self.users.iter().find(|u| u.id.get_ref() == id),
        }
    }

    /// A policy by id.
    pub fn policy(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.id.get_ref() == id)
    }
}

impl crate::routing::Directory for Config {
    fn model(&self) -> &crate::routing::Model {
        &self.model
    }

    fn policy_levels(&self, policy: &str) -> Option<Vec<(Vec<&str>, Vec<&str>)>> {
        let pol = self.policy(policy)?;
        Some(
            pol.levels
                .iter()
                .map(|l| {
                    (
                        l.users.iter().map(|u| u.get_ref().as_str()).collect(),
                        l.schedules.iter().map(|s| s.get_ref().as_str()).collect(),
                    )
                })
                .collect(),
        )
    }

    fn first_phone(&self, user: &str) -> Option<Option<&str>> {
        self.user(user)
            .map(|u| u.phone.first().map(|p| p.get_ref().as_str()))
    }
}

fn check_language(p: &mut Problems<'_>, lang: &Spanned<String>, key: &str) {
    if !valid_language(lang.get_ref()) {
        p.at(
            Some(lang.span()),
            key,
            format!(
                "`{}` is not a language tag: use an espeak-ng voice name such as \"en\", \"de\" or \"en-us\"",
                lang.get_ref()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Config, ConfigError> {
        Config::parse("t.toml", src, &BoardProfile::sim())
    }

    #[test]
    fn demo_is_valid() {
        let c = Config::demo();
        assert_eq!(c.routing_numbers.len(), 2);
        assert!(
            c.routing_numbers[0]
                .greeting_text()
                .contains("For Facilities, press 2.")
        );
        // single option: no menu text
        assert!(!c.routing_numbers[1].greeting_text().contains("press"));
    }

    #[test]
    fn e164() {
        assert!(is_e164("+491701234567"));
        assert!(!is_e164("0170 1234567"));
        assert!(!is_e164("+0123456789"));
        assert!(!is_e164("+12"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m 30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn unknown_policy_names_line_key_and_fix() {
        let src = r#"
[[user]]
id = "a"
phone = ["+491701111111"]
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
policy = "nope"
"#;
        let e = parse(src).unwrap_err();
        let s = e.to_string();
        assert!(
            s.starts_with(
                "t.toml:15:10: routing_number[0].option[0].policy: no policy with id `nope`"
            ),
            "{s}"
        );
    }

    #[test]
    fn syntax_and_unknown_fields_are_located() {
        let e = parse("[[user]]\nid = \"a\"\nphone = [\"+491701111111\"]\nfone = 1\n").unwrap_err();
        assert_eq!(e.problems[0].line, Some(4));
        assert!(e.to_string().contains("unknown field `fone`"));
        let e = parse("[[user]\n").unwrap_err();
        assert_eq!(e.problems[0].line, Some(1));
    }

    #[test]
    fn many_problems_are_all_reported() {
        let src = r#"
[[user]]
id = "a"
phone = ["0170"]
[[user]]
id = "a"
phone = ["+491701111111"]
[[routing_number]]
name = "X"
port = "fxo9"
menu_timeout = "0s"
"#;
        let e = parse(src).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("user[0].phone[0]"), "{s}");
        assert!(s.contains("used twice"), "{s}");
        assert!(s.contains("no port `fxo9`"), "{s}");
        assert!(s.contains("menu_timeout"), "{s}");
        assert!(s.contains("no menu options"), "{s}");
    }

    #[test]
    fn schedule_problems_name_line_key_and_fix() {
        let src = r#"
[[user]]
id = "a"
phone = ["+491701111111"]
[[schedule]]
id = "s"
time_zone = "Europe/Berlín"
  [[schedule.layer]]
  users = ["a", "zed"]
  shift = "3 fortnights"
  start = "2026-02-30"
  handoff = "9:00"
    [[schedule.layer.restriction]]
    days = ["mon-fry"]
    from = "20:00"
    to = "08:00"
  [[schedule.override]]
  user = "a"
  from = "2026-03-02T10:00"
  to = "2026-03-01T10:00"
[[policy]]
id = "p"
[[policy.level]]
schedules = ["s", "nope"]
[[routing_number]]
name = "X"
port = "fxo1"
  [[routing_number.option]]
  key = 1
  label = "L"
  policy = "p"
  [routing_number.support_hours]
  time_zone = "Mars/Olympus"
  out_of_hours = "answering-machine"
  window = [{ days = ["mon-fri"], from = "08:00", to = "25:00" }]
"#;
        let s = parse(src).unwrap_err().to_string();
        for want in [
            "t.toml:7:13: schedule[0].time_zone: `Europe/Berlín` is not a known IANA time zone",
            "t.toml:9:17: schedule[0].layer[0].users[1]: no user with id `zed`",
            "t.toml:10:11: schedule[0].layer[0].shift: `3 fortnights` is not a shift length",
            "t.toml:11:11: schedule[0].layer[0].start: `2026-02-30` is not a date",
            "t.toml:12:13: schedule[0].layer[0].handoff: `9:00` is not a time of day: write HH:MM",
            "schedule[0].layer[0].restriction[0].days: `mon-fry` is not a weekday",
            "schedule[0].override[0].to: the override ends before it starts",
            "policy[0].level[0].schedules[1]: no schedule with id `nope`",
            "routing_number[0].support_hours.time_zone: `Mars/Olympus`",
            "routing_number[0].support_hours.out_of_hours: `answering-machine`",
            "routing_number[0].support_hours.window[0].to: `25:00`",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
    }

    #[test]
    fn schedules_compile_and_policies_resolve() {
        let c = Config::demo();
        assert_eq!(c.model.schedules.len(), 1);
        let t: jiff::Timestamp = "2026-01-07T12:00:00Z".parse().unwrap();
        let (levels, gaps) = crate::routing::resolved_levels(&c, "rotation", t);
        assert_eq!(
            levels,
            vec![
                vec!["alice".to_string()],
                vec!["alice".into(), "bob".into()]
            ]
        );
        assert!(gaps.is_empty());
        // Wednesday 21:00 local: the nights layer (carol in week 1)
        let t: jiff::Timestamp = "2026-01-07T20:00:00Z".parse().unwrap();
        assert_eq!(
            crate::routing::resolved_levels(&c, "rotation", t).0[0],
            vec!["carol"]
        );
    }

    #[test]
    fn a_schedule_needs_layers_or_a_feed_not_both() {
        let base = "[[user]]\nid = \"a\"\nphone = [\"+491701111111\"]\n[[schedule]]\nid = \"s\"\ntime_zone = \"UTC\"\n";
        let s = parse(base).unwrap_err().to_string();
        assert!(s.contains("schedule `s` has no layers"), "{s}");
        let both = format!(
            "{base}feed = {{ url = \"ftp://x\" }}\n[[schedule.layer]]\nusers = [\"a\"]\nshift = \"1d\"\nstart = \"2026-01-01\"\n"
        );
        let s = parse(&both).unwrap_err().to_string();
        assert!(s.contains("both a feed and layers"), "{s}");
        assert!(s.contains("is not an http(s) URL"), "{s}");
    }
}
