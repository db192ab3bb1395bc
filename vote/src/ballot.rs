//! Reading a ballot out of a request body: JSON (`{"poll","option"}`, `"options"`, or a
//! word cloud's `"words"`), a form (`poll=…&option=…`, or `word=…` repeated with empty
//! ones ignored), or the classic app's form (`vote=a`, default poll); any of them with
//! the voter `code` of a poll whose identity is `code`, or the room `passcode` of one
//! whose identity is `passcode`.

use serde::Deserialize;
use tally_model::poll::{is_valid_option_id, is_valid_poll_id};
use tally_model::words::{MAX_MAX_WORDS, MAX_WORD_CHARS};
use tally_model::DEFAULT_POLL_ID;

use crate::error::VoteError;

/// Most options one ballot may name; more than any poll has.
pub const MAX_BALLOT_OPTIONS: usize = 32;

/// Most written answers read from one ballot: well past any question's limit, so the
/// rule's own message (422) answers an honest mistake, while a flood stops early.
const MAX_BALLOT_WORDS: usize = 4 * MAX_MAX_WORDS as usize;

/// Longest written answer read, in characters, before normalising: room for the white
/// space and punctuation that normalising trims, and no more.
const MAX_RAW_WORD_CHARS: usize = 4 * MAX_WORD_CHARS as usize;

/// A ballot as the client sent it, before it is checked against its poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotRequest {
    /// The poll voted on.
    pub poll: String,
    /// The chosen options.
    pub options: Vec<String>,
    /// A word cloud's written answers, as typed (normalised against the question).
    pub words: Vec<String>,
    /// The voter code, as typed (checked against the poll).
    pub code: Option<String>,
    /// The room passcode, as typed (checked against the poll).
    pub passcode: Option<String>,
}

/// Longest voter code read, as typed: room for separators around its ten characters.
const MAX_TYPED_CODE_CHARS: usize = 32;

/// Longest passcode read, as typed: room for white space around the longest one.
const MAX_TYPED_PASSCODE_CHARS: usize = 2 * tally_model::passcode::MAX_PASSCODE_CHARS;

