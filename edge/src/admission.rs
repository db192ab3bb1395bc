//! The request filter in front of routing: what the edge answers before a request may
//! reach a file or an upstream. In order: plain HTTP is redirected to HTTPS when TLS is
//! on, oversized heads get 431, forwarding fields from untrusted peers are dropped (and
//! this hop's `Forwarded` element and scheme added for the upstream), and clients over
//! their rate on the vote routes get 429.

use http::header::{self, HeaderValue};
use http::uri::Authority;
use http::{Method, Request, Response, StatusCode};
use tally_runtime::{empty, error_body, Body, HttpError, RequestContext};

use crate::client_ip::{add_forwarded, TrustedProxies};
use crate::limits::{HeaderLimits, LimitError};
use crate::metrics::Counter;
use crate::routes::Route;
use crate::vote_limits::VoteLimits;

/// The port browsers use for `https://` URLs without one (RFC 9110 §4.2.2).
const DEFAULT_HTTPS_PORT: u16 = 443;

/// What is checked before routing.
#[derive(Debug)]
pub struct Admission {
    /// Size and count limits of the request head.
    pub limits: HeaderLimits,
    /// Token buckets for the vote routes: per address, per voter, for creation.
    pub rate: VoteLimits,
    /// Peers allowed to say who the client is.
    pub trusted: TrustedProxies,
    /// The HTTPS port plain requests are sent to, when TLS is on.
    pub https_port: Option<u16>,
    /// Requests refused with 429.
    pub rate_limited: Counter,
}

impl Admission {
    /// The edge's own answer to `request` when it must not go further, else `None`.
    /// Removes forwarding fields an untrusted peer sent, so no later phase sees them.
    pub fn refuse<B>(
        &self,
        request: &mut Request<B>,
        context: &RequestContext,
        route: Route,
    ) -> Option<Response<Body>> {
        if let (Some(port), false) = (self.https_port, context.tls) {
            return Some(https_redirect(request, port));
        }
        if let Err(error) = self.limits.check(request) {
            return Some(error.to_response());
        }
        let peer = context.peer.ip();
        self.trusted.drop_untrusted(peer, request.headers_mut());
        if route == Route::Vote {
            let client = self.trusted.client_ip(peer, request.headers());
            if let Err(refusal) = self.rate.spend(request, client) {
                tracing::debug!(%client, wait = ?refusal.wait, limit = refusal.limit, "rate limited");
                self.rate_limited.inc();
                return Some(LimitError::RateLimited(refusal.wait).to_response());
            }
        }
        if route != Route::Static {
            // A counted reference to the field's text, not a copy of it.
            let host = match request.uri().authority() {
                Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
                None => request.headers().get(header::HOST).cloned(),
            };
            let host = host.as_ref().and_then(|host| host.to_str().ok());
            add_forwarded(request.headers_mut(), peer, context.tls, host);
        }
        None
    }
}

/// `308 Permanent Redirect` to the same target over HTTPS. 308 (RFC 9110 §15.4.9) keeps
/// the method and body, so a form post is not turned into a GET on the way.
fn https_redirect<B>(request: &Request<B>, port: u16) -> Response<Body> {
    let authority = request
        .uri()
        .authority()
        .map(Authority::as_str)
        .or_else(|| request.headers().get(header::HOST)?.to_str().ok())
        .and_then(|host| host.parse::<Authority>().ok());
    let Some(authority) = authority else {
        return error_body(StatusCode::BAD_REQUEST, "a Host header is required");
    };
    let host = authority.host();
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |target| target.as_str());
    let location = if port == DEFAULT_HTTPS_PORT {
        format!("https://{host}{target}")
    } else {
        format!("https://{host}:{port}{target}")
    };
    let Ok(location) = HeaderValue::from_str(&location) else {
        return error_body(StatusCode::BAD_REQUEST, "unusable Host header");
    };
    let mut response = Response::new(empty());
    *response.status_mut() = if request.method() == Method::GET || request.method() == Method::HEAD
    {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    response.headers_mut().insert(header::LOCATION, location);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(method: Method, uri: &str, host: Option<&str>, port: u16) -> Response<Body> {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(host) = host {
            request = request.header(header::HOST, host);
        }
        https_redirect(&request.body(()).expect("request"), port)
    }

    fn location(response: &Response<Body>) -> &str {
        response.headers()[header::LOCATION]
            .to_str()
            .expect("location")
    }

    #[test]
    fn plain_requests_go_to_the_https_port() {
        let get = redirect(
            Method::GET,
            "/results.html?x=1",
            Some("tally.test:8080"),
            8443,
        );
        assert_eq!(get.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(location(&get), "https://tally.test:8443/results.html?x=1");
        let post = redirect(Method::POST, "/vote", Some("tally.test"), 443);
        assert_eq!(post.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(location(&post), "https://tally.test/vote");
        let h2 = redirect(Method::GET, "http://[::1]:8080/", None, 8443);
        assert_eq!(location(&h2), "https://[::1]:8443/");
    }

    #[test]
    fn a_missing_or_bad_host_is_400() {
        assert_eq!(
            redirect(Method::GET, "/", None, 8443).status(),
            StatusCode::BAD_REQUEST
        );
        let bad = redirect(Method::GET, "/", Some("a/b@c"), 8443);
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn refusals_over_the_rate_are_counted() {
        let admission = Admission {
            limits: HeaderLimits {
                max_bytes: 8192,
                max_count: 100,
            },
            rate: VoteLimits::new(
                Some(crate::rate_limit::RateLimiter::new(
                    crate::rate_limit::RateSpec {
                        per_second: 1.0,
                        burst: 2,
                    },
                )),
                None,
                None,
                tally_voter::VoterSigner::new(b"admission-test-key-0123456789abcdef"),
            ),
            trusted: TrustedProxies::new(Vec::new()),
            https_port: None,
            rate_limited: Counter::default(),
        };
        let context = RequestContext {
            request_id: "test".into(),
            peer: "192.0.2.7:4000".parse().expect("peer"),
            tls: false,
        };
        let answer = |route: Route| {
            let mut request = Request::post("/vote")
                .header(header::HOST, "tally.test")
                .body(())
                .expect("request");
            admission
                .refuse(&mut request, &context, route)
                .map(|response| response.status())
        };
        assert_eq!(answer(Route::Static), None, "files are not limited");
        assert_eq!(answer(Route::Vote), None);
        assert_eq!(answer(Route::Vote), None);
        assert_eq!(answer(Route::Vote), Some(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(answer(Route::Vote), Some(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(admission.rate_limited.get(), 2);
    }
}
