//! Talking to a kit PostgreSQL server from synchronous code: readiness probe and role setup.

use std::path::Path;

use crate::block_on::block_on;
use crate::launch::Probe;
use crate::ports::is_port_open;
use crate::postgres::connect::{connect_superuser, ADMIN_DATABASE};

/// Cluster-wide roles the app expects: migrations grant to `tally_reader`, the result service logs
/// in as `tally_result`.
const CREATE_APP_ROLES: &str =
    "CREATE ROLE tally_reader NOLOGIN; CREATE ROLE tally_result LOGIN IN ROLE tally_reader;";

/// Whether our cluster (the one in `data_dir`) accepts connections on `port`.
pub(crate) fn probe(port: u16, data_dir: &Path) -> Probe {
    if !is_port_open(port) {
        return Probe::NotYet;
    }
    block_on(async {
        let Ok(client) = connect_superuser(port, ADMIN_DATABASE).await else {
            return Probe::NotYet;
        };
        match client.query_one("SHOW data_directory", &[]).await {
            Ok(row) => {
                let reported: String = row.get(0);
                if is_same_dir(Path::new(&reported), data_dir) {
                    Probe::Ours
                } else {
                    Probe::Foreign
                }
            }
            Err(_) => Probe::NotYet,
        }
    })
}

/// Create the app's cluster-wide roles in a freshly initialised cluster.
///
/// # Panics
/// If connecting or creating the roles fails.
pub(crate) fn create_app_roles(port: u16) {
    block_on(async {
        let client = connect_superuser(port, ADMIN_DATABASE)
            .await
            .expect("tally-testkit: could not connect to the new PostgreSQL cluster");
        client
            .batch_execute(CREATE_APP_ROLES)
            .await
            .expect("tally-testkit: could not create roles tally_reader and tally_result");
    });
}

/// Whether postgres' `data_directory` is `expected` (as given, or after resolving symlinks).
fn is_same_dir(reported: &Path, expected: &Path) -> bool {
    reported == expected
        || match (reported.canonicalize(), expected.canonicalize()) {
            (Ok(left), Ok(right)) => left == right,
            _ => false,
        }
}
