//! The results document: what `GET /results/<poll>` returns, what the worker caches in
//! Redis, and what it publishes on `tally:<poll>`; and the one query that builds it.

use serde::{Deserialize, Serialize};

use crate::identity::Identity;
use crate::poll::Choice;
use crate::ranking::borda_score;
use crate::scale::{Scale, ScaleSummary};
use crate::timestamp::parse_ms;
use crate::words::{WordCount, Words};

/// One option's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionResult {
    /// The option's id.
    pub id: String,
    /// The option's label.
    pub label: String,
    /// Ballots that chose it; `null` in the public view while results are hidden.
    pub votes: Option<i64>,
    /// A ranking question's Borda score ([`crate::ranking`]); `null` while hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// A ranking question's distribution: how many ballots put this option first,
    /// second, …; `null` while hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub places: Option<Vec<i64>>,
}

/// A poll's current results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollResults {
    /// The poll's id.
    pub poll: String,
    /// The question.
    pub question: String,
    /// Counts per option, in display order.
    pub options: Vec<OptionResult>,
    /// Number of ballots (a multiple-choice ballot counts once here); `null` in the
    /// public view while results are hidden.
    pub total: Option<i64>,
    /// When the counts last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// Grows with every committed change to the poll's counts; a cache never replaces
    /// a newer version with an older one.
    pub version: i64,
    /// Whether the poll takes votes (as stored; [`PollResults::at`] also applies `closes_at`).
    #[serde(default = "open_by_default")]
    pub open: bool,
    /// When the poll closes by itself (RFC 3339, UTC).
    #[serde(default)]
    pub closes_at: Option<String>,
    /// Single or multiple choice.
    #[serde(default = "single_by_default")]
    pub choice: Choice,
    /// Whether counts are withheld from the public until the poll closes.
    #[serde(default)]
    pub hide_results: bool,
    /// Whether this copy withholds the counts.
    #[serde(default)]
    pub hidden: bool,
    /// The event this poll is a question of: its presenter reveals and hides the
    /// counts (`hide_results`), whether or not the question is still open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The scale of a scale question (its options are the points, in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// A scale question's mean and median; `null` in the public view while results
    /// are hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ScaleSummary>,
    /// A word cloud question's answers, the most given first (at most
    /// [`crate::words::MAX_CLOUD_WORDS`], hidden ones left out); absent in the public
    /// view while results are hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<WordCount>>,
    /// A word cloud question's limits: how many answers a participant gives, how long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_limits: Option<Words>,
    /// Who counts as a voter: the pages ask for a voter code or the room's passcode
    /// where the poll takes one.
    #[serde(default)]
    pub identity: Identity,
}

fn open_by_default() -> bool {
    true
}

fn single_by_default() -> Choice {
    Choice::Single
}

