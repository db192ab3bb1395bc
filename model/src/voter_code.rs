//! Voter codes, for polls whose owner hands each voter a code of their own (the `code`
//! identity, still to come in the services): ten characters of Crockford's base32, shown
//! in two groups (`K7P2Q-9XQ4B`), typed any way (lower case, spaces, dashes, `O` for
//! zero, `I` or `L` for one). Only a hash bound to the poll is stored, so a code list
//! leaked from Redis or Postgres cannot be typed in, and a code of one poll means
//! nothing on another.

use sha2::{Digest, Sha256};

/// Crockford's base32 alphabet: digits and capitals without I, L, O and U, which are
/// read as 1, 1, 0, or not at all.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a code: 32^10 = 2^50 codes, so guessing one of a poll's 1000 takes
/// about 10^12 tries, far past any rate limit; short enough to type from paper.
pub const VOTER_CODE_CHARS: usize = 10;

/// Most codes one poll may have: a large hall, printed on one sheet each.
pub const MAX_VOTER_CODES: usize = 1000;

/// Domain separation for the stored hash.
const HASH_CONTEXT: &str = "tally voter code v1";

/// The code whose characters are `random`'s bytes taken modulo 32 (256 is a multiple
/// of 32, so uniform bytes give uniform characters). The caller supplies the
/// randomness: nothing in this crate draws any.
pub fn code_from_random(random: [u8; VOTER_CODE_CHARS]) -> String {
    random
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(byte % 32)]))
        .collect()
}

/// The code someone typed, as stored: upper case, without separators, with the
/// letters Crockford reads as digits replaced; `None` when it cannot be a code.
pub fn normalise_code(typed: &str) -> Option<String> {
    let mut code = String::with_capacity(VOTER_CODE_CHARS);
    for typed in typed.chars() {
        let character = match typed.to_ascii_uppercase() {
            ' ' | '-' | '.' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            other if other.is_ascii() && ALPHABET.contains(&(other as u8)) => other,
            _ => return None,
        };
        if code.len() == VOTER_CODE_CHARS {
            return None;
        }
        code.push(character);
    }
    (code.len() == VOTER_CODE_CHARS).then_some(code)
}

/// How a code is shown and printed: two groups of five, `K7P2Q-9XQ4B`.
pub fn display_code(code: &str) -> String {
    let (first, second) = code.split_at(code.len().min(VOTER_CODE_CHARS / 2));
    format!("{first}-{second}")
}

/// The stored form of `code` (normalised) on `poll`: lowercase hex SHA-256 of both.
pub fn hash_code(poll: &str, code: &str) -> String {
    bound_hash(HASH_CONTEXT, poll, code)
}

/// Lowercase hex SHA-256 of `value` bound to `owner` under `context`, the stored form
/// of a secret a person types (a voter code, a room passcode).
pub(crate) fn bound_hash(context: &str, owner: &str, value: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(context.as_bytes());
    digest.update(b":");
    digest.update(owner.as_bytes());
    digest.update(b":");
    digest.update(value.as_bytes());
    digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typed_any_way_and_shown_in_two_groups() {
        let code = code_from_random(*b"\x00\x1f\x20\xff\x10\x11\x12\x13\x14\x15");
        assert_eq!(code, "0Z0ZGHJKMN");
        assert_eq!(display_code(&code), "0Z0ZG-HJKMN");
        for typed in ["0z0zg-hjkmn", " 0Z0Z G HJKMN ", "oZoZg.hjkmn", "0Z0ZGHJKMN"] {
            assert_eq!(
                normalise_code(typed).as_deref(),
                Some("0Z0ZGHJKMN"),
                "{typed}"
            );
        }
        assert_eq!(normalise_code("IL000-00000").as_deref(), Some("1100000000"));
        for bad in [
            "",
            "0Z0ZG",
            "0Z0ZG-HJKMNP",
            "0Z0ZG-HJKMU",
            "0Z0ZG_HJKMN",
            "0Z0ZG-HJKMÑ",
        ] {
            assert_eq!(normalise_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_hash_is_bound_to_its_poll() {
        let on_one = hash_code("aB3dE5gH9k", "0Z0ZGHJKMN");
        assert_eq!(on_one.len(), 64);
        assert_eq!(on_one, hash_code("aB3dE5gH9k", "0Z0ZGHJKMN"));
        assert_ne!(on_one, hash_code("zB3dE5gH9k", "0Z0ZGHJKMN"));
        assert_ne!(on_one, hash_code("aB3dE5gH9k", "0Z0ZGHJKMP"));
    }
}
