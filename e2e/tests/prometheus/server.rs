//! A real Prometheus for the test: Debian's `prometheus` binary (scripts/observability-test
//! installs it) with a generated configuration whose targets are the in-process services'
//! admin ports, the repository's alert rules, and a scratch data directory; and the parts
//! of its HTTP API the test reads.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tally_e2e::Client;
use tally_testkit::eventually;
use tempfile::TempDir;

/// Scrapes and rule evaluations every second: the test waits for a few of them.
const SCRAPE_INTERVAL: &str = "1s";

/// A freshly started Prometheus (empty data directory) is ready within seconds.
const READY_WAIT: Duration = Duration::from_secs(30);

/// Runs `prometheus "$@"` and kills it when the test process closes the pipe on stdin,
/// whichever way the process ends (the test kit's guardian, in short).
const GUARDIAN: &str = r#"exec 3<&0
"$@" 3<&- </dev/null &
server=$!
( read _ignored <&3; kill "$server" 2>/dev/null ) &
exec 3<&-
wait "$server""#;

/// One sample of an instant query: its labels and value.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// A running Prometheus; dropping it stops it and removes its files.
pub(crate) struct Prometheus {
    child: Child,
    lifeline: Option<ChildStdin>,
    dir: TempDir,
    api: Client,
}

/// The `prometheus` binary: `$PROMETHEUS`, else the one on `PATH`.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PROMETHEUS") {
        return path.into();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("prometheus"))
        .find(|path| path.is_file())
        .expect("no `prometheus` binary: scripts/observability-test installs Debian's package")
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The configuration: one job per service with its targets, and the rule files.
fn config(jobs: &[(&str, Vec<SocketAddr>)], rule_files: &[PathBuf]) -> String {
    let mut text = format!(
        "global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  scrape_timeout: {SCRAPE_INTERVAL}\n  evaluation_interval: {SCRAPE_INTERVAL}\nrule_files:\n"
    );
    for file in rule_files {
        text += &format!("  - {:?}\n", file.display().to_string());
    }
    text += "scrape_configs:\n";
    for (job, targets) in jobs {
        let targets: Vec<String> = targets.iter().map(|addr| format!("\"{addr}\"")).collect();
        text += &format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
    }
    text
}

impl Prometheus {
    /// Starts Prometheus scraping `jobs` (job name, admin addresses) with `rule_files`,
    /// and waits until it is ready.
    pub(crate) async fn start(
        jobs: &[(&str, Vec<SocketAddr>)],
        rule_files: &[PathBuf],
    ) -> Prometheus {
        let dir = tempfile::Builder::new()
            .prefix("tally-e2e-prometheus-")
            .tempdir()
            .expect("scratch directory");
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config(jobs, rule_files)).expect("write prometheus.yml");
        let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(GUARDIAN)
            .arg("tally-e2e-prometheus")
            .arg(binary())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let lifeline = child.stdin.take();
        let mut prometheus = Prometheus {
            child,
            lifeline,
            dir,
            api: Client::new(address),
        };
        let deadline = tokio::time::Instant::now() + READY_WAIT;
        loop {
            // Connected first: the client panics on a refused connection.
            if tokio::net::TcpStream::connect(address).await.is_ok()
                && prometheus.api.get("/-/ready").await.status == StatusCode::OK
            {
                break;
            }
            let exited = prometheus.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && tokio::time::Instant::now() < deadline,
                "prometheus not ready ({exited:?}):\n{}",
                prometheus.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        prometheus
    }

    /// What Prometheus logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET an API path; the `data` of a successful answer, else Prometheus's error.
    async fn api(&self, path: &str) -> Result<serde_json::Value, String> {
        let reply = self.api.get(path).await;
        let body: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|error| format!("{} {path}: not JSON ({error})", reply.status))?;
        if body["status"] == "success" {
            Ok(body["data"].clone())
        } else {
            Err(format!("{}: {}", body["errorType"], body["error"]))
        }
    }

    /// An instant query: its samples (a scalar comes back as one sample without labels),
    /// or Prometheus's error (a parse error, say).
    pub(crate) async fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let path = format!(
            "/api/v1/query?query={}",
            utf8_percent_encode(expr, NON_ALPHANUMERIC)
        );
        let data = self.api(&path).await?;
        let value = |pair: &serde_json::Value| -> f64 {
            pair[1]
                .as_str()
                .and_then(|text| text.parse().ok())
                .unwrap_or(f64::NAN)
        };
        match data["resultType"].as_str() {
            Some("vector") => Ok(data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|sample| Sample {
                    labels: serde_json::from_value(sample["metric"].clone()).unwrap_or_default(),
                    value: value(&sample["value"]),
                })
                .collect()),
            Some("scalar") => Ok(vec![Sample {
                labels: BTreeMap::new(),
                value: value(&data["result"]),
            }]),
            other => Err(format!("{expr}: unexpected result type {other:?}")),
        }
    }

    /// `(job, health, last error)` of every active target.
    pub(crate) async fn targets(&self) -> Vec<(String, String, String)> {
        let data = self
            .api("/api/v1/targets?state=active")
            .await
            .unwrap_or_default();
        data["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|target| {
                let text =
                    |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
                (
                    text(&target["labels"]["job"]),
                    text(&target["health"]),
                    text(&target["lastError"]),
                )
            })
            .collect()
    }

    /// Every loaded rule: `(name, health, state)`; alerts have a state, recording rules none.
    pub(crate) async fn rules(&self) -> Vec<(String, String, String)> {
        let data = self.api("/api/v1/rules").await.unwrap_or_default();
        data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
            .map(|rule| {
                let text =
                    |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
                (
                    text(&rule["name"]),
                    text(&rule["health"]),
                    text(&rule["state"]),
                )
            })
            .collect()
    }

    /// Waits until every target has been scraped (successfully) after `since`.
    pub(crate) async fn wait_scraped_since(&self, since: SystemTime) {
        let since = since
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        eventually(READY_WAIT, "every target scraped again", || async {
            // timestamp(up): when each target's last scrape happened (on the selector
            // itself: the result of an operation has the evaluation time instead).
            let oldest = self.query("min(timestamp(up))").await.ok()?;
            let down = self.query("min(up)").await.ok()?;
            (oldest.first()?.value > since && down.first()?.value == 1.0).then_some(())
        })
        .await;
    }

    /// Waits until every target has been scraped successfully.
    pub(crate) async fn wait_targets_up(&self, expected: usize) {
        eventually(READY_WAIT, "every target is up in Prometheus", || async {
            let targets = self.targets().await;
            (targets.len() == expected && targets.iter().all(|(_, health, _)| health == "up"))
                .then_some(())
        })
        .await;
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // Closing the pipe makes the guardian stop Prometheus; then reap it.
        self.lifeline.take();
        let _ = self.child.wait();
    }
}

/// The repository's files the test uses.
pub(crate) fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}
