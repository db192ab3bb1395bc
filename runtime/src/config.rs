//! Configuration: the serve-loop settings every service shares, and the parse step
//! that turns a bad value into one line naming the variable and exit status 64.

use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser};

use crate::serve::ServeConfig;

/// Exit status for a configuration error (`EX_USAGE` in sysexits.h).
pub const EXIT_CONFIG: i32 = 64;

/// Serve-loop settings, shared by name across services.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Time a client has to send request headers; also the idle timeout of a kept-alive
    /// HTTP/1.1 connection.
    #[arg(long, env = "HTTP_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// Connections served at once.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Time in-flight work may take to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
}

impl ServerArgs {
    /// The serve loop's configuration.
    pub fn serve_config(&self) -> ServeConfig {
        ServeConfig {
            header_read_timeout: self.header_read_timeout,
            max_connections: self.max_connections as usize,
            shutdown_grace: self.shutdown_grace,
            ..ServeConfig::default()
        }
    }
}

/// Parses durations such as `250ms`, `5s` or `1m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|error| format!("{error} (write e.g. 250ms, 5s, 1m)"))
}

/// Parses flags and environment into `T`. `--help` and `--version` print and exit 0;
/// any wrong value prints one line naming the variable and exits 64.
pub fn parse_or_exit<T: Parser>() -> T {
    match T::try_parse() {
        Ok(config) => config,
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = error.print();
            std::process::exit(0);
        }
        Err(error) => {
            let program = T::command().get_name().to_owned();
            eprintln!(
                "{program}: invalid configuration: {}",
                one_line(&error, &T::command())
            );
            std::process::exit(EXIT_CONFIG);
        }
    }
}

/// Exits 64 with `message` about `variable`: for checks that span several values and
/// run after parsing, before binding.
pub fn config_error(program: &str, variable: &str, message: &str) -> ! {
    eprintln!("{program}: invalid configuration: {variable}: {message}");
    std::process::exit(EXIT_CONFIG);
}

/// `VARIABLE (--flag): what is wrong`, from a clap error.
fn one_line(error: &clap::Error, command: &clap::Command) -> String {
    let invalid_arg = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => Some(arg.clone()),
        _ => None,
    };
    let variable = invalid_arg.as_deref().and_then(|shown| {
        command
            .get_arguments()
            .find(|arg| {
                arg.get_long()
                    .is_some_and(|long| shown.starts_with(&format!("--{long}")))
            })
            .and_then(|arg| arg.get_env())
            .map(|env| format!("{} ({})", env.to_string_lossy(), shown))
    });
    let detail = error
        .to_string()
        .lines()
        .next()
        .unwrap_or("invalid value")
        .trim_start_matches("error: ")
        .to_owned();
    match variable {
        Some(variable) => format!("{variable}: {detail}"),
        None => detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(Debug, Parser)]
    #[command(name = "tally-test")]
    struct TestConfig {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn defaults_parse() {
        let config = TestConfig::try_parse_from(["tally-test"]).expect("defaults");
        assert_eq!(config.server.shutdown_grace, Duration::from_secs(10));
    }

    #[test]
    fn bad_value_names_the_variable() {
        let error = TestConfig::try_parse_from(["tally-test", "--shutdown-grace", "soon"])
            .expect_err("must fail");
        let line = one_line(&error, &TestConfig::command());
        assert!(
            line.starts_with("SHUTDOWN_GRACE (--shutdown-grace"),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn zero_connections_is_refused() {
        let error = TestConfig::try_parse_from(["tally-test", "--max-connections", "0"])
            .expect_err("must fail");
        assert!(one_line(&error, &TestConfig::command()).starts_with("HTTP_MAX_CONNECTIONS"));
    }
}