/// Reads one poll's results; `$1` is the poll id. One row per option, in display order
/// (see [`ResultsRow`] for the columns), or one row without an option for a word cloud,
/// whose last two columns list its visible answers and their counts, the most given
/// first. Both the worker (after a commit) and the result service (on a cache miss) use
/// it; it reads only columns the read-only role may see.
pub const SELECT_POLL_RESULTS: &str = "\
    SELECT p.question, p.ballots, p.version, \
           to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
           o.id, o.label, COALESCE(t.votes, 0), p.open, \
           to_char(p.closes_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
           p.choice, p.hide_results, p.event_id, \
           p.scale_min, p.scale_max, p.scale_min_label, p.scale_max_label, \
           (SELECT array_agg(r.votes ORDER BY r.place) FROM rank_tallies r \
             WHERE r.poll_id = o.poll_id AND r.option_id = o.id), \
           w.words, w.counts, p.words_max, p.word_max_chars, p.identity \
      FROM polls p \
      LEFT JOIN poll_options o ON o.poll_id = p.id \
      LEFT JOIN LATERAL ( \
           SELECT array_agg(c.word ORDER BY c.votes DESC, c.word) AS words, \
                  array_agg(c.votes ORDER BY c.votes DESC, c.word) AS counts \
             FROM (SELECT word, votes FROM word_tallies \
                    WHERE poll_id = p.id AND votes > 0 AND NOT hidden \
                    ORDER BY votes DESC, word LIMIT 100) c \
            WHERE p.choice = 'words') w ON true \
      LEFT JOIN tallies t ON t.poll_id = o.poll_id AND t.option_id = o.id \
     WHERE p.id = $1 \
     ORDER BY o.position";

/// One row of [`SELECT_POLL_RESULTS`], column by column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsRow {
    /// `p.question`
    pub question: String,
    /// `p.ballots`
    pub ballots: i64,
    /// `p.version`
    pub version: i64,
    /// `p.updated_at`, RFC 3339
    pub updated_at: String,
    /// `o.id`; `None` on a word cloud's one row
    pub option_id: Option<String>,
    /// `o.label`
    pub label: Option<String>,
    /// the option's count
    pub votes: i64,
    /// `p.open`
    pub open: bool,
    /// `p.closes_at`, RFC 3339
    pub closes_at: Option<String>,
    /// `p.choice` (`single` or `multiple`)
    pub choice: String,
    /// `p.hide_results`
    pub hide_results: bool,
    /// `p.event_id`
    pub event: Option<String>,
    /// `p.scale_min` … `p.scale_max_label`, when the poll is a scale
    pub scale: Option<Scale>,
    /// the option's `rank_tallies` by place, when the poll is a ranking
    pub places: Option<Vec<i64>>,
    /// a word cloud's visible answers, the most given first
    pub words: Option<Vec<String>>,
    /// their counts, in the same order
    pub word_counts: Option<Vec<i64>>,
    /// `p.words_max` and `p.word_max_chars`, when the poll is a word cloud
    pub word_limits: Option<Words>,
    /// `p.identity`
    pub identity: String,
}

impl ResultsRow {
    /// The word cloud this row carries, if the poll is one.
    fn word_cloud(&self) -> Option<Vec<WordCount>> {
        if self.choice != Choice::Words.name() {
            return None;
        }
        let words = self.words.as_deref().unwrap_or_default();
        let counts = self.word_counts.as_deref().unwrap_or_default();
        Some(
            words
                .iter()
                .zip(counts)
                .map(|(word, count)| WordCount {
                    word: word.clone(),
                    count: *count,
                })
                .collect(),
        )
    }
}

impl PollResults {
    /// Builds the document from the rows of [`SELECT_POLL_RESULTS`]; `None` when there
    /// are no rows (no such poll).
    pub fn from_rows(poll: &str, rows: impl IntoIterator<Item = ResultsRow>) -> Option<Self> {
        let mut results: Option<PollResults> = None;
        for row in rows {
            let words = row.word_cloud();
            let results = results.get_or_insert_with(|| PollResults {
                poll: poll.to_owned(),
                question: row.question,
                options: Vec::new(),
                total: Some(row.ballots),
                updated_at: row.updated_at,
                version: row.version,
                open: row.open,
                closes_at: row.closes_at,
                choice: Choice::from_name(&row.choice).unwrap_or(Choice::Single),
                hide_results: row.hide_results,
                hidden: false,
                event: row.event,
                scale: row.scale,
                summary: None,
                words,
                word_limits: row.word_limits,
                identity: Identity::from_name(&row.identity).unwrap_or_default(),
            });
            if let (Some(id), Some(label)) = (row.option_id, row.label) {
                results.options.push(OptionResult {
                    id,
                    label,
                    votes: Some(row.votes),
                    score: row.places.as_deref().map(borda_score),
                    places: row.places,
                });
            }
        }
        if let Some(results) = &mut results {
            results.summary = results.scale.as_ref().map(|scale| {
                let counts: Vec<i64> = results
                    .options
                    .iter()
                    .map(|o| o.votes.unwrap_or(0))
                    .collect();
                scale.summarise(&counts)
            });
        }
        results
    }

