//! The tally-worker binary: configuration, logs, bind, serve until SIGTERM; or the
//! `healthcheck` / `probe` subcommand of a container (see `tally_runtime::healthcheck`).

use std::process::ExitCode;

use tally_runtime::{init_logging, parse_or_exit, shutdown_signal};
use tally_worker::Config;

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(status) = tally_runtime::healthcheck::subcommand(|config: &Config| config.listen) {
        return status;
    }
    let config: Config = parse_or_exit();
    init_logging();
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(address = %config.listen, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match tally_worker::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "tally-worker stopped");
            ExitCode::FAILURE
        }
    }
}
