//! `PostgresServer`: a real PostgreSQL cluster on 127.0.0.1 for integration tests, and the shared one.

mod bin_dir;
mod cluster;
mod connect;
mod database;
mod probe;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tempfile::TempDir;

use crate::guardian::Guardian;
use crate::launch::{launch, PortTaken};
use crate::ports::{free_port, wait_port_closed};
use crate::scratch::scratch_dir;
use crate::service_user::RunAs;

pub use self::database::TestDatabase;

use self::bin_dir::pg_bin_dir;
use self::cluster::{init_cluster, SUPERUSER};
use self::connect::url;
use self::probe::{create_app_roles, probe};

/// Data directory name inside the scratch directory (which also holds the log and the socket).
const DATA_DIR: &str = "data";

/// Log file name inside the scratch directory: the server's stdout and stderr.
const LOG_FILE: &str = "postgres.log";

/// Signal for stopping: SIGQUIT is PostgreSQL's immediate shutdown — like a crash, but the
/// postmaster still takes its backends down and releases shared memory.
const STOP_SIGNAL: &str = "QUIT";

/// Fresh ports to try when starting, in case another process grabs the chosen port first.
const START_ATTEMPTS: usize = 5;

/// Tries to get the same port back on restart if someone briefly holds it.
const RESTART_ATTEMPTS: usize = 20;

/// Pause between restart attempts.
const RESTART_RETRY_PAUSE: Duration = Duration::from_millis(250);

/// How long the port may stay open after the postmaster exited.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The one shared cluster of this test binary.
static SHARED: OnceLock<PostgresServer> = OnceLock::new();

/// A PostgreSQL cluster (initdb in a temp dir) on 127.0.0.1:<free port>, trust auth on localhost.
///
/// As root, the server runs as `postgres` (or `nobody`) through `runuser`. Dropping it stops the
/// server and removes the cluster; the server is also stopped when the test process exits in any way.
#[derive(Debug)]
pub struct PostgresServer {
    /// TCP port on 127.0.0.1; the same across restarts.
    port: u16,
    /// Directory with `postgres`.
    bin_dir: PathBuf,
    /// OS user the server runs as.
    run_as: RunAs,
    /// The running server, `None` while stopped.
    running: Mutex<Option<Guardian>>,
    /// Scratch directory: data directory, log and Unix socket.
    dir: TempDir,
}

impl PostgresServer {
    /// Create a cluster and start it; the roles `tally_reader` (NOLOGIN) and `tally_result`
    /// (LOGIN, member of `tally_reader`) exist when this returns.
    ///
    /// # Panics
    /// If the binaries are missing, `initdb` fails, or the server doesn't accept connections within
    /// 30 s; the message quotes the relevant output.
    pub fn start() -> PostgresServer {
        let dir = scratch_dir("pg");
        let bin_dir = pg_bin_dir();
        let run_as = RunAs::unprivileged();
        run_as.take_ownership(dir.path());
        init_cluster(&bin_dir, &run_as, &dir.path().join(DATA_DIR), dir.path());
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            if let Ok(guardian) = launch_on(port, &bin_dir, &run_as, dir.path()) {
                create_app_roles(port);
                tracing::info!(port, dir = %dir.path().display(), "tally-testkit: PostgreSQL started");
                return PostgresServer {
                    port,
                    bin_dir,
                    run_as,
                    running: Mutex::new(Some(guardian)),
                    dir,
                };
            }
        }
        panic!("tally-testkit: PostgreSQL could not get a free port in {START_ATTEMPTS} attempts");
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://tally_admin@127.0.0.1:PORT/<database>`: the cluster superuser.
    pub fn superuser_url(&self, database: &str) -> String {
        url(SUPERUSER, self.port, database)
    }

    /// Stop the server (immediate shutdown, like a crash; the data stays) and wait until its port
    /// is closed. Does nothing if it is already stopped.
    ///
    /// # Panics
    /// If the port is still open 10 s after the postmaster exited.
    pub fn stop(&self) {
        let mut running = self.lock();
        if let Some(guardian) = running.take() {
            if let Err(err) = guardian.stop() {
                panic!("tally-testkit: could not wait for PostgreSQL to exit: {err}");
            }
        }
        assert!(
            wait_port_closed(self.port, CLOSE_TIMEOUT),
            "tally-testkit: port {} still open {CLOSE_TIMEOUT:?} after PostgreSQL stopped",
            self.port
        );
    }

    /// Start the server again on the same port with the same data, and wait until it accepts
    /// connections (after crash recovery). A running server is stopped first.
    ///
    /// # Panics
    /// If the port can't be bound again or the server doesn't become ready; the message quotes its log.
    pub fn restart(&self) {
        self.stop();
        let mut running = self.lock();
        for _ in 0..RESTART_ATTEMPTS {
            if let Ok(guardian) = launch_on(self.port, &self.bin_dir, &self.run_as, self.dir.path())
            {
                *running = Some(guardian);
                return;
            }
            std::thread::sleep(RESTART_RETRY_PAUSE);
        }
        panic!(
            "tally-testkit: PostgreSQL could not get its port {} back in {RESTART_ATTEMPTS} attempts",
            self.port
        );
    }

    /// `CREATE DATABASE` with a unique name (`t_<pid>_<n>`), as the superuser.
    ///
    /// Needs a tokio runtime (the admin connection is driven by a spawned task).
    ///
    /// # Panics
    /// If the server can't be reached or the database can't be created.
    pub async fn fresh_database(&self) -> TestDatabase {
        TestDatabase::create(self.port).await
    }

    /// The running-server slot; a panic in another test while holding it does not matter here.
    fn lock(&self) -> MutexGuard<'_, Option<Guardian>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // Guardian's own Drop closes the lifeline and waits; never panics.
        drop(self.lock().take());
    }
}

/// The one PostgreSQL cluster of this test binary, started on first use and stopped when the
/// process exits. Tests share it through [`PostgresServer::fresh_database`].
pub fn shared_postgres() -> &'static PostgresServer {
    SHARED.get_or_init(PostgresServer::start)
}

/// Start `postgres` on `port` for the cluster in `dir`, and wait until it accepts connections.
fn launch_on(port: u16, bin_dir: &Path, run_as: &RunAs, dir: &Path) -> Result<Guardian, PortTaken> {
    let data_dir = dir.join(DATA_DIR);
    let log = dir.join(LOG_FILE);
    let args: Vec<OsString> = vec![
        "-D".into(),
        data_dir.clone().into(),
        "-p".into(),
        port.to_string().into(),
    ];
    let postgres = bin_dir.join("postgres");
    launch(
        &format!("PostgreSQL on port {port}"),
        &log,
        || Guardian::spawn(run_as, STOP_SIGNAL, &postgres, &args, dir, &log),
        || probe(port, &data_dir),
    )
}
