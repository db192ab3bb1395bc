//! The client-facing settings of the edge: TLS, request head limits, the vote rate limit
//! and which proxies in front of the edge are trusted to say who the client is.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use ipnet::IpNet;

use crate::admission::Admission;
use crate::client_ip::{parse_network, TrustedProxies};
use crate::limits::HeaderLimits;
use crate::metrics::Counter;
use crate::rate_limit::{parse_rate, RateLimiter, RateSpec};
use crate::vote_limits::VoteLimits;
use crate::voter_issue::VoterIssue;
use tally_voter::VoterSigner;

/// TLS, limits, rate limit and trusted proxies, from flags and `EDGE_*` variables.
#[derive(Debug, Clone, Args)]
pub struct ClientSideArgs {
    /// PEM certificate chain; with EDGE_TLS_KEY it turns on HTTPS on EDGE_TLS_LISTEN, and
    /// the plain port then redirects to it.
    #[arg(long, env = "EDGE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of EDGE_TLS_CERT.
    #[arg(long, env = "EDGE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// HTTPS address, used when EDGE_TLS_CERT and EDGE_TLS_KEY are set.
    #[arg(long, env = "EDGE_TLS_LISTEN", default_value = "0.0.0.0:8443")]
    pub tls_listen: SocketAddr,

    /// The HTTPS port clients see, when it differs from EDGE_TLS_LISTEN's (a container
    /// listening on 8443 published as 443); plain requests are redirected to it.
    #[arg(long, env = "EDGE_TLS_PUBLIC_PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub tls_public_port: Option<u16>,

    /// Largest request line plus header fields in bytes; larger gets 431.
    #[arg(long, env = "EDGE_MAX_HEADER_BYTES", default_value_t = 32 * 1024, value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024))]
    pub max_header_bytes: u64,

    /// Most request header fields; more gets 431. A browser sends about 15. hyper reads up
    /// to twice this many before the edge answers (`limits::hard_limits`), and keeps up
    /// to 100 on the stack where more costs two heap buffers per request.
    #[arg(long, env = "EDGE_MAX_HEADERS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(8..=10_000))]
    pub max_headers: u64,

    /// Per-address rate on the vote routes for requests without a valid voter cookie
    /// (a first vote, a script), as `N/s|m|h [burst M]`, or `off`. An address (an IPv6
    /// /64) may be a room behind NAT: the default lets 200 first votes through at once.
    #[arg(long, env = "EDGE_RATE_LIMIT", default_value = "50/s burst 200", value_parser = parse_rate_setting)]
    pub rate_limit: RateSetting,

    /// Per-voter rate on the vote routes for requests with a valid voter cookie, or
    /// `off`: however many voters share an address, each has this. A person changing
    /// their mind taps a few times a second at most.
    #[arg(long, env = "EDGE_VOTER_RATE_LIMIT", default_value = "10/s burst 20", value_parser = parse_rate_setting)]
    pub voter_rate_limit: RateSetting,

    /// Per-address rate of creating polls and events (`POST /polls`, `POST /events`),
    /// or `off`: each writes to Redis and Postgres and stays. A presenter preparing a
    /// session creates a handful.
    #[arg(long, env = "EDGE_CREATE_RATE_LIMIT", default_value = "30/h burst 10", value_parser = parse_rate_setting)]
    pub create_rate_limit: RateSetting,

    /// Per-address rate of handing out new voter cookies with voting pages, or `off`.
    /// A poll whose identity is `browser` counts one ballot per cookie, so this is how
    /// fast one address can become new voters: the burst lets a hall of 1000 phones
    /// behind one address in at once, and 1200 more a minute after that.
    #[arg(long, env = "EDGE_NEW_VOTER_RATE_LIMIT", default_value = "20/s burst 1000", value_parser = parse_rate_setting)]
    pub new_voter_rate_limit: RateSetting,

    /// Proxies (addresses or CIDR networks, comma-separated) whose Forwarded and
    /// X-Forwarded-* fields are believed; others' are removed.
    #[arg(long, env = "EDGE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<IpNet>,
}

/// `EDGE_RATE_LIMIT`: a rate, or `None` when it is `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSetting(pub Option<RateSpec>);

fn parse_rate_setting(text: &str) -> Result<RateSetting, String> {
    parse_rate(text).map(RateSetting)
}

