//! `TestDatabase`: a uniquely named database in a kit PostgreSQL cluster, for one test.

use crate::postgres::cluster::SUPERUSER;
use crate::postgres::connect::{connect_superuser, url, ADMIN_DATABASE};
use crate::unique::unique_identifier;

/// The result service's login role, created cluster-wide when the cluster starts.
const READER_LOGIN: &str = "tally_result";

/// A database created for one test; it is not dropped afterwards (the cluster is disposable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDatabase {
    /// The database name, e.g. `t_4242_7`.
    pub name: String,
    /// Port of the cluster holding it.
    port: u16,
}

impl TestDatabase {
    /// `CREATE DATABASE` with a unique name on the cluster at `port`.
    ///
    /// # Panics
    /// If the server can't be reached or the database can't be created.
    pub(crate) async fn create(port: u16) -> TestDatabase {
        let name = unique_identifier();
        let client = connect_superuser(port, ADMIN_DATABASE)
            .await
            .unwrap_or_else(|err| {
                panic!("tally-testkit: could not connect to PostgreSQL on port {port}: {err}")
            });
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|err| panic!("tally-testkit: could not create database {name}: {err}"));
        TestDatabase { name, port }
    }

    /// Superuser (owner) URL of this database: the worker's read/write role.
    pub fn worker_url(&self) -> String {
        url(SUPERUSER, self.port, &self.name)
    }

    /// `postgres://tally_result@127.0.0.1:PORT/<name>`: the result service's login role.
    pub fn reader_url(&self) -> String {
        url(READER_LOGIN, self.port, &self.name)
    }
}
