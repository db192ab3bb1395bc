//! `POST /events/<code>/<action>`: a presenter's command, for the holder of the event's
//! owner token (`Authorization: Bearer <token>`, RFC 6750 §2.1). The code and the
//! event's definition are read fresh from Redis, so `next` starts from the latest state;
//! the token is checked against the definition's hash in constant time. `next` and
//! `previous` become a `show` of the position next to the current one; `close` and
//! `reopen` act on the current question's poll; the rest are the event's own commands.
//! Changes to the questions (`add-question`, `edit-question`, `remove-question`,
//! `order`) are planned in [`crate::question_command`].

use std::sync::Arc;

use http::{header, Response, StatusCode};
use serde::Serialize;
use tally_model::admin_token::{bearer_token, token_matches};
use tally_model::event::is_join_code;
use tally_model::timestamp::now_ms;
use tally_model::{Choice, EventAction, EventCommandEntry, EventDefinition, StatusEntry};
use tally_runtime::{json, Body, Request};

use crate::accept::read_body;
use crate::ballot::BodyFormat;
use crate::error::VoteError;
use crate::event_request::{
    decode_block_list, decode_moderation, decode_show, Moderation, ShowTarget,
};
use crate::question_command::{
    decode_question_request, plan_question_change, QuestionChangeKind, QuestionRequest,
};
use crate::service::VoteService;

/// Where events are created, and below which their commands live.
pub const EVENTS_PATH: &str = "/events";

/// Largest body read with a command: a whole block list (500 answers of up to 40
/// characters, each up to four bytes, with JSON's quotes and commas), which is also
/// room enough for a `show`'s position or a moderation.
const MAX_COMMAND_BODY_BYTES: usize = 96 * 1024;

/// What a presenter asks for, as the path names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenterAction {
    /// Show the question at the position the body names.
    Show,
    /// Show the question after the current one (the first when none is shown).
    Next,
    /// Show the question before the current one.
    Previous,
    /// Show the counts to the room.
    Reveal,
    /// Hide the counts from the room.
    Hide,
    /// Take no ballots on any question.
    Lock,
    /// Take ballots again.
    Unlock,
    /// Close voting on the current question.
    Close,
    /// Reopen voting on the current question.
    Reopen,
    /// Hide one answer of a word cloud question from every screen.
    HideWord,
    /// Show a hidden answer again.
    ShowWord,
    /// Replace the event's block list.
    BlockWords,
    /// Add a question after the last.
    AddQuestion,
    /// Replace a question the room has not seen.
    EditQuestion,
    /// Remove a question the room has not seen.
    RemoveQuestion,
    /// Put the questions in a new order.
    Order,
}

impl PresenterAction {
    /// Every action, in the order the error message lists them.
    pub const ALL: [PresenterAction; 16] = [
        PresenterAction::Show,
        PresenterAction::Next,
        PresenterAction::Previous,
        PresenterAction::Reveal,
        PresenterAction::Hide,
        PresenterAction::Lock,
        PresenterAction::Unlock,
        PresenterAction::Close,
        PresenterAction::Reopen,
        PresenterAction::HideWord,
        PresenterAction::ShowWord,
        PresenterAction::BlockWords,
        PresenterAction::AddQuestion,
        PresenterAction::EditQuestion,
        PresenterAction::RemoveQuestion,
        PresenterAction::Order,
    ];

    /// The action's name in the path and in the answer.
    pub fn name(self) -> &'static str {
        match self {
            PresenterAction::Show => "show",
            PresenterAction::Next => "next",
            PresenterAction::Previous => "previous",
            PresenterAction::Reveal => "reveal",
            PresenterAction::Hide => "hide",
            PresenterAction::Lock => "lock",
            PresenterAction::Unlock => "unlock",
            PresenterAction::Close => "close",
            PresenterAction::Reopen => "reopen",
            PresenterAction::HideWord => "hide-word",
            PresenterAction::ShowWord => "show-word",
            PresenterAction::BlockWords => "block-words",
            PresenterAction::AddQuestion => "add-question",
            PresenterAction::EditQuestion => "edit-question",
            PresenterAction::RemoveQuestion => "remove-question",
            PresenterAction::Order => "order",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.name() == name)
    }
}

