//! tally-worker: the only writer of Postgres. It reads the `votes` stream through a
//! consumer group, applies each batch in one transaction, acknowledges after the
//! commit, then refreshes the results cache and publishes the new counts.

pub mod apply;
pub mod commands;
pub mod config;
pub mod consume;
pub mod events;
pub mod metrics;
pub mod migrate;
pub mod polls;
pub mod questions;
pub mod service;
pub mod stream;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tally_connect::{PostgresPool, RedisLink};
use tally_model::Keys;
use tally_runtime::{AdminServer, Handler, HttpMetrics, Ports, Registry};
use tokio::sync::watch;

pub use config::Config;
use consume::{ConsumeSettings, Consumer, Stopped};
use metrics::WorkerMetrics;
use polls::{ensure_default_poll, DefaultPoll, RedisCopies};
use service::WorkerHealth;
use stream::VoteStream;

/// Time allowed to open a Postgres connection or to wait for a pooled one.
const DB_TIMEOUT: Duration = Duration::from_secs(3);

/// Name the worker's connections carry in `pg_stat_activity`.
const APPLICATION_NAME: &str = "tally-worker";

/// Time allowed for one Redis command; above the longest `XREADGROUP … BLOCK`.
const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between attempts to prepare the database while it is unreachable.
const PREPARE_RETRY: Duration = Duration::from_secs(1);

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Redis client could not be set up.
    #[error("cannot set up the Redis client: {0}")]
    Redis(#[from] redis::RedisError),
    /// The Postgres pool could not be built.
    #[error("cannot set up the Postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::BuildError),
}

/// Serves health on `ports` (metrics on its admin port, when given) and consumes the
/// vote stream until `shutdown` completes; then finishes the batch in hand and returns.
pub async fn run(
    ports: impl Into<Ports>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let link = RedisLink::new(config.redis_url.clone());
    let redis = link.connect(REDIS_RESPONSE_TIMEOUT)?;
    let blocking = link.connect(REDIS_RESPONSE_TIMEOUT)?;
    let pool = PostgresPool {
        config: config.database().clone(),
        max_size: config.db_pool_size as usize,
        timeout: DB_TIMEOUT,
        application_name: APPLICATION_NAME,
    }
    .build()?;
    let keys = Keys::new(config.redis_key_prefix.clone());
    let (stop, stopped) = watch::channel(false);

    let health = Arc::new(WorkerHealth {
        redis: redis.clone(),
        pool: pool.clone(),
    });
    let ports = ports.into();
    let mut registry = Registry::default();
    let http = HttpMetrics::register(&mut registry, WorkerHealth::ROUTES);
    let metrics = WorkerMetrics::register(&mut registry);
    let admin = AdminServer::start(ports.admin, registry, health.clone());
    let sampler = tokio::spawn(metrics::sample(
        redis.clone(),
        keys.clone(),
        metrics.clone(),
        config.housekeeping_interval,
        stopped.clone(),
    ));
    let mut serve_config = config.server.serve_config();
    serve_config.http_metrics = Some(http);
    let mut server_stopped = stopped.clone();
    let server = tokio::spawn(tally_runtime::serve(
        ports.public,
        serve_config,
        health,
        async move {
            let _ = server_stopped.wait_for(|stopped| *stopped).await;
        },
    ));

    let consumer_name = config
        .consumer_name
        .clone()
        .unwrap_or_else(default_consumer_name);
    let consumer = Consumer {
        stream: VoteStream::new(redis.clone(), blocking, keys.clone(), consumer_name),
        pool,
        copies: RedisCopies::new(redis, keys),
        settings: ConsumeSettings {
            batch_size: config.batch_size as usize,
            block: config.block,
            linger: config.batch_linger,
            claim_idle: config.claim_idle,
            housekeeping_interval: config.housekeeping_interval,
        },
        definitions_stale: Default::default(),
        metrics,
    };
    let default_poll = DefaultPoll {
        question: config.default_question.clone(),
        option_a: config.option_a.clone(),
        option_b: config.option_b.clone(),
    };
    let work = async {
        if prepare(&consumer, &default_poll, stopped.clone())
            .await
            .is_ok()
        {
            consumer.run(stopped.clone()).await;
        }
    };
    tokio::pin!(work);
    tokio::select! {
        () = &mut work => {}
        () = shutdown => {
            tracing::info!("finishing the batch in hand");
            let _ = stop.send(true);
            // Dropping the work mid-batch is safe (whatever it took stays pending and is
            // claimed by another worker), so the grace period bounds the wait.
            if tokio::time::timeout(config.server.shutdown_grace, &mut work).await.is_err() {
                tracing::warn!("grace period over with a batch in hand; another worker will claim it");
            }
        }
    }
    let _ = stop.send(true);
    let _ = server.await;
    let _ = sampler.await;
    admin.stop().await;
    Ok(())
}

/// Migrates, ensures the default poll, the consumer group and the Redis copies of the
/// definitions; retries while Postgres or Redis is unreachable.
async fn prepare(
    consumer: &Consumer,
    default_poll: &DefaultPoll,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), Stopped> {
    loop {
        match prepare_once(consumer, default_poll).await {
            Ok(()) => return Ok(()),
            Err(error) => tracing::warn!(%error, "preparing the database failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(PREPARE_RETRY) => {}
            _ = stopped.wait_for(|stopped| *stopped) => return Err(Stopped),
        }
    }
}

async fn prepare_once(
    consumer: &Consumer,
    default_poll: &DefaultPoll,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut client = consumer.pool.get().await?;
    let applied = migrate::migrate(&mut client).await?;
    if applied > 0 {
        tracing::info!(applied, "migrations applied");
    }
    ensure_default_poll(&mut client, default_poll).await?;
    drop(client);
    consumer.stream.ensure_group().await?;
    consumer.write_definitions().await?;
    Ok(())
}

/// `<host>-<random>`: a restarted worker is a new consumer, and the old one's pending
/// entries are claimed like any dead consumer's.
fn default_consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let suffix: u32 = rand::rng().random();
    format!("{}-{suffix:08x}", host.trim())
}
