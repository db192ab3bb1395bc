//! Log set-up: `tracing` to stderr, JSON lines when `LOG_FORMAT=json`, levels from
//! `RUST_LOG` (default `info`). In JSON, a line written while a request is answered
//! carries the request's span under `span` (`span.request_id`, as the edge forwards it
//! in `x-request-id`): the field the observability profile's log shipper indexes.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    if json {
        json_lines(filter, std::io::stderr).init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
}

/// The JSON lines subscriber: one object a line with `timestamp`, `level`, `target`,
/// `fields` and the current span's fields under `span` (the request's while one is
/// answered: `method`, `path`, `request_id`).
pub fn json_lines<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .finish()
}
