//! One live client's WebSocket session: a snapshot first, then the poll's newest results
//! at most once per update interval (always ending on the newest), link status when
//! Redis is lost and back, keep-alive pings, and a close code for every way it ends.
//! A session that follows an event sends the event's state first and on each change,
//! and follows the results of whichever question the presenter shows, switching to a
//! new question's snapshot the moment the presenter moves on.
//! Memory per client is bounded: one message in flight at a time, and a client whose
//! socket does not take it within the send timeout is closed instead of queued for.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tally_model::timestamp::now_ms;
use tally_model::PollResults;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::sync::watch::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use super::fanout::{EventFeed, Feed, Hub, LinkState, Versioned, Watch};
use super::message::{
    results_text, Ending, Rendered, RenderedEvent, ServerMessage, LIVE, RECONNECTING,
};
use crate::error::ResultError;
use crate::events::EventStore;
use crate::lookup::ResultsLookup;
use crate::metrics::LiveCounters;

/// Time a close handshake may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How a session ended, when it did not end by the client leaving.
enum End {
    /// The server ends it with this code.
    Close(Ending),
    /// The client left or the connection broke: nothing more to send.
    Gone,
}

/// What a session needs besides its socket.
#[derive(Debug)]
pub struct SessionParts {
    /// The poll watched: the session's own, or the event's current question (`None`
    /// while the event shows none).
    pub poll: Option<String>,
    /// Its feed of published documents.
    pub feed: Option<Feed>,
    /// The event followed, for a session of `/live/e/<code>`.
    pub event: Option<EventParts>,
    /// The Redis link's state.
    pub link: watch::Receiver<LinkState>,
    /// Where snapshots come from (the lookup `GET /results` uses).
    pub lookup: ResultsLookup,
    /// Shortest time between two results messages.
    pub interval: Duration,
    /// Time one message may take to be written.
    pub send_timeout: Duration,
    /// How often the client is pinged; silence until the next ping ends the session.
    pub ping_interval: Duration,
    /// Cancelled when the service shuts down.
    pub shutdown: CancellationToken,
    /// Where messages sent and slow clients are counted.
    pub counters: LiveCounters,
}

/// What a session following an event needs.
#[derive(Debug)]
pub struct EventParts {
    /// The join code the client asked for.
    pub code: String,
    /// The event's feed of published definitions.
    pub feed: EventFeed,
    /// Where snapshots of the event come from (the store `GET /events` uses).
    pub store: EventStore,
    /// Where the feed of each question shown is taken from.
    pub hub: Arc<Hub>,
}

/// A live session on `ws`.
pub struct Session<S> {
    ws: WebSocketStream<S>,
    parts: SessionParts,
    /// Version of the newest results sent, so an older one is never sent after it.
    last_sent: i64,
    /// Version of the newest event state sent (for event sessions).
    last_event: i64,
}

