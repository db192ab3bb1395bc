//! In-process fan-out: one `watch` channel per poll and per event that someone is
//! watching, holding the newest document by version, and one for the state of the Redis
//! link. A `watch` keeps only the latest value, so a burst of updates costs a slow
//! reader nothing: it reads the newest state when it is ready (coalescing for free).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::message::{Rendered, RenderedEvent};

/// The newest document published for a poll since it was first watched.
pub type Latest = Option<Arc<Rendered>>;

/// A watcher of one poll's results.
pub type Feed = Watch<Rendered>;

/// A watcher of one event's definition.
pub type EventFeed = Watch<RenderedEvent>;

/// A document that only ever replaces an older version of itself.
pub trait Versioned {
    /// Grows with every change.
    fn version(&self) -> i64;
}

impl Versioned for Rendered {
    fn version(&self) -> i64 {
        Rendered::version(self)
    }
}

impl Versioned for RenderedEvent {
    fn version(&self) -> i64 {
        self.definition.version
    }
}

/// The state of the process's Redis subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not subscribed yet since start.
    Connecting,
    /// Subscribed: every published document arrives.
    Live,
    /// The link was lost (or could not be made); reconnecting with back-off.
    Reconnecting,
}

/// The channels of one kind of document, by key (a poll id, an event id).
#[derive(Debug)]
pub struct Channels<T> {
    feeds: Mutex<HashMap<String, watch::Sender<Option<Arc<T>>>>>,
}

impl<T: Versioned> Channels<T> {
    fn new() -> Arc<Self> {
        Arc::new(Channels {
            feeds: Mutex::new(HashMap::new()),
        })
    }

    fn watch(self: &Arc<Self>, key: &str) -> Watch<T> {
        let receiver = self
            .lock()
            .entry(key.to_owned())
            .or_insert_with(|| watch::Sender::new(None))
            .subscribe();
        Watch {
            channels: self.clone(),
            key: key.to_owned(),
            receiver,
        }
    }

