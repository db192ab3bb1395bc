//! Who may see a poll's full counts: the holder of its admin token. The token is
//! checked against the hash in the poll's definition in Redis (the read-only database
//! role cannot read it), by hashing it and comparing in constant time.

use http::{header, HeaderMap};
use tally_model::admin_token::{bearer_token, token_matches};

use crate::cache::ResultsCache;
use crate::error::ResultError;

/// The admin token a request presents: `Authorization: Bearer <token>`, or, when
/// `query_allowed` (a plain download link), `?token=<token>`.
pub fn presented_token(
    headers: &HeaderMap,
    query: Option<&str>,
    query_allowed: bool,
) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .map(str::to_owned);
    if from_header.is_some() || !query_allowed {
        return from_header;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name == "token")
        .map(|(_, token)| token)
        .filter(|token| !token.is_empty())
}

/// Succeeds when `token` administers `poll`; 403 when it does not (or the poll has no
/// admin), 503 when the definitions cannot be read.
pub async fn authorise(cache: &ResultsCache, poll: &str, token: &str) -> Result<(), ResultError> {
    let definition = cache.definition(poll).await.map_err(|error| {
        tracing::warn!(%error, poll, "cannot read the poll definition to check an admin token");
        ResultError::AdminUnavailable
    })?;
    let matches = definition
        .and_then(|definition| definition.admin_hash)
        .is_some_and(|hash| token_matches(token, &hash));
    if matches {
        Ok(())
    } else {
        Err(ResultError::Forbidden(poll.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_header_wins_and_the_query_counts_only_where_allowed() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            presented_token(&headers, Some("token=q"), true).as_deref(),
            Some("q")
        );
        assert_eq!(presented_token(&headers, Some("token=q"), false), None);
        assert_eq!(presented_token(&headers, Some("token="), true), None);
        assert_eq!(
            presented_token(&headers, Some("x=1&token=a%2Bb"), true).as_deref(),
            Some("a+b")
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer h"));
        assert_eq!(
            presented_token(&headers, Some("token=q"), true).as_deref(),
            Some("h")
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic h"));
        assert_eq!(presented_token(&headers, None, true), None);
    }
}
