//! The JSON log lines over real sockets: what a handler logs while answering, and the
//! serve loop's line for a failed request, carry the request id (the one the client or
//! the edge sent in `x-request-id`) under `span.request_id`, the field the observability
//! profile's Alloy ships to Loki; every line is one JSON object.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Response, StatusCode};
use tally_runtime::logging::json_lines;
use tally_runtime::{error_body, full, serve, Body, Handler, Request, RequestContext};
use tally_testkit::CapturedLog;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing_subscriber::EnvFilter;

/// The log lines `captured` holds, each one JSON object.
fn lines(captured: &CapturedLog) -> Vec<serde_json::Value> {
    captured
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

/// `/fail` answers 503 (the serve loop logs it); anything else logs a line and answers.
struct TestHandler;

impl Handler for TestHandler {
    async fn handle(self: Arc<Self>, request: Request, _context: RequestContext) -> Response<Body> {
        if request.uri().path() == "/fail" {
            return error_body(StatusCode::SERVICE_UNAVAILABLE, "queue unavailable");
        }
        tracing::info!(answer = "yes", "handled");
        Response::new(full("yes"))
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        Ok(())
    }
}

/// `GET path` with `x-request-id: id`; the status code.
async fn get_with_id(address: SocketAddr, path: &str, id: &str) -> u16 {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: tally\r\nx-request-id: {id}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.contains(&format!("x-request-id: {id}")), "{answer}");
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

// One thread: the serve loop's tasks run where the test's default subscriber is set.
#[tokio::test(flavor = "current_thread")]
async fn lines_are_json_with_the_request_id_of_the_request_answered() {
    let captured = CapturedLog::default();
    let writer = captured.clone();
    let subscriber = json_lines(EnvFilter::new("info"), move || writer.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        Default::default(),
        Arc::new(TestHandler),
        async {
            let _ = stopped.await;
        },
    ));

    assert_eq!(get_with_id(address, "/ok", "trace-ok-1").await, 200);
    assert_eq!(get_with_id(address, "/fail", "trace-fail-2").await, 503);
    let _ = stop.send(());
    server.await.unwrap();

    let lines = lines(&captured);
    let with_message = |message: &str| {
        lines
            .iter()
            .find(|line| line["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no line {message:?} in {lines:#?}"))
            .clone()
    };
    let handled = with_message("handled");
    assert_eq!(handled["level"], "INFO");
    assert_eq!(handled["fields"]["answer"], "yes");
    assert_eq!(handled["span"]["request_id"], "trace-ok-1", "{handled}");
    let failed = with_message("request failed");
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["fields"]["status"], 503);
    assert_eq!(failed["fields"]["method"], "GET");
    assert_eq!(failed["fields"]["path"], "/fail");
    assert_eq!(failed["span"]["request_id"], "trace-fail-2", "{failed}");
    assert!(
        lines.iter().all(|line| line["timestamp"].is_string()),
        "{lines:#?}"
    );
}