/// The code and action of `/events/<code>/<action>`, an error for any other path below
/// `/events/` (a code that is not 8 ASCII digits, an unknown action, a deeper path),
/// and `None` for paths that are not below `/events/`.
pub fn event_command_of(path: &str) -> Option<Result<(&str, PresenterAction), VoteError>> {
    let rest = path.strip_prefix(EVENTS_PATH)?.strip_prefix('/')?;
    let (code, action) = rest.split_once('/').unwrap_or((rest, ""));
    if !is_join_code(code) {
        return Some(Err(VoteError::UnknownEvent(
            "no such event: a join code is 8 digits".into(),
        )));
    }
    Some(
        PresenterAction::from_name(action)
            .map(|a| (code, a))
            .ok_or_else(|| {
                VoteError::UnknownEvent(
                    "no such event command; use show, next, previous, reveal, hide, lock, unlock, \
             close, reopen, hide-word, show-word, block-words, add-question, edit-question, \
             remove-question or order"
                        .into(),
                )
            }),
    )
}

/// What a command turns into in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An event command.
    Event(EventAction),
    /// Closing (`open: false`) or reopening the poll of the question at `position`.
    Status {
        /// The question's poll.
        poll: String,
        /// Whether it is to take votes.
        open: bool,
        /// The question's position.
        position: usize,
    },
}

impl Step {
    /// The position the step is about, where one applies.
    pub fn position(&self) -> Option<usize> {
        match self {
            Step::Event(EventAction::Show { position, .. }) | Step::Status { position, .. } => {
                Some(*position)
            }
            Step::Event(_) => None,
        }
    }
}

/// The step `action` (with the position a `show` names) takes from `definition`'s state.
pub fn plan(
    definition: &EventDefinition,
    action: PresenterAction,
    shown: Option<usize>,
) -> Result<Step, VoteError> {
    let count = definition.questions.len();
    let current = definition.current.filter(|&position| position < count);
    let show = |position: usize| {
        if position < count {
            Ok(Step::Event(EventAction::Show {
                position,
                poll: Some(definition.questions[position].poll.clone()),
            }))
        } else {
            Err(VoteError::NoSuchPosition(position, count))
        }
    };
    let state = |message: &str| Err(VoteError::EventState(message.to_owned()));
    match action {
        PresenterAction::Show => match shown {
            Some(position) => show(position),
            None => Err(VoteError::Malformed("position is missing".into())),
        },
        PresenterAction::Next => match current {
            None => show(0),
            Some(position) if position + 1 < count => show(position + 1),
            Some(_) => state("the last question is already shown; there is no next one"),
        },
        PresenterAction::Previous => match current {
            None => state("no question is shown yet; there is no previous one"),
            Some(0) => state("the first question is already shown; there is no previous one"),
            Some(position) => show(position - 1),
        },
        PresenterAction::Reveal => Ok(Step::Event(EventAction::Reveal)),
        PresenterAction::Hide => Ok(Step::Event(EventAction::Hide)),
        PresenterAction::Lock => Ok(Step::Event(EventAction::Lock)),
        PresenterAction::Unlock => Ok(Step::Event(EventAction::Unlock)),
        PresenterAction::HideWord | PresenterAction::ShowWord => Err(VoteError::Malformed(
            "name the answer to hide or show: {\"word\": \"…\"}".into(),
        )),
        PresenterAction::BlockWords => Err(VoteError::Malformed(
            "send the whole list: {\"blocked_words\": [\"…\"]}".into(),
        )),
        PresenterAction::AddQuestion
        | PresenterAction::EditQuestion
        | PresenterAction::RemoveQuestion
        | PresenterAction::Order => Err(VoteError::Malformed(
            "send the change to the questions as JSON".into(),
        )),
        PresenterAction::Close | PresenterAction::Reopen => match current {
            None => state("no question is shown; show one before closing or reopening it"),
            Some(position) => Ok(Step::Status {
                poll: definition.questions[position].poll.clone(),
                open: action == PresenterAction::Reopen,
                position,
            }),
        },
    }
}

