//! Events: one join code for a room, many questions, and a presenter who decides which
//! one the room sees.
//!
//! Each question of an event is a poll like any other (its ballots, tallies, results
//! and live feed are the poll's), marked with the event it belongs to. The event adds
//! what a room needs on top: a short join code, a title, the owner token's hash, which
//! question is shown, whether its results are revealed, whether the event is locked, and
//! how many people have voted in it. The worker keeps the event in Postgres and writes
//! its [`EventDefinition`] to Redis; the vote service checks ballots and presenter
//! commands against that copy, and the result service serves its [`EventView`].

use serde::{Deserialize, Serialize};

use crate::identity::Identity;
use crate::new_poll::{is_created_poll_id, NewPoll, PollRuleError};
use crate::poll::Choice;
use crate::scale::Scale;
use crate::voter_code::MAX_VOTER_CODES;
use crate::words::{is_normal_word, Words, WordsRuleError, MAX_BLOCKED_WORDS};

/// Digits in a join code: 10^8 codes, so random codes rarely meet even with thousands
/// of events open, and a person reads them off a projector as two groups of four.
pub const JOIN_CODE_DIGITS: usize = 8;

/// Most questions in one event: a long talk, and still one screen of presenter list.
pub const MAX_EVENT_QUESTIONS: usize = 30;

/// Longest event title, in characters (the schema's CHECK says the same).
pub const MAX_TITLE_CHARS: usize = 200;

/// One question of an event, as the owner sees it in the event's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQuestion {
    /// The poll that carries the question's ballots and results.
    pub poll: String,
    /// The question asked.
    pub question: String,
    /// Single or multiple choice.
    pub choice: Choice,
    /// The scale of a scale question; `None` for written answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// A word cloud question's limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<Words>,
    /// The answers of a word cloud question its owner hid, for the owner to show again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_words: Vec<String>,
    /// Whether the room has been shown the question. Until then it has no ballots and
    /// its owner may still edit or remove it; from then on its answers stand.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shown: bool,
}

/// An event as the worker writes it to Redis (and publishes it when it changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDefinition {
    /// The event's id (10 letters and digits, never shown to the audience).
    pub id: String,
    /// The join code people type ([`JOIN_CODE_DIGITS`] digits).
    pub code: String,
    /// The event's title.
    pub title: String,
    /// SHA-256 (hex) of the owner token.
    pub owner_hash: String,
    /// The questions, in the order the presenter goes through them.
    pub questions: Vec<EventQuestion>,
    /// Position (0-based) of the question the room sees; `None` before the first.
    pub current: Option<usize>,
    /// Whether the audience and the projector see the counts.
    pub results_visible: bool,
    /// Whether the event is locked: no ballot is taken on any of its questions.
    pub locked: bool,
    /// People who have cast at least one ballot in the event.
    pub participants: i64,
    /// Grows with every committed change to the event; a copy never replaces a newer one.
    pub version: i64,
    /// Answers the event's word clouds refuse (normalised); for the owner's eyes only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_words: Vec<String>,
}

/// The question the room sees, in the public view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentQuestion {
    /// Its position (0-based).
    pub position: usize,
    /// Its poll, whose results and ballots are the question's.
    pub poll: String,
    /// The question asked.
    pub question: String,
    /// Single or multiple choice.
    pub choice: Choice,
    /// The scale of a scale question; `None` for written answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// A word cloud question's limits: how many answers, how long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<Words>,
}

/// What anyone with the join code sees of an event: never the owner's hash, never the
/// questions still to come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// The join code.
    pub code: String,
    /// The title.
    pub title: String,
    /// How many questions the event has.
    pub questions: usize,
    /// The question shown now; `None` before the presenter shows the first.
    pub current: Option<CurrentQuestion>,
    /// Whether counts are shown to the room.
    pub results_visible: bool,
    /// Whether the event takes no more ballots.
    pub locked: bool,
    /// People who have voted in the event.
    pub participants: i64,
    /// The definition's version.
    pub version: i64,
}

impl EventDefinition {
    /// The public view of this event.
    pub fn view(&self) -> EventView {
        EventView {
            code: self.code.clone(),
            title: self.title.clone(),
            questions: self.questions.len(),
            current: self.current_question(),
            results_visible: self.results_visible,
            locked: self.locked,
            participants: self.participants,
            version: self.version,
        }
    }

    /// The question shown now, if any.
    pub fn current_question(&self) -> Option<CurrentQuestion> {
        let position = self.current?;
        let question = self.questions.get(position)?;
        Some(CurrentQuestion {
            position,
            poll: question.poll.clone(),
            question: question.question.clone(),
            choice: question.choice,
            scale: question.scale.clone(),
            words: question.words,
        })
    }

    /// The poll of the question shown now, if any.
    pub fn current_poll(&self) -> Option<&str> {
        self.questions
            .get(self.current?)
            .map(|question| question.poll.as_str())
    }

