//! Reading an event's requests out of their bodies: a new event as JSON
//! (`{"title","questions":[{"question","options":[…],"choice"}],"blocked_words":[…]}`,
//! `choice` one of `single`, `multiple`, `ranking` and `words`, where a scale question
//! gives `"scale":{"min","max","min_label","max_label"}` instead of options and a word
//! cloud `"words":{"max_words","max_chars"}` or just `"choice":"words"`) or as a
//! browser's form (`title`, then per question a `question` field followed by its
//! `option` fields and an optional `choice`, and a `blocked_words` text of lines or
//! commas), both with an optional `identity` (`browser`, the default, `code` with
//! `voter_codes` (how many), `passcode` with an optional `passcode`, or `open`) for
//! every question; the position a presenter's `show` names, and the answer a
//! moderation names. Shapes are checked here (400); the event's rules by the caller
//! (422).

use serde::Deserialize;
use tally_model::event::{EventRuleError, MAX_EVENT_QUESTIONS};
use tally_model::new_poll::is_created_poll_id;
use tally_model::words::{normalise_block_list, normalise_word, MAX_WORD_CHARS};
use tally_model::{Choice, Identity, NewEvent, NewPoll, PollRuleError, Scale, Words};

use crate::ballot::BodyFormat;
use crate::error::VoteError;
use crate::poll_request::{choice_of, count_of_codes, identity_of, MAX_FORM_OPTIONS};

/// What an event's question may ask for.
const QUESTION_CHOICES: &[Choice] = &Choice::ALL;

/// Most questions read from a form before giving up: well past [`MAX_EVENT_QUESTIONS`],
/// so the rule's own message (422) answers an honest mistake, while a flood stops early.
const MAX_FORM_QUESTIONS: usize = 4 * MAX_EVENT_QUESTIONS;

/// Most digits in a form's `position`: more than any event has questions, short enough
/// that parsing never overflows.
const MAX_POSITION_DIGITS: usize = 6;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEvent {
    title: String,
    questions: Vec<JsonQuestion>,
    #[serde(default)]
    blocked_words: Vec<String>,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    passcode: Option<String>,
    #[serde(default)]
    voter_codes: usize,
}

/// A new event as its creator asked for it, and the room passcode they typed (if any):
/// the caller checks it ([`crate::passcode::room_passcode`]) and hashes it with the id.
#[derive(Debug)]
pub struct EventRequest {
    /// The event.
    pub event: NewEvent,
    /// The passcode as typed.
    pub passcode: Option<String>,
}

/// One question as a request gives it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JsonQuestion {
    /// The question's poll: named only when an owner edits a question.
    #[serde(default)]
    pub(crate) poll: Option<String>,
    question: String,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default)]
    choice: Option<String>,
    #[serde(default)]
    scale: Option<JsonScale>,
    #[serde(default)]
    words: Option<JsonWords>,
}

/// A word cloud's limits as a request gives them; unnamed ones are the usual 3 answers
/// of 25 characters.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JsonWords {
    #[serde(default)]
    max_words: Option<u8>,
    #[serde(default)]
    max_chars: Option<u8>,
}

/// A scale as a request gives it; unnamed ends run 1 to 5.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonScale {
    #[serde(default = "default_scale_min")]
    min: u8,
    #[serde(default = "default_scale_max")]
    max: u8,
    #[serde(default)]
    min_label: String,
    #[serde(default)]
    max_label: String,
}

/// The scale people expect when they name none: 1 to 5.
fn default_scale_min() -> u8 {
    1
}

fn default_scale_max() -> u8 {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonShow {
    #[serde(default)]
    position: Option<usize>,
    #[serde(default)]
    poll: Option<String>,
}

/// The question a `show` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowTarget {
    /// By position (0-based).
    Position(usize),
    /// By its poll: still the presenter's choice if the questions moved meanwhile.
    Poll(String),
}

