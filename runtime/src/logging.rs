//! Log set-up: `tracing` to stderr, JSON lines when `LOG_FORMAT=json`, levels from
//! `RUST_LOG` (default `info`). In JSON, a line written while a request is answered
//! carries the request's span under `span` (`span.request_id`, as the edge forwards it
//! in `x-request-id`): the field the observability profile's log shipper indexes.
//!
//! Lines are written by a thread of their own, in batches: written where they were
//! made, the edge's access line cost every request a system call of its own.

use std::io::BufWriter;
use std::sync::OnceLock;

use tracing::Subscriber;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// What the log thread gathers before one write: many access lines (about 250 bytes
/// each) under load, while a lone line still goes out at once (the thread writes
/// whenever no further line is waiting).
const LOG_BATCH_BYTES: usize = 64 * 1024;

/// Keeps the log thread; dropping it (at the end of `main`) writes what is still
/// queued.
#[derive(Debug)]
#[must_use = "dropping it stops the log thread"]
pub struct LogGuard {
    _writer: WorkerGuard,
}

/// Installs the global subscriber. Call once, first thing in `main`, and hold the guard
/// until the end.
pub fn init_logging() -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    // Not lossy: when the queue is full, the thread that logs waits rather than a line
    // being dropped.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(BufWriter::with_capacity(LOG_BATCH_BYTES, std::io::stderr()));
    if json {
        let _ = JSON_WRITER.set(writer.clone());
        json_lines(filter, writer).init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .init();
    }
    LogGuard { _writer: guard }
}

/// Where [`init_logging`] sends JSON lines, when it does.
static JSON_WRITER: OnceLock<NonBlocking> = OnceLock::new();

/// The process's JSON log, for a line formatted without `tracing` (the edge's access
/// line, which tracing's JSON formatter made for about 22,000 instructions); `None`
/// unless [`init_logging`] set up JSON lines. Such a line must have the shape
/// [`json_lines`] gives (`timestamp`, `level`, `fields`, `target`) and end in `\n`.
pub fn json_writer() -> Option<&'static NonBlocking> {
    JSON_WRITER.get()
}

/// The JSON lines subscriber: one object a line with `timestamp`, `level`, `target`,
/// `fields` and the current span's fields under `span` (the request's while one is
/// answered: `request_id`).
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
