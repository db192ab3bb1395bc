//! The real `tally-vote` binary: configuration errors exit 64 with one line, `--help`
//! lists every variable, and SIGTERM under load loses no accepted vote (nor a log line).

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tally_model::{Choice, Keys, PollDefinition, PollOption};
use tally_testkit::{eventually, shared_redis, unique_prefix};

const BINARY: &str = env!("CARGO_BIN_EXE_tally-vote");
const KEY: &str = "binary-test-cookie-key-0123456789abcdef";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
fn a_bad_value_exits_64_with_one_line_naming_the_variable() {
    for (variable, value) in [
        ("VOTE_LISTEN", "nowhere"),
        ("VOTE_ADMIN_LISTEN", "nowhere"),
        ("VOTE_QUEUE_HIGH_WATER", "-5"),
        ("VOTE_COOKIE_KEY", "short"),
        ("REDIS_URL", "http://x"),
    ] {
        let output = Command::new(BINARY)
            .env(variable, value)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(64), "{variable}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "{variable}: {stderr}");
        assert!(
            lines[0].contains(variable),
            "{variable} named in {:?}",
            lines[0]
        );
    }
}

#[test]
fn an_admin_port_equal_to_the_public_port_exits_64() {
    let port = free_port();
    let output = Command::new(BINARY)
        .env("VOTE_LISTEN", format!("127.0.0.1:{port}"))
        .env("VOTE_ADMIN_LISTEN", format!("0.0.0.0:{port}"))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("VOTE_ADMIN_LISTEN"), "{stderr}");
}

#[test]
fn the_public_cookie_key_is_refused_where_others_can_vote() {
    let key_file = std::env::temp_dir().join(format!("tally-public-key-{}", std::process::id()));
    std::fs::write(&key_file, format!("{}\n", tally_voter::DEV_COOKIE_KEY)).expect("key");
    let key_file = key_file.to_str().expect("utf-8 path").to_owned();
    let all_interfaces = format!("0.0.0.0:{}", free_port());
    let loopback = format!("127.0.0.1:{}", free_port());
    for env in [
        vec![("VOTE_LISTEN", all_interfaces.as_str())],
        vec![
            ("VOTE_LISTEN", loopback.as_str()),
            ("VOTE_COOKIE_KEY_FILE", key_file.as_str()),
            ("VOTE_PUBLISHED_ON", "203.0.113.9"),
        ],
    ] {
        let output = Command::new(BINARY)
            .envs(env.iter().copied())
            .env("VOTE_ADMIN_LISTEN", format!("127.0.0.1:{}", free_port()))
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(64), "{env:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("VOTE_COOKIE_KEY_FILE"), "{stderr}");
    }

    // Published on loopback only, or allowed explicitly, it starts (and answers /healthz).
    for env in [
        vec![("VOTE_PUBLISHED_ON", "127.0.0.1")],
        vec![("VOTE_ALLOW_PUBLIC_COOKIE_KEY", "true")],
    ] {
        let port = free_port();
        let mut child = Command::new(BINARY)
            .envs(env.iter().copied())
            .env("VOTE_LISTEN", format!("0.0.0.0:{port}"))
            .env("VOTE_ADMIN_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("VOTE_COOKIE_KEY_FILE", &key_file)
            .stderr(Stdio::null())
            .spawn()
            .expect("start tally-vote");
        let answered = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            Command::new(BINARY)
                .args(["healthcheck", "/healthz"])
                .env("VOTE_LISTEN", format!("127.0.0.1:{port}"))
                .status()
                .is_ok_and(|status| status.success())
        });
        child.kill().expect("kill by pid");
        child.wait().expect("reaped");
        assert!(answered, "started with {env:?}");
    }
    std::fs::remove_file(&key_file).expect("remove key");
}

