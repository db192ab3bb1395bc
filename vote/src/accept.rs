//! The accept path: one request in, one ballot appended to the stream (or a reason why
//! not), and the response a browser or an API client expects. A ballot on a question of
//! an event is also checked against the event: the question must be the one shown, and
//! the event not locked. A poll that counts one ballot per browser takes only ballots
//! that bring the voter cookie its page handed out; one that counts a ballot per voter
//! code takes only ballots that name one of its codes; one behind a room passcode takes
//! only ballots that bring the passcode and the cookie.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;
use tally_model::event::is_join_code;
use tally_model::poll::BallotError;
use tally_model::timestamp::now_ms;
use tally_model::EventBallotError;
use tally_model::{Choice, Identity, PollDefinition, VoteEntry, DEFAULT_POLL_ID};
use tally_runtime::{drain, empty, json, Body, HttpError, Request};

use crate::ballot::{decode_ballot, BallotRequest, BodyFormat};
use crate::error::VoteError;
use crate::events::BallotGate;
use crate::metrics::reason_of;
use crate::service::VoteService;
use tally_voter::{choice_cookie, VoterSigner};

#[derive(Serialize)]
struct Queued<'a> {
    status: &'static str,
    vote_id: &'a str,
}

/// Handles `POST /vote` (and the classic `POST /`).
pub async fn accept(
    service: Arc<VoteService>,
    request: Request,
) -> Result<Response<Body>, VoteError> {
    let (parts, format, body) = read_request(&service, request, service.max_body_bytes).await?;
    let ballot = decode_ballot(format, &body)?;
    let browser = format == BodyFormat::Form && wants_html(&parts.headers);

    let definition = service
        .polls
        .get(&ballot.poll)
        .await?
        .ok_or_else(|| VoteError::UnknownPoll(ballot.poll.clone()))?;
    let gate = match definition.event.as_deref() {
        Some(event) => Some(service.events.gate(event, &ballot.poll).await?),
        None => None,
    };
    let code = gate.as_ref().and_then(|g| g.code.as_deref());
    let page = |anchor: &str| match code.filter(|code| is_join_code(code)) {
        Some(code) => event_page(code, anchor),
        None => poll_page(&ballot.poll, anchor),
    };
    let words = definition.choice == Choice::Words;
    let checked = match (words, ballot.words.is_empty()) {
        (true, false) => definition.accept_words_at(&ballot.words, now_ms()),
        (true, true) => Err(BallotError::WordsExpected),
        (false, true) => definition
            .check_ballot(&ballot.options)
            .map(|()| ballot.options.clone()),
        (false, false) => Err(BallotError::OptionsExpected),
    };
    let answers = match checked {
        // A page without JavaScript shows why, instead of a JSON error.
        Err(BallotError::Closed(_)) if browser => {
            service.metrics.rejected("closed");
            return Ok(redirect_to(&page("closed")));
        }
        checked => checked?,
    };
    if let Some(BallotGate {
        verdict: Err(refusal),
        ..
    }) = gate
    {
        if !browser {
            return Err(refusal.into());
        }
        let (reason, anchor) = match refusal {
            EventBallotError::Locked => ("event_locked", "closed"),
            EventBallotError::NotCurrent => ("not_current", "not-current"),
        };
        service.metrics.rejected(reason);
        return Ok(redirect_to(&page(anchor)));
    }

    // A voter code is its voter; on other polls the cookie says who votes.
    let code_voter = match credential_voter(&service.signer, &definition, &ballot) {
        Ok(voter) => voter,
        Err(refusal) => match (credential_anchor(&refusal), reason_of(&refusal)) {
            // A page without JavaScript says what to type.
            (Some(anchor), Some(reason)) if browser => {
                service.metrics.rejected(reason);
                return Ok(redirect_to(&page(anchor)));
            }
            _ => return Err(refusal),
        },
    };
    let known_voter = code_voter.or_else(|| {
        service
            .signer
            .voter_from_headers(&parts.headers)
            .map(str::to_owned)
    });
    if known_voter.is_none() && definition.identity.needs_voter_cookie() {
        if !browser {
            return Err(VoteError::VoterCookieRequired);
        }
        // A page without JavaScript says how to vote: cookies on, the page loaded.
        service.metrics.rejected("voter_cookie_required");
        return Ok(redirect_to(&page("cookie-required")));
    }
    let voter = known_voter
        .clone()
        .unwrap_or_else(VoterSigner::new_voter_id);
    let entry = VoteEntry {
        vote_id: uuid::Uuid::now_v7().simple().to_string(),
        poll: ballot.poll.clone(),
        options: answers,
        words,
        voter,
        at_ms: now_ms(),
    };
    let secure = came_over_tls(&parts.headers);
    match service.queue.append(&entry).await {
        Ok(_) => service.metrics.accepted(),
        // The entry is in the stream and will be counted; a new voter gets its id all
        // the same, so that sending the vote again replaces this ballot.
        Err(error @ VoteError::NotReplicated) if known_voter.is_none() => {
            service.metrics.rejected("not_durable");
            let mut response = error.to_response();
            let cookie = service.signer.set_cookie(&entry.voter, secure);
            append_cookie(response.headers_mut(), &cookie);
            return Ok(response);
        }
        Err(error) => return Err(error),
    }

    let mut response = if browser {
        let first = ballot.options.first().map(String::as_str);
        let anchor = match (ballot.poll.as_str(), first) {
            (DEFAULT_POLL_ID, Some(first)) => format!("voted-{first}"),
            _ => "voted".to_owned(),
        };
        redirect_to(&page(&anchor))
    } else {
        json(
            StatusCode::ACCEPTED,
            &Queued {
                status: "queued",
                vote_id: &entry.vote_id,
            },
        )
    };
    let headers = response.headers_mut();
    if known_voter.is_none() {
        append_cookie(headers, &service.signer.set_cookie(&entry.voter, secure));
    }
    // The page marks the options this browser chose; written answers are not kept.
    if !entry.words {
        append_cookie(headers, &choice_cookie(&entry.poll, &entry.options, secure));
    }
    Ok(response)
}

