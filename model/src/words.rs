//! Word cloud questions ("One word for today's talk?"): each participant writes up to a
//! few short answers, which are normalised so that `Rust`, ` rust!` and `RUST...` count
//! as one (and `café` typed with a combining accent meets the precomposed one), then
//! counted per answer. The owner can hide an answer
//! (it disappears from every screen) and an event can block answers outright.
//!
//! Normalising an answer: refuse control, format (bidirectional overrides, zero-width
//! characters; the emoji joiner is kept) and line-separator characters; lower-case it;
//! compose it (Unicode NFC, so full-width letters stay apart from ASCII ones); collapse
//! runs of white space to one space; trim white space and punctuation from both ends,
//! except the marks that change what an answer names (`C#`, `#rust`, `@alice`, `100%`,
//! `R&`). What is left must have 1 to `max_chars` characters.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// Answers per participant unless the question says otherwise: Mentimeter's and Slido's
/// default, enough for "three words for …".
pub const DEFAULT_MAX_WORDS: u8 = 3;

/// Most answers one participant may give: a cloud of many answers from few people is a
/// list, not a room's voice.
pub const MAX_MAX_WORDS: u8 = 10;

/// Characters per answer unless the question says otherwise: a word or two.
pub const DEFAULT_WORD_CHARS: u8 = 25;

/// Longest answer a question may allow, in characters: still one line of a cloud on a
/// projector (the schema's CHECK says the same).
pub const MAX_WORD_CHARS: u8 = 40;

/// Most entries in an event's block list.
pub const MAX_BLOCKED_WORDS: usize = 500;

/// Most answers a results document lists, the most given first: a projector shows no
/// more, and the document stays small however many different answers come in.
pub const MAX_CLOUD_WORDS: usize = 100;

/// The zero-width joiner, a format character that emoji sequences need (👩‍💻).
const ZERO_WIDTH_JOINER: char = '\u{200d}';

/// Punctuation kept at an answer's ends: it is part of what the answer names (`C#`,
/// `F#`, `#hashtag`, `@handle`, `100%`, `AT&`), not the sentence around it.
const MEANINGFUL_MARKS: [char; 4] = ['#', '@', '%', '&'];

/// How many answers a word cloud question takes, and how long each may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Words {
    /// Answers per participant (1 to [`MAX_MAX_WORDS`]).
    pub max_words: u8,
    /// Characters per answer (1 to [`MAX_WORD_CHARS`]).
    pub max_chars: u8,
}

impl Default for Words {
    fn default() -> Self {
        Words {
            max_words: DEFAULT_MAX_WORDS,
            max_chars: DEFAULT_WORD_CHARS,
        }
    }
}

/// Which rule a word cloud question's limits break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordsRuleError {
    /// Limits out of range.
    #[error("a word cloud takes 1 to {MAX_MAX_WORDS} answers of 1 to {MAX_WORD_CHARS} characters")]
    Limits,
    /// A block list too long, or with an entry that is no answer.
    #[error("a block list has at most {MAX_BLOCKED_WORDS} entries of 1 to {MAX_WORD_CHARS} characters, without control characters")]
    BlockList,
}

/// Why one written answer is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WordError {
    /// Control, format or line-separator characters.
    #[error("has control or invisible characters")]
    Invisible,
    /// Nothing left once white space and punctuation are trimmed.
    #[error("has no letters, digits or symbols")]
    Empty,
    /// Longer than the question allows.
    #[error("is longer than {0} characters")]
    TooLong(u8),
}

impl Words {
    /// Whether the limits are in range.
    pub fn check(&self) -> Result<(), WordsRuleError> {
        let words = 1..=MAX_MAX_WORDS;
        let chars = 1..=MAX_WORD_CHARS;
        if words.contains(&self.max_words) && chars.contains(&self.max_chars) {
            Ok(())
        } else {
            Err(WordsRuleError::Limits)
        }
    }

    /// The limits stored in `polls.words_max` and `polls.word_max_chars`, when both are
    /// set and in range.
    pub fn from_columns(max_words: Option<i16>, max_chars: Option<i16>) -> Option<Words> {
        let words = Words {
            max_words: u8::try_from(max_words?).ok()?,
            max_chars: u8::try_from(max_chars?).ok()?,
        };
        words.check().is_ok().then_some(words)
    }

