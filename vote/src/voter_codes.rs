//! The voter codes a new `code` poll or event draws. They are shown once, in the
//! creation's answer, and only their hashes travel on; so a creator who would not read
//! the answer (a form without JavaScript, redirected) is refused rather than handed
//! codes nobody ever sees.

use rand::RngCore;
use tally_model::voter_code::{code_from_random, VOTER_CODE_CHARS};
use tally_model::Identity;

use crate::error::VoteError;

/// Why a redirected form cannot create a `code` poll or event.
const CODES_NEED_AN_ANSWER: &str = "a page without JavaScript cannot show the voter codes: \
     create it with JavaScript on, or ask for JSON (Accept: application/json)";

/// `count` distinct fresh codes for a new poll or event with `identity` (the rules
/// already hold `count` to 0 on any identity but `code`); refused for a `code` one whose
/// creator will not be `shown` the answer.
pub(crate) fn new_voter_codes(
    identity: Identity,
    count: usize,
    shown: bool,
) -> Result<Vec<String>, VoteError> {
    if identity == Identity::Code && !shown {
        return Err(VoteError::Malformed(CODES_NEED_AN_ANSWER.into()));
    }
    let mut codes: Vec<String> = Vec::with_capacity(count);
    while codes.len() < count {
        let mut random = [0u8; VOTER_CODE_CHARS];
        rand::rng().fill_bytes(&mut random);
        let code = code_from_random(random);
        // Two alike among a thousand happen about once in 2^31 polls; drawn again.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::voter_code::display_code;

    #[test]
    fn voter_codes_are_distinct_and_typeable() {
        let codes = new_voter_codes(Identity::Code, 1000, true).unwrap();
        let mut distinct = codes.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 1000);
        for code in &codes {
            let typed = display_code(code).to_lowercase();
            assert_eq!(
                tally_model::voter_code::normalise_code(&typed).as_ref(),
                Some(code)
            );
        }
        assert!(new_voter_codes(Identity::Browser, 0, false)
            .unwrap()
            .is_empty());
        assert!(matches!(
            new_voter_codes(Identity::Code, 3, false),
            Err(VoteError::Malformed(_))
        ));
    }
}
