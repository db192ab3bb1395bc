//! The room passcode of a poll or event whose identity is `passcode`: chosen by its
//! creator (or drawn when they leave it out), shown on the room's screen, typed once by
//! each person. It is read the way people type it on a phone: case does not matter, nor
//! spaces at either end or doubled inside. Only a hash bound to the poll or event is
//! stored. A passcode keeps people outside the room out; it is not a password (anyone
//! in the room can pass it on), and the voter cookie still counts one ballot per browser.

/// Shortest passcode taken: four characters already outlast a ballot rate limit.
pub const MIN_PASSCODE_CHARS: usize = 4;

/// Longest passcode taken: a short phrase, still quick to type from a screen.
pub const MAX_PASSCODE_CHARS: usize = 40;

/// Characters in a drawn passcode: 31^6, about 8.9 × 10^8 passcodes.
pub const DRAWN_PASSCODE_CHARS: usize = 6;

/// What a drawn passcode is made of: lower-case letters and digits without the ones
/// read alike on a screen (0/o, 1/l/i).
const DRAWN_ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Domain separation for the stored hash.
const HASH_CONTEXT: &str = "tally passcode v1";

/// Why a passcode cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasscodeError {
    /// Fewer than [`MIN_PASSCODE_CHARS`] or more than [`MAX_PASSCODE_CHARS`] characters.
    #[error("a passcode is {MIN_PASSCODE_CHARS} to {MAX_PASSCODE_CHARS} characters")]
    Length,
    /// A control character (a line break, a tab…): it cannot be shown or typed.
    #[error("a passcode cannot hold control characters")]
    Control,
}

/// The passcode as stored and compared: lower case, trimmed, runs of white space as one
/// space.
pub fn normalise_passcode(typed: &str) -> Result<String, PasscodeError> {
    if typed.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(PasscodeError::Control);
    }
    let words: Vec<&str> = typed.split_whitespace().collect();
    let passcode = words.join(" ").to_lowercase();
    let length = passcode.chars().count();
    if !(MIN_PASSCODE_CHARS..=MAX_PASSCODE_CHARS).contains(&length) {
        return Err(PasscodeError::Length);
    }
    // Control characters that are white space (tabs, line breaks) went with the split.
    Ok(passcode)
}

/// The passcode whose characters are `random`'s bytes reduced into the alphabet. 31
/// does not divide 256, so the first 8 letters come up 9/8 as often as the rest: a
/// passcode shown to the whole room needs no better.
pub fn passcode_from_random(random: [u8; DRAWN_PASSCODE_CHARS]) -> String {
    random
        .iter()
        .map(|byte| char::from(DRAWN_ALPHABET[usize::from(*byte) % DRAWN_ALPHABET.len()]))
        .collect()
}

/// The stored form of `passcode` (normalised) for `owner`, the poll's id or, on an
/// event's questions, the event's: lowercase hex SHA-256 of both.
pub fn hash_passcode(owner: &str, passcode: &str) -> String {
    crate::voter_code::bound_hash(HASH_CONTEXT, owner, passcode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passcode_is_read_as_people_type_it() {
        for typed in ["Tiger Lake", "  tiger   lake ", "TIGER\tLAKE", "tiger lake"] {
            assert_eq!(
                normalise_passcode(typed).as_deref(),
                Ok("tiger lake"),
                "{typed:?}"
            );
        }
        assert_eq!(normalise_passcode("Ünïcödé").as_deref(), Ok("ünïcödé"));
        assert_eq!(normalise_passcode("abc"), Err(PasscodeError::Length));
        assert_eq!(normalise_passcode("   a b   "), Err(PasscodeError::Length));
        assert_eq!(
            normalise_passcode(&"x".repeat(41)),
            Err(PasscodeError::Length)
        );
        assert!(normalise_passcode(&"x".repeat(40)).is_ok());
        assert_eq!(
            normalise_passcode("tig\u{7}er"),
            Err(PasscodeError::Control)
        );
        assert_eq!(
            normalise_passcode("tig\u{0}er"),
            Err(PasscodeError::Control)
        );
    }

    #[test]
    fn drawn_passcodes_avoid_look_alike_characters_and_pass_as_typed() {
        let drawn = passcode_from_random([0, 30, 31, 255, 100, 7]);
        assert_eq!(drawn.chars().count(), DRAWN_PASSCODE_CHARS);
        assert!(!drawn.contains(['0', '1', 'o', 'l', 'i']), "{drawn}");
        assert_eq!(normalise_passcode(&drawn.to_uppercase()), Ok(drawn));
    }

    #[test]
    fn a_hash_is_bound_to_its_owner() {
        let hash = hash_passcode("aB3dE5gH9k", "tiger lake");
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, hash_passcode("aB3dE5gH9k", "tiger lake"));
        assert_ne!(hash, hash_passcode("zB3dE5gH9k", "tiger lake"));
        assert_ne!(hash, hash_passcode("aB3dE5gH9k", "tiger lakes"));
    }
}
