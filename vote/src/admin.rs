//! `POST /polls/<id>/close` and `POST /polls/<id>/reopen`, for the holder of the poll's
//! admin token (`Authorization: Bearer <token>`, RFC 6750 §2.1). The token is checked
//! against the hash in the poll's definition, in constant time; the command then goes
//! into the stream, and the worker applies it in order with the votes.

use std::sync::Arc;

use http::{header, Response, StatusCode};
use serde::Serialize;
use tally_model::admin_token::{bearer_token, token_matches};
use tally_model::poll::is_valid_poll_id;
use tally_model::timestamp::now_ms;
use tally_model::StatusEntry;
use tally_runtime::{json, Body, Request};

use crate::accept::read_body;
use crate::error::VoteError;
use crate::service::VoteService;

/// Where the admin commands live.
pub const POLLS_PATH: &str = "/polls";

/// Largest body read (and ignored) with a command: the command is the path.
const MAX_COMMAND_BODY_BYTES: usize = 1024;

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Stop taking votes now.
    Close,
    /// Take votes again.
    Reopen,
}

/// The poll and command in `/polls/<id>/close|reopen`; `None` for any other path.
pub fn command_of(path: &str) -> Option<(&str, Command)> {
    let rest = path.strip_prefix(POLLS_PATH)?.strip_prefix('/')?;
    let (poll, action) = rest.split_once('/')?;
    let command = match action {
        "close" => Command::Close,
        "reopen" => Command::Reopen,
        _ => return None,
    };
    is_valid_poll_id(poll).then_some((poll, command))
}

#[derive(Serialize)]
struct Applied<'a> {
    poll: &'a str,
    open: bool,
}

/// Handles a close or reopen of `poll`.
pub async fn command(
    service: Arc<VoteService>,
    request: Request,
    poll: &str,
    command: Command,
) -> Result<Response<Body>, VoteError> {
    if service.backlog.get() > service.queue_high_water {
        return Err(VoteError::Busy);
    }
    let (parts, body) = request.into_parts();
    read_body(&parts.headers, body, MAX_COMMAND_BODY_BYTES).await?;
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .ok_or(VoteError::Unauthorized)?;
    let definition = service
        .polls
        .get(poll)
        .await?
        .ok_or_else(|| VoteError::UnknownPoll(poll.to_owned()))?;
    let authorised = definition
        .admin_hash
        .as_deref()
        .is_some_and(|hash| token_matches(token, hash));
    if !authorised {
        return Err(VoteError::Forbidden(poll.to_owned()));
    }
    let entry = StatusEntry {
        poll: poll.to_owned(),
        open: command == Command::Reopen,
        at_ms: now_ms(),
    };
    service.queue.append_fields(&entry.to_fields()).await?;
    tracing::info!(poll, open = entry.open, "poll status change queued");
    Ok(json(
        StatusCode::ACCEPTED,
        &Applied {
            poll,
            open: entry.open,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_paths() {
        assert_eq!(
            command_of("/polls/aB3dE5gH9k/close"),
            Some(("aB3dE5gH9k", Command::Close))
        );
        assert_eq!(
            command_of("/polls/default/reopen"),
            Some(("default", Command::Reopen))
        );
        for path in [
            "/polls",
            "/polls/",
            "/polls/x",
            "/polls/x/",
            "/polls/x/delete",
            "/polls/x/close/",
            "/polls/../close",
            "/polls/a.b/close",
            "/polls/%2e%2e/close",
            "/pollsx/a/close",
        ] {
            assert_eq!(command_of(path), None, "{path}");
        }
    }
}
