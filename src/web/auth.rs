//! The pure parts of web security: tokens, password hashing (argon2id), password rules,
//! the login back-off and the idle rule. No I/O; the time is an argument.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "sb_session";
/// Header that carries the CSRF token on every state-changing request.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused for this long is over.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Shortest admin password.
pub const MIN_PASSWORD_CHARS: usize = 10;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::StdRng::from_os_rng().fill_bytes(&mut b);
    b
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random session or CSRF token (256 bits, hex).
pub fn new_token() -> String {
    hex(&random_bytes::<32>())
}

/// A setup token a person can read off a console and type: 20 characters from an
/// alphabet without look-alikes (0/O, 1/I/L), in groups of 4 — about 100 bits.
pub fn new_setup_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let bytes = random_bytes::<20>();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Setup tokens compare without case, spaces or dashes (people type them).
pub fn setup_token_matches(expected: &str, given: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    constant_time_eq(norm(expected).as_bytes(), norm(given).as_bytes())
}

/// What is stored for a session token: its SHA-256, so the database holds no live token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Equality that does not leak where two tokens differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes), as a PHC
/// string. Slow on purpose: call it off the async workers.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt =
        SaltString::encode_b64(&random_bytes::<16>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
        .to_string())
}

/// Checks a password against a stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that an unknown name
/// takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// Why a new password is refused, in words that say what to do.
pub fn password_problem(password: &str, account: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Some(format!(
            "use at least {MIN_PASSWORD_CHARS} characters ({n} given); a few words make a good password"
        ));
    }
    if n > 256 {
        return Some("use at most 256 characters".into());
    }
    if password.eq_ignore_ascii_case(account) {
        return Some("the password must not be the account name".into());
    }
    let lower = password.to_ascii_lowercase();
    if [
        "password",
        "switchboard",
        "admin",
        "1234567890",
        "0123456789",
    ]
    .iter()
    .any(|w| lower.starts_with(w) && lower.len() <= w.len() + 3)
    {
        return Some("this password is too easy to guess: choose another".into());
    }
    None
}

/// Why an account name is refused.
pub fn account_name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    (!ok).then(|| {
        "use 1 to 32 letters, digits, `.`, `-` or `_` (e.g. `admin`, `night-shift`)".into()
    })
}

/// Whether a session last used at `last_seen` is still alive at `now` (unix seconds).
pub fn session_alive(last_seen: i64, now: i64, idle: Duration) -> bool {
    now.saturating_sub(last_seen) < idle.as_secs() as i64
}

/// Login back-off per client address: the first `FREE` failures cost nothing, then
/// each failure doubles the wait before the next try (1 s, 2 s, 4 s, ... at most
/// 5 minutes). A success clears the address. Memory is bounded: past `MAX_ADDRS`
/// addresses the oldest entries are dropped.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    by_addr: HashMap<IpAddr, (u32, Instant)>,
}

impl LoginLimiter {
    const FREE: u32 = 3;
    const MAX_WAIT: Duration = Duration::from_secs(300);
    const MAX_ADDRS: usize = 4096;

    /// Whether `addr` may try now; otherwise how long it must wait.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.by_addr.get(&addr) {
            Some(&(_, until)) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failed login from `addr`; returns the wait before the next try.
    pub fn failure(&mut self, addr: IpAddr, now: Instant) -> Duration {
        if self.by_addr.len() >= Self::MAX_ADDRS && !self.by_addr.contains_key(&addr) {
            if let Some(oldest) = self
                .by_addr
                .iter()
                .min_by_key(|(_, v)| v.1)
                .map(|(k, _)| *k)
            {
                self.by_addr.remove(&oldest);
            }
        }
        let e = self.by_addr.entry(addr).or_insert((0, now));
        e.0 += 1;
        let wait = if e.0 <= Self::FREE {
            Duration::ZERO
        } else {
            let exp = (e.0 - Self::FREE - 1).min(16);
            Duration::from_secs(1u64 << exp).min(Self::MAX_WAIT)
        };
        e.1 = now + wait;
        wait
    }

    /// A successful login clears the address.
    pub fn success(&mut self, addr: IpAddr) {
        self.by_addr.remove(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn setup_tokens_are_unique_and_typed_loosely() {
        let a = new_setup_token();
        assert_eq!(a.len(), 24);
        assert_ne!(a, new_setup_token());
        assert!(setup_token_matches(&a, &a.to_lowercase().replace('-', " ")));
        assert!(!setup_token_matches(&a, "AAAA-BBBB-CCCC-DDDD-EEEE"));
        assert!(!setup_token_matches(&a, ""));
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("short", "admin").is_some());
        assert!(password_problem("password12", "admin").is_some());
        assert!(password_problem("night-shift", "night-shift").is_some());
        assert_eq!(password_problem("tea kettle sunrise", "admin"), None);
        assert!(account_name_problem("a b").is_some());
        assert_eq!(account_name_problem("night-shift"), None);
    }

    #[test]
    fn idle_rule() {
        let idle = Duration::from_secs(60);
        assert!(session_alive(100, 159, idle));
        assert!(!session_alive(100, 160, idle));
    }

    #[test]
    fn login_back_off_doubles_and_clears() {
        let mut l = LoginLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check(a, t), Ok(()));
            assert_eq!(l.failure(a, t), Duration::ZERO);
        }
        assert_eq!(l.failure(a, t), Duration::from_secs(1));
        assert_eq!(l.check(a, t), Err(Duration::from_secs(1)));
        assert_eq!(l.check(b, t), Ok(()), "other addresses are not affected");
        let t = t + Duration::from_secs(1);
        assert_eq!(l.check(a, t), Ok(()));
        assert_eq!(l.failure(a, t), Duration::from_secs(2));
        assert_eq!(l.failure(a, t), Duration::from_secs(4));
        for _ in 0..30 {
            l.failure(a, t);
        }
        assert_eq!(l.check(a, t), Err(Duration::from_secs(300)));
        l.success(a);
        assert_eq!(l.check(a, t), Ok(()));
    }
}
