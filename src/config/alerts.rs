//! Alert targets (`[[alert_target]]`), each routing number's alert settings
//! (`[routing_number.alerts]`) and voicemail storage limits (`[voicemail]`).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration;
use super::error::Problems;

/// Where alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTarget {
    /// Name used by routing numbers (`targets = ["pagerduty"]`).
    pub name: Spanned<String>,
    /// `pagerduty` (Events API v2), `ilert` (Events API) or `webhook`.
    pub kind: Spanned<String>,
    /// Endpoint; default: the service's public endpoint (PagerDuty, ilert). Required for
    /// `webhook`. Tests point it at a local receiver.
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// PagerDuty: the integration's routing key (32 characters).
    #[serde(default)]
    pub routing_key: Option<Spanned<String>>,
    /// ilert: the alert source's integration key.
    #[serde(default)]
    pub integration_key: Option<Spanned<String>>,
    /// Webhook: the shared secret for the HMAC-SHA256 signature (at least 16
    /// characters).
    #[serde(default)]
    pub secret: Option<Spanned<String>>,
    /// Time allowed for one request (default 10 s).
    #[serde(default = "d10", deserialize_with = "duration")]
    pub timeout: Spanned<Duration>,
    /// An event that could not be delivered for this long is given up (default 3 days).
    #[serde(default = "d3days", deserialize_with = "duration")]
    pub give_up_after: Spanned<Duration>,
    /// PagerDuty severity (`critical`, `error`, `warning`, `info`; default `critical`).
    #[serde(default)]
    pub severity: Option<Spanned<String>>,
    /// SMS: extra numbers (E.164) that get every alert SMS.
    #[serde(default)]
    pub numbers: Vec<Spanned<String>>,
    /// SMS: also the responders of the alert's routing number (the users its options'
    /// policies reach at that moment; health alerts have none).
    #[serde(default)]
    pub responders: bool,
    /// SMS: send only when no data target delivered the event within this time (the
    /// fallback when the data path is down). Without it every event goes out by SMS.
    #[serde(default, deserialize_with = "super::opt_duration")]
    pub fallback_after: Option<Spanned<Duration>>,
}

fn d10() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(10))
}
fn d3days() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(3 * 86_400))
}

/// Default PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Default ilert Events API endpoint.
pub const ILERT_URL: &str = "https://api.ilert.com/api/events";

/// The kinds of alert target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// PagerDuty Events API v2.
    Pagerduty,
    /// ilert Events API.
    Ilert,
    /// Generic JSON webhook, HMAC-signed.
    Webhook,
    /// SMS through the modem (capped, see `[sms]`).
    Sms,
}

impl AlertTarget {
    /// The target's kind (validated when parsing).
    pub fn kind(&self) -> TargetKind {
        match self.kind.get_ref().as_str() {
            "pagerduty" => TargetKind::Pagerduty,
            "ilert" => TargetKind::Ilert,
            "sms" => TargetKind::Sms,
            _ => TargetKind::Webhook,
        }
    }

    /// The endpoint to post to.
    pub fn endpoint(&self) -> String {
        match (&self.url, self.kind()) {
            (Some(u), _) => u.get_ref().clone(),
            (None, TargetKind::Pagerduty) => PAGERDUTY_URL.into(),
            (None, TargetKind::Ilert) => ILERT_URL.into(),
            (None, TargetKind::Webhook | TargetKind::Sms) => String::new(),
        }
    }
}

/// When a routing number creates its alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateAlert {
    /// For every call, when it is taken in.
    CallStart,
    /// Only when nobody accepted (with the voicemail, if one was left).
    NobodyAccepted,
}

/// A routing number's alerts (`[routing_number.alerts]`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RoutingAlerts {
    /// Names of `[[alert_target]]`s; none: no alerts.
    #[serde(default)]
    pub targets: Vec<Spanned<String>>,
    /// `call_start` (default) or `nobody_accepted`.
    #[serde(default)]
    pub create: Option<Spanned<String>>,
    /// `call_end` (default: resolve when an accepted call ends) or `never` (the
    /// responder resolves it).
    #[serde(default)]
    pub resolve: Option<Spanned<String>>,
}

