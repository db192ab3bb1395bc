//! The results document: what `GET /results/<poll>` returns, what the worker caches in
//! Redis, and what it publishes on `tally:<poll>`; and the one query that builds it.

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

/// Reads one poll's results; `$1` is the poll id. One row per option, in display order:
/// `question, ballots, version, updated_at (RFC 3339 text), option id, label, votes`.
/// Both the worker (after a commit) and the result service (on a cache miss) use it.
pub const SELECT_POLL_RESULTS: &str = "\
    SELECT p.question, p.ballots, p.version, \
           to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
           o.id, o.label, COALESCE(t.votes, 0) \
      FROM polls p \
      JOIN poll_options o ON o.poll_id = p.id \
      LEFT JOIN tallies t ON t.poll_id = o.poll_id AND t.option_id = o.id \
     WHERE p.id = $1 \
     ORDER BY o.position";

/// One row of [`SELECT_POLL_RESULTS`], as plain values.
pub type ResultsRow = (String, i64, i64, String, String, String, i64);

impl PollResults {
    /// Builds the document from the rows of [`SELECT_POLL_RESULTS`]; `None` when there
    /// are no rows (no such poll).
    pub fn from_rows(poll: &str, rows: impl IntoIterator<Item = ResultsRow>) -> Option<Self> {
        let mut results: Option<PollResults> = None;
        for (question, total, version, updated_at, id, label, votes) in rows {
            let results = results.get_or_insert_with(|| PollResults {
                poll: poll.to_owned(),
                question,
                options: Vec::new(),
                total,
                updated_at,
                version,
            });
            results.options.push(OptionResult { id, label, votes });
        }
        results
    }
}

/// Stores a results document in its cache hash unless the cache already holds the same
/// or a newer version, and (when `ARGV[3]` is `1`) publishes it on the channel
/// `ARGV[4]`, all atomically so that subscribers see versions in order.
/// `KEYS[1]` the cache hash; `ARGV[1]` version; `ARGV[2]` JSON body.
pub const STORE_RESULTS_LUA: &str = r"
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if current >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'body', ARGV[2])
if ARGV[3] == '1' then
  redis.call('PUBLISH', ARGV[4], ARGV[2])
end
return 1
";

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, votes: i64) -> ResultsRow {
        (
            "Q?".into(),
            7,
            3,
            "2026-01-01T00:00:00.000Z".into(),
            id.into(),
            id.to_uppercase(),
            votes,
        )
    }

    #[test]
    fn builds_from_rows_in_order() {
        let results = PollResults::from_rows("p", [row("a", 4), row("b", 3)]).unwrap();
        assert_eq!(results.total, 7);
        assert_eq!(results.version, 3);
        let ids: Vec<_> = results
            .options
            .iter()
            .map(|o| (o.id.as_str(), o.votes))
            .collect();
        assert_eq!(ids, [("a", 4), ("b", 3)]);
    }

    #[test]
    fn no_rows_means_no_poll() {
        assert_eq!(PollResults::from_rows("p", []), None);
    }
}
