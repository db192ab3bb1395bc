//! Casting the votes: `concurrency` tasks share one pooled HTTP/1.1 client, each sends
//! its share of the classic form post `vote=a|b` in turn, paced to `rate` when set. No
//! cookie is kept, so every request is a new voter: cookieless, or with a new voter's
//! cookie signed with the plan's key.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

/// The HTTP client every task shares (its pool holds one connection per task).
pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Time one vote may take before it counts as an error: far above the edge's own
/// upstream timeout (10 s), so a slow vote shows up as the edge's 504, not ours.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The edge's base URL, without a trailing slash.
    pub(crate) base: String,
    /// Votes in all.
    pub(crate) votes: u64,
    /// Tasks sending at once.
    pub(crate) concurrency: u64,
    /// Votes per second at most; 0 for no limit.
    pub(crate) rate: u64,
    /// Percentage of votes for `b`.
    pub(crate) share_b: u64,
    /// Signs a new voter's cookie for each vote, when set.
    pub(crate) signer: Option<tally_voter::VoterSigner>,
}

/// What came back.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Votes answered `202 Accepted`.
    pub(crate) accepted: u64,
    /// Every status received, with its count.
    pub(crate) statuses: BTreeMap<u16, u64>,
    /// Requests that got no response (connection error or timeout).
    pub(crate) errors: u64,
    /// The first such error, to print.
    pub(crate) first_error: Option<String>,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.accepted += other.accepted;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// A client with Nagle off and an unbounded idle pool (one connection per task).
pub(crate) fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Sends every vote of `plan` and reports the answers.
pub(crate) async fn cast_all(client: &HttpClient, plan: &Plan) -> Outcome {
    let started = Instant::now();
    let uri: http::Uri = match format!("{}/vote", plan.base).parse() {
        Ok(uri) => uri,
        Err(error) => {
            return Outcome {
                errors: plan.votes,
                first_error: Some(format!("bad URL: {error}")),
                ..Outcome::default()
            }
        }
    };
    let tasks: Vec<_> = (0..plan.concurrency.min(plan.votes))
        .map(|task| {
            let client = client.clone();
            let plan = plan.clone();
            let uri = uri.clone();
            tokio::spawn(async move {
                let mut outcome = Outcome::default();
                let mut index = task;
                while index < plan.votes {
                    if plan.rate > 0 {
                        let due = Duration::from_secs_f64(index as f64 / plan.rate as f64);
                        tokio::time::sleep_until(started + due).await;
                    }
                    let option = if index % 100 < plan.share_b { "b" } else { "a" };
                    let cookie = plan.signer.as_ref().map(|signer| {
                        let voter = tally_voter::VoterSigner::new_voter_id();
                        format!("{}={}", tally_voter::VOTER_COOKIE, signer.sign(&voter))
                    });
                    let sent = send(&client, &uri, option, cookie.as_deref()).await;
                    record(&mut outcome, sent);
                    index += plan.concurrency;
                }
                outcome
            })
        })
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        match task.await {
            Ok(outcome) => total.merge(outcome),
            Err(error) => {
                total.errors += 1;
                total.first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
    total
}

fn record(outcome: &mut Outcome, result: Result<u16, String>) {
    match result {
        Ok(status) => {
            *outcome.statuses.entry(status).or_default() += 1;
            if status == 202 {
                outcome.accepted += 1;
            }
        }
        Err(error) => {
            outcome.errors += 1;
            outcome.first_error.get_or_insert(error);
        }
    }
}

/// One classic form post `vote=<option>`, with `cookie` if any; the status, body drained.
async fn send(
    client: &HttpClient,
    uri: &http::Uri,
    option: &str,
    cookie: Option<&str>,
) -> Result<u16, String> {
    let mut request = Request::builder();
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = request
        .method(Method::POST)
        .uri(uri.clone())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::USER_AGENT, "tally-seed")
        .body(Full::new(Bytes::from(format!("vote={option}"))))
        .map_err(|error| error.to_string())?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|error| format!("{error:?}"))?;
        let status = response.status().as_u16();
        response
            .into_body()
            .collect()
            .await
            .map_err(|error| error.to_string())?;
        Ok(status)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {REQUEST_TIMEOUT:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_merge() {
        let mut total = Outcome::default();
        record(&mut total, Ok(202));
        let mut other = Outcome::default();
        record(&mut other, Ok(202));
        record(&mut other, Ok(503));
        record(&mut other, Err("reset".into()));
        total.merge(other);
        assert_eq!(total.accepted, 2);
        assert_eq!(total.statuses.get(&202), Some(&2));
        assert_eq!(total.errors, 1);
        assert_eq!(total.first_error.as_deref(), Some("reset"));
    }
}
