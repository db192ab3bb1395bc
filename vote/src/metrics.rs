//! The vote service's own metrics: ballots accepted, ballots refused by reason (the
//! back-pressure refusals among them), and poll and event commands queued. The HTTP metrics come
//! from the runtime's serve loop; all of them are served on the admin port.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tally_model::{BallotError, EventBallotError};
use tally_runtime::Registry;

use crate::admin::Command;
use crate::error::VoteError;
use crate::event_command::PresenterAction;

/// Every `reason` [`reason_of`] gives, created at 0 on start so that a dashboard's
/// `rate()` sees the first refusal of each kind (a series that appears with its first
/// event has no earlier sample to rise from).
pub const REASONS: [&str; 17] = [
    "malformed",
    "too_large",
    "unsupported_media_type",
    "unknown_poll",
    "closed",
    "unknown_option",
    "invalid_ballot",
    "not_current",
    "event_locked",
    "busy",
    "unavailable",
    "not_durable",
    "voter_cookie_required",
    "voter_code_required",
    "unknown_voter_code",
    "passcode_required",
    "wrong_passcode",
];

/// Every `command` label, created at 0 on start like [`REASONS`].
pub const COMMANDS: [&str; 20] = [
    "create",
    "close",
    "reopen",
    "event_create",
    "event_show",
    "event_next",
    "event_previous",
    "event_reveal",
    "event_hide",
    "event_lock",
    "event_unlock",
    "event_close",
    "event_reopen",
    "event_hide_word",
    "event_show_word",
    "event_block_words",
    "event_add_question",
    "event_edit_question",
    "event_remove_question",
    "event_order",
];

/// Labels of `tally_votes_rejected_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why, from a fixed set (see [`reason_of`]).
    pub reason: &'static str,
}

/// Labels of `tally_polls_commands_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct CommandLabel {
    /// `create`, `close`, `reopen`, or an event's (see [`COMMANDS`]).
    pub command: &'static str,
}

/// The vote service's counters. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct VoteMetrics {
    accepted: Counter,
    rejected: Family<ReasonLabel, Counter>,
    commands: Family<CommandLabel, Counter>,
}

impl VoteMetrics {
    /// Registers the counters in `registry`.
    pub fn register(registry: &mut Registry) -> VoteMetrics {
        let metrics = VoteMetrics::default();
        registry.register(
            "tally_votes_accepted",
            "Ballots appended to the vote stream (answered 202, or 303 for a browser)",
            metrics.accepted.clone(),
        );
        registry.register(
            "tally_votes_rejected",
            "Ballots refused, by reason (busy: back-pressure; unavailable: Redis)",
            metrics.rejected.clone(),
        );
        registry.register(
            "tally_polls_commands",
            "Poll and event commands appended to the vote stream, by command",
            metrics.commands.clone(),
        );
        for reason in REASONS {
            let _created = metrics.rejected.get_or_create(&ReasonLabel { reason });
        }
        for command in COMMANDS {
            let _created = metrics.commands.get_or_create(&CommandLabel { command });
        }
        metrics
    }

    /// Counts one ballot appended to the stream.
    pub fn accepted(&self) {
        self.accepted.inc();
    }

    /// Counts one ballot refused for `reason`.
    pub fn rejected(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts one poll command appended to the stream.
    pub fn command(&self, command: &'static str) {
        self.commands.get_or_create(&CommandLabel { command }).inc();
    }
}

/// The `command` label of a close or reopen.
pub fn command_label(command: Command) -> &'static str {
    match command {
        Command::Close => "close",
        Command::Reopen => "reopen",
    }
}

/// The `command` label of a presenter's action (`event_create` is the creation's).
pub fn event_command_label(action: PresenterAction) -> &'static str {
    match action {
        PresenterAction::Show => "event_show",
        PresenterAction::Next => "event_next",
        PresenterAction::Previous => "event_previous",
        PresenterAction::Reveal => "event_reveal",
        PresenterAction::Hide => "event_hide",
        PresenterAction::Lock => "event_lock",
        PresenterAction::Unlock => "event_unlock",
        PresenterAction::Close => "event_close",
        PresenterAction::Reopen => "event_reopen",
        PresenterAction::HideWord => "event_hide_word",
        PresenterAction::ShowWord => "event_show_word",
        PresenterAction::BlockWords => "event_block_words",
        PresenterAction::AddQuestion => "event_add_question",
        PresenterAction::EditQuestion => "event_edit_question",
        PresenterAction::RemoveQuestion => "event_remove_question",
        PresenterAction::Order => "event_order",
    }
}

