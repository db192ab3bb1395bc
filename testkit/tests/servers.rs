//! Integration tests of the kit itself: real redis-server and PostgreSQL servers.

use std::time::Duration;

use tally_testkit::{
    eventually, shared_postgres, shared_redis, unique_prefix, PostgresServer, RedisServer,
};
use tokio_postgres::{Client, NoTls};

/// Upper bound for a single client operation against a local server in these tests.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

async fn redis_connection(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    client.get_multiplexed_async_connection().await
}

async fn ping(url: &str) -> redis::RedisResult<String> {
    let mut connection = redis_connection(url).await?;
    redis::cmd("PING").query_async(&mut connection).await
}

async fn pg_connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ignored = connection.await;
    });
    Ok(client)
}

#[tokio::test]
async fn dedicated_redis_stops_and_restarts_on_the_same_port() {
    let server = RedisServer::start();
    let port = server.port();
    assert_eq!(server.url(), format!("redis://127.0.0.1:{port}/"));
    assert_eq!(ping(&server.url()).await.expect("PING"), "PONG");

    let key = format!("{}k", unique_prefix());
    let mut connection = redis_connection(&server.url()).await.expect("connect");
    let () = redis::cmd("SET")
        .arg(&key)
        .arg("v")
        .query_async(&mut connection)
        .await
        .expect("SET");

    server.stop();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port must be closed after stop"
    );
    let after_stop = tokio::time::timeout(CLIENT_TIMEOUT, ping(&server.url()))
        .await
        .expect("a refused connection fails fast");
    assert!(after_stop.is_err(), "PING after stop must fail");

    server.restart();
    assert_eq!(server.port(), port);
    assert_eq!(
        ping(&server.url()).await.expect("PING after restart"),
        "PONG"
    );
    let mut connection = redis_connection(&server.url()).await.expect("reconnect");
    let value: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .expect("GET");
    assert_eq!(value, None, "no persistence: data is gone after a crash");

    server.stop();
    server.stop(); // stopping a stopped server is a no-op
    server.restart();
    assert_eq!(ping(&server.url()).await.expect("PING"), "PONG");
}

#[tokio::test]
async fn redis_restart_waits_for_its_port_to_be_released() {
    let server = RedisServer::start();
    server.stop();
    let squatter =
        std::net::TcpListener::bind(("127.0.0.1", server.port())).expect("take the port");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        drop(squatter);
    });
    server.restart();
    release.join().expect("releasing thread");
    assert_eq!(ping(&server.url()).await.expect("PING"), "PONG");
}

#[tokio::test]
async fn postgres_restart_waits_for_its_port_to_be_released() {
    let server = PostgresServer::start();
    server.stop();
    let squatter =
        std::net::TcpListener::bind(("127.0.0.1", server.port())).expect("take the port");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        drop(squatter);
    });
    server.restart();
    release.join().expect("releasing thread");
    pg_connect(&server.superuser_url("postgres"))
        .await
        .expect("connect after restart");
}

#[tokio::test]
async fn dropping_a_dedicated_redis_kills_it() {
    let server = RedisServer::start();
    let port = server.port();
    drop(server);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
async fn shared_redis_is_one_server() {
    let first = shared_redis();
    let second = shared_redis();
    assert!(std::ptr::eq(first, second));
    assert_eq!(ping(&first.url()).await.expect("PING"), "PONG");
}

#[tokio::test]
async fn dedicated_postgres_keeps_data_across_a_crash() {
    let server = PostgresServer::start();
    let port = server.port();
    assert_eq!(
        server.superuser_url("postgres"),
        format!("postgres://tally_admin@127.0.0.1:{port}/postgres")
    );

    let first = server.fresh_database().await;
    let second = server.fresh_database().await;
    assert_ne!(first.name, second.name);
    assert_eq!(
        first.reader_url(),
        format!("postgres://tally_result@127.0.0.1:{port}/{}", first.name)
    );

    for (index, database) in [&first, &second].into_iter().enumerate() {
        let client = pg_connect(&database.worker_url())
            .await
            .expect("worker connect");
        let current: String = client
            .query_one("SELECT current_database()", &[])
            .await
            .expect("current_database")
            .get(0);
        assert_eq!(current, database.name);
        client
            .batch_execute("CREATE TABLE votes (id int primary key, choice text not null)")
            .await
            .expect("create table");
        let id = i32::try_from(index).expect("small index");
        client
            .execute("INSERT INTO votes VALUES ($1, 'cats')", &[&id])
            .await
            .expect("insert");
        client
            .batch_execute("GRANT SELECT ON votes TO tally_reader")
            .await
            .expect("grant to tally_reader");
    }

    let reader = pg_connect(&first.reader_url())
        .await
        .expect("reader connect");
    let (user, is_reader): (String, bool) = {
        let row = reader
            .query_one(
                "SELECT current_user::text, pg_has_role('tally_result', 'tally_reader', 'MEMBER')",
                &[],
            )
            .await
            .expect("whoami");
        (row.get(0), row.get(1))
    };
    assert_eq!(user, "tally_result");
    assert!(is_reader, "tally_result must be a member of tally_reader");
    let count: i64 = reader
        .query_one("SELECT count(*) FROM votes", &[])
        .await
        .expect("reader can read granted table")
        .get(0);
    assert_eq!(count, 1);
    drop(reader);

    server.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let after_stop = tokio::time::timeout(CLIENT_TIMEOUT, pg_connect(&first.worker_url()))
        .await
        .expect("a refused connection fails fast");
    assert!(after_stop.is_err(), "connect after stop must fail");

    server.restart();
    assert_eq!(server.port(), port);
    let client = pg_connect(&first.worker_url())
        .await
        .expect("connect after restart");
    let choice: String = client
        .query_one("SELECT choice FROM votes WHERE id = 0", &[])
        .await
        .expect("data survives the restart")
        .get(0);
    assert_eq!(choice, "cats");
    let reader = pg_connect(&second.reader_url())
        .await
        .expect("reader after restart");
    reader
        .query_one("SELECT count(*) FROM votes", &[])
        .await
        .expect("second database survives too");
}

#[tokio::test]
async fn dropping_a_dedicated_postgres_stops_it() {
    let server = PostgresServer::start();
    let port = server.port();
    drop(server);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
async fn shared_postgres_hands_out_fresh_databases() {
    let server = shared_postgres();
    assert!(std::ptr::eq(server, shared_postgres()));
    let database = server.fresh_database().await;
    let client = pg_connect(&database.worker_url()).await.expect("connect");
    let one: i32 = client
        .query_one("SELECT 1", &[])
        .await
        .expect("select")
        .get(0);
    assert_eq!(one, 1);
}

#[test]
fn unique_prefixes_differ() {
    let first = unique_prefix();
    let second = unique_prefix();
    assert_ne!(first, second);
    assert!(first.starts_with(&format!("t{}_", std::process::id())));
    assert!(first.ends_with(':'));
}

#[tokio::test]
async fn eventually_returns_once_the_condition_holds() {
    let mut calls = 0;
    let value = eventually(Duration::from_secs(5), "third call", || {
        calls += 1;
        let current = calls;
        async move { (current >= 3).then_some(current) }
    })
    .await;
    assert_eq!(value, 3);
}

#[tokio::test]
#[should_panic(expected = "the impossible")]
async fn eventually_panics_with_what_after_the_timeout() {
    eventually(Duration::from_millis(100), "the impossible", || async {
        None::<()>
    })
    .await;
}