/// The step a `hide-word` (`hidden`) or `show-word` takes: the answer on the question
/// the moderation names, or on the one shown, which must be a word cloud.
pub fn plan_moderation(
    definition: &EventDefinition,
    hidden: bool,
    moderation: Moderation,
) -> Result<Step, VoteError> {
    let shown = definition
        .current
        .and_then(|position| definition.questions.get(position));
    let question = match &moderation.poll {
        Some(poll) => definition.questions.iter().find(|q| &q.poll == poll),
        None => shown,
    };
    match question {
        Some(question) if question.choice == Choice::Words => {
            Ok(Step::Event(EventAction::Moderate {
                poll: question.poll.clone(),
                word: moderation.word,
                hidden,
            }))
        }
        Some(_) => Err(VoteError::EventState(
            "this question is not a word cloud: it has no written answers to hide".into(),
        )),
        None if moderation.poll.is_some() => Err(VoteError::EventState(
            "this event has no such question".into(),
        )),
        None => Err(VoteError::EventState(
            "no question is shown; name the question's poll".into(),
        )),
    }
}

/// What a command's body says: nothing for most commands.
enum CommandBody {
    /// The body is ignored.
    Empty,
    /// The question a `show` names.
    Show(ShowTarget),
    /// The answer a `hide-word` or `show-word` names.
    Moderation(Moderation),
    /// A new block list.
    BlockList(Vec<String>),
    /// A change to the questions.
    Questions(QuestionRequest),
}

/// Reads the body of `action` in the format `format` gives (asked only where a body is
/// read, so commands without one take any content type).
fn read_command_body(
    action: PresenterAction,
    format: impl Fn() -> Result<BodyFormat, VoteError>,
    body: &[u8],
) -> Result<CommandBody, VoteError> {
    let question = |kind| -> Result<CommandBody, VoteError> {
        Ok(CommandBody::Questions(decode_question_request(
            kind,
            format()?,
            body,
        )?))
    };
    Ok(match action {
        PresenterAction::Show => CommandBody::Show(decode_show(format()?, body)?),
        PresenterAction::HideWord | PresenterAction::ShowWord => {
            CommandBody::Moderation(decode_moderation(format()?, body)?)
        }
        PresenterAction::BlockWords => CommandBody::BlockList(decode_block_list(format()?, body)?),
        PresenterAction::AddQuestion => question(QuestionChangeKind::Add)?,
        PresenterAction::EditQuestion => question(QuestionChangeKind::Edit)?,
        PresenterAction::RemoveQuestion => question(QuestionChangeKind::Remove)?,
        PresenterAction::Order => question(QuestionChangeKind::Order)?,
        PresenterAction::Next
        | PresenterAction::Previous
        | PresenterAction::Reveal
        | PresenterAction::Hide
        | PresenterAction::Lock
        | PresenterAction::Unlock
        | PresenterAction::Close
        | PresenterAction::Reopen => CommandBody::Empty,
    })
}

#[derive(Serialize)]
struct Applied<'a> {
    event: &'a str,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<usize>,
    /// A new block list as it will be kept (normalised, without repeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    blocked_words: Option<&'a [String]>,
    /// The poll of a question shown, added or edited (an edit gives a new one).
    #[serde(skip_serializing_if = "Option::is_none")]
    poll: Option<&'a str>,
}

