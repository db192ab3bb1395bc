//! Replica health: active checks (`GET /healthz` every interval; ejected after N
//! failures in a row, readmitted after M successes in a row) and passive ejection when
//! a connection to the replica cannot be opened.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::uri::PathAndQuery;
use http_body_util::{Either, Empty};
use tokio::time::MissedTickBehavior;

use crate::proxy::{upstream_uri, UpstreamClient};
use crate::upstream::{Pool, Replica};

/// The path every Tally service answers while its process is alive.
const HEALTH_PATH: &str = "/healthz";

/// When replicas are checked and how many results in a row change their state.
#[derive(Debug, Clone, Copy)]
pub struct HealthPolicy {
    /// Time between two rounds of checks.
    pub interval: Duration,
    /// Time one check may take.
    pub timeout: Duration,
    /// Consecutive failures that eject a healthy replica.
    pub eject_after: u32,
    /// Consecutive successes that readmit an ejected replica.
    pub readmit_after: u32,
}

/// A change of a replica's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// It gets no more requests.
    Ejected,
    /// It gets requests again.
    Readmitted,
}

/// One replica's health. New replicas start healthy: DNS just named them, and a
/// replica that is not there is ejected by its first failed connection.
#[derive(Debug)]
pub struct Health {
    healthy: AtomicBool,
    failures: AtomicU32,
    successes: AtomicU32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            healthy: AtomicBool::new(true),
            failures: AtomicU32::new(0),
            successes: AtomicU32::new(0),
        }
    }
}

impl Health {
    /// Whether the replica is given requests.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Counts one active check's result and says whether the state changed.
    pub fn record(&self, passed: bool, policy: &HealthPolicy) -> Option<Transition> {
        if passed {
            self.failures.store(0, Ordering::Relaxed);
            let streak = self.successes.fetch_add(1, Ordering::Relaxed) + 1;
            if streak >= policy.readmit_after && !self.healthy.swap(true, Ordering::Relaxed) {
                return Some(Transition::Readmitted);
            }
        } else {
            self.successes.store(0, Ordering::Relaxed);
            let streak = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if streak >= policy.eject_after && self.healthy.swap(false, Ordering::Relaxed) {
                return Some(Transition::Ejected);
            }
        }
        None
    }

    /// Ejects the replica at once (a connection to it was refused or timed out); it is
    /// readmitted by active checks. Says whether it was healthy until now.
    pub fn eject(&self) -> bool {
        self.successes.store(0, Ordering::Relaxed);
        self.healthy.swap(false, Ordering::Relaxed)
    }
}

/// Checks every replica of `pool` each interval, for as long as the task runs.
pub async fn keep_checking(pool: Arc<Pool>, client: UpstreamClient, policy: HealthPolicy) {
    let mut rounds = tokio::time::interval(policy.interval);
    rounds.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        rounds.tick().await;
        let replicas = pool.replicas();
        let (client, policy) = (&client, &policy);
        let checks = replicas.iter().map(|replica| async move {
            let passed = probe(client, replica, policy.timeout).await;
            (replica, replica.health.record(passed, policy))
        });
        for (replica, change) in futures_util::future::join_all(checks).await {
            match change {
                Some(Transition::Ejected) => {
                    pool.metrics().ejections.inc();
                    tracing::warn!(kind = pool.kind(), upstream = %replica.address, "replica failed its health checks; ejected");
                }
                Some(Transition::Readmitted) => {
                    tracing::info!(kind = pool.kind(), upstream = %replica.address, "replica passed its health checks; readmitted");
                }
                None => {}
            }
        }
        pool.publish_health();
    }
}

/// Whether `replica` answers `GET /healthz` with a success within `timeout`.
pub async fn probe(client: &UpstreamClient, replica: &Replica, timeout: Duration) -> bool {
    let Some(uri) = upstream_uri(&replica.authority, &PathAndQuery::from_static(HEALTH_PATH))
    else {
        return false;
    };
    let mut request = http::Request::new(Either::Right(Empty::new()));
    *request.uri_mut() = uri;
    matches!(
        tokio::time::timeout(timeout, client.request(request)).await,
        Ok(Ok(response)) if response.status().is_success()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: HealthPolicy = HealthPolicy {
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        eject_after: 3,
        readmit_after: 2,
    };

    #[test]
    fn ejected_after_n_failures_readmitted_after_m_successes() {
        let health = Health::default();
        assert!(health.is_healthy());
        assert_eq!(health.record(false, &POLICY), None);
        assert_eq!(health.record(false, &POLICY), None);
        assert_eq!(
            health.record(true, &POLICY),
            None,
            "a success resets the streak"
        );
        assert_eq!(health.record(false, &POLICY), None);
        assert_eq!(health.record(false, &POLICY), None);
        assert_eq!(health.record(false, &POLICY), Some(Transition::Ejected));
        assert!(!health.is_healthy());
        assert_eq!(health.record(false, &POLICY), None, "ejected once only");
        assert_eq!(health.record(true, &POLICY), None);
        assert_eq!(health.record(true, &POLICY), Some(Transition::Readmitted));
        assert!(health.is_healthy());
        assert_eq!(health.record(true, &POLICY), None);
    }

    #[test]
    fn passive_ejection_needs_fresh_successes() {
        let health = Health::default();
        assert_eq!(health.record(true, &POLICY), None);
        assert!(health.eject());
        assert!(!health.eject(), "already ejected");
        assert_eq!(
            health.record(true, &POLICY),
            None,
            "the earlier success no longer counts"
        );
        assert_eq!(health.record(true, &POLICY), Some(Transition::Readmitted));
    }
}