/// The body's format, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl BodyFormat {
    /// The format named by a `Content-Type` value (parameters such as `charset` ignored).
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, VoteError> {
        let essence = content_type
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/json") => Ok(BodyFormat::Json),
            Some("application/x-www-form-urlencoded") => Ok(BodyFormat::Form),
            _ => Err(VoteError::UnsupportedMediaType),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBallot {
    poll: Option<String>,
    option: Option<String>,
    options: Option<Vec<String>>,
    words: Option<Vec<String>>,
    code: Option<String>,
    passcode: Option<String>,
}

/// What a ballot names: options, or a word cloud's written answers.
enum Answers {
    Options(Vec<String>),
    Words(Vec<String>),
}

/// Reads a ballot from `body` in `format`, checking the shape of every id.
pub fn decode_ballot(format: BodyFormat, body: &[u8]) -> Result<BallotRequest, VoteError> {
    let BallotParts {
        poll,
        answers,
        code,
        passcode,
    } = match format {
        BodyFormat::Json => decode_json(body)?,
        BodyFormat::Form => decode_form(body)?,
    };
    if code
        .as_ref()
        .is_some_and(|code| code.chars().count() > MAX_TYPED_CODE_CHARS)
    {
        return Err(VoteError::Malformed(format!(
            "a voter code is at most {MAX_TYPED_CODE_CHARS} characters"
        )));
    }
    if passcode
        .as_ref()
        .is_some_and(|passcode| passcode.chars().count() > MAX_TYPED_PASSCODE_CHARS)
    {
        return Err(VoteError::Malformed(format!(
            "a passcode is at most {MAX_TYPED_PASSCODE_CHARS} characters"
        )));
    }
    let poll = poll.unwrap_or_else(|| DEFAULT_POLL_ID.to_owned());
    if !is_valid_poll_id(&poll) {
        return Err(VoteError::Malformed(
            "poll must be 1-64 letters, digits, '-' or '_'".into(),
        ));
    }
    let options = match answers {
        Answers::Words(words) => {
            return decode_words(poll, words).map(|ballot| BallotRequest {
                code,
                passcode,
                ..ballot
            })
        }
        Answers::Options(options) => options,
    };
    if options.is_empty() {
        return Err(VoteError::Malformed("choose an option".into()));
    }
    if options.len() > MAX_BALLOT_OPTIONS {
        return Err(VoteError::Malformed(format!(
            "a ballot names at most {MAX_BALLOT_OPTIONS} options"
        )));
    }
    if let Some(bad) = options.iter().find(|option| !is_valid_option_id(option)) {
        return Err(VoteError::Malformed(format!(
            "option {:?} is not an option id",
            bad.chars().take(40).collect::<String>()
        )));
    }
    Ok(BallotRequest {
        poll,
        options,
        words: Vec::new(),
        code,
        passcode,
    })
}

/// A word cloud ballot: answers as typed, empty ones dropped, bounded in number and size.
fn decode_words(poll: String, words: Vec<String>) -> Result<BallotRequest, VoteError> {
    let words: Vec<String> = words
        .into_iter()
        .filter(|word| !word.trim().is_empty())
        .collect();
    if words.is_empty() {
        return Err(VoteError::Malformed("write at least one answer".into()));
    }
    if words.len() > MAX_BALLOT_WORDS {
        return Err(VoteError::Malformed(format!(
            "a ballot gives at most {MAX_BALLOT_WORDS} answers"
        )));
    }
    if words
        .iter()
        .any(|word| word.chars().count() > MAX_RAW_WORD_CHARS)
    {
        return Err(VoteError::Malformed(format!(
            "an answer is at most {MAX_WORD_CHARS} characters"
        )));
    }
    Ok(BallotRequest {
        poll,
        options: Vec::new(),
        words,
        code: None,
        passcode: None,
    })
}

/// What a body names: the poll, the answers, and what proves its voter may vote.
struct BallotParts {
    poll: Option<String>,
    answers: Answers,
    code: Option<String>,
    passcode: Option<String>,
}

fn decode_json(body: &[u8]) -> Result<BallotParts, VoteError> {
    let ballot: JsonBallot = serde_json::from_slice(body)
        .map_err(|error| VoteError::Malformed(format!("invalid JSON ballot: {error}")))?;
    let answers = match (ballot.option, ballot.options, ballot.words) {
        (Some(option), None, None) => Answers::Options(vec![option]),
        (None, Some(options), None) => Answers::Options(options),
        (None, None, Some(words)) => Answers::Words(words),
        (None, None, None) => Answers::Options(Vec::new()),
        _ => {
            return Err(VoteError::Malformed(
                "send one of \"option\", \"options\" and \"words\"".into(),
            ))
        }
    };
    Ok(BallotParts {
        poll: ballot.poll,
        answers,
        code: ballot.code,
        passcode: ballot.passcode,
    })
}

fn decode_form(body: &[u8]) -> Result<BallotParts, VoteError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|error| VoteError::Malformed(format!("invalid form: {error}")))?;
    let mut poll = None;
    let mut options = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut code = None;
    let mut passcode = None;
    for (name, value) in pairs {
        match name.as_str() {
            "code" if code.is_none() => code = Some(value),
            "code" => return Err(VoteError::Malformed("code is given twice".into())),
            "passcode" if passcode.is_none() => passcode = Some(value),
            "passcode" => return Err(VoteError::Malformed("passcode is given twice".into())),
            "poll" if poll.is_none() => poll = Some(value),
            "poll" => return Err(VoteError::Malformed("poll is given twice".into())),
            // `vote` is the classic voting app's field name.
            "option" | "options" | "vote" => options.push(value),
            "word" | "words" => {
                if words.len() > MAX_BALLOT_WORDS {
                    break;
                }
                words.push(value);
            }
            other => {
                return Err(VoteError::Malformed(format!(
                    "unknown form field {:?}",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    let answers = match (options.is_empty(), words.is_empty()) {
        (true, false) => Answers::Words(words),
        (_, true) => Answers::Options(options),
        (false, false) => {
            return Err(VoteError::Malformed(
                "send options or written answers, not both".into(),
            ))
        }
    };
    Ok(BallotParts {
        poll,
        answers,
        code,
        passcode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ballot(poll: &str, options: &[&str]) -> BallotRequest {
        BallotRequest {
            poll: poll.into(),
            options: options.iter().map(|o| (*o).into()).collect(),
            words: Vec::new(),
            code: None,
            passcode: None,
        }
    }

    #[test]
    fn reads_a_passcode_in_json_and_forms() {
        let json = decode_ballot(
            BodyFormat::Json,
            br#"{"poll":"p1","option":"a","passcode":"Tiger Lake"}"#,
        )
        .unwrap();
        assert_eq!(json.passcode.as_deref(), Some("Tiger Lake"));
        let form = decode_ballot(BodyFormat::Form, b"poll=p1&word=go&passcode=tiger").unwrap();
        assert_eq!(form.passcode.as_deref(), Some("tiger"));
        let twice = decode_ballot(BodyFormat::Form, b"poll=p1&option=a&passcode=a&passcode=b");
        assert!(matches!(twice, Err(VoteError::Malformed(_))));
        let long = format!(
            r#"{{"poll":"p1","option":"a","passcode":"{}"}}"#,
            "x".repeat(MAX_TYPED_PASSCODE_CHARS + 1)
        );
        let long = decode_ballot(BodyFormat::Json, long.as_bytes());
        assert!(matches!(long, Err(VoteError::Malformed(_))));
    }

    #[test]
    fn reads_a_voter_code_in_json_and_forms() {
        let json = decode_ballot(
            BodyFormat::Json,
            br#"{"poll":"p1","option":"a","code":"k7p2q-9xq4b"}"#,
        )
        .unwrap();
        assert_eq!(json.code.as_deref(), Some("k7p2q-9xq4b"));
        let form = decode_ballot(BodyFormat::Form, b"poll=p1&option=a&code=K7P2Q9XQ4B").unwrap();
        assert_eq!(form.code.as_deref(), Some("K7P2Q9XQ4B"));
        for (format, body) in [
            (BodyFormat::Form, &b"poll=p1&option=a&code=A&code=B"[..]),
            (
                BodyFormat::Json,
                &br#"{"poll":"p1","option":"a","code":1}"#[..],
            ),
        ] {
            assert!(decode_ballot(format, body).is_err());
        }
        let long = format!(
            r#"{{"poll":"p1","option":"a","code":"{}"}}"#,
            "A".repeat(33)
        );
        assert!(decode_ballot(BodyFormat::Json, long.as_bytes()).is_err());
    }

    #[test]
    fn reads_written_answers() {
        let json = decode_ballot(
            BodyFormat::Json,
            br#"{"poll":"p1","words":["Rust!"," ","machine learning"]}"#,
        )
        .unwrap();
        assert_eq!(json.words, ["Rust!", "machine learning"]);
        assert!(json.options.is_empty());
        let form = decode_ballot(BodyFormat::Form, b"poll=p1&word=Go&word=&word=a%2C+b").unwrap();
        assert_eq!(form.words, ["Go", "a, b"]);
        let flood = format!("poll=p{}", "&word=x".repeat(MAX_BALLOT_WORDS + 2));
        let long = format!(
            r#"{{"poll":"p","words":["{}"]}}"#,
            "x".repeat(MAX_RAW_WORD_CHARS + 1)
        );
        let cases: [(BodyFormat, &[u8]); 6] = [
            (BodyFormat::Json, br#"{"poll":"p","words":[]}"#),
            (BodyFormat::Json, br#"{"poll":"p","words":["  "]}"#),
            (BodyFormat::Json, br#"{"poll":"p","words":"rust"}"#),
            (
                BodyFormat::Json,
                br#"{"poll":"p","words":["a"],"option":"a"}"#,
            ),
            (BodyFormat::Form, flood.as_bytes()),
            (BodyFormat::Json, long.as_bytes()),
        ];
        for (format, body) in cases {
            assert!(
                matches!(decode_ballot(format, body), Err(VoteError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let mixed = decode_ballot(BodyFormat::Form, b"poll=p&word=a&option=b");
        assert!(matches!(mixed, Err(VoteError::Malformed(_))));
    }

    #[test]
    fn reads_every_accepted_shape() {
        let cases: [(BodyFormat, &str, BallotRequest); 5] = [
            (
                BodyFormat::Json,
                r#"{"poll":"p1","option":"a"}"#,
                ballot("p1", &["a"]),
            ),
            (
                BodyFormat::Json,
                r#"{"poll":"p1","options":["a","b"]}"#,
                ballot("p1", &["a", "b"]),
            ),
            (
                BodyFormat::Json,
                r#"{"option":"b"}"#,
                ballot("default", &["b"]),
            ),
            (
                BodyFormat::Form,
                "poll=p1&option=a&option=c",
                ballot("p1", &["a", "c"]),
            ),
            (BodyFormat::Form, "vote=a", ballot("default", &["a"])),
        ];
        for (format, body, expected) in cases {
            assert_eq!(
                decode_ballot(format, body.as_bytes()).unwrap(),
                expected,
                "{body}"
            );
        }
    }

    #[test]
    fn refuses_malformed_bodies() {
        let cases: [(BodyFormat, &str); 12] = [
            (BodyFormat::Json, "{"),
            (BodyFormat::Json, "[]"),
            (BodyFormat::Json, r#"{"poll":1,"option":"a"}"#),
            (BodyFormat::Json, r#"{"poll":"p","option":["a"]}"#),
            (BodyFormat::Json, r#"{"poll":"p"}"#),
            (
                BodyFormat::Json,
                r#"{"poll":"p","option":"a","options":["b"]}"#,
            ),
            (
                BodyFormat::Json,
                r#"{"poll":"p","option":"a","admin":true}"#,
            ),
            (BodyFormat::Json, r#"{"poll":"../etc","option":"a"}"#),
            (BodyFormat::Json, r#"{"poll":"p","option":"a,b"}"#),
            (BodyFormat::Form, "vote="),
            (BodyFormat::Form, "poll=a&poll=b&vote=a"),
            (BodyFormat::Form, "vote=a&drop=table"),
        ];
        for (format, body) in cases {
            let error = decode_ballot(format, body.as_bytes()).unwrap_err();
            assert!(
                matches!(error, VoteError::Malformed(_)),
                "{body}: {error:?}"
            );
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            BodyFormat::from_content_type(Some("application/json; charset=utf-8")).unwrap(),
            BodyFormat::Json
        );
        assert_eq!(
            BodyFormat::from_content_type(Some("Application/X-WWW-Form-Urlencoded")).unwrap(),
            BodyFormat::Form
        );
        for bad in [
            None,
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
        ] {
            assert!(matches!(
                BodyFormat::from_content_type(bad),
                Err(VoteError::UnsupportedMediaType)
            ));
        }
    }
}
