//! `POST /events`: a new event goes into the stream like a new poll (this service never
//! touches Postgres); the worker creates it and its questions. Its join code is
//! reserved in Redis first (`SET eventcode:<code> <id> NX`), so two events never hand
//! out the same code; the worker later writes the same value there. The creator gets
//! the event's paths and its owner token, shown once: only its SHA-256 travels on; an
//! event whose identity is `passcode` also gets its room passcode back, and one whose
//! identity is `code` its voter codes (each good on every question).

use std::sync::Arc;

use http::{header, Response, StatusCode};
use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;
use serde::Serialize;
use tally_model::admin_token::hash_token;
use tally_model::event::{JOIN_CODE_DIGITS, MAX_EVENT_QUESTIONS};
use tally_model::event_entry::NewQuestion;
use tally_model::new_poll::CREATED_POLL_ID_LEN;
use tally_model::passcode::hash_passcode;
use tally_model::timestamp::now_ms;
use tally_model::voter_code::{display_code, hash_code};
use tally_model::EventCreateEntry;
use tally_runtime::{json, Body, Request};

use crate::accept::{read_request, redirect_to};
use crate::ballot::BodyFormat;
use crate::create::{new_admin_token, wants_json, NO_STORE};
use crate::error::VoteError;
use crate::event_request::{decode_event, EventRequest};
use crate::passcode::room_passcode;
use crate::service::VoteService;
use crate::voter_codes::new_voter_codes;

/// Codes tried before giving up: with a million events open, five random codes are all
/// taken once in 10^10 creations.
const CODE_ATTEMPTS: usize = 5;

/// Join codes there are: 10^[`JOIN_CODE_DIGITS`].
const CODE_SPACE: u32 = 10u32.pow(JOIN_CODE_DIGITS as u32);

/// An event's body is read up to this many times the poll body limit: each question
/// may be as large as a poll, plus one more for the title and the field names. With the
/// default 16 KiB that is 496 KiB, above the largest valid event in JSON (title 200 +
/// 30 × (question 500 + 10 × 200) = 75,200 characters, 300,800 bytes even in 4-byte
/// UTF-8).
const EVENT_BODY_POLLS: usize = MAX_EVENT_QUESTIONS + 1;

/// Deletes the reservation of a code only while it still names this event.
const RELEASE_CODE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

#[derive(Serialize)]
struct Created {
    event: String,
    code: String,
    join_path: String,
    audience_path: String,
    screen_path: String,
    presenter_path: String,
    owner_token: String,
    questions: Vec<String>,
    /// A `passcode` event's room passcode, as the room may type it.
    #[serde(skip_serializing_if = "Option::is_none")]
    passcode: Option<String>,
    /// A `code` event's voter codes, shown once: only their hashes are kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    voter_codes: Vec<String>,
}

/// The largest body read for a new event, given the poll body limit.
pub fn event_body_limit(max_poll_body_bytes: usize) -> usize {
    max_poll_body_bytes.saturating_mul(EVENT_BODY_POLLS)
}

