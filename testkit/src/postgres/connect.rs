//! Superuser connections to a kit PostgreSQL server, and connection URLs.

use tokio_postgres::{Client, NoTls};

use crate::postgres::cluster::SUPERUSER;

/// Database that always exists, for cluster-level work.
pub(crate) const ADMIN_DATABASE: &str = "postgres";

/// Seconds one connection attempt may take: loopback answers at once unless the server is down.
const CONNECT_TIMEOUT_SECS: u32 = 2;

/// Connect as the cluster superuser to `database` on 127.0.0.1:`port`.
///
/// The connection is driven by a task on the current tokio runtime and ends when the client drops.
pub(crate) async fn connect_superuser(
    port: u16,
    database: &str,
) -> Result<Client, tokio_postgres::Error> {
    let config = format!(
        "host=127.0.0.1 port={port} user={SUPERUSER} dbname={database} \
         connect_timeout={CONNECT_TIMEOUT_SECS}"
    );
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
    tokio::spawn(async move {
        // An error here only means the connection went away; the caller sees it on its queries.
        let _ignored = connection.await;
    });
    Ok(client)
}

/// `postgres://USER@127.0.0.1:PORT/DATABASE`
pub(crate) fn url(user: &str, port: u16, database: &str) -> String {
    format!("postgres://{user}@127.0.0.1:{port}/{database}")
}
