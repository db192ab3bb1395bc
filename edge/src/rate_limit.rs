//! Per-client token buckets for the vote routes (`EDGE_RATE_LIMIT`, e.g. `20/s burst 40`).
//! Each client (an address, an IPv6 client's /64, which one subscriber usually holds; or
//! a voter, see `vote_limits`) gets `burst` tokens refilled at `rate` per second; a
//! request spends one or gets 429 with the wait until the next token. Memory is bounded:
//! a bucket idle long enough to be full again is the same as none and is dropped, and
//! past [`MAX_TRACKED_CLIENTS`] the longest-idle bucket makes room.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Clients tracked at once, about 40 bytes each: a few MB at most, however many
/// addresses a flood comes from.
const MAX_TRACKED_CLIENTS: usize = 65_536;

/// Independent locks, so concurrent votes from different clients rarely wait on each other.
const SHARDS: usize = 16;

/// How often a shard drops its idle buckets even when it is not full.
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// A rate and burst, as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSpec {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size: requests a fresh client may send at once.
    pub burst: u32,
}

/// Parses `off`, `N/s`, `N/m` or `N/h`, optionally followed by `burst M` (default: N,
/// at least 1).
pub fn parse_rate(text: &str) -> Result<Option<RateSpec>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let wrong = || format!("{text:?}: write e.g. \"20/s burst 40\", \"600/m\" or \"off\"");
    let mut words = text.split_whitespace();
    let (count, unit) = words
        .next()
        .and_then(|rate| rate.split_once('/'))
        .ok_or_else(wrong)?;
    let count: u32 = count.parse().map_err(|_| wrong())?;
    let seconds = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(wrong()),
    };
    let burst = match (words.next(), words.next(), words.next()) {
        (None, _, _) => count.max(1),
        (Some("burst"), Some(burst), None) => burst.parse().map_err(|_| wrong())?,
        _ => return Err(wrong()),
    };
    if count == 0 || burst == 0 {
        return Err(format!(
            "{text:?}: rate and burst must be above 0 (use \"off\" to disable)"
        ));
    }
    Ok(Some(RateSpec {
        per_second: f64::from(count) / seconds,
        burst,
    }))
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
struct Shard<K> {
    buckets: HashMap<K, Bucket>,
    swept: Instant,
}

/// The token buckets of every client seen recently, each client known by a `K`.
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    spec: RateSpec,
    /// Time an empty bucket takes to fill: a bucket idle this long can be forgotten.
    refill: Duration,
    hasher: RandomState,
    shards: Vec<Mutex<Shard<K>>>,
}

impl RateLimiter<IpAddr> {
    /// Spends a token of the bucket of the client at `client`, or says how long until
    /// one is there.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.spend(bucket_key(client))
    }
}

impl<K: Hash + Eq + Copy> RateLimiter<K> {
    /// A limiter with `spec` for every client.
    pub fn new(spec: RateSpec) -> Self {
        let now = Instant::now();
        RateLimiter {
            spec,
            refill: Duration::from_secs_f64(f64::from(spec.burst) / spec.per_second),
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        swept: now,
                    })
                })
                .collect(),
        }
    }

    /// Spends a token of `key`'s bucket, or says how long until one is there.
    pub fn spend(&self, key: K) -> Result<(), Duration> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        let now = Instant::now();
        // A poisoned lock only means another request panicked mid-update; the numbers
        // in it are still usable.
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !shard.buckets.contains_key(&key) {
            self.make_room(&mut shard, now);
        }
        let full = f64::from(self.spec.burst);
        let bucket = shard.buckets.entry(key).or_insert(Bucket {
            tokens: full,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.spec.per_second).min(full);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.spec.per_second,
            ))
        }
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().map_or(0, |shard| shard.buckets.len()))
            .sum()
    }

    /// Before a new client is added: drop idle buckets now and then, and when the shard
    /// is full; if it is still full, drop the longest-idle one.
    fn make_room(&self, shard: &mut Shard<K>, now: Instant) {
        let capacity = MAX_TRACKED_CLIENTS / SHARDS;
        let full = shard.buckets.len() >= capacity;
        if full || now.saturating_duration_since(shard.swept) >= SWEEP_INTERVAL {
            let refill = self.refill;
            shard
                .buckets
                .retain(|_, bucket| now.saturating_duration_since(bucket.updated) < refill);
            shard.swept = now;
        }
        if shard.buckets.len() >= capacity {
            let oldest = shard
                .buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.updated)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                shard.buckets.remove(&oldest);
            }
        }
    }
}

/// IPv4 addresses as they are; IPv6 by /64, the smallest block one site is given.
fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(text: &str) -> RateLimiter {
        RateLimiter::new(parse_rate(text).expect("parses").expect("on"))
    }

    #[test]
    fn specs_parse() {
        assert_eq!(
            parse_rate("20/s burst 40"),
            Ok(Some(RateSpec {
                per_second: 20.0,
                burst: 40
            }))
        );
        assert_eq!(
            parse_rate("600/m"),
            Ok(Some(RateSpec {
                per_second: 10.0,
                burst: 600
            }))
        );
        assert_eq!(parse_rate("OFF"), Ok(None));
        for bad in [
            "",
            "20",
            "20/d",
            "0/s",
            "20/s burst",
            "20/s burst 0",
            "20/s bust 4",
            "x/s",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_rate() {
        let limiter = limiter("2/s burst 3");
        let client: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..3 {
            assert!(limiter.check(client).is_ok());
        }
        let wait = limiter.check(client).expect_err("bucket empty");
        assert_eq!(wait, Duration::from_millis(500));
        assert!(
            limiter.check("192.0.2.2".parse().expect("ip")).is_ok(),
            "others unaffected"
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(limiter.check(client).is_ok());
        assert!(limiter.check(client).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_ipv6_64_is_one_client() {
        let limiter = limiter("1/s burst 1");
        assert!(limiter
            .check("2001:db8:1:2::1".parse().expect("ip"))
            .is_ok());
        assert!(limiter
            .check("2001:db8:1:2::ffff".parse().expect("ip"))
            .is_err());
        assert!(limiter
            .check("2001:db8:1:3::1".parse().expect("ip"))
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_buckets_are_forgotten_and_memory_is_bounded() {
        let limiter = limiter("10/s burst 10");
        for n in 0..1000u32 {
            assert!(limiter.check(IpAddr::from(n.to_be_bytes())).is_ok());
        }
        assert_eq!(limiter.tracked(), 1000);
        tokio::time::advance(SWEEP_INTERVAL).await;
        assert!(limiter.check("192.0.2.1".parse().expect("ip")).is_ok());
        assert!(limiter.tracked() < 1000, "a sweep ran");

        for n in 0..(MAX_TRACKED_CLIENTS as u32 + 5_000) {
            let _ = limiter.check(IpAddr::from((n + 100_000).to_be_bytes()));
        }
        assert!(limiter.tracked() <= MAX_TRACKED_CLIENTS);
    }
}
