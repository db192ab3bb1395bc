//! The wire format of one vote in the `votes` stream.
//!
//! Flat string fields, so that `redis-cli XRANGE votes - +` reads like a log:
//! `kind vote  vote_id …  poll default  options a  voter …  at 1700000000000`.
//! Option ids cannot contain commas ([`crate::poll::is_valid_option_id`]), so several
//! options are joined with commas. A word cloud ballot carries `words` instead of
//! `options`: its normalised answers, which may hold commas but never control
//! characters, joined with [`WORD_SEPARATOR`].

use crate::poll::{is_valid_option_id, is_valid_poll_id};
use crate::words::{is_normal_word, MAX_MAX_WORDS};

/// Joins a word cloud ballot's answers in the stream and in the worker's arrays: the
/// ASCII unit separator, a control character that no answer holds.
pub const WORD_SEPARATOR: char = '\u{1f}';

/// The `kind` field's value for a ballot.
pub const KIND_VOTE: &str = "vote";

/// Longest voter id accepted: the vote service issues 22-character ids; a little slack.
pub const MAX_VOTER_LEN: usize = 64;

/// A ballot as it travels from the vote service to the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteEntry {
    /// Unique id given by the vote service and returned to the client.
    pub vote_id: String,
    /// The poll voted on.
    pub poll: String,
    /// The chosen option ids (one for single choice), or a word cloud's answers.
    pub options: Vec<String>,
    /// Whether `options` are a word cloud's written answers rather than option ids.
    pub words: bool,
    /// The voter, from the signed cookie.
    pub voter: String,
    /// When the vote service accepted it (milliseconds since the Unix epoch).
    pub at_ms: u64,
}

/// Why a stream entry is not a vote the worker can apply; the reason goes with the
/// entry to the dead-letter stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// A required field is absent.
    #[error("missing field {0:?}")]
    Missing(&'static str),
    /// A field is present but its value is not acceptable.
    #[error("bad field {field:?}: {value:?}")]
    Bad {
        /// The field's name.
        field: &'static str,
        /// Its value, shortened for the log.
        value: String,
    },
    /// A `kind` this worker does not know.
    #[error("unknown entry kind {0:?}")]
    UnknownKind(String),
}

impl VoteEntry {
    /// The field/value pairs to pass to `XADD`.
    pub fn to_fields(&self) -> [(&'static str, String); 6] {
        [
            ("kind", KIND_VOTE.to_owned()),
            ("vote_id", self.vote_id.clone()),
            ("poll", self.poll.clone()),
            if self.words {
                ("words", self.options.join(&WORD_SEPARATOR.to_string()))
            } else {
                ("options", self.options.join(","))
            },
            ("voter", self.voter.clone()),
            ("at", self.at_ms.to_string()),
        ]
    }

    /// Reads an entry back from its fields, checking every one.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, EntryError> {
        let get = |name: &'static str| {
            fields
                .clone()
                .into_iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value)
                .ok_or(EntryError::Missing(name))
        };
        let bad = |field: &'static str, value: &str| EntryError::Bad {
            field,
            value: value.chars().take(80).collect(),
        };

        let kind = get("kind")?;
        if kind != KIND_VOTE {
            return Err(EntryError::UnknownKind(kind.chars().take(40).collect()));
        }
        let vote_id = get("vote_id")?;
        if vote_id.is_empty() || vote_id.len() > 64 {
            return Err(bad("vote_id", vote_id));
        }
        let poll = get("poll")?;
        if !is_valid_poll_id(poll) {
            return Err(bad("poll", poll));
        }
        let (options, words) = match get("words") {
            Ok(text) => {
                let words: Vec<String> = text.split(WORD_SEPARATOR).map(str::to_owned).collect();
                if words.len() > usize::from(MAX_MAX_WORDS)
                    || !words.iter().all(|w| is_normal_word(w))
                {
                    return Err(bad("words", text));
                }
                (words, true)
            }
            Err(_) => {
                let text = get("options")?;
                let options: Vec<String> = text.split(',').map(str::to_owned).collect();
                if !options.iter().all(|o| is_valid_option_id(o)) {
                    return Err(bad("options", text));
                }
                (options, false)
            }
        };
        let voter = get("voter")?;
        if voter.is_empty() || voter.len() > MAX_VOTER_LEN {
            return Err(bad("voter", voter));
        }
        let at = get("at")?;
        let at_ms = at.parse().map_err(|_| bad("at", at))?;
        Ok(VoteEntry {
            vote_id: vote_id.to_owned(),
            poll: poll.to_owned(),
            options,
            words,
            voter: voter.to_owned(),
            at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> VoteEntry {
        VoteEntry {
            vote_id: "v1".into(),
            poll: "default".into(),
            options: vec!["a".into(), "b".into()],
            words: false,
            voter: "voter-1".into(),
            at_ms: 1_700_000_000_000,
        }
    }

    fn decode(fields: &[(&str, String)]) -> Result<VoteEntry, EntryError> {
        VoteEntry::from_fields(fields.iter().map(|(k, v)| (*k, v.as_str())))
    }

    #[test]
    fn round_trips_through_fields() {
        let entry = sample();
        let fields = entry.to_fields();
        assert_eq!(decode(&fields), Ok(entry));
    }

    #[test]
    fn word_cloud_answers_round_trip_with_their_commas() {
        let entry = VoteEntry {
            options: vec!["rock, paper".into(), "c++".into()],
            words: true,
            ..sample()
        };
        let fields = entry.to_fields();
        assert_eq!(fields[3].0, "words");
        assert_eq!(decode(&fields), Ok(entry));
        for bad in ["Rust", "", "a\u{1f}", " b"] {
            let fields = [("words", bad.to_owned())].into_iter().chain(
                sample()
                    .to_fields()
                    .into_iter()
                    .filter(|(k, _)| *k != "options"),
            );
            let fields: Vec<_> = fields.collect();
            assert!(decode(&fields).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn reports_the_missing_field() {
        let fields: Vec<_> = sample()
            .to_fields()
            .into_iter()
            .filter(|(k, _)| *k != "voter")
            .collect();
        assert_eq!(decode(&fields), Err(EntryError::Missing("voter")));
    }

    #[test]
    fn rejects_bad_values() {
        for (field, value) in [
            ("poll", "no spaces"),
            ("options", "a,,b"),
            ("options", ""),
            ("at", "yesterday"),
            ("voter", ""),
            ("kind", "poll-delete"),
        ] {
            let fields: Vec<_> = sample()
                .to_fields()
                .into_iter()
                .map(|(k, v)| {
                    if k == field {
                        (k, value.to_owned())
                    } else {
                        (k, v)
                    }
                })
                .collect();
            assert!(decode(&fields).is_err(), "{field}={value:?} accepted");
        }
    }
}
