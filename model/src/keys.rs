//! Redis key and channel names, all in one place and all under one prefix.
//!
//! Production uses the empty prefix; tests give each case its own prefix so that many
//! cases share one Redis server without seeing each other's keys.

/// Builds every Redis name Tally uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

/// The consumer group every worker reads the vote stream through.
pub const CONSUMER_GROUP: &str = "workers";

impl Keys {
    /// Names under `prefix` (for example `"t42:"`; empty in production).
    pub fn new(prefix: impl Into<String>) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The stream the vote service appends to and the workers read.
    pub fn vote_stream(&self) -> String {
        format!("{}votes", self.prefix)
    }

    /// Where entries that can never be applied are kept, with the reason.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}votes:dead", self.prefix)
    }

    /// A poll's definition (JSON of [`crate::PollDefinition`]), written by the worker.
    pub fn poll_definition(&self, poll: &str) -> String {
        format!("{}poll:{poll}", self.prefix)
    }

    /// Present while the poll definitions in Redis are complete; a Redis that lost its
    /// data loses this too, which tells the worker to write them again.
    pub fn definitions_marker(&self) -> String {
        format!("{}polls:written", self.prefix)
    }

    /// A poll's cached results: a hash with `version` and `body` (JSON of [`crate::PollResults`]).
    pub fn results_cache(&self, poll: &str) -> String {
        format!("{}results:{poll}", self.prefix)
    }

    /// The pub/sub channel a poll's fresh results are published on.
    pub fn tally_channel(&self, poll: &str) -> String {
        format!("{}tally:{poll}", self.prefix)
    }

    /// An event's definition: a hash with `version` and `body` (JSON of
    /// [`crate::EventDefinition`]), written by the worker.
    pub fn event_definition(&self, event: &str) -> String {
        format!("{}event:{event}", self.prefix)
    }

    /// The id of the event a join code names, written by the worker.
    pub fn event_code(&self, code: &str) -> String {
        format!("{}eventcode:{code}", self.prefix)
    }

    /// The pub/sub channel an event's new definitions are published on. It is under
    /// `tally:` so that the one pattern subscription of the result service receives it;
    /// poll ids cannot hold `:`, so [`EVENT_CHANNEL_INFIX`] cannot name a poll.
    pub fn event_channel(&self, event: &str) -> String {
        self.tally_channel(&format!("{EVENT_CHANNEL_INFIX}{event}"))
    }
}

/// What follows `tally:` in an event's channel, before the event id.
pub const EVENT_CHANNEL_INFIX: &str = "event:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_names_match_the_design() {
        let keys = Keys::default();
        assert_eq!(keys.vote_stream(), "votes");
        assert_eq!(keys.tally_channel("default"), "tally:default");
        assert_eq!(keys.poll_definition("default"), "poll:default");
        assert_eq!(keys.event_channel("eV3nt00001"), "tally:event:eV3nt00001");
    }

    #[test]
    fn prefix_applies_to_every_name() {
        let keys = Keys::new("t1:");
        for name in [
            keys.vote_stream(),
            keys.dead_letter_stream(),
            keys.poll_definition("p"),
            keys.definitions_marker(),
            keys.results_cache("p"),
            keys.tally_channel("p"),
            keys.event_definition("e"),
            keys.event_code("12345678"),
            keys.event_channel("e"),
        ] {
            assert!(name.starts_with("t1:"), "{name}");
        }
    }
}
