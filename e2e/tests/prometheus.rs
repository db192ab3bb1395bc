//! The observability profile against the real services: a real Prometheus (Debian's
//! binary) scrapes the admin ports of a whole in-process Tally, loads the repository's
//! alert rules, and answers the Grafana dashboard's queries after real votes, live
//! viewers and result reads; every metric the dashboard and the rules name is one the
//! services really expose; the label sets the dashboard splits by are scraped at 0
//! before any traffic, so `increase()` counts the first event of each.

#![allow(clippy::unwrap_used)]

#[path = "prometheus/names.rs"]
mod names;
#[path = "prometheus/server.rs"]
mod server;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use http::StatusCode;
use server::{repo_file, Prometheus, Sample};
use tally_e2e::{Client, Stack};
use tally_runtime::handler::Handler;
use tally_testkit::eventually;

/// Voters in the test, one vote each.
const VOTERS: usize = 20;

/// Long enough for a few scrapes and rule evaluations (one a second) on a loaded machine.
const WAIT: Duration = Duration::from_secs(30);

/// What Grafana puts for its variables in the dashboard's queries; the rate window spans
/// many of the test's one-second scrapes, so the votes stay in it while the test asserts.
const GRAFANA_VARIABLES: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$__interval", "1s"),
    ("$__range", "5m"),
];

/// Metrics the dashboard and the rules may name that no Tally service exposes: `up`
/// (Prometheus's own, per target) and those of the profile's Redis and Postgres exporters.
const NOT_FROM_THE_SERVICES: &[&str] = &["up", "redis_up", "pg_up"];

/// The dashboard's panels that must show data after the test's traffic: those the issue
/// asks for (votes/s, queue depth and lag, latency per route, errors, WebSocket clients,
/// healthy replicas, cache hit ratio).
const PANELS_WITH_DATA: &[&str] = &[
    "Votes per second",
    "Votes accepted",
    "Error ratio (5xx) per service",
    "Requests per second by service and status",
    "p50 latency per route",
    "p99 latency per route",
    "Queue depth",
    "Worker lag",
    "Entries applied per second",
    "Healthy upstream replicas (edge's view)",
    "Replicas up (scraped)",
    "WebSocket clients",
    "Result cache hit ratio",
];

const DASHBOARD: &str = "deploy/observability/grafana/dashboards/tally.json";
const RULES: &str = "deploy/observability/prometheus/rules/tally.rules.yml";

/// The admin addresses of the stack's services, by job name (as in prometheus.yml).
fn admin_targets(stack: &Stack) -> Vec<(&'static str, Vec<SocketAddr>)> {
    vec![
        ("edge", vec![stack.edge_admin()]),
        ("vote", vec![stack.vote_admin()]),
        ("result", vec![stack.result_admin()]),
        ("worker", stack.worker_admins()),
    ]
}

/// Every Prometheus expression of the dashboard, with Grafana's variables replaced.
fn dashboard_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_file(DASHBOARD)).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut queries = Vec::new();
    let mut panels: Vec<serde_json::Value> = dashboard["panels"].as_array().cloned().unwrap();
    while let Some(panel) = panels.pop() {
        panels.extend(panel["panels"].as_array().cloned().unwrap_or_default());
        for target in panel["targets"].as_array().into_iter().flatten() {
            let source = if target["datasource"].is_object() {
                &target["datasource"]
            } else {
                &panel["datasource"]
            };
            if source["type"] != "prometheus" {
                continue;
            }
            let mut expr = target["expr"].as_str().unwrap().to_owned();
            for (variable, value) in GRAFANA_VARIABLES {
                expr = expr.replace(variable, value);
            }
            queries.push((panel["title"].as_str().unwrap_or("?").to_owned(), expr));
        }
    }
    assert!(
        queries.len() >= 20,
        "the dashboard has {} queries",
        queries.len()
    );
    queries
}

/// The `expr` of every rule in the rules file (a line-based read: one `expr:` a rule,
/// on its line or as the block below it).
fn rule_expressions() -> Vec<String> {
    let text = std::fs::read_to_string(repo_file(RULES)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut exprs = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if rest == "|" || rest == ">" {
            let indent = line.len() - line.trim_start().len();
            let block: Vec<&str> = lines[index + 1..]
                .iter()
                .take_while(|next| next.len() - next.trim_start().len() > indent)
                .map(|next| next.trim())
                .collect();
            exprs.push(block.join(" "));
        } else {
            exprs.push(rest.to_owned());
        }
    }
    exprs
}

/// The value of the sample whose `label` is `value`.
fn value_of(samples: &[Sample], label: &str, value: &str) -> Option<f64> {
    samples
        .iter()
        .find(|sample| sample.labels.get(label).map(String::as_str) == Some(value))
        .map(|sample| sample.value)
}

