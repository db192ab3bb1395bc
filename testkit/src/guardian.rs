//! The guardian shell: starts a server and kills it when the test process's end of a pipe closes.
//!
//! Statics are never dropped and tests may panic or be killed, so servers can't rely on `Drop`.
//! Instead each server runs under `sh`, whose stdin is a pipe held only by the test process. A
//! watcher in the shell blocks reading that pipe; when the test process closes it — on purpose, or
//! by exiting in any way — the read returns and the watcher signals the server. The shell exits
//! with the server's status, so the kit also notices a server that dies on its own.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::{Child, ChildStdin, ExitStatus, Stdio};

use crate::service_user::RunAs;

/// `sh -c` script; arguments: signal name for stopping, then the server command line.
///
/// fd 3 keeps the pipe for the watcher, because background jobs get stdin from /dev/null.
const GUARDIAN_SCRIPT: &str = r#"sig=$1
shift
exec 3<&0
"$@" 3<&- </dev/null &
server=$!
( read _ignored <&3; kill -s "$sig" "$server" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$server"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

/// `$0` of the guardian shell, so it is recognisable in `ps` output.
const GUARDIAN_NAME: &str = "tally-testkit-guardian";

/// A running server under its guardian shell. Dropping it stops the server and waits for it.
#[derive(Debug)]
pub(crate) struct Guardian {
    /// The guardian shell (or `runuser` around it); exits when the server has exited.
    child: Child,
    /// Our end of the lifeline pipe; closing it tells the watcher to stop the server.
    lifeline: Option<ChildStdin>,
}

impl Guardian {
    /// Start `server args...` as `run_as` in `cwd`, stopped later with `stop_signal` (e.g. `KILL`,
    /// `QUIT`). The shell's and server's stdout and stderr are appended to `log`.
    pub(crate) fn spawn(
        run_as: &RunAs,
        stop_signal: &str,
        server: &Path,
        args: &[OsString],
        cwd: &Path,
        log: &Path,
    ) -> Guardian {
        let log_out = open_log(log);
        let log_err = log_out
            .try_clone()
            .expect("tally-testkit: could not duplicate a server log handle");
        let mut child = run_as
            .command("sh")
            .arg("-c")
            .arg(GUARDIAN_SCRIPT)
            .arg(GUARDIAN_NAME)
            .arg(stop_signal)
            .arg(server)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log_out))
            .stderr(Stdio::from(log_err))
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "tally-testkit: could not start {} under a guardian shell: {err}",
                    server.display()
                )
            });
        let lifeline = child.stdin.take();
        Guardian { child, lifeline }
    }

    /// The exit status if the server (and so its guardian) has already exited.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stop the server: close the lifeline and wait until the guardian and the server have exited.
    pub(crate) fn stop(mut self) -> std::io::Result<ExitStatus> {
        self.stop_in_place()
    }

    /// Shared by [`Guardian::stop`] and `Drop`.
    fn stop_in_place(&mut self) -> std::io::Result<ExitStatus> {
        drop(self.lifeline.take());
        self.child.wait()
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        if let Err(err) = self.stop_in_place() {
            tracing::warn!(%err, "tally-testkit: could not wait for a stopped server");
        }
    }
}

/// Open (create) `path` for appending server output.
fn open_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|err| {
            panic!(
                "tally-testkit: could not open server log {}: {err}",
                path.display()
            )
        })
}
