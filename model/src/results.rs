//! The results document: what `GET /results/<poll>` returns, what the worker caches in
//! Redis, and what it publishes on `tally:<poll>`.

use serde::{Deserialize, Serialize};

/// One option's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionResult {
    /// The option's id.
    pub id: String,
    /// The option's label.
    pub label: String,
    /// Ballots that chose it.
    pub votes: i64,
}

/// A poll's current results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResults {
    /// The poll's id.
    pub poll: String,
    /// The question.
    pub question: String,
    /// Counts per option, in display order.
    pub options: Vec<OptionResult>,
    /// Number of ballots (a multiple-choice ballot counts once here).
    pub total: i64,
    /// When the counts last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// Grows with every committed change to the poll's counts; a cache never replaces
    /// a newer version with an older one.
    pub version: i64,
}
