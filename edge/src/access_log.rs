//! The access log: one line per request under the `access` target (JSON when
//! `LOG_FORMAT=json`) with method, path, status, the replica that answered, duration
//! and request id. A JSON line is formatted here and handed to the log thread, not
//! made by tracing's formatter (see [`AccessEntry::log`]); it has the same keys, less
//! the request span that tracing would add (its id is among the fields).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use http::{Method, StatusCode};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

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
        if let Some(writer) = tally_runtime::logging::json_writer() {
            let line = self.json_line(OffsetDateTime::now_utc());
            // An error means the log thread is gone (the process is ending).
            let _ = writer.clone().write_all(&line);
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

    /// The line as the JSON log has it (`tally_runtime::logging::json_lines`: the same
    /// keys and values, in fewer instructions than through tracing's formatter, about
    /// 22,000 a line), ending in a newline.
    fn json_line(&self, at: OffsetDateTime) -> Vec<u8> {
        let mut line = Vec::with_capacity(LINE_CAPACITY);
        line.extend_from_slice(b"{\"timestamp\":\"");
        // RFC 3339 always formats a UTC time; the fallback keeps the line valid.
        if at.format_into(&mut line, &Rfc3339).is_err() {
            line.extend_from_slice(b"-");
        }
        line.extend_from_slice(b"\",\"level\":\"INFO\",\"fields\":{\"method\":");
        json_value(&mut line, self.method.as_str());
        line.extend_from_slice(b",\"path\":");
        json_value(&mut line, self.path);
        line.extend_from_slice(b",\"route\":");
        json_value(&mut line, self.route);
        line.extend_from_slice(b",\"status\":");
        json_value(&mut line, self.status.as_u16());
        line.extend_from_slice(b",\"upstream\":");
        match self.upstream {
            // An address's text needs no escaping: written in place, not allocated.
            Some(ServedBy(address)) => {
                let _ = write!(line, "\"{address}\"");
            }
            None => json_value(&mut line, "-"),
        }
        line.extend_from_slice(b",\"duration_ms\":");
        json_value(&mut line, self.duration.as_secs_f64() * 1000.0);
        line.extend_from_slice(b",\"request_id\":");
        json_value(&mut line, self.request_id);
        line.extend_from_slice(b"},\"target\":\"access\"}\n");
        line
    }
}

/// Room for a usual access line (about 250 bytes) without growing.
const LINE_CAPACITY: usize = 320;

/// Appends `value` as JSON (strings escaped).
fn json_value(line: &mut Vec<u8>, value: impl serde::Serialize) {
    // Writing into a Vec fails only for values that cannot be JSON (none here).
    let _ = serde_json::to_writer(&mut *line, &value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_testkit::CapturedLog;

    /// The line tracing's JSON formatter writes for `entry` (the only line), parsed.
    fn through_tracing(entry: &AccessEntry<'_>) -> serde_json::Value {
        let captured = CapturedLog::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || entry.log());
        let text = captured.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        serde_json::from_str(text.trim()).expect("JSON")
    }

    #[test]
    fn one_json_line_with_every_field() {
        let line = through_tracing(&AccessEntry {
            method: &Method::POST,
            path: "/vote",
            route: "vote",
            status: StatusCode::ACCEPTED,
            upstream: Some(ServedBy(SocketAddr::from(([10, 0, 0, 5], 8081)))),
            duration: Duration::from_micros(1_500),
            request_id: "r-1",
        });
        assert_eq!(line["target"], "access");
        let fields = &line["fields"];
        assert_eq!(fields["method"], "POST");
        assert_eq!(fields["path"], "/vote");
        assert_eq!(fields["status"], 202);
        assert_eq!(fields["upstream"], "10.0.0.5:8081");
        assert_eq!(fields["duration_ms"], 1.5);
        assert_eq!(fields["request_id"], "r-1");
    }

    #[test]
    fn the_line_written_directly_is_the_line_tracing_would_write() {
        let at = OffsetDateTime::now_utc();
        for (upstream, path, id) in [
            (
                Some(SocketAddr::from(([10, 0, 0, 5], 8081))),
                "/vote",
                "r-1",
            ),
            (None, "/p/x\"y\\z/é", "0195f1c2d3e4f5a6b7c8d9e0f1a2b3c4"),
            (
                Some(SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 9))),
                "/",
                "id",
            ),
        ] {
            let entry = AccessEntry {
                method: &Method::GET,
                path,
                route: "static",
                status: StatusCode::NOT_MODIFIED,
                upstream: upstream.map(ServedBy),
                duration: Duration::from_nanos(1_234_567),
                request_id: id,
            };
            let direct = entry.json_line(at);
            assert_eq!(direct.last(), Some(&b'\n'), "one line");
            assert_eq!(direct.iter().filter(|&&b| b == b'\n').count(), 1);
            let mut direct: serde_json::Value = serde_json::from_slice(&direct).expect("JSON");
            let mut reference = through_tracing(&entry);
            let stamp = direct["timestamp"].as_str().expect("timestamp").to_owned();
            let parsed = OffsetDateTime::parse(&stamp, &Rfc3339).expect("RFC 3339");
            assert_eq!(parsed, at);
            for line in [&mut direct, &mut reference] {
                line.as_object_mut().expect("object").remove("timestamp");
            }
            assert_eq!(direct, reference);
        }
    }
}
