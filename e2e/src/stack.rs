//! A whole Tally in one test process: edge, vote, worker and result on port 0 (each with
//! its admin port, where its metrics are scraped), a fresh Postgres database and Redis
//! key prefix, started in dependency order.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tally_model::keys::CONSUMER_GROUP;
use tally_model::Keys;
use tally_runtime::Ports;
use tally_testkit::{eventually, shared_postgres, shared_redis, unique_prefix, TestDatabase};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Long enough for a loaded CI machine, short enough to fail a stuck test quickly.
pub const WAIT: Duration = Duration::from_secs(30);

/// The cookie key the tests' vote services sign with.
pub const TEST_COOKIE_KEY: &str = "tally-e2e-test-cookie-key-0123456789abcdef";

/// A service running in-process.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its admin port (`/metrics`).
    pub admin: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), String>>,
}

impl Running {
    /// Starts `run(ports, shutdown)` on a fresh public port and a fresh admin port.
    pub async fn spawn<F, Fut, E>(run: F) -> Running
    where
        F: FnOnce(Ports, oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        let admin_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free admin port");
        let admin = admin_listener.local_addr().expect("admin address");
        let ports = Ports {
            public: listener,
            admin: Some(admin_listener),
        };
        let (stop, stopped) = oneshot::channel();
        let future = run(ports, stopped);
        let task = tokio::spawn(async move { future.await.map_err(|error| error.to_string()) });
        Running {
            addr,
            admin,
            stop: Some(stop),
            task,
        }
    }

    /// Asks the service to shut down gracefully and waits until it has.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(|error| error.to_string())?
    }

    /// Kills the service at once, as a crash would (nothing runs after this point).
    pub fn kill(self) {
        self.task.abort();
    }
}

/// The shutdown future a service gets: completes when [`Running::stop`] is called.
async fn until(stopped: oneshot::Receiver<()>) {
    let _ = stopped.await;
}

/// Options for a [`Stack`].
#[derive(Debug, Default)]
pub struct StackBuilder {
    redis_url: Option<String>,
    database: Option<TestDatabase>,
    vote_args: Vec<String>,
    worker_args: Vec<String>,
    without_worker: bool,
}

impl StackBuilder {
    /// Uses this Redis instead of the shared one.
    pub fn redis(mut self, url: String) -> Self {
        self.redis_url = Some(url);
        self
    }

    /// Uses this database instead of a fresh one on the shared Postgres.
    pub fn database(mut self, database: TestDatabase) -> Self {
        self.database = Some(database);
        self
    }

    /// Adds a flag for the vote service.
    pub fn vote_arg(mut self, flag: &str, value: &str) -> Self {
        self.vote_args.extend([flag.to_owned(), value.to_owned()]);
        self
    }

    /// Adds a flag for the worker (and for workers started later with [`Stack::start_worker`]).
    pub fn worker_arg(mut self, flag: &str, value: &str) -> Self {
        self.worker_args.extend([flag.to_owned(), value.to_owned()]);
        self
    }

    /// Starts no worker (the test drives the stream itself).
    pub fn without_worker(mut self) -> Self {
        self.without_worker = true;
        self
    }

    /// Starts the stack and waits until the default poll can take votes.
    pub async fn start(self) -> Stack {
        let redis_url = self.redis_url.unwrap_or_else(|| shared_redis().url());
        let database = match self.database {
            Some(database) => database,
            None => shared_postgres().fresh_database().await,
        };
        let keys = Keys::new(unique_prefix());
        let mut stack = Stack {
            redis_url,
            database,
            keys,
            worker_args: self.worker_args,
            workers: Vec::new(),
            vote: None,
            result: None,
            edge: None,
        };
        // Migrations and the default poll come from the worker; prepare them even when
        // the test runs without one, by running a worker until it is ready.
        let worker = stack.start_worker(&[]).await;
        stack.wait_for_default_poll().await;
        if self.without_worker {
            worker.stop().await.expect("preparing worker stops");
        } else {
            stack.workers.push(worker);
        }
        let vote = stack.start_vote(&self.vote_args).await;
        let result = stack.start_result().await;
        let edge = stack.start_edge(vote.addr, result.addr).await;
        stack.vote = Some(vote);
        stack.result = Some(result);
        stack.edge = Some(edge);
        stack
    }
}

