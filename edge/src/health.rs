//! Replica health: active checks (`GET` of the configured path, `/healthz` by default,
//! every interval; ejected after N failures in a row, readmitted after M successes in a
//! row) and passive ejection when a connection to the replica cannot be opened. A
//! replica DNS has just named is checked at once and again every
//! [`FIRST_CHECK_INTERVAL`] until its first check: the first failure ejects it.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header;
use http::uri::PathAndQuery;
use tokio::time::{Instant, MissedTickBehavior};

use crate::connections::Connections;
use crate::upstream::{Pool, Replica};

/// The path every Tally service answers while its process is alive (liveness).
pub const LIVENESS_PATH: &str = "/healthz";

/// How often replicas that have not been checked yet (just named by DNS) are looked
/// for and checked: a new replica that is not ready is ejected within this, instead of
/// taking requests until the next round and its failure streak.
pub const FIRST_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// What replicas are checked on, when, and how many results in a row change their state.
#[derive(Debug, Clone)]
pub struct HealthPolicy {
    /// The path asked for: `/healthz` (alive) or `/readyz` (able to serve: its Redis and
    /// Postgres answer), where nothing else keeps unready replicas out of DNS.
    pub path: PathAndQuery,
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

/// One replica's health. New replicas start healthy but unchecked: DNS just named
/// them, the checks look at them within [`FIRST_CHECK_INTERVAL`], and their first
/// failed check (or connection) ejects them; from then on the streaks decide. Until
/// that first check, requests go to replicas whose check passed, when there are any
/// ([`crate::balance::choose`]).
#[derive(Debug)]
pub struct Health {
    healthy: AtomicBool,
    checked: AtomicBool,
    failures: AtomicU32,
    successes: AtomicU32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            healthy: AtomicBool::new(true),
            checked: AtomicBool::new(false),
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

    /// Whether an active check has judged the replica yet.
    pub fn is_checked(&self) -> bool {
        self.checked.load(Ordering::Relaxed)
    }

    /// Whether the replica is given requests and an active check has said so.
    pub fn is_confirmed(&self) -> bool {
        self.is_checked() && self.is_healthy()
    }

    /// Counts one active check's result and says whether the state changed. The first
    /// check of a replica decides alone: a replica that fails it was never fit to serve.
    pub fn record(&self, passed: bool, policy: &HealthPolicy) -> Option<Transition> {
        let first = !self.checked.swap(true, Ordering::Relaxed);
        if first && !passed {
            self.failures.store(1, Ordering::Relaxed);
            self.successes.store(0, Ordering::Relaxed);
            return self
                .healthy
                .swap(false, Ordering::Relaxed)
                .then_some(Transition::Ejected);
        }
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
        self.checked.store(true, Ordering::Relaxed);
        self.successes.store(0, Ordering::Relaxed);
        self.healthy.swap(false, Ordering::Relaxed)
    }
}

/// Checks every replica of `pool` each interval, and replicas not checked yet within
/// [`FIRST_CHECK_INTERVAL`] of their appearance, for as long as the task runs.
pub async fn keep_checking(pool: Arc<Pool>, connections: Arc<Connections>, policy: HealthPolicy) {
    let mut ticks = tokio::time::interval(policy.interval.min(FIRST_CHECK_INTERVAL));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut next_round = Instant::now();
    loop {
        ticks.tick().await;
        let round = Instant::now() >= next_round;
        if round {
            next_round = Instant::now() + policy.interval;
        }
        let replicas = pool.replicas();
        let due: Vec<&Arc<Replica>> = replicas
            .iter()
            .filter(|replica| round || !replica.health.is_checked())
            .collect();
        if due.is_empty() {
            continue;
        }
        let (connections, policy) = (&connections, &policy);
        let checks = due.into_iter().map(|replica| async move {
            let passed = check(connections, replica, &policy.path, policy.timeout).await;
            (replica, replica.health.record(passed, policy))
        });
        for (replica, change) in futures_util::future::join_all(checks).await {
            match change {
                Some(Transition::Ejected) => {
                    pool.metrics().ejections.inc();
                    tracing::warn!(kind = pool.kind(), upstream = %replica.address, path = policy.path.as_str(), "replica failed its health checks; ejected");
                }
                Some(Transition::Readmitted) => {
                    tracing::info!(kind = pool.kind(), upstream = %replica.address, path = policy.path.as_str(), "replica passed its health checks; readmitted");
                }
                None => {}
            }
        }
        pool.publish_health();
    }
}

/// Whether `replica` answers `GET path` with a success within `timeout`, on a
/// connection of its own (so a check also proves that the replica accepts connections).
pub async fn check(
    connections: &Connections,
    replica: &Replica,
    path: &PathAndQuery,
    timeout: Duration,
) -> bool {
    let check = async {
        let mut sender = connections.connect(replica.address).await.ok()?;
        let mut head = http::Request::new(());
        *head.uri_mut() = http::Uri::from(path.clone());
        head.headers_mut()
            .insert(header::HOST, replica.host.clone());
        sender.send(head, None).await.ok()
    };
    matches!(
        tokio::time::timeout(timeout, check).await,
        Ok(Some(response)) if response.status().is_success()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HealthPolicy {
        HealthPolicy {
            path: PathAndQuery::from_static("/readyz"),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            eject_after: 3,
            readmit_after: 2,
        }
    }

    #[test]
    fn ejected_after_n_failures_readmitted_after_m_successes() {
        let (health, policy) = (Health::default(), policy());
        assert!(health.is_healthy());
        assert_eq!(health.record(true, &policy), None, "the first check passes");
        assert_eq!(health.record(false, &policy), None);
        assert_eq!(health.record(false, &policy), None);
        assert_eq!(
            health.record(true, &policy),
            None,
            "a success resets the streak"
        );
        assert_eq!(health.record(false, &policy), None);
        assert_eq!(health.record(false, &policy), None);
        assert_eq!(health.record(false, &policy), Some(Transition::Ejected));
        assert!(!health.is_healthy());
        assert_eq!(health.record(false, &policy), None, "ejected once only");
        assert_eq!(health.record(true, &policy), None);
        assert_eq!(health.record(true, &policy), Some(Transition::Readmitted));
        assert!(health.is_healthy());
        assert_eq!(health.record(true, &policy), None);
    }

    #[test]
    fn a_new_replica_is_unchecked_until_its_first_check_which_decides_alone() {
        let (health, policy) = (Health::default(), policy());
        assert!(health.is_healthy() && !health.is_checked() && !health.is_confirmed());
        assert_eq!(
            health.record(false, &policy),
            Some(Transition::Ejected),
            "a new replica that is not ready is out at once, not after three rounds"
        );
        assert!(health.is_checked() && !health.is_confirmed());
        assert_eq!(health.record(true, &policy), None);
        assert_eq!(health.record(true, &policy), Some(Transition::Readmitted));
        assert!(health.is_confirmed());

        let passing = Health::default();
        assert_eq!(
            passing.record(true, &policy),
            None,
            "it was healthy already"
        );
        assert!(passing.is_confirmed());
    }

    #[test]
    fn passive_ejection_needs_fresh_successes() {
        let (health, policy) = (Health::default(), policy());
        assert_eq!(health.record(true, &policy), None);
        assert!(health.eject());
        assert!(!health.eject(), "already ejected");
        assert_eq!(
            health.record(true, &policy),
            None,
            "the earlier success no longer counts"
        );
        assert_eq!(health.record(true, &policy), Some(Transition::Readmitted));
    }
}
