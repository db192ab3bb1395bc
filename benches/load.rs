//! What the load binaries share: opening many WebSockets without overrunning the
//! listen backlogs, and reading a process's resident memory.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Pause before trying a refused connection again.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// A client's WebSocket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url`, at most as many at once as `opening` has permits, retrying until
/// it succeeds (a refused connection is reported on stderr); `None` if `opening` closes.
pub async fn connect_retrying(url: &str, opening: &Arc<Semaphore>) -> Option<Socket> {
    loop {
        let permit = opening.acquire().await.ok()?;
        let result = tokio_tungstenite::connect_async(url).await;
        drop(permit);
        match result {
            Ok((socket, _)) => return Some(socket),
            Err(error) => {
                eprintln!("connect failed ({error}); retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// Resident set size of `pid` in KiB (Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The value at quantile `q` (0 to 1) of `sorted`, NaN when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}
