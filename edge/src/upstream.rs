//! Upstream pools: the replicas of one service (vote, result) as its names resolve now,
//! each with its health and its count of requests in flight. A replica that DNS stops
//! naming gets no new requests; the ones it is serving finish (they hold it).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use http::HeaderValue;

use crate::balance::{choose, Balance};
use crate::health::Health;
use crate::metrics::UpstreamMetrics;
use crate::resolve::{lookup, Resolve};

/// Time the lookups at start may take, per name.
const START_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an upstream list could not be turned into addresses at start.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No name was configured.
    #[error("no {0} upstream address configured")]
    Empty(&'static str),
}

/// One upstream replica: one address (each worker keeps its own idle connections to
/// it, see [`crate::connections`]).
#[derive(Debug)]
pub struct Replica {
    /// Where to connect.
    pub address: SocketAddr,
    /// The same, as the `Host` field of requests to it.
    pub host: HeaderValue,
    /// Whether it is given requests.
    pub health: Health,
    /// Which configured name it came from, so a failed lookup keeps that name's replicas.
    source: usize,
    outstanding: AtomicUsize,
}

impl Replica {
    fn new(address: SocketAddr, source: usize) -> Option<Replica> {
        Some(Replica {
            host: HeaderValue::try_from(address.to_string()).ok()?,
            address,
            health: Health::default(),
            source,
            outstanding: AtomicUsize::new(0),
        })
    }

    /// Requests sent to it and not yet answered in full.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }
}

/// A request in flight to a replica; counted in its outstanding requests until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Replica>);

