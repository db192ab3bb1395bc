//! tally-seed: casts `--votes` ballots through the edge, each from a new voter: without
//! a cookie (the vote service signs a fresh voter id every time), or, with
//! `--cookie-key-file`, with a voter cookie of its own signed with the stack's key, as
//! phones that loaded the page earlier would send; the edge then rate-limits each voter
//! on its own however many share the seed's address. `--concurrency` requests are in
//! flight and at most `--rate` go out per second. With
//! `--wait-counted` it then polls `/results` until every accepted vote is counted and
//! prints the time from the first vote to the last one counted.
//!
//! It is the compose `seed` profile (the classic voting app's seed container) and the
//! container test's thundering herd. Exit status 0 only when every vote got `202` (and,
//! when waiting, every one was counted).

mod cast;
mod count;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

/// tally-seed: casts votes from distinct voters through the edge.
#[derive(Debug, Parser)]
#[command(name = "tally-seed", version, about)]
struct Config {
    /// The edge's base URL (plain HTTP).
    #[arg(long, env = "SEED_URL", default_value = "http://127.0.0.1:8080")]
    url: String,

    /// Votes to cast, each from a new voter.
    #[arg(long, env = "SEED_VOTES", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    votes: u64,

    /// Requests in flight at once.
    #[arg(long, env = "SEED_CONCURRENCY", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,

    /// Votes per second at most; 0 sends as fast as the edge answers.
    #[arg(long, env = "SEED_RATE", default_value_t = 0)]
    rate: u64,

    /// Percentage of votes for option `b` (the rest go to `a`).
    #[arg(long, env = "SEED_SHARE_B", default_value_t = 40, value_parser = clap::value_parser!(u64).range(0..=100))]
    share_b: u64,

    /// After casting, wait until `/results` counts every accepted vote.
    #[arg(long, env = "SEED_WAIT_COUNTED")]
    wait_counted: bool,

    /// The stack's voter cookie key: each vote then carries a cookie of a new voter
    /// signed with it (otherwise none, and the edge limits them per address).
    #[arg(long, env = "SEED_COOKIE_KEY_FILE")]
    cookie_key_file: Option<std::path::PathBuf>,

    /// Longest wait for the count.
    #[arg(long, env = "SEED_WAIT_TIMEOUT", default_value = "120s", value_parser = humantime::parse_duration)]
    wait_timeout: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    match run(config).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("tally-seed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<bool> {
    let signer = match &config.cookie_key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("SEED_COOKIE_KEY_FILE: cannot read {}", path.display()))?;
            Some(tally_voter::VoterSigner::new(
                text.trim_end_matches(['\n', '\r']).as_bytes(),
            ))
        }
        None => None,
    };
    let base = config.url.trim_end_matches('/').to_owned();
    let client = cast::client();
    let before = count::wait_for_total(&client, &base, Duration::from_secs(60)).await?;
    println!(
        "tally-seed: {} votes from {} new voters to {base}/vote, concurrency {}, rate {}",
        config.votes,
        config.votes,
        config.concurrency,
        if config.rate == 0 {
            "unlimited".to_owned()
        } else {
            format!("{}/s", config.rate)
        }
    );
    let plan = cast::Plan {
        base: base.clone(),
        votes: config.votes,
        concurrency: config.concurrency,
        rate: config.rate,
        share_b: config.share_b,
        signer,
    };
    let started = Instant::now();
    let outcome = cast::cast_all(&client, &plan).await;
    let sent_for = started.elapsed();
    println!(
        "tally-seed: sent in {:.3}s ({:.0} votes/s): accepted {}, statuses {:?}, errors {}{}",
        sent_for.as_secs_f64(),
        config.votes as f64 / sent_for.as_secs_f64().max(1e-9),
        outcome.accepted,
        outcome.statuses,
        outcome.errors,
        outcome
            .first_error
            .as_deref()
            .map(|error| format!(" (first: {error})"))
            .unwrap_or_default()
    );
    let all_accepted = outcome.accepted == config.votes;
    if !config.wait_counted {
        return Ok(all_accepted);
    }
    let expected = before + outcome.accepted;
    let counted = count::wait_until(&client, &base, expected, config.wait_timeout).await?;
    let counted_after = started.elapsed();
    println!(
        "tally-seed: counted {} of {} accepted; last counted {:.3}s after the first vote was sent",
        counted.saturating_sub(before),
        outcome.accepted,
        counted_after.as_secs_f64()
    );
    Ok(all_accepted && counted == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let config = Config::try_parse_from(["tally-seed"]).unwrap();
        assert_eq!(config.votes, 3000);
        assert!(!config.wait_counted);
    }
}
