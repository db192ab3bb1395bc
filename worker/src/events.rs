//! Events inside the batch transaction: creations (the event, then each question as a
//! poll of the event) and presenter commands.

use tally_model::{EntryId, EventCommandEntry, EventCreateEntry};

/// An event's creation read from the stream, with the id of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEventCreate {
    /// The stream entry id.
    pub id: EntryId,
    /// The creation.
    pub entry: EventCreateEntry,
}

/// A presenter's command read from the stream, with the id of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEventCommand {
    /// The stream entry id.
    pub id: EntryId,
    /// The command.
    pub entry: EventCommandEntry,
}
