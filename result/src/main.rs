//! The tally-result binary (see `tally_runtime::binary`).

use std::process::ExitCode;

use tally_result::Config;
use tally_runtime::binary::{nothing_to_check, Binary};

/// The allocator the vote service and the edge use: glibc's took about a sixth of the
/// vote service's CPU (README, "The services' allocator"). Without transparent huge
/// pages, as theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    Binary {
        name: "tally-result",
        listen: |config: &Config| config.listen,
        admin_listen: |config: &Config| config.admin_listen,
        admin_variable: "RESULT_ADMIN_LISTEN",
        check: nothing_to_check,
        shared_port: false,
    }
    .main(tally_result::run)
    .await
}
