//! Polls as the services see them, and the rules a ballot must follow.
//!
//! The worker owns polls (Postgres is the record) and writes each definition to Redis
//! as JSON; the vote service validates ballots against that copy.

use serde::{Deserialize, Serialize};

use crate::identity::Identity;
use crate::words::{is_blocked, is_normal_word, WordError, Words};

/// The poll that exists from the first start: the classic app's "Cats vs Dogs".
pub const DEFAULT_POLL_ID: &str = "default";

/// Longest poll id accepted: room for a readable slug or a random share id.
pub const MAX_POLL_ID_LEN: usize = 64;

/// Longest option id accepted: option ids are short keys such as `a` or `yes`.
pub const MAX_OPTION_ID_LEN: usize = 32;

/// Whether a ballot names one option, several, or puts them all in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// Exactly one option.
    Single,
    /// One or more distinct options.
    Multiple,
    /// Every option exactly once, the favourite first (counted by Borda count, see
    /// [`crate::ranking`]).
    Ranking,
    /// Written answers, counted per answer into a word cloud ([`crate::words`]); the
    /// poll has no options.
    Words,
}

impl Choice {
    /// Every choice, in the order error messages list them.
    pub const ALL: [Choice; 4] = [
        Choice::Single,
        Choice::Multiple,
        Choice::Ranking,
        Choice::Words,
    ];

    /// `single`, `multiple`, `ranking` or `words`, as the schema, the stream and the API
    /// spell it.
    pub fn name(self) -> &'static str {
        match self {
            Choice::Single => "single",
            Choice::Multiple => "multiple",
            Choice::Ranking => "ranking",
            Choice::Words => "words",
        }
    }

    /// The choice spelled `name`, if any.
    pub fn from_name(name: &str) -> Option<Choice> {
        Choice::ALL.into_iter().find(|choice| choice.name() == name)
    }
}

/// One answer a voter can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollOption {
    /// Stable key used in ballots (`a`, `b`, ...).
    pub id: String,
    /// What people read.
    pub label: String,
}

/// A poll's definition, as cached in Redis for the vote service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollDefinition {
    /// The poll's id.
    pub id: String,
    /// The question asked.
    pub question: String,
    /// Single or multiple choice.
    pub choice: Choice,
    /// Whether votes are accepted.
    pub open: bool,
    /// The options, in display order.
    pub options: Vec<PollOption>,
    /// When the poll stops taking votes by itself (milliseconds since the epoch).
    #[serde(default)]
    pub closes_at: Option<u64>,
    /// Whether counts are withheld from everyone but the admin until the poll closes.
    #[serde(default)]
    pub hide_results: bool,
    /// SHA-256 (hex) of the admin token; `None` for polls nobody administers (the default).
    #[serde(default)]
    pub admin_hash: Option<String>,
    /// The event this poll is a question of; `None` for a poll of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// A word cloud question's limits; `None` for every other poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<Words>,
    /// Answers its event refuses (normalised), for a word cloud question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_words: Vec<String>,
    /// Who counts as a voter: see [`Identity`].
    #[serde(default)]
    pub identity: Identity,
    /// The hashes of the poll's voter codes ([`crate::voter_code::hash_code`]), sorted,
    /// for a poll whose identity is `code`; empty for every other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voter_code_hashes: Vec<String>,
    /// The hash of the room passcode ([`crate::passcode::hash_passcode`], bound to the
    /// event on an event's question, else to the poll) when the identity is `passcode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passcode_hash: Option<String>,
}

