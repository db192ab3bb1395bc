//! The voter cookie: a random voter id signed with HMAC-SHA256, so nobody can pick
//! another voter's id. A cookie whose signature does not verify is treated as absent.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The cookie's name.
pub const VOTER_COOKIE: &str = "tally_voter";

/// Random bytes in a voter id: 128 bits, so ids never collide in practice.
const VOTER_ID_BYTES: usize = 16;

/// A year: voters keep their identity (and can change their vote) across visits.
pub(crate) const COOKIE_MAX_AGE_SECS: i64 = 365 * 24 * 60 * 60;

/// Domain separation for the MAC, so a signature made here means nothing elsewhere.
const MAC_CONTEXT: &[u8] = b"tally voter v1:";

/// Domain separation for a voter code's voter id: never equal to a cookie's signature.
const CODE_CONTEXT: &[u8] = b"tally code voter v1:";

/// Characters of the MAC in a code's voter id: 126 bits, the length of a cookie's id.
const CODE_VOTER_TAG_CHARS: usize = 21;

/// Signs and verifies voter cookies with one key.
#[derive(Clone)]
pub struct VoterSigner {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for VoterSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VoterSigner { key: <secret> }")
    }
}

impl VoterSigner {
    /// A signer for `key` (any length; HMAC accepts all).
    pub fn new(key: &[u8]) -> Self {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        VoterSigner { mac }
    }

    /// A fresh random voter id.
    pub fn new_voter_id() -> String {
        let mut bytes = [0u8; VOTER_ID_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The voter id of whoever holds voter `code` of `poll`: the same for every ballot
    /// with that code, unlike any cookie's (a `c` then 21 characters of a MAC under this
    /// key), and not to be worked back to the code by whoever reads the ballots.
    pub fn code_voter(&self, poll: &str, code: &str) -> String {
        let mac = self.mac_of(CODE_CONTEXT, &[poll.as_bytes(), b":", code.as_bytes()]);
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("c{}", &tag[..CODE_VOTER_TAG_CHARS])
    }

    /// The cookie value for `voter`: `<voter>.<signature>`.
    pub fn sign(&self, voter: &str) -> String {
        let mac = self.mac_of(MAC_CONTEXT, &[voter.as_bytes()]);
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{voter}.{signature}")
    }

    /// The voter id in `value` when its signature is right (compared in constant time).
    pub fn verify<'v>(&self, value: &'v str) -> Option<&'v str> {
        let (voter, signature) = value.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mac = self.mac_of(MAC_CONTEXT, &[voter.as_bytes()]);
        mac.verify_slice(&signature).ok()?;
        Some(voter)
    }

    /// This key's MAC over `context` then `parts`, not yet finalised.
    fn mac_of(&self, context: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(context);
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// The verified voter id among a request's `Cookie` headers.
    pub fn voter_from_headers<'h>(&self, headers: &'h http::HeaderMap) -> Option<&'h str> {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == VOTER_COOKIE)
            .find_map(|(_, value)| self.verify(value))
    }

    /// The `Set-Cookie` value that gives a browser its voter id.
    pub fn set_cookie(&self, voter: &str, secure: bool) -> String {
        Cookie::build((VOTER_COOKIE, self.sign(voter)))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .max_age(cookie::time::Duration::seconds(COOKIE_MAX_AGE_SECS))
            .build()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codes_voter_is_stable_per_poll_and_key() {
        let signer = VoterSigner::new(b"k");
        let voter = signer.code_voter("aB3dE5gH9k", "K7P2Q9XQ4B");
        assert_eq!(voter.len(), 22);
        assert_eq!(voter, signer.code_voter("aB3dE5gH9k", "K7P2Q9XQ4B"));
        assert_ne!(voter, signer.code_voter("zB3dE5gH9k", "K7P2Q9XQ4B"));
        assert_ne!(
            voter,
            VoterSigner::new(b"j").code_voter("aB3dE5gH9k", "K7P2Q9XQ4B")
        );
    }

    #[test]
    fn signed_voter_verifies() {
        let signer = VoterSigner::new(b"k1");
        let voter = VoterSigner::new_voter_id();
        assert_eq!(voter.len(), 22);
        assert_eq!(signer.verify(&signer.sign(&voter)), Some(voter.as_str()));
    }

    #[test]
    fn tampered_or_foreign_cookies_do_not_verify() {
        let signer = VoterSigner::new(b"k1");
        let value = signer.sign("alice");
        let (_, signature) = value.split_once('.').unwrap();
        assert_eq!(signer.verify(&format!("mallory.{signature}")), None);
        assert_eq!(VoterSigner::new(b"k2").verify(&value), None);
        for garbage in ["", "alice", "alice.", ".sig", "alice.!!!", "a.b.c"] {
            assert_eq!(signer.verify(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn finds_the_voter_among_other_cookies() {
        let signer = VoterSigner::new(b"k1");
        let mut headers = http::HeaderMap::new();
        let line = format!("theme=dark; {VOTER_COOKIE}={}; x=y", signer.sign("bob"));
        headers.insert(http::header::COOKIE, line.parse().unwrap());
        assert_eq!(signer.voter_from_headers(&headers), Some("bob"));
    }

    #[test]
    fn cookie_attributes_are_safe() {
        let signer = VoterSigner::new(b"k1");
        let plain = signer.set_cookie("bob", false);
        assert!(
            plain.contains("HttpOnly") && plain.contains("SameSite=Lax"),
            "{plain}"
        );
        assert!(!plain.contains("Secure"));
        assert!(signer.set_cookie("bob", true).contains("Secure"));
    }
}