/// Reads a new event from `body` in `format`; title, questions and labels are trimmed.
pub fn decode_event(format: BodyFormat, body: &[u8]) -> Result<EventRequest, VoteError> {
    let raw = match format {
        BodyFormat::Json => serde_json::from_slice::<JsonEvent>(body)
            .map_err(|error| VoteError::Malformed(format!("invalid JSON event: {error}")))?,
        BodyFormat::Form => decode_form(body)?,
    };
    if raw.questions.iter().any(|question| question.poll.is_some()) {
        return Err(VoteError::Malformed(
            "a new event's questions name no poll: Tally gives each one".into(),
        ));
    }
    let identity = identity_of(raw.identity.as_deref())?;
    let voter_codes = raw.voter_codes;
    let questions = raw
        .questions
        .into_iter()
        .map(|question| {
            new_poll_of(question).map(|poll| NewPoll {
                identity,
                voter_codes,
                ..poll
            })
        })
        .collect::<Result<Vec<_>, VoteError>>()?;
    let event = NewEvent {
        title: raw.title.trim().to_owned(),
        questions,
        blocked_words: normalise_block_list(&raw.blocked_words).map_err(EventRuleError::from)?,
        identity,
        voter_codes,
    };
    Ok(EventRequest {
        event,
        passcode: raw.passcode,
    })
}

/// The poll a question asks for; labels and texts are trimmed, a scale's points are its
/// options, and a word cloud without limits takes the usual ones. Its identity is its
/// event's, which the caller (or for a question added later, the worker) gives it.
pub(crate) fn new_poll_of(question: JsonQuestion) -> Result<NewPoll, VoteError> {
    let scale = question.scale.map(|scale| Scale {
        min: scale.min,
        max: scale.max,
        min_label: scale.min_label.trim().to_owned(),
        max_label: scale.max_label.trim().to_owned(),
    });
    // A scale's options are its points; written ones are refused by the rules.
    let labels = match &scale {
        Some(scale) if question.options.is_empty() => scale.labels(),
        _ => question
            .options
            .iter()
            .map(|label| label.trim().to_owned())
            .collect(),
    };
    // Limits alone make a word cloud; a word cloud without them takes the usual.
    let choice = match (question.choice.as_deref(), &question.words) {
        (None, Some(_)) => Choice::Words,
        (text, _) => choice_of(text, QUESTION_CHOICES)?,
    };
    let words = match (choice, question.words) {
        (Choice::Words, limits) => Some(word_limits(limits.unwrap_or_default())),
        (_, Some(limits)) => Some(word_limits(limits)),
        (_, None) => None,
    };
    Ok(NewPoll {
        question: question.question.trim().to_owned(),
        choice,
        labels,
        closes_at: None,
        hide_results: false,
        scale,
        words,
        identity: Identity::default(),
        voter_codes: 0,
    })
}

fn word_limits(limits: JsonWords) -> Words {
    let usual = Words::default();
    Words {
        max_words: limits.max_words.unwrap_or(usual.max_words),
        max_chars: limits.max_chars.unwrap_or(usual.max_chars),
    }
}

