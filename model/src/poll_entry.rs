//! The wire format of poll commands in the `votes` stream, beside the votes:
//! `create` (a new poll), `close` and `reopen`; and [`StreamEntry`], which reads any
//! entry by its `kind`. Flat string fields, like votes:
//! `kind create  poll aB3dE5gH9k  question …  choice single  options ["Tea","Coffee"]
//!  closes_at ""  hide_results 0  admin_hash <hex>  at 1700000000000`.

use crate::admin_token::is_valid_admin_hash;
use crate::event_entry::{
    EventCommandEntry, EventCreateEntry, KIND_EVENT_COMMAND, KIND_EVENT_CREATE,
};
use crate::identity::Identity;
use crate::new_poll::{is_created_poll_id, NewPoll};
use crate::poll::{is_valid_poll_id, Choice, PollDefinition};
use crate::vote_entry::{EntryError, VoteEntry, KIND_VOTE};
use crate::voter_code::MAX_VOTER_CODES;

/// The `kind` of a poll creation.
pub const KIND_CREATE: &str = "create";
/// The `kind` of closing a poll now.
pub const KIND_CLOSE: &str = "close";
/// The `kind` of reopening a closed poll.
pub const KIND_REOPEN: &str = "reopen";

/// A poll's creation as it travels to the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateEntry {
    /// The new poll's id (10 letters and digits).
    pub poll: String,
    /// What the creator asked for.
    pub new_poll: NewPoll,
    /// SHA-256 (hex) of the admin token.
    pub admin_hash: String,
    /// The hashes of its voter codes, for a poll whose identity is `code`.
    pub code_hashes: Vec<String>,
    /// The hash of its room passcode, for a poll whose identity is `passcode`.
    pub passcode_hash: Option<String>,
    /// When the vote service accepted it (ms since the epoch).
    pub at_ms: u64,
}

/// Closing (`open: false`) or reopening (`open: true`) a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The poll.
    pub poll: String,
    /// Whether the poll is to take votes.
    pub open: bool,
    /// When the vote service accepted it (ms since the epoch).
    pub at_ms: u64,
}

/// Any entry of the `votes` stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEntry {
    /// A ballot.
    Vote(VoteEntry),
    /// A new poll.
    Create(CreateEntry),
    /// A poll closed or reopened.
    Status(StatusEntry),
    /// A new event with its questions.
    EventCreate(EventCreateEntry),
    /// A presenter's command.
    EventCommand(EventCommandEntry),
}

impl StreamEntry {
    /// Reads an entry of any kind from its fields, checking every one.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, EntryError> {
        let fields = Fields(fields);
        match fields.get("kind")? {
            KIND_VOTE => VoteEntry::from_fields(fields.0).map(StreamEntry::Vote),
            KIND_CREATE => CreateEntry::from_fields(&fields).map(StreamEntry::Create),
            kind @ (KIND_CLOSE | KIND_REOPEN) => Ok(StreamEntry::Status(StatusEntry {
                poll: fields.poll()?,
                open: kind == KIND_REOPEN,
                at_ms: fields.at()?,
            })),
            KIND_EVENT_CREATE => {
                EventCreateEntry::from_fields(&fields).map(StreamEntry::EventCreate)
            }
            KIND_EVENT_COMMAND => {
                EventCommandEntry::from_fields(&fields).map(StreamEntry::EventCommand)
            }
            other => Err(EntryError::UnknownKind(other.chars().take(40).collect())),
        }
    }

    /// The poll the entry is about, or for an event's entries the event.
    pub fn poll(&self) -> &str {
        match self {
            StreamEntry::Vote(vote) => &vote.poll,
            StreamEntry::Create(create) => &create.poll,
            StreamEntry::Status(status) => &status.poll,
            StreamEntry::EventCreate(create) => &create.event,
            StreamEntry::EventCommand(command) => &command.event,
        }
    }
}