/// Waits until `expr` gives one sample (no labels) equal to `expected`.
async fn eventually_equals(prometheus: &Prometheus, expr: &str, expected: f64) {
    let what = format!("{expr} == {expected}");
    eventually(WAIT, &what, || async {
        let samples = prometheus.query(expr).await.ok()?;
        (samples.len() == 1 && samples[0].value == expected).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_service_and_answers_the_dashboards_queries() {
    let stack = Stack::builder().start().await;
    let targets = admin_targets(&stack);
    let target_count = targets.iter().map(|(_, addrs)| addrs.len()).sum();
    let prometheus = Prometheus::start(&targets, &[repo_file(RULES)]).await;
    prometheus.wait_targets_up(target_count).await;

    // Before any traffic: every series of a fixed label set is scraped, at 0 (the health
    // checks' routes aside: the edge and the stack's start-up ask them).
    let workers = stack.worker_admins().len();
    for (expr, series) in [
        (
            "tally_votes_rejected_total",
            tally_vote::metrics::REASONS.len(),
        ),
        (
            "tally_polls_commands_total",
            tally_vote::metrics::COMMANDS.len(),
        ),
        (
            "tally_worker_entries_applied_total",
            tally_worker::metrics::KINDS.len() * workers,
        ),
        ("tally_edge_upstream_retries_total", 2),
        ("tally_edge_upstream_duration_seconds_count", 2),
        (
            r#"http_request_duration_seconds_count{job="edge",route!~"healthz|readyz"}"#,
            <tally_edge::service::EdgeService as Handler>::ROUTES.len(),
        ),
        (
            r#"http_request_duration_seconds_count{job="vote",route!~"healthz|readyz"}"#,
            <tally_vote::service::VoteService as Handler>::ROUTES.len(),
        ),
        (
            r#"http_request_duration_seconds_count{job="result",route!~"healthz|readyz"}"#,
            <tally_result::service::ResultService as Handler>::ROUTES.len(),
        ),
    ] {
        let what = format!("{series} series of {expr}, each at 0");
        eventually(WAIT, &what, || async {
            let samples = prometheus.query(expr).await.ok()?;
            let zero = samples.iter().all(|sample| sample.value == 0.0);
            (samples.len() == series && zero).then_some(())
        })
        .await;
    }

    // Traffic: votes from distinct voters, one refused, a poll created, result reads, a
    // live viewer. One vote first, scraped before the others: a labelled series (the
    // vote route's requests) starts at its first event, and rate() sees the increase
    // only from a later scrape on.
    let vote = || async {
        let reply = Client::new(stack.edge()).vote_json("default", "a").await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    };
    vote().await;
    eventually_equals(&prometheus, "sum(tally_votes_accepted_total)", 1.0).await;
    eventually(WAIT, "the vote route's requests scraped", || async {
        let samples = prometheus
            .query(r#"count by (job) (http_requests_total{job=~"edge|vote"})"#)
            .await
            .ok()?;
        (samples.len() == 2).then_some(())
    })
    .await;
    for _ in 1..VOTERS {
        vote().await;
    }
    let refused = Client::new(stack.edge())
        .vote_json("default", "no-such-option")
        .await;
    assert!(refused.status.is_client_error(), "{:?}", refused.status);
    let creator = Client::new(stack.edge());
    let poll = serde_json::json!({"question": "Metrics?", "options": ["Yes", "No"]});
    let created = creator
        .send(
            http::Method::POST,
            "/polls",
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            poll.to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{:?}", created.body);
    let reader = Client::new(stack.edge());
    for _ in 0..5 {
        assert_eq!(reader.get("/results").await.status, StatusCode::OK);
    }
    let url = format!("ws://{}/live/default", stack.edge());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let _snapshot = socket.next().await.unwrap().unwrap();
    stack.wait_drained().await;
    // Every target scraped twice after all that: instant queries see the end state, and
    // rates have two samples of every series, those born during the traffic included.
    for _ in 0..2 {
        prometheus.wait_scraped_since(SystemTime::now()).await;
    }

    // The names the dashboard and the rules use are all exposed by the services. After
    // the traffic: a labelled family (rejected votes by reason, say) is exposed from its
    // first event on.
    let mut exposed: BTreeSet<String> = NOT_FROM_THE_SERVICES
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    for (_, addrs) in &targets {
        for addr in addrs {
            let reply = Client::new(*addr).get("/metrics").await;
            assert_eq!(reply.status, StatusCode::OK);
            exposed.extend(names::exposed(&String::from_utf8_lossy(&reply.body)));
        }
    }
    let queries = dashboard_queries();
    for (title, expr) in &queries {
        let unknown: Vec<String> = names::selected(expr)
            .difference(&exposed)
            .cloned()
            .collect();
        assert!(
            unknown.is_empty(),
            "panel {title:?} names {unknown:?}, which no service exposes: {expr}"
        );
    }
    for expr in rule_expressions() {
        let unknown: Vec<String> = names::selected(&expr)
            .difference(&exposed)
            .cloned()
            .collect();
        assert!(
            unknown.is_empty(),
            "alert rule names {unknown:?}, which no service exposes: {expr}"
        );
    }

    // The dashboard's key queries give the expected values.
    eventually_equals(
        &prometheus,
        "sum(tally_votes_accepted_total)",
        VOTERS as f64,
    )
    .await;
    eventually_equals(
        &prometheus,
        r#"sum(tally_worker_entries_applied_total{kind="vote"})"#,
        VOTERS as f64,
    )
    .await;
    eventually_equals(&prometheus, "max(tally_worker_lag_seconds)", 0.0).await;
    eventually_equals(&prometheus, "sum(tally_live_clients)", 1.0).await;
    let rejected = prometheus
        .query("sum by (reason) (tally_votes_rejected_total)")
        .await
        .unwrap();
    assert_eq!(
        value_of(&rejected, "reason", "unknown_option"),
        Some(1.0),
        "{rejected:?}"
    );
    // The first event of a labelled series is counted: it rose from a scraped 0.
    for first in [
        r#"sum(increase(tally_votes_rejected_total{reason="unknown_option"}[10m]))"#,
        r#"sum(increase(tally_polls_commands_total{command="create"}[10m]))"#,
        r#"sum(increase(tally_worker_entries_applied_total{kind="create"}[10m]))"#,
    ] {
        let samples = prometheus.query(first).await.unwrap();
        assert!(
            samples.len() == 1 && samples[0].value > 0.0,
            "{first}: {samples:?}"
        );
    }
    let votes_per_second = prometheus
        .query("sum(rate(tally_votes_accepted_total[1m]))")
        .await
        .unwrap();
    assert!(votes_per_second[0].value > 0.0, "{votes_per_second:?}");
    let healthy = prometheus
        .query("max by (upstream) (tally_edge_upstream_healthy_replicas)")
        .await
        .unwrap();
    assert_eq!(
        value_of(&healthy, "upstream", "vote"),
        Some(1.0),
        "{healthy:?}"
    );
    assert_eq!(
        value_of(&healthy, "upstream", "result"),
        Some(1.0),
        "{healthy:?}"
    );
    let up = prometheus
        .query(r#"sum by (job) (up{job=~"edge|vote|result|worker"})"#)
        .await
        .unwrap();
    for (job, addrs) in &targets {
        assert_eq!(
            value_of(&up, "job", job),
            Some(addrs.len() as f64),
            "{up:?}"
        );
    }
    // The error ratio panel: 0 for every service that answered (no 5xx), rather than
    // no data; NaN (0/0) for one that answered nothing in the window.
    let (_, ratio) = queries
        .iter()
        .find(|(title, _)| title == "Error ratio (5xx) per service")
        .unwrap();
    let errors = prometheus.query(ratio).await.unwrap();
    for job in ["edge", "vote"] {
        assert_eq!(value_of(&errors, "job", job), Some(0.0), "{errors:?}");
    }
    assert!(
        errors
            .iter()
            .all(|sample| sample.value.is_nan() || sample.value == 0.0),
        "5xx seen: {errors:?}"
    );
    // p99 per route: the vote route of the edge and of the vote service have one.
    eventually(WAIT, "a p99 for the vote route of the edge and the vote service", || async {
        let p99 = prometheus
            .query("histogram_quantile(0.99, sum by (job, route, le) (rate(http_request_duration_seconds_bucket[1m])))")
            .await
            .ok()?;
        let has = |job: &str| {
            p99.iter().any(|s| {
                s.labels["job"] == job
                    && s.labels["route"] == "vote"
                    && s.value.is_finite()
                    && s.value > 0.0
            })
        };
        (has("edge") && has("vote")).then_some(())
    })
    .await;

    // Every dashboard query is accepted by Prometheus, and the panels the issue names
    // show data.
    let mut with_data = BTreeSet::new();
    for (title, expr) in &queries {
        let samples = prometheus.query(expr).await;
        assert!(samples.is_ok(), "panel {title:?}: {expr}: {samples:?}");
        if samples.is_ok_and(|samples| !samples.is_empty()) {
            with_data.insert(title.as_str());
        }
    }
    for title in PANELS_WITH_DATA {
        assert!(with_data.contains(title), "panel {title:?} shows nothing");
    }
    eventually_equals(
        &prometheus,
        "sum(tally_result_cache_hits_total) + sum(tally_result_cache_misses_total) >= bool 5",
        1.0,
    )
    .await;

    // The alert rules load and evaluate; none about the services fires on a healthy stack.
    let rules = prometheus.rules().await;
    assert!(rules.len() >= 9, "{rules:?}");
    for (name, health, state) in &rules {
        assert_ne!(health, "err", "rule {name} fails to evaluate");
        if !["TallyRedisDown", "TallyPostgresDown"].contains(&name.as_str()) {
            assert_eq!(state, "inactive", "{name} is {state} on a healthy stack");
        }
    }

    // The live viewer leaves: the gauge follows.
    socket.close(None).await.unwrap();
    eventually_equals(&prometheus, "sum(tally_live_clients)", 0.0).await;
}
