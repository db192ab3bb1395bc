//! `POST /polls`: a new poll goes into the stream like a vote (this service never
//! touches Postgres); the worker creates it. The creator gets the poll's id, its links
//! and the admin token, which is shown once: only its SHA-256 travels on. A poll whose
//! identity is `code` also gets its voter codes, shown once the same way; one whose
//! identity is `passcode` gets its room passcode back (drawn if none was typed).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;
use serde::Serialize;
use tally_model::admin_token::hash_token;
use tally_model::new_poll::CREATED_POLL_ID_LEN;
use tally_model::passcode::hash_passcode;
use tally_model::timestamp::now_ms;
use tally_model::voter_code::{display_code, hash_code};
use tally_model::CreateEntry;
use tally_runtime::{json, Body, Request};

use crate::accept::{read_request, redirect_to};
use crate::ballot::BodyFormat;
use crate::error::VoteError;
use crate::passcode::room_passcode;
use crate::poll_request::{decode_poll, PollRequest};
use crate::service::VoteService;
use crate::voter_codes::new_voter_codes;

/// Random bytes in an admin token: 256 bits, 43 characters of URL-safe base64.
const ADMIN_TOKEN_BYTES: usize = 32;

/// The answer carries a secret: no cache may keep it (RFC 9111 §5.2.2.5).
pub(crate) const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

#[derive(Serialize)]
struct Created {
    poll: String,
    share_path: String,
    live_path: String,
    admin_path: String,
    admin_token: String,
    /// A `code` poll's voter codes, shown once: only their hashes are kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    voter_codes: Vec<String>,
    /// A `passcode` poll's room passcode, as voters may type it.
    #[serde(skip_serializing_if = "Option::is_none")]
    passcode: Option<String>,
}

/// Handles `POST /polls`.
pub async fn create(
    service: Arc<VoteService>,
    request: Request,
) -> Result<Response<Body>, VoteError> {
    let limit = service.max_poll_body_bytes;
    let (parts, format, body) = read_request(&service, request, limit).await?;
    let PollRequest {
        poll: new_poll,
        passcode,
    } = decode_poll(format, &body)?;
    let now = now_ms();
    new_poll.check_at(now)?;
    let redirected = format == BodyFormat::Form && !wants_json(&parts.headers);
    let passcode = room_passcode("poll", new_poll.identity, passcode.as_deref(), !redirected)?;

    let poll = Alphanumeric.sample_string(&mut rand::rng(), CREATED_POLL_ID_LEN);
    let token = new_admin_token();
    let codes = new_voter_codes(new_poll.identity, new_poll.voter_codes, !redirected)?;
    let entry = CreateEntry {
        code_hashes: codes.iter().map(|code| hash_code(&poll, code)).collect(),
        passcode_hash: passcode.as_deref().map(|typed| hash_passcode(&poll, typed)),
        poll: poll.clone(),
        new_poll,
        admin_hash: hash_token(&token),
        at_ms: now,
    };
    service.queue.append_fields(&entry.to_fields()).await?;
    tracing::info!(poll, "poll creation queued");

    let admin_path = format!("/p/{poll}/admin#{token}");
    let mut response = if redirected {
        redirect_to(&admin_path)
    } else {
        json(
            StatusCode::ACCEPTED,
            &Created {
                share_path: format!("/p/{poll}"),
                live_path: format!("/p/{poll}/live"),
                admin_path,
                admin_token: token,
                voter_codes: codes.iter().map(|code| display_code(code)).collect(),
                passcode,
                poll,
            },
        )
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, NO_STORE);
    Ok(response)
}

/// A fresh admin token: 256 random bits, URL-safe (it travels in a link's fragment).
pub(crate) fn new_admin_token() -> String {
    let mut bytes = [0u8; ADMIN_TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether the client asked for JSON; a browser's form post asks for HTML or anything.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (new_admin_token(), new_admin_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn poll_ids_have_the_created_shape() {
        let id = Alphanumeric.sample_string(&mut rand::rng(), CREATED_POLL_ID_LEN);
        assert!(tally_model::new_poll::is_created_poll_id(&id), "{id}");
    }

    #[test]
    fn json_is_wanted_only_when_asked_for() {
        let mut headers = HeaderMap::new();
        assert!(!wants_json(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,*/*;q=0.8"),
        );
        assert!(!wants_json(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(wants_json(&headers));
    }
}
