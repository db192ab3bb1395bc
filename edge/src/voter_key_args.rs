//! The key the edge checks voter cookies with (`EDGE_COOKIE_KEY_FILE`): the vote
//! service's own, so that a valid cookie earns its voter a rate-limit bucket of its own.
//! The same rules as the vote service's: the public development key only on loopback.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use tally_voter::{CookieKeySource, KeyProblem, VoterSigner};

/// The voter cookie key, from flags and `EDGE_*` variables.
#[derive(Debug, Clone, Args)]
pub struct VoterKeyArgs {
    /// Key that signs voter cookies, the vote service's (at least 32 bytes). Prefer
    /// EDGE_COOKIE_KEY_FILE.
    #[arg(
        long,
        env = "EDGE_COOKIE_KEY",
        hide_env_values = true,
        conflicts_with = "cookie_key_file"
    )]
    pub cookie_key: Option<String>,

    /// File holding the cookie key (the vote service's secret, mounted here too).
    #[arg(long, env = "EDGE_COOKIE_KEY_FILE")]
    pub cookie_key_file: Option<PathBuf>,

    /// Lets the public development key through although voters on other machines reach
    /// the edge: for a private network, never where strangers vote.
    #[arg(long, env = "EDGE_ALLOW_PUBLIC_COOKIE_KEY", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub allow_public_cookie_key: bool,

    /// The address the edge's port is published on, when a container engine publishes
    /// it (compose passes TALLY_PUBLISH_ADDRESS): on loopback only this machine votes.
    #[arg(long, env = "EDGE_PUBLISHED_ON")]
    pub published_on: Option<IpAddr>,
}

impl VoterKeyArgs {
    /// The configured key, if an edge listening on `listen` may use it.
    pub fn key(&self, listen: SocketAddr) -> Result<Vec<u8>, KeyProblem> {
        CookieKeySource {
            value: self.cookie_key.as_deref(),
            file: self.cookie_key_file.as_deref(),
            value_variable: "EDGE_COOKIE_KEY",
            file_variable: "EDGE_COOKIE_KEY_FILE",
            reachable_on: self.published_on.unwrap_or(listen.ip()),
            allow_public: self.allow_public_cookie_key,
            allow_variable: "EDGE_ALLOW_PUBLIC_COOKIE_KEY",
        }
        .load()
    }

    /// The signer of the configured key, for an edge listening on `listen`.
    pub fn signer(&self, listen: SocketAddr) -> Result<VoterSigner, KeyProblem> {
        let key = self.key(listen)?;
        if tally_voter::is_public(&key) {
            tracing::warn!(
                "checking voter cookies with the public development key: fine on this \
                 machine only. Set EDGE_COOKIE_KEY_FILE (the vote service's key) wherever \
                 others vote."
            );
        }
        Ok(VoterSigner::new(&key))
    }
}
