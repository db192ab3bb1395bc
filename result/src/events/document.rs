//! `GET /events/<code>`: an event's state as JSON. Anyone with the code gets the public
//! view (never the questions still to come); the owner, with `Authorization: Bearer
//! <owner token>`, also gets every question in order, for the presenter's list.

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use serde::Serialize;
use tally_model::admin_token::token_matches;
use tally_model::event::{EventQuestion, EventView};
use tally_runtime::Body;

use super::store::EventStore;
use crate::admin::presented_token;
use crate::document::json_response;
use crate::error::ResultError;

/// The owner's view: the public one and the whole list of questions.
#[derive(Debug, Serialize)]
struct OwnerView<'e> {
    #[serde(flatten)]
    view: EventView,
    questions_list: &'e [EventQuestion],
    blocked_words: &'e [String],
}

/// Answers `GET` or `HEAD /events/<code>`.
pub async fn respond(
    store: &EventStore,
    method: &Method,
    headers: &HeaderMap,
    code: &str,
) -> Result<Response<Body>, ResultError> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ResultError::MethodNotAllowed);
    }
    let token = presented_token(headers, None, false);
    let found = store.by_code(code).await?;
    let definition = &found.definition;
    let body = match token {
        None => serde_json::to_vec(&definition.view()),
        Some(token) => {
            if !found.owner_known {
                // Redis is away and the read-only role cannot read the hash.
                return Err(ResultError::AdminUnavailable);
            }
            if !token_matches(&token, &definition.owner_hash) {
                return Err(ResultError::NotOwner(code.to_owned()));
            }
            serde_json::to_vec(&OwnerView {
                view: definition.view(),
                questions_list: &definition.questions,
                blocked_words: &definition.blocked_words,
            })
        }
    }
    .map_err(|error| {
        tracing::error!(%error, code, "the event view did not serialise");
        ResultError::Unavailable
    })?;
    Ok(json_response(Bytes::from(body), method == Method::HEAD))
}
