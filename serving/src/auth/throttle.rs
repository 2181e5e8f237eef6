//! Login throttling: failed logins are counted per account and per client
//! address. Past `login_slowdown_after` failures each attempt waits longer
//! (doubling from 250 ms, at most 8 s); past `login_lockout_after` (per
//! account) or `login_address_lockout_after` (per address) attempts are
//! refused with 429 until `login_lockout_s` has passed since the last
//! failure. A success clears the account's count. Counts live in memory:
//! each serving instance throttles on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arus_schemas::Config;

/// Entries kept before forgotten ones are swept.
const SWEEP_ABOVE: usize = 10_000;
const BASE_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// What to do with a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Wait this long, then check the password.
    Delay(Duration),
    /// Refuse without checking; the client may try again after this long.
    Refuse { retry_after: Duration },
}

/// See the module documentation.
#[derive(Debug)]
pub struct LoginThrottle {
    slowdown_after: u32,
    lockout_after: u32,
    address_lockout_after: u32,
    window: Duration,
    failures: Mutex<HashMap<Key, Failures>>,
}

impl LoginThrottle {
    pub fn new(config: &Config) -> Self {
        LoginThrottle {
            slowdown_after: config.login_slowdown_after,
            lockout_after: config.login_lockout_after,
            address_lockout_after: config.login_address_lockout_after,
            window: Duration::from_secs(config.login_lockout_s),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn recent(&self, map: &HashMap<Key, Failures>, key: &Key, now: Instant) -> Option<Failures> {
        map.get(key).copied().filter(|f| now.duration_since(f.last) < self.window)
    }

    /// The verdict for an attempt on `account` (the normalised login name) from `addr`.
    pub fn check(&self, account: &str, addr: Option<IpAddr>) -> Verdict {
        let now = Instant::now();
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let by_account = self.recent(&map, &Key::Account(account.to_owned()), now);
        let by_address = addr.and_then(|a| self.recent(&map, &Key::Address(a), now));
        let refuse_until = |f: Failures| f.last + self.window - now;
        if let Some(f) = by_account.filter(|f| f.count >= self.lockout_after) {
            return Verdict::Refuse { retry_after: refuse_until(f) };
        }
        if let Some(f) = by_address.filter(|f| f.count >= self.address_lockout_after) {
            return Verdict::Refuse { retry_after: refuse_until(f) };
        }
        let count = by_account.map_or(0, |f| f.count);
        if count >= self.slowdown_after {
            let doublings = (count - self.slowdown_after).min(16);
            return Verdict::Delay((BASE_DELAY * 2u32.pow(doublings)).min(MAX_DELAY));
        }
        Verdict::Go
    }

    /// Counts a failed attempt; returns the account's failures in the window.
    pub fn failed(&self, account: &str, addr: Option<IpAddr>) -> u32 {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_ABOVE {
            let window = self.window;
            map.retain(|_, f| now.duration_since(f.last) < window);
        }
        let mut bump = |key: Key| {
            let fresh = self.recent(&map, &key, now).map_or(0, |f| f.count);
            map.insert(key, Failures { count: fresh + 1, last: now });
            fresh + 1
        };
        if let Some(addr) = addr {
            bump(Key::Address(addr));
        }
        bump(Key::Account(account.to_owned()))
    }

    /// Clears the account's failures after a successful login.
    pub fn succeeded(&self, account: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&Key::Account(account.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        let config = Config { login_slowdown_after: 2, login_lockout_after: 4, login_address_lockout_after: 6, ..Config::default() };
        LoginThrottle::new(&config)
    }

    #[test]
    fn failures_slow_down_then_lock_the_account() {
        let t = throttle();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        assert_eq!(t.check("rini", Some(ip)), Verdict::Go);
        t.failed("rini", Some(ip));
        t.failed("rini", Some(ip));
        assert_eq!(t.check("rini", Some(ip)), Verdict::Delay(Duration::from_millis(250)));
        t.failed("rini", Some(ip));
        assert_eq!(t.check("rini", Some(ip)), Verdict::Delay(Duration::from_millis(500)));
        t.failed("rini", Some(ip));
        assert!(matches!(t.check("rini", Some(ip)), Verdict::Refuse { retry_after } if retry_after > Duration::from_secs(800)));
        assert_eq!(t.check("budi", None), Verdict::Go, "another account is not affected");
        t.succeeded("budi");
        assert!(matches!(t.check("rini", None), Verdict::Refuse { .. }), "success elsewhere does not unlock");
    }

    #[test]
    fn one_address_trying_many_accounts_is_refused() {
        let t = throttle();
        let ip: IpAddr = "127.0.0.7".parse().unwrap();
        for i in 0..6 {
            t.failed(&format!("user{i}"), Some(ip));
        }
        assert!(matches!(t.check("fresh", Some(ip)), Verdict::Refuse { .. }));
        assert_eq!(t.check("fresh", Some("127.0.0.8".parse().unwrap())), Verdict::Go);
    }

    #[test]
    fn a_success_clears_the_account() {
        let t = throttle();
        t.failed("rini", None);
        t.failed("rini", None);
        t.succeeded("rini");
        assert_eq!(t.check("rini", None), Verdict::Go);
    }
}