#[test]
fn help_lists_every_variable_with_its_default() {
    let output = Command::new(BINARY).arg("--help").output().expect("run");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "VOTE_LISTEN",
        "VOTE_ADMIN_LISTEN",
        "REDIS_URL",
        "VOTE_COOKIE_KEY_FILE",
        "VOTE_ALLOW_PUBLIC_COOKIE_KEY",
        "VOTE_PUBLISHED_ON",
        "VOTE_DURABILITY",
        "VOTE_QUEUE_HIGH_WATER",
        "VOTE_MAX_BODY_BYTES",
        "HTTP_HEADER_READ_TIMEOUT",
        "SHUTDOWN_GRACE",
    ] {
        assert!(
            help.contains(&format!("env: {variable}")),
            "{variable} missing from --help"
        );
    }
    assert!(help.contains("[default: 100000]"), "defaults shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_accepted_vote() {
    let redis_url = shared_redis().url();
    let keys = Keys::new(unique_prefix());
    let client = redis::Client::open(redis_url.as_str()).expect("url");
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let poll = PollDefinition {
        id: "default".into(),
        question: "Cats vs Dogs".into(),
        choice: Choice::Single,
        open: true,
        options: vec![
            PollOption {
                id: "a".into(),
                label: "Cats".into(),
            },
            PollOption {
                id: "b".into(),
                label: "Dogs".into(),
            },
        ],
        closes_at: None,
        hide_results: false,
        admin_hash: None,
        event: None,
        blocked_words: Vec::new(),
        words: None,
        identity: Default::default(),
        voter_code_hashes: Vec::new(),
        passcode_hash: None,
    };
    let _: () = redis::cmd("SET")
        .arg(keys.poll_definition("default"))
        .arg(serde_json::to_string(&poll).expect("json"))
        .query_async(&mut redis)
        .await
        .expect("SET definition");

    let port = free_port();
    let child = Command::new(BINARY)
        .env("VOTE_LISTEN", format!("127.0.0.1:{port}"))
        .env("VOTE_ADMIN_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("REDIS_URL", &redis_url)
        .env("REDIS_KEY_PREFIX", keys.prefix())
        .env("VOTE_COOKIE_KEY", KEY)
        // The kit's Redis keeps no files.
        .env("VOTE_DURABILITY", "written")
        .env("SHUTDOWN_GRACE", "5s")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tally-vote");
    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let base = format!("http://127.0.0.1:{port}");
    eventually(
        Duration::from_secs(20),
        "tally-vote answers /healthz",
        || {
            let http = http.clone();
            let url = format!("{base}/healthz");
            async move {
                http.get(url.parse().ok()?)
                    .await
                    .ok()
                    .filter(|r| r.status() == 200)
                    .map(|_| ())
            }
        },
    )
    .await;

    let accepted = Arc::new(AtomicUsize::new(0));
    let mut voters = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, accepted, url) = (http.clone(), accepted.clone(), format!("{base}/vote"));
        voters.spawn(async move {
            loop {
                let request = http::Request::post(&url)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from_static(
                        br#"{"poll":"default","option":"a"}"#,
                    )))
                    .expect("request");
                match http.request(request).await {
                    Ok(response) if response.status() == 202 => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(response) if response.status() == 503 => {}
                    Ok(response) => panic!("unexpected {}", response.status()),
                    Err(_) => return, // the server is gone
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(output.status.code(), Some(0), "graceful exit");
    // The log thread writes in batches: what was logged up to the exit is all there.
    let log = String::from_utf8_lossy(&output.stderr);
    let messages: Vec<String> = log
        .lines()
        .map(|line| {
            let line: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            line["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for message in ["listening", "draining in-flight requests"] {
        assert!(
            messages.iter().any(|m| m == message),
            "{message:?} in {log}"
        );
    }
    let drain_ended = [
        "drained",
        "grace period over; closing the remaining connections",
    ];
    assert!(
        messages.iter().any(|m| drain_ended.contains(&m.as_str())),
        "the drain's end in {log}"
    );
    while voters.join_next().await.is_some() {}

    let accepted = accepted.load(Ordering::SeqCst);
    assert!(accepted > 0, "votes flowed before the signal");
    let length: usize = redis::cmd("XLEN")
        .arg(keys.vote_stream())
        .query_async(&mut redis)
        .await
        .expect("XLEN");
    assert_eq!(
        length, accepted,
        "every 202 is in the stream, no more and no less"
    );
}
