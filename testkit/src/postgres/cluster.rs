//! Creating a PostgreSQL cluster with `initdb` and configuring it for fast, disposable tests.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::service_user::RunAs;

/// The cluster's bootstrap superuser, as given to `initdb -U`.
pub(crate) const SUPERUSER: &str = "tally_admin";

/// Settings appended to `postgresql.conf`; the port is given on the command line instead.
///
/// Durability against OS crashes is off (the data is thrown away), `max_connections` is high
/// because many tests each open a pool, and shared memory is kept small because several clusters
/// may run at once.
///
/// `synchronous_commit` stays `on` on purpose: [`crate::PostgresServer::stop`] is a crash
/// (immediate shutdown), and with asynchronous commit the transactions acknowledged in the last
/// few hundred milliseconds before it would be lost, so "committed, stopped, restarted, gone"
/// flakes would appear in tests. With `fsync = off` a synchronous commit is only a `write()` into
/// the page cache, which survives a process crash, so it costs next to nothing.
const TEST_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "'127.0.0.1'"),
    ("fsync", "off"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "off"),
    ("max_connections", "300"),
    ("shared_buffers", "'64MB'"),
];

/// `initdb` a new cluster in `data_dir` (which must not exist yet) as `run_as`, with trust
/// authentication for local connections, then write the test settings; the Unix socket goes to
/// `socket_dir`.
///
/// # Panics
/// If `initdb` fails; the message quotes its output.
pub(crate) fn init_cluster(bin_dir: &Path, run_as: &RunAs, data_dir: &Path, socket_dir: &Path) {
    let initdb = bin_dir.join("initdb");
    let output = run_as
        .command(&initdb)
        .arg("--pgdata")
        .arg(data_dir)
        .arg("--username")
        .arg(SUPERUSER)
        .arg("--auth=trust")
        .arg("--encoding=UTF8")
        .arg("--locale=C")
        .arg("--no-sync")
        .current_dir(socket_dir)
        .output()
        .unwrap_or_else(|err| panic!("tally-testkit: could not run {}: {err}", initdb.display()));
    assert!(
        output.status.success(),
        "tally-testkit: initdb failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    append_settings(data_dir, socket_dir);
}

/// Append [`TEST_SETTINGS`] and the socket directory to `postgresql.conf` (later lines win).
fn append_settings(data_dir: &Path, socket_dir: &Path) {
    let conf = data_dir.join("postgresql.conf");
    let mut text = String::from("\n# tally-testkit settings\n");
    for (name, value) in TEST_SETTINGS {
        text.push_str(&format!("{name} = {value}\n"));
    }
    text.push_str(&format!(
        "unix_socket_directories = '{}'\n",
        socket_dir.display().to_string().replace('\'', "''")
    ));
    OpenOptions::new()
        .append(true)
        .open(&conf)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .unwrap_or_else(|err| {
            panic!(
                "tally-testkit: could not write settings to {}: {err}",
                conf.display()
            )
        });
}
