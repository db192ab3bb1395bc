//! tally-vote: accepts ballots, poll commands (create, close, reopen) and events (create,
//! and a presenter's commands) over HTTP, checks them against the poll definitions the
//! worker caches in Redis, and appends them to the `votes` stream. It never touches
//! Postgres: a vote answered `202` is in the stream, and the worker takes it from there.

pub mod accept;
pub mod admin;
pub mod ballot;
pub mod config;
pub mod create;
pub mod durability;
pub mod error;
pub mod event_command;
pub mod event_create;
pub mod event_request;
pub mod events;
pub mod metrics;
pub mod passcode;
pub mod poll_request;
pub mod polls;
pub mod question_command;
pub mod queue;
pub mod replicated;
pub mod service;
pub mod voter_codes;

use std::future::Future;
use std::sync::Arc;

use http::HeaderValue;
use tally_model::Keys;
use tally_runtime::{AdminServer, Handler, Http2Clients, HttpMetrics, Ports, Registry};

pub use config::Config;
use durability::{Durability, FsyncCheck};
use events::EventDefinitions;
use metrics::VoteMetrics;
use polls::PollDefinitions;
use queue::{Appending, Backlog, Queue};
use replicated::ReplicatedAppender;
use service::VoteService;
use tally_voter::VoterSigner;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is unusable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The Redis client could not be set up.
    #[error("cannot set up the Redis client: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Serves the vote API on `ports` (a bare listener: the public port alone) until
/// `shutdown` completes, then drains; the admin port serves the metrics meanwhile.
pub async fn run(
    ports: impl Into<Ports>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let key = config.cookie_key()?;
    if tally_voter::is_public(&key) {
        tracing::warn!(
            "signing voter cookies with the public development key, so anyone can forge a \
             voter id: fine on this machine only. Set VOTE_COOKIE_KEY_FILE wherever others vote."
        );
    }
    let signer = VoterSigner::new(&key);
    let link = tally_connect::RedisLink::new(config.redis_url.clone());
    let redis = link.connect(REDIS_RESPONSE_TIMEOUT)?;
    let keys = Keys::new(config.redis_key_prefix.clone());
    let mut background = Vec::new();
    let appending = match config.durability {
        Durability::Written => Appending::Written,
        Durability::Fsync => {
            let check = Arc::new(FsyncCheck::default());
            background.push(check.watch(redis.clone()));
            Appending::Fsync(check)
        }
        Durability::Replicated => {
            // A group's answer comes after its replicas' wait, so it may take that long more.
            let response_timeout = REDIS_RESPONSE_TIMEOUT + config.durability_timeout;
            let (appender, writers) = ReplicatedAppender::start(
                || link.connect(response_timeout),
                keys.clone(),
                config.durability_replicas,
                config.durability_timeout,
            )?;
            background.extend(writers);
            Appending::Replicated(appender)
        }
    };
    let queue = Queue::new(redis.clone(), keys.clone(), appending);
    let backlog = Arc::new(Backlog::default());
    background.push(backlog.watch(queue.clone(), config.backlog_interval));
    let replica = HeaderValue::from_str(&config.replica_name())
        .unwrap_or_else(|_| HeaderValue::from_static("unnamed"));

    let ports = ports.into();
    let mut registry = Registry::default();
    let http = HttpMetrics::register(&mut registry, VoteService::ROUTES);
    let metrics = VoteMetrics::register(&mut registry);
    let service = Arc::new(VoteService {
        signer,
        polls: PollDefinitions::new(redis.clone(), keys.clone(), config.poll_cache_ttl),
        events: EventDefinitions::new(redis.clone(), keys.clone(), config.poll_cache_ttl),
        keys,
        queue,
        backlog,
        queue_high_water: config.queue_high_water,
        max_body_bytes: config.max_body_bytes as usize,
        max_poll_body_bytes: config.max_poll_body_bytes as usize,
        redis,
        replica,
        metrics,
    });
    let admin = AdminServer::start(ports.admin, registry, service.clone());
    let mut serve_config = config.server.serve_config();
    serve_config.http_metrics = Some(http);
    serve_config.h2_clients = Http2Clients::Gateway;
    tally_runtime::serve(ports.public, serve_config, service, shutdown).await;
    admin.stop().await;
    for task in background {
        task.abort();
    }
    Ok(())
}

/// Time allowed for one Redis command before the vote is answered 503.
const REDIS_RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