impl CreateEntry {
    /// The field/value pairs to pass to `XADD`.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let poll = &self.new_poll;
        let mut fields = vec![
            ("kind", KIND_CREATE.to_owned()),
            ("poll", self.poll.clone()),
            ("question", poll.question.clone()),
            ("choice", poll.choice.name().to_owned()),
            (
                "options",
                serde_json::to_string(&poll.labels).unwrap_or_default(),
            ),
            (
                "closes_at",
                poll.closes_at.map(|ms| ms.to_string()).unwrap_or_default(),
            ),
            ("hide_results", u8::from(poll.hide_results).to_string()),
            ("identity", poll.identity.name().to_owned()),
            ("admin_hash", self.admin_hash.clone()),
            (
                "code_hashes",
                serde_json::to_string(&self.code_hashes).unwrap_or_default(),
            ),
            ("at", self.at_ms.to_string()),
        ];
        if let Some(hash) = &self.passcode_hash {
            fields.push(("passcode_hash", hash.clone()));
        }
        fields
    }

    fn from_fields<'a, I>(fields: &Fields<I>) -> Result<Self, EntryError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
    {
        let poll = fields.get("poll")?;
        if !is_created_poll_id(poll) {
            return Err(bad("poll", poll));
        }
        let choice = fields.get("choice")?;
        let choice = Choice::from_name(choice).ok_or_else(|| bad("choice", choice))?;
        let options = fields.get("options")?;
        let labels: Vec<String> =
            serde_json::from_str(options).map_err(|_| bad("options", options))?;
        let closes_at = match fields.get("closes_at")? {
            "" => None,
            text => Some(text.parse().map_err(|_| bad("closes_at", text))?),
        };
        let hide_results = match fields.get("hide_results")? {
            "0" => false,
            "1" => true,
            other => return Err(bad("hide_results", other)),
        };
        let admin_hash = fields.get("admin_hash")?;
        if !is_valid_admin_hash(admin_hash) {
            return Err(bad("admin_hash", admin_hash));
        }
        let identity = identity_of(fields)?;
        let code_hashes = code_hashes_of(fields, identity)?;
        let passcode_hash = passcode_hash_of(fields, identity)?;
        let new_poll = NewPoll {
            question: fields.get("question")?.to_owned(),
            choice,
            labels,
            closes_at,
            hide_results,
            scale: None,
            words: None,
            identity,
            voter_codes: code_hashes.len(),
        };
        new_poll
            .check()
            .map_err(|error| bad("options", &error.to_string()))?;
        Ok(CreateEntry {
            poll: poll.to_owned(),
            new_poll,
            admin_hash: admin_hash.to_owned(),
            code_hashes,
            passcode_hash,
            at_ms: fields.at()?,
        })
    }

    /// The definition the new poll starts with.
    pub fn definition(&self) -> PollDefinition {
        PollDefinition {
            id: self.poll.clone(),
            question: self.new_poll.question.clone(),
            choice: self.new_poll.choice,
            open: true,
            options: self.new_poll.options(),
            closes_at: self.new_poll.closes_at,
            hide_results: self.new_poll.hide_results,
            admin_hash: Some(self.admin_hash.clone()),
            event: None,
            blocked_words: Vec::new(),
            words: None,
            identity: self.new_poll.identity,
            voter_code_hashes: {
                let mut hashes = self.code_hashes.clone();
                hashes.sort();
                hashes
            },
            passcode_hash: self.passcode_hash.clone(),
        }
    }
}

impl StatusEntry {
    /// The field/value pairs to pass to `XADD`.
    pub fn to_fields(&self) -> [(&'static str, String); 3] {
        let kind = if self.open { KIND_REOPEN } else { KIND_CLOSE };
        [
            ("kind", kind.to_owned()),
            ("poll", self.poll.clone()),
            ("at", self.at_ms.to_string()),
        ]
    }
}

/// The `identity` field; an entry queued before polls had one was an open poll's.
pub(crate) fn identity_of<'a, I>(fields: &Fields<I>) -> Result<Identity, EntryError>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    match fields.get("identity") {
        Ok(name) => Identity::from_name(name).ok_or_else(|| bad("identity", name)),
        Err(_) => Ok(Identity::Open),
    }
}

