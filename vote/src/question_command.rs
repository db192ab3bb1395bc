//! Changes to an event's questions, for its owner: `add-question` (a question as in a
//! new event: `{"question","options","choice","scale","words"}`), `edit-question` (the
//! same with the `poll` it replaces), `remove-question` (`{"poll"}`) and `order`
//! (`{"polls":[…]}`, every question's poll once, in the new order). Bodies are JSON.
//!
//! A question may be edited or removed until the room has seen it; after that its
//! answers stand. An edit becomes a new question (a new poll) in the old one's place,
//! so a poll's options never change under a ballot or a cached definition. These checks
//! run against the fresh definition; the worker makes them again as it applies the
//! change (see `tally_worker::questions`), in case another change got there first.

use serde::Deserialize;
use tally_model::event::{EventRuleError, MAX_EVENT_QUESTIONS};
use tally_model::event_entry::NewQuestion;
use tally_model::{EventAction, EventDefinition};

use crate::ballot::BodyFormat;
use crate::error::VoteError;
use crate::event_create::new_id;
use crate::event_request::{new_poll_of, JsonQuestion};

/// A change to the questions as the owner asked for it.
pub(crate) enum QuestionRequest {
    /// A new question after the last.
    Add(JsonQuestion),
    /// A new version of the question of `poll` (named in the body).
    Edit(JsonQuestion),
    /// Removing the question of this poll.
    Remove(String),
    /// The questions' polls in their new order.
    Order(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRemove {
    poll: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOrder {
    polls: Vec<String>,
}

/// Which change a body is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionChangeKind {
    /// `add-question`.
    Add,
    /// `edit-question`.
    Edit,
    /// `remove-question`.
    Remove,
    /// `order`.
    Order,
}

/// Reads the body of a change of `kind`; only JSON is read.
pub(crate) fn decode_question_request(
    kind: QuestionChangeKind,
    format: BodyFormat,
    body: &[u8],
) -> Result<QuestionRequest, VoteError> {
    if format != BodyFormat::Json {
        return Err(VoteError::JsonOnly);
    }
    let invalid = |error: serde_json::Error| VoteError::Malformed(format!("invalid JSON: {error}"));
    match kind {
        QuestionChangeKind::Add | QuestionChangeKind::Edit => {
            let question: JsonQuestion = serde_json::from_slice(body).map_err(invalid)?;
            match (kind, question.poll.is_some()) {
                (QuestionChangeKind::Add, false) => Ok(QuestionRequest::Add(question)),
                (QuestionChangeKind::Edit, true) => Ok(QuestionRequest::Edit(question)),
                (QuestionChangeKind::Add, true) => Err(VoteError::Malformed(
                    "a new question names no poll: Tally gives it one".into(),
                )),
                _ => Err(VoteError::Malformed(
                    "name the question to edit: {\"poll\": \"…\", \"question\": \"…\", …}".into(),
                )),
            }
        }
        QuestionChangeKind::Remove => serde_json::from_slice::<JsonRemove>(body)
            .map(|remove| QuestionRequest::Remove(remove.poll))
            .map_err(invalid),
        QuestionChangeKind::Order => serde_json::from_slice::<JsonOrder>(body)
            .map(|order| QuestionRequest::Order(order.polls))
            .map_err(invalid),
    }
}

/// The command a change becomes, checked against `definition`; an added or edited
/// question gets a new poll id here.
pub(crate) fn plan_question_change(
    definition: &EventDefinition,
    request: QuestionRequest,
) -> Result<EventAction, VoteError> {
    let state = |message: String| Err(VoteError::EventState(message));
    match request {
        QuestionRequest::Add(question) => {
            if definition.questions.len() >= MAX_EVENT_QUESTIONS {
                return Err(EventRuleError::TooManyQuestions.into());
            }
            let position = definition.questions.len() + 1;
            Ok(EventAction::AddQuestion(new_question(question, position)?))
        }
        QuestionRequest::Edit(mut question) => {
            let old = question.poll.take().unwrap_or_default();
            let position = unseen_position(definition, &old)?;
            Ok(EventAction::ReplaceQuestion {
                new: new_question(question, position + 1)?,
                old,
            })
        }
        QuestionRequest::Remove(poll) => {
            unseen_position(definition, &poll)?;
            if definition.questions.len() == 1 {
                return state("an event keeps at least one question".into());
            }
            Ok(EventAction::RemoveQuestion(poll))
        }
        QuestionRequest::Order(polls) => {
            let mut named = polls.clone();
            named.sort_unstable();
            named.dedup();
            let mut held: Vec<&str> = definition
                .questions
                .iter()
                .map(|q| q.poll.as_str())
                .collect();
            held.sort_unstable();
            if named.len() != polls.len() || named != held {
                return state(format!(
                    "name each of the event's {} questions' polls once, in the new order",
                    definition.questions.len()
                ));
            }
            Ok(EventAction::Order(polls))
        }
    }
}

/// A question's poll, with a fresh id, if it keeps a question's rules (`position` is
/// 1-based, for the error).
fn new_question(question: JsonQuestion, position: usize) -> Result<NewQuestion, VoteError> {
    let new_poll = new_poll_of(question)?;
    new_poll
        .check()
        .map_err(|error| EventRuleError::Question(position, error))?;
    Ok(NewQuestion {
        poll: new_id(),
        new_poll,
    })
}

/// The position of `poll`'s question if the room has never seen it.
fn unseen_position(definition: &EventDefinition, poll: &str) -> Result<usize, VoteError> {
    let position = definition
        .position_of(poll)
        .ok_or_else(|| VoteError::EventState(format!("this event has no question {poll:?}")))?;
    if definition.questions[position].shown {
        return Err(VoteError::EventState(format!(
            "question {} has been shown to the room: its answers stand; add a new question instead",
            position + 1
        )));
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::event::EventQuestion;
    use tally_model::Choice;

    fn definition(count: usize) -> EventDefinition {
        EventDefinition {
            id: "eV3nt00001".into(),
            code: "12345678".into(),
            title: "T".into(),
            owner_hash: "0".repeat(64),
            questions: (0..count)
                .map(|i| EventQuestion {
                    poll: format!("Qu3st10n{i:02}"),
                    question: format!("Q{i}?"),
                    choice: Choice::Single,
                    scale: None,
                    words: None,
                    hidden_words: Vec::new(),
                    shown: i == 0,
                })
                .collect(),
            current: Some(0),
            results_visible: true,
            locked: false,
            participants: 0,
            version: 1,
            blocked_words: Vec::new(),
        }
    }

    fn request(kind: QuestionChangeKind, json: &str) -> Result<QuestionRequest, VoteError> {
        decode_question_request(kind, BodyFormat::Json, json.as_bytes())
    }

    fn plan(count: usize, kind: QuestionChangeKind, json: &str) -> Result<EventAction, VoteError> {
        plan_question_change(&definition(count), request(kind, json)?)
    }

    const QUESTION: &str = r#""question":"Tea?","options":["Yes","No"]"#;

    #[test]
    fn an_added_question_gets_a_poll_of_its_own() {
        let Ok(EventAction::AddQuestion(added)) =
            plan(2, QuestionChangeKind::Add, &format!("{{{QUESTION}}}"))
        else {
            panic!("not an addition");
        };
        assert_eq!(added.poll.len(), 10);
        assert_eq!(added.new_poll.labels, ["Yes", "No"]);
        assert!(matches!(
            plan(
                MAX_EVENT_QUESTIONS,
                QuestionChangeKind::Add,
                &format!("{{{QUESTION}}}")
            ),
            Err(VoteError::EventRule(EventRuleError::TooManyQuestions))
        ));
        assert!(matches!(
            plan(
                2,
                QuestionChangeKind::Add,
                r#"{"question":"Tea?","options":["Yes"]}"#
            ),
            Err(VoteError::EventRule(EventRuleError::Question(3, _)))
        ));
        assert!(matches!(
            plan(
                2,
                QuestionChangeKind::Add,
                &format!(r#"{{"poll":"Qu3st10n01",{QUESTION}}}"#)
            ),
            Err(VoteError::Malformed(_))
        ));
    }

    #[test]
    fn only_questions_the_room_has_not_seen_change() {
        let edit = |poll: &str| {
            plan(
                3,
                QuestionChangeKind::Edit,
                &format!(r#"{{"poll":"{poll}",{QUESTION}}}"#),
            )
        };
        match edit("Qu3st10n01") {
            Ok(EventAction::ReplaceQuestion { old, new }) => {
                assert_eq!(old, "Qu3st10n01");
                assert_ne!(new.poll, old);
            }
            other => panic!("{other:?}"),
        }
        for poll in ["Qu3st10n00", "elsewhere1"] {
            assert!(
                matches!(edit(poll), Err(VoteError::EventState(_))),
                "{poll}"
            );
        }
        let remove = |count, poll: &str| {
            plan(
                count,
                QuestionChangeKind::Remove,
                &format!(r#"{{"poll":"{poll}"}}"#),
            )
        };
        assert_eq!(
            remove(3, "Qu3st10n02").unwrap(),
            EventAction::RemoveQuestion("Qu3st10n02".into())
        );
        assert!(matches!(
            remove(3, "Qu3st10n00"),
            Err(VoteError::EventState(_))
        ));
        let mut alone = definition(1);
        alone.questions[0].shown = false;
        let request = request(QuestionChangeKind::Remove, r#"{"poll":"Qu3st10n00"}"#).unwrap();
        assert!(matches!(
            plan_question_change(&alone, request),
            Err(VoteError::EventState(_))
        ));
    }

    #[test]
    fn an_order_names_every_question_once() {
        let order = |json: &str| plan(3, QuestionChangeKind::Order, json);
        assert_eq!(
            order(r#"{"polls":["Qu3st10n02","Qu3st10n00","Qu3st10n01"]}"#).unwrap(),
            EventAction::Order(vec![
                "Qu3st10n02".into(),
                "Qu3st10n00".into(),
                "Qu3st10n01".into()
            ])
        );
        for json in [
            r#"{"polls":["Qu3st10n02","Qu3st10n00"]}"#,
            r#"{"polls":["Qu3st10n02","Qu3st10n00","Qu3st10n00"]}"#,
            r#"{"polls":["Qu3st10n02","Qu3st10n00","Qu3st10n01","Qu3st10n01"]}"#,
            r#"{"polls":["Qu3st10n02","Qu3st10n00","elsewhere1"]}"#,
        ] {
            assert!(
                matches!(order(json), Err(VoteError::EventState(_))),
                "{json}"
            );
        }
        assert!(matches!(
            order(r#"{"polls":"x"}"#),
            Err(VoteError::Malformed(_))
        ));
        assert!(matches!(
            decode_question_request(QuestionChangeKind::Order, BodyFormat::Form, b"polls=x"),
            Err(VoteError::JsonOnly)
        ));
    }
}