/// Why a ballot does not fit its poll.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BallotError {
    /// The poll does not accept votes any more.
    #[error("poll {0:?} is closed")]
    Closed(String),
    /// An option that the poll does not have.
    #[error("poll has no option {0:?}")]
    UnknownOption(String),
    /// No option at all.
    #[error("a ballot must choose at least one option")]
    Empty,
    /// Several options on a single-choice poll.
    #[error("this poll takes exactly one option")]
    TooMany,
    /// The same option twice.
    #[error("option {0:?} is chosen twice")]
    Duplicate(String),
    /// A ranking that leaves options out.
    #[error("rank every option: this question has {0}")]
    Unranked(usize),
    /// Options on a word cloud question.
    #[error("this question takes written answers: send \"words\", not options")]
    WordsExpected,
    /// Written answers on a question with options.
    #[error("this question takes options, not written answers")]
    OptionsExpected,
    /// More answers than the question takes.
    #[error("this question takes at most {0} answers")]
    TooManyWords(u8),
    /// A written answer that cannot be taken (1-based position).
    #[error("answer {0} {1}")]
    BadWord(usize, WordError),
    /// The same answer twice (after normalising).
    #[error("answer {0:?} is given twice")]
    DuplicateWord(String),
    /// An answer on the event's block list.
    #[error("one of these answers is not accepted at this event")]
    Blocked,
}

impl PollDefinition {
    /// Whether `code` (as typed) is one of this poll's voter codes (its event's, for an
    /// event's question); returns it normalised.
    pub fn voter_code(&self, typed: &str) -> Option<String> {
        let code = crate::voter_code::normalise_code(typed)?;
        let hash = crate::voter_code::hash_code(self.code_owner(), &code);
        self.voter_code_hashes
            .binary_search(&hash)
            .is_ok()
            .then_some(code)
    }

    /// What its voter codes and passcode are bound to: its event, or the poll itself.
    fn code_owner(&self) -> &str {
        self.event.as_deref().unwrap_or(&self.id)
    }

    /// Whether `typed` is the room passcode this poll takes.
    pub fn passcode_matches(&self, typed: &str) -> bool {
        let Ok(passcode) = crate::passcode::normalise_passcode(typed) else {
            return false;
        };
        let hash = crate::passcode::hash_passcode(self.code_owner(), &passcode);
        self.passcode_hash.as_deref() == Some(hash.as_str())
    }

    /// Whether the poll takes votes at `now_ms`: open, and not past its closing time.
    pub fn is_open_at(&self, now_ms: u64) -> bool {
        self.open && self.closes_at.is_none_or(|closes_at| now_ms < closes_at)
    }

    /// Checks a ballot against this poll now; the options must be known, distinct, and
    /// as many as the poll's choice allows. Whether the poll is open is checked too.
    pub fn check_ballot(&self, options: &[String]) -> Result<(), BallotError> {
        self.check_ballot_at(options, crate::timestamp::now_ms())
    }

    /// [`Self::check_ballot`] at the instant `now_ms`.
    pub fn check_ballot_at(&self, options: &[String], now_ms: u64) -> Result<(), BallotError> {
        if !self.is_open_at(now_ms) {
            return Err(BallotError::Closed(self.id.clone()));
        }
        self.check_options(options)
    }

    /// The written answers of a word cloud ballot, normalised and without repeats (a
    /// person who typed `Rust` and `rust` gave one answer), if the poll takes them now.
    pub fn accept_words_at(&self, raw: &[String], now_ms: u64) -> Result<Vec<String>, BallotError> {
        if !self.is_open_at(now_ms) {
            return Err(BallotError::Closed(self.id.clone()));
        }
        let Some(limits) = self.words else {
            return Err(BallotError::OptionsExpected);
        };
        let mut words: Vec<String> = Vec::with_capacity(raw.len());
        for (index, answer) in raw.iter().enumerate() {
            let word = limits
                .normalise(answer)
                .map_err(|error| BallotError::BadWord(index + 1, error))?;
            if !words.contains(&word) {
                words.push(word);
            }
        }
        self.check_words(&words)?;
        // The block list is the vote service's rule, not the worker's: an answer
        // accepted before the owner blocked it stays counted (the owner hides it), and
        // is never dropped on the way.
        if words
            .iter()
            .any(|word| is_blocked(word, &self.blocked_words))
        {
            return Err(BallotError::Blocked);
        }
        Ok(words)
    }

