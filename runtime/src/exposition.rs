//! Reading a metrics page back: fetching `/metrics` from an admin port, the families it
//! declares and the value of one series. For tests and the README check, which assert
//! what the services really export; the services themselves only write the format.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Time a scrape may take.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// No connection, or it broke.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No answer within [`SCRAPE_TIMEOUT`].
    #[error("no answer within {SCRAPE_TIMEOUT:?}")]
    Timeout,
    /// An answer other than `200` with a body.
    #[error("unexpected answer: {0}")]
    Status(String),
}

/// `GET path` from `address` over HTTP/1.1: the status code and the body.
pub async fn get(address: SocketAddr, path: &str) -> Result<(u16, String), ScrapeError> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        // RFC 9112 §3.2: Host is required; `close` ends the exchange after one answer.
        let request = format!("GET {path} HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&answer).into_owned())
    };
    let answer = tokio::time::timeout(SCRAPE_TIMEOUT, exchange)
        .await
        .map_err(|_| ScrapeError::Timeout)??;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| ScrapeError::Status(answer.clone()))?;
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| ScrapeError::Status(head.to_owned()))?;
    Ok((status, body.to_owned()))
}

/// The metrics page of the admin port at `address`.
pub async fn scrape(address: SocketAddr) -> Result<String, ScrapeError> {
    match get(address, crate::admin::METRICS_PATH).await? {
        (200, body) => Ok(body),
        (status, body) => Err(ScrapeError::Status(format!("{status}: {body}"))),
    }
}

/// The metric names a page declares, as PromQL names them: a counter family `x` is
/// queried as `x_total`; gauges and histograms by their family name.
pub fn family_names(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|declared| {
            let (name, kind) = declared.split_once(' ')?;
            Some(match kind.trim() {
                "counter" if !name.ends_with("_total") => format!("{name}_total"),
                _ => name.to_owned(),
            })
        })
        .collect()
}

/// The value of `series` (exactly as printed: `name` or `name{label="v",...}`, labels in
/// the order the page prints them), or `None` when the page has no such series.
pub fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split(' ').next()?.parse().ok()
    })
}

/// The series `name{label="value"}` of each of `values`, as [`value`] takes them.
pub fn labelled(name: &str, label: &str, values: &[&str]) -> Vec<String> {
    values
        .iter()
        .map(|value| format!("{name}{{{label}=\"{value}\"}}"))
        .collect()
}

/// Which of `series` (each as for [`value`]) the page lacks or shows at a value other
/// than 0: empty when every one exists from the start, as a freshly started service
/// must export its bounded label sets.
pub fn not_at_zero<S: AsRef<str>>(page: &str, series: &[S]) -> Vec<String> {
    series
        .iter()
        .map(AsRef::as_ref)
        .filter(|series| value(page, series) != Some(0.0))
        .map(str::to_owned)
        .collect()
}

/// The sum of every sample of `name` whatever its labels (`name` or `name{...}`).
pub fn sum(page: &str, name: &str) -> f64 {
    page.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            rest.split(' ').next()?.parse::<f64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "# HELP a_requests Requests.\n# TYPE a_requests counter\n\
        a_requests_total{route=\"x\"} 3\na_requests_total{route=\"y\"} 4\n\
        # TYPE b_open gauge\nb_open 2\n# TYPE c_seconds histogram\n\
        c_seconds_sum 0.5\nc_seconds_count 2\n# EOF\n";

    #[test]
    fn families_are_named_as_queried() {
        let names: Vec<String> = family_names(PAGE).into_iter().collect();
        assert_eq!(names, ["a_requests_total", "b_open", "c_seconds"]);
    }

    #[test]
    fn values_and_sums() {
        assert_eq!(value(PAGE, "a_requests_total{route=\"y\"}"), Some(4.0));
        assert_eq!(value(PAGE, "b_open"), Some(2.0));
        assert_eq!(value(PAGE, "b_ope"), None);
        assert_eq!(sum(PAGE, "a_requests_total"), 7.0);
        assert_eq!(sum(PAGE, "c_seconds_count"), 2.0);
        assert_eq!(sum(PAGE, "nothing"), 0.0);
    }

    #[test]
    fn series_not_at_zero() {
        let page = "a_total{route=\"x\"} 0\na_total{route=\"y\"} 1\nb 0\n# EOF\n";
        let wanted = ["a_total{route=\"x\"}", "a_total{route=\"y\"}", "b", "c"];
        assert_eq!(not_at_zero(page, &wanted), ["a_total{route=\"y\"}", "c"]);
        assert!(not_at_zero(page, &["b"]).is_empty());
        assert_eq!(
            labelled("a_total", "route", &["x", "y"]),
            ["a_total{route=\"x\"}", "a_total{route=\"y\"}"]
        );
    }
}
