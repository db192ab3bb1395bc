//! The live feed's settings, flattened into the result service's configuration.

use std::time::Duration;

use clap::Args;
use tally_runtime::parse_duration;

/// Limits of the live WebSocket feed.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Live WebSocket clients this process serves at once; further clients are closed
    /// with 1013 "too many live clients" (another replica can take them).
    #[arg(long, env = "RESULT_LIVE_MAX_CLIENTS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub live_max_clients: u32,

    /// Most results updates one live client receives per second; faster changes are
    /// coalesced and the newest state is always sent.
    #[arg(long, env = "RESULT_LIVE_MAX_UPDATES_PER_SECOND", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub live_max_updates_per_second: u32,

    /// Time one message may take to reach a live client's socket; a client slower than
    /// that is closed with 1008 "too slow" instead of having data queued for it.
    #[arg(long, env = "RESULT_LIVE_SEND_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub live_send_timeout: Duration,

    /// How often a live client is pinged; one that has sent nothing (no pong) by the next
    /// ping is dropped. Well under the idle timeouts of common proxies (60 s).
    #[arg(long, env = "RESULT_LIVE_PING_INTERVAL", default_value = "15s", value_parser = parse_duration)]
    pub live_ping_interval: Duration,
}

impl LiveArgs {
    /// The shortest time between two updates to one client.
    pub fn update_interval(&self) -> Duration {
        Duration::from_secs(1) / self.live_max_updates_per_second.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        live: LiveArgs,
    }

    fn parse(args: &[&str]) -> Result<LiveArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map(|w| w.live)
    }

    #[test]
    fn defaults_are_ten_updates_per_second_and_ten_thousand_clients() {
        let live = parse(&[]).expect("defaults parse");
        assert_eq!(live.live_max_clients, 10_000);
        assert_eq!(live.update_interval(), Duration::from_millis(100));
        assert_eq!(live.live_send_timeout, Duration::from_secs(5));
        assert_eq!(live.live_ping_interval, Duration::from_secs(15));
    }

    #[test]
    fn zero_rates_and_caps_are_refused() {
        assert!(parse(&["--live-max-updates-per-second", "0"]).is_err());
        assert!(parse(&["--live-max-clients", "0"]).is_err());
        assert!(parse(&["--live-send-timeout", "soon"]).is_err());
    }
}
