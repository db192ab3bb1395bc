//! live-latency: holds N WebSocket clients on one poll's live feed through the edge while
//! votes arrive at a steady rate (each from a new voter, JSON `POST /vote`), then prints
//! the delay from each vote's `202` to the first update every client receives whose
//! `total` counts it (p50/p99 over all vote × client pairs), and the result service's
//! resident memory per connected client.
//!
//! Vote *i* (in order of its `202`) counts as included once `total >= before + i`: every
//! vote answered by then is in the stream, so this is exact up to the handful of votes in
//! flight at once.
//!
//!   live-latency --edge 127.0.0.1:8080 --clients 1000 --rate 1000 --seconds 10 --result-pid <pid>

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tally_benches::load::{connect_retrying, quantile, rss_kib};
use tokio::sync::{watch, Semaphore};
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message;

/// Clients opening their WebSocket at once: stays below the listen backlogs.
const CONNECTING_AT_ONCE: usize = 64;

/// How long the clients may take to see the last vote after voting stops.
const CATCH_UP: Duration = Duration::from_secs(15);

/// Votes in flight at most; beyond it the voter skips a beat (reported), so a stalled
/// service cannot make the bench open thousands of connections.
const MAX_VOTES_IN_FLIGHT: usize = 512;

#[derive(Debug, Parser)]
#[command(
    name = "live-latency",
    about = "Vote-to-live-update delay with many WebSocket clients"
)]
struct Args {
    /// The edge.
    #[arg(long, default_value = "127.0.0.1:8080")]
    edge: SocketAddr,
    /// WebSocket clients held on the poll's live feed.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Votes per second.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds of voting.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The poll voted on and watched.
    #[arg(long, default_value = "default")]
    poll: String,
    /// The option voted for.
    #[arg(long, default_value = "a")]
    option: String,
    /// The result service's process id, for its memory per client (Linux /proc).
    #[arg(long)]
    result_pid: Option<u32>,
}

/// What one client saw: when each results document arrived and its total.
type Seen = Vec<(Instant, i64)>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let before = current_total(&http, &args).await?;
    let rss_before = args.result_pid.and_then(rss_kib);

    // Clients.
    let (stop, stopped) = watch::channel(false);
    let connected = Arc::new(AtomicUsize::new(0));
    let opening = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let url = format!("ws://{}/live/{}", args.edge, args.poll);
    let mut clients = Vec::with_capacity(args.clients);
    let connect_started = Instant::now();
    for _ in 0..args.clients {
        let (url, connected, opening, stopped) = (
            url.clone(),
            connected.clone(),
            opening.clone(),
            stopped.clone(),
        );
        clients.push(tokio::spawn(async move {
            watch_feed(url, connected, opening, stopped).await
        }));
    }
    while connected.load(Ordering::Relaxed) < args.clients {
        if connect_started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "only {} of {} clients connected in 60 s",
                connected.load(Ordering::Relaxed),
                args.clients
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{} clients connected in {:.1} s",
        args.clients,
        connect_started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_connected = args.result_pid.and_then(rss_kib);

    // Votes.
    let accepted = vote(&http, &args).await;
    let expected = before + accepted.len() as i64;
    let rss_loaded = args.result_pid.and_then(rss_kib);

    // Let every client catch up with the last vote, then collect.
    let deadline = Instant::now() + CATCH_UP;
    while current_total(&http, &args).await? < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop.send(true);
    let mut seen = Vec::with_capacity(clients.len());
    for client in clients {
        seen.push(client.await?);
    }

    report(&args, before, &accepted, &seen);
    if let (Some(before), Some(connected), Some(loaded)) = (rss_before, rss_connected, rss_loaded) {
        let per_client = (connected.saturating_sub(before)) as f64 / args.clients as f64;
        println!(
            "result service RSS: {:.1} MiB idle, {:.1} MiB with {} clients, {:.1} MiB after the votes; {per_client:.1} KiB per client",
            before as f64 / 1024.0,
            connected as f64 / 1024.0,
            args.clients,
            loaded as f64 / 1024.0,
        );
    }
    Ok(())
}

