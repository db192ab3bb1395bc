//! What the vote page shows, read from a results document: counts only when the public
//! may see them (hidden-results polls withhold them until they close), and which
//! options this browser chose (from the readable `tally_choice_<poll>` cookie).

use std::time::{SystemTime, UNIX_EPOCH};

use http::{header, HeaderMap};
use serde::Deserialize;
use tally_model::poll::is_valid_option_id;
use tally_model::{Choice, Identity, Scale, ScaleSummary, WordCount, Words};
use tally_voter::CHOICE_COOKIE_PREFIX;

/// One option as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct ViewOption {
    /// Key sent in the ballot.
    pub(crate) id: String,
    /// What people read.
    pub(crate) label: String,
    /// Ballots that chose it; `None` while hidden.
    #[serde(default)]
    pub(crate) votes: Option<i64>,
    /// A ranking's Borda score; `None` while hidden and for other questions.
    #[serde(default)]
    pub(crate) score: Option<i64>,
    /// A ranking's ballots per place, first place first; `None` while hidden.
    #[serde(default)]
    pub(crate) places: Option<Vec<i64>>,
}

/// The results document as the page reads it. Fields added to the document for created
/// polls default to a plain open single-choice poll, so older documents still render.
#[derive(Debug, Deserialize)]
struct Document {
    poll: String,
    question: String,
    options: Vec<ViewOption>,
    #[serde(default)]
    total: Option<i64>,
    #[serde(default = "open_by_default")]
    open: bool,
    #[serde(default)]
    closes_at: Option<String>,
    #[serde(default)]
    choice: Option<String>,
    #[serde(default)]
    hide_results: bool,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    words: Option<Vec<WordCount>>,
    #[serde(default)]
    word_limits: Option<Words>,
    #[serde(default)]
    scale: Option<Scale>,
    #[serde(default)]
    summary: Option<ScaleSummary>,
    #[serde(default)]
    identity: Identity,
}

fn open_by_default() -> bool {
    true
}

/// Everything the vote page renders.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageView {
    /// The poll's id.
    pub(crate) poll: String,
    /// The question.
    pub(crate) question: String,
    /// Radio buttons, checkboxes, or a select per place.
    pub(crate) choice: Choice,
    /// Whether votes are taken now.
    pub(crate) open: bool,
    /// When the poll closes by itself (RFC 3339), if it does.
    pub(crate) closes_at: Option<String>,
    /// Counts withheld (every `votes` and `total` is `None`).
    pub(crate) hidden: bool,
    /// Ballots cast; `None` while hidden.
    pub(crate) total: Option<i64>,
    /// The options in display order (none for a word cloud).
    pub(crate) options: Vec<ViewOption>,
    /// A word cloud's answers, the most given first; `None` while hidden.
    pub(crate) words: Option<Vec<WordCount>>,
    /// A word cloud's limits.
    pub(crate) word_limits: Option<Words>,
    /// A scale question's range and what its ends mean.
    pub(crate) scale: Option<Scale>,
    /// A scale question's mean and median; `None` while hidden.
    pub(crate) summary: Option<ScaleSummary>,
    /// Who counts as a voter: the form asks for a voter code or the room's passcode
    /// where the poll takes one.
    pub(crate) identity: Identity,
}

impl PageView {
    /// Reads a results document at the instant `now_ms`. Counts are withheld when the
    /// document says so, or when the poll hides results and is still open.
    pub(crate) fn from_document(body: &[u8], now_ms: u64) -> Result<Self, serde_json::Error> {
        let document: Document = serde_json::from_slice(body)?;
        let past_closing = document
            .closes_at
            .as_deref()
            .and_then(|text| humantime::parse_rfc3339_weak(text).ok())
            .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|at| at.as_millis() as u64 <= now_ms);
        let open = document.open && !past_closing;
        let hidden = document.hidden
            // A question of an event stays hidden after it closes, until revealed.
            || (document.hide_results && (open || document.event.is_some()))
            || document.total.is_none()
            || document.options.iter().any(|option| option.votes.is_none());
        let mut options = document.options;
        if hidden {
            options.iter_mut().for_each(|option| {
                option.votes = None;
                option.score = None;
                option.places = None;
            });
        }
        Ok(PageView {
            poll: document.poll,
            question: document.question,
            choice: document
                .choice
                .as_deref()
                .and_then(Choice::from_name)
                .unwrap_or(Choice::Single),
            open,
            closes_at: document.closes_at.filter(|text| !text.is_empty()),
            hidden,
            total: if hidden { None } else { document.total },
            options,
            words: if hidden { None } else { document.words },
            word_limits: document.word_limits,
            scale: document.scale,
            summary: if hidden { None } else { document.summary },
            identity: document.identity,
        })
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// The option ids this browser last voted for on `poll`, from its choice cookie.
pub(crate) fn chosen_options(headers: &HeaderMap, poll: &str) -> Vec<String> {
    let name = format!("{CHOICE_COOKIE_PREFIX}{poll}");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| {
            value
                .trim_matches('"')
                .replace("%2C", ",")
                .replace("%2c", ",")
                .split(',')
                .map(str::trim)
                .filter(|id| is_valid_option_id(id))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn document(extra: &str) -> Vec<u8> {
        format!(
            r#"{{"poll":"p","question":"Q?","options":[{{"id":"a","label":"A","votes":3}},
               {{"id":"b","label":"B","votes":1}}],"total":4,"updated_at":"","version":2{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_plain_document_is_an_open_single_choice_poll_with_counts() {
        let view = PageView::from_document(&document(""), NOW).unwrap();
        assert!(view.open && view.choice == Choice::Single && !view.hidden);
        assert_eq!(view.total, Some(4));
        assert_eq!(view.options[0].votes, Some(3));
    }

    #[test]
    fn hidden_results_stay_hidden_while_open_and_show_once_closed() {
        let open = PageView::from_document(&document(r#","hide_results":true"#), NOW).unwrap();
        assert!(open.hidden);
        assert_eq!(open.total, None);
        assert!(open.options.iter().all(|o| o.votes.is_none()));

        let closed =
            PageView::from_document(&document(r#","hide_results":true,"open":false"#), NOW)
                .unwrap();
        assert!(!closed.hidden);
        assert_eq!(closed.total, Some(4));
    }

    #[test]
    fn a_poll_past_its_closing_time_is_closed() {
        let past = document(r#","closes_at":"2020-01-01T00:00:00Z","hide_results":true"#);
        let view = PageView::from_document(&past, NOW).unwrap();
        assert!(!view.open && !view.hidden);
        let future = document(r#","closes_at":"2099-01-01T00:00:00Z","choice":"multiple""#);
        let view = PageView::from_document(&future, NOW).unwrap();
        assert!(view.open && view.choice == Choice::Multiple);
    }

    #[test]
    fn null_counts_are_hidden_counts() {
        let body = br#"{"poll":"p","question":"Q","options":[{"id":"a","label":"A","votes":null}],
                        "total":null,"hidden":true}"#;
        let view = PageView::from_document(body, NOW).unwrap();
        assert!(view.hidden);
    }

    #[test]
    fn the_choice_cookie_names_valid_options_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "tally_voter=x.y; tally_choice_p=a%2Cc,<b>; tally_choice_q=z"
                .parse()
                .unwrap(),
        );
        assert_eq!(chosen_options(&headers, "p"), ["a", "c"]);
        assert_eq!(chosen_options(&headers, "q"), ["z"]);
        assert!(chosen_options(&headers, "r").is_empty());
    }
}