    /// Checks answers as the worker reads them from the stream: `words` says whether
    /// they are written answers (normalised) or option ids, and must match the poll.
    pub fn check_answers(&self, answers: &[String], words: bool) -> Result<(), BallotError> {
        match (words, self.choice == Choice::Words) {
            (true, true) => self.check_words(answers),
            (false, false) => self.check_options(answers),
            (true, false) => Err(BallotError::OptionsExpected),
            (false, true) => Err(BallotError::WordsExpected),
        }
    }

    /// Normalised answers: at least one, at most the question's number, each within its
    /// length, and distinct. (Whether one is blocked is for [`Self::accept_words_at`].)
    fn check_words(&self, words: &[String]) -> Result<(), BallotError> {
        let limits = self.words.ok_or(BallotError::OptionsExpected)?;
        if words.is_empty() {
            return Err(BallotError::Empty);
        }
        if words.len() > usize::from(limits.max_words) {
            return Err(BallotError::TooManyWords(limits.max_words));
        }
        for (index, word) in words.iter().enumerate() {
            if !is_normal_word(word) || word.chars().count() > usize::from(limits.max_chars) {
                return Err(BallotError::BadWord(
                    index + 1,
                    WordError::TooLong(limits.max_chars),
                ));
            }
            if words[..index].contains(word) {
                return Err(BallotError::DuplicateWord(word.clone()));
            }
        }
        Ok(())
    }

    /// Like [`Self::check_ballot`] without the open/closed rule: the worker applies
    /// ballots that were accepted while the poll was open. A ranking names every
    /// option once, in the voter's order.
    pub fn check_options(&self, options: &[String]) -> Result<(), BallotError> {
        if self.choice == Choice::Words {
            return Err(BallotError::WordsExpected);
        }
        match options.len() {
            0 => return Err(BallotError::Empty),
            1 => {}
            _ if self.choice == Choice::Single => return Err(BallotError::TooMany),
            _ => {}
        }
        for (index, option) in options.iter().enumerate() {
            if !self.options.iter().any(|known| &known.id == option) {
                return Err(BallotError::UnknownOption(option.clone()));
            }
            if options[..index].contains(option) {
                return Err(BallotError::Duplicate(option.clone()));
            }
        }
        if self.choice == Choice::Ranking && options.len() != self.options.len() {
            return Err(BallotError::Unranked(self.options.len()));
        }
        Ok(())
    }
}

/// Whether `id` can name a poll: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub fn is_valid_poll_id(id: &str) -> bool {
    is_token(id, MAX_POLL_ID_LEN)
}

/// Whether `id` can name an option: 1 to 32 of `A-Z a-z 0-9 _ -`.
pub fn is_valid_option_id(id: &str) -> bool {
    is_token(id, MAX_OPTION_ID_LEN)
}

