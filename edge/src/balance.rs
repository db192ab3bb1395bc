//! Choosing a replica: power of two choices on outstanding requests (two healthy
//! replicas at random, the less busy one wins — close to least-loaded without a global
//! scan, and no herd onto one idle replica), or plain round robin.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::upstream::Replica;

/// How a replica is chosen for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Balance {
    /// The less busy of two replicas drawn at random.
    P2c,
    /// Each replica in turn.
    RoundRobin,
}

/// The replica for the next attempt, from `replicas` less those already `tried`.
/// Replicas whose last check passed come first, then those not checked yet (DNS just
/// named them: at start, or a replica added since); when every untried one is ejected
/// they are tried all the same, since an answer from a doubtful replica beats a
/// certain 502.
pub fn choose(
    balance: Balance,
    replicas: &[Arc<Replica>],
    tried: &[SocketAddr],
    next: &AtomicUsize,
) -> Option<Arc<Replica>> {
    // Health changes on other threads while this runs: each replica's trust is read
    // once, so that every walk below sees the same candidates. On the stack for the
    // usual handful of replicas: a pick is made for every request.
    let mut on_stack = [TRIED; TRUST_ON_STACK];
    let mut on_heap = Vec::new();
    let trusts: &mut [u8] = if replicas.len() <= TRUST_ON_STACK {
        &mut on_stack[..replicas.len()]
    } else {
        on_heap.resize(replicas.len(), TRIED);
        &mut on_heap
    };
    for (slot, replica) in trusts.iter_mut().zip(replicas) {
        if !tried.contains(&replica.address) {
            *slot = trust(replica);
        }
    }
    let best = *trusts.iter().min()?;
    if best == TRIED {
        return None;
    }
    let candidates = || {
        replicas
            .iter()
            .zip(trusts.iter())
            .filter(move |(_, trust)| **trust == best)
            .map(|(replica, _)| replica)
    };
    let count = candidates().count();
    let chosen = match (balance, count) {
        (_, 1) => candidates().next()?,
        (Balance::RoundRobin, count) => {
            candidates().nth(next.fetch_add(1, Ordering::Relaxed) % count)?
        }
        (Balance::P2c, count) => {
            let first = rand::random_range(0..count);
            let mut second = rand::random_range(0..count - 1);
            if second >= first {
                second += 1;
            }
            let a = candidates().nth(first)?;
            let b = candidates().nth(second)?;
            if b.outstanding() < a.outstanding() {
                b
            } else {
                a
            }
        }
    };
    Some(chosen.clone())
}

/// Replicas whose trust is read onto the stack; a longer list takes an allocation.
const TRUST_ON_STACK: usize = 16;

/// The trust of a replica already tried for this request: never chosen.
const TRIED: u8 = u8::MAX;

/// How far a replica is trusted, lowest first: its last check passed; not checked
/// yet; ejected.
fn trust(replica: &Replica) -> u8 {
    match (replica.health.is_healthy(), replica.health.is_checked()) {
        (true, true) => 0,
        (true, false) => 1,
        (false, _) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::{InFlight, Pool};

    fn pool(balance: Balance, ports: &[u16]) -> Pool {
        let addresses: Vec<SocketAddr> = ports
            .iter()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
            .collect();
        Pool::from_addresses("vote", balance, &addresses).expect("pool")
    }

    fn port(replica: Option<Arc<Replica>>) -> u16 {
        replica.map_or(0, |r| r.address.port())
    }

    #[test]
    fn round_robin_takes_turns() {
        let pool = pool(Balance::RoundRobin, &[1, 2, 3]);
        let picked: Vec<u16> = (0..6).map(|_| port(pool.pick(&[]))).collect();
        assert_eq!(picked, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn tried_replicas_are_skipped_and_then_there_are_none() {
        let pool = pool(Balance::P2c, &[1, 2]);
        let tried = [SocketAddr::from(([127, 0, 0, 1], 1))];
        for _ in 0..20 {
            assert_eq!(port(pool.pick(&tried)), 2);
        }
        let all = [tried[0], SocketAddr::from(([127, 0, 0, 1], 2))];
        assert!(pool.pick(&all).is_none());
    }

    #[test]
    fn a_replica_not_checked_yet_waits_for_its_first_passed_check() {
        let pool = pool(Balance::RoundRobin, &[1, 2, 3]);
        let policy = crate::health::HealthPolicy {
            path: http::uri::PathAndQuery::from_static("/readyz"),
            interval: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            eject_after: 3,
            readmit_after: 2,
        };
        let picked: Vec<u16> = (0..3).map(|_| port(pool.pick(&[]))).collect();
        assert_eq!(
            picked,
            [1, 2, 3],
            "none checked yet (the edge just started): all"
        );
        pool.replicas()[0].health.record(true, &policy);
        pool.replicas()[2].health.record(true, &policy);
        let picked: Vec<u16> = (0..4).map(|_| port(pool.pick(&[]))).collect();
        assert!(!picked.contains(&2), "DNS just named 2: {picked:?}");
        let others = [
            SocketAddr::from(([127, 0, 0, 1], 1)),
            SocketAddr::from(([127, 0, 0, 1], 3)),
        ];
        assert_eq!(port(pool.pick(&others)), 2, "rather than a 502: tried");
        pool.replicas()[1].health.record(true, &policy);
        let picked: Vec<u16> = (0..3).map(|_| port(pool.pick(&[]))).collect();
        assert!(picked.contains(&2), "its check passed: {picked:?}");
    }

    #[test]
    fn ejected_replicas_are_avoided_until_none_is_left() {
        let pool = pool(Balance::RoundRobin, &[1, 2, 3]);
        pool.eject(&pool.replicas()[1]);
        let picked: Vec<u16> = (0..4).map(|_| port(pool.pick(&[]))).collect();
        assert!(!picked.contains(&2), "{picked:?}");
        pool.eject(&pool.replicas()[0]);
        pool.eject(&pool.replicas()[2]);
        assert_ne!(port(pool.pick(&[])), 0, "all ejected: still tried");
        assert_eq!(pool.metrics().ejections.get(), 3);
    }

    #[test]
    fn p2c_prefers_the_less_busy() {
        let pool = pool(Balance::P2c, &[1, 2]);
        let busy = pool.replicas()[0].clone();
        let _held: Vec<InFlight> = (0..5).map(|_| InFlight::start(busy.clone())).collect();
        for _ in 0..50 {
            assert_eq!(port(pool.pick(&[])), 2, "of two, the idle one wins");
        }
    }

    #[test]
    fn a_list_longer_than_the_stack_copy_is_chosen_from_too() {
        let ports: Vec<u16> = (1..=TRUST_ON_STACK as u16 + 4).collect();
        let pool = pool(Balance::RoundRobin, &ports);
        let picked: Vec<u16> = ports.iter().map(|_| port(pool.pick(&[]))).collect();
        assert_eq!(picked, ports, "each in turn");
        let tried: Vec<SocketAddr> = ports[1..]
            .iter()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
            .collect();
        let p2c = self::pool(Balance::P2c, &ports);
        for _ in 0..10 {
            assert_eq!(port(p2c.pick(&tried)), 1, "the one left untried");
        }
    }

    #[test]
    fn p2c_spreads_over_every_replica() {
        let pool = pool(Balance::P2c, &[1, 2, 3]);
        let mut seen = [0u32; 4];
        for _ in 0..300 {
            seen[usize::from(port(pool.pick(&[])))] += 1;
        }
        assert!(seen[1..].iter().all(|&n| n > 30), "{seen:?}");
    }
}
