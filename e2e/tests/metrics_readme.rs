//! README's metrics table against what the services really export: a whole in-process
//! Tally is exercised (votes accepted and refused, a poll created, results read, a live
//! viewer), every admin port is scraped, and the table and the pages must name the same
//! metrics, with the same types and label names, in both directions. Also: before any
//! traffic every family already has its series (labelled ones at 0, so `rate()` sees
//! their first event), no public port serves `/metrics`, and no label value is a path.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::StreamExt;
use http::{Method, StatusCode};
use tally_e2e::{Client, Stack};
use tally_runtime::exposition::{get, scrape, value};
use tally_testkit::eventually;

const WAIT: Duration = Duration::from_secs(30);
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
const BEGIN: &str = "<!-- metrics:begin -->";
const END: &str = "<!-- metrics:end -->";

/// The one family whose label set is learned from traffic: a route's statuses are not
/// known in advance (its latency series, `http_request_duration_seconds`, are).
const LEARNED_FROM_TRAFFIC: &str = "http_requests";

/// What one metric is: its type and its label names (`le` of histograms left out).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Family {
    kind: String,
    labels: BTreeSet<String>,
}

/// The README table: name → type and labels.
fn readme_table() -> BTreeMap<String, Family> {
    let text = std::fs::read_to_string(README).unwrap();
    let start = text
        .find(BEGIN)
        .expect("the README marks its metrics table")
        + BEGIN.len();
    let end = text[start..].find(END).expect("the table ends") + start;
    let mut table = BTreeMap::new();
    for row in text[start..end]
        .lines()
        .filter(|line| line.starts_with("| `"))
    {
        let cells: Vec<&str> = row
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        assert!(cells.len() >= 4, "a row of four cells: {row}");
        let name = cells[0].trim_matches('`').to_owned();
        let labels = cells[2]
            .split(',')
            .map(|label| label.trim().trim_matches('`').to_owned())
            .filter(|label| !label.is_empty())
            .collect();
        let family = Family {
            kind: cells[1].to_owned(),
            labels,
        };
        assert!(
            table.insert(name.clone(), family).is_none(),
            "{name} listed twice"
        );
    }
    table
}

/// The label names and values of a sample line's `{...}` part.
fn labels_of(part: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = part;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => {
                    end = index + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        labels.push((key.trim_start_matches(',').to_owned(), value));
        rest = &after[end..];
    }
    labels
}

/// What one page exports: name (as PromQL queries it) → type and labels seen, and every
/// label value seen.
fn exported(page: &str, families: &mut BTreeMap<String, Family>, values: &mut Vec<String>) {
    let mut declared: BTreeMap<String, String> = BTreeMap::new();
    for line in page.lines() {
        if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declaration.split_once(' ').unwrap();
            declared.insert(name.to_owned(), kind.to_owned());
            let queried = match kind {
                "counter" => format!("{name}_total"),
                _ => name.to_owned(),
            };
            families.entry(queried).or_insert_with(|| Family {
                kind: kind.to_owned(),
                labels: BTreeSet::new(),
            });
        }
    }
    for line in page
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
    {
        let (series, _) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series, ""),
        };
        let family = declared
            .iter()
            .filter(|(declared, _)| {
                name.strip_prefix(declared.as_str()).is_some_and(|suffix| {
                    ["", "_total", "_bucket", "_sum", "_count", "_created"].contains(&suffix)
                })
            })
            .max_by_key(|(declared, _)| declared.len())
            .unwrap_or_else(|| panic!("{name} belongs to no declared family"));
        let queried = match family.1.as_str() {
            "counter" => format!("{}_total", family.0),
            _ => family.0.clone(),
        };
        let entry = families.get_mut(&queried).unwrap();
        for (key, value) in labels_of(labels) {
            if key != "le" {
                entry.labels.insert(key);
                values.push(value);
            }
        }
    }
}

/// The families `page` declares that have no sample yet.
fn families_without_samples(page: &str) -> Vec<String> {
    let samples: Vec<&str> = page
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .collect();
    page.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|declared| declared.split_once(' ').map(|(name, _)| name))
        .filter(|name| *name != LEARNED_FROM_TRAFFIC)
        .filter(|name| {
            !samples.iter().any(|sample| {
                let series = sample.split([' ', '{']).next().unwrap_or_default();
                series.strip_prefix(name).is_some_and(|suffix| {
                    ["", "_total", "_bucket", "_sum", "_count"].contains(&suffix)
                })
            })
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_metrics_table_is_what_the_services_export() {
    let stack = Stack::builder().start().await;
    for (service, admin) in stack.admin_ports() {
        let page = scrape(admin)
            .await
            .unwrap_or_else(|error| panic!("{service}: {error}"));
        let empty = families_without_samples(&page);
        assert!(
            empty.is_empty(),
            "{service}: families without a series before any traffic: {empty:?}\n{page}"
        );
    }
    let voter = Client::new(stack.edge());
    assert_eq!(
        voter.vote_json("default", "a").await.status,
        StatusCode::ACCEPTED
    );
    let refused = Client::new(stack.edge()).vote_json("default", "zzz").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let created = voter
        .send(
            Method::POST,
            "/polls",
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            r#"{"question":"Tea or coffee?","options":["Tea","Coffee"]}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.error());
    stack.wait_drained().await;
    assert_eq!(voter.get("/results").await.status, StatusCode::OK);
    let (mut viewer, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/live/default", stack.edge()))
            .await
            .unwrap();
    viewer.next().await.unwrap().unwrap();
    eventually(WAIT, "the vote is counted as applied", || async {
        let worker = stack.worker_admins()[0];
        let page = scrape(worker).await.ok()?;
        (value(&page, "tally_worker_entries_applied_total{kind=\"vote\"}")? >= 1.0).then_some(())
    })
    .await;

    let mut families = BTreeMap::new();
    let mut values = Vec::new();
    for (service, admin) in stack.admin_ports() {
        let page = scrape(admin)
            .await
            .unwrap_or_else(|error| panic!("{service}: {error}"));
        exported(&page, &mut families, &mut values);
    }
    for public in [
        stack.edge(),
        stack.vote(),
        stack.result(),
        stack.workers[0].addr,
    ] {
        let (status, _) = get(public, "/metrics").await.unwrap();
        assert_eq!(status, 404, "{public} serves no /metrics");
    }
    assert!(
        values
            .iter()
            .all(|value| !value.contains('/') && value.len() <= 32),
        "label values are names, not paths or ids: {values:?}"
    );

    let table = readme_table();
    let missing: Vec<&String> = families
        .keys()
        .filter(|name| !table.contains_key(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "exported but not in README's table: {missing:?}"
    );
    let stale: Vec<&String> = table
        .keys()
        .filter(|name| !families.contains_key(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "in README's table but exported by no service: {stale:?}"
    );
    for (name, documented) in &table {
        let found = &families[name];
        assert_eq!(documented.kind, found.kind, "{name}: type");
        assert_eq!(documented.labels, found.labels, "{name}: labels");
    }
}
