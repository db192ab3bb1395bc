//! The serve loop's HTTP metrics and the admin port over real sockets: every route's
//! latency series from the start, requests counted by the handler's route label and
//! status, open connections, `/metrics` served on the admin port only, `/healthz` and the
//! service's readiness there too.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use http::{Response, StatusCode};
use tally_runtime::exposition::{get, scrape, value};
use tally_runtime::{
    error_body, full, serve, AdminServer, Body, Handler, HttpMetrics, Registry, Request,
    RequestContext, ServeConfig,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// `/known` answers 200 under the route `known`; every other path is 404 under `other`.
struct TestHandler;

impl Handler for TestHandler {
    async fn handle(self: Arc<Self>, request: Request, _context: RequestContext) -> Response<Body> {
        match request.uri().path() {
            "/known" => Response::new(full("yes")),
            _ => error_body(StatusCode::NOT_FOUND, "no such endpoint"),
        }
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        Err("test dependency down".into())
    }

    const ROUTES: &'static [&'static str] = &["known", "other"];

    fn route(&self, request: &Request) -> &'static str {
        match request.uri().path() {
            "/known" => "known",
            _ => "other",
        }
    }
}

#[tokio::test]
async fn requests_are_counted_and_served_on_the_admin_port_only() {
    let mut registry = Registry::default();
    let metrics = HttpMetrics::register(&mut registry, TestHandler::ROUTES);
    let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (public_addr, admin_addr) = (public.local_addr().unwrap(), admin.local_addr().unwrap());
    let handler = Arc::new(TestHandler);
    let admin = AdminServer::start(Some(admin), registry, handler.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let config = ServeConfig {
        http_metrics: Some(metrics),
        ..ServeConfig::default()
    };
    let server = tokio::spawn(serve(public, config, handler, async {
        let _ = stopped.await;
    }));

    // Before any request: every route's latency series, at 0.
    let fresh = scrape(admin_addr).await.unwrap();
    for route in ["known", "other", "healthz", "readyz"] {
        let series = format!("http_request_duration_seconds_count{{route=\"{route}\"}}");
        assert_eq!(value(&fresh, &series), Some(0.0), "{series} in {fresh}");
    }

    for _ in 0..3 {
        assert_eq!(get(public_addr, "/known").await.unwrap().0, 200);
    }
    assert_eq!(get(public_addr, "/nothing/42").await.unwrap().0, 404);
    assert_eq!(get(public_addr, "/healthz").await.unwrap().0, 200);
    assert_eq!(
        get(public_addr, "/metrics").await.unwrap().0,
        404,
        "never public"
    );
    let idle = TcpStream::connect(public_addr).await.unwrap();

    let page = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let page = scrape(admin_addr).await.unwrap();
            if value(&page, "http_connections_open") == Some(1.0) {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the idle connection is counted as open");
    let count = |series: &str| value(&page, series);
    assert_eq!(
        count("http_requests_total{route=\"known\",status=\"200\"}"),
        Some(3.0)
    );
    assert_eq!(
        count("http_requests_total{route=\"other\",status=\"404\"}"),
        Some(2.0)
    );
    assert_eq!(
        count("http_requests_total{route=\"healthz\",status=\"200\"}"),
        Some(1.0)
    );
    assert_eq!(
        count("http_request_duration_seconds_count{route=\"known\"}"),
        Some(3.0)
    );
    assert!(!page.contains("/nothing/42"), "no raw path as a label");

    let (status, _) = get(admin_addr, "/healthz").await.unwrap();
    assert_eq!(status, 200);
    let (status, body) = get(admin_addr, "/readyz").await.unwrap();
    assert_eq!(status, 503, "the service's readiness: {body}");
    assert_eq!(get(admin_addr, "/known").await.unwrap().0, 404);
    let page = scrape(admin_addr).await.unwrap();
    assert_eq!(
        value(&page, "http_requests_total{route=\"known\",status=\"200\"}"),
        Some(3.0),
        "admin requests are not counted"
    );

    let mut idle = idle;
    idle.shutdown().await.unwrap();
    drop(idle);
    tokio::time::timeout(Duration::from_secs(5), async {
        while value(&scrape(admin_addr).await.unwrap(), "http_connections_open") != Some(0.0) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a closed connection leaves the gauge");
    let _ = stop.send(());
    server.await.unwrap();
    admin.stop().await;
    assert!(
        get(admin_addr, "/healthz").await.is_err(),
        "admin port closed"
    );
}