fn decode_form(body: &[u8]) -> Result<JsonEvent, VoteError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|error| VoteError::Malformed(format!("invalid form: {error}")))?;
    let mut title = None;
    let mut questions: Vec<JsonQuestion> = Vec::new();
    let mut blocked_words: Vec<String> = Vec::new();
    let mut identity = None;
    let mut passcode = None;
    let mut voter_codes = None;
    for (name, value) in pairs {
        let position = questions.len();
        let current = || {
            VoteError::Malformed(format!(
                "{name} comes before the first question field; each question starts with one"
            ))
        };
        match name.as_str() {
            "title" if title.is_none() => title = Some(value),
            "title" => return Err(VoteError::Malformed("title is given twice".into())),
            "blocked_words" => blocked_words.extend(split_block_list(&value)),
            "identity" if identity.is_none() => identity = Some(value),
            "identity" => return Err(VoteError::Malformed("identity is given twice".into())),
            "passcode" if passcode.is_none() => passcode = Some(value),
            "passcode" => return Err(VoteError::Malformed("passcode is given twice".into())),
            "voter_codes" if voter_codes.is_none() => voter_codes = Some(count_of_codes(&value)?),
            "voter_codes" => return Err(VoteError::Malformed("voter_codes is given twice".into())),
            "question" => {
                if position == MAX_FORM_QUESTIONS {
                    return Err(EventRuleError::TooManyQuestions.into());
                }
                questions.push(JsonQuestion {
                    poll: None,
                    question: value,
                    options: Vec::new(),
                    choice: None,
                    scale: None,
                    words: None,
                });
            }
            "option" | "options" => {
                let question = questions.last_mut().ok_or_else(current)?;
                if value.trim().is_empty() {
                    continue;
                }
                if question.options.len() == MAX_FORM_OPTIONS {
                    let error = PollRuleError::TooManyOptions;
                    return Err(EventRuleError::Question(position, error).into());
                }
                question.options.push(value);
            }
            "choice" => {
                let question = questions.last_mut().ok_or_else(current)?;
                if question.choice.is_some() {
                    return Err(VoteError::Malformed(format!(
                        "question {position} gives its choice twice"
                    )));
                }
                question.choice = Some(value);
            }
            other => {
                return Err(VoteError::Malformed(format!(
                    "unknown form field {:?}",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    Ok(JsonEvent {
        title: title.ok_or_else(|| VoteError::Malformed("title is missing".into()))?,
        questions,
        blocked_words,
        identity,
        passcode,
        voter_codes: voter_codes.unwrap_or(0),
    })
}

/// The answer a presenter hides or shows again, and the question it belongs to (the one
/// shown when the request names none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderation {
    /// The question's poll, if named.
    pub poll: Option<String>,
    /// The answer, normalised as ballots' answers are.
    pub word: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonModeration {
    #[serde(default)]
    poll: Option<String>,
    word: String,
}

/// Reads a moderation: `{"word": "…", "poll": "…"}` or `word=…&poll=…`.
pub fn decode_moderation(format: BodyFormat, body: &[u8]) -> Result<Moderation, VoteError> {
    let raw = match format {
        BodyFormat::Json => serde_json::from_slice::<JsonModeration>(body)
            .map_err(|error| VoteError::Malformed(format!("invalid JSON moderation: {error}")))?,
        BodyFormat::Form => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|error| VoteError::Malformed(format!("invalid form: {error}")))?;
            let mut poll = None;
            let mut word = None;
            for (name, value) in pairs {
                let slot = match name.as_str() {
                    "poll" => &mut poll,
                    "word" => &mut word,
                    _ => {
                        return Err(VoteError::Malformed(
                            "send word, and optionally poll, and nothing else".into(),
                        ))
                    }
                };
                if slot.replace(value).is_some() {
                    return Err(VoteError::Malformed(format!("{name} is given twice")));
                }
            }
            JsonModeration {
                poll,
                word: word.ok_or_else(|| VoteError::Malformed("word is missing".into()))?,
            }
        }
    };
    let word = normalise_word(&raw.word, MAX_WORD_CHARS)
        .map_err(|error| VoteError::Malformed(format!("the answer {error}")))?;
    Ok(Moderation {
        poll: raw.poll.filter(|poll| !poll.is_empty()),
        word,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBlockList {
    blocked_words: Vec<String>,
}

/// Reads a new block list: `{"blocked_words": ["…"]}`, or a form's `blocked_words` text
/// of lines or commas; normalised (the rules are checked here too: 422).
pub fn decode_block_list(format: BodyFormat, body: &[u8]) -> Result<Vec<String>, VoteError> {
    let raw = match format {
        BodyFormat::Json => {
            serde_json::from_slice::<JsonBlockList>(body)
                .map_err(|error| VoteError::Malformed(format!("invalid JSON block list: {error}")))?
                .blocked_words
        }
        BodyFormat::Form => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|error| VoteError::Malformed(format!("invalid form: {error}")))?;
            let mut list = Vec::new();
            for (name, value) in pairs {
                if name != "blocked_words" {
                    return Err(VoteError::Malformed(
                        "send one field, blocked_words, and nothing else".into(),
                    ));
                }
                list.extend(split_block_list(&value));
            }
            list
        }
    };
    Ok(normalise_block_list(&raw).map_err(EventRuleError::from)?)
}

/// A form's block list text: entries on lines or between commas.
fn split_block_list(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(['\n', ','])
        .map(|entry| entry.trim_end_matches('\r').to_owned())
}

/// Reads the question a `show` names: `{"position": 2}`, `{"poll": "…"}` (the poll wins
/// when both are given) or a form's `position=2`.
pub fn decode_show(format: BodyFormat, body: &[u8]) -> Result<ShowTarget, VoteError> {
    match format {
        BodyFormat::Json => {
            let show = serde_json::from_slice::<JsonShow>(body)
                .map_err(|error| VoteError::Malformed(format!("invalid JSON show: {error}")))?;
            match (show.poll, show.position) {
                (Some(poll), _) if is_created_poll_id(&poll) => Ok(ShowTarget::Poll(poll)),
                (Some(_), _) => Err(VoteError::Malformed(
                    "poll must be a question's poll id: 10 letters and digits".into(),
                )),
                (None, Some(position)) => Ok(ShowTarget::Position(position)),
                (None, None) => Err(VoteError::Malformed(
                    "name the question: {\"position\": n} or {\"poll\": \"…\"}".into(),
                )),
            }
        }
        BodyFormat::Form => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|error| VoteError::Malformed(format!("invalid form: {error}")))?;
            match pairs.as_slice() {
                [(name, value)] if name == "position" => {
                    parse_position(value).map(ShowTarget::Position)
                }
                [] => Err(VoteError::Malformed("position is missing".into())),
                _ => Err(VoteError::Malformed(
                    "send one field, position, and nothing else".into(),
                )),
            }
        }
    }
}

fn parse_position(text: &str) -> Result<usize, VoteError> {
    let digits = text.trim();
    let valid = !digits.is_empty()
        && digits.len() <= MAX_POSITION_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(VoteError::Malformed(format!(
            "position must be a question's number from 0, not {:?}",
            text.chars().take(40).collect::<String>()
        )));
    }
    digits
        .parse()
        .map_err(|_| VoteError::Malformed("position is out of range".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::Choice;

    fn labels(poll: &NewPoll) -> Vec<&str> {
        poll.labels.iter().map(String::as_str).collect()
    }

    #[test]
    fn reads_a_scale_question() {
        let event = decode_event(
            BodyFormat::Json,
            br#"{"title":"Talk","questions":[
                {"question":"How useful?","scale":{"min_label":" Not at all ","max_label":"Very"}},
                {"question":"Recommend us?","scale":{"min":0,"max":10}}]}"#,
        )
        .unwrap()
        .event;
        let useful = event.questions[0].scale.clone().unwrap();
        assert_eq!((useful.min, useful.max), (1, 5), "1 to 5 unless named");
        assert_eq!(useful.min_label, "Not at all");
        assert_eq!(labels(&event.questions[0]), ["1", "2", "3", "4", "5"]);
        assert_eq!(event.questions[1].labels.len(), 11);
        assert_eq!(event.check(), Ok(()));

        let written = decode_event(
            BodyFormat::Json,
            br#"{"title":"T","questions":[{"question":"Q","options":["a","b"],"scale":{}}]}"#,
        )
        .unwrap()
        .event;
        assert_eq!(
            written.check(),
            Err(EventRuleError::Question(1, PollRuleError::ScaleAnswers))
        );
        for hostile in [
            r#"{"title":"T","questions":[{"question":"Q","scale":{"max":300}}]}"#,
            r#"{"title":"T","questions":[{"question":"Q","scale":{"min":-1}}]}"#,
            r#"{"title":"T","questions":[{"question":"Q","scale":{"step":2}}]}"#,
            r#"{"title":"T","questions":[{"question":"Q","scale":"1-5"}]}"#,
        ] {
            assert!(
                matches!(
                    decode_event(BodyFormat::Json, hostile.as_bytes()),
                    Err(VoteError::Malformed(_))
                ),
                "{hostile}"
            );
        }
    }

    #[test]
    fn a_code_event_gives_its_count_of_codes_to_every_question() {
        let json = br#"{"title":"T","identity":"code","voter_codes":40,"questions":[
            {"question":"Q","options":["a","b"]},{"question":"R","choice":"words"}]}"#;
        let form = b"title=T&identity=code&voter_codes=40&question=Q&option=a&option=b\
                     &question=R&option=c&option=d";
        for (format, body) in [(BodyFormat::Json, &json[..]), (BodyFormat::Form, &form[..])] {
            let event = decode_event(format, body).unwrap().event;
            assert_eq!((event.identity, event.voter_codes), (Identity::Code, 40));
            assert!(event
                .questions
                .iter()
                .all(|q| q.identity == Identity::Code && q.voter_codes == 40));
            assert_eq!(event.check(), Ok(()));
        }
        let none = decode_event(BodyFormat::Json, br#"{"title":"T","identity":"code","questions":[{"question":"Q","options":["a","b"]}]}"#);
        assert_eq!(none.unwrap().event.check(), Err(EventRuleError::VoterCodes));
        let twice = decode_event(
            BodyFormat::Form,
            b"title=T&voter_codes=1&voter_codes=2&question=Q&option=a&option=b",
        );
        assert!(matches!(twice, Err(VoteError::Malformed(_))));
    }

    #[test]
    fn reads_json_with_defaults() {
        let event = decode_event(
            BodyFormat::Json,
            br#"{"title":" All hands ","questions":[
                {"question":" Lunch? ","options":["Pizza"," Salad "]},
                {"question":"Topics","options":["a","b","c"],"choice":"multiple"}]}"#,
        )
        .unwrap()
        .event;
        assert_eq!(event.title, "All hands");
        assert_eq!(event.questions.len(), 2);
        assert_eq!(event.questions[0].question, "Lunch?");
        assert_eq!(labels(&event.questions[0]), ["Pizza", "Salad"]);
        assert_eq!(event.questions[0].choice, Choice::Single);
        assert_eq!(event.questions[1].choice, Choice::Multiple);
        assert!(event
            .questions
            .iter()
            .all(|q| q.closes_at.is_none() && !q.hide_results));
        assert_eq!(event.check(), Ok(()));
    }

    #[test]
    fn reads_a_browser_form_question_by_question() {
        let event = decode_event(
            BodyFormat::Form,
            b"title=Town+hall&question=Lunch%3F&option=Pizza&option=&option=Salad\
              &question=Topics&option=a&choice=multiple&option=b&option=+",
        )
        .unwrap()
        .event;
        assert_eq!(event.title, "Town hall");
        assert_eq!(event.questions.len(), 2);
        assert_eq!(labels(&event.questions[0]), ["Pizza", "Salad"]);
        assert_eq!(event.questions[0].choice, Choice::Single);
        assert_eq!(labels(&event.questions[1]), ["a", "b"]);
        assert_eq!(event.questions[1].choice, Choice::Multiple);

        let none = decode_event(BodyFormat::Form, b"title=T").unwrap().event;
        assert_eq!(none.check(), Err(EventRuleError::NoQuestions));
    }

    #[test]
    fn refuses_malformed_bodies() {
        let cases: [(BodyFormat, &[u8]); 14] = [
            (BodyFormat::Json, b"{"),
            (BodyFormat::Json, b"[]"),
            (BodyFormat::Json, br#"{"questions":[]}"#),
            (BodyFormat::Json, br#"{"title":"T"}"#),
            (BodyFormat::Json, br#"{"title":"T","questions":{}}"#),
            (BodyFormat::Json, br#"{"title":"T","questions":[],"owner":"x"}"#),
            (
                BodyFormat::Json,
                br#"{"title":"T","questions":[{"question":"Q","options":["a","b"],"closes_at":"2030-01-01T00:00:00Z"}]}"#,
            ),
            (
                BodyFormat::Json,
                br#"{"title":"T","questions":[{"question":"Q","options":["a","b"],"choice":"all"}]}"#,
            ),
            (BodyFormat::Json, br#"{"title":7,"questions":[]}"#),
            (BodyFormat::Form, b"question=Q&option=a&option=b"),
            (BodyFormat::Form, b"title=T&title=U&question=Q"),
            (BodyFormat::Form, b"title=T&option=a&question=Q"),
            (BodyFormat::Form, b"title=T&choice=single&question=Q"),
            (BodyFormat::Form, b"title=T&question=Q&choice=single&choice=multiple"),
        ];
        for (format, body) in cases {
            let error = decode_event(format, body).unwrap_err();
            assert!(
                matches!(error, VoteError::Malformed(_)),
                "{}: {error:?}",
                String::from_utf8_lossy(body)
            );
        }
        let unknown = decode_event(BodyFormat::Form, b"title=T&question=Q&poll=default");
        assert!(matches!(unknown, Err(VoteError::Malformed(_))));
    }

    #[test]
    fn a_flood_of_form_questions_or_options_stops_early() {
        let body = format!("title=T{}", "&question=Q".repeat(MAX_FORM_QUESTIONS + 1));
        assert!(matches!(
            decode_event(BodyFormat::Form, body.as_bytes()),
            Err(VoteError::EventRule(EventRuleError::TooManyQuestions))
        ));
        let body = format!(
            "title=T&question=A&question=B{}",
            "&option=x".repeat(MAX_FORM_OPTIONS + 1)
        );
        assert!(matches!(
            decode_event(BodyFormat::Form, body.as_bytes()),
            Err(VoteError::EventRule(EventRuleError::Question(
                2,
                PollRuleError::TooManyOptions
            )))
        ));
    }

    #[test]
    fn reads_a_word_cloud_and_its_block_list() {
        let event = decode_event(
            BodyFormat::Json,
            br#"{"title":"Talk","blocked_words":["Idiot!"," ","dumb"],"questions":[
                {"question":"One word?","choice":"words"},
                {"question":"Two words?","words":{"max_words":2}},
                {"question":"Lunch?","options":["a","b"]}]}"#,
        )
        .unwrap()
        .event;
        assert_eq!(event.blocked_words, ["idiot", "dumb"]);
        assert_eq!(event.questions[0].choice, Choice::Words);
        assert_eq!(event.questions[0].words, Some(Words::default()));
        assert_eq!(
            event.questions[1].words.map(|w| (w.max_words, w.max_chars)),
            Some((2, 25))
        );
        assert_eq!(event.questions[2].words, None);
        assert_eq!(event.check(), Ok(()));

        let form = decode_event(
            BodyFormat::Form,
            b"title=T&question=One+word%3F&choice=words&blocked_words=spam%0D%0Aeggs%2C+ham",
        )
        .unwrap()
        .event;
        assert_eq!(form.blocked_words, ["spam", "eggs", "ham"]);
        assert_eq!(form.questions[0].words, Some(Words::default()));

        for (body, rule) in [
            (
                r#"{"title":"T","questions":[{"question":"Q","words":{"max_words":0}}]}"#,
                true,
            ),
            (
                r#"{"title":"T","questions":[{"question":"Q","choice":"words","options":["a","b"]}]}"#,
                true,
            ),
            (
                r#"{"title":"T","questions":[{"question":"Q","options":["a","b"],"choice":"single","words":{}}]}"#,
                true,
            ),
            (
                r#"{"title":"T","questions":[{"question":"Q","words":{"max_words":300}}]}"#,
                false,
            ),
            (
                r#"{"title":"T","questions":[{"question":"Q","words":{"size":3}}]}"#,
                false,
            ),
            (
                r#"{"title":"T","questions":[{"question":"Q","choice":"words"}],"blocked_words":"spam"}"#,
                false,
            ),
        ] {
            match decode_event(BodyFormat::Json, body.as_bytes()) {
                Ok(request) => assert!(rule && request.event.check().is_err(), "{body}"),
                Err(error) => assert!(!rule && matches!(error, VoteError::Malformed(_)), "{body}"),
            }
        }
        let hostile = decode_event(
            BodyFormat::Json,
            "{\"title\":\"T\",\"questions\":[{\"question\":\"Q\",\"choice\":\"words\"}],\"blocked_words\":[\"a\\u202eb\"]}".as_bytes(),
        );
        assert!(matches!(
            hostile,
            Err(VoteError::EventRule(EventRuleError::BlockList(_)))
        ));
    }

    #[test]
    fn reads_block_lists() {
        assert_eq!(
            decode_block_list(
                BodyFormat::Json,
                br#"{"blocked_words":["Spam!","spam"," "]}"#
            )
            .unwrap(),
            ["spam"]
        );
        assert_eq!(
            decode_block_list(BodyFormat::Form, b"blocked_words=a%0D%0Ab%2Cc").unwrap(),
            ["a", "b", "c"]
        );
        assert!(
            decode_block_list(BodyFormat::Json, br#"{"blocked_words":[]}"#)
                .unwrap()
                .is_empty()
        );
        for (format, body) in [
            (BodyFormat::Json, &br#"{}"#[..]),
            (BodyFormat::Json, br#"{"blocked_words":"spam"}"#),
            (BodyFormat::Form, b"words=spam"),
        ] {
            assert!(matches!(
                decode_block_list(format, body),
                Err(VoteError::Malformed(_))
            ));
        }
        assert!(matches!(
            decode_block_list(BodyFormat::Json, br#"{"blocked_words":["!!"]}"#),
            Err(VoteError::EventRule(_))
        ));
    }

    #[test]
    fn reads_moderations() {
        assert_eq!(
            decode_moderation(BodyFormat::Json, br#"{"word":" Rust! "}"#).unwrap(),
            Moderation {
                poll: None,
                word: "rust".into()
            }
        );
        assert_eq!(
            decode_moderation(BodyFormat::Form, b"poll=Qu3st10n01&word=Go").unwrap(),
            Moderation {
                poll: Some("Qu3st10n01".into()),
                word: "go".into()
            }
        );
        let cases: [(BodyFormat, &[u8]); 6] = [
            (BodyFormat::Json, b"{}"),
            (BodyFormat::Json, br#"{"word":"!!"}"#),
            (BodyFormat::Json, br#"{"word":"a","x":1}"#),
            (BodyFormat::Form, b"word=a&word=b"),
            (BodyFormat::Form, b"poll=p"),
            (BodyFormat::Form, b"word=a&position=1"),
        ];
        for (format, body) in cases {
            assert!(
                matches!(
                    decode_moderation(format, body),
                    Err(VoteError::Malformed(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn reads_positions() {
        let decode_position = |format, body: &[u8]| match decode_show(format, body)? {
            ShowTarget::Position(position) => Ok(position),
            ShowTarget::Poll(poll) => Err(VoteError::EventState(poll)),
        };
        assert_eq!(
            decode_position(BodyFormat::Json, br#"{"position":2}"#).unwrap(),
            2
        );
        assert_eq!(decode_position(BodyFormat::Form, b"position=0").unwrap(), 0);
        assert_eq!(
            decode_position(BodyFormat::Form, b"position=+12+").unwrap(),
            12
        );
        assert_eq!(
            decode_show(BodyFormat::Json, br#"{"position":0,"poll":"Qu3st10n02"}"#).unwrap(),
            ShowTarget::Poll("Qu3st10n02".into()),
            "the poll wins"
        );
        let cases: [(BodyFormat, &[u8]); 12] = [
            (BodyFormat::Json, b""),
            (BodyFormat::Json, b"{}"),
            (BodyFormat::Json, br#"{"position":-1}"#),
            (BodyFormat::Json, br#"{"position":1.5}"#),
            (BodyFormat::Json, br#"{"position":"1"}"#),
            (BodyFormat::Json, br#"{"position":1,"x":2}"#),
            (BodyFormat::Json, br#"{"position":99999999999999999999999}"#),
            (BodyFormat::Form, b""),
            (BodyFormat::Form, b"position=-1"),
            (BodyFormat::Form, b"position=1234567"),
            (BodyFormat::Form, b"position=%EF%BC%91"),
            (BodyFormat::Form, b"position=1&position=2"),
        ];
        for (format, body) in cases {
            assert!(
                matches!(decode_position(format, body), Err(VoteError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
