//! The tally-vote binary (see `tally_runtime::binary`).

use std::process::ExitCode;

use tally_runtime::binary::Binary;
use tally_vote::Config;

/// glibc's allocator took about a sixth of the service's CPU behind the edge (perf, 50
/// clients: its arena lock contended between the two runtime threads, and its
/// consolidation of freed chunks); with mimalloc, 12 % less CPU per vote (README, "The
/// services' allocator"). Built without transparent huge pages, as the edge's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    Binary {
        name: "tally-vote",
        listen: |config: &Config| config.listen,
        admin_listen: |config: &Config| config.admin_listen,
        admin_variable: "VOTE_ADMIN_LISTEN",
        check: |config: &Config| match config.cookie_key() {
            Ok(_) => Ok(()),
            Err(error) => Err((error.variable, error.message)),
        },
        shared_port: false,
    }
    .main(tally_vote::run)
    .await
}
