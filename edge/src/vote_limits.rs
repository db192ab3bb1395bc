//! Which bucket a request to the vote service spends from. Creating a poll or an event
//! spends from its client address's creation bucket (`EDGE_CREATE_RATE_LIMIT`: creation
//! writes to Redis and Postgres). Any other request with a valid voter cookie spends
//! from its voter's (`EDGE_VOTER_RATE_LIMIT`), so that a hall of phones behind one
//! address is a thousand clients, not one. The rest spend from their address's
//! (`EDGE_RATE_LIMIT`). The cookie is checked with the key the vote service signs with;
//! a forged one counts as none.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::time::Duration;

use http::{Method, Request};
use tally_voter::VoterSigner;

use crate::rate_limit::RateLimiter;

/// The three kinds of bucket; `None` where that limit is off.
#[derive(Debug)]
pub struct VoteLimits {
    /// Requests without a valid voter cookie, per client address.
    pub per_address: Option<RateLimiter>,
    /// Requests with a valid voter cookie, per voter.
    pub per_voter: Option<RateLimiter<u64>>,
    /// Poll and event creation, per client address.
    pub creation: Option<RateLimiter>,
    /// Verifies voter cookies.
    pub signer: VoterSigner,
    /// Turns a voter id into its bucket's key.
    voter_keys: RandomState,
}

impl VoteLimits {
    /// Limits as configured, checking cookies with `signer`.
    pub fn new(
        per_address: Option<RateLimiter>,
        per_voter: Option<RateLimiter<u64>>,
        creation: Option<RateLimiter>,
        signer: VoterSigner,
    ) -> Self {
        VoteLimits {
            per_address,
            per_voter,
            creation,
            signer,
            voter_keys: RandomState::new(),
        }
    }

    /// Spends a token for `request` from `client`, or says how long until one is there
    /// and which limit refused.
    pub fn spend<B>(&self, request: &Request<B>, client: IpAddr) -> Result<(), Refusal> {
        let (limiter_result, limit) = if is_creation(request) {
            (spend_address(&self.creation, client), "creation")
        } else if self.per_voter.is_none() && self.per_address.is_none() {
            // Nothing to spend either way: spare the cookie's HMAC.
            (Ok(()), "none")
        } else if let Some(voter) = self.signer.voter_from_headers(request.headers()) {
            let key = self.voter_keys.hash_one(voter);
            let result = self.per_voter.as_ref().map_or(Ok(()), |l| l.spend(key));
            (result, "voter")
        } else {
            (spend_address(&self.per_address, client), "address")
        };
        limiter_result.map_err(|wait| Refusal { wait, limit })
    }
}

/// A request over its rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refusal {
    /// Until the bucket has a token again.
    pub wait: Duration,
    /// `creation`, `voter` or `address`.
    pub limit: &'static str,
}

fn spend_address(limiter: &Option<RateLimiter>, client: IpAddr) -> Result<(), Duration> {
    limiter
        .as_ref()
        .map_or(Ok(()), |limiter| limiter.check(client))
}

/// `POST /polls` or `POST /events`: a new poll or event.
fn is_creation<B>(request: &Request<B>) -> bool {
    request.method() == Method::POST && matches!(request.uri().path(), "/polls" | "/events")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::parse_rate;

    fn limiter<K: std::hash::Hash + Eq + Copy>(text: &str) -> Option<RateLimiter<K>> {
        parse_rate(text).expect("parses").map(RateLimiter::new)
    }

    fn request(method: Method, path: &str, cookie: Option<&str>) -> Request<()> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = cookie {
            request = request.header(http::header::COOKIE, cookie);
        }
        request.body(()).expect("request")
    }

    const KEY: &[u8] = b"vote-limits-test-key-0123456789abcdef";

    #[tokio::test(start_paused = true)]
    async fn each_voter_behind_one_address_has_a_bucket_of_its_own() {
        let limits = VoteLimits::new(
            limiter("1/s burst 1"),
            limiter("1/s burst 2"),
            limiter("1/h burst 1"),
            VoterSigner::new(KEY),
        );
        let hall: std::net::IpAddr = "192.0.2.1".parse().expect("ip");
        let signer = VoterSigner::new(KEY);
        for n in 0..100 {
            let cookie = format!("tally_voter={}", signer.sign(&format!("voter{n}")));
            let vote = request(Method::POST, "/vote", Some(&cookie));
            assert!(limits.spend(&vote, hall).is_ok(), "voter {n}");
            assert!(limits.spend(&vote, hall).is_ok(), "voter {n}, second");
            let third = limits.spend(&vote, hall).expect_err("over its own burst");
            assert_eq!(third.limit, "voter");
        }
        // Without a cookie, or with a forged one, the address's bucket.
        let forged = VoterSigner::new(b"another-key-0123456789abcdef0123456789");
        let forged = format!("tally_voter={}", forged.sign("mallory"));
        assert!(limits
            .spend(&request(Method::POST, "/vote", None), hall)
            .is_ok());
        let refused = limits
            .spend(&request(Method::POST, "/vote", Some(&forged)), hall)
            .expect_err("the address's bucket is empty");
        assert_eq!(refused.limit, "address");
    }

    #[tokio::test(start_paused = true)]
    async fn creation_has_a_bucket_of_its_own_even_with_a_cookie() {
        let limits = VoteLimits::new(None, None, limiter("2/h burst 1"), VoterSigner::new(KEY));
        let client: std::net::IpAddr = "198.51.100.7".parse().expect("ip");
        let cookie = format!("tally_voter={}", VoterSigner::new(KEY).sign("owner"));
        for path in ["/polls", "/events"] {
            let create = request(Method::POST, path, Some(&cookie));
            let first = limits.spend(&create, client);
            assert!(path == "/events" || first.is_ok(), "{path}");
        }
        let refused = limits
            .spend(&request(Method::POST, "/polls", None), client)
            .expect_err("one per half hour");
        assert_eq!(refused.limit, "creation");
        assert_eq!(refused.wait, Duration::from_secs(1800));
        assert!(
            limits
                .spend(&request(Method::POST, "/vote", None), client)
                .is_ok(),
            "votes are not creations (their limit is off here)"
        );
        assert!(limits
            .spend(&request(Method::GET, "/polls", None), client)
            .is_ok());
    }
}