/// Handles `action` on the event with join code `code`.
pub async fn event_command(
    service: Arc<VoteService>,
    request: Request,
    code: &str,
    action: PresenterAction,
) -> Result<Response<Body>, VoteError> {
    if service.backlog.get() > service.queue_high_water {
        return Err(VoteError::Busy);
    }
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body, MAX_COMMAND_BODY_BYTES).await?;
    let format = || {
        let content_type = parts.headers.get(header::CONTENT_TYPE);
        BodyFormat::from_content_type(content_type.and_then(|v| v.to_str().ok()))
    };
    // Read before the token is checked: a malformed body gets 400 even without one.
    let command_body = read_command_body(action, format, &body)?;
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .ok_or(VoteError::OwnerUnauthorized)?;
    let definition = service
        .events
        .by_code(code)
        .await?
        .ok_or_else(|| VoteError::UnknownEvent(format!("no event with join code {code}")))?;
    if !token_matches(token, &definition.owner_hash) {
        return Err(VoteError::OwnerForbidden(code.to_owned()));
    }
    let step = match command_body {
        CommandBody::Moderation(moderation) => {
            plan_moderation(&definition, action == PresenterAction::HideWord, moderation)?
        }
        CommandBody::BlockList(list) => Step::Event(EventAction::BlockWords(list)),
        CommandBody::Questions(change) => Step::Event(plan_question_change(&definition, change)?),
        CommandBody::Show(ShowTarget::Position(position)) => {
            plan(&definition, action, Some(position))?
        }
        CommandBody::Show(ShowTarget::Poll(poll)) => {
            let position = definition.position_of(&poll).ok_or_else(|| {
                VoteError::EventState(format!("this event has no question {poll:?}"))
            })?;
            plan(&definition, action, Some(position))?
        }
        CommandBody::Empty => plan(&definition, action, None)?,
    };
    let at_ms = now_ms();
    let fields = match &step {
        Step::Event(event_action) => EventCommandEntry {
            event: definition.id.clone(),
            action: event_action.clone(),
            at_ms,
        }
        .to_fields()
        .to_vec(),
        Step::Status { poll, open, .. } => StatusEntry {
            poll: poll.clone(),
            open: *open,
            at_ms,
        }
        .to_fields()
        .to_vec(),
    };
    service.queue.append_fields(&fields).await?;
    tracing::info!(
        event = definition.id,
        action = action.name(),
        "event command queued"
    );
    Ok(json(
        StatusCode::ACCEPTED,
        &Applied {
            event: code,
            action: action.name(),
            position: step.position(),
            blocked_words: match &step {
                Step::Event(EventAction::BlockWords(list)) => Some(list),
                _ => None,
            },
            poll: match &step {
                Step::Event(EventAction::Show { poll, .. }) => poll.as_deref(),
                Step::Event(
                    EventAction::AddQuestion(question)
                    | EventAction::ReplaceQuestion { new: question, .. },
                ) => Some(&question.poll),
                _ => None,
            },
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::event::EventQuestion;

    fn definition(current: Option<usize>) -> EventDefinition {
        EventDefinition {
            id: "eV3nt00001".into(),
            code: "12345678".into(),
            title: "T".into(),
            owner_hash: "0".repeat(64),
            questions: (0..3)
                .map(|i| EventQuestion {
                    poll: format!("Qu3st10n0{i}"),
                    question: format!("Q{i}?"),
                    choice: Choice::Single,
                    scale: None,
                    hidden_words: Vec::new(),
                    words: None,
                    shown: false,
                })
                .collect(),
            current,
            results_visible: true,
            locked: false,
            participants: 0,
            version: 1,
            blocked_words: Vec::new(),
        }
    }

    fn shows(current: Option<usize>, action: PresenterAction) -> Option<usize> {
        match plan(&definition(current), action, None) {
            Ok(Step::Event(EventAction::Show { position, .. })) => Some(position),
            Err(VoteError::EventState(_)) => None,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths() {
        assert!(matches!(
            event_command_of("/events/01234567/next"),
            Some(Ok(("01234567", PresenterAction::Next)))
        ));
        for action in PresenterAction::ALL {
            let path = format!("/events/12345678/{}", action.name());
            assert!(matches!(event_command_of(&path), Some(Ok((_, a))) if a == action));
        }
        for path in [
            "/events/",
            "/events/1234567/show",
            "/events/123456789/show",
            "/events/../x/show",
            "/events/%00/show",
            "/events/%EF%BC%91%EF%BC%92/show",
            "/events/1234abcd/show",
            "/events/12345678",
            "/events/12345678/",
            "/events/12345678/delete",
            "/events/12345678/show/",
            "/events/12345678/show/more",
            "/events/12345678/Show",
        ] {
            assert!(matches!(event_command_of(path), Some(Err(_))), "{path}");
        }
        for path in ["/events", "/eventsx/12345678/show", "/polls/x/close", "/"] {
            assert!(event_command_of(path).is_none(), "{path}");
        }
    }

    #[test]
    fn next_and_previous_move_one_question() {
        use PresenterAction::{Next, Previous};
        assert_eq!(shows(None, Next), Some(0));
        assert_eq!(shows(Some(0), Next), Some(1));
        assert_eq!(shows(Some(1), Next), Some(2));
        assert_eq!(shows(Some(2), Next), None, "past the last");
        assert_eq!(shows(None, Previous), None);
        assert_eq!(shows(Some(0), Previous), None, "before the first");
        assert_eq!(shows(Some(2), Previous), Some(1));
        assert_eq!(
            shows(Some(7), Next),
            Some(0),
            "a position past the end shows nothing"
        );
    }

    #[test]
    fn show_close_and_reopen() {
        let event = definition(Some(1));
        assert_eq!(
            plan(&event, PresenterAction::Show, Some(2)).unwrap(),
            Step::Event(EventAction::Show {
                position: 2,
                poll: Some("Qu3st10n02".into())
            })
        );
        assert!(matches!(
            plan(&event, PresenterAction::Show, Some(3)),
            Err(VoteError::NoSuchPosition(3, 3))
        ));
        assert_eq!(
            plan(&event, PresenterAction::Close, None).unwrap(),
            Step::Status {
                poll: "Qu3st10n01".into(),
                open: false,
                position: 1
            }
        );
        let reopen = plan(&event, PresenterAction::Reopen, None).unwrap();
        assert!(matches!(reopen, Step::Status { open: true, .. }));
        assert!(matches!(
            plan(&definition(None), PresenterAction::Close, None),
            Err(VoteError::EventState(_))
        ));
        assert_eq!(
            plan(&event, PresenterAction::Lock, None)
                .unwrap()
                .position(),
            None
        );
    }

    #[test]
    fn moderation_names_an_answer_of_a_word_cloud() {
        let mut event = definition(Some(1));
        event.questions[1].choice = Choice::Words;
        let answer = |poll: Option<&str>| Moderation {
            poll: poll.map(str::to_owned),
            word: "rust".into(),
        };
        let hide = Step::Event(EventAction::Moderate {
            poll: "Qu3st10n01".into(),
            word: "rust".into(),
            hidden: true,
        });
        assert_eq!(plan_moderation(&event, true, answer(None)).unwrap(), hide);
        assert_eq!(
            plan_moderation(&event, true, answer(Some("Qu3st10n01"))).unwrap(),
            hide
        );
        for poll in [Some("Qu3st10n00"), Some("elsewhere1")] {
            assert!(matches!(
                plan_moderation(&event, true, answer(poll)),
                Err(VoteError::EventState(_))
            ));
        }
        event.current = None;
        assert!(plan_moderation(&event, false, answer(None)).is_err());
        assert!(matches!(
            plan(&event, PresenterAction::HideWord, None),
            Err(VoteError::Malformed(_))
        ));
    }
}
