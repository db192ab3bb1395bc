//! The wire format of events in the `votes` stream: `event_create` (a new event with
//! all its questions) and `event` (a presenter's command). Flat string fields, like
//! votes; the questions travel as one JSON array:
//! `kind event_create  event eV3nt00001  code 12345678  title …  owner_hash <hex>
//!  questions [{"poll":"…","question":"…","choice":"single","options":["Yes","No"]}]  at …`
//! `kind event  event eV3nt00001  action show  position 2  poll Qu3st10n02  at …`
//!
//! Questions can change after the creation, until the room has seen them: an owner adds
//! one (`add_question`, with the new question's poll), replaces one (`replace_question`:
//! a new poll takes the old one's place, so a poll's options never change under a
//! ballot), removes one (`remove_question`), or puts them in a new order (`order`, the
//! whole list of polls, so the latest order wins whatever the delivery order).

use serde::{Deserialize, Serialize};

use crate::admin_token::is_valid_admin_hash;
use crate::event::{is_event_id, is_join_code, EventQuestion, NewEvent, MAX_EVENT_QUESTIONS};
use crate::identity::Identity;
use crate::new_poll::{is_created_poll_id, NewPoll};
use crate::poll::{Choice, PollDefinition};
use crate::poll_entry::{bad, code_hashes_of, identity_of, passcode_hash_of, Fields};
use crate::scale::Scale;
use crate::vote_entry::EntryError;
use crate::words::{is_normal_word, Words, MAX_BLOCKED_WORDS};

/// The `kind` of an event's creation.
pub const KIND_EVENT_CREATE: &str = "event_create";
/// The `kind` of a presenter's command.
pub const KIND_EVENT_COMMAND: &str = "event";

/// One question of a new event, with the id of the poll that will carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuestion {
    /// The question's poll id (10 letters and digits, like a created poll's).
    pub poll: String,
    /// The question, as a poll.
    pub new_poll: NewPoll,
}

/// An event's creation as it travels to the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCreateEntry {
    /// The new event's id.
    pub event: String,
    /// Its join code.
    pub code: String,
    /// Its title.
    pub title: String,
    /// SHA-256 (hex) of the owner token.
    pub owner_hash: String,
    /// The questions, in order.
    pub questions: Vec<NewQuestion>,
    /// Answers its word cloud questions refuse, normalised.
    pub blocked_words: Vec<String>,
    /// Who counts as a voter, on every question of the event.
    pub identity: Identity,
    /// The hash of the room passcode (bound to the event), when the identity is
    /// `passcode`: every question takes it.
    pub passcode_hash: Option<String>,
    /// The hashes of the voter codes (bound to the event), when the identity is `code`:
    /// every question takes each of them.
    pub code_hashes: Vec<String>,
    /// When the vote service accepted it (ms since the epoch).
    pub at_ms: u64,
}

/// What a presenter asks of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// Show a question to the room.
    Show {
        /// Its position (0-based) when the presenter asked.
        position: usize,
        /// Its poll, which the worker goes by when given: the order may have changed
        /// since. Entries written before questions could move have none.
        poll: Option<String>,
    },
    /// Show the counts to the room.
    Reveal,
    /// Hide the counts from the room.
    Hide,
    /// Take no more ballots on any question.
    Lock,
    /// Take ballots again.
    Unlock,
    /// Replace the event's block list (normalised answers its word clouds refuse).
    BlockWords(Vec<String>),
    /// Hide one answer of a word cloud question from every screen (`hidden`), or show
    /// it again.
    Moderate {
        /// The question's poll.
        poll: String,
        /// The answer, normalised.
        word: String,
        /// Whether it is to be hidden.
        hidden: bool,
    },
    /// Add a question after the last one.
    AddQuestion(NewQuestion),
    /// Put a new question in the place of one the room has not seen.
    ReplaceQuestion {
        /// The poll of the question replaced.
        old: String,
        /// The question that takes its place, with a poll of its own.
        new: NewQuestion,
    },
    /// Remove a question the room has not seen (its poll).
    RemoveQuestion(String),
    /// Put the questions in this order (their polls). Questions it does not name (added
    /// meanwhile) follow, in their order.
    Order(Vec<String>),
}

/// A presenter's command as it travels to the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCommandEntry {
    /// The event.
    pub event: String,
    /// What to do.
    pub action: EventAction,
    /// When the vote service accepted it (ms since the epoch).
    pub at_ms: u64,
}