    /// The document as of `now_ms`: `open` is false once `closes_at` has passed.
    pub fn at(mut self, now_ms: u64) -> PollResults {
        let closed_by_time = self
            .closes_at
            .as_deref()
            .and_then(|text| parse_ms(text).ok())
            .is_some_and(|closes_at| now_ms >= closes_at);
        if closed_by_time {
            self.open = false;
        }
        self
    }

    /// What anyone may see at `now_ms`: while a poll that hides its results is open
    /// (or, for a question of an event, while its presenter hides them), every count
    /// and the total are `null` and `hidden` is true; otherwise the document as of
    /// `now_ms` (see [`PollResults::at`]).
    pub fn public_view(self, now_ms: u64) -> PollResults {
        let mut view = self.at(now_ms);
        if view.hide_results && (view.open || view.event.is_some()) {
            for option in &mut view.options {
                option.votes = None;
                option.score = None;
                option.places = None;
            }
            view.total = None;
            view.summary = None;
            view.words = None;
            view.hidden = true;
        }
        view
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
        ResultsRow {
            question: "Q?".into(),
            ballots: 7,
            version: 3,
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            option_id: Some(id.into()),
            label: Some(id.to_uppercase()),
            votes,
            open: true,
            closes_at: Some("2026-05-01T18:00:00.000Z".into()),
            choice: "multiple".into(),
            hide_results: true,
            event: None,
            scale: None,
            places: None,
            words: None,
            word_counts: None,
            word_limits: None,
            identity: "passcode".into(),
        }
    }

    /// 2026-05-01T18:00:00Z
    const CLOSES_AT: u64 = 1_777_658_400_000;

    #[test]
    fn builds_from_rows_in_order() {
        let results = PollResults::from_rows("p", [row("a", 4), row("b", 3)]).unwrap();
        assert_eq!(results.total, Some(7));
        assert_eq!(results.version, 3);
        assert_eq!(results.choice, Choice::Multiple);
        assert!(results.open && results.hide_results && !results.hidden);
        assert_eq!(results.identity, Identity::Passcode);
        let ids: Vec<_> = results
            .options
            .iter()
            .map(|o| (o.id.as_str(), o.votes))
            .collect();
        assert_eq!(ids, [("a", Some(4)), ("b", Some(3))]);
    }

    #[test]
    fn a_scale_carries_its_summary_unless_hidden() {
        let scale = Scale {
            min: 1,
            max: 3,
            min_label: "Low".into(),
            max_label: String::new(),
        };
        let rows = [("a", 1), ("b", 0), ("c", 3)].map(|(id, votes)| ResultsRow {
            choice: "single".into(),
            scale: Some(scale.clone()),
            ..row(id, votes)
        });
        let results = PollResults::from_rows("p", rows).unwrap();
        let summary = results.summary.unwrap();
        assert_eq!((summary.mean, summary.median), (Some(2.5), Some(3.0)));
        let json = serde_json::to_value(&results).unwrap();
        assert_eq!(json["scale"]["min_label"], "Low");
        assert_eq!(json["summary"]["median"], 3.0);
        let hidden = results.public_view(CLOSES_AT - 1);
        assert!(hidden.hidden && hidden.summary.is_none());
        assert_eq!(hidden.scale, Some(scale), "the room still sees the scale");
    }

    #[test]
    fn a_ranking_scores_each_option_by_borda_count_unless_hidden() {
        // Three ballots over three options: a,b,c / a,c,b / b,a,c.
        let rows =
            [("a", [2, 1, 0]), ("b", [1, 1, 1]), ("c", [0, 1, 2])].map(|(id, places)| ResultsRow {
                choice: "ranking".into(),
                places: Some(places.to_vec()),
                ..row(id, 3)
            });
        let results = PollResults::from_rows("p", rows).unwrap();
        assert_eq!(results.choice, Choice::Ranking);
        let scores: Vec<_> = results.options.iter().map(|o| o.score).collect();
        assert_eq!(scores, [Some(5), Some(3), Some(1)]);
        let json = serde_json::to_value(&results).unwrap();
        assert_eq!(json["options"][2]["places"], serde_json::json!([0, 1, 2]));
        let hidden = results.public_view(CLOSES_AT - 1);
        assert!(hidden
            .options
            .iter()
            .all(|o| o.score.is_none() && o.places.is_none()));
    }

