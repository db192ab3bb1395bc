//! The process's one Redis subscription: `PSUBSCRIBE <prefix>tally:*` on a dedicated
//! pub/sub connection (polls' results on `tally:<poll>`, events' definitions on
//! `tally:event:<id>`), each message parsed once and handed to the [`Hub`]. A lost link
//! is announced (so sessions tell their clients) and re-made with capped exponential
//! back-off; a link that stops answering PING counts as lost.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tally_model::event::EventDefinition;
use tally_model::keys::EVENT_CHANNEL_INFIX;
use tally_model::timestamp::now_ms;
use tally_model::{Keys, PollResults};
use tokio_util::sync::CancellationToken;

use super::fanout::{Hub, LinkState};
use super::message::{Rendered, RenderedEvent};

/// Time to open the connection and subscribe; Redis answers in microseconds when up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// First pause after a failed link; doubled after each further failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Longest pause between two attempts, so a returning Redis is noticed within seconds.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How often an idle link is checked with PING: a half-open TCP connection (a
/// partitioned Redis) sends no FIN, so only asking notices it.
const PING_INTERVAL: Duration = Duration::from_secs(5);

/// Time a PING may take before the link counts as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Subscribes and forwards until `shutdown` is cancelled.
pub async fn run(client: redis::Client, keys: Keys, hub: Arc<Hub>, shutdown: CancellationToken) {
    let pattern = pattern(&keys);
    let channel_prefix = keys.tally_channel("");
    let mut backoff = FIRST_BACKOFF;
    loop {
        let connected = tokio::select! {
            () = shutdown.cancelled() => return,
            connected = tokio::time::timeout(CONNECT_TIMEOUT, subscribe(&client, &pattern)) => connected,
        };
        match connected {
            Ok(Ok((sink, stream))) => {
                tracing::info!(pattern, "live feed subscribed");
                backoff = FIRST_BACKOFF;
                hub.set_link(LinkState::Live);
                forward(sink, stream, &channel_prefix, &hub, &shutdown).await;
                if shutdown.is_cancelled() {
                    return;
                }
                tracing::warn!(
                    pattern,
                    "live feed lost its Redis subscription; reconnecting"
                );
            }
            Ok(Err(error)) => tracing::warn!(%error, "live feed cannot subscribe to Redis"),
            Err(_) => tracing::warn!("live feed: subscribing to Redis timed out"),
        }
        hub.set_link(LinkState::Reconnecting);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The glob matching every poll's channel, with the prefix's glob characters escaped.
fn pattern(keys: &Keys) -> String {
    let mut escaped = String::new();
    for c in keys.prefix().chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("{escaped}{}", Keys::default().tally_channel("*"))
}

async fn subscribe(
    client: &redis::Client,
    pattern: &str,
) -> redis::RedisResult<(PubSubSink, PubSubStream)> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.psubscribe(pattern).await?;
    Ok(pubsub.split())
}

/// Hands each message to the hub until the link is lost or shutdown.
async fn forward(
    mut sink: PubSubSink,
    mut stream: PubSubStream,
    channel_prefix: &str,
    hub: &Hub,
    shutdown: &CancellationToken,
) {
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            message = stream.next() => {
                let Some(message) = message else { return };
                let Some(name) = message.get_channel_name().strip_prefix(channel_prefix) else {
                    continue;
                };
                match name.strip_prefix(EVENT_CHANNEL_INFIX) {
                    Some(event) => deliver_event(hub, event, message.get_payload_bytes()),
                    None => deliver_results(hub, name, message.get_payload_bytes()),
                }
            }
            _ = ping.tick() => {
                let answered = tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(answered, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

/// Hands a poll's published results to its watchers, if it has any.
fn deliver_results(hub: &Hub, poll: &str, payload: &[u8]) {
    if !hub.is_watched(poll) {
        return;
    }
    match serde_json::from_slice::<PollResults>(payload) {
        Ok(results) if results.poll == poll => match Rendered::new(results, now_ms()) {
            Ok(rendered) => {
                hub.publish(poll, rendered);
            }
            Err(error) => tracing::error!(%error, poll, "results do not serialise"),
        },
        Ok(_) => tracing::warn!(poll, "published results name another poll; ignored"),
        Err(error) => tracing::warn!(%error, poll, "published results do not parse; ignored"),
    }
}

/// Hands an event's published definition to its watchers, if it has any.
fn deliver_event(hub: &Hub, event: &str, payload: &[u8]) {
    if !hub.is_event_watched(event) {
        return;
    }
    match serde_json::from_slice::<EventDefinition>(payload) {
        Ok(definition) if definition.id == event => match RenderedEvent::new(definition) {
            Ok(rendered) => {
                hub.publish_event(event, rendered);
            }
            Err(error) => tracing::error!(%error, event, "event does not serialise"),
        },
        Ok(_) => tracing::warn!(event, "published event names another event; ignored"),
        Err(error) => tracing::warn!(%error, event, "published event does not parse; ignored"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_covers_every_poll_under_the_prefix_only() {
        assert_eq!(pattern(&Keys::default()), "tally:*");
        assert_eq!(pattern(&Keys::new("t1:")), "t1:tally:*");
        assert_eq!(pattern(&Keys::new("a*b?")), "a\\*b\\?tally:*");
    }
}
