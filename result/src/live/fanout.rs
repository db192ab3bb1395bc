//! In-process fan-out: one `watch` channel per poll that someone is watching, holding the
//! newest results document by version, and one for the state of the Redis link. A
//! `watch` keeps only the latest value, so a burst of updates costs a slow reader
//! nothing: it reads the newest state when it is ready (coalescing for free).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::message::Rendered;

/// The newest document published for a poll since it was first watched.
pub type Latest = Option<Arc<Rendered>>;

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

/// Per-poll channels and the link state, shared by the subscription and every session.
#[derive(Debug)]
pub struct Hub {
    feeds: Mutex<HashMap<String, watch::Sender<Latest>>>,
    link: watch::Sender<LinkState>,
}

impl Hub {
    /// A hub with no watched polls, its link still connecting.
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub {
            feeds: Mutex::new(HashMap::new()),
            link: watch::Sender::new(LinkState::Connecting),
        })
    }

    /// Starts watching `poll`; the feed stops being kept when its last watcher drops.
    pub fn watch(self: &Arc<Self>, poll: &str) -> Feed {
        let receiver = self
            .lock()
            .entry(poll.to_owned())
            .or_insert_with(|| watch::Sender::new(None))
            .subscribe();
        Feed {
            hub: self.clone(),
            poll: poll.to_owned(),
            receiver,
        }
    }

    /// Whether anyone watches `poll` (documents of unwatched polls are not even parsed).
    pub fn is_watched(&self, poll: &str) -> bool {
        self.lock().contains_key(poll)
    }

    /// Number of polls watched now.
    pub fn watched_polls(&self) -> usize {
        self.lock().len()
    }

    /// Hands `rendered` to the watchers of `poll` unless they already have that version
    /// or a newer one. Returns whether it replaced the previous document.
    pub fn publish(&self, poll: &str, rendered: Rendered) -> bool {
        let feeds = self.lock();
        let Some(sender) = feeds.get(poll) else {
            return false;
        };
        let results = Arc::new(rendered);
        sender.send_if_modified(|latest| {
            let newer = latest
                .as_ref()
                .is_none_or(|current| results.version() > current.version());
            if newer {
                *latest = Some(results.clone());
            }
            newer
        })
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

    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<Latest>>> {
        // The map stays consistent across a panic (each operation is one call on it).
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One watcher of one poll.
#[derive(Debug)]
pub struct Feed {
    hub: Arc<Hub>,
    poll: String,
    receiver: watch::Receiver<Latest>,
}

impl Feed {
    /// The channel of the poll's newest document.
    pub fn receiver(&mut self) -> &mut watch::Receiver<Latest> {
        &mut self.receiver
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let mut feeds = self.hub.lock();
        // Our own receiver is still alive here, hence 1: nobody else watches.
        if feeds
            .get(&self.poll)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            feeds.remove(&self.poll);
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
