//! Reading the count: the default poll's `total` from the edge's `/results`.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;

use crate::cast::HttpClient;

/// How often the count is read while waiting: fine enough to time the last vote counted
/// to a few tens of milliseconds, light next to the votes themselves.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The default poll's `total` votes, read once.
pub(crate) async fn total(client: &HttpClient, base: &str) -> anyhow::Result<u64> {
    let uri: http::Uri = format!("{base}/results").parse().context("bad URL")?;
    let request = http::Request::get(uri)
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::new()))?;
    let response = client.request(request).await.context("GET /results")?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    anyhow::ensure!(status.is_success(), "GET /results answered {status}");
    let document: serde_json::Value = serde_json::from_slice(&body).context("results JSON")?;
    document["total"]
        .as_u64()
        .context("results without a numeric total")
}

/// The total, retried until the stack answers (it may still be starting) or `patience` ends.
pub(crate) async fn wait_for_total(
    client: &HttpClient,
    base: &str,
    patience: Duration,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + patience;
    loop {
        match total(client, base).await {
            Ok(total) => return Ok(total),
            Err(error) if Instant::now() >= deadline => {
                return Err(error.context(format!("no results from {base} within {patience:?}")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Polls the total until it reaches `expected` or `patience` ends; returns the last total.
/// The stack is up by now: a failed read is an error, not something to wait out.
pub(crate) async fn wait_until(
    client: &HttpClient,
    base: &str,
    expected: u64,
    patience: Duration,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + patience;
    loop {
        let now = total(client, base).await?;
        if now >= expected || Instant::now() >= deadline {
            return Ok(now);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
