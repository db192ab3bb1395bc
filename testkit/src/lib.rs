//! Dev-only test kit for Tally: starts real `redis-server` and PostgreSQL servers for integration tests,
//! and runs a service in-process on free ports ([`InProcess`]).
//!
//! Every server listens on `127.0.0.1` on a free port, keeps its files in a scratch directory under
//! [`std::env::temp_dir`], and is started through a guardian shell that kills it as soon as the test
//! process goes away — even when the process panics or is killed, and even for the never-dropped
//! shared servers returned by [`shared_redis`] and [`shared_postgres`].
//!
//! Failing to start a server panics with a message that includes the server's log: the kit is test
//! support, so aborting the test loudly is the right failure mode.

mod block_on;
mod captured_log;
mod eventually;
mod guardian;
mod in_process;
mod launch;
mod log_tail;
mod ports;
mod postgres;
mod power_cut;
mod redis;
mod redis_probe;
mod scratch;
mod service_user;
mod unique;

pub use crate::captured_log::CapturedLog;
pub use crate::eventually::eventually;
pub use crate::in_process::{InProcess, StopSignal};
pub use crate::postgres::{shared_postgres, PostgresServer, TestDatabase};
pub use crate::power_cut::{CutReport, PowerCutDir};
pub use crate::redis::{shared_redis, RedisOptions, RedisServer};
pub use crate::unique::unique_prefix;
