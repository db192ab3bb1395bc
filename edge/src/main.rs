//! The tally-edge binary (see `tally_runtime::binary`).

use std::process::ExitCode;

use tally_edge::Config;
use tally_runtime::binary::{Binary, ConfigProblem};

#[tokio::main]
async fn main() -> ExitCode {
    Binary {
        name: "tally-edge",
        listen: |config: &Config| config.listen,
        admin_listen: |config: &Config| config.admin_listen,
        admin_variable: "EDGE_ADMIN_LISTEN",
        check,
    }
    .main(tally_edge::run)
    .await
}

/// The front end's directory exists and the TLS files, when given, load.
fn check(config: &Config) -> Result<(), ConfigProblem> {
    if !config.www_dir.is_dir() {
        let message = format!("{} is not a directory", config.www_dir.display());
        return Err(("EDGE_WWW_DIR", message));
    }
    if let Some((cert, key)) = config.client_side.tls_files() {
        if let Err(error) = tally_edge::tls::TlsHandshake::from_pem_files(cert, key) {
            return Err(("EDGE_TLS_CERT", error.to_string()));
        }
    }
    Ok(())
}
