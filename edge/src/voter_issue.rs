//! Handing a browser its voter cookie with the page it votes from. A poll whose identity
//! is `browser` takes only ballots that bring this cookie, and the vote itself never
//! mints one, so a script that posts ballots without loading the page counts nothing.
//!
//! The cookie is added to a successful `GET` of a voting page (the front page, `/p/<id>`,
//! `/e/<code>`) when the request has no valid one, and only while the client's address
//! has issuance tokens left (`EDGE_NEW_VOTER_RATE_LIMIT`): a whole hall behind one
//! address gets its cookies, a script from one address gets new identities no faster
//! than that rate. Over it, the page is served all the same, without a cookie; the
//! page's ballot is then refused with a message to reload it.

use std::net::IpAddr;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use prometheus_client::registry::Registry;
use tally_runtime::Body;
use tally_voter::VoterSigner;

use crate::metrics::Counter;
use crate::rate_limit::RateLimiter;

/// A response that sets a cookie is this browser's alone: no shared cache may keep it,
/// and the browser revalidates it like every page (`cache_control`).
const PRIVATE: HeaderValue = HeaderValue::from_static("private, no-cache");

/// Who hands out voter cookies, and how fast per address.
#[derive(Debug)]
pub struct VoterIssue {
    signer: VoterSigner,
    per_address: Option<RateLimiter>,
    /// Cookies handed out.
    pub issued: Counter,
    /// Pages served without a cookie because their address was over its rate.
    pub withheld: Counter,
}

impl VoterIssue {
    /// Issues cookies signed by `signer`, at most `per_address`'s rate per address
    /// (`None`: no limit).
    pub fn new(signer: VoterSigner, per_address: Option<RateLimiter>) -> Self {
        VoterIssue {
            signer,
            per_address,
            issued: Counter::default(),
            withheld: Counter::default(),
        }
    }

    /// Registers the counters as `tally_edge_voters_issued_total` and
    /// `tally_edge_voters_withheld_total`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "tally_edge_voters_issued",
            "Voter cookies handed out with voting pages",
            self.issued.clone(),
        );
        registry.register(
            "tally_edge_voters_withheld",
            "Voting pages served without a new voter cookie: the address was over EDGE_NEW_VOTER_RATE_LIMIT",
            self.withheld.clone(),
        );
    }

    /// Whether `request` fetches a voting page without a valid voter cookie: decided
    /// before the request is handed on, as the response no longer knows it.
    pub fn wanted<B>(&self, request: &Request<B>) -> bool {
        request.method() == Method::GET
            && is_voting_page(request.uri().path())
            && self.signer.voter_from_headers(request.headers()).is_none()
    }

    /// Adds a new voter's cookie to `response` (the page, or `304 Not Modified` for it)
    /// if `client`'s address may have one now. `secure` marks it HTTPS-only.
    pub fn issue(&self, response: &mut Response<Body>, client: IpAddr, secure: bool) {
        if !matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) {
            return;
        }
        if let Some(limiter) = &self.per_address {
            if limiter.check(client).is_err() {
                self.withheld.inc();
                return;
            }
        }
        let cookie = self.signer.set_cookie(&VoterSigner::new_voter_id(), secure);
        let Ok(cookie) = HeaderValue::from_str(&cookie) else {
            return;
        };
        let headers = response.headers_mut();
        headers.append(header::SET_COOKIE, cookie);
        headers.insert(header::CACHE_CONTROL, PRIVATE);
        self.issued.inc();
    }
}

/// The pages people vote from: the front page (the default poll), a poll's page
/// `/p/<id>` and an event's audience page `/e/<code>` (not their sub-pages: the live
/// view, the presenter's and the admin's pages take no ballots).
pub fn is_voting_page(path: &str) -> bool {
    let one_segment = |rest: &str| !rest.is_empty() && !rest.contains('/');
    match path {
        "/" | "/index.html" => true,
        _ => path
            .strip_prefix("/p/")
            .or_else(|| path.strip_prefix("/e/"))
            .is_some_and(one_segment),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::parse_rate;
    use tally_runtime::empty;

    const KEY: &[u8] = b"voter-issue-test-key-0123456789abcdef";

    fn get(path: &str, cookie: Option<&str>) -> Request<()> {
        let mut request = Request::builder().uri(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(()).expect("request")
    }

    fn page(status: StatusCode) -> Response<Body> {
        let mut response = Response::new(empty());
        *response.status_mut() = status;
        response
    }

    #[test]
    fn voting_pages_are_the_front_page_and_poll_and_event_pages() {
        for yes in [
            "/",
            "/index.html",
            "/p/aB3dE5gH9k",
            "/e/12345678",
            "/p/default",
        ] {
            assert!(is_voting_page(yes), "{yes}");
        }
        for no in [
            "/p/",
            "/e/",
            "/p/aB3dE5gH9k/live",
            "/e/12345678/present",
            "/results.html",
            "/app.js",
            "/vote",
        ] {
            assert!(!is_voting_page(no), "{no}");
        }
    }

    #[test]
    fn a_page_without_a_valid_cookie_gets_one_that_the_vote_service_accepts() {
        let issue = VoterIssue::new(VoterSigner::new(KEY), None);
        assert!(issue.wanted(&get("/p/aB3dE5gH9k", None)));
        let forged = format!(
            "tally_voter={}",
            VoterSigner::new(b"another-key-0123456789abcdef01234567").sign("mallory")
        );
        assert!(
            issue.wanted(&get("/", Some(&forged))),
            "a forged one is none"
        );
        let valid = format!("tally_voter={}", VoterSigner::new(KEY).sign("alice"));
        assert!(!issue.wanted(&get("/", Some(&valid))), "it has one");
        let post = Request::post("/").body(()).expect("request");
        assert!(!issue.wanted(&post), "only pages fetched");

        let mut response = page(StatusCode::OK);
        issue.issue(&mut response, "192.0.2.1".parse().expect("ip"), true);
        let set = response.headers()[header::SET_COOKIE]
            .to_str()
            .expect("text");
        assert!(set.contains("Secure") && set.contains("HttpOnly"), "{set}");
        let pair = set.split(';').next().expect("pair");
        let mut headers = http::HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).expect("value"));
        assert!(VoterSigner::new(KEY).voter_from_headers(&headers).is_some());
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "private, no-cache"
        );

        let mut missing = page(StatusCode::NOT_FOUND);
        issue.issue(&mut missing, "192.0.2.1".parse().expect("ip"), false);
        assert!(missing.headers().get(header::SET_COOKIE).is_none());
        assert_eq!(issue.issued.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_over_its_rate_gets_the_page_without_a_cookie() {
        let limiter = parse_rate("1/s burst 2")
            .expect("parses")
            .map(RateLimiter::new);
        let issue = VoterIssue::new(VoterSigner::new(KEY), limiter);
        let hall: IpAddr = "198.51.100.1".parse().expect("ip");
        let cookies: Vec<bool> = (0..3)
            .map(|_| {
                let mut response = page(StatusCode::OK);
                issue.issue(&mut response, hall, false);
                response.headers().contains_key(header::SET_COOKIE)
            })
            .collect();
        assert_eq!(cookies, [true, true, false]);
        assert_eq!((issue.issued.get(), issue.withheld.get()), (2, 1));
        let mut other = page(StatusCode::OK);
        issue.issue(&mut other, "198.51.100.2".parse().expect("ip"), false);
        assert!(
            other.headers().contains_key(header::SET_COOKIE),
            "its own bucket"
        );
    }
}
