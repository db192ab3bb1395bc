//! The server runtime shared by every Tally service.
//!
//! A service writes a [`Handler`]; this crate does the rest the same way everywhere:
//! the accept loop with its limits and timeouts ([`serve`]), graceful shutdown,
//! `/healthz` and `/readyz`, the warm-up that connects a service's dependencies at
//! start, request ids and spans, HTTP metrics and the admin port
//! that serves them, JSON error bodies, configuration
//! parsing that exits 64 on a bad value, and log set-up.

pub mod admin;
pub mod binary;
pub mod body;
pub mod config;
pub mod drain;
pub mod error;
pub mod exposition;
pub mod graceful;
pub mod handler;
pub mod healthcheck;
pub mod listen;
pub mod logging;
pub mod metrics;
pub mod request_id;
pub mod serve;
pub mod shutdown;
pub mod stream_executor;
pub mod timer_table;
pub mod warm_up;

pub use admin::{AdminServer, Ports};
pub use body::{empty, full, json, json_bytes, Body, BoxError};
pub use config::{config_error, parse_duration, parse_or_exit, ServerArgs, EXIT_CONFIG};
pub use drain::drain;
pub use error::{error_body, HttpError};
pub use handler::{Handler, Request, RequestContext, OTHER_ROUTE};
pub use listen::{bind_listener, bind_shared_listener, listen_again, LISTEN_BACKLOG};
pub use logging::init_logging;
pub use metrics::{HttpMetrics, Registry};
pub use request_id::{RequestId, REQUEST_ID};
pub use serve::{serve, serve_with, Handshake, Http2Clients, Plain, ServeConfig};
pub use shutdown::shutdown_signal;
pub use timer_table::{Bounded, DeadlinePassed, TableEntry, TableTimer, TimerTable};
pub use warm_up::{warm_up, WarmUp};
