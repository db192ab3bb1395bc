//! Starting a server under its guardian and waiting until it is ready, or telling that its port
//! was taken so the caller can retry.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::guardian::Guardian;
use crate::log_tail::log_tail;

/// How long a server may take to accept connections: generous for a loaded CI machine.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause between two readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// What both redis-server and postgres log when their port is already bound (strerror of EADDRINUSE).
const ADDRESS_IN_USE: &str = "Address already in use";

/// Result of one readiness probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Nothing usable answers yet.
    NotYet,
    /// Our server answers (its identity — data directory — was checked).
    Ours,
    /// Another server of the same kind answers on our port: ours can't have bound it.
    Foreign,
}

/// The server could not listen on its port because something else holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortTaken;

/// Start a server with `spawn` and poll `probe` until it reports [`Probe::Ours`].
///
/// Returns [`PortTaken`] if the server exited complaining that its address is in use, or if another
/// server answers on the port. Panics, quoting `log`, if the server exits for another reason or is
/// not ready within [`READY_TIMEOUT`]. `what` names the server in messages.
pub(crate) fn launch(
    what: &str,
    log: &Path,
    spawn: impl FnOnce() -> Guardian,
    mut probe: impl FnMut() -> Probe,
) -> Result<Guardian, PortTaken> {
    let log_start = std::fs::metadata(log).map(|meta| meta.len()).unwrap_or(0);
    let mut guardian = spawn();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = guardian.exit_status() {
            if log_since(log, log_start).contains(ADDRESS_IN_USE) {
                tracing::debug!(what, "port taken, server exited");
                return Err(PortTaken);
            }
            panic!(
                "tally-testkit: {what} exited during startup ({status}); log {}:\n{}",
                log.display(),
                log_tail(log)
            );
        }
        match probe() {
            Probe::Ours => return Ok(guardian),
            Probe::Foreign => {
                tracing::debug!(what, "another server answers on our port");
                drop(guardian);
                return Err(PortTaken);
            }
            Probe::NotYet => {}
        }
        if Instant::now() >= deadline {
            drop(guardian);
            panic!(
                "tally-testkit: {what} did not become ready within {READY_TIMEOUT:?}; log {}:\n{}",
                log.display(),
                log_tail(log)
            );
        }
        std::thread::sleep(PROBE_INTERVAL);
    }
}

/// What was appended to `log` after byte `start`.
fn log_since(log: &Path, start: u64) -> String {
    let bytes = std::fs::read(log).unwrap_or_default();
    let start = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}
