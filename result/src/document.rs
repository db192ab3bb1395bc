//! `GET /results/<poll>`, `GET /results/<poll>/csv` and `GET /results/<poll>/ballots`:
//! the results document as each reader may see it. Anyone gets the public view (counts
//! `null` while a poll that hides its results is open); the admin token's holder gets
//! the full counts, and alone may export them as CSV, or every ballot without voters. The cache holds the full document; the view is made
//! here, per request, against the clock (a poll past `closes_at` reads as closed).

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use tally_model::timestamp::now_ms;
use tally_model::PollResults;
use tally_runtime::{full, json_bytes, Body};

use crate::admin::{authorise, presented_token};
use crate::ballot_export::ballots_csv;
use crate::csv_export::to_csv;
use crate::error::ResultError;
use crate::lookup::ResultsLookup;
use crate::route::Format;

/// RFC 4180 §3's media type, with the charset the text is in.
const CSV_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("text/csv; charset=utf-8");

/// What one results request asks for.
#[derive(Debug, Clone, Copy)]
pub struct ResultsRequest<'r> {
    /// GET or HEAD.
    pub method: &'r Method,
    /// The request's headers (for `Authorization`).
    pub headers: &'r HeaderMap,
    /// The query string (for the CSV link's `?token=`).
    pub query: Option<&'r str>,
    /// The poll.
    pub poll: &'r str,
    /// JSON or CSV.
    pub format: Format,
}

/// Answers a results request.
pub async fn respond(
    lookup: &ResultsLookup,
    request: ResultsRequest<'_>,
) -> Result<Response<Body>, ResultError> {
    let poll = request.poll;
    let token = presented_token(request.headers, request.query, request.format.is_export());
    if request.format.is_export() && token.is_none() {
        return Err(ResultError::Unauthorized);
    }
    let body = lookup.body(poll).await?;
    let admin = match &token {
        Some(token) => {
            authorise(lookup.cache(), poll, token).await?;
            true
        }
        None => false,
    };
    let document: PollResults = serde_json::from_slice(&body).map_err(|error| {
        tracing::error!(%error, poll, "the results document is unreadable");
        ResultError::Unavailable
    })?;
    let now = now_ms();
    let head = request.method == Method::HEAD;
    match request.format {
        Format::Csv => {
            let csv = to_csv(&document.at(now)).map_err(|error| {
                tracing::error!(%error, poll, "writing the CSV failed");
                ResultError::Unavailable
            })?;
            Ok(csv_response(&format!("tally-{poll}.csv"), csv, head))
        }
        Format::Ballots => {
            let ballots = lookup.database().ballots(poll).await.map_err(|error| {
                tracing::warn!(%error, poll, "cannot read the ballots to export");
                ResultError::Unavailable
            })?;
            let csv = ballots_csv(&document, &ballots).map_err(|error| {
                tracing::error!(%error, poll, "writing the ballots CSV failed");
                ResultError::Unavailable
            })?;
            Ok(csv_response(
                &format!("tally-{poll}-ballots.csv"),
                csv,
                head,
            ))
        }
        Format::Json => {
            let view = if admin {
                document.clone().at(now)
            } else {
                document.clone().public_view(now)
            };
            // Unchanged documents go out byte for byte, as cached.
            let body = if view == document {
                body
            } else {
                Bytes::from(serde_json::to_vec(&view).map_err(|_| ResultError::Unavailable)?)
            };
            Ok(json_response(body, head))
        }
    }
}

/// `200` with the results JSON; for HEAD the same headers and no body.
pub(crate) fn json_response(body: Bytes, head: bool) -> Response<Body> {
    if !head {
        return json_bytes(StatusCode::OK, body);
    }
    // An empty body; the length says what GET would send (RFC 9110 §9.3.2).
    let mut response = json_bytes(StatusCode::OK, Bytes::new());
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    response
}

fn csv_response(filename: &str, csv: Vec<u8>, head: bool) -> Response<Body> {
    let length = csv.len();
    let mut response = Response::new(if head { full(Bytes::new()) } else { full(csv) });
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, CSV_CONTENT_TYPE);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // Poll ids are letters, digits, '-' and '_': safe inside the quoted filename (RFC 6266 §4.1).
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}