    /// The position of `poll`'s question, if it is one of this event's.
    pub fn position_of(&self, poll: &str) -> Option<usize> {
        self.questions
            .iter()
            .position(|question| question.poll == poll)
    }

    /// Whether a ballot on `poll` (a question of this event) may be taken now.
    pub fn check_ballot_poll(&self, poll: &str) -> Result<(), EventBallotError> {
        if self.locked {
            return Err(EventBallotError::Locked);
        }
        if self.current_poll() != Some(poll) {
            return Err(EventBallotError::NotCurrent);
        }
        Ok(())
    }
}

/// Why an event does not take a ballot on one of its questions now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventBallotError {
    /// The presenter locked the event.
    #[error("this event is locked: it takes no more votes")]
    Locked,
    /// The question is not the one the presenter shows.
    #[error("this question is not the current one; the presenter has moved on")]
    NotCurrent,
}

/// An event as its creator described it, before it has an id or a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The title.
    pub title: String,
    /// The questions, in order. Their closing times and hidden results are unused:
    /// the presenter paces an event.
    pub questions: Vec<NewPoll>,
    /// Answers its word cloud questions refuse, normalised
    /// ([`crate::words::normalise_block_list`]).
    pub blocked_words: Vec<String>,
    /// Who counts as a voter, on every question.
    pub identity: Identity,
    /// How many voter codes the event has: 1 to [`MAX_VOTER_CODES`] when its identity is
    /// `code` (every question takes each of them), otherwise 0. Its questions say the same.
    pub voter_codes: usize,
}

/// Which rule a new event breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventRuleError {
    /// Empty, too long, or with control characters.
    #[error("the title must be 1 to {MAX_TITLE_CHARS} characters, without control or bidirectional override characters")]
    Title,
    /// No question at all.
    #[error("an event needs at least one question")]
    NoQuestions,
    /// More questions than an event may have.
    #[error("an event has at most {MAX_EVENT_QUESTIONS} questions")]
    TooManyQuestions,
    /// A question that breaks a poll rule (1-based position).
    #[error("question {0}: {1}")]
    Question(usize, PollRuleError),
    /// A block list too long or with entries that are no answers.
    #[error(transparent)]
    BlockList(#[from] WordsRuleError),
    /// A `code` event without codes or with too many, or codes on another event.
    #[error(
        "an event whose identity is code takes 1 to {MAX_VOTER_CODES} voter_codes; other events none"
    )]
    VoterCodes,
}

impl NewEvent {
    /// Every rule: the title, the number of questions, each question's own rules.
    pub fn check(&self) -> Result<(), EventRuleError> {
        if !crate::new_poll::is_text(&self.title, MAX_TITLE_CHARS) {
            return Err(EventRuleError::Title);
        }
        if self.questions.is_empty() {
            return Err(EventRuleError::NoQuestions);
        }
        if self.questions.len() > MAX_EVENT_QUESTIONS {
            return Err(EventRuleError::TooManyQuestions);
        }
        let codes_fit = match self.identity {
            Identity::Code => (1..=MAX_VOTER_CODES).contains(&self.voter_codes),
            Identity::Browser | Identity::Open | Identity::Passcode => self.voter_codes == 0,
        };
        if !codes_fit {
            return Err(EventRuleError::VoterCodes);
        }
        let listed = self.blocked_words.len() <= MAX_BLOCKED_WORDS
            && self.blocked_words.iter().all(|word| is_normal_word(word));
        if !listed {
            return Err(WordsRuleError::BlockList.into());
        }
        for (index, question) in self.questions.iter().enumerate() {
            if question.closes_at.is_some() || question.hide_results {
                return Err(EventRuleError::Question(
                    index + 1,
                    PollRuleError::PacedByPresenter,
                ));
            }
            question
                .check()
                .map_err(|error| EventRuleError::Question(index + 1, error))?;
        }
        Ok(())
    }
}

/// Whether `code` is a join code: exactly [`JOIN_CODE_DIGITS`] ASCII digits.
pub fn is_join_code(code: &str) -> bool {
    code.len() == JOIN_CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// The join code a person typed, with the spaces, dashes and dots people put between
/// groups removed; `None` when what remains is not a join code.
pub fn normalise_join_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '\u{a0}'))
        .collect();
    is_join_code(&code).then_some(code)
}

/// `12345678` as people read it: `1234 5678`.
pub fn spaced_join_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(head), Some(tail)) if !tail.is_empty() => format!("{head} {tail}"),
        _ => code.to_owned(),
    }
}

