//! `eventually`: poll an async condition until it holds or a deadline passes.

use std::future::Future;
use std::time::{Duration, Instant};

/// Pause between two polls: short enough for snappy tests, long enough not to spin.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Poll `f` every 20 ms until it returns `Some`, or panic with `what` after `timeout`.
///
/// A single call of `f` that is still pending when the deadline passes also counts as a timeout.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut attempts: u64 = 0;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, f()).await {
            Ok(Some(value)) => return value,
            Ok(None) => {}
            Err(_elapsed) => break,
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now())))
            .await;
    }
    panic!("timed out after {timeout:?} ({attempts} attempts) waiting for: {what}");
}
