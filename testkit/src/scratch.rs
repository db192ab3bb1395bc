//! Scratch directories for server files, and sweeping the ones left behind by dead test processes.

use std::path::Path;
use std::sync::Once;

use tempfile::TempDir;

/// Name prefix of every scratch directory; followed by `<pid>-<kind>-<random>`.
const SCRATCH_PREFIX: &str = "tally-testkit-";

/// Sweep leftovers once per process: the first server start pays for it, later ones don't.
static SWEEP: Once = Once::new();

/// A fresh directory `<temp_dir>/tally-testkit-<pid>-<kind>-XXXXXX`, removed when the `TempDir` drops.
///
/// Shared servers live in statics that are never dropped, so their directories stay behind; the
/// first call in every process removes the directories of processes that no longer exist.
pub(crate) fn scratch_dir(kind: &str) -> TempDir {
    let base = std::env::temp_dir();
    SWEEP.call_once(|| sweep_dead_leftovers(&base));
    tempfile::Builder::new()
        .prefix(&format!("{SCRATCH_PREFIX}{}-{kind}-", std::process::id()))
        .tempdir_in(&base)
        .unwrap_or_else(|err| {
            panic!(
                "tally-testkit: could not create a scratch directory in {}: {err}",
                base.display()
            )
        })
}

/// Best-effort removal of scratch directories whose owning process is gone.
fn sweep_dead_leftovers(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        let is_dir = entry.file_type().map(|kind| kind.is_dir()).unwrap_or(false);
        if is_dir && pid != std::process::id() && !process_exists(pid) {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::debug!(path = %entry.path().display(), "removed leftover scratch dir")
                }
                Err(err) => {
                    tracing::debug!(path = %entry.path().display(), %err, "could not remove leftover scratch dir")
                }
            }
        }
    }
}

/// The pid in a scratch directory name `tally-testkit-<pid>-...`, if `name` is one.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(SCRATCH_PREFIX)?;
    let (pid, _kind_and_random) = rest.split_once('-')?;
    pid.parse().ok()
}

/// Whether a process with this pid is alive (or a zombie) right now.
fn process_exists(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::owner_pid;

    #[test]
    fn parses_owner_pid_from_scratch_names() {
        assert_eq!(owner_pid("tally-testkit-4242-redis-AbC123"), Some(4242));
        assert_eq!(owner_pid("tally-testkit-x-redis-AbC123"), None);
        assert_eq!(owner_pid("other-4242-redis"), None);
    }
}
