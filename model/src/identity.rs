//! How a poll tells its voters apart, chosen when the poll (or its event) is created.
//!
//! - `browser`: one ballot per browser. The voter cookie is handed out with the poll's
//!   page (the edge signs it on the page's `GET`), never by the vote itself, so a ballot
//!   that comes without one is refused. What created polls and events get by default.
//! - `code`: one ballot per voter code. The owner asks for N codes when creating the
//!   poll and hands them out ([`crate::voter_code`]); a ballot names its code, and the
//!   same code again replaces that ballot.
//! - `passcode`: one shared passcode for the room ([`crate::passcode`]), then as
//!   `browser`: a ballot brings the passcode and the voter cookie, so the passcode keeps
//!   people outside the room out and the cookie keeps one ballot per browser.
//! - `open`: any request may be a new voter, as in the classic voting app. The default
//!   "Cats vs Dogs" poll keeps it, so the classic seed tool (`vote=a`, no cookie) works.

use serde::{Deserialize, Serialize};

/// A poll's rule for who is a voter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Identity {
    /// A ballot needs the voter cookie its page handed out.
    Browser,
    /// A ballot needs one of the poll's voter codes.
    Code,
    /// A ballot needs the room's passcode and, as `Browser`, the voter cookie.
    Passcode,
    /// A ballot without a cookie is a new voter's. Definitions and stream entries written
    /// before polls had an identity are read as this: it is how they behaved.
    #[default]
    Open,
}

impl Identity {
    /// Every identity, in the order error messages list them.
    pub const ALL: [Identity; 4] = [
        Identity::Browser,
        Identity::Code,
        Identity::Open,
        Identity::Passcode,
    ];

    /// What a created poll or event gets when its creator does not say.
    pub const FOR_CREATED: Identity = Identity::Browser;

    /// `browser`, `code`, `open` or `passcode`, as the schema, the stream and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            Identity::Browser => "browser",
            Identity::Code => "code",
            Identity::Open => "open",
            Identity::Passcode => "passcode",
        }
    }

    /// The identity spelled `name`, if any.
    pub fn from_name(name: &str) -> Option<Identity> {
        Identity::ALL
            .into_iter()
            .find(|identity| identity.name() == name)
    }

    /// Whether a ballot must bring a voter cookie from the poll's page.
    pub fn needs_voter_cookie(self) -> bool {
        matches!(self, Identity::Browser | Identity::Passcode)
    }
}

/// The one-line error for an identity nobody knows, listing the ones there are.
pub fn unknown_identity(name: &str) -> String {
    let known: Vec<&str> = Identity::ALL.iter().map(|i| i.name()).collect();
    let shown: String = name.chars().take(40).collect();
    format!(
        "identity {shown:?} is not one of: {} (browser: one ballot per browser, the \
         default; code: one ballot per voter code; open: anyone, any number of times; \
         passcode: the room's passcode, then one ballot per browser)",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named() {
        for identity in Identity::ALL {
            assert_eq!(Identity::from_name(identity.name()), Some(identity));
            let json = serde_json::to_string(&identity).expect("json");
            assert_eq!(json, format!("\"{}\"", identity.name()));
        }
        assert_eq!(Identity::from_name("Browser"), None);
        assert!(unknown_identity("codes")
            .contains("\"codes\" is not one of: browser, code, open, passcode"));
        assert!(Identity::Browser.needs_voter_cookie());
        assert!(Identity::Passcode.needs_voter_cookie());
        assert!(!Identity::Code.needs_voter_cookie());
        assert!(!Identity::Open.needs_voter_cookie());
        assert_eq!(Identity::default(), Identity::Open);
        assert_eq!(Identity::FOR_CREATED, Identity::Browser);
    }
}