/// Whether `id` has the shape of an event id (the same as a created poll's).
pub fn is_event_id(id: &str) -> bool {
    is_created_poll_id(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn question(text: &str) -> NewPoll {
        NewPoll {
            question: text.into(),
            choice: Choice::Single,
            labels: vec!["Yes".into(), "No".into()],
            closes_at: None,
            hide_results: false,
            scale: None,
            words: None,
            identity: Identity::Browser,
            voter_codes: 0,
        }
    }

    fn definition() -> EventDefinition {
        EventDefinition {
            id: "eV3nt00001".into(),
            code: "12345678".into(),
            title: "All hands".into(),
            owner_hash: "0".repeat(64),
            questions: ["q1", "q2"]
                .iter()
                .map(|q| EventQuestion {
                    poll: format!("{q}pollpoll"),
                    question: q.to_uppercase(),
                    choice: Choice::Single,
                    scale: None,
                    hidden_words: Vec::new(),
                    words: None,
                    shown: false,
                })
                .collect(),
            current: None,
            results_visible: true,
            locked: false,
            participants: 3,
            version: 7,
            blocked_words: Vec::new(),
        }
    }

    #[test]
    fn join_codes_are_eight_digits_typed_any_way() {
        assert!(is_join_code("01234567"));
        for bad in [
            "1234567",
            "123456789",
            "1234 5678",
            "abcdefgh",
            "１２３４５６７８",
        ] {
            assert!(!is_join_code(bad), "{bad}");
        }
        assert_eq!(
            normalise_join_code(" 1234 5678 ").as_deref(),
            Some("12345678")
        );
        assert_eq!(
            normalise_join_code("1234-5678").as_deref(),
            Some("12345678")
        );
        assert_eq!(normalise_join_code("1234 567"), None);
        assert_eq!(normalise_join_code("<script>"), None);
        assert_eq!(spaced_join_code("12345678"), "1234 5678");
    }

    #[test]
    fn the_public_view_hides_the_owner_and_what_is_to_come() {
        let mut event = definition();
        let view = event.view();
        assert_eq!((view.questions, view.current.clone()), (2, None));
        let json = serde_json::to_string(&view).unwrap();
        assert!(!json.contains("owner") && !json.contains("Q2") && !json.contains("q2"));
        event.current = Some(1);
        let current = event.view().current.unwrap();
        assert_eq!((current.position, current.poll.as_str()), (1, "q2pollpoll"));
        event.current = Some(5);
        assert_eq!(
            event.view().current,
            None,
            "a position past the end shows nothing"
        );
    }

    #[test]
    fn ballots_are_taken_on_the_current_question_of_an_open_event_only() {
        let mut event = definition();
        assert_eq!(
            event.check_ballot_poll("q1pollpoll"),
            Err(EventBallotError::NotCurrent)
        );
        event.current = Some(0);
        assert_eq!(event.check_ballot_poll("q1pollpoll"), Ok(()));
        assert_eq!(
            event.check_ballot_poll("q2pollpoll"),
            Err(EventBallotError::NotCurrent)
        );
        event.locked = true;
        assert_eq!(
            event.check_ballot_poll("q1pollpoll"),
            Err(EventBallotError::Locked)
        );
    }

    #[test]
    fn new_events_follow_their_rules() {
        let event = |title: &str, count: usize| NewEvent {
            title: title.into(),
            questions: (0..count).map(|i| question(&format!("Q{i}?"))).collect(),
            blocked_words: Vec::new(),
            identity: Identity::Browser,
            voter_codes: 0,
        };
        assert_eq!(event("Town hall", 3).check(), Ok(()));
        assert_eq!(event("", 3).check(), Err(EventRuleError::Title));
        assert_eq!(event("T", 0).check(), Err(EventRuleError::NoQuestions));
        assert_eq!(
            event("T", MAX_EVENT_QUESTIONS + 1).check(),
            Err(EventRuleError::TooManyQuestions)
        );
        let mut bad = event("T", 2);
        bad.questions[1].labels = vec!["only".into()];
        assert_eq!(
            bad.check(),
            Err(EventRuleError::Question(2, PollRuleError::TooFewOptions))
        );
        let mut timed = event("T", 1);
        timed.questions[0].closes_at = Some(5);
        assert!(matches!(timed.check(), Err(EventRuleError::Question(1, _))));

        // A code event takes 1 to 1000 codes, and each question takes the same ones.
        let with_codes = |count: usize| {
            let mut event = event("T", 2);
            event.identity = Identity::Code;
            event.voter_codes = count;
            for question in &mut event.questions {
                question.identity = Identity::Code;
                question.voter_codes = count;
            }
            event
        };
        assert_eq!(with_codes(40).check(), Ok(()));
        assert_eq!(with_codes(0).check(), Err(EventRuleError::VoterCodes));
        assert_eq!(with_codes(1001).check(), Err(EventRuleError::VoterCodes));
        let mut stray = event("T", 1);
        stray.voter_codes = 3;
        assert_eq!(stray.check(), Err(EventRuleError::VoterCodes));
    }
}
