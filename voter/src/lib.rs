//! tally-voter: who a voter is. A voter is a random id in a cookie signed with
//! HMAC-SHA256 ([`VoterSigner`]), so nobody can pick another voter's id; the vote
//! service verifies it to keep one ballot per voter, and the edge to rate-limit per
//! voter rather than per address. [`key`] holds the rules for the signing key.

mod choice;
pub mod key;
mod signer;

pub use choice::{choice_cookie, CHOICE_COOKIE_PREFIX};
pub use key::{is_public, CookieKeySource, KeyProblem, DEV_COOKIE_KEY, MIN_COOKIE_KEY_BYTES};
pub use signer::{VoterSigner, VOTER_COOKIE};