/// A question as the `questions` field spells it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireQuestion {
    poll: String,
    question: String,
    choice: Choice,
    options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<Scale>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    words: Option<Words>,
}

impl WireQuestion {
    fn of(question: &NewQuestion) -> Self {
        WireQuestion {
            poll: question.poll.clone(),
            question: question.new_poll.question.clone(),
            choice: question.new_poll.choice,
            options: question.new_poll.labels.clone(),
            scale: question.new_poll.scale.clone(),
            words: question.new_poll.words,
        }
    }

    /// The question it spells, if its poll id has a created poll's shape. The identity
    /// (and the number of voter codes) is its event's, which a question added later
    /// learns from the worker's record.
    fn into_question(self, identity: Identity, voter_codes: usize) -> Option<NewQuestion> {
        is_created_poll_id(&self.poll).then_some(NewQuestion {
            poll: self.poll,
            new_poll: NewPoll {
                question: self.question,
                choice: self.choice,
                labels: self.options,
                closes_at: None,
                hide_results: false,
                scale: self.scale,
                words: self.words,
                identity,
                voter_codes,
            },
        })
    }
}

impl EventCreateEntry {
    /// The field/value pairs to pass to `XADD`.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let questions: Vec<WireQuestion> = self.questions.iter().map(WireQuestion::of).collect();
        let mut fields = vec![
            ("kind", KIND_EVENT_CREATE.to_owned()),
            ("event", self.event.clone()),
            ("code", self.code.clone()),
            ("title", self.title.clone()),
            ("owner_hash", self.owner_hash.clone()),
            (
                "questions",
                serde_json::to_string(&questions).unwrap_or_default(),
            ),
            ("identity", self.identity.name().to_owned()),
            ("at", self.at_ms.to_string()),
        ];
        if !self.blocked_words.is_empty() {
            let list = serde_json::to_string(&self.blocked_words).unwrap_or_default();
            fields.push(("blocked_words", list));
        }
        if let Some(hash) = &self.passcode_hash {
            fields.push(("passcode_hash", hash.clone()));
        }
        if !self.code_hashes.is_empty() {
            let hashes = serde_json::to_string(&self.code_hashes).unwrap_or_default();
            fields.push(("code_hashes", hashes));
        }
        fields
    }

    pub(crate) fn from_fields<'a, I>(fields: &Fields<I>) -> Result<Self, EntryError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
    {
        let event = event_of(fields)?;
        let blocked_words = match fields.get("blocked_words") {
            Ok(_) => block_list_of(fields)?,
            Err(_) => Vec::new(),
        };
        let code = fields.get("code")?;
        if !is_join_code(code) {
            return Err(bad("code", code));
        }
        let owner_hash = fields.get("owner_hash")?;
        if !is_valid_admin_hash(owner_hash) {
            return Err(bad("owner_hash", owner_hash));
        }
        let identity = identity_of(fields)?;
        let passcode_hash = passcode_hash_of(fields, identity)?;
        let code_hashes = code_hashes_of(fields, identity)?;
        let text = fields.get("questions")?;
        let wire: Vec<WireQuestion> =
            serde_json::from_str(text).map_err(|_| bad("questions", text))?;
        if wire.len() > MAX_EVENT_QUESTIONS {
            return Err(bad("questions", text));
        }
        let mut questions = Vec::with_capacity(wire.len());
        for question in wire {
            let poll = question.poll.clone();
            match question.into_question(identity, code_hashes.len()) {
                Some(question) if !questions_name(&questions, &poll) => questions.push(question),
                _ => return Err(bad("questions", &poll)),
            }
        }
        let entry = EventCreateEntry {
            event,
            code: code.to_owned(),
            title: fields.get("title")?.to_owned(),
            owner_hash: owner_hash.to_owned(),
            questions,
            blocked_words,
            identity,
            passcode_hash,
            code_hashes,
            at_ms: fields.at()?,
        };
        entry
            .new_event()
            .check()
            .map_err(|error| bad("questions", &error.to_string()))?;
        Ok(entry)
    }

    /// The event as its creator described it.
    pub fn new_event(&self) -> NewEvent {
        NewEvent {
            title: self.title.clone(),
            questions: self.questions.iter().map(|q| q.new_poll.clone()).collect(),
            blocked_words: self.blocked_words.clone(),
            identity: self.identity,
            voter_codes: self.code_hashes.len(),
        }
    }

    /// The definition the event starts with: no question shown yet, results visible.
    pub fn definition(&self) -> crate::event::EventDefinition {
        crate::event::EventDefinition {
            id: self.event.clone(),
            code: self.code.clone(),
            title: self.title.clone(),
            owner_hash: self.owner_hash.clone(),
            questions: self
                .questions
                .iter()
                .map(|q| EventQuestion {
                    poll: q.poll.clone(),
                    question: q.new_poll.question.clone(),
                    choice: q.new_poll.choice,
                    scale: q.new_poll.scale.clone(),
                    words: q.new_poll.words,
                    hidden_words: Vec::new(),
                    shown: false,
                })
                .collect(),
            current: None,
            results_visible: true,
            locked: false,
            participants: 0,
            version: 0,
            blocked_words: self.blocked_words.clone(),
        }
    }

    /// The definition each question's poll starts with: open, administered with the
    /// owner token, marked with the event.
    pub fn poll_definitions(&self) -> Vec<PollDefinition> {
        let mut code_hashes = self.code_hashes.clone();
        code_hashes.sort();
        self.questions
            .iter()
            .map(|q| PollDefinition {
                id: q.poll.clone(),
                question: q.new_poll.question.clone(),
                choice: q.new_poll.choice,
                open: true,
                options: q.new_poll.options(),
                closes_at: None,
                hide_results: false,
                admin_hash: Some(self.owner_hash.clone()),
                event: Some(self.event.clone()),
                words: q.new_poll.words,
                blocked_words: if q.new_poll.words.is_some() {
                    self.blocked_words.clone()
                } else {
                    Vec::new()
                },
                identity: self.identity,
                voter_code_hashes: code_hashes.clone(),
                passcode_hash: self.passcode_hash.clone(),
            })
            .collect()
    }
}