impl RoutingAlerts {
    /// When the alert is created.
    pub fn create(&self) -> CreateAlert {
        match self.create.as_ref().map(|c| c.get_ref().as_str()) {
            Some("nobody_accepted") => CreateAlert::NobodyAccepted,
            _ => CreateAlert::CallStart,
        }
    }

    /// Whether an accepted call's end resolves the alert.
    pub fn resolve_at_call_end(&self) -> bool {
        self.resolve.as_ref().map(|r| r.get_ref().as_str()) != Some("never")
    }
}

/// The box's own health alerts (`[health]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Names of `[[alert_target]]`s that get the box's health alerts.
    #[serde(default)]
    pub targets: Vec<Spanned<String>>,
    /// The modem not registered, or its SIM not usable, for this long (default 5 min).
    #[serde(default = "d5m", deserialize_with = "duration")]
    pub registration_lost_after: Spanned<Duration>,
    /// Alert when the signal stays below this many dBm (off by default; e.g. -105).
    #[serde(default)]
    pub signal_below_dbm: Option<Spanned<i32>>,
    /// ... for this long (default 15 min).
    #[serde(default = "d15m", deserialize_with = "duration")]
    pub signal_low_for: Spanned<Duration>,
    /// Alert when the data directory's file system is this full, in percent (default 90).
    #[serde(default = "d90")]
    pub disk_full_percent: Spanned<u8>,
    /// A trunk (FXO line) out of service for this long (default 5 min).
    #[serde(default = "d5m", deserialize_with = "duration")]
    pub trunk_out_after: Spanned<Duration>,
    /// An iCal feed not read successfully for this long (default 24 h).
    #[serde(default = "d24h", deserialize_with = "duration")]
    pub feed_stale_after: Spanned<Duration>,
    /// The periodic self-test call (`[health.self_test]`), off without it.
    #[serde(default)]
    pub self_test: Option<SelfTestConfig>,
}

/// `[health.self_test]`: every `every` the box calls `number`, plays a tone once it
/// answers, and raises a health alert when that fails (EN 81-28 style).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfTestConfig {
    /// E.164 number to call (an answering service, a second box, a person).
    pub number: Spanned<String>,
    /// How often (default 72 h).
    #[serde(default = "d72h", deserialize_with = "duration")]
    pub every: Spanned<Duration>,
    /// How long the tone plays once answered (default 5 s).
    #[serde(default = "d5s", deserialize_with = "duration")]
    pub tone: Spanned<Duration>,
    /// How long it may ring before the test fails (default 45 s).
    #[serde(default = "d45s", deserialize_with = "duration")]
    pub ring: Spanned<Duration>,
}

fn d72h() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(72 * 3600))
}
fn d5s() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(5))
}
fn d45s() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(45))
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            registration_lost_after: d5m(),
            signal_below_dbm: None,
            signal_low_for: d15m(),
            disk_full_percent: d90(),
            trunk_out_after: d5m(),
            feed_stale_after: d24h(),
            self_test: None,
        }
    }
}

fn d5m() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(300))
}
fn d15m() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(900))
}
fn d24h() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(86_400))
}
fn d90() -> Spanned<u8> {
    Spanned::new(0..0, 90)
}

/// The cap on SMS the box sends on its own (`[sms]`): alert SMS and reply
/// confirmations together, counted durably in SQLite, so neither a fault nor a restart
/// loop can run up a bill.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    /// At most this many SMS per window (default 100); one SMS per recipient, however
    /// many parts a long text takes.
    #[serde(default = "default_cap")]
    pub cap: Spanned<u32>,
    /// The sliding window (default 6 h).
    #[serde(default = "d6h", deserialize_with = "duration")]
    pub cap_window: Spanned<Duration>,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            cap: default_cap(),
            cap_window: d6h(),
        }
    }
}

fn default_cap() -> Spanned<u32> {
    Spanned::new(0..0, 100)
}
fn d6h() -> Spanned<Duration> {
    Spanned::new(0..0, Duration::from_secs(6 * 3600))
}

