//! The edge's metrics over real sockets, with replicas standing in for the services:
//! every route's latency and every upstream's series at 0 on a fresh start; requests by
//! route and status, per-upstream latency, healthy replicas, a retried
//! request and an ejected replica after one is killed, requests over the rate, open
//! WebSocket tunnels; all on the admin port. `/metrics` on the public port is a 404
//! that reaches no upstream.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use support::{client, wait_until, Replica, TestClient};
use tally_edge::Listeners;
use tally_runtime::exposition::{get, labelled, not_at_zero, scrape, value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Requests a client may send on the vote routes at once before it is refused.
const BURST: usize = 20;

/// Sends one request to the edge at `address`; the status it answers.
async fn send(client: &TestClient, address: SocketAddr, method: Method, path: &str) -> StatusCode {
    let body = if method == Method::POST { "vote=a" } else { "" };
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://{address}{path}"))
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}

async fn metric(admin: SocketAddr, series: &str) -> f64 {
    value(&scrape(admin).await.unwrap(), series).unwrap_or(0.0)
}

/// The edge running in-process with its admin port.
struct Running {
    address: SocketAddr,
    admin: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), tally_edge::StartError>>,
    _www: tempfile::TempDir,
}

/// Starts the edge on free ports in front of `vote` and `result`, with `extra` flags.
async fn start(vote: &[&Replica], result: &Replica, extra: &[&str]) -> Running {
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "<h1>Tally</h1>").unwrap();
    let votes: Vec<String> = vote.iter().map(|r| r.address.to_string()).collect();
    let mut args = vec![
        "tally-edge".to_owned(),
        format!("--vote-upstreams={}", votes.join(",")),
        format!("--result-upstreams={}", result.address),
        format!("--www-dir={}", www.path().display()),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let config = tally_edge::Config::try_parse_from(args).unwrap();
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (address, admin_addr) = (plain.local_addr().unwrap(), admin.local_addr().unwrap());
    let listeners = Listeners {
        plain,
        tls: None,
        admin: Some(admin),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tally_edge::run(listeners, config, async {
        let _ = stopped.await;
    }));
    Running {
        address,
        admin: admin_addr,
        stop,
        server,
        _www: www,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_upstream_is_exported_from_the_start() {
    let vote = Replica::start("vote-1").await;
    let result = Replica::start("result-1").await;
    let running = start(&[&vote], &result, &[]).await;

    let page = scrape(running.admin).await.unwrap();
    let routes = ["vote", "result", "static", "healthz", "readyz"];
    let mut series = labelled("http_request_duration_seconds_count", "route", &routes);
    let upstreams = ["vote", "result"];
    for family in [
        "tally_edge_upstream_retries_total",
        "tally_edge_upstream_ejections_total",
        "tally_edge_upstream_duration_seconds_count",
    ] {
        series.extend(labelled(family, "upstream", &upstreams));
    }
    series.extend(["tally_edge_rate_limited_total", "tally_edge_tunnels_open"].map(String::from));
    assert_eq!(not_at_zero(&page, &series), Vec::<String>::new(), "{page}");
    for healthy in labelled(
        "tally_edge_upstream_healthy_replicas",
        "upstream",
        &upstreams,
    ) {
        assert_eq!(value(&page, &healthy), Some(1.0), "{healthy} in {page}");
    }

    let _ = running.stop.send(());
    running.server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_health_retries_rate_limits_and_tunnels_are_exported() {
    let vote_1 = Replica::start("vote-1").await;
    let mut vote_2 = Replica::start("vote-2").await;
    let result = Replica::start("result-1").await;
    let rate_limit = format!("--rate-limit=1/h burst {BURST}");
    let Running {
        address,
        admin: admin_addr,
        stop,
        server,
        _www,
    } = start(
        &[&vote_1, &vote_2],
        &result,
        &[
            &rate_limit,
            "--worker-threads=2",
            // Each replica in turn, so the dead one is tried (and the request retried).
            "--balance=round-robin",
        ],
    )
    .await;
    let client = client();

    wait_until("both vote replicas count as healthy", || async {
        metric(
            admin_addr,
            "tally_edge_upstream_healthy_replicas{upstream=\"vote\"}",
        )
        .await
            == 2.0
    })
    .await;
    for _ in 0..4 {
        assert_eq!(
            send(&client, address, Method::POST, "/vote").await,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&client, address, Method::GET, "/").await,
        StatusCode::OK
    );

    // /metrics is nowhere on the public port, and no upstream is asked for it.
    let before = vote_1.received() + vote_2.received() + result.received();
    let answer = send(&client, address, Method::GET, "/metrics").await;
    assert_eq!(answer, StatusCode::NOT_FOUND);
    assert_eq!(get(address, "/metrics").await.unwrap().0, 404);
    assert_eq!(
        vote_1.received() + vote_2.received() + result.received(),
        before
    );

    // One vote replica dies: the next request to it is retried on the other, and it is
    // ejected.
    vote_2.kill().await;
    for _ in 0..4 {
        let answer = send(&client, address, Method::POST, "/vote").await;
        assert_eq!(answer, StatusCode::OK, "retried on vote-1");
    }
    wait_until("the dead replica is ejected", || async {
        metric(
            admin_addr,
            "tally_edge_upstream_healthy_replicas{upstream=\"vote\"}",
        )
        .await
            == 1.0
    })
    .await;
    let page = scrape(admin_addr).await.unwrap();
    let at = |series: &str| value(&page, series).unwrap_or(0.0);
    assert!(
        at("tally_edge_upstream_ejections_total{upstream=\"vote\"}") >= 1.0,
        "{page}"
    );
    assert!(at("tally_edge_upstream_retries_total{upstream=\"vote\"}") >= 1.0);
    assert_eq!(
        at("tally_edge_upstream_ejections_total{upstream=\"result\"}"),
        0.0
    );
    assert_eq!(
        at("tally_edge_upstream_healthy_replicas{upstream=\"result\"}"),
        1.0
    );
    assert_eq!(
        at("tally_edge_upstream_duration_seconds_count{upstream=\"vote\"}"),
        8.0
    );
    assert_eq!(
        at("http_requests_total{route=\"vote\",status=\"200\"}"),
        8.0
    );
    assert_eq!(
        at("http_requests_total{route=\"static\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        at("http_requests_total{route=\"static\",status=\"404\"}"),
        2.0
    );
    assert_eq!(at("tally_edge_rate_limited_total"), 0.0);

    // Over the burst: refused with 429 and counted.
    let mut refused = 0;
    for _ in 0..BURST {
        if send(&client, address, Method::POST, "/vote").await == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused > 0);
    assert_eq!(
        metric(admin_addr, "tally_edge_rate_limited_total").await,
        f64::from(refused)
    );
    let series = "http_requests_total{route=\"vote\",status=\"429\"}";
    assert_eq!(metric(admin_addr, series).await, f64::from(refused));

    // A WebSocket tunnel to the result service is counted while it is open.
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/live/default"))
        .await
        .unwrap();
    socket.send(Message::text("hello")).await.unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        Message::text("hello")
    );
    assert_eq!(metric(admin_addr, "tally_edge_tunnels_open").await, 1.0);
    socket.close(None).await.unwrap();
    wait_until("the closed tunnel is no longer counted", || async {
        metric(admin_addr, "tally_edge_tunnels_open").await == 0.0
    })
    .await;

    let page = scrape(admin_addr).await.unwrap();
    assert!(
        !page.contains("127.0.0.1"),
        "no replica addresses as labels"
    );
    assert!(!page.contains("/live"), "no paths as labels");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