/// One client: connects (retrying), then records every results document until told to stop.
async fn watch_feed(
    url: String,
    connected: Arc<AtomicUsize>,
    opening: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) -> Seen {
    let Some(mut socket) = connect_retrying(&url, &opening).await else {
        return Vec::new();
    };
    connected.fetch_add(1, Ordering::Relaxed);
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let at = Instant::now();
                    if let Some(total) = total_of(&text) {
                        seen.push((at, total));
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    eprintln!("server closed a client: {frame:?}");
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    eprintln!("client error: {error}");
                    break;
                }
                None => break,
            }
        }
    }
    let _ = socket.close(None).await;
    seen
}

/// Votes at the steady rate for the duration; returns when each accepted vote got its 202.
async fn vote(
    http: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    args: &Args,
) -> Vec<Instant> {
    let body =
        Bytes::from(serde_json::json!({"poll": args.poll, "option": args.option}).to_string());
    let uri: http::Uri = format!("http://{}/vote", args.edge)
        .parse()
        .expect("vote URI");
    let in_flight = Arc::new(Semaphore::new(MAX_VOTES_IN_FLIGHT));
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Result<Instant, String>>();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / args.rate);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let total = args.rate as u64 * args.seconds;
    let started = Instant::now();
    let mut skipped = 0u64;
    for _ in 0..total {
        ticks.tick().await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(body.clone()))
            .expect("vote request");
        let (http, sender) = (http.clone(), sender.clone());
        tokio::spawn(async move {
            let outcome = match http.request(request).await {
                Ok(response) if response.status() == StatusCode::ACCEPTED => {
                    let at = Instant::now();
                    let _ = response.into_body().collect().await;
                    Ok(at)
                }
                Ok(response) => Err(format!("status {}", response.status())),
                Err(error) => Err(error.to_string()),
            };
            drop(permit);
            let _ = sender.send(outcome);
        });
    }
    drop(sender);
    let mut accepted = Vec::new();
    let mut refused = std::collections::BTreeMap::<String, u64>::new();
    while let Some(outcome) = receiver.recv().await {
        match outcome {
            Ok(at) => accepted.push(at),
            Err(reason) => *refused.entry(reason).or_default() += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "votes: {} accepted in {elapsed:.1} s ({:.0}/s); skipped (>{MAX_VOTES_IN_FLIGHT} in flight) {skipped}; refused {refused:?}",
        accepted.len(),
        accepted.len() as f64 / elapsed
    );
    accepted.sort();
    accepted
}

/// The poll's total as `GET /results/<poll>` says.
async fn current_total(
    http: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    args: &Args,
) -> Result<i64, Box<dyn std::error::Error>> {
    let uri: http::Uri = format!("http://{}/results/{}", args.edge, args.poll).parse()?;
    let response = http
        .request(Request::get(uri).body(Full::new(Bytes::new()))?)
        .await?;
    let body = response.into_body().collect().await?.to_bytes();
    let results: serde_json::Value = serde_json::from_slice(&body)?;
    results["total"]
        .as_i64()
        .ok_or_else(|| format!("no total in {results}").into())
}

/// Prints the vote → update delays over every (vote, client) pair.
fn report(args: &Args, before: i64, accepted: &[Instant], seen: &[Seen]) {
    let mut delays = Vec::with_capacity(accepted.len() * seen.len());
    let mut missed = 0u64;
    for (index, answered) in accepted.iter().enumerate() {
        let target = before + index as i64 + 1;
        for client in seen {
            // Totals only grow along a client's documents.
            let first = client.partition_point(|(_, total)| *total < target);
            match client.get(first) {
                Some((at, _)) => {
                    delays.push(at.saturating_duration_since(*answered).as_secs_f64() * 1000.0)
                }
                None => missed += 1,
            }
        }
    }
    delays.sort_by(f64::total_cmp);
    let at = |q: f64| quantile(&delays, q);
    let updates: usize = seen.iter().map(Vec::len).sum();
    println!(
        "{} clients received {updates} documents ({:.1} per client per second of voting)",
        seen.len(),
        updates as f64 / seen.len().max(1) as f64 / args.seconds as f64
    );
    println!(
        "vote 202 -> live update delay: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} vote x client pairs, {missed} never seen)",
        at(0.50),
        at(0.90),
        at(0.99),
        delays.last().copied().unwrap_or(f64::NAN),
        delays.len()
    );
}

/// The `total` of a results frame, found without parsing the whole document (the
/// bench shares two cores with the services it measures).
fn total_of(text: &str) -> Option<i64> {
    if !text.starts_with(r#"{"type":"results""#) {
        return None;
    }
    let rest = &text[text.rfind(r#""total":"#)? + r#""total":"#.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
