//! The rules a poll must follow to be created: its question, its 2–10 labelled options,
//! and a closing time in the future. The vote service checks them before queueing a
//! creation; the worker checks them again (except the clock) before applying one.

use crate::identity::Identity;
use crate::poll::{Choice, PollOption, DEFAULT_POLL_ID};
use crate::scale::{Scale, ScaleRuleError};
use crate::voter_code::MAX_VOTER_CODES;
use crate::words::{Words, WordsRuleError};

/// Fewest options a poll can have: one option is not a choice.
pub const MIN_OPTIONS: usize = 2;

/// Most options a poll can have: more do not fit a projected results page.
pub const MAX_OPTIONS: usize = 10;

/// Longest option label, in characters (the schema's CHECK says the same).
pub const MAX_LABEL_CHARS: usize = 200;

/// Longest question, in characters (the schema's CHECK says the same).
pub const MAX_QUESTION_CHARS: usize = 500;

/// Characters in a created poll's id: 62^10 ≈ 8·10^17 ids, unguessable enough for a
/// share link and short enough to read out loud.
pub const CREATED_POLL_ID_LEN: usize = 10;

/// A poll as its creator described it, labels trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoll {
    /// The question.
    pub question: String,
    /// Single or multiple choice.
    pub choice: Choice,
    /// The option labels, in order; the options get ids `a`, `b`, ...
    pub labels: Vec<String>,
    /// When the poll closes by itself (milliseconds since the epoch).
    pub closes_at: Option<u64>,
    /// Whether counts are hidden from all but the admin until the poll closes.
    pub hide_results: bool,
    /// The scale a scale question offers (its labels are then the scale's points);
    /// `None` for a question with written answers.
    pub scale: Option<Scale>,
    /// A word cloud question's limits (it then has no options); `None` otherwise.
    pub words: Option<Words>,
    /// Who counts as a voter; an event's questions take the event's.
    pub identity: Identity,
    /// How many voter codes the poll has: 1 to [`MAX_VOTER_CODES`] when its identity
    /// is `code`, else 0.
    pub voter_codes: usize,
}

/// Which rule a new poll breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollRuleError {
    /// Empty, too long, or with control characters.
    #[error(
        "the question must be 1 to {MAX_QUESTION_CHARS} characters, without control or bidirectional override characters"
    )]
    Question,
    /// Fewer than two options.
    #[error("a poll needs at least {MIN_OPTIONS} options")]
    TooFewOptions,
    /// More than ten options.
    #[error("a poll has at most {MAX_OPTIONS} options")]
    TooManyOptions,
    /// A label that is empty, too long, or has control characters.
    #[error("option {0} must be 1 to {MAX_LABEL_CHARS} characters, without control or bidirectional override characters")]
    Label(usize),
    /// Two options with the same label (ignoring case).
    #[error("option {0:?} is given twice")]
    DuplicateLabel(String),
    /// A closing time that has already passed.
    #[error("closes_at must be in the future")]
    ClosesInPast,
    /// A closing time or hidden results on a question of an event, which its presenter
    /// opens, closes and reveals.
    #[error("an event's questions take no closes_at or hide_results: the presenter paces them")]
    PacedByPresenter,
    /// A scale that breaks a scale's rules.
    #[error(transparent)]
    Scale(#[from] ScaleRuleError),
    /// A scale question with written answers or several answers per ballot.
    #[error("a scale question takes one answer from its scale, and no options")]
    ScaleAnswers,
    /// A `code` poll without codes or with too many, or codes on another poll.
    #[error(
        "a poll whose identity is code takes 1 to {MAX_VOTER_CODES} voter_codes; other polls none"
    )]
    VoterCodes,
    /// A word cloud's limits out of range.
    #[error(transparent)]
    Words(#[from] WordsRuleError),
    /// A word cloud question with options or a scale, or limits on another question.
    #[error("a word cloud question takes written answers: no options and no scale")]
    WordsAnswers,
}

