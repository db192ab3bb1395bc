//! An HTTP client for tests: one per voter, it keeps the voter cookie like a browser.

use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
use hyper_util::rt::TokioExecutor;

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics if it is not JSON: tests want to know).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "{} body is not JSON ({error}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error` field of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// A client of one server that remembers the `tally_voter` cookie it was given.
#[derive(Debug)]
pub struct Client {
    base: SocketAddr,
    http: HyperClient<HttpConnector, Full<Bytes>>,
    voter_cookie: Mutex<Option<String>>,
    /// Whether a `tally_voter` cookie the server sets is kept (a browser) or dropped (a
    /// script, such as the classic app's seed tool).
    keeps_cookies: bool,
}

impl Client {
    /// A client (a new voter) of the server at `base`.
    pub fn new(base: SocketAddr) -> Self {
        Client {
            base,
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
            voter_cookie: Mutex::new(None),
            keeps_cookies: true,
        }
    }

    /// A client that never keeps a cookie, so that each of its requests comes from a
    /// stranger, as each of the classic seed tool's does.
    pub fn cookieless(base: SocketAddr) -> Self {
        Client {
            keeps_cookies: false,
            ..Client::new(base)
        }
    }

    /// A new voter who opened `page` first, as a person does: the edge hands out the
    /// voter cookie with a voting page (`/`, `/p/<id>`, `/e/<code>`).
    pub async fn visitor(base: SocketAddr, page: &str) -> Self {
        let client = Client::new(base);
        client.visit(page).await;
        client
    }

    /// `count` new voters who each opened `page`.
    pub async fn visitors(base: SocketAddr, page: &str, count: usize) -> Vec<Client> {
        let mut voters = Vec::with_capacity(count);
        for _ in 0..count {
            voters.push(Client::visitor(base, page).await);
        }
        voters
    }

    /// `GET page` (a voting page), asserting it gave this client a voter cookie if it had
    /// none.
    pub async fn visit(&self, page: &str) {
        let had = self.cookie().is_some();
        let reply = self.get(page).await;
        assert!(
            reply.status.is_success() && (had || self.cookie().is_some()),
            "{page} answered {} without a voter cookie",
            reply.status
        );
    }

    /// Sends a request with this voter's cookie and returns the whole reply.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(cookie) = self.voter_cookie.lock().expect("cookie lock").clone() {
            request = request.header(header::COOKIE, cookie);
        }
        let request = request.body(Full::new(body.into())).expect("valid request");
        let response = self.http.request(request).await.expect("request sent");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body read").to_bytes();
        let kept = parts
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter(|_| self.keeps_cookies);
        for value in kept {
            let text = value.to_str().unwrap_or_default();
            if text.starts_with("tally_voter=") {
                let pair = text.split(';').next().unwrap_or_default().to_owned();
                *self.voter_cookie.lock().expect("cookie lock") = Some(pair);
            }
        }
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    /// Votes through the JSON API.
    pub async fn vote_json(&self, poll: &str, option: &str) -> Reply {
        let body = serde_json::json!({"poll": poll, "option": option}).to_string();
        self.send(
            Method::POST,
            "/vote",
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            body,
        )
        .await
    }

    /// Votes like the classic app's page: form post `vote=<option>` to `/`.
    pub async fn vote_form(&self, option: &str) -> Reply {
        self.send(
            Method::POST,
            "/",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("accept", "text/html"),
            ],
            format!("vote={option}"),
        )
        .await
    }

    /// Forgets the voter cookie, or sets one by hand (`name=value`).
    pub fn set_cookie(&self, cookie: Option<String>) {
        *self.voter_cookie.lock().expect("cookie lock") = cookie;
    }

    /// The voter cookie this client holds.
    pub fn cookie(&self) -> Option<String> {
        self.voter_cookie.lock().expect("cookie lock").clone()
    }
}
