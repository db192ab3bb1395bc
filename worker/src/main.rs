//! The tally-worker binary (see `tally_runtime::binary`).

use std::process::ExitCode;

use tally_runtime::binary::{nothing_to_check, Binary};
use tally_worker::Config;

/// The allocator the vote service and the edge use: glibc's took about a sixth of the
/// vote service's CPU (README, "The services' allocator"). Without transparent huge
/// pages, as theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    Binary {
        name: "tally-worker",
        listen: |config: &Config| config.listen,
        admin_listen: |config: &Config| config.admin_listen,
        admin_variable: "WORKER_ADMIN_LISTEN",
        check: nothing_to_check,
        shared_port: false,
    }
    .main(tally_worker::run)
    .await
}