impl NewPoll {
    /// Every rule that does not depend on the clock.
    pub fn check(&self) -> Result<(), PollRuleError> {
        if !is_text(&self.question, MAX_QUESTION_CHARS) {
            return Err(PollRuleError::Question);
        }
        let codes_fit = match self.identity {
            Identity::Code => (1..=MAX_VOTER_CODES).contains(&self.voter_codes),
            Identity::Browser | Identity::Open | Identity::Passcode => self.voter_codes == 0,
        };
        if !codes_fit {
            return Err(PollRuleError::VoterCodes);
        }
        match (self.choice == Choice::Words, self.words) {
            (true, Some(words)) => {
                words.check()?;
                if !self.labels.is_empty() || self.scale.is_some() {
                    return Err(PollRuleError::WordsAnswers);
                }
                return Ok(());
            }
            (false, None) => {}
            _ => return Err(PollRuleError::WordsAnswers),
        }
        if let Some(scale) = &self.scale {
            // Its options are its points (up to 11 for 0–10): none were written.
            scale.check()?;
            if self.choice != Choice::Single || self.labels != scale.labels() {
                return Err(PollRuleError::ScaleAnswers);
            }
            return Ok(());
        }
        if self.labels.len() < MIN_OPTIONS {
            return Err(PollRuleError::TooFewOptions);
        }
        if self.labels.len() > MAX_OPTIONS {
            return Err(PollRuleError::TooManyOptions);
        }
        let mut seen: Vec<String> = Vec::with_capacity(self.labels.len());
        for (index, label) in self.labels.iter().enumerate() {
            if !is_text(label, MAX_LABEL_CHARS) {
                return Err(PollRuleError::Label(index + 1));
            }
            let folded = label.to_lowercase();
            if seen.contains(&folded) {
                return Err(PollRuleError::DuplicateLabel(label.clone()));
            }
            seen.push(folded);
        }
        Ok(())
    }

    /// Every rule, with `now_ms` as the present for the closing time.
    pub fn check_at(&self, now_ms: u64) -> Result<(), PollRuleError> {
        self.check()?;
        if self.closes_at.is_some_and(|closes_at| closes_at <= now_ms) {
            return Err(PollRuleError::ClosesInPast);
        }
        Ok(())
    }

    /// The options with their generated ids, in order.
    pub fn options(&self) -> Vec<PollOption> {
        self.labels
            .iter()
            .enumerate()
            .map(|(index, label)| PollOption {
                id: option_id(index),
                label: label.clone(),
            })
            .collect()
    }
}

/// The id of the option at `index`: `a`, `b`, ... (`index` < [`MAX_OPTIONS`]).
pub fn option_id(index: usize) -> String {
    char::from(b'a' + (index % 26) as u8).to_string()
}

/// Whether `id` has the shape of a created poll's id: 10 ASCII letters or digits,
/// never the default poll's.
pub fn is_created_poll_id(id: &str) -> bool {
    id.len() == CREATED_POLL_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && id != DEFAULT_POLL_ID
}

/// Whether `text` is 1 to `max_chars` characters, not blank, without control characters
/// or bidirectional embeddings, overrides and isolates.
pub(crate) fn is_text(text: &str, max_chars: usize) -> bool {
    let count = text.chars().count();
    (1..=max_chars).contains(&count)
        && !text.chars().any(|c| c.is_control() || is_bidi_control(c))
        && !text.trim().is_empty()
}