/// The `code_hashes` field: 1 to [`MAX_VOTER_CODES`] distinct hashes for a poll (or
/// event) whose identity is `code`, none for any other (an entry queued before codes has
/// none).
pub(crate) fn code_hashes_of<'a, I>(
    fields: &Fields<I>,
    identity: Identity,
) -> Result<Vec<String>, EntryError>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let text = fields.get("code_hashes").unwrap_or("[]");
    let hashes: Vec<String> = serde_json::from_str(text).map_err(|_| bad("code_hashes", text))?;
    let mut distinct = hashes.clone();
    distinct.sort();
    distinct.dedup();
    let count_fits = match identity {
        Identity::Code => (1..=MAX_VOTER_CODES).contains(&hashes.len()),
        Identity::Browser | Identity::Open | Identity::Passcode => hashes.is_empty(),
    };
    if !count_fits
        || distinct.len() != hashes.len()
        || !hashes.iter().all(|hash| is_valid_admin_hash(hash))
    {
        return Err(bad("code_hashes", text));
    }
    Ok(hashes)
}

/// The `passcode_hash` field: there for a poll (or event) whose identity is `passcode`,
/// absent for any other.
pub(crate) fn passcode_hash_of<'a, I>(
    fields: &Fields<I>,
    identity: Identity,
) -> Result<Option<String>, EntryError>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    match (identity, fields.get("passcode_hash")) {
        (Identity::Passcode, Ok(hash)) if is_valid_admin_hash(hash) => Ok(Some(hash.to_owned())),
        (Identity::Passcode, Ok(hash)) => Err(bad("passcode_hash", hash)),
        (Identity::Passcode, Err(missing)) => Err(missing),
        (_, Ok(hash)) => Err(bad("passcode_hash", hash)),
        (_, Err(_)) => Ok(None),
    }
}

/// Looks fields up by name.
pub(crate) struct Fields<I>(pub(crate) I);

impl<'a, I> Fields<I>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    pub(crate) fn get(&self, name: &'static str) -> Result<&'a str, EntryError> {
        self.0
            .clone()
            .into_iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
            .ok_or(EntryError::Missing(name))
    }

    fn poll(&self) -> Result<String, EntryError> {
        let poll = self.get("poll")?;
        if !is_valid_poll_id(poll) {
            return Err(bad("poll", poll));
        }
        Ok(poll.to_owned())
    }

    pub(crate) fn at(&self) -> Result<u64, EntryError> {
        let at = self.get("at")?;
        at.parse().map_err(|_| bad("at", at))
    }
}