/// Handles `POST /events`.
pub async fn create_event(
    service: Arc<VoteService>,
    request: Request,
) -> Result<Response<Body>, VoteError> {
    let limit = event_body_limit(service.max_poll_body_bytes);
    let (parts, format, body) = read_request(&service, request, limit).await?;
    let EventRequest {
        event: new_event,
        passcode,
    } = decode_event(format, &body)?;
    new_event.check()?;
    let redirected = format == BodyFormat::Form && !wants_json(&parts.headers);
    let passcode = room_passcode(
        "event",
        new_event.identity,
        passcode.as_deref(),
        !redirected,
    )?;

    let event = new_id();
    let mut polls: Vec<String> = Vec::with_capacity(new_event.questions.len());
    while polls.len() < new_event.questions.len() {
        let poll = new_id();
        if poll != event && !polls.contains(&poll) {
            polls.push(poll);
        }
    }
    let token = new_admin_token();
    let voter_codes = new_voter_codes(new_event.identity, new_event.voter_codes, !redirected)?;
    let code = reserve_code(&service, &event).await?;
    let entry = EventCreateEntry {
        event: event.clone(),
        code: code.clone(),
        title: new_event.title,
        owner_hash: hash_token(&token),
        questions: polls
            .iter()
            .zip(new_event.questions)
            .map(|(poll, new_poll)| NewQuestion {
                poll: poll.clone(),
                new_poll,
            })
            .collect(),
        at_ms: now_ms(),
        blocked_words: new_event.blocked_words,
        identity: new_event.identity,
        passcode_hash: passcode
            .as_deref()
            .map(|typed| hash_passcode(&event, typed)),
        code_hashes: voter_codes
            .iter()
            .map(|voter_code| hash_code(&event, voter_code))
            .collect(),
    };
    if let Err(error) = service.queue.append_fields(&entry.to_fields()).await {
        release_code(&service, &code, &event).await;
        return Err(error);
    }
    tracing::info!(event, questions = polls.len(), "event creation queued");

    let presenter_path = format!("/e/{code}/present#{token}");
    let mut response = if redirected {
        redirect_to(&presenter_path)
    } else {
        json(
            StatusCode::ACCEPTED,
            &Created {
                join_path: format!("/j/{code}"),
                audience_path: format!("/e/{code}"),
                screen_path: format!("/e/{code}/screen"),
                presenter_path,
                owner_token: token,
                questions: polls,
                passcode,
                voter_codes: voter_codes.iter().map(|c| display_code(c)).collect(),
                event,
                code,
            },
        )
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, NO_STORE);
    Ok(response)
}

/// A fresh id for an event or a question's poll: like a created poll's.
pub(crate) fn new_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), CREATED_POLL_ID_LEN)
}

/// A random join code: [`JOIN_CODE_DIGITS`] digits, leading zeros kept.
fn new_code() -> String {
    let number = rand::rng().random_range(0..CODE_SPACE);
    format!("{number:0width$}", width = JOIN_CODE_DIGITS)
}

/// Reserves a free join code for `event`, trying [`CODE_ATTEMPTS`] random ones.
async fn reserve_code(service: &VoteService, event: &str) -> Result<String, VoteError> {
    let mut redis = service.redis.clone();
    for _ in 0..CODE_ATTEMPTS {
        let code = new_code();
        let set: Option<String> = redis::cmd("SET")
            .arg(service.keys.event_code(&code))
            .arg(event)
            .arg("NX")
            .query_async(&mut redis)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reserving a join code failed");
                VoteError::QueueUnavailable
            })?;
        if set.is_some() {
            return Ok(code);
        }
        tracing::debug!("join code taken, trying another");
    }
    tracing::warn!(attempts = CODE_ATTEMPTS, "no free join code found");
    Err(VoteError::NoFreeCode)
}

/// Gives back a reserved code whose event never reached the stream (best effort: Redis
/// is likely the reason the append failed).
async fn release_code(service: &VoteService, code: &str, event: &str) {
    let released = redis::Script::new(RELEASE_CODE_LUA)
        .key(service.keys.event_code(code))
        .arg(event)
        .invoke_async::<i64>(&mut service.redis.clone())
        .await;
    if let Err(error) = released {
        tracing::warn!(%error, code, "could not release a reserved join code");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::event::is_join_code;

    #[test]
    fn codes_are_join_codes_with_leading_zeros_kept() {
        for _ in 0..1000 {
            let code = new_code();
            assert!(is_join_code(&code), "{code}");
        }
        assert_eq!(
            format!("{:0width$}", 42, width = JOIN_CODE_DIGITS),
            "00000042"
        );
    }

    #[test]
    fn ids_have_the_created_shape() {
        assert!(tally_model::event::is_event_id(&new_id()));
    }

    #[test]
    fn the_body_limit_holds_the_largest_event() {
        let largest_json_bytes = 4 * (200 + MAX_EVENT_QUESTIONS * (500 + 10 * 200)) + 16_384;
        assert!(event_body_limit(16_384) > largest_json_bytes);
        assert_eq!(event_body_limit(usize::MAX), usize::MAX);
    }
}