    /// The columns [`Words::from_columns`] reads: `(words_max, word_max_chars)`.
    pub fn to_columns(words: Option<Words>) -> (Option<i16>, Option<i16>) {
        (
            words.map(|w| i16::from(w.max_words)),
            words.map(|w| i16::from(w.max_chars)),
        )
    }

    /// `raw` normalised (see the module's notes), if it is an answer this question takes.
    pub fn normalise(&self, raw: &str) -> Result<String, WordError> {
        normalise_word(raw, self.max_chars)
    }
}

/// `raw` normalised (see the module's notes), if what is left has 1 to `max_chars`
/// characters.
pub fn normalise_word(raw: &str, max_chars: u8) -> Result<String, WordError> {
    if raw.chars().any(is_invisible) {
        return Err(WordError::Invisible);
    }
    let composed: String = raw.to_lowercase().nfc().collect();
    let collapsed = composed.split_whitespace().collect::<Vec<_>>().join(" ");
    let word = collapsed.trim_matches(|c: char| c.is_whitespace() || is_punctuation(c));
    match word.chars().count() {
        0 => Err(WordError::Empty),
        n if n > usize::from(max_chars) => Err(WordError::TooLong(max_chars)),
        _ => Ok(word.to_owned()),
    }
}

/// Whether `word` is already an answer as [`normalise_word`] leaves one, within the
/// longest length any question allows: what the worker accepts from the stream.
pub fn is_normal_word(word: &str) -> bool {
    normalise_word(word, MAX_WORD_CHARS).is_ok_and(|normal| normal == word)
}

/// Normalises an event's block list: entries trimmed, normalised and deduplicated, empty
/// lines dropped.
pub fn normalise_block_list(raw: &[String]) -> Result<Vec<String>, WordsRuleError> {
    let mut list: Vec<String> = Vec::with_capacity(raw.len());
    for entry in raw.iter().filter(|entry| !entry.trim().is_empty()) {
        let word = normalise_word(entry, MAX_WORD_CHARS).map_err(|_| WordsRuleError::BlockList)?;
        if !list.contains(&word) {
            list.push(word);
        }
    }
    if list.len() > MAX_BLOCKED_WORDS {
        return Err(WordsRuleError::BlockList);
    }
    Ok(list)
}

/// Whether the normalised `answer` is blocked by `blocked` (normalised entries): it is
/// one of them, or one of its space-separated words is.
pub fn is_blocked(answer: &str, blocked: &[String]) -> bool {
    blocked
        .iter()
        .any(|entry| entry == answer || answer.split(' ').any(|part| part == entry))
}

/// One answer's count in a results document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCount {
    /// The answer, normalised.
    pub word: String,
    /// Participants who gave it.
    pub count: i64,
}

fn is_invisible(c: char) -> bool {
    match c.general_category() {
        GeneralCategory::Format => c != ZERO_WIDTH_JOINER,
        GeneralCategory::Control
        | GeneralCategory::LineSeparator
        | GeneralCategory::ParagraphSeparator
        | GeneralCategory::Surrogate => !matches!(c, ' ' | '\t'),
        _ => false,
    }
}

