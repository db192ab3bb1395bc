//! Reading a new poll out of a request body: JSON
//! (`{"question","options":[…],"choice","closes_at","hide_results"}`) or a browser's
//! form (`question`, `option` repeated with empty ones ignored, `choice`, `closes_at`
//! from a `datetime-local` field, `hide_results=on`); both may name an `identity`
//! (`browser`, the default, `code` with `voter_codes` (how many), `passcode` with an
//! optional `passcode`, or `open`). Shapes
//! are checked here (400); the poll rules are checked by the caller against the clock
//! (422).

use serde::Deserialize;
use tally_model::identity::unknown_identity;
use tally_model::new_poll::MAX_OPTIONS;
use tally_model::timestamp::parse_ms;
use tally_model::{Choice, Identity, NewPoll, PollRuleError};

use crate::ballot::BodyFormat;
use crate::error::VoteError;

/// Most options read from a form before giving up: well past [`MAX_OPTIONS`], so the
/// rule's own message (422) answers an honest mistake, while a flood stops early.
pub(crate) const MAX_FORM_OPTIONS: usize = 4 * MAX_OPTIONS;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPoll {
    question: String,
    options: Vec<String>,
    #[serde(default)]
    choice: Option<String>,
    #[serde(default)]
    closes_at: Option<String>,
    #[serde(default)]
    hide_results: bool,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    voter_codes: usize,
    #[serde(default)]
    passcode: Option<String>,
}

/// A new poll as its creator asked for it, and the room passcode they typed (if any):
/// the caller checks it ([`crate::passcode::room_passcode`]) and hashes it with the id.
#[derive(Debug)]
pub struct PollRequest {
    /// The poll.
    pub poll: NewPoll,
    /// The passcode as typed.
    pub passcode: Option<String>,
}

/// Reads a new poll from `body` in `format`; labels and question are trimmed.
pub fn decode_poll(format: BodyFormat, body: &[u8]) -> Result<PollRequest, VoteError> {
    let raw = match format {
        BodyFormat::Json => serde_json::from_slice::<JsonPoll>(body)
            .map_err(|error| VoteError::Malformed(format!("invalid JSON poll: {error}")))?,
        BodyFormat::Form => decode_form(body)?,
    };
    let choice = choice_of(raw.choice.as_deref(), POLL_CHOICES)?;
    let closes_at = match raw.closes_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            Some(parse_ms(text).map_err(|error| VoteError::Malformed(error.to_string()))?)
        }
    };
    let poll = NewPoll {
        question: raw.question.trim().to_owned(),
        choice,
        labels: raw.options.iter().map(|l| l.trim().to_owned()).collect(),
        closes_at,
        hide_results: raw.hide_results,
        scale: None,
        words: None,
        identity: identity_of(raw.identity.as_deref())?,
        voter_codes: raw.voter_codes,
    };
    Ok(PollRequest {
        poll,
        passcode: raw.passcode,
    })
}

/// The identity a request names: [`Identity::FOR_CREATED`] when absent or empty.
pub(crate) fn identity_of(text: Option<&str>) -> Result<Identity, VoteError> {
    match text.map(str::trim) {
        None | Some("") => Ok(Identity::FOR_CREATED),
        Some(name) => {
            Identity::from_name(name).ok_or_else(|| VoteError::Malformed(unknown_identity(name)))
        }
    }
}

/// What a poll of its own may ask for; a ranking is an event's question, whose
/// pages know how to order options.
pub(crate) const POLL_CHOICES: &[Choice] = &[Choice::Single, Choice::Multiple];

/// The choice a request names, one of `allowed`: `single` also when absent or empty.
pub(crate) fn choice_of(text: Option<&str>, allowed: &[Choice]) -> Result<Choice, VoteError> {
    let name = match text.map(str::trim) {
        None | Some("") => Choice::Single.name(),
        Some(name) => name,
    };
    match Choice::from_name(name) {
        Some(choice) if allowed.contains(&choice) => Ok(choice),
        _ => {
            let names: Vec<String> = allowed.iter().map(|c| format!("{:?}", c.name())).collect();
            Err(VoteError::Malformed(format!(
                "choice must be {}, not {:?}",
                names.join(" or "),
                name.chars().take(40).collect::<String>()
            )))
        }
    }
}