/// The `reason` label of a ballot refused with `error`; `None` for errors that are not
/// about a ballot (no such route, wrong method).
pub fn reason_of(error: &VoteError) -> Option<&'static str> {
    Some(match error {
        VoteError::Malformed(_) => "malformed",
        VoteError::TooLarge(_) => "too_large",
        VoteError::UnsupportedMediaType | VoteError::JsonOnly => "unsupported_media_type",
        VoteError::UnknownPoll(_) => "unknown_poll",
        VoteError::Closed(_) => "closed",
        VoteError::Ballot(BallotError::UnknownOption(_)) => "unknown_option",
        // No option, several on a single-choice poll, or one twice.
        VoteError::Ballot(_) => "invalid_ballot",
        VoteError::EventBallot(EventBallotError::NotCurrent) => "not_current",
        VoteError::EventBallot(EventBallotError::Locked) => "event_locked",
        VoteError::Busy => "busy",
        VoteError::QueueUnavailable => "unavailable",
        // Redis not fsyncing every write, or no replica confirming in time.
        VoteError::NotDurable(_) | VoteError::NotReplicated => "not_durable",
        VoteError::VoterCookieRequired => "voter_cookie_required",
        VoteError::VoterCodeRequired => "voter_code_required",
        VoteError::UnknownVoterCode => "unknown_voter_code",
        VoteError::PasscodeRequired => "passcode_required",
        VoteError::WrongPasscode => "wrong_passcode",
        VoteError::PollRule(_)
        | VoteError::Passcode(_)
        | VoteError::EventRule(_)
        | VoteError::UnknownEvent(_)
        | VoteError::EventState(_)
        | VoteError::NoSuchPosition(..)
        | VoteError::OwnerUnauthorized
        | VoteError::OwnerForbidden(_)
        | VoteError::NoFreeCode
        | VoteError::Unauthorized
        | VoteError::Forbidden(_)
        | VoteError::NotFound
        | VoteError::MethodNotAllowed => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_reason_and_command_is_exported_from_the_start() {
        let mut registry = Registry::default();
        VoteMetrics::register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for reason in REASONS {
            let series = format!("tally_votes_rejected_total{{reason=\"{reason}\"}} 0");
            assert!(text.contains(&series), "{series} in {text}");
        }
        for command in COMMANDS {
            let series = format!("tally_polls_commands_total{{command=\"{command}\"}} 0");
            assert!(text.contains(&series), "{series} in {text}");
        }
    }

    #[test]
    fn reasons_are_a_fixed_set() {
        assert_eq!(reason_of(&VoteError::Busy), Some("busy"));
        assert_eq!(
            reason_of(&VoteError::Ballot(BallotError::UnknownOption("z".into()))),
            Some("unknown_option")
        );
        assert_eq!(
            reason_of(&VoteError::Ballot(BallotError::TooMany)),
            Some("invalid_ballot")
        );
        assert_eq!(reason_of(&VoteError::NotFound), None);
        assert_eq!(reason_of(&VoteError::OwnerUnauthorized), None);
        let refusals = [
            VoteError::Malformed("x".into()),
            VoteError::TooLarge(1),
            VoteError::UnsupportedMediaType,
            VoteError::UnknownPoll("p".into()),
            VoteError::Closed("p".into()),
            VoteError::Ballot(BallotError::UnknownOption("z".into())),
            VoteError::Ballot(BallotError::Empty),
            VoteError::EventBallot(EventBallotError::NotCurrent),
            VoteError::EventBallot(EventBallotError::Locked),
            VoteError::Busy,
            VoteError::QueueUnavailable,
            VoteError::NotReplicated,
            VoteError::VoterCookieRequired,
            VoteError::VoterCodeRequired,
            VoteError::UnknownVoterCode,
            VoteError::PasscodeRequired,
            VoteError::WrongPasscode,
        ];
        let reasons: Vec<_> = refusals.iter().filter_map(reason_of).collect();
        assert_eq!(reasons, REASONS, "REASONS lists every reason, in order");
    }

    #[test]
    fn counters_are_exported_with_their_labels() {
        let mut registry = Registry::default();
        let metrics = VoteMetrics::register(&mut registry);
        metrics.accepted();
        metrics.rejected("busy");
        metrics.command(command_label(Command::Reopen));
        let page = tally_runtime::metrics::encode(&registry).unwrap();
        assert!(page.contains("tally_votes_accepted_total 1"), "{page}");
        assert!(page.contains("tally_votes_rejected_total{reason=\"busy\"} 1"));
        assert!(page.contains("tally_polls_commands_total{command=\"reopen\"} 1"));
        metrics.command(event_command_label(PresenterAction::Next));
        let page = tally_runtime::metrics::encode(&registry).unwrap();
        assert!(page.contains("tally_polls_commands_total{command=\"event_next\"} 1"));
    }

    #[test]
    fn every_event_command_label_is_exported_from_the_start() {
        for action in PresenterAction::ALL {
            assert!(
                COMMANDS.contains(&event_command_label(action)),
                "{action:?}"
            );
        }
        assert!(COMMANDS.contains(&"event_create"));
    }
}
