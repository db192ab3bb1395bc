//! Admin tokens: the creator of a poll holds a random token; only its SHA-256 (hex)
//! is stored (in the stream entry, Postgres and the Redis definition), and a presented
//! token is checked by hashing it and comparing the hashes in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of a hex SHA-256: what `admin_hash` always is.
pub const ADMIN_HASH_LEN: usize = 64;

/// Longest token worth hashing; real tokens are 43 characters, so longer ones are wrong.
pub const MAX_TOKEN_LEN: usize = 128;

/// The lowercase hex SHA-256 of `token`.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `token` hashes to `admin_hash`, compared in constant time.
pub fn token_matches(token: &str, admin_hash: &str) -> bool {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return false;
    }
    let presented = hash_token(token);
    presented.as_bytes().ct_eq(admin_hash.as_bytes()).into()
}

/// Whether `text` can be an `admin_hash`: 64 lowercase hex digits.
pub fn is_valid_admin_hash(text: &str) -> bool {
    text.len() == ADMIN_HASH_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The token in an `Authorization: Bearer <token>` value (RFC 6750 §2.1; the scheme
/// is case-insensitive, RFC 9110 §11.1). `None` for any other scheme or an empty token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_hex() {
        // Known answer: SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_valid_admin_hash(&hash_token("anything")));
        assert!(!is_valid_admin_hash("ABC"));
        assert!(!is_valid_admin_hash(&"G".repeat(64)));
    }

    #[test]
    fn only_the_right_token_matches() {
        let hash = hash_token("s3cret-token");
        assert!(token_matches("s3cret-token", &hash));
        assert!(!token_matches("s3cret-tokeN", &hash));
        assert!(!token_matches("", &hash));
        assert!(!token_matches(&"x".repeat(MAX_TOKEN_LEN + 1), &hash));
        assert!(!token_matches("s3cret-token", ""));
    }

    #[test]
    fn bearer_values() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
