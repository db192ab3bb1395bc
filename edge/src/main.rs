//! The tally-edge binary (see `tally_runtime::binary`).

use std::process::ExitCode;

use tally_edge::Config;
use tally_runtime::binary::{Binary, ConfigProblem};

/// About 3 % fewer instructions per proxied request than glibc's allocator (README, "The
/// edge beside nginx"). Built without transparent huge pages, which it otherwise asks
/// for its arenas, so that resident memory does not grow 2 MB at a time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    Binary {
        name: "tally-edge",
        listen: |config: &Config| config.listen,
        admin_listen: |config: &Config| config.admin_listen,
        admin_variable: "EDGE_ADMIN_LISTEN",
        check,
        shared_port: true,
    }
    .main(tally_edge::run)
    .await
}

/// The front end's directory exists, the voter cookie key may be used here, and the TLS
/// files, when given, load.
fn check(config: &Config) -> Result<(), ConfigProblem> {
    if !config.www_dir.is_dir() {
        let message = format!("{} is not a directory", config.www_dir.display());
        return Err(("EDGE_WWW_DIR", message));
    }
    if let Err(problem) = config.voter_key.key(config.listen) {
        return Err((problem.variable, problem.message));
    }
    if let Some((cert, key)) = config.client_side.tls_files() {
        if let Err(error) = tally_edge::tls::TlsHandshake::from_pem_files(cert, key) {
            return Err(("EDGE_TLS_CERT", error.to_string()));
        }
    }
    Ok(())
}
