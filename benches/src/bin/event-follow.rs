//! event-follow: creates an event through the edge, holds N participants on its live
//! feed (`/live/e/<code>`), then has the presenter press "next" once per question and
//! prints the time from each press to every participant having the new question
//! (p50/p90/p99/max over every participant and question), and the result service's
//! resident memory per participant.
//!
//!   event-follow --edge 127.0.0.1:8080 --participants 5000 --questions 5 --result-pid <pid>

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tally_benches::load::{connect_retrying, quantile, rss_kib};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

/// Participants opening their WebSocket at once: stays below the listen backlogs.
const CONNECTING_AT_ONCE: usize = 64;

/// How long every participant may take to show a new question before the round is
/// reported as missed by those still without it.
const ROUND_TIMEOUT: Duration = Duration::from_secs(10);

/// Quiet time between two presses, so that one round's stragglers do not overlap the next.
const BETWEEN_ROUNDS: Duration = Duration::from_millis(500);

#[derive(Debug, Parser)]
#[command(
    name = "event-follow",
    about = "Presenter-to-room delay with many participants on one event"
)]
struct Args {
    /// The edge.
    #[arg(long, default_value = "127.0.0.1:8080")]
    edge: SocketAddr,
    /// Participants held on the event's live feed.
    #[arg(long, default_value_t = 5000)]
    participants: usize,
    /// Questions in the event: one press of "next" each.
    #[arg(long, default_value_t = 5)]
    questions: usize,
    /// The result service's process id, for its memory per participant (Linux /proc).
    #[arg(long)]
    result_pid: Option<u32>,
}

type Http = Client<HttpConnector, Full<Bytes>>;

/// The event made for the run.
struct Event {
    code: String,
    owner_token: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let event = create_event(&http, &args).await?;
    let rss_before = args.result_pid.and_then(rss_kib);

    // Participants: each reports the position it shows, as it changes.
    let (stop, stopped) = watch::channel(false);
    let ready = Arc::new(AtomicUsize::new(0));
    let opening = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let url = format!("ws://{}/live/e/{}", args.edge, event.code);
    let (sender, mut shown) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.participants);
    for _ in 0..args.participants {
        let (url, ready, opening, stopped, sender) = (
            url.clone(),
            ready.clone(),
            opening.clone(),
            stopped.clone(),
            sender.clone(),
        );
        tasks.push(tokio::spawn(async move {
            follow(url, ready, opening, stopped, sender).await
        }));
    }
    drop(sender);
    while ready.load(Ordering::Relaxed) < args.participants {
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "only {} of {} participants had the event's state in 120 s",
                ready.load(Ordering::Relaxed),
                args.participants
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{} participants connected and had the event's state in {:.1} s",
        args.participants,
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_connected = args.result_pid.and_then(rss_kib);

    // Rounds: press next, wait until every participant shows the new position.
    let mut delays = Vec::with_capacity(args.participants * args.questions);
    let mut missed = 0usize;
    for position in 0..args.questions {
        tokio::time::sleep(BETWEEN_ROUNDS).await;
        let pressed = Instant::now();
        press_next(&http, &args, &event).await?;
        let answered = pressed.elapsed();
        let mut arrived = 0usize;
        let mut slowest = Duration::ZERO;
        let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
        while arrived < args.participants {
            match tokio::time::timeout_at(deadline, shown.recv()).await {
                Ok(Some((seen, at))) if seen == position => {
                    arrived += 1;
                    let delay = at.saturating_duration_since(pressed);
                    slowest = slowest.max(delay);
                    delays.push(delay.as_secs_f64() * 1000.0);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        missed += args.participants - arrived;
        println!(
            "question {}: next answered in {:.1} ms; {arrived} participants showed it, the last {:.1} ms after the press",
            position + 1,
            answered.as_secs_f64() * 1000.0,
            slowest.as_secs_f64() * 1000.0
        );
    }
    let _ = stop.send(true);
    for task in tasks {
        task.await?;
    }

    delays.sort_by(f64::total_cmp);
    println!(
        "next -> participant shows the question: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} participant x question pairs, {missed} missed)",
        quantile(&delays, 0.50),
        quantile(&delays, 0.90),
        quantile(&delays, 0.99),
        delays.last().copied().unwrap_or(f64::NAN),
        delays.len()
    );
    if let (Some(before), Some(connected)) = (rss_before, rss_connected) {
        let per_participant = connected.saturating_sub(before) as f64 / args.participants as f64;
        println!(
            "result service RSS: {:.1} MiB before, {:.1} MiB with {} participants; {per_participant:.1} KiB per participant",
            before as f64 / 1024.0,
            connected as f64 / 1024.0,
            args.participants
        );
    }
    Ok(())
}

/// One participant: connects, counts as ready at its first event frame, then reports
/// each new position it is shown until told to stop.
async fn follow(
    url: String,
    ready: Arc<AtomicUsize>,
    opening: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
    shown: tokio::sync::mpsc::UnboundedSender<(usize, Instant)>,
) {
    let Some(mut socket) = connect_retrying(&url, &opening).await else {
        return;
    };
    let mut current: Option<Option<usize>> = None;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let at = Instant::now();
                    let Some(position) = position_of(&text) else { continue };
                    if current.is_none() {
                        ready.fetch_add(1, Ordering::Relaxed);
                    }
                    if current != Some(position) {
                        current = Some(position);
                        if let Some(position) = position {
                            let _ = shown.send((position, at));
                        }
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    eprintln!("server closed a participant: {frame:?}");
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    eprintln!("participant error: {error}");
                    break;
                }
                None => break,
            }
        }
    }
    let _ = socket.close(None).await;
}

