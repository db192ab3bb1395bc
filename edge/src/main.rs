//! The tally-edge binary: configuration, logs, bind, serve until SIGTERM; or the
//! `healthcheck` / `probe` subcommand of a container (see `tally_runtime::healthcheck`).

use std::process::ExitCode;

use tally_edge::Config;
use tally_runtime::{config_error, init_logging, parse_or_exit, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(status) = tally_runtime::healthcheck::subcommand(|config: &Config| config.listen) {
        return status;
    }
    let config: Config = parse_or_exit();
    init_logging();
    if !config.www_dir.is_dir() {
        let message = format!("{} is not a directory", config.www_dir.display());
        config_error("tally-edge", "EDGE_WWW_DIR", &message);
    }
    if let Some((cert, key)) = config.client_side.tls_files() {
        if let Err(error) = tally_edge::tls::TlsHandshake::from_pem_files(cert, key) {
            config_error("tally-edge", "EDGE_TLS_CERT", &error.to_string());
        }
    }
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(address = %config.listen, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match tally_edge::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "tally-edge stopped");
            ExitCode::FAILURE
        }
    }
}
