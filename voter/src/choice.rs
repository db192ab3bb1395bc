//! The readable cookie that remembers which option(s) a browser chose in one poll, so
//! that the page (and the result service's page without JavaScript) can mark them.
//! Written answers are never kept in it.

use cookie::{Cookie, SameSite};

use crate::signer::COOKIE_MAX_AGE_SECS;

/// Prefix of the cookie's name; the poll id follows.
pub const CHOICE_COOKIE_PREFIX: &str = "tally_choice_";

/// The `Set-Cookie` value remembering `options` in `poll`.
pub fn choice_cookie(poll: &str, options: &[String], secure: bool) -> String {
    Cookie::build((format!("{CHOICE_COOKIE_PREFIX}{poll}"), options.join(",")))
        .path("/")
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(COOKIE_MAX_AGE_SECS))
        .build()
        .to_string()
}