impl InFlight {
    /// Counts a request to `replica`.
    pub fn start(replica: Arc<Replica>) -> InFlight {
        replica.outstanding.fetch_add(1, Ordering::Relaxed);
        InFlight(replica)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The replicas of one service.
#[derive(Debug)]
pub struct Pool {
    kind: &'static str,
    names: Vec<String>,
    balance: Balance,
    replicas: RwLock<Arc<[Arc<Replica>]>>,
    next: AtomicUsize,
    metrics: UpstreamMetrics,
}

impl Pool {
    /// A pool named `kind` (for errors and logs) over `addresses`, listed under `names`
    /// in order (one name per address); for tests and fixed address lists.
    pub fn from_addresses(
        kind: &'static str,
        balance: Balance,
        addresses: &[SocketAddr],
    ) -> Result<Pool, ResolveError> {
        let names = addresses.iter().map(ToString::to_string).collect();
        let pool = Pool::empty(kind, names, balance)?;
        let answers = addresses.iter().map(|address| Ok(vec![*address])).collect();
        pool.install(answers);
        Ok(pool)
    }

    /// Resolves every `host:port` in `names` (a name may give several addresses, one
    /// per replica) into a pool named `kind`. A name that does not resolve yet (its
    /// containers are still starting) gives no replica until a later lookup finds it;
    /// until then its requests get 502.
    pub async fn resolve(
        kind: &'static str,
        names: &[String],
        balance: Balance,
        resolver: &dyn Resolve,
    ) -> Result<Pool, ResolveError> {
        let pool = Pool::empty(kind, names.to_vec(), balance)?;
        let lookups = names
            .iter()
            .map(|name| lookup(resolver, name, START_LOOKUP_TIMEOUT));
        pool.install(futures_util::future::join_all(lookups).await);
        Ok(pool)
    }

    fn empty(
        kind: &'static str,
        names: Vec<String>,
        balance: Balance,
    ) -> Result<Pool, ResolveError> {
        if names.is_empty() {
            return Err(ResolveError::Empty(kind));
        }
        Ok(Pool {
            kind,
            names,
            balance,
            replicas: RwLock::new(Arc::from(Vec::new())),
            next: AtomicUsize::new(0),
            metrics: UpstreamMetrics::default(),
        })
    }

    /// The pool's name: `vote` or `result`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The pool's counters.
    pub fn metrics(&self) -> &UpstreamMetrics {
        &self.metrics
    }

    /// The replicas now, in the order their names are configured.
    pub fn replicas(&self) -> Arc<[Arc<Replica>]> {
        self.replicas
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The replica for the next attempt of a request, none of those in `tried`.
    pub fn pick(&self, tried: &[SocketAddr]) -> Option<Arc<Replica>> {
        let replicas = self.replicas.read().unwrap_or_else(PoisonError::into_inner);
        choose(self.balance, &replicas, tried, &self.next)
    }

    /// Ejects `replica` after a refused connection; counted once per ejection.
    pub fn eject(&self, replica: &Replica) {
        if replica.health.eject() {
            self.metrics.ejections.inc();
            tracing::warn!(kind = self.kind, upstream = %replica.address, "cannot connect to replica; ejected");
            self.publish_health();
        }
    }

    /// Updates the healthy-replica gauge.
    pub fn publish_health(&self) {
        let healthy = self
            .replicas()
            .iter()
            .filter(|r| r.health.is_healthy())
            .count();
        self.metrics
            .healthy_replicas
            .set(i64::try_from(healthy).unwrap_or(i64::MAX));
    }

    /// Looks every name up again (each lookup may take `limit`) and installs the answer.
    pub async fn refresh(&self, resolver: &dyn Resolve, limit: Duration) {
        let lookups = self.names.iter().map(|name| lookup(resolver, name, limit));
        let answers = futures_util::future::join_all(lookups).await;
        self.install(answers);
    }

    /// Installs one answer per name. A replica still named keeps its health and its
    /// count; a name whose lookup failed keeps the replicas it had.
    fn install(&self, answers: Vec<std::io::Result<Vec<SocketAddr>>>) {
        let mut slot = self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let old = slot.clone();
        let mut seen = HashSet::new();
        let mut new: Vec<Arc<Replica>> = Vec::with_capacity(old.len());
        for (source, answer) in answers.into_iter().enumerate() {
            let addresses: Vec<SocketAddr> = match answer {
                Ok(addresses) => addresses,
                Err(error) => {
                    let name = self.names.get(source).map_or("", String::as_str);
                    tracing::warn!(kind = self.kind, name, %error, "lookup failed; keeping the last answer");
                    old.iter()
                        .filter(|r| r.source == source)
                        .map(|r| r.address)
                        .collect()
                }
            };
            for address in addresses {
                if !seen.insert(address) {
                    continue;
                }
                let kept = old.iter().find(|r| r.address == address).cloned();
                if let Some(replica) = kept.or_else(|| Replica::new(address, source).map(Arc::new))
                {
                    new.push(replica);
                }
            }
        }
        for added in new
            .iter()
            .filter(|r| !old.iter().any(|o| o.address == r.address))
        {
            tracing::info!(kind = self.kind, upstream = %added.address, "replica added");
        }
        for removed in old.iter().filter(|o| !seen.contains(&o.address)) {
            tracing::info!(kind = self.kind, upstream = %removed.address, in_flight = removed.outstanding(), "replica removed; draining");
        }
        *slot = Arc::from(new);
        drop(slot);
        self.publish_health();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{Lookup, SystemResolver};

    fn address(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn ports(pool: &Pool) -> Vec<u16> {
        pool.replicas().iter().map(|r| r.address.port()).collect()
    }

    #[test]
    fn duplicates_are_one_replica() {
        let pool = Pool::from_addresses("vote", Balance::RoundRobin, &[address(7), address(7)])
            .expect("pool");
        assert_eq!(ports(&pool), [7]);
        assert_eq!(pool.replicas()[0].host, "127.0.0.1:7");
        assert_eq!(pool.metrics().healthy_replicas.get(), 1);
    }

    #[test]
    fn an_empty_list_is_refused() {
        assert!(matches!(
            Pool::from_addresses("result", Balance::P2c, &[]),
            Err(ResolveError::Empty("result"))
        ));
    }

    #[test]
    fn answers_replace_replicas_but_failures_keep_them() {
        let pool =
            Pool::from_addresses("vote", Balance::P2c, &[address(1), address(2)]).expect("pool");
        let first = pool.replicas()[0].clone();
        let held = InFlight::start(first.clone());
        first.health.eject();

        pool.install(vec![
            Ok(vec![address(1), address(3)]),
            Err(std::io::Error::other("SERVFAIL")),
        ]);
        assert_eq!(ports(&pool), [1, 3, 2], "name 2 failed: its replica stays");
        let kept = pool.replicas()[0].clone();
        assert!(
            Arc::ptr_eq(&kept, &first),
            "a replica still named is the same replica"
        );
        assert!(!kept.health.is_healthy());
        assert_eq!(kept.outstanding(), 1);
        assert_eq!(pool.metrics().healthy_replicas.get(), 2);

        pool.install(vec![Ok(vec![address(3)]), Ok(vec![address(2)])]);
        assert_eq!(ports(&pool), [3, 2]);
        assert_eq!(first.outstanding(), 1, "a removed replica's requests go on");
        drop(held);
        assert_eq!(first.outstanding(), 0);
    }

    #[derive(Debug)]
    struct Fixed;

    impl Resolve for Fixed {
        fn lookup<'a>(&'a self, name: &'a str) -> Lookup<'a> {
            Box::pin(async move {
                match name {
                    "vote:80" => Ok(vec![address(10), address(11)]),
                    _ => Err(std::io::Error::other("NXDOMAIN")),
                }
            })
        }
    }

    #[tokio::test]
    async fn a_name_gives_every_replica() {
        let pool = Pool::resolve("vote", &["vote:80".into()], Balance::P2c, &Fixed)
            .await
            .expect("resolves");
        assert_eq!(ports(&pool), [10, 11]);
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_yet_starts_empty_and_fills_in() {
        let names = ["gone:80".into(), "vote:80".into()];
        let pool = Pool::resolve("vote", &names, Balance::P2c, &Fixed)
            .await
            .expect("starts");
        assert_eq!(ports(&pool), [10, 11], "the names that resolve are used");
        let pool = Pool::resolve("vote", &["gone:80".into()], Balance::P2c, &Fixed)
            .await
            .expect("starts");
        assert!(pool.pick(&[]).is_none(), "no replica yet");
        pool.install(vec![Ok(vec![address(12)])]);
        assert_eq!(ports(&pool), [12], "a later answer is used");
    }

    #[tokio::test]
    async fn names_resolve_to_addresses() {
        let names = ["localhost:8081".into(), "127.0.0.1:8082".into()];
        let pool = Pool::resolve("vote", &names, Balance::P2c, &SystemResolver)
            .await
            .expect("resolves");
        assert!(pool.replicas().iter().all(|r| r.address.ip().is_loopback()));
        assert!(pool.replicas().iter().any(|r| r.address.port() == 8082));
    }
}