pub(crate) fn bad(field: &'static str, value: &str) -> EntryError {
    EntryError::Bad {
        field,
        value: value.chars().take(80).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_token::hash_token;

    fn create() -> CreateEntry {
        CreateEntry {
            poll: "aB3dE5gH9k".into(),
            new_poll: NewPoll {
                question: "Tea, or \"coffee\"?".into(),
                choice: Choice::Multiple,
                labels: vec!["Tea".into(), "Coffee, black".into()],
                closes_at: Some(1_800_000_000_000),
                hide_results: true,
                scale: None,
                words: None,
                identity: Identity::Browser,
                voter_codes: 0,
            },
            admin_hash: hash_token("t"),
            code_hashes: Vec::new(),
            passcode_hash: None,
            at_ms: 1_700_000_000_000,
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
                if *k == field {
                    (*k, value.to_owned())
                } else {
                    (*k, v.clone())
                }
            })
            .collect()
    }

    #[test]
    fn creations_round_trip() {
        let entry = create();
        assert_eq!(
            decode(&entry.to_fields()),
            Ok(StreamEntry::Create(entry.clone()))
        );
        let mut open_ended = entry;
        open_ended.new_poll.closes_at = None;
        open_ended.new_poll.hide_results = false;
        let fields = open_ended.to_fields();
        assert!(fields.contains(&("closes_at", String::new())));
        assert_eq!(decode(&fields), Ok(StreamEntry::Create(open_ended)));
    }

    #[test]
    fn a_creation_queued_before_identities_is_an_open_poll() {
        let mut entry = create();
        let fields: Vec<_> = entry
            .to_fields()
            .into_iter()
            .filter(|(k, _)| *k != "identity")
            .collect();
        entry.new_poll.identity = Identity::Open;
        assert_eq!(decode(&fields), Ok(StreamEntry::Create(entry.clone())));
        assert_eq!(entry.definition().identity, Identity::Open);
    }

    #[test]
    fn a_code_poll_carries_its_code_hashes_and_only_it_does() {
        let mut entry = create();
        entry.new_poll.identity = Identity::Code;
        entry.new_poll.voter_codes = 2;
        entry.code_hashes = vec![hash_token("2"), hash_token("1")];
        assert_eq!(
            decode(&entry.to_fields()),
            Ok(StreamEntry::Create(entry.clone()))
        );
        let definition = entry.definition();
        assert_eq!(definition.voter_code_hashes.len(), 2);
        assert!(
            definition.voter_code_hashes.is_sorted(),
            "for binary search"
        );
        let fields = entry.to_fields();
        let twice = serde_json::to_string(&[hash_token("1"), hash_token("1")]).unwrap();
        for (field, value) in [
            ("code_hashes", "[]"),
            ("code_hashes", twice.as_str()),
            ("code_hashes", "[\"short\"]"),
            ("code_hashes", "not json"),
        ] {
            assert!(decode(&replaced(&fields, field, value)).is_err(), "{value}");
        }
        let browser = replaced(&fields, "identity", "browser");
        assert!(decode(&browser).is_err(), "codes on a browser poll");
    }

    #[test]
    fn a_passcode_poll_carries_its_passcode_hash_and_only_it_does() {
        let mut entry = create();
        entry.new_poll.identity = Identity::Passcode;
        entry.passcode_hash = Some(hash_token("tiger lake"));
        assert_eq!(
            decode(&entry.to_fields()),
            Ok(StreamEntry::Create(entry.clone()))
        );
        assert_eq!(entry.definition().passcode_hash, entry.passcode_hash);
        let fields = entry.to_fields();
        assert!(decode(&replaced(&fields, "passcode_hash", "short")).is_err());
        let browser = replaced(&fields, "identity", "browser");
        assert!(decode(&browser).is_err(), "a passcode on a browser poll");
        let without: Vec<_> = fields
            .into_iter()
            .filter(|(k, _)| *k != "passcode_hash")
            .collect();
        assert!(decode(&without).is_err(), "a passcode poll without one");
    }

    #[test]
    fn close_and_reopen_round_trip() {
        for open in [false, true] {
            let entry = StatusEntry {
                poll: "aB3dE5gH9k".into(),
                open,
                at_ms: 5,
            };
            assert_eq!(
                decode(&entry.to_fields()),
                Ok(StreamEntry::Status(entry.clone()))
            );
        }
    }

    #[test]
    fn votes_still_read() {
        let vote = VoteEntry {
            vote_id: "v".into(),
            poll: "default".into(),
            options: vec!["a".into()],
            voter: "x".into(),
            at_ms: 1,
            words: false,
        };
        let fields = vote.to_fields().to_vec();
        assert_eq!(decode(&fields), Ok(StreamEntry::Vote(vote)));
    }

    #[test]
    fn bad_creations_are_refused() {
        let fields = create().to_fields();
        for (field, value) in [
            ("poll", "default"),
            ("poll", "../../etc12"),
            ("choice", "some"),
            ("options", "[\"only one\"]"),
            ("options", "not json"),
            ("options", "[\"a\",\"A\"]"),
            ("closes_at", "soon"),
            ("hide_results", "yes"),
            ("identity", "code"),
            ("identity", "Browser"),
            ("admin_hash", "short"),
            ("question", ""),
            ("at", "-1"),
        ] {
            assert!(
                decode(&replaced(&fields, field, value)).is_err(),
                "{field}={value:?}"
            );
        }
        let missing: Vec<_> = fields
            .iter()
            .filter(|(k, _)| *k != "admin_hash")
            .cloned()
            .collect();
        assert_eq!(decode(&missing), Err(EntryError::Missing("admin_hash")));
        assert!(matches!(
            decode(&replaced(&fields, "kind", "delete")),
            Err(EntryError::UnknownKind(_))
        ));
    }

    #[test]
    fn the_definition_starts_open_with_lettered_options() {
        let definition = create().definition();
        assert!(definition.open);
        assert_eq!(definition.options[1].id, "b");
        assert_eq!(definition.options[1].label, "Coffee, black");
        assert_eq!(
            definition.admin_hash.as_deref(),
            Some(hash_token("t").as_str())
        );
    }
}
