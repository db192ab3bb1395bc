//! The vocabulary every Tally service shares: polls and events and their validation, the wire
//! format of the `votes` stream, the results document, and Redis key names.
//!
//! Nothing here does I/O; the services own their connections.

pub mod admin_token;
pub mod entry_id;
pub mod event;
pub mod event_entry;
pub mod identity;
pub mod keys;
pub mod new_poll;
pub mod passcode;
pub mod poll;
pub mod poll_entry;
pub mod ranking;
pub mod results;
pub mod scale;
pub mod timestamp;
pub mod vote_entry;
pub mod voter_code;
pub mod words;

pub use entry_id::EntryId;
pub use event::{EventBallotError, EventDefinition, EventView, NewEvent};
pub use event_entry::{EventAction, EventCommandEntry, EventCreateEntry};
pub use identity::Identity;
pub use keys::Keys;
pub use new_poll::{NewPoll, PollRuleError};
pub use poll::{BallotError, Choice, PollDefinition, PollOption, DEFAULT_POLL_ID};
pub use poll_entry::{CreateEntry, StatusEntry, StreamEntry};
pub use results::{OptionResult, PollResults, ResultsRow, SELECT_POLL_RESULTS, STORE_RESULTS_LUA};
pub use scale::{Scale, ScaleSummary};
pub use vote_entry::{EntryError, VoteEntry};
pub use words::{WordCount, Words};