fn questions_name(questions: &[NewQuestion], poll: &str) -> bool {
    questions.iter().any(|q| q.poll == poll)
}

impl EventAction {
    /// The `action` field's value.
    pub fn name(&self) -> &'static str {
        match self {
            EventAction::Show { .. } => "show",
            EventAction::Reveal => "reveal",
            EventAction::Hide => "hide",
            EventAction::Lock => "lock",
            EventAction::Unlock => "unlock",
            EventAction::BlockWords(_) => "block_words",
            EventAction::Moderate { hidden: true, .. } => "hide_word",
            EventAction::Moderate { hidden: false, .. } => "show_word",
            EventAction::AddQuestion(_) => "add_question",
            EventAction::ReplaceQuestion { .. } => "replace_question",
            EventAction::RemoveQuestion(_) => "remove_question",
            EventAction::Order(_) => "order",
        }
    }
}

impl EventCommandEntry {
    /// The field/value pairs to pass to `XADD`.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let position = match self.action {
            EventAction::Show { position, .. } => position.to_string(),
            _ => String::new(),
        };
        let question_json = |question: &NewQuestion| {
            serde_json::to_string(&WireQuestion::of(question)).unwrap_or_default()
        };
        let mut fields = vec![
            ("kind", KIND_EVENT_COMMAND.to_owned()),
            ("event", self.event.clone()),
            ("action", self.action.name().to_owned()),
            ("position", position),
            ("at", self.at_ms.to_string()),
        ];
        match &self.action {
            EventAction::Moderate { poll, word, .. } => {
                fields.push(("poll", poll.clone()));
                fields.push(("word", word.clone()));
            }
            EventAction::BlockWords(list) => {
                let list = serde_json::to_string(list).unwrap_or_default();
                fields.push(("blocked_words", list));
            }
            EventAction::Show {
                poll: Some(poll), ..
            }
            | EventAction::RemoveQuestion(poll) => fields.push(("poll", poll.clone())),
            EventAction::AddQuestion(question) => {
                fields.push(("question", question_json(question)));
            }
            EventAction::ReplaceQuestion { old, new } => {
                fields.push(("poll", old.clone()));
                fields.push(("question", question_json(new)));
            }
            EventAction::Order(polls) => {
                fields.push(("polls", serde_json::to_string(polls).unwrap_or_default()));
            }
            _ => {}
        }
        fields
    }

    pub(crate) fn from_fields<'a, I>(fields: &Fields<I>) -> Result<Self, EntryError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
    {
        let event = event_of(fields)?;
        let action = match fields.get("action")? {
            "show" => {
                let position = fields.get("position")?;
                let position: usize = position.parse().map_err(|_| bad("position", position))?;
                if position >= MAX_EVENT_QUESTIONS {
                    return Err(bad("position", &position.to_string()));
                }
                let poll = match fields.get("poll") {
                    Ok(_) => Some(poll_of(fields)?),
                    Err(_) => None,
                };
                EventAction::Show { position, poll }
            }
            "reveal" => EventAction::Reveal,
            "hide" => EventAction::Hide,
            "lock" => EventAction::Lock,
            "unlock" => EventAction::Unlock,
            "block_words" => EventAction::BlockWords(block_list_of(fields)?),
            "add_question" => EventAction::AddQuestion(question_of(fields)?),
            "replace_question" => EventAction::ReplaceQuestion {
                old: poll_of(fields)?,
                new: question_of(fields)?,
            },
            "remove_question" => EventAction::RemoveQuestion(poll_of(fields)?),
            "order" => {
                let text = fields.get("polls")?;
                let polls: Vec<String> =
                    serde_json::from_str(text).map_err(|_| bad("polls", text))?;
                let mut distinct = polls.clone();
                distinct.sort_unstable();
                distinct.dedup();
                let valid = polls.len() <= MAX_EVENT_QUESTIONS
                    && distinct.len() == polls.len()
                    && polls.iter().all(|poll| is_created_poll_id(poll));
                if !valid {
                    return Err(bad("polls", text));
                }
                EventAction::Order(polls)
            }
            action @ ("hide_word" | "show_word") => {
                let poll = poll_of(fields)?;
                let word = fields.get("word")?;
                if !is_normal_word(word) {
                    return Err(bad("word", word));
                }
                EventAction::Moderate {
                    poll,
                    word: word.to_owned(),
                    hidden: action == "hide_word",
                }
            }
            other => return Err(bad("action", other)),
        };
        Ok(EventCommandEntry {
            event,
            action,
            at_ms: fields.at()?,
        })
    }
}