/// A running Tally and handles on what it runs against.
#[derive(Debug)]
pub struct Stack {
    /// Redis.
    pub redis_url: String,
    /// The test's database.
    pub database: TestDatabase,
    /// The test's Redis names.
    pub keys: Keys,
    worker_args: Vec<String>,
    /// Workers started so far.
    pub workers: Vec<Running>,
    vote: Option<Running>,
    result: Option<Running>,
    edge: Option<Running>,
}

impl Stack {
    /// A builder with the defaults: shared servers, one worker.
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    /// The edge's address: where browsers connect.
    pub fn edge(&self) -> SocketAddr {
        self.edge.as_ref().expect("edge started").addr
    }

    /// The vote service's address.
    pub fn vote(&self) -> SocketAddr {
        self.vote.as_ref().expect("vote started").addr
    }

    /// The result service's address.
    pub fn result(&self) -> SocketAddr {
        self.result.as_ref().expect("result started").addr
    }

    /// The edge's admin port (`/metrics`).
    pub fn edge_admin(&self) -> SocketAddr {
        self.edge.as_ref().expect("edge started").admin
    }

    /// The vote service's admin port.
    pub fn vote_admin(&self) -> SocketAddr {
        self.vote.as_ref().expect("vote started").admin
    }

    /// The result service's admin port.
    pub fn result_admin(&self) -> SocketAddr {
        self.result.as_ref().expect("result started").admin
    }

