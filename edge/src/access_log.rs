//! The access log: one line per request under the `access` target (JSON when
//! `LOG_FORMAT=json`) with method, path, status, the replica that answered, duration
//! and request id.

use std::net::SocketAddr;
use std::time::Duration;

use http::{Method, StatusCode};

/// The tracing target of access lines, so they can be filtered (`RUST_LOG=access=off`)
/// or routed apart from the diagnostic log.
pub const TARGET: &str = "access";

/// The replica that sent a proxied response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedBy(pub SocketAddr);

/// One finished request, as logged.
#[derive(Debug)]
pub struct AccessEntry<'a> {
    /// The request's method.
    pub method: &'a Method,
    /// Its path, without the query (which may carry what people typed).
    pub path: &'a str,
    /// Which route took it: `vote`, `result` or `static`.
    pub route: &'static str,
    /// The status answered.
    pub status: StatusCode,
    /// The replica that answered, when one did.
    pub upstream: Option<ServedBy>,
    /// Time from the request's arrival to its response head.
    pub duration: Duration,
    /// The id the request carries through the edge, the services and their logs.
    pub request_id: &'a str,
}

impl AccessEntry<'_> {
    /// Whether access lines are written (not filtered out by `RUST_LOG`).
    pub fn enabled() -> bool {
        tracing::enabled!(target: TARGET, tracing::Level::INFO)
    }

    /// Writes the line (nothing is formatted when access lines are filtered out).
    pub fn log(&self) {
        if !Self::enabled() {
            return;
        }
        let upstream = self.upstream.map(|served| served.0.to_string());
        tracing::info!(
            target: TARGET,
            method = %self.method,
            path = self.path,
            route = self.route,
            status = self.status.as_u16(),
            upstream = upstream.as_deref().unwrap_or("-"),
            duration_ms = self.duration.as_secs_f64() * 1000.0,
            request_id = self.request_id,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_testkit::CapturedLog;

    #[test]
    fn one_json_line_with_every_field() {
        let captured = CapturedLog::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            AccessEntry {
                method: &Method::POST,
                path: "/vote",
                route: "vote",
                status: StatusCode::ACCEPTED,
                upstream: Some(ServedBy(SocketAddr::from(([10, 0, 0, 5], 8081)))),
                duration: Duration::from_micros(1_500),
                request_id: "r-1",
            }
            .log();
        });
        let text = captured.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
        assert_eq!(line["target"], "access");
        let fields = &line["fields"];
        assert_eq!(fields["method"], "POST");
        assert_eq!(fields["path"], "/vote");
        assert_eq!(fields["status"], 202);
        assert_eq!(fields["upstream"], "10.0.0.5:8081");
        assert_eq!(fields["duration_ms"], 1.5);
        assert_eq!(fields["request_id"], "r-1");
    }
}