/// The `poll` field: a created poll's id.
fn poll_of<'a, I>(fields: &Fields<I>) -> Result<String, EntryError>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let poll = fields.get("poll")?;
    if !is_created_poll_id(poll) {
        return Err(bad("poll", poll));
    }
    Ok(poll.to_owned())
}

/// The `question` field: one question, with its poll, that keeps a question's rules.
fn question_of<'a, I>(fields: &Fields<I>) -> Result<NewQuestion, EntryError>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let text = fields.get("question")?;
    let question = serde_json::from_str::<WireQuestion>(text)
        .ok()
        .and_then(|wire| wire.into_question(Identity::default(), 0))
        .ok_or_else(|| bad("question", text))?;
    question
        .new_poll
        .check()
        .map_err(|error| bad("question", &error.to_string()))?;
    Ok(question)
}

/// The `blocked_words` field: a JSON array of normalised answers, within the limit.
fn block_list_of<'a, I>(fields: &Fields<I>) -> Result<Vec<String>, EntryError>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let text = fields.get("blocked_words")?;
    let list: Vec<String> = serde_json::from_str(text).map_err(|_| bad("blocked_words", text))?;
    let valid = list.len() <= MAX_BLOCKED_WORDS && list.iter().all(|word| is_normal_word(word));
    if !valid {
        return Err(bad("blocked_words", text));
    }
    Ok(list)
}