/// U+202A–U+202E and U+2066–U+2069: unbalanced, they reorder the text shown after them
/// (a question that makes the options beside it read backwards). The plain direction
/// marks (U+200E, U+200F), which right-to-left text needs, are kept.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(labels: &[&str]) -> NewPoll {
        NewPoll {
            question: "Tea or coffee?".into(),
            choice: Choice::Single,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            closes_at: None,
            hide_results: false,
            scale: None,
            words: None,
            identity: Identity::Browser,
            voter_codes: 0,
        }
    }

    #[test]
    fn a_scale_question_answers_with_its_points() {
        let scale = Scale {
            min: 0,
            max: 10,
            min_label: "Not likely".into(),
            max_label: "Very likely".into(),
        };
        let mut p = poll(&[]);
        p.labels = scale.labels();
        p.scale = Some(scale.clone());
        assert_eq!(
            p.check(),
            Ok(()),
            "eleven points: more than written options"
        );
        p.choice = Choice::Multiple;
        assert_eq!(p.check(), Err(PollRuleError::ScaleAnswers));
        p.choice = Choice::Single;
        p.labels = vec!["Yes".into(), "No".into()];
        assert_eq!(p.check(), Err(PollRuleError::ScaleAnswers));
        p.scale = Some(Scale { max: 1, ..scale });
        assert_eq!(p.check(), Err(PollRuleError::Scale(ScaleRuleError::Range)));
    }

    #[test]
    fn two_to_ten_distinct_labels() {
        assert_eq!(poll(&["Tea", "Coffee"]).check(), Ok(()));
        assert_eq!(poll(&["Tea"]).check(), Err(PollRuleError::TooFewOptions));
        let eleven: Vec<String> = (0..11).map(|i| format!("o{i}")).collect();
        let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
        assert_eq!(poll(&eleven).check(), Err(PollRuleError::TooManyOptions));
        assert_eq!(poll(&eleven[..10]).check(), Ok(()));
        assert_eq!(
            poll(&["Tea", "tea"]).check(),
            Err(PollRuleError::DuplicateLabel("tea".into()))
        );
    }

    #[test]
    fn labels_and_question_are_bounded_text() {
        let long = "é".repeat(MAX_LABEL_CHARS);
        assert_eq!(
            poll(&[&long, "b"]).check(),
            Ok(()),
            "200 characters, not bytes"
        );
        let longer = "x".repeat(MAX_LABEL_CHARS + 1);
        assert_eq!(poll(&["a", &longer]).check(), Err(PollRuleError::Label(2)));
        assert_eq!(poll(&["a", ""]).check(), Err(PollRuleError::Label(2)));
        assert_eq!(poll(&["a\u{0}", "b"]).check(), Err(PollRuleError::Label(1)));
        let mut p = poll(&["a", "b"]);
        p.question = "x".repeat(MAX_QUESTION_CHARS + 1);
        assert_eq!(p.check(), Err(PollRuleError::Question));
        p.question = "line\r\nbreak".into();
        assert_eq!(p.check(), Err(PollRuleError::Question));
        p.question = "   ".into();
        assert_eq!(p.check(), Err(PollRuleError::Question));
        for spoof in ["Yes\u{202e}oN", "a\u{2066}b", "\u{202a}x"] {
            p.question = spoof.into();
            assert_eq!(p.check(), Err(PollRuleError::Question), "{spoof:?}");
        }
        p.question = "\u{5e9}\u{5dc}\u{5d5}\u{5dd}\u{200f}?".into();
        assert_eq!(p.check(), Ok(()), "a right-to-left mark is kept");
    }

    #[test]
    fn closing_time_must_be_ahead() {
        let mut p = poll(&["a", "b"]);
        p.closes_at = Some(2_000);
        assert_eq!(p.check_at(1_999), Ok(()));
        assert_eq!(p.check_at(2_000), Err(PollRuleError::ClosesInPast));
        assert_eq!(p.check(), Ok(()), "the worker does not look at the clock");
    }

    #[test]
    fn options_get_letters_in_order() {
        let ids: Vec<String> = poll(&["x", "y", "z"])
            .options()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(option_id(9), "j");
    }

    #[test]
    fn created_poll_ids() {
        assert!(is_created_poll_id("aB3dE5gH9k"));
        for bad in [
            "default",
            "short",
            "aB3dE5gH9k1",
            "aB3dE5gH9-",
            "aB3dE5gH9é",
        ] {
            assert!(!is_created_poll_id(bad), "{bad}");
        }
    }
}
