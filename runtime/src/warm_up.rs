//! Getting ready at start: a service's readiness check ([`Handler::ready`]) run from the
//! moment it starts until it first passes. The check goes through the service's own
//! Redis and Postgres clients, so their connections are opened while the service
//! starts, not by the first request; a request then finds them open even when name
//! resolution stalls later (podman's aardvark-dns stops answering on a network for
//! tens of seconds while containers join it). The time it took is logged.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::handler::Handler;

/// First pause after a failed check: Redis and Postgres usually answer within the
/// first second of a stack's start.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Longest pause between two checks, so a service whose dependencies come late is
/// warm within seconds of their arrival.
const MAX_RETRY: Duration = Duration::from_secs(2);

/// The warm-up task; stopped when dropped.
#[derive(Debug)]
pub struct WarmUp(JoinHandle<()>);

impl Drop for WarmUp {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl WarmUp {
    /// Whether the service has passed its first readiness check.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

/// Runs `handler`'s readiness check until it passes once (in a task of its own).
pub fn warm_up<H: Handler>(handler: Arc<H>) -> WarmUp {
    WarmUp(tokio::spawn(async move {
        let started = Instant::now();
        let mut pause = FIRST_RETRY;
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            match handler.clone().ready().await {
                Ok(()) => {
                    let millis = started.elapsed().as_millis() as u64;
                    tracing::info!(millis, attempts, "ready: dependencies connected");
                    return;
                }
                Err(reason) if attempts == 1 => {
                    tracing::warn!(%reason, "not ready yet; checking again until ready");
                }
                Err(reason) => tracing::debug!(%reason, attempts, "not ready yet"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RETRY);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::handler::{Request, RequestContext};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Ready from its third check on.
    #[derive(Debug, Default)]
    struct ThirdTime(AtomicU32);

    impl Handler for ThirdTime {
        async fn handle(self: Arc<Self>, _: Request, _: RequestContext) -> http::Response<Body> {
            http::Response::new(crate::body::empty())
        }

        fn route(&self, _: &Request) -> &'static str {
            "test"
        }

        async fn ready(self: Arc<Self>) -> Result<(), String> {
            match self.0.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err("redis: connection refused".to_owned()),
                _ => Ok(()),
            }
        }
    }

    #[tokio::test]
    async fn checks_until_ready_once_then_stops() {
        let handler = Arc::new(ThirdTime::default());
        let warm = warm_up(handler.clone());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !warm.is_finished() {
            assert!(Instant::now() < deadline, "not ready after 5 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            handler.0.load(Ordering::SeqCst),
            3,
            "checked until the first pass, and not after"
        );
    }
}