    fn is_watched(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn publish(&self, key: &str, document: T) -> bool {
        let feeds = self.lock();
        let Some(sender) = feeds.get(key) else {
            return false;
        };
        let document = Arc::new(document);
        sender.send_if_modified(|latest| {
            let newer = latest
                .as_ref()
                .is_none_or(|current| document.version() > current.version());
            if newer {
                *latest = Some(document.clone());
            }
            newer
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<Option<Arc<T>>>>> {
        // The map stays consistent across a panic (each operation is one call on it).
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Per-poll and per-event channels and the link state, shared by the subscription and
/// every session.
#[derive(Debug)]
pub struct Hub {
    polls: Arc<Channels<Rendered>>,
    events: Arc<Channels<RenderedEvent>>,
    link: watch::Sender<LinkState>,
}

impl Hub {
    /// A hub with nothing watched, its link still connecting.
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub {
            polls: Channels::new(),
            events: Channels::new(),
            link: watch::Sender::new(LinkState::Connecting),
        })
    }

    /// Starts watching `poll`; the feed stops being kept when its last watcher drops.
    pub fn watch(&self, poll: &str) -> Feed {
        self.polls.watch(poll)
    }

    /// Whether anyone watches `poll` (documents of unwatched polls are not even parsed).
    pub fn is_watched(&self, poll: &str) -> bool {
        self.polls.is_watched(poll)
    }

    /// Number of polls watched now.
    pub fn watched_polls(&self) -> usize {
        self.polls.len()
    }

    /// Hands `rendered` to the watchers of `poll` unless they already have that version
    /// or a newer one. Returns whether it replaced the previous document.
    pub fn publish(&self, poll: &str, rendered: Rendered) -> bool {
        self.polls.publish(poll, rendered)
    }

    /// Starts watching the event `id`, as [`Hub::watch`] does a poll.
    pub fn watch_event(&self, id: &str) -> EventFeed {
        self.events.watch(id)
    }

    /// Whether anyone watches the event `id`.
    pub fn is_event_watched(&self, id: &str) -> bool {
        self.events.is_watched(id)
    }

    /// Hands an event's new definition to its watchers, as [`Hub::publish`] does.
    pub fn publish_event(&self, id: &str, rendered: RenderedEvent) -> bool {
        self.events.publish(id, rendered)
    }

    /// The link state, to be watched.
    pub fn link(&self) -> watch::Receiver<LinkState> {
        self.link.subscribe()
    }

    /// Records the link state; watchers wake only when it changes.
    pub fn set_link(&self, state: LinkState) {
        self.link.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }
}

/// One watcher of one poll or event.
#[derive(Debug)]
pub struct Watch<T: Versioned> {
    channels: Arc<Channels<T>>,
    key: String,
    receiver: watch::Receiver<Option<Arc<T>>>,
}

impl<T: Versioned> Watch<T> {
    /// The channel of the newest document.
    pub fn receiver(&mut self) -> &mut watch::Receiver<Option<Arc<T>>> {
        &mut self.receiver
    }
}

impl<T: Versioned> Drop for Watch<T> {
    fn drop(&mut self) {
        let mut feeds = self.channels.lock();
        // Our own receiver is still alive here, hence 1: nobody else watches.
        if feeds
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            feeds.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn results(poll: &str, version: i64) -> Rendered {
        let json = serde_json::json!({
            "poll": poll, "question": "Q?", "options": [], "total": version,
            "updated_at": "2026-01-01T00:00:00.000Z", "version": version,
        });
        Rendered::new(serde_json::from_value(json).unwrap(), 0).unwrap()
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let hub = Hub::new();
        let mut feed = hub.watch("p");
        assert!(hub.publish("p", results("p", 5)));
        assert!(!hub.publish("p", results("p", 4)));
        assert!(!hub.publish("p", results("p", 5)));
        assert_eq!(feed.receiver().borrow().as_ref().unwrap().version(), 5);
        assert!(hub.publish("p", results("p", 6)));
        assert_eq!(feed.receiver().borrow().as_ref().unwrap().version(), 6);
    }

    #[test]
    fn unwatched_polls_are_dropped_and_forgotten() {
        let hub = Hub::new();
        assert!(!hub.publish("p", results("p", 1)));
        let first = hub.watch("p");
        let second = hub.watch("p");
        assert!(hub.is_watched("p"));
        drop(first);
        assert!(hub.is_watched("p"));
        drop(second);
        assert!(!hub.is_watched("p"));
        assert_eq!(hub.watched_polls(), 0);
    }

    #[test]
    fn events_and_polls_are_kept_apart() {
        let hub = Hub::new();
        let _poll = hub.watch("same");
        assert!(!hub.is_event_watched("same"));
        let mut event = hub.watch_event("same");
        let definition: tally_model::event::EventDefinition =
            serde_json::from_value(serde_json::json!({
                "id": "same", "code": "01234567", "title": "T", "owner_hash": "", "questions": [],
                "current": null, "results_visible": true, "locked": false, "participants": 0,
                "version": 2,
            }))
            .unwrap();
        assert!(hub.publish_event("same", RenderedEvent::new(definition).unwrap()));
        assert_eq!(event.receiver().borrow().as_ref().unwrap().version(), 2);
        drop(event);
        assert!(!hub.is_event_watched("same"));
        assert!(hub.is_watched("same"));
    }

    #[test]
    fn link_watchers_wake_only_on_change() {
        let hub = Hub::new();
        let mut link = hub.link();
        hub.set_link(LinkState::Connecting);
        assert!(!link.has_changed().unwrap());
        hub.set_link(LinkState::Live);
        assert!(link.has_changed().unwrap());
        assert_eq!(*link.borrow_and_update(), LinkState::Live);
    }
}