impl ClientSideArgs {
    /// The certificate and key files, when TLS is on.
    pub fn tls_files(&self) -> Option<(&PathBuf, &PathBuf)> {
        self.tls_cert.as_ref().zip(self.tls_key.as_ref())
    }

    /// The head limits the edge answers with JSON 431.
    pub fn header_limits(&self) -> HeaderLimits {
        HeaderLimits {
            max_bytes: usize::try_from(self.max_header_bytes).unwrap_or(usize::MAX),
            max_count: usize::try_from(self.max_headers).unwrap_or(usize::MAX),
        }
    }

    /// The vote routes' limits, checking voter cookies with `signer`.
    pub fn vote_limits(&self, signer: VoterSigner) -> VoteLimits {
        VoteLimits::new(
            self.rate_limit.0.map(RateLimiter::new),
            self.voter_rate_limit.0.map(RateLimiter::new),
            self.create_rate_limit.0.map(RateLimiter::new),
            signer,
        )
    }

    /// Who hands out voter cookies with voting pages, signing them with `signer`.
    pub fn voter_issue(&self, signer: VoterSigner) -> VoterIssue {
        VoterIssue::new(signer, self.new_voter_rate_limit.0.map(RateLimiter::new))
    }

    /// The trusted proxies.
    pub fn trusted(&self) -> TrustedProxies {
        TrustedProxies::new(self.trusted_proxies.clone())
    }

    /// The request filter, redirecting plain requests to `https_port` when TLS is on.
    /// The request filter; `https_port` is the bound HTTPS port when TLS is on, which
    /// EDGE_TLS_PUBLIC_PORT overrides in redirects.
    pub fn admission(&self, https_port: Option<u16>, signer: VoterSigner) -> Admission {
        Admission {
            limits: self.header_limits(),
            rate: self.vote_limits(signer),
            trusted: self.trusted(),
            https_port: https_port.map(|bound| self.tls_public_port.unwrap_or(bound)),
            rate_limited: Counter::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Test {
        #[command(flatten)]
        args: ClientSideArgs,
    }

    fn signer() -> VoterSigner {
        VoterSigner::new(b"client-side-args-test-key-0123456789")
    }

    fn parse(args: &[&str]) -> Result<ClientSideArgs, clap::Error> {
        Test::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map(|t| t.args)
    }

    #[test]
    fn the_public_https_port_wins_in_redirects() {
        let args = parse(&["--tls-public-port", "443"]).expect("port");
        assert_eq!(args.admission(Some(8443), signer()).https_port, Some(443));
        assert_eq!(args.admission(None, signer()).https_port, None, "TLS off");
        assert!(parse(&["--tls-public-port", "0"]).is_err());
    }

    #[test]
    fn defaults() {
        let args = parse(&[]).expect("defaults");
        assert!(args.tls_files().is_none());
        assert_eq!(args.tls_listen.port(), 8443);
        assert_eq!(args.admission(Some(8443), signer()).https_port, Some(8443));
        assert_eq!(args.admission(None, signer()).https_port, None);
        assert_eq!(
            args.rate_limit.0,
            Some(RateSpec {
                per_second: 50.0,
                burst: 200
            })
        );
        assert_eq!(args.voter_rate_limit.0.map(|spec| spec.burst), Some(20));
        assert_eq!(args.create_rate_limit.0.map(|spec| spec.burst), Some(10));
        assert!(args.trusted_proxies.is_empty());
        assert_eq!(args.header_limits().max_count, 50);
    }

    #[test]
    fn values() {
        let args = parse(&[
            "--rate-limit=off",
            "--trusted-proxies=10.0.0.0/8, 192.168.1.1",
            "--tls-cert=c.pem",
            "--tls-key=k.pem",
        ])
        .expect("parses");
        assert!(args.vote_limits(signer()).per_address.is_none());
        assert!(args.trusted().contains("192.168.1.1".parse().expect("ip")));
        assert!(args.tls_files().is_some());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(
            parse(&["--tls-cert=c.pem"]).is_err(),
            "a cert needs its key"
        );
        assert!(parse(&["--rate-limit=fast"]).is_err());
        assert!(parse(&["--trusted-proxies=proxy.local"]).is_err());
        assert!(parse(&["--max-headers=1"]).is_err());
    }
}