impl<S> std::fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("poll", &self.parts.poll)
            .field("last_sent", &self.last_sent)
            .field("last_event", &self.last_event)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// A session that has not sent anything yet.
    pub fn new(ws: WebSocketStream<S>, parts: SessionParts) -> Self {
        Session {
            ws,
            parts,
            last_sent: i64::MIN,
            last_event: i64::MIN,
        }
    }

    /// Serves the client until it leaves, is too slow, or the service shuts down.
    pub async fn run(mut self) {
        match self.serve().await {
            End::Close(ending) => {
                if matches!(ending, Ending::TooSlow) {
                    self.parts.counters.slow_clients_dropped.inc();
                }
                tracing::debug!(poll = ?self.parts.poll, ?ending, "closing live session");
                close(&mut self.ws, ending).await;
            }
            End::Gone => {
                // Writes the reply to a client's close frame, if it sent one.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.flush()).await;
            }
        }
    }

    async fn serve(&mut self) -> End {
        if let Err(end) = self.send_snapshots(false).await {
            return end;
        }
        let mut next_send = Instant::now() + self.parts.interval;
        let mut next_event_send = next_send;
        let mut pending = false;
        let mut event_pending = false;
        let mut link = *self.parts.link.borrow_and_update();
        // A snapshot taken while not subscribed may miss updates: take another once live.
        let mut refetch = link != LinkState::Live;
        let mut announced_down = false;
        if link == LinkState::Reconnecting {
            if let Err(end) = self.send_status(RECONNECTING).await {
                return end;
            }
            announced_down = true;
        }
        let every = self.parts.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heard_from = true;

        loop {
            let step = tokio::select! {
                biased;
                () = self.parts.shutdown.cancelled() => Err(End::Close(Ending::ShuttingDown)),
                changed = self.parts.link.changed() => match changed {
                    Err(_) => Err(End::Close(Ending::ShuttingDown)),
                    Ok(()) => {
                        link = *self.parts.link.borrow_and_update();
                        self.on_link(link, &mut announced_down, &mut refetch).await
                    }
                },
                changed = changed(self.parts.event.as_mut().map(|event| &mut event.feed)), if !event_pending => match changed {
                    Err(_) => Err(End::Close(Ending::ShuttingDown)),
                    Ok(()) => {
                        event_pending = true;
                        Ok(())
                    }
                },
                () = tokio::time::sleep_until(next_event_send), if event_pending => {
                    event_pending = false;
                    let latest = self.parts.event.as_mut().and_then(|event| event.feed.receiver().borrow_and_update().clone());
                    match latest {
                        Some(rendered) if rendered.version() > self.last_event => {
                            next_event_send = Instant::now() + self.parts.interval;
                            self.send_event(&rendered).await
                        }
                        _ => Ok(()),
                    }
                },
                changed = changed(self.parts.feed.as_mut()), if !pending => match changed {
                    Err(_) => Err(End::Close(Ending::ShuttingDown)),
                    Ok(()) => {
                        pending = true;
                        Ok(())
                    }
                },
                () = tokio::time::sleep_until(next_send), if pending => {
                    pending = false;
                    let latest = self.parts.feed.as_mut().and_then(|feed| feed.receiver().borrow_and_update().clone());
                    match latest {
                        Some(rendered) if rendered.version() > self.last_sent => {
                            next_send = Instant::now() + self.parts.interval;
                            self.send_rendered(&rendered).await
                        }
                        _ => Ok(()),
                    }
                },
                incoming = self.ws.next() => match incoming {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Err(End::Gone),
                    Some(Ok(_)) => {
                        heard_from = true;
                        Ok(())
                    }
                },
                _ = ping.tick() => {
                    if !heard_from {
                        Err(End::Close(Ending::NoPong))
                    } else {
                        heard_from = false;
                        self.send(Message::Ping(Default::default())).await
                    }
                },
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Tells the client about a lost or regained link; once live again, a fresh snapshot.
    async fn on_link(
        &mut self,
        link: LinkState,
        announced_down: &mut bool,
        refetch: &mut bool,
    ) -> Result<(), End> {
        match link {
            LinkState::Connecting => Ok(()),
            LinkState::Reconnecting => {
                *refetch = true;
                if !*announced_down {
                    *announced_down = true;
                    self.send_status(RECONNECTING).await?;
                }
                Ok(())
            }
            LinkState::Live => {
                // After an announced outage the client is promised a fresh snapshot even
                // if nothing changed; after the first subscription only a newer one.
                let promised = std::mem::take(announced_down);
                if promised {
                    self.send_status(LIVE).await?;
                }
                if std::mem::take(refetch) {
                    self.send_snapshots(promised).await?;
                }
                Ok(())
            }
        }
    }

    /// Sends what the client has not seen: the event's state (if it follows one, then
    /// following its current question) and the poll's results, newer than those sent,
    /// or as new when `promised` (a fresh snapshot after an announced outage).
    async fn send_snapshots(&mut self, promised: bool) -> Result<(), End> {
        if let Some(event) = &self.parts.event {
            let rendered = event_snapshot(&event.store, &event.code).await?;
            let version = rendered.version();
            if version > self.last_event || (promised && version == self.last_event) {
                self.send_event(&rendered).await?;
            }
        }
        let Some(poll) = self.parts.poll.clone() else {
            return Ok(());
        };
        let snapshot = snapshot(&self.parts.lookup, &poll).await?;
        if snapshot.version > self.last_sent || (promised && snapshot.version == self.last_sent) {
            self.send_results(&snapshot).await?;
        }
        Ok(())
    }

    /// Sends an event's state, then follows the question it shows: a new question's
    /// feed is watched before its snapshot is read, so no update falls between them.
    async fn send_event(&mut self, rendered: &RenderedEvent) -> Result<(), End> {
        self.send(Message::Text(rendered.text())).await?;
        self.last_event = rendered.version();
        let current = rendered.definition.current_poll();
        if current == self.parts.poll.as_deref() {
            return Ok(());
        }
        // Dropped first, so that a poll nobody else follows stops being kept.
        self.parts.feed = None;
        self.parts.poll = current.map(str::to_owned);
        self.last_sent = i64::MIN;
        let (Some(poll), Some(event)) = (current, &self.parts.event) else {
            return Ok(());
        };
        self.parts.feed = Some(event.hub.watch(poll));
        let snapshot = snapshot(&self.parts.lookup, poll).await?;
        self.send_results(&snapshot).await
    }

    /// Sends a snapshot (rendered for this client alone).
    async fn send_results(&mut self, results: &PollResults) -> Result<(), End> {
        let text = results_text(results, now_ms()).map_err(|_| End::Close(Ending::Unavailable))?;
        self.send(Message::Text(text)).await?;
        self.last_sent = results.version;
        Ok(())
    }

    /// Sends a published document (its frame shared by every client of the poll).
    async fn send_rendered(&mut self, rendered: &Rendered) -> Result<(), End> {
        let text = rendered
            .text(now_ms())
            .map_err(|_| End::Close(Ending::Unavailable))?;
        self.send(Message::Text(text)).await?;
        self.last_sent = rendered.version();
        Ok(())
    }

    async fn send_status(&mut self, state: &'static str) -> Result<(), End> {
        let text = serde_json::to_string(&ServerMessage::Status { state })
            .map_err(|_| End::Close(Ending::Unavailable))?;
        self.send(Message::text(text)).await
    }

    /// Writes one message; a client that does not take it in time is too slow.
    async fn send(&mut self, message: Message) -> Result<(), End> {
        let text = message.is_text();
        match tokio::time::timeout(self.parts.send_timeout, self.ws.send(message)).await {
            Ok(Ok(())) => {
                if text {
                    self.parts.counters.messages_sent.inc();
                }
                Ok(())
            }
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(Ending::TooSlow)),
        }
    }
}

/// The next change on `watch`, or never when there is nothing watched.
async fn changed<T: Versioned>(watch: Option<&mut Watch<T>>) -> Result<(), RecvError> {
    match watch {
        Some(watch) => watch.receiver().changed().await,
        None => std::future::pending().await,
    }
}

/// The event's current state, rendered (separate from the session, as [`snapshot`]).
async fn event_snapshot(store: &EventStore, code: &str) -> Result<RenderedEvent, End> {
    let found = store.by_code(code).await.map_err(|error| match error {
        ResultError::UnknownEvent(_) => End::Close(Ending::UnknownEvent),
        _ => End::Close(Ending::Unavailable),
    })?;
    RenderedEvent::new(found.definition).map_err(|error| {
        tracing::error!(%error, code, "the event's view does not serialise");
        End::Close(Ending::Unavailable)
    })
}

/// `poll`'s current results from `lookup` (a separate function: the socket is not
/// `Sync`, so the future must not borrow the whole session).
async fn snapshot(lookup: &ResultsLookup, poll: &str) -> Result<PollResults, End> {
    let body = lookup.body(poll).await.map_err(|error| match error {
        ResultError::UnknownPoll(_) | ResultError::NotFound => End::Close(Ending::UnknownPoll),
        _ => End::Close(Ending::Unavailable),
    })?;
    serde_json::from_slice(&body).map_err(|error| {
        tracing::error!(%error, poll, "cached results do not parse");
        End::Close(Ending::Unavailable)
    })
}

/// Sends the close frame for `ending` and waits briefly for the client's reply. A client
/// too slow to take the frame is simply disconnected when the socket drops.
pub async fn close<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, ending: Ending) {
    let frame = CloseFrame {
        code: ending.code(),
        reason: ending.reason().into(),
    };
    if !matches!(
        tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}
