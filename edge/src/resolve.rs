//! Finding an upstream's replicas: a resolver behind a trait (the system's in
//! production, a scripted one in tests) and the loop that asks it again every interval,
//! so replicas that containers add or remove are followed — nginx resolves once at
//! start and keeps proxying to dead containers after a re-create.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::upstream::Pool;

/// What one lookup answers: every address the name has now.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

/// Turns an upstream's `host:port` into the addresses of its replicas.
pub trait Resolve: Debug + Send + Sync + 'static {
    /// Every address `name` (`host:port`) resolves to now.
    fn lookup<'a>(&'a self, name: &'a str) -> Lookup<'a>;
}

/// The system resolver (`getaddrinfo` through tokio): honours `/etc/hosts` and the
/// container runtime's DNS, which answers a service name with every replica.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn lookup<'a>(&'a self, name: &'a str) -> Lookup<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host(name).await?.collect()) })
    }
}

/// Resolves `name` with `resolver`, giving up after `limit`; an empty answer is an
/// error too, so it never replaces a good one.
pub async fn lookup(
    resolver: &dyn Resolve,
    name: &str,
    limit: Duration,
) -> io::Result<Vec<SocketAddr>> {
    match tokio::time::timeout(limit, resolver.lookup(name)).await {
        Ok(Ok(addresses)) if addresses.is_empty() => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name has no address",
        )),
        Ok(answer) => answer,
        Err(_elapsed) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the lookup took too long",
        )),
    }
}

/// Resolves `pool`'s names again every `interval`, for as long as the task runs. A
/// lookup may take at most one interval, so a hung resolver cannot stall the loop.
pub async fn keep_resolving(pool: Arc<Pool>, resolver: Arc<dyn Resolve>, interval: Duration) {
    let mut rounds = tokio::time::interval(interval);
    rounds.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is immediate, and the pool was resolved at start.
    rounds.tick().await;
    loop {
        rounds.tick().await;
        pool.refresh(resolver.as_ref(), interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Nothing;

    impl Resolve for Nothing {
        fn lookup<'a>(&'a self, _name: &'a str) -> Lookup<'a> {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    #[derive(Debug)]
    struct Hangs;

    impl Resolve for Hangs {
        fn lookup<'a>(&'a self, _name: &'a str) -> Lookup<'a> {
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test]
    async fn system_resolver_finds_localhost() {
        let found = lookup(&SystemResolver, "localhost:8081", Duration::from_secs(5))
            .await
            .expect("resolves");
        assert!(found
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8081));
    }

    #[tokio::test]
    async fn empty_answers_are_errors() {
        let error = lookup(&Nothing, "vote:8081", Duration::from_secs(1))
            .await
            .expect_err("empty");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test(start_paused = true)]
    async fn hung_lookups_time_out() {
        let error = lookup(&Hangs, "vote:8081", Duration::from_secs(5))
            .await
            .expect_err("hangs");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }
}