/// Voicemail storage (`[voicemail]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicemailStorage {
    /// Messages older than this many days are deleted (default 90) — never one whose
    /// alert is not delivered yet.
    #[serde(default = "default_days")]
    pub retention_days: u32,
    /// Total size of the voicemail directory in MB (default 500); the oldest delivered
    /// messages go first.
    #[serde(default = "default_mb")]
    pub max_total_mb: u32,
}

impl Default for VoicemailStorage {
    fn default() -> Self {
        Self {
            retention_days: default_days(),
            max_total_mb: default_mb(),
        }
    }
}

fn default_days() -> u32 {
    90
}
fn default_mb() -> u32 {
    500
}

/// A URL is acceptable: `http://` or `https://`, a host, no spaces.
pub fn valid_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || host.starts_with('[') => {
            if port.parse::<u16>().is_err() {
                return false;
            }
            h
        }
        _ => host,
    };
    !name.is_empty() && !u.contains(char::is_whitespace)
}

/// Validates alert targets and the routing numbers' references to them.
pub(super) fn validate(cfg: &super::Config, p: &mut Problems<'_>) {
    let mut names = std::collections::HashSet::new();
    for (i, t) in cfg.alert_targets.iter().enumerate() {
        let key = format!("alert_target[{i}]");
        let name = t.name.get_ref();
        if !super::board::valid_id(name) {
            p.at(
                Some(t.name.span()),
                format!("{key}.name"),
                format!("`{name}` is not a valid name: use letters, digits, `-` or `_`"),
            );
        }
        if !names.insert(name.as_str()) {
            p.at(
                Some(t.name.span()),
                format!("{key}.name"),
                format!("alert target `{name}` is defined twice"),
            );
        }
        let kind = t.kind.get_ref().as_str();
        let need = |p: &mut Problems<'_>, field: &str, v: &Option<Spanned<String>>, hint: &str| {
            if v.as_ref().is_none_or(|s| s.get_ref().trim().is_empty()) {
                p.at(
                    Some(t.kind.span()),
                    format!("{key}.{field}"),
                    format!("kind = \"{kind}\" needs `{field}`: {hint}"),
                );
            }
        };
        match kind {
            "pagerduty" => need(
                p,
                "routing_key",
                &t.routing_key,
                "the integration key of a PagerDuty Events API v2 integration",
            ),
            "ilert" => need(
                p,
                "integration_key",
                &t.integration_key,
                "the integration key of an ilert alert source",
            ),
            "webhook" => {
                need(
                    p,
                    "url",
                    &t.url,
                    "where to post, e.g. \"https://hooks.example.com/switchboard\"",
                );
                need(
                    p,
                    "secret",
                    &t.secret,
                    "a shared secret of at least 16 characters for the HMAC signature",
                );
                if let Some(s) = &t.secret
                    && !s.get_ref().trim().is_empty()
                    && s.get_ref().len() < 16
                {
                    p.at(
                        Some(s.span()),
                        format!("{key}.secret"),
                        "the secret is too short: use at least 16 characters",
                    );
                }
            }
            "sms" => {
                if t.numbers.is_empty() && !t.responders {
                    p.at(
                        Some(t.kind.span()),
                        format!("{key}.numbers"),
                        "kind = \"sms\" needs `numbers = [\"+49...\"]` or `responders = true`",
                    );
                }
                for (j, n) in t.numbers.iter().enumerate() {
                    if !super::is_e164(n.get_ref()) {
                        p.at(
                            Some(n.span()),
                            format!("{key}.numbers[{j}]"),
                            format!(
                                "`{}` is not an E.164 number: write it with + and country code, e.g. \"+491701234567\"",
                                n.get_ref()
                            ),
                        );
                    }
                }
            }
            other => p.at(
                Some(t.kind.span()),
                format!("{key}.kind"),
                format!(
                    "`{other}` is not a target kind: use \"pagerduty\", \"ilert\", \"webhook\" or \"sms\""
                ),
            ),
        }
        if kind != "sms" {
            if !t.numbers.is_empty() || t.responders || t.fallback_after.is_some() {
                p.at(
                    Some(t.kind.span()),
                    format!("{key}.kind"),
                    "`numbers`, `responders` and `fallback_after` belong to kind = \"sms\" targets",
                );
            }
        } else if let Some(f) = &t.fallback_after
            && (f.get_ref().is_zero() || f.get_ref().as_secs() > 86_400)
        {
            p.at(
                Some(f.span()),
                format!("{key}.fallback_after"),
                "use 1s to 24h",
            );
        }
        if let Some(u) = &t.url
            && !valid_url(u.get_ref())
        {
            p.at(
                Some(u.span()),
                format!("{key}.url"),
                format!(
                    "`{}` is not a URL: write it as https://host/path",
                    u.get_ref()
                ),
            );
        }
        if let Some(s) = &t.severity
            && !["critical", "error", "warning", "info"].contains(&s.get_ref().as_str())
        {
            p.at(
                Some(s.span()),
                format!("{key}.severity"),
                format!(
                    "`{}`: use \"critical\", \"error\", \"warning\" or \"info\"",
                    s.get_ref()
                ),
            );
        }
        let secs = t.timeout.get_ref().as_secs_f64();
        if !(0.1..=120.0).contains(&secs) {
            p.at(
                Some(t.timeout.span()),
                format!("{key}.timeout"),
                "use 100ms to 120s",
            );
        }
    }
    let cap = *cfg.sms.cap.get_ref();
    if !(1..=10_000).contains(&cap) {
        p.at(
            Some(cfg.sms.cap.span()),
            "sms.cap",
            format!("{cap}: use 1 to 10000 SMS per window"),
        );
    }
    let w = cfg.sms.cap_window.get_ref().as_secs();
    if !(60..=7 * 86_400).contains(&w) {
        p.at(
            Some(cfg.sms.cap_window.span()),
            "sms.cap_window",
            "use 1m to 7 days",
        );
    }
    let h = &cfg.health;
    if let Some(s) = &h.signal_below_dbm
        && !(-140..=-40).contains(s.get_ref())
    {
        p.at(
            Some(s.span()),
            "health.signal_below_dbm",
            format!("{}: use -140 to -40 dBm (e.g. -105)", s.get_ref()),
        );
    }
    if !(50..=99).contains(h.disk_full_percent.get_ref()) {
        p.at(
            Some(h.disk_full_percent.span()),
            "health.disk_full_percent",
            format!("{}: use 50 to 99 (percent)", h.disk_full_percent.get_ref()),
        );
    }
    for (name, d) in [
        ("registration_lost_after", &h.registration_lost_after),
        ("signal_low_for", &h.signal_low_for),
        ("trunk_out_after", &h.trunk_out_after),
        ("feed_stale_after", &h.feed_stale_after),
    ] {
        if d.get_ref().is_zero() || d.get_ref().as_secs() > 7 * 86_400 {
            p.at(Some(d.span()), format!("health.{name}"), "use 1s to 7 days");
        }
    }
    if let Some(st) = &h.self_test {
        if !super::is_e164(st.number.get_ref()) {
            p.at(
                Some(st.number.span()),
                "health.self_test.number",
                format!(
                    "`{}` is not an E.164 number: write it with + and country code",
                    st.number.get_ref()
                ),
            );
        }
        for (name, d, lo, hi) in [
            ("every", &st.every, 3600, 90 * 86_400),
            ("tone", &st.tone, 1, 60),
            ("ring", &st.ring, 5, 180),
        ] {
            let secs = d.get_ref().as_secs();
            if !(lo..=hi).contains(&secs) {
                p.at(
                    Some(d.span()),
                    format!("health.self_test.{name}"),
                    format!(
                        "use {} to {}",
                        crate::alerts::sms::human(Duration::from_secs(lo)),
                        crate::alerts::sms::human(Duration::from_secs(hi))
                    ),
                );
            }
        }
    }
    for (j, t) in cfg.health.targets.iter().enumerate() {
        if !names.contains(t.get_ref().as_str()) {
            p.at(
                Some(t.span()),
                format!("health.targets[{j}]"),
                format!(
                    "no alert target `{}`: define it in an [[alert_target]] section",
                    t.get_ref()
                ),
            );
        }
    }
    for (i, rn) in cfg.routing_numbers.iter().enumerate() {
        let key = format!("routing_number[{i}].alerts");
        let a = &rn.alerts;
        for (j, t) in a.targets.iter().enumerate() {
            if !names.contains(t.get_ref().as_str()) {
                let known: Vec<&str> = cfg
                    .alert_targets
                    .iter()
                    .map(|t| t.name.get_ref().as_str())
                    .collect();
                p.at(
                    Some(t.span()),
                    format!("{key}.targets[{j}]"),
                    format!(
                        "no alert target `{}`: define it in an [[alert_target]] section{}",
                        t.get_ref(),
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!(" or use one of {}", known.join(", "))
                        }
                    ),
                );
            }
        }
        if let Some(c) = &a.create
            && !["call_start", "nobody_accepted"].contains(&c.get_ref().as_str())
        {
            p.at(
                Some(c.span()),
                format!("{key}.create"),
                format!(
                    "`{}`: use \"call_start\" or \"nobody_accepted\"",
                    c.get_ref()
                ),
            );
        }
        if let Some(r) = &a.resolve
            && !["call_end", "never"].contains(&r.get_ref().as_str())
        {
            p.at(
                Some(r.span()),
                format!("{key}.resolve"),
                format!("`{}`: use \"call_end\" or \"never\"", r.get_ref()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for ok in [
            "https://events.pagerduty.com/v2/enqueue",
            "http://127.0.0.1:8099/hook",
            "http://[::1]:80/x",
        ] {
            assert!(valid_url(ok), "{ok}");
        }
        for bad in [
            "ftp://x",
            "https://",
            "http://host:99999/",
            "https://a b",
            "events.pagerduty.com",
        ] {
            assert!(!valid_url(bad), "{bad}");
        }
    }

    #[test]
    fn check_config_names_missing_keys_and_bad_urls() {
        let src = r#"
[[alert_target]]
name = "pd"
kind = "pagerduty"
[[alert_target]]
name = "hook"
kind = "webhook"
url = "not a url"
secret = "short"
[[alert_target]]
name = "x"
kind = "carrier-pigeon"
[[routing_number]]
name = "Hotline"
port = "fxo1"
  [routing_number.alerts]
  targets = ["pd", "nope"]
  create = "sometimes"
"#;
        let e = super::super::Config::parse("a.toml", src, &super::super::BoardProfile::sim())
            .unwrap_err()
            .to_string();
        for want in [
            "alert_target[0].routing_key: kind = \"pagerduty\" needs `routing_key`",
            "alert_target[1].url: `not a url` is not a URL",
            "alert_target[1].secret: the secret is too short",
            "alert_target[2].kind: `carrier-pigeon` is not a target kind",
            "routing_number[0].alerts.targets[1]: no alert target `nope`",
            "routing_number[0].alerts.create: `sometimes`",
        ] {
            assert!(e.contains(want), "missing {want:?} in\n{e}");
        }
    }

    #[test]
    fn check_config_validates_health_and_the_self_test() {
        let src = r#"
[health]
targets = ["nope"]
signal_below_dbm = -20
disk_full_percent = 100
registration_lost_after = "0s"
  [health.self_test]
  number = "0800 123"
  every = "10m"
  tone = "2m"
"#;
        let e = super::super::Config::parse("h.toml", src, &super::super::BoardProfile::sim())
            .unwrap_err()
            .to_string();
        for want in [
            "health.targets[0]: no alert target `nope`",
            "health.signal_below_dbm: -20: use -140 to -40 dBm",
            "health.disk_full_percent: 100: use 50 to 99",
            "health.registration_lost_after: use 1s to 7 days",
            "health.self_test.number: `0800 123` is not an E.164 number",
            "health.self_test.every: use 1h to 2160h",
            "health.self_test.tone: use 1s to 1m",
        ] {
            assert!(e.contains(want), "missing {want:?} in\n{e}");
        }
        let ok = "[health.self_test]\nnumber = \"+498912345678\"\n";
        let c =
            super::super::Config::parse("h.toml", ok, &super::super::BoardProfile::sim()).unwrap();
        let st = c.health.self_test.unwrap();
        assert_eq!(st.every.get_ref().as_secs(), 72 * 3600);
    }
}
