//! Which OS user runs a server: PostgreSQL refuses to run as root, so as root the kit drops to an
//! unprivileged account through `runuser`.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// Account preferred for running PostgreSQL when the tests run as root.
const PREFERRED_USER: &str = "postgres";

/// Fallback unprivileged account that exists on every Debian system.
const FALLBACK_USER: &str = "nobody";

/// The user database checked for [`PREFERRED_USER`].
const PASSWD_FILE: &str = "/etc/passwd";

/// Who a server process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunAs {
    /// The user running the tests (not root).
    CurrentUser,
    /// An unprivileged account, reached through `runuser -u NAME --`.
    User(String),
}

impl RunAs {
    /// The current user, unless that is root: then `postgres` if it exists, else `nobody`.
    pub(crate) fn unprivileged() -> RunAs {
        let uid = std::fs::metadata("/proc/self")
            .map(|meta| meta.uid())
            .expect("tally-testkit: could not read the current uid from /proc/self");
        if uid != 0 {
            return RunAs::CurrentUser;
        }
        let user = if user_exists(PREFERRED_USER) {
            PREFERRED_USER
        } else {
            FALLBACK_USER
        };
        RunAs::User(user.to_owned())
    }

    /// A command that runs `program` as this user.
    pub(crate) fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match self {
            RunAs::CurrentUser => Command::new(program),
            RunAs::User(user) => {
                let mut command = Command::new("runuser");
                command.arg("-u").arg(user).arg("--").arg(program);
                command
            }
        }
    }

    /// Give `path` (recursively) to this user, so the server can write there.
    pub(crate) fn take_ownership(&self, path: &Path) {
        let RunAs::User(user) = self else {
            return;
        };
        let output = Command::new("chown")
            .arg("-R")
            .arg(user)
            .arg(path)
            .output()
            .expect("tally-testkit: could not run chown");
        assert!(
            output.status.success(),
            "tally-testkit: chown -R {user} {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Whether `/etc/passwd` has an entry for `user`.
fn user_exists(user: &str) -> bool {
    std::fs::read_to_string(PASSWD_FILE)
        .map(|passwd| {
            passwd
                .lines()
                .any(|line| line.split(':').next() == Some(user))
        })
        .unwrap_or(false)
}
