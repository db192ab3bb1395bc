//! tally-edge: the one public port. Static files from the www directory, path routing,
//! and streaming proxying to the vote and result services: replicas found and
//! re-found by DNS (`resolve`, `upstream`), balanced (`balance`), health-checked
//! (`health`), retried where safe (`retry`), WebSocket tunnels (`tunnel`), an access
//! log and counters (`access_log`, `metrics`); TLS, limits and security headers.

pub mod accept_encoding;
pub mod access_log;
pub mod admission;
pub mod balance;
pub mod body_limits;
pub mod cache_control;
pub mod client_ip;
pub mod client_side_args;
pub mod conditional;
pub mod config;
pub mod connections;
pub mod content_type;
pub mod error;
pub mod etag;
pub mod exchange;
pub mod forwarding;
pub mod health;
pub mod limits;
pub mod listeners;
pub mod metrics;
pub mod multiplexed;
pub mod precompressed;
pub mod proxy;
pub mod range;
pub mod rate_limit;
pub mod request_body;
pub mod resolve;
pub mod retry;
pub mod routes;
pub mod security;
pub mod service;
pub mod static_files;
pub mod static_load;
pub mod static_path;
pub mod tls;
pub mod tunnel;
pub mod upstream;
pub mod upstream_args;
pub mod vote_limits;
pub mod voter_issue;
pub mod voter_key_args;
pub mod workers;
pub mod write_ledger;
pub mod zero_copy;
pub mod zero_copy_stream;

use std::future::Future;
use std::sync::Arc;

use tally_runtime::{AdminServer, Handler, HttpMetrics, Registry};
use tokio::task::JoinSet;

pub use config::Config;
use connections::Connections;
pub use listeners::Listeners;
use proxy::Proxy;
use resolve::{Resolve, SystemResolver};
use service::{EdgeService, SharedState};
use static_files::{LoadError, StaticFiles};
use tunnel::Tunnels;
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
    /// The TLS certificate, key or port could not be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// A listening socket could not be handed to the workers, or a worker not started.
    #[error("cannot start the workers: {0}")]
    Workers(#[from] std::io::Error),
    /// The voter cookie key cannot be used.
    #[error("{}: {}", .0.variable, .0.message)]
    VoterKey(tally_voter::KeyProblem),
}

/// Serves the edge on `listener` until `shutdown` completes, then drains. Upstream
/// names are resolved and the www directory is read before the first request. The
/// metrics are served on the admin listener, when one is given (never on the public
/// port, and no route leads to them).
pub async fn run(
    listener: impl Into<Listeners>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    run_with_resolver(listener, config, Arc::new(SystemResolver), shutdown).await
}

/// [`run`] with upstream names looked up by `resolver` (tests script DNS answers).
pub async fn run_with_resolver(
    listener: impl Into<Listeners>,
    config: Config,
    resolver: Arc<dyn Resolve>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let mut listeners = listener.into();
    // Where voters reach this edge: the port it was given (a test's is on loopback).
    let listening_on = listeners.plain.local_addr()?;
    let signer = config
        .voter_key
        .signer(listening_on)
        .map_err(StartError::VoterKey)?;
    let admin = listeners.admin.take();
    let listeners = listeners.prepare(&config.client_side).await?;
    let balance = config.upstream.balance;
    let vote =
        Arc::new(Pool::resolve("vote", &config.vote_upstreams, balance, resolver.as_ref()).await?);
    let result = Arc::new(
        Pool::resolve(
            "result",
            &config.result_upstreams,
            balance,
            resolver.as_ref(),
        )
        .await?,
    );
    let www_dir = config.www_dir.clone();
    let files = tokio::task::spawn_blocking(move || StaticFiles::load(&www_dir))
        .await
        .map_err(|error| LoadError::Read {
            path: config.www_dir.clone(),
            error: std::io::Error::other(error),
        })??;
    tracing::info!(
        files = files.len(),
        vote = vote.replicas().len(),
        result = result.replicas().len(),
        "edge configured"
    );
    // Health checks run on the control thread with connections of their own.
    let connections = Connections::new(
        config.upstream.protocol,
        config.upstream.connect_timeout,
        config.upstream.pool_idle_timeout,
    );
    // Re-resolution and health checks run while the edge serves; dropping the set
    // stops them.
    let mut upkeep = JoinSet::new();
    for pool in [&vote, &result] {
        let interval = config.upstream.resolve_interval;
        upkeep.spawn(resolve::keep_resolving(
            pool.clone(),
            resolver.clone(),
            interval,
        ));
        let policy = config.upstream.health_policy();
        upkeep.spawn(health::keep_checking(
            pool.clone(),
            connections.clone(),
            policy,
        ));
    }
    let mut registry = Registry::default();
    let http = HttpMetrics::register(&mut registry, EdgeService::ROUTES);
    let shared = Arc::new(SharedState {
        routes: routes::Routes::new(config.routes.clone()),
        vote: vote.clone(),
        result: result.clone(),
        files,
        metrics: http,
        voters: config.client_side.voter_issue(signer.clone()),
        admission: config.client_side.admission(listeners.https_port(), signer),
    });
    let tunnels: Vec<Tunnels> = (0..config.worker_count())
        .map(|_| Tunnels::new(config.upstream.tunnel_idle_timeout))
        .collect();
    metrics::register(
        &mut registry,
        [vote, result],
        &shared.admission.rate_limited,
        tunnels.clone(),
    );
    shared.voters.register(&mut registry);
    // The admin port's readiness is the edge's: a proxy of its own for the checks.
    let readiness = Arc::new(EdgeService {
        proxy: Proxy::new(
            connections,
            config.upstream_timeout,
            config.body_limits(),
            Tunnels::new(config.upstream.tunnel_idle_timeout),
        ),
        shared: shared.clone(),
    });
    let admin = AdminServer::start(admin, registry, readiness);
    workers::run(listeners, &config, shared, tunnels, shutdown).await?;
    admin.stop().await;
    upkeep.shutdown().await;
    Ok(())
}