fn is_punctuation(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Punctuation
        && !MEANINGFUL_MARKS.contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(raw: &str) -> Result<String, WordError> {
        Words::default().normalise(raw)
    }

    #[test]
    fn answers_that_mean_the_same_count_as_one() {
        for raw in ["Rust", " rust ", "RUST!", "«rust»", "¿rust?", "rust..."] {
            assert_eq!(normal(raw).as_deref(), Ok("rust"), "{raw:?}");
        }
        // "é" composed and decomposed.
        assert_eq!(normal("Caf\u{e9}"), normal("Cafe\u{301}"));
        assert_eq!(
            normal("  machine \t  learning ").as_deref(),
            Ok("machine learning")
        );
        assert_eq!(normal("c++").as_deref(), Ok("c++"), "symbols are kept");
        assert_eq!(normal("rock'n'roll").as_deref(), Ok("rock'n'roll"));
        for kept in ["c#", "#rust", "@alice", "100%"] {
            assert_eq!(normal(&format!("{kept}!")).as_deref(), Ok(kept), "{kept}");
        }
        assert_eq!(normal("👩\u{200d}💻").as_deref(), Ok("👩\u{200d}💻"));
    }

    #[test]
    fn hostile_or_empty_answers_are_refused() {
        for raw in [
            "a\u{202e}b",
            "zero\u{200b}width",
            "bell\u{7}",
            "line\u{2028}break",
            "nul\0",
        ] {
            assert_eq!(normal(raw), Err(WordError::Invisible), "{raw:?}");
        }
        for raw in ["", "   ", "!!!", "…", "\t"] {
            assert_eq!(normal(raw), Err(WordError::Empty), "{raw:?}");
        }
        assert_eq!(normal(&"x".repeat(26)), Err(WordError::TooLong(25)));
        assert_eq!(normal(&"é".repeat(25)).map(|w| w.chars().count()), Ok(25));
    }

    #[test]
    fn normal_words_are_their_own_normal_form() {
        assert!(is_normal_word("machine learning"));
        for raw in ["Rust", " rust", "rust!", "a  b", "", "Cafe\u{301}"] {
            assert!(!is_normal_word(raw), "{raw:?}");
        }
    }

    #[test]
    fn a_block_list_blocks_answers_and_their_words() {
        let list =
            normalise_block_list(&["Idiot".into(), " ".into(), "IDIOT!".into(), "dumb".into()])
                .unwrap();
        assert_eq!(list, ["idiot", "dumb"]);
        assert!(is_blocked("idiot", &list));
        assert!(is_blocked("you idiot", &list));
        assert!(!is_blocked("idiotic", &list), "only whole words");
        assert_eq!(
            normalise_block_list(&["a\u{202e}".into()]),
            Err(WordsRuleError::BlockList)
        );
        let long: Vec<String> = (0..=MAX_BLOCKED_WORDS).map(|n| format!("w{n}")).collect();
        assert_eq!(normalise_block_list(&long), Err(WordsRuleError::BlockList));
    }

    #[test]
    fn limits_round_trip_through_their_columns() {
        let words = Words::default();
        let (max_words, max_chars) = Words::to_columns(Some(words));
        assert_eq!(Words::from_columns(max_words, max_chars), Some(words));
        assert_eq!(Words::from_columns(None, Some(3)), None);
        assert_eq!(Words::from_columns(Some(300), Some(3)), None);
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(Words::default().check(), Ok(()));
        for (max_words, max_chars) in [(0, 25), (11, 25), (3, 0), (3, 41)] {
            let words = Words {
                max_words,
                max_chars,
            };
            assert_eq!(words.check(), Err(WordsRuleError::Limits));
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Text that mixes what normalising acts on: letters with case and special
    /// lower-casing (İ, ẞ), composed and combining accents, white space of every kind,
    /// punctuation inside and at the ends, the marks kept at the ends, symbols and emoji.
    fn tricky_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "a", "Z", "é", "e\u{301}", "\u{301}", "İ", "ẞ", "ﬁ", "Σ", "ς", " ", "\t", "\u{a0}",
            "\u{3000}", ".", "!", "¿", "«", "»", "'", "-", "#", "@", "%", "&", "+", "👩",
            "\u{200d}", "💻", "1", "ǅ", "\u{345}", "Ω", "Å",
        ]);
        prop::collection::vec(pieces, 0..12).prop_map(|parts| parts.concat())
    }

    proptest! {
        /// The worker accepts exactly what the vote service sends: an answer, once
        /// normalised, is its own normal form (else accepted ballots would be refused).
        #[test]
        fn normalising_is_idempotent(raw in tricky_text()) {
            if let Ok(word) = normalise_word(&raw, MAX_WORD_CHARS) {
                prop_assert_eq!(normalise_word(&word, MAX_WORD_CHARS), Ok(word.clone()));
                prop_assert!(is_normal_word(&word));
            }
        }

        /// Whatever is typed, normalising never panics and never leaves control
        /// characters or white space at the ends.
        #[test]
        fn normal_words_have_clean_ends(raw in any::<String>()) {
            if let Ok(word) = normalise_word(&raw, MAX_WORD_CHARS) {
                prop_assert!(!word.starts_with(char::is_whitespace));
                prop_assert!(!word.ends_with(char::is_whitespace));
                prop_assert!(!word.chars().any(char::is_control));
            }
        }
    }
}
