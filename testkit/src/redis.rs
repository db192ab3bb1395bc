//! `RedisServer`: a real redis-server on 127.0.0.1 for integration tests, and the shared one.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tempfile::TempDir;

use crate::guardian::Guardian;
use crate::launch::{launch, PortTaken};
use crate::ports::{free_port, wait_port_closed};
use crate::redis_probe::probe;
use crate::scratch::scratch_dir;
use crate::service_user::RunAs;

/// The redis-server binary; overridable for machines that install it elsewhere.
const REDIS_SERVER_ENV: &str = "TALLY_REDIS_SERVER";

/// Looked up on `PATH` by the guardian shell; Debian's `redis-server` package puts it in /usr/bin.
const DEFAULT_REDIS_SERVER: &str = "redis-server";

/// Log file name inside the scratch directory.
const LOG_FILE: &str = "redis.log";

/// Signal for stopping: SIGKILL simulates a crash, and without persistence nothing is lost to it.
const STOP_SIGNAL: &str = "KILL";

/// Fresh ports to try when starting, in case another process grabs the chosen port first.
const START_ATTEMPTS: usize = 5;

/// Tries to get the same port back on restart if someone briefly holds it.
const RESTART_ATTEMPTS: usize = 20;

/// Pause between restart attempts.
const RESTART_RETRY_PAUSE: Duration = Duration::from_millis(250);

/// How long the port may stay open after the server was killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The one shared server of this test binary.
static SHARED: OnceLock<RedisServer> = OnceLock::new();

/// How a started server persists and replicates; the default is neither.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// `appendonly yes` with this `appendfsync` (`always`, `everysec`, `no`).
    appendfsync: Option<&'static str>,
    /// `replicaof 127.0.0.1 <port>`.
    replica_of: Option<u16>,
    /// Where the data files go instead of the scratch directory (the log stays there).
    data_dir: Option<PathBuf>,
}

impl RedisOptions {
    /// Keeps an append-only file, fsynced as `appendfsync` says.
    pub fn append_only(mut self, appendfsync: &'static str) -> Self {
        self.appendfsync = Some(appendfsync);
        self
    }

    /// Replicates `primary`.
    pub fn replica_of(mut self, primary: &RedisServer) -> Self {
        self.replica_of = Some(primary.port);
        self
    }

    /// Keeps the data files in `dir` (a directory the test controls, e.g. a power-cut mount).
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Starts a dedicated server with these options.
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    pub fn start(self) -> RedisServer {
        RedisServer::start_with(self)
    }
}

/// A redis-server on 127.0.0.1:<free port>, no persistence by default.
///
/// Dropping it kills the server and removes its scratch directory; the server is also killed when
/// the test process exits in any way.
#[derive(Debug)]
pub struct RedisServer {
    /// TCP port on 127.0.0.1; the same across restarts.
    port: u16,
    /// The running server, `None` while stopped.
    running: Mutex<Option<Guardian>>,
    /// Scratch directory: redis' `dir` (unless the options name another) and its log.
    dir: TempDir,
    /// Persistence and replication.
    options: RedisOptions,
}

impl RedisServer {
    /// Start a dedicated server (for tests that stop or restart it).
    ///
    /// # Panics
    /// If the server can't be started or doesn't answer `PING` within 30 s; the message quotes its log.
    pub fn start() -> RedisServer {
        RedisServer::start_with(RedisOptions::default())
    }

    /// Options for a dedicated server that persists or replicates.
    pub fn options() -> RedisOptions {
        RedisOptions::default()
    }

    fn start_with(options: RedisOptions) -> RedisServer {
        let dir = scratch_dir("redis");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            if let Ok(guardian) = launch_on(port, dir.path(), &options) {
                tracing::info!(port, dir = %dir.path().display(), "tally-testkit: redis-server started");
                return RedisServer {
                    port,
                    running: Mutex::new(Some(guardian)),
                    dir,
                    options,
                };
            }
        }
        panic!(
            "tally-testkit: redis-server could not get a free port in {START_ATTEMPTS} attempts"
        );
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kill the server (SIGKILL, simulating a crash) and wait until its port is closed.
    /// Does nothing if it is already stopped.
    ///
    /// # Panics
    /// If the port is still open 10 s after the server exited.
    pub fn stop(&self) {
        let mut running = self.lock();
        if let Some(guardian) = running.take() {
            if let Err(err) = guardian.stop() {
                panic!("tally-testkit: could not wait for redis-server to exit: {err}");
            }
        }
        assert!(
            wait_port_closed(self.port, CLOSE_TIMEOUT),
            "tally-testkit: port {} still open {CLOSE_TIMEOUT:?} after redis-server was killed",
            self.port
        );
    }

    /// Start the server again on the same port and wait until it answers `PING`. Data is lost
    /// unless the server keeps an append-only file. A running server is stopped first.
    ///
    /// # Panics
    /// If the port can't be bound again or the server doesn't become ready; the message quotes its log.
    pub fn restart(&self) {
        self.stop();
        let mut running = self.lock();
        for _ in 0..RESTART_ATTEMPTS {
            if let Ok(guardian) = launch_on(self.port, self.dir.path(), &self.options) {
                *running = Some(guardian);
                return;
            }
            std::thread::sleep(RESTART_RETRY_PAUSE);
        }
        panic!(
            "tally-testkit: redis-server could not get its port {} back in {RESTART_ATTEMPTS} attempts",
            self.port
        );
    }

    /// The running-server slot; a panic in another test while holding it does not matter here.
    fn lock(&self) -> MutexGuard<'_, Option<Guardian>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Guardian's own Drop closes the lifeline and waits; never panics.
        drop(self.lock().take());
    }
}

/// The one redis-server of this test binary, started on first use and killed when the process exits.
pub fn shared_redis() -> &'static RedisServer {
    SHARED.get_or_init(RedisServer::start)
}

/// Start redis-server on `port` with its log in `dir`, and wait until it answers.
fn launch_on(port: u16, dir: &Path, options: &RedisOptions) -> Result<Guardian, PortTaken> {
    let log = dir.join(LOG_FILE);
    let data_dir = options.data_dir.as_deref().unwrap_or(dir);
    let args = server_args(port, data_dir, &log, options);
    let binary = redis_server_binary();
    launch(
        &format!("redis-server on port {port}"),
        &log,
        || Guardian::spawn(&RunAs::CurrentUser, STOP_SIGNAL, &binary, &args, dir, &log),
        || probe(port, data_dir),
    )
}

/// `redis-server` unless overridden by `TALLY_REDIS_SERVER`.
fn redis_server_binary() -> PathBuf {
    std::env::var_os(REDIS_SERVER_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_REDIS_SERVER))
}

/// Command line: loopback only, persistence and replication as `options` say, files in
/// `dir`, foreground.
fn server_args(port: u16, dir: &Path, log: &Path, options: &RedisOptions) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut flag = |name: &str, value: OsString| {
        args.push(name.into());
        args.push(value);
    };
    flag("--port", port.to_string().into());
    flag("--bind", "127.0.0.1".into());
    flag("--save", "".into());
    match options.appendfsync {
        Some(appendfsync) => {
            flag("--appendonly", "yes".into());
            flag("--appendfsync", appendfsync.into());
        }
        None => flag("--appendonly", "no".into()),
    }
    flag("--protected-mode", "no".into());
    flag("--dir", dir.into());
    flag("--logfile", log.into());
    flag("--daemonize", "no".into());
    if let Some(primary) = options.replica_of {
        args.extend([
            "--replicaof".into(),
            "127.0.0.1".into(),
            primary.to_string().into(),
        ]);
    }
    args
}
