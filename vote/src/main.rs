//! The tally-vote binary (see `tally_runtime::binary`).

use std::process::ExitCode;

use tally_runtime::binary::Binary;
use tally_vote::Config;

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
