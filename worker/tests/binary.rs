//! The real `tally-worker` binary: bad configuration exits 64, and SIGTERM in the middle
//! of a stream finishes the batch in hand, acknowledges what it committed and exits 0,
//! leaving nothing pending; a worker started afterwards counts the rest exactly once.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tally_model::keys::CONSUMER_GROUP;
use tally_model::{Keys, VoteEntry};
use tally_testkit::{
    eventually, shared_postgres, shared_redis, unique_prefix, RedisServer, TestDatabase,
};

const BINARY: &str = env!("CARGO_BIN_EXE_tally-worker");
const VOTES: usize = 3_000;
const WAIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_worker(database: &TestDatabase, keys: &Keys) -> Child {
    start_worker_on(&shared_redis().url(), database, keys)
}

fn start_worker_on(redis_url: &str, database: &TestDatabase, keys: &Keys) -> Child {
    Command::new(BINARY)
        .env("WORKER_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("WORKER_ADMIN_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("SHUTDOWN_GRACE", "1s")
        .env("REDIS_URL", redis_url)
        .env("REDIS_KEY_PREFIX", keys.prefix())
        .env("DATABASE_URL", database.worker_url())
        .env("WORKER_BATCH_SIZE", "50")
        .env("WORKER_CLAIM_IDLE", "60s")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the worker has prepared the database and written the default poll's
/// definition, which it does just before it starts consuming.
async fn wait_until_consuming(redis: &redis::aio::MultiplexedConnection, keys: &Keys) {
    eventually(
        WAIT,
        "the worker prepares the database and starts consuming",
        || {
            let mut redis = redis.clone();
            let key = keys.poll_definition("default");
            async move {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query_async::<bool>(&mut redis)
                    .await
                    .ok()?
                    .then_some(())
            }
        },
    )
    .await;
}

#[test]
fn a_bad_value_exits_64_naming_the_variable() {
    for (variable, value) in [
        ("WORKER_BATCH_SIZE", "0"),
        ("DATABASE_URL", "mysql://x"),
        ("WORKER_CLAIM_IDLE", "soon"),
        ("WORKER_ADMIN_LISTEN", "nowhere"),
    ] {
        let output = Command::new(BINARY).env(variable, value).output().unwrap();
        assert_eq!(output.status.code(), Some(64), "{variable}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(variable), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_acknowledges_what_it_committed_and_loses_nothing() {
    let database = shared_postgres().fresh_database().await;
    let keys = Keys::new(unique_prefix());
    let mut redis = redis::Client::open(shared_redis().url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut worker = start_worker(&database, &keys);
    wait_until_consuming(&redis, &keys).await;

    let mut pipe = redis::pipe();
    for index in 0..VOTES {
        let entry = VoteEntry {
            vote_id: format!("v{index}"),
            poll: "default".into(),
            options: vec![if index % 4 == 0 { "b" } else { "a" }.into()],
            voter: format!("voter-{index}"),
            at_ms: 1,
            words: false,
        };
        let mut cmd = redis::cmd("XADD");
        cmd.arg(keys.vote_stream()).arg("*");
        for (field, value) in entry.to_fields() {
            cmd.arg(field).arg(value);
        }
        pipe.add_command(cmd).ignore();
    }
    let _: () = pipe.query_async(&mut redis).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap()
        .success());
    let exit = tokio::task::spawn_blocking(move || worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0), "graceful exit");

    let pending: redis::Value = redis::cmd("XPENDING")
        .arg(keys.vote_stream())
        .arg(CONSUMER_GROUP)
        .query_async(&mut redis)
        .await
        .unwrap();
    let pending_count = match pending {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n,
            _ => -1,
        },
        _ => -1,
    };
    assert_eq!(
        pending_count, 0,
        "everything the worker took was committed and acknowledged"
    );

    let (client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let applied: i64 = client
        .query_one("SELECT count(*) FROM ballots", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        applied > 0 && (applied as usize) < VOTES,
        "stopped mid-stream after {applied} ballots"
    );

    let mut second = start_worker(&database, &keys);
    eventually(WAIT, "a new worker counts the rest", || {
        let client = &client;
        async move {
            let done: i64 = client
                .query_one("SELECT count(*) FROM ballots", &[])
                .await
                .ok()?
                .get(0);
            (done as usize == VOTES).then_some(())
        }
    })
    .await;
    let tallies: Vec<(String, i64)> = client
        .query(
            "SELECT option_id, votes FROM tallies ORDER BY option_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        tallies,
        [
            ("a".to_owned(), (VOTES - VOTES / 4) as i64),
            ("b".to_owned(), (VOTES / 4) as i64)
        ]
    );
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_redis_is_down_exits_within_the_grace_period() {
    let redis_server = RedisServer::start();
    let database = shared_postgres().fresh_database().await;
    let keys = Keys::new(unique_prefix());
    let mut worker = start_worker_on(&redis_server.url(), &database, &keys);
    let redis = redis::Client::open(redis_server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    wait_until_consuming(&redis, &keys).await;
    redis_server.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = std::time::Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap()
        .success());
    let exit = tokio::task::spawn_blocking(move || worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "exited {:?} after SIGTERM; the grace is 1 s",
        signalled.elapsed()
    );
}
