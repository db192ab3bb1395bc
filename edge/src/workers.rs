//! Thread per core, as nginx runs one worker process per core: each worker thread runs
//! a single-threaded tokio runtime with its own accept loop on the shared listening
//! sockets, its own upstream connection pools and its own WebSocket tunnels, so a
//! request and its upstream exchange never wait on another thread. What every worker
//! must see the same (replica health, rate limits, counters, files) is shared.
//!
//! Measured on the proxied vote path (2 cores): a multi-threaded runtime spent about a
//! third more CPU per request on cross-thread wake-ups than one thread per runtime.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::config::Config;
use crate::connections::Connections;
use crate::listeners::Prepared;
use crate::proxy::Proxy;
use crate::service::{EdgeService, SharedState};
use crate::tunnel::Tunnels;
use crate::StartError;

/// Serves on `listeners` from one thread per set of `tunnels` (one per worker, see
/// [`Config::worker_count`]) until `shutdown`, then lets every worker drain its
/// requests and tunnels within the grace period.
pub async fn run(
    listeners: Prepared,
    config: &Config,
    shared: Arc<SharedState>,
    tunnels: Vec<Tunnels>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let count = tunnels.len().max(1);
    let connections = (config.server.max_connections as usize).div_ceil(count);
    let (stop, stopped) = watch::channel(false);
    let mut finished = Vec::with_capacity(count);
    // The first worker serves the bound sockets themselves: connections already queued
    // on them (clients that came while the edge started) are not lost.
    let mut sockets = vec![listeners];
    for _ in 1..count {
        sockets.push(sockets[0].try_clone()?);
    }
    for (index, (tunnels, listeners)) in tunnels.into_iter().zip(sockets).enumerate() {
        let worker = Worker {
            listeners,
            service: Arc::new(EdgeService {
                proxy: Proxy::new(
                    Connections::new(
                        config.upstream.protocol,
                        config.upstream.connect_timeout,
                        config.upstream.pool_idle_timeout,
                    ),
                    config.upstream_timeout,
                    config.body_limits(),
                    tunnels,
                ),
                shared: shared.clone(),
            }),
            config: config.clone(),
            connections,
            stopped: stopped.clone(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (done, on_done) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("edge-worker-{index}"))
            .spawn(move || {
                runtime.block_on(worker.serve());
                drop(done);
            })?;
        finished.push(on_done);
    }
    tracing::info!(workers = count, "edge serving");
    shutdown.await;
    let _ = stop.send(true);
    for on_done in finished {
        // An error only says the worker is gone, which is what is waited for.
        let _ = on_done.await;
    }
    Ok(())
}

/// One worker thread's share of the edge.
struct Worker {
    listeners: Prepared,
    service: Arc<EdgeService>,
    config: Config,
    connections: usize,
    stopped: watch::Receiver<bool>,
}

impl Worker {
    /// Serves until told to stop, then drains its requests and, with what is left of
    /// the grace period, its tunnels (they left the serve loop's drain when upgraded).
    async fn serve(self) {
        let mut stopped = self.stopped;
        let began = std::sync::OnceLock::new();
        let until_stopped = async {
            let _ = stopped.wait_for(|stop| *stop).await;
            let _ = began.set(Instant::now());
        };
        let limits = self.config.client_side.header_limits();
        // Ends with the worker's runtime.
        tokio::spawn(
            self.service
                .proxy
                .connections()
                .clone()
                .keep_closing_expired(),
        );
        self.listeners
            .serve(
                &self.config.server,
                limits,
                self.connections,
                self.service.clone(),
                until_stopped,
            )
            .await;
        let began = began.get().copied().unwrap_or_else(Instant::now);
        let grace = self.config.server.shutdown_grace;
        self.service.proxy.tunnels().drain(began + grace).await;
    }
}