    #[test]
    fn a_word_cloud_lists_its_answers_unless_hidden() {
        let cloud = ResultsRow {
            choice: "words".into(),
            option_id: None,
            label: None,
            words: Some(vec!["rust".into(), "go".into()]),
            word_counts: Some(vec![5, 2]),
            word_limits: Some(Words::default()),
            ..row("a", 0)
        };
        let results = PollResults::from_rows("p", [cloud.clone()]).unwrap();
        assert!(results.options.is_empty());
        let json = serde_json::to_value(&results).unwrap();
        assert_eq!(
            json["words"][0],
            serde_json::json!({"word": "rust", "count": 5})
        );
        assert_eq!(json["words"][1]["count"], 2);
        let hidden = results.public_view(CLOSES_AT - 1);
        assert_eq!(hidden.words, None, "the answers are withheld");
        let nobody = ResultsRow {
            words: None,
            word_counts: None,
            ..cloud
        };
        let empty = PollResults::from_rows("p", [nobody]).unwrap();
        assert_eq!(empty.words, Some(Vec::new()), "a cloud with no answer yet");
        let options = PollResults::from_rows("p", [row("a", 1)]).unwrap();
        assert_eq!(options.words, None);
    }

    #[test]
    fn the_query_lists_as_many_answers_as_a_cloud_shows() {
        let limit = format!("LIMIT {}", crate::words::MAX_CLOUD_WORDS);
        assert!(SELECT_POLL_RESULTS.contains(&limit));
    }

    #[test]
    fn no_rows_means_no_poll() {
        assert_eq!(PollResults::from_rows("p", []), None);
    }

    #[test]
    fn hidden_results_are_null_until_the_poll_closes() {
        let results = PollResults::from_rows("p", [row("a", 4), row("b", 3)]).unwrap();
        let before = results.clone().public_view(CLOSES_AT - 1);
        assert!(before.hidden && before.open);
        assert_eq!(before.total, None);
        assert!(before.options.iter().all(|o| o.votes.is_none()));
        let json = serde_json::to_value(&before).unwrap();
        assert_eq!(json["total"], serde_json::Value::Null);
        assert_eq!(json["options"][0]["votes"], serde_json::Value::Null);
        assert_eq!(json["options"][0]["label"], "A");

        let after = results.clone().public_view(CLOSES_AT);
        assert!(!after.open && !after.hidden);
        assert_eq!(after.total, Some(7));

        let mut closed_by_hand = results;
        closed_by_hand.open = false;
        closed_by_hand.closes_at = None;
        assert_eq!(closed_by_hand.clone().public_view(0), closed_by_hand);
    }

    #[test]
    fn an_event_question_stays_hidden_after_it_closes_until_revealed() {
        let mut results = PollResults::from_rows("p", [row("a", 4)]).unwrap();
        results.event = Some("eV3nt00001".into());
        results.closes_at = None;
        results.open = false;
        let hidden = results.clone().public_view(0);
        assert!(hidden.hidden && hidden.total.is_none());
        results.hide_results = false;
        assert_eq!(results.clone().public_view(0), results);
    }

    #[test]
    fn visible_results_are_unchanged_by_the_public_view() {
        let mut results = PollResults::from_rows("p", [row("a", 4)]).unwrap();
        results.hide_results = false;
        results.closes_at = None;
        assert_eq!(results.clone().public_view(CLOSES_AT), results);
    }

    #[test]
    fn documents_cached_before_polls_could_close_still_read() {
        let old = r#"{"poll":"default","question":"Q","options":[{"id":"a","label":"A","votes":2}],
                      "total":2,"updated_at":"2026-01-01T00:00:00.000Z","version":4}"#;
        let results: PollResults = serde_json::from_str(old).unwrap();
        assert!(results.open && !results.hide_results && !results.hidden);
        assert_eq!(results.choice, Choice::Single);
        assert_eq!(results.options[0].votes, Some(2));
    }
}
