//! tally-result: poll results as JSON. Cache first (the hash the worker refreshes in
//! Redis after every commit); on a miss, Postgres through a read-only role, then the
//! cache is filled. Redis being down costs a Postgres read, never a request.

pub mod admin;
pub mod ballot_export;
pub mod cache;
pub mod config;
pub mod csv_export;
pub mod database;
pub mod document;
pub mod error;
pub mod events;
pub mod live;
pub mod lookup;
pub mod metrics;
pub mod page;
pub mod route;
pub mod service;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tally_model::Keys;
use tally_runtime::{AdminServer, Handler, Http2Clients, HttpMetrics, Ports, Registry};

use cache::ResultsCache;
pub use config::Config;
use database::ResultsDatabase;
use events::EventStore;
use live::Live;
use lookup::ResultsLookup;
use service::ResultService;

/// Time allowed for one Redis command.
const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Redis client could not be set up.
    #[error("cannot set up Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The Postgres pool could not be built.
    #[error("cannot set up the Postgres pool: {0}")]
    Postgres(#[from] deadpool_postgres::BuildError),
}

/// Serves results on `ports` (metrics on its admin port, when given) until `shutdown`
/// completes, then drains. Neither Redis nor Postgres needs to be up to start: both
/// are connected by the warm-up ([`tally_runtime::warm_up`]) as soon as they answer.
pub async fn run(
    ports: impl Into<Ports>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let redis =
        tally_connect::RedisLink::new(config.redis_url.clone()).connect(REDIS_RESPONSE_TIMEOUT)?;
    let cache = ResultsCache::new(redis, Keys::new(config.redis_key_prefix.clone()));
    let database = ResultsDatabase::new(config.database().clone(), config.db_pool_size as usize)?;
    let lookup = ResultsLookup::new(cache, database);
    let keys = Keys::new(config.redis_key_prefix.clone());
    let events = EventStore::new(lookup.cache().clone(), lookup.database().clone());
    let live = Live::start(
        config.live.clone(),
        &config.redis_url,
        keys,
        lookup.clone(),
        events.clone(),
    )?;
    let ports = ports.into();
    let mut registry = Registry::default();
    let http = HttpMetrics::register(&mut registry, ResultService::ROUTES);
    metrics::register(&mut registry, &lookup, &live);
    let service = Arc::new(ResultService::new(lookup, events, live.clone()));
    let admin = AdminServer::start(ports.admin, registry, service.clone());
    // Redis and Postgres connected while the service starts, not by its first reader.
    let warm = tally_runtime::warm_up(service.clone());
    let mut serve_config = config.server.serve_config();
    serve_config.http_metrics = Some(http);
    serve_config.h2_clients = Http2Clients::Gateway;
    // Upgraded connections leave the serve loop's drain: the live feed closes its own.
    let shutdown = {
        let live = live.clone();
        async move {
            shutdown.await;
            live.shut_down();
        }
    };
    tally_runtime::serve(ports.public, serve_config, service, shutdown).await;
    drop(warm);
    live.closed(config.server.shutdown_grace).await;
    admin.stop().await;
    Ok(())
}
