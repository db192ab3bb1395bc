//! tally-edge: the one public port. Static files from the www directory, path routing,
//! and streaming proxying to the vote and result services with round robin over their
//! replicas, failover on connect errors, timeouts and security headers.
//!
//! This is the minimal gateway; re-resolution, health-checked balancing, WebSockets,
//! TLS, rate limits and the access log come later, each in its own module.

pub mod config;
pub mod content_type;
pub mod error;
pub mod etag;
pub mod forwarding;
pub mod proxy;
pub mod request_body;
pub mod routes;
pub mod security;
pub mod service;
pub mod static_files;
pub mod static_path;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use config::Config;
use proxy::{upstream_client, Proxy};
use service::EdgeService;
use static_files::{LoadError, StaticFiles};
use upstream::{Pool, ResolveError};

/// Why the edge could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An upstream name did not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The www directory could not be loaded.
    #[error("cannot load the www directory: {0}")]
    Static(#[from] LoadError),
}

/// Serves the edge on `listener` until `shutdown` completes, then drains. Upstream
/// names are resolved and the www directory is read before the first request.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let vote = Pool::resolve("vote", &config.vote_upstreams).await?;
    let result = Pool::resolve("result", &config.result_upstreams).await?;
    let www_dir = config.www_dir.clone();
    let files = tokio::task::spawn_blocking(move || StaticFiles::load(&www_dir))
        .await
        .map_err(|error| LoadError::Read {
            path: config.www_dir.clone(),
            error: std::io::Error::other(error),
        })??;
    tracing::info!(
        files = files.len(),
        vote = vote.upstreams().len(),
        result = result.upstreams().len(),
        "edge configured"
    );
    let service = Arc::new(EdgeService {
        proxy: Proxy::new(
            upstream_client(),
            config.upstream_timeout,
            config.max_body_bytes,
        ),
        vote,
        result,
        files,
    });
    tally_runtime::serve(listener, config.server.serve_config(), service, shutdown).await;
    Ok(())
}