fn decode_form(body: &[u8]) -> Result<JsonPoll, VoteError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|error| VoteError::Malformed(format!("invalid form: {error}")))?;
    let mut question = None;
    let mut options = Vec::new();
    let mut choice = None;
    let mut closes_at = None;
    let mut hide_results = false;
    let mut identity = None;
    let mut passcode = None;
    let mut voter_codes = None;
    for (name, value) in pairs {
        let once = |slot: &Option<String>| {
            if slot.is_some() {
                Err(VoteError::Malformed(format!("{name} is given twice")))
            } else {
                Ok(Some(value.clone()))
            }
        };
        match name.as_str() {
            "question" => question = once(&question)?,
            "choice" => choice = once(&choice)?,
            "closes_at" => closes_at = once(&closes_at)?,
            "identity" => identity = once(&identity)?,
            "passcode" => passcode = once(&passcode)?,
            "voter_codes" => voter_codes = once(&voter_codes)?,
            "hide_results" => hide_results = matches!(value.as_str(), "on" | "true" | "1"),
            "option" | "options" => {
                if value.trim().is_empty() {
                    continue;
                }
                if options.len() == MAX_FORM_OPTIONS {
                    return Err(PollRuleError::TooManyOptions.into());
                }
                options.push(value);
            }
            other => {
                return Err(VoteError::Malformed(format!(
                    "unknown form field {:?}",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    Ok(JsonPoll {
        question: question.ok_or_else(|| VoteError::Malformed("question is missing".into()))?,
        options,
        choice,
        closes_at,
        hide_results,
        identity,
        voter_codes: voter_codes.as_deref().map_or(Ok(0), count_of_codes)?,
        passcode,
    })
}

/// A form's `voter_codes` field: a whole number (empty reads as none).
pub(crate) fn count_of_codes(text: &str) -> Result<usize, VoteError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    text.parse().map_err(|_| {
        VoteError::Malformed(format!(
            "voter_codes must be a whole number, not {:?}",
            text.chars().take(40).collect::<String>()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(poll: &NewPoll) -> Vec<&str> {
        poll.labels.iter().map(String::as_str).collect()
    }

    #[test]
    fn reads_json_with_defaults() {
        let poll = decode_poll(
            BodyFormat::Json,
            br#"{"question":" Tea? ","options":["Tea"," Coffee "]}"#,
        )
        .unwrap()
        .poll;
        assert_eq!(poll.question, "Tea?");
        assert_eq!(labels(&poll), ["Tea", "Coffee"]);
        assert_eq!(poll.choice, Choice::Single);
        assert_eq!((poll.closes_at, poll.hide_results), (None, false));
        assert_eq!(poll.identity, Identity::Browser);

        let poll = decode_poll(
            BodyFormat::Json,
            br#"{"question":"Q","options":["a","b"],"choice":"multiple",
                 "closes_at":"2030-01-01T00:00:00Z","hide_results":true,"identity":"open"}"#,
        )
        .unwrap()
        .poll;
        assert_eq!(poll.identity, Identity::Open);
        assert_eq!(poll.choice, Choice::Multiple);
        assert_eq!(poll.closes_at, Some(1_893_456_000_000));
        assert!(poll.hide_results);
    }

    #[test]
    fn reads_a_browser_form() {
        let poll = decode_poll(
            BodyFormat::Form,
            b"question=Lunch%3F&option=Pizza&option=&option=Salad&option=+&choice=multiple\
              &closes_at=2030-01-01T00%3A00&hide_results=on&identity=open",
        )
        .unwrap()
        .poll;
        assert_eq!(poll.identity, Identity::Open);
        assert_eq!(poll.question, "Lunch?");
        assert_eq!(
            labels(&poll),
            ["Pizza", "Salad"],
            "empty options are ignored"
        );
        assert_eq!(poll.choice, Choice::Multiple);
        assert_eq!(poll.closes_at, Some(1_893_456_000_000));
        assert!(poll.hide_results);

        let plain = decode_poll(BodyFormat::Form, b"question=Q&option=a&option=b&closes_at=")
            .unwrap()
            .poll;
        assert_eq!((plain.closes_at, plain.hide_results), (None, false));
    }

    #[test]
    fn reads_a_passcode_as_typed_in_json_and_forms() {
        let json = decode_poll(
            BodyFormat::Json,
            br#"{"question":"Q","options":["a","b"],"identity":"passcode","passcode":" Tiger "}"#,
        )
        .unwrap();
        assert_eq!(json.poll.identity, Identity::Passcode);
        assert_eq!(json.passcode.as_deref(), Some(" Tiger "));
        let form = decode_poll(
            BodyFormat::Form,
            b"question=Q&option=a&option=b&identity=passcode&passcode=tiger+lake",
        )
        .unwrap();
        assert_eq!(form.passcode.as_deref(), Some("tiger lake"));
        let twice = decode_poll(
            BodyFormat::Form,
            b"question=Q&option=a&option=b&passcode=x&passcode=y",
        );
        assert!(matches!(twice, Err(VoteError::Malformed(_))));
    }

    #[test]
    fn reads_how_many_codes_a_form_asks_for() {
        let form = decode_poll(
            BodyFormat::Form,
            b"question=Q&option=a&option=b&identity=code&voter_codes=+30+",
        )
        .unwrap();
        assert_eq!(form.poll.identity, Identity::Code);
        assert_eq!(form.poll.voter_codes, 30);
        let empty = decode_poll(
            BodyFormat::Form,
            b"question=Q&option=a&option=b&voter_codes=",
        );
        assert_eq!(empty.unwrap().poll.voter_codes, 0);
    }

    #[test]
    fn refuses_malformed_bodies() {
        let cases: [(BodyFormat, &[u8]); 16] = [
            (BodyFormat::Json, b"{"),
            (BodyFormat::Json, b"[]"),
            (BodyFormat::Json, br#"{"options":["a","b"]}"#),
            (BodyFormat::Json, br#"{"question":"Q","options":"a,b"}"#),
            (
                BodyFormat::Json,
                br#"{"question":"Q","options":["a","b"],"admin":true}"#,
            ),
            (
                BodyFormat::Json,
                br#"{"question":"Q","options":["a","b"],"choice":"all"}"#,
            ),
            (
                BodyFormat::Json,
                br#"{"question":"Q","options":["a","b"],"closes_at":"soon"}"#,
            ),
            (
                BodyFormat::Json,
                br#"{"question":"Q","options":["a","b"],"hide_results":"yes"}"#,
            ),
            (
                BodyFormat::Json,
                br#"{"question":"Q","options":["a","b"],"identity":"anyone"}"#,
            ),
            (
                BodyFormat::Json,
                br#"{"question":"Q","options":["a","b"],"identity":true}"#,
            ),
            (BodyFormat::Form, b"option=a&option=b"),
            (BodyFormat::Form, b"question=Q&question=R&option=a&option=b"),
            (
                BodyFormat::Form,
                b"question=Q&option=a&option=b&identity=open&identity=browser",
            ),
            (
                BodyFormat::Form,
                b"question=Q&option=a&option=b&poll=default",
            ),
            (
                BodyFormat::Form,
                b"question=Q&option=a&option=b&identity=code&voter_codes=ten",
            ),
            (
                BodyFormat::Form,
                b"question=Q&option=a&option=b&voter_codes=-3",
            ),
        ];
        for (format, body) in cases {
            let error = decode_poll(format, body).unwrap_err();
            assert!(
                matches!(error, VoteError::Malformed(_)),
                "{}: {error:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_flood_of_form_options_stops_early() {
        let body = format!("question=Q{}", "&option=x".repeat(MAX_FORM_OPTIONS + 1));
        assert!(matches!(
            decode_poll(BodyFormat::Form, body.as_bytes()),
            Err(VoteError::PollRule(PollRuleError::TooManyOptions))
        ));
    }
}
