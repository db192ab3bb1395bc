//! Upstream pools: the addresses of one kind of service (vote, result), resolved at
//! start, picked round robin per request. Re-resolution and health checks come later.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::uri::Authority;

/// Why an upstream list could not be turned into addresses.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A name did not resolve.
    #[error("cannot resolve {kind} upstream {name:?}: {error}")]
    Lookup {
        /// Which pool.
        kind: &'static str,
        /// The `host:port` as configured.
        name: String,
        /// What the resolver said.
        error: std::io::Error,
    },
    /// The list resolved to no address at all.
    #[error("no {0} upstream address configured")]
    Empty(&'static str),
}

/// One upstream replica.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Where to connect.
    pub address: SocketAddr,
    /// The same, as the authority of request URIs.
    pub authority: Authority,
}

/// The replicas of one service.
#[derive(Debug)]
pub struct Pool {
    kind: &'static str,
    upstreams: Vec<Upstream>,
    next: AtomicUsize,
}

impl Pool {
    /// A pool named `kind` (for errors and logs) over `addresses`, in order.
    pub fn new(kind: &'static str, addresses: Vec<SocketAddr>) -> Result<Self, ResolveError> {
        let mut upstreams: Vec<Upstream> = Vec::with_capacity(addresses.len());
        for address in addresses {
            if upstreams.iter().any(|known| known.address == address) {
                continue;
            }
            let authority = Authority::try_from(address.to_string().as_str())
                .map_err(|_| ResolveError::Empty(kind))?;
            upstreams.push(Upstream { address, authority });
        }
        if upstreams.is_empty() {
            return Err(ResolveError::Empty(kind));
        }
        Ok(Pool {
            kind,
            upstreams,
            next: AtomicUsize::new(0),
        })
    }

    /// Resolves every `host:port` in `names` (a name may give several addresses, one
    /// per replica) into a pool named `kind`.
    pub async fn resolve(kind: &'static str, names: &[String]) -> Result<Self, ResolveError> {
        let mut addresses = Vec::new();
        for name in names {
            let found = tokio::net::lookup_host(name.as_str())
                .await
                .map_err(|error| ResolveError::Lookup {
                    kind,
                    name: name.clone(),
                    error,
                })?;
            addresses.extend(found);
        }
        Pool::new(kind, addresses)
    }

    /// The pool's name: `vote` or `result`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Every replica, in configured order.
    pub fn upstreams(&self) -> &[Upstream] {
        &self.upstreams
    }

    /// The replicas to try for one request: the next in round-robin order, then (when
    /// there is another) the one after it, for a connection that failed.
    pub fn attempts(&self) -> impl Iterator<Item = &Upstream> {
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let tries = self.upstreams.len().min(2);
        (0..tries).map(move |offset| &self.upstreams[(first + offset) % self.upstreams.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(ports: &[u16]) -> Vec<SocketAddr> {
        ports
            .iter()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
            .collect()
    }

    fn ports_of(pool: &Pool) -> Vec<u16> {
        pool.attempts()
            .map(|upstream| upstream.address.port())
            .collect()
    }

    #[test]
    fn round_robin_with_one_fallback() {
        let pool = Pool::new("vote", addresses(&[1, 2, 3])).expect("pool");
        assert_eq!(ports_of(&pool), [1, 2]);
        assert_eq!(ports_of(&pool), [2, 3]);
        assert_eq!(ports_of(&pool), [3, 1]);
        assert_eq!(ports_of(&pool), [1, 2]);
    }

    #[test]
    fn a_single_upstream_is_tried_once() {
        let pool = Pool::new("vote", addresses(&[7, 7])).expect("pool");
        assert_eq!(ports_of(&pool), [7]);
        assert_eq!(pool.upstreams()[0].authority.as_str(), "127.0.0.1:7");
    }

    #[test]
    fn an_empty_pool_is_refused() {
        assert!(matches!(
            Pool::new("result", Vec::new()),
            Err(ResolveError::Empty("result"))
        ));
    }

    #[tokio::test]
    async fn names_resolve_to_addresses() {
        let pool = Pool::resolve("vote", &["localhost:8081".into(), "127.0.0.1:8082".into()])
            .await
            .expect("resolves");
        assert!(pool
            .upstreams()
            .iter()
            .all(|u| u.address.ip().is_loopback()));
        assert!(pool.upstreams().iter().any(|u| u.address.port() == 8082));
    }
}