fn event_of<'a, I>(fields: &Fields<I>) -> Result<String, EntryError>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let event = fields.get("event")?;
    if !is_event_id(event) {
        return Err(bad("event", event));
    }
    Ok(event.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_token::hash_token;
    use crate::StreamEntry;

    fn create() -> EventCreateEntry {
        EventCreateEntry {
            event: "eV3nt00001".into(),
            code: "01234567".into(),
            title: "All hands, \"Q4\"".into(),
            owner_hash: hash_token("owner"),
            questions: ["Qu3st10n01", "Qu3st10n02"]
                .iter()
                .map(|poll| NewQuestion {
                    poll: (*poll).into(),
                    new_poll: NewPoll {
                        question: format!("{poll}?"),
                        choice: Choice::Multiple,
                        labels: vec!["Yes".into(), "No, \"never\"".into()],
                        closes_at: None,
                        hide_results: false,
                        scale: None,
                        words: None,
                        identity: Identity::Browser,
                        voter_codes: 0,
                    },
                })
                .collect(),
            at_ms: 1_700_000_000_000,
            blocked_words: Vec::new(),
            identity: Identity::Browser,
            passcode_hash: None,
            code_hashes: Vec::new(),
        }
    }

    fn decode(fields: &[(&str, String)]) -> Result<StreamEntry, EntryError> {
        StreamEntry::from_fields(fields.iter().map(|(k, v)| (*k, v.as_str())))
    }

    fn replaced(
        fields: &[(&'static str, String)],
        field: &str,
        value: &str,
    ) -> Vec<(&'static str, String)> {
        fields
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    if *k == field {
                        value.to_owned()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn creations_round_trip() {
        let entry = create();
        assert_eq!(
            decode(&entry.to_fields()),
            Ok(StreamEntry::EventCreate(entry))
        );
    }

    #[test]
    fn a_passcode_event_hands_its_hash_to_every_question() {
        let mut entry = create();
        entry.identity = Identity::Passcode;
        for question in &mut entry.questions {
            question.new_poll.identity = Identity::Passcode;
        }
        entry.passcode_hash = Some(crate::passcode::hash_passcode(&entry.event, "tiger"));
        assert_eq!(
            decode(&entry.to_fields()),
            Ok(StreamEntry::EventCreate(entry.clone()))
        );
        for definition in entry.poll_definitions() {
            assert_eq!(definition.identity, Identity::Passcode);
            assert!(definition.passcode_matches("TIGER"), "{}", definition.id);
        }
        let fields = entry.to_fields();
        let without: Vec<_> = fields
            .iter()
            .filter(|(k, _)| *k != "passcode_hash")
            .cloned()
            .collect();
        assert!(decode(&without).is_err(), "a passcode event without one");
        let browser = replaced(&fields, "identity", "browser");
        assert!(decode(&browser).is_err(), "a passcode on a browser event");
    }

    #[test]
    fn a_code_event_hands_its_codes_to_every_question() {
        let mut entry = create();
        entry.identity = Identity::Code;
        entry.code_hashes = ["K7P2Q9XQ4B", "M3N8R1T6VW"]
            .iter()
            .map(|code| crate::voter_code::hash_code(&entry.event, code))
            .collect();
        for question in &mut entry.questions {
            question.new_poll.identity = Identity::Code;
            question.new_poll.voter_codes = 2;
        }
        assert_eq!(
            decode(&entry.to_fields()),
            Ok(StreamEntry::EventCreate(entry.clone()))
        );
        for definition in entry.poll_definitions() {
            assert!(definition.voter_code_hashes.is_sorted());
            assert_eq!(
                definition.voter_code("m3n8r-1t6vw").as_deref(),
                Some("M3N8R1T6VW"),
                "{}: the event's code, bound to the event",
                definition.id
            );
            assert_eq!(definition.voter_code("K7P2Q9XQ4C"), None);
        }
        let fields = entry.to_fields();
        let without: Vec<_> = fields
            .iter()
            .filter(|(k, _)| *k != "code_hashes")
            .cloned()
            .collect();
        assert!(decode(&without).is_err(), "a code event without codes");
        let browser = replaced(&fields, "identity", "browser");
        assert!(decode(&browser).is_err(), "codes on a browser event");
    }

    #[test]
    fn commands_round_trip() {
        // A question added later carries no identity: the worker gives it its event's.
        let question = |poll: &str| NewQuestion {
            poll: poll.into(),
            new_poll: NewPoll {
                identity: Identity::default(),
                voter_codes: 0,
                ..create().questions[0].new_poll.clone()
            },
        };
        for action in [
            EventAction::Show {
                position: 0,
                poll: None,
            },
            EventAction::Show {
                position: 29,
                poll: Some("Qu3st10n01".into()),
            },
            EventAction::AddQuestion(question("Qu3st10n03")),
            EventAction::ReplaceQuestion {
                old: "Qu3st10n01".into(),
                new: question("Qu3st10n04"),
            },
            EventAction::RemoveQuestion("Qu3st10n02".into()),
            EventAction::Order(vec!["Qu3st10n02".into(), "Qu3st10n01".into()]),
            EventAction::Order(Vec::new()),
            EventAction::Reveal,
            EventAction::Hide,
            EventAction::Lock,
            EventAction::Unlock,
            EventAction::Moderate {
                poll: "Qu3st10n01".into(),
                word: "rock, paper".into(),
                hidden: true,
            },
            EventAction::Moderate {
                poll: "Qu3st10n01".into(),
                word: "c++".into(),
                hidden: false,
            },
            EventAction::BlockWords(vec!["spam".into(), "rock, paper".into()]),
            EventAction::BlockWords(Vec::new()),
        ] {
            let entry = EventCommandEntry {
                event: "eV3nt00001".into(),
                action,
                at_ms: 9,
            };
            assert_eq!(
                decode(&entry.to_fields()),
                Ok(StreamEntry::EventCommand(entry))
            );
        }
    }

    #[test]
    fn bad_entries_are_refused() {
        let fields = create().to_fields();
        let two_same = r#"[{"poll":"Qu3st10n01","question":"A?","choice":"single","options":["a","b"]},
                          {"poll":"Qu3st10n01","question":"B?","choice":"single","options":["a","b"]}]"#;
        for (field, value) in [
            ("event", "short"),
            ("code", "1234"),
            ("code", "1234567a"),
            ("owner_hash", "x"),
            ("title", ""),
            ("questions", "[]"),
            ("questions", "not json"),
            (
                "questions",
                r#"[{"poll":"default","question":"A?","choice":"single","options":["a","b"]}]"#,
            ),
            (
                "questions",
                r#"[{"poll":"Qu3st10n01","question":"A?","choice":"single","options":["a"]}]"#,
            ),
            (
                "questions",
                r#"[{"poll":"Qu3st10n01","question":"A?","choice":"any","options":["a","b"]}]"#,
            ),
            ("questions", two_same),
            ("at", "now"),
        ] {
            assert!(
                decode(&replaced(&fields, field, value)).is_err(),
                "{field}={value:?}"
            );
        }
        let command = EventCommandEntry {
            event: "eV3nt00001".into(),
            action: EventAction::Show {
                position: 1,
                poll: None,
            },
            at_ms: 1,
        }
        .to_fields();
        for (field, value) in [
            ("action", "delete"),
            ("position", ""),
            ("position", "-1"),
            ("position", "30"),
            ("event", "../x"),
        ] {
            assert!(
                decode(&replaced(&command, field, value)).is_err(),
                "{field}={value:?}"
            );
        }
        let block = EventCommandEntry {
            event: "eV3nt00001".into(),
            action: EventAction::BlockWords(vec!["spam".into()]),
            at_ms: 1,
        }
        .to_fields();
        for (field, value) in [
            ("blocked_words", "spam"),
            ("blocked_words", r#"["Spam"]"#),
            ("blocked_words", r#"["a\u202eb"]"#),
        ] {
            assert!(
                decode(&replaced(&block, field, value)).is_err(),
                "{field}={value:?}"
            );
        }
        let change = |action| {
            EventCommandEntry {
                event: "eV3nt00001".into(),
                action,
                at_ms: 1,
            }
            .to_fields()
        };
        let question = create().questions[0].clone();
        let add = change(EventAction::AddQuestion(question.clone()));
        let replace = change(EventAction::ReplaceQuestion {
            old: "Qu3st10n02".into(),
            new: question,
        });
        let order = change(EventAction::Order(vec!["Qu3st10n01".into()]));
        let one_option =
            r#"{"poll":"Qu3st10n05","question":"A?","choice":"single","options":["a"]}"#;
        let default_poll =
            r#"{"poll":"default","question":"A?","choice":"single","options":["a","b"]}"#;
        for (fields, field, value) in [
            (&add, "question", "{}"),
            (&add, "question", one_option),
            (&add, "question", default_poll),
            (&replace, "poll", "../poll"),
            (&replace, "question", one_option),
            (&order, "polls", "Qu3st10n01"),
            (&order, "polls", r#"["Qu3st10n01","Qu3st10n01"]"#),
            (&order, "polls", r#"["default"]"#),
        ] {
            assert!(
                decode(&replaced(fields, field, value)).is_err(),
                "{field}={value:?}"
            );
        }
    }

    #[test]
    fn the_definitions_start_with_nothing_shown() {
        let entry = create();
        let event = entry.definition();
        assert_eq!(
            (event.current, event.results_visible, event.locked),
            (None, true, false)
        );
        assert_eq!(event.questions[1].poll, "Qu3st10n02");
        let polls = entry.poll_definitions();
        assert_eq!(polls.len(), 2);
        assert!(polls
            .iter()
            .all(|p| p.open && p.event.as_deref() == Some("eV3nt00001")));
        assert_eq!(
            polls[0].admin_hash.as_deref(),
            Some(entry.owner_hash.as_str())
        );
        assert_eq!(polls[0].options[1].id, "b");
    }
}
