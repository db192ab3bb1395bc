//! The room passcode a creator asks for: checked and normalised as typed, or drawn at
//! random when a `passcode` poll or event leaves it out and its creator will be shown
//! the answer (a page without JavaScript, redirected, would never see a drawn one);
//! refused on any other identity.

use rand::RngCore;
use tally_model::passcode::{normalise_passcode, passcode_from_random, DRAWN_PASSCODE_CHARS};
use tally_model::Identity;

use crate::error::VoteError;

/// The passcode a new poll or event (`what`, for the message) with `identity` gets from
/// what its creator typed: `Some` exactly when the identity is `passcode`. One is drawn
/// when none was typed only if the creator reads the answer (`shown`).
pub(crate) fn room_passcode(
    what: &str,
    identity: Identity,
    typed: Option<&str>,
    shown: bool,
) -> Result<Option<String>, VoteError> {
    let typed = typed.filter(|typed| !typed.trim().is_empty());
    match (identity, typed) {
        (Identity::Passcode, Some(typed)) => Ok(Some(normalise_passcode(typed)?)),
        (Identity::Passcode, None) if !shown => Err(VoteError::Malformed(format!(
            "type the room's passcode for this {what}: a page without JavaScript cannot show \
             a drawn one"
        ))),
        (Identity::Passcode, None) => {
            let mut random = [0u8; DRAWN_PASSCODE_CHARS];
            rand::rng().fill_bytes(&mut random);
            Ok(Some(passcode_from_random(random)))
        }
        (_, Some(_)) => Err(VoteError::Malformed(format!(
            "a passcode is taken only when the {what}'s identity is passcode: choose that \
             identity or leave the passcode empty"
        ))),
        (_, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::passcode::PasscodeError;

    #[test]
    fn a_passcode_is_normalised_drawn_or_refused() {
        let typed = room_passcode("poll", Identity::Passcode, Some(" Tiger  Lake "), false);
        assert_eq!(typed.unwrap().as_deref(), Some("tiger lake"));
        for left_out in [None, Some(""), Some("   ")] {
            let drawn = room_passcode("poll", Identity::Passcode, left_out, true).unwrap();
            let drawn = drawn.expect("drawn");
            assert_eq!(drawn.chars().count(), DRAWN_PASSCODE_CHARS);
            assert_eq!(normalise_passcode(&drawn).as_ref(), Ok(&drawn));
        }
        let short = room_passcode("poll", Identity::Passcode, Some("abc"), true);
        assert!(matches!(
            short,
            Err(VoteError::Passcode(PasscodeError::Length))
        ));
        let elsewhere = room_passcode("event", Identity::Browser, Some("tiger"), true);
        assert!(matches!(elsewhere, Err(VoteError::Malformed(m)) if m.contains("event")));
        assert_eq!(
            room_passcode("poll", Identity::Open, None, true).unwrap(),
            None
        );
        let unseen = room_passcode("event", Identity::Passcode, None, false);
        assert!(matches!(unseen, Err(VoteError::Malformed(m)) if m.contains("type the")));
    }
}