/// Who the ballot's credentials say votes: its voter code's voter on a `code` poll,
/// `None` where the cookie says. Refused when the poll wants a code or the room's
/// passcode and the ballot lacks it, or the ballot brings one the poll does not take.
fn credential_voter(
    signer: &VoterSigner,
    definition: &PollDefinition,
    ballot: &BallotRequest,
) -> Result<Option<String>, VoteError> {
    let (code, passcode) = (typed(&ballot.code), typed(&ballot.passcode));
    let identity = definition.identity;
    if code.is_some() && identity != Identity::Code {
        return Err(VoteError::Malformed("this poll takes no voter code".into()));
    }
    if passcode.is_some() && identity != Identity::Passcode {
        return Err(VoteError::Malformed("this poll takes no passcode".into()));
    }
    match identity {
        Identity::Code => {
            let typed = code.ok_or(VoteError::VoterCodeRequired)?;
            let code = definition
                .voter_code(typed)
                .ok_or(VoteError::UnknownVoterCode)?;
            Ok(Some(signer.code_voter(&definition.id, &code)))
        }
        Identity::Passcode => {
            let typed = passcode.ok_or(VoteError::PasscodeRequired)?;
            if !definition.passcode_matches(typed) {
                return Err(VoteError::WrongPasscode);
            }
            Ok(None)
        }
        Identity::Browser | Identity::Open => Ok(None),
    }
}

/// What was typed in a credential field, trimmed; `None` when nothing was.
fn typed(value: &Option<String>) -> Option<&str> {
    let typed = value.as_deref().map(str::trim);
    typed.filter(|typed| !typed.is_empty())
}

/// The page anchor of a credential refusal that a page without JavaScript explains
/// (CSS `:target`); `None` for the ones it does not.
fn credential_anchor(refusal: &VoteError) -> Option<&'static str> {
    match refusal {
        VoteError::VoterCodeRequired => Some("code-required"),
        VoteError::UnknownVoterCode => Some("unknown-code"),
        VoteError::PasscodeRequired => Some("passcode-required"),
        VoteError::WrongPasscode => Some("wrong-passcode"),
        _ => None,
    }
}

/// What every command that goes into the stream does first: refuse it while the queue
/// is over its high-water mark, then read its format and whole body (at most `limit`).
pub(crate) async fn read_request(
    service: &VoteService,
    request: Request,
    limit: usize,
) -> Result<(Parts, BodyFormat, Bytes), VoteError> {
    if service.backlog.get() > service.queue_high_water {
        return Err(VoteError::Busy);
    }
    let (parts, body) = request.into_parts();
    let format = BodyFormat::from_content_type(
        parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    let body = read_body(&parts.headers, body, limit).await?;
    Ok((parts, format, body))
}

/// Reads the whole body, refusing one longer than `limit` before reading it when
/// `Content-Length` says so, and as soon as it passes the limit otherwise (chunked).
/// A refused body is drained (bounded) first, so the client reads the 413.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    mut body: hyper::body::Incoming,
    limit: usize,
) -> Result<Bytes, VoteError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        drain(body).await;
        return Err(VoteError::TooLarge(limit));
    }
    let mut collected = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|error| VoteError::Malformed(format!("could not read the body: {error}")))?;
        if let Some(data) = frame.data_ref() {
            if collected.len() + data.len() > limit {
                drain(body).await;
                return Err(VoteError::TooLarge(limit));
            }
            collected.extend_from_slice(data);
        }
    }
    Ok(collected.freeze())
}

/// A browser's form post prefers HTML; fetch and API clients ask for JSON or anything.
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The edge says whether the client's connection was TLS.
fn came_over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The page of `poll` at `anchor`, which the page shows a notice for without JavaScript
/// (CSS `:target`): the front page for the default poll, `/p/<id>` for the others.
fn poll_page(poll: &str, anchor: &str) -> String {
    if poll == DEFAULT_POLL_ID {
        format!("/#{anchor}")
    } else {
        format!("/p/{poll}#{anchor}")
    }
}

/// The audience page of the event with join code `code`, at `anchor`.
fn event_page(code: &str, anchor: &str) -> String {
    format!("/e/{code}#{anchor}")
}

/// `303 See Other` to `location` (a path this service built from checked ids).
pub(crate) fn redirect_to(location: &str) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn append_cookie(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}