fn is_token(text: &str, max_len: usize) -> bool {
    !text.is_empty()
        && text.len() <= max_len
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(choice: Choice, open: bool) -> PollDefinition {
        PollDefinition {
            id: "p".into(),
            question: "?".into(),
            choice,
            open,
            options: ["a", "b", "c"]
                .iter()
                .map(|id| PollOption {
                    id: (*id).into(),
                    label: id.to_uppercase(),
                })
                .collect(),
            closes_at: None,
            hide_results: false,
            admin_hash: None,
            event: None,
            words: None,
            blocked_words: Vec::new(),
            identity: Identity::Open,
            voter_code_hashes: Vec::new(),
            passcode_hash: None,
        }
    }

    fn ballot(options: &[&str]) -> Vec<String> {
        options.iter().map(|o| (*o).to_owned()).collect()
    }

    #[test]
    fn single_choice_takes_exactly_one_known_option() {
        let p = poll(Choice::Single, true);
        assert_eq!(p.check_ballot(&ballot(&["a"])), Ok(()));
        assert_eq!(p.check_ballot(&ballot(&[])), Err(BallotError::Empty));
        assert_eq!(
            p.check_ballot(&ballot(&["a", "b"])),
            Err(BallotError::TooMany)
        );
        assert_eq!(
            p.check_ballot(&ballot(&["z"])),
            Err(BallotError::UnknownOption("z".into()))
        );
    }

    #[test]
    fn multiple_choice_takes_distinct_known_options() {
        let p = poll(Choice::Multiple, true);
        assert_eq!(p.check_ballot(&ballot(&["a", "c"])), Ok(()));
        assert_eq!(
            p.check_ballot(&ballot(&["a", "a"])),
            Err(BallotError::Duplicate("a".into()))
        );
        assert_eq!(
            p.check_ballot(&ballot(&["a", "x"])),
            Err(BallotError::UnknownOption("x".into()))
        );
    }

    #[test]
    fn a_ranking_names_every_option_once_in_any_order() {
        let p = poll(Choice::Ranking, true);
        assert_eq!(p.check_ballot(&ballot(&["c", "a", "b"])), Ok(()));
        assert_eq!(
            p.check_ballot(&ballot(&["c", "a"])),
            Err(BallotError::Unranked(3))
        );
        assert_eq!(
            p.check_ballot(&ballot(&["a"])),
            Err(BallotError::Unranked(3))
        );
        assert_eq!(
            p.check_ballot(&ballot(&["a", "b", "a"])),
            Err(BallotError::Duplicate("a".into()))
        );
        assert_eq!(
            p.check_ballot(&ballot(&["a", "b", "c", "d"])),
            Err(BallotError::UnknownOption("d".into()))
        );
    }

    #[test]
    fn a_word_cloud_takes_normalised_distinct_unblocked_answers() {
        let mut p = poll(Choice::Words, true);
        p.options.clear();
        p.words = Some(Words {
            max_words: 2,
            max_chars: 10,
        });
        p.blocked_words = vec!["idiot".into()];
        let accept = |raw: &[&str]| p.accept_words_at(&ballot(raw), 0);
        assert_eq!(
            accept(&["Rust!", " rust", "Go"]),
            Ok(ballot(&["rust", "go"]))
        );
        assert_eq!(accept(&["a", "b", "c"]), Err(BallotError::TooManyWords(2)));
        assert_eq!(
            accept(&["ok", "!!"]),
            Err(BallotError::BadWord(2, WordError::Empty))
        );
        assert_eq!(accept(&["you IDIOT"]), Err(BallotError::Blocked));
        // What the vote service accepted before the owner blocked it is still counted.
        assert_eq!(p.check_answers(&ballot(&["you idiot"]), true), Ok(()));
        assert_eq!(accept(&[]), Err(BallotError::Empty));
        assert_eq!(p.check_answers(&ballot(&["rust"]), true), Ok(()));
        assert_eq!(
            p.check_answers(&ballot(&["a"]), false),
            Err(BallotError::WordsExpected)
        );
        assert_eq!(
            p.check_answers(&ballot(&["Rust"]), true),
            Err(BallotError::BadWord(1, WordError::TooLong(10)))
        );
        assert_eq!(
            p.check_answers(&ballot(&["go", "go"]), true),
            Err(BallotError::DuplicateWord("go".into()))
        );
        let options = poll(Choice::Single, true);
        assert_eq!(
            options.check_answers(&ballot(&["a"]), true),
            Err(BallotError::OptionsExpected)
        );
        assert_eq!(
            options.accept_words_at(&ballot(&["a"]), 0),
            Err(BallotError::OptionsExpected)
        );
        p.open = false;
        assert_eq!(
            p.accept_words_at(&ballot(&["rust"]), 0),
            Err(BallotError::Closed("p".into()))
        );
    }

    #[test]
    fn choices_are_spelled_as_the_api_spells_them() {
        for choice in Choice::ALL {
            assert_eq!(Choice::from_name(choice.name()), Some(choice));
            let json = serde_json::to_string(&choice).unwrap();
            assert_eq!(json, format!("{:?}", choice.name()));
        }
        assert_eq!(Choice::from_name("any"), None);
    }

    #[test]
    fn closed_poll_refuses_ballots_but_worker_check_ignores_it() {
        let p = poll(Choice::Single, false);
        assert_eq!(
            p.check_ballot(&ballot(&["a"])),
            Err(BallotError::Closed("p".into()))
        );
        assert_eq!(p.check_options(&ballot(&["a"])), Ok(()));
    }

    #[test]
    fn a_poll_closes_by_itself_at_its_closing_time() {
        let mut p = poll(Choice::Single, true);
        p.closes_at = Some(1_000);
        assert_eq!(p.check_ballot_at(&ballot(&["a"]), 999), Ok(()));
        assert_eq!(
            p.check_ballot_at(&ballot(&["a"]), 1_000),
            Err(BallotError::Closed("p".into()))
        );
        assert!(!p.is_open_at(5_000));
        p.open = false;
        assert!(!p.is_open_at(0));
    }

    #[test]
    fn definitions_written_before_polls_could_close_still_read() {
        let old = r#"{"id":"default","question":"Q","choice":"single","open":true,
                      "options":[{"id":"a","label":"A"},{"id":"b","label":"B"}]}"#;
        let definition: PollDefinition = serde_json::from_str(old).unwrap();
        assert_eq!(definition.closes_at, None);
        assert!(!definition.hide_results);
        assert_eq!(definition.admin_hash, None);
    }

    #[test]
    fn ids_are_short_tokens() {
        assert!(is_valid_poll_id("default"));
        assert!(is_valid_option_id("a"));
        for bad in ["", "a b", "a/b", "é", "a:b", &"x".repeat(65)] {
            assert!(!is_valid_poll_id(bad), "{bad:?}");
        }
        assert!(!is_valid_option_id(&"x".repeat(33)));
    }

    #[test]
    fn a_voter_code_is_known_by_its_hash_on_its_poll() {
        use crate::voter_code::hash_code;
        let mut definition = poll(Choice::Single, true);
        definition.identity = Identity::Code;
        definition.voter_code_hashes =
            vec![hash_code("p", "K7P2Q9XQ4B"), hash_code("p", "0000000000")];
        definition.voter_code_hashes.sort();
        assert_eq!(
            definition.voter_code("k7p2q-9xq4b").as_deref(),
            Some("K7P2Q9XQ4B")
        );
        assert_eq!(
            definition.voter_code("OOOOO-OOOOO").as_deref(),
            Some("0000000000")
        );
        assert_eq!(
            definition.voter_code("K7P2Q-9XQ4C"),
            None,
            "not one of them"
        );
        assert_eq!(definition.voter_code("K7P2Q"), None, "not a code");
        definition.id = "q".into();
        assert_eq!(definition.voter_code("K7P2Q-9XQ4B"), None, "another poll's");
    }

    #[test]
    fn a_passcode_is_checked_against_its_poll_or_its_event() {
        use crate::passcode::hash_passcode;
        let mut definition = poll(Choice::Single, true);
        definition.identity = Identity::Passcode;
        assert!(
            !definition.passcode_matches("tiger lake"),
            "no hash, no match"
        );
        definition.passcode_hash = Some(hash_passcode("p", "tiger lake"));
        assert!(definition.passcode_matches(" Tiger  LAKE "));
        assert!(!definition.passcode_matches("tiger lakes"));
        assert!(!definition.passcode_matches("ti"), "not a passcode at all");
        definition.event = Some("ev1".into());
        assert!(
            !definition.passcode_matches("tiger lake"),
            "bound to the poll"
        );
        definition.passcode_hash = Some(hash_passcode("ev1", "tiger lake"));
        assert!(
            definition.passcode_matches("tiger lake"),
            "bound to its event"
        );
    }
}
