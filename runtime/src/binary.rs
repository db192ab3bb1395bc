//! The `main` every service binary shares: the container subcommands, configuration
//! (exit 64 when wrong), logs, bind the public and the admin port, serve until SIGTERM or Ctrl-C, exit status.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;

use crate::admin::Ports;
use crate::config::{config_error, parse_or_exit};
use crate::listen::{bind_listener, bind_shared_listener};
use crate::logging::init_logging;
use crate::shutdown::shutdown_signal;

/// A configuration value that parses but cannot be used: the variable, and why.
pub type ConfigProblem = (&'static str, String);

/// How one service binary starts.
#[derive(Debug, Clone, Copy)]
pub struct Binary<C> {
    /// The program's name, for messages (`tally-vote`).
    pub name: &'static str,
    /// Where the service listens, from its configuration.
    pub listen: fn(&C) -> SocketAddr,
    /// Where its admin port (`/metrics`) listens, from its configuration.
    pub admin_listen: fn(&C) -> SocketAddr,
    /// The variable that sets it, for the message when it clashes with `listen`.
    pub admin_variable: &'static str,
    /// Checks that need more than parsing (files, keys); run before binding.
    pub check: fn(&C) -> Result<(), ConfigProblem>,
    /// Whether the public port is bound for several threads to listen on, each with a
    /// queue of its own ([`crate::bind_shared_listener`]): the edge's worker threads.
    pub shared_port: bool,
}

impl<C: Parser> Binary<C> {
    /// Runs the binary: `healthcheck`/`probe` if asked, else the service through `run`.
    pub async fn main<Run, Fut, E>(self, run: Run) -> ExitCode
    where
        Run: FnOnce(Ports, C, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Display,
    {
        if let Some(status) = crate::healthcheck::subcommand(|config: &C| (self.listen)(config)) {
            return status;
        }
        let config: C = parse_or_exit();
        let _log = init_logging();
        if let Err((variable, message)) = (self.check)(&config) {
            config_error(self.name, variable, &message);
        }
        let public_address = (self.listen)(&config);
        let admin_address = (self.admin_listen)(&config);
        if admin_address.port() != 0 && admin_address.port() == public_address.port() {
            let message = format!("{admin_address} must not share the public port");
            config_error(self.name, self.admin_variable, &message);
        }
        let bound = if self.shared_port {
            bind_shared_listener(public_address)
        } else {
            bind_listener(public_address)
        };
        let Some(public) = logged(public_address, bound) else {
            return ExitCode::FAILURE;
        };
        let Some(admin) = logged(admin_address, bind_listener(admin_address)) else {
            return ExitCode::FAILURE;
        };
        let ports = Ports {
            public,
            admin: Some(admin),
        };
        match run(ports, config, Box::pin(shutdown_signal())).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "{} stopped", self.name);
                ExitCode::FAILURE
            }
        }
    }
}

/// The listener bound on `address`, or `None` with why logged.
fn logged(address: SocketAddr, bound: std::io::Result<TcpListener>) -> Option<TcpListener> {
    match bound {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::error!(%address, %error, "cannot listen");
            None
        }
    }
}

/// A `check` for services with nothing to check beyond parsing.
pub fn nothing_to_check<C>(_config: &C) -> Result<(), ConfigProblem> {
    Ok(())
}