    /// The admin ports of the workers running now.
    pub fn worker_admins(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|worker| worker.admin).collect()
    }

    /// Every admin port by service (`edge`, `vote`, `result`, `worker`), workers included.
    pub fn admin_ports(&self) -> Vec<(&'static str, SocketAddr)> {
        let mut ports = vec![
            ("edge", self.edge_admin()),
            ("vote", self.vote_admin()),
            ("result", self.result_admin()),
        ];
        ports.extend(
            self.worker_admins()
                .into_iter()
                .map(|admin| ("worker", admin)),
        );
        ports
    }

    /// Stops the vote service gracefully; returns its result.
    pub async fn stop_vote(&mut self) -> Result<(), String> {
        self.vote.take().expect("vote running").stop().await
    }

    /// Starts another worker with extra flags.
    pub async fn start_worker(&self, extra: &[&str]) -> Running {
        let mut args = vec![
            "tally-worker".to_owned(),
            "--redis-url".into(),
            self.redis_url.clone(),
            "--redis-key-prefix".into(),
            self.keys.prefix().to_owned(),
            "--database-url".into(),
            self.database.worker_url(),
            "--block".into(),
            "100ms".into(),
            "--housekeeping-interval".into(),
            "200ms".into(),
        ];
        args.extend(self.worker_args.iter().cloned());
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let config = tally_worker::Config::try_parse_from(args).expect("worker config");
        Running::spawn(|listener, stopped| tally_worker::run(listener, config, until(stopped)))
            .await
    }

    async fn start_vote(&self, extra: &[String]) -> Running {
        let mut args = vec![
            "tally-vote".to_owned(),
            "--redis-url".into(),
            self.redis_url.clone(),
            "--redis-key-prefix".into(),
            self.keys.prefix().to_owned(),
            "--cookie-key".into(),
            TEST_COOKIE_KEY.into(),
            "--replica-name".into(),
            "vote-test".into(),
        ];
        // The kit's Redis keeps no files; tests of durability ask for more.
        if !extra.iter().any(|arg| arg == "--durability") {
            args.extend(["--durability".into(), "written".into()]);
        }
        args.extend(extra.iter().cloned());
        let config = tally_vote::Config::try_parse_from(args).expect("vote config");
        Running::spawn(|listener, stopped| tally_vote::run(listener, config, until(stopped))).await
    }

    async fn start_result(&self) -> Running {
        let config = tally_result::Config::try_parse_from([
            "tally-result",
            "--redis-url",
            &self.redis_url,
            "--redis-key-prefix",
            self.keys.prefix(),
            "--database-url",
            &self.database.reader_url(),
        ])
        .expect("result config");
        Running::spawn(|listener, stopped| tally_result::run(listener, config, until(stopped)))
            .await
    }

    async fn start_edge(&self, vote: SocketAddr, result: SocketAddr) -> Running {
        let www = concat!(env!("CARGO_MANIFEST_DIR"), "/../www");
        let config = tally_edge::Config::try_parse_from([
            "tally-edge",
            "--vote-upstreams",
            &vote.to_string(),
            "--result-upstreams",
            &result.to_string(),
            "--www-dir",
            www,
            // Every test voter comes from 127.0.0.1 and votes as fast as it can; the
            // limits are tested in edge/.
            "--rate-limit=off",
            "--voter-rate-limit=off",
            "--create-rate-limit=off",
            "--new-voter-rate-limit=off",
            "--cookie-key",
            TEST_COOKIE_KEY,
        ])
        .expect("edge config");
        Running::spawn(|listener, stopped| tally_edge::run(listener, config, until(stopped))).await
    }

    /// The stack's Redis key names (a prefix of its own).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A Redis connection.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis_url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis connection")
    }

    /// A Postgres connection as the owner of the test database.
    pub async fn postgres(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.database.worker_url(), tokio_postgres::NoTls)
                .await
                .expect("postgres connection");
        tokio::spawn(connection);
        client
    }

    async fn wait_for_default_poll(&self) {
        let key = self.keys.poll_definition(tally_model::DEFAULT_POLL_ID);
        eventually(
            WAIT,
            "the worker writes the default poll's definition",
            || async {
                let exists: bool = redis::cmd("EXISTS")
                    .arg(&key)
                    .query_async(&mut self.redis().await)
                    .await
                    .ok()?;
                exists.then_some(())
            },
        )
        .await;
    }

    /// Entries in the stream that no worker has acknowledged yet (pending + undelivered).
    pub async fn backlog(&self) -> Option<u64> {
        let mut redis = self.redis().await;
        let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(self.keys.vote_stream())
            .query_async(&mut redis)
            .await
            .ok()?;
        let group = groups.into_iter().find(|group| {
            matches!(group.get("name"), Some(redis::Value::BulkString(name)) if name == CONSUMER_GROUP.as_bytes())
        })?;
        let number = |field: &str| match group.get(field) {
            Some(redis::Value::Int(n)) => Some(*n as u64),
            _ => None,
        };
        Some(number("pending")? + number("lag")?)
    }

    /// Waits until every entry in the stream has been applied and acknowledged.
    pub async fn wait_drained(&self) {
        eventually(WAIT, "the workers drain the vote stream", || async {
            (self.backlog().await? == 0).then_some(())
        })
        .await;
    }

    /// The poll's counts as the tallies table keeps them.
    pub async fn tallies(&self, poll: &str) -> BTreeMap<String, i64> {
        self.postgres()
            .await
            .query(
                "SELECT option_id, votes FROM tallies WHERE poll_id = $1",
                &[&poll],
            )
            .await
            .expect("tallies")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    /// The ballots of `poll` once the stream is drained: one per voter.
    pub async fn ballot_count(&self, poll: &str) -> i64 {
        self.wait_drained().await;
        self.postgres()
            .await
            .query_one("SELECT count(*) FROM ballots WHERE poll_id = $1", &[&poll])
            .await
            .expect("count")
            .get(0)
    }

    /// The poll's counts recounted from the ballots table (options with no vote absent).
    pub async fn recount(&self, poll: &str) -> BTreeMap<String, i64> {
        self.postgres()
            .await
            .query(
                "SELECT option, count(*) FROM ballots, unnest(options) AS option
                  WHERE poll_id = $1 GROUP BY option",
                &[&poll],
            )
            .await
            .expect("recount")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }
}