/// The position shown, from an event frame (`Some(None)` before the first question);
/// `None` for other frames.
fn position_of(text: &str) -> Option<Option<usize>> {
    if !text.starts_with(r#"{"type":"event""#) {
        return None;
    }
    let frame: serde_json::Value = serde_json::from_str(text).ok()?;
    let current = &frame["event"]["current"];
    Some(
        current["position"]
            .as_u64()
            .and_then(|p| usize::try_from(p).ok()),
    )
}

async fn create_event(http: &Http, args: &Args) -> Result<Event, Box<dyn std::error::Error>> {
    let questions: Vec<serde_json::Value> = (1..=args.questions)
        .map(|n| {
            serde_json::json!({
                "question": format!("Question {n} of {}?", args.questions),
                "options": ["Yes", "No", "Maybe"],
            })
        })
        .collect();
    let body = serde_json::json!({"title": "event-follow bench", "questions": questions});
    let (status, answer) = post(http, args, "/events", None, body).await?;
    if status != StatusCode::ACCEPTED {
        return Err(format!("POST /events: {status} {answer}").into());
    }
    let text = |name: &str| {
        answer[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no {name} in {answer}"))
    };
    let event = Event {
        code: text("code")?,
        owner_token: text("owner_token")?,
    };
    // The worker applies the creation within milliseconds; wait until it is readable.
    for _ in 0..100 {
        let uri: http::Uri = format!("http://{}/events/{}", args.edge, event.code).parse()?;
        let response = http
            .request(Request::get(uri).body(Full::new(Bytes::new()))?)
            .await?;
        if response.status() == StatusCode::OK {
            return Ok(event);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("event {} never became readable", event.code).into())
}

async fn press_next(
    http: &Http,
    args: &Args,
    event: &Event,
) -> Result<(), Box<dyn std::error::Error>> {
    let path = format!("/events/{}/next", event.code);
    let body = serde_json::json!({});
    let (status, answer) = post(http, args, &path, Some(&event.owner_token), body).await?;
    if status != StatusCode::ACCEPTED {
        return Err(format!("POST {path}: {status} {answer}").into());
    }
    Ok(())
}

async fn post(
    http: &Http,
    args: &Args,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> Result<(StatusCode, serde_json::Value), Box<dyn std::error::Error>> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}{path}", args.edge))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = http
        .request(request.body(Full::new(Bytes::from(body.to_string())))?)
        .await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    let answer = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Ok((status, answer))
}
