//! The vocabulary every Tally service shares: polls and their validation, the wire
//! format of the `votes` stream, the results document, and Redis key names.
//!
//! Nothing here does I/O; the services own their connections.

pub mod entry_id;
pub mod keys;
pub mod poll;
pub mod results;
pub mod vote_entry;

pub use entry_id::EntryId;
pub use keys::Keys;
pub use poll::{BallotError, Choice, PollDefinition, PollOption, DEFAULT_POLL_ID};
pub use results::{OptionResult, PollResults, ResultsRow, SELECT_POLL_RESULTS, STORE_RESULTS_LUA};
pub use vote_entry::{EntryError, VoteEntry};
