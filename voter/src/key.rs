//! The key that signs voter cookies: at least 32 bytes, given as a value or (better) a
//! file, and never the public development key where voters on other machines could
//! use it to forge voter ids.

use std::net::IpAddr;
use std::path::Path;

/// The development key: signs cookies when no key is configured (with a warning), and
/// is the content of compose.yaml's default key file. It is public (it is in this
/// repository), so [`CookieKeySource::load`] refuses it beyond loopback.
pub const DEV_COOKIE_KEY: &str = "tally-development-cookie-key-do-not-use-in-production";

/// Shortest key accepted: 256 bits of key for HMAC-SHA256 (RFC 2104 §3).
pub const MIN_COOKIE_KEY_BYTES: usize = 32;

/// Where one service's key comes from, with the names of its variables for errors.
#[derive(Debug, Clone)]
pub struct CookieKeySource<'a> {
    /// The key itself, if given as a value.
    pub value: Option<&'a str>,
    /// A file holding the key (its trailing newline ignored).
    pub file: Option<&'a Path>,
    /// The variables of the two (e.g. `VOTE_COOKIE_KEY`, `VOTE_COOKIE_KEY_FILE`).
    pub value_variable: &'static str,
    /// See [`CookieKeySource::value_variable`].
    pub file_variable: &'static str,
    /// Where voters reach the service: its listen address, or the address its stack is
    /// published on when only an edge faces voters.
    pub reachable_on: IpAddr,
    /// The operator allowed the public key anyway (a private network).
    pub allow_public: bool,
    /// The variable that allows it (e.g. `VOTE_ALLOW_PUBLIC_COOKIE_KEY`).
    pub allow_variable: &'static str,
}

/// Why a key cannot be used: the variable at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    /// The variable to change.
    pub variable: &'static str,
    /// What is wrong with it, in one line.
    pub message: String,
}

impl CookieKeySource<'_> {
    /// The key: the value, else the file's content, else the development key; refused
    /// when shorter than [`MIN_COOKIE_KEY_BYTES`], or when it is the public key and
    /// voters can reach the service from other machines (unless allowed).
    pub fn load(&self) -> Result<Vec<u8>, KeyProblem> {
        let (key, variable) = match (self.value, self.file) {
            (Some(value), _) => (value.as_bytes().to_vec(), self.value_variable),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|error| KeyProblem {
                    variable: self.file_variable,
                    message: format!("cannot read {}: {error}", path.display()),
                })?;
                let key = text.trim_end_matches(['\n', '\r']).as_bytes().to_vec();
                (key, self.file_variable)
            }
            (None, None) => (DEV_COOKIE_KEY.as_bytes().to_vec(), self.file_variable),
        };
        if key.len() < MIN_COOKIE_KEY_BYTES {
            return Err(KeyProblem {
                variable,
                message: format!("the key must be at least {MIN_COOKIE_KEY_BYTES} bytes"),
            });
        }
        if is_public(&key) && !self.reachable_on.is_loopback() && !self.allow_public {
            return Err(KeyProblem {
                variable,
                message: format!(
                    "the public development key would sign voter cookies for voters on {}, and \
                     anyone can forge voter ids with it: give a file of 32 or more random bytes \
                     (head -c 48 /dev/urandom | base64), or set {}=true to try Tally out",
                    self.reachable_on, self.allow_variable
                ),
            });
        }
        Ok(key)
    }
}

/// Whether `key` is the public development key.
pub fn is_public(key: &[u8]) -> bool {
    key == DEV_COOKIE_KEY.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(reachable_on: &str) -> CookieKeySource<'static> {
        CookieKeySource {
            value: None,
            file: None,
            value_variable: "X_COOKIE_KEY",
            file_variable: "X_COOKIE_KEY_FILE",
            reachable_on: reachable_on.parse().expect("address"),
            allow_public: false,
            allow_variable: "X_ALLOW_PUBLIC_COOKIE_KEY",
        }
    }

    #[test]
    fn the_public_key_serves_loopback_only_unless_allowed() {
        assert_eq!(
            source("127.0.0.1").load().unwrap(),
            DEV_COOKIE_KEY.as_bytes()
        );
        assert!(source("::1").load().is_ok());
        let refused = source("0.0.0.0").load().unwrap_err();
        assert_eq!(refused.variable, "X_COOKIE_KEY_FILE");
        assert!(refused.message.contains("0.0.0.0"), "{}", refused.message);
        assert!(refused.message.contains("X_ALLOW_PUBLIC_COOKIE_KEY"));
        let by_value = CookieKeySource {
            value: Some(DEV_COOKIE_KEY),
            ..source("192.0.2.7")
        };
        assert_eq!(by_value.load().unwrap_err().variable, "X_COOKIE_KEY");
        let allowed = CookieKeySource {
            allow_public: true,
            ..source("0.0.0.0")
        };
        assert!(allowed.load().is_ok());
    }

    #[test]
    fn keys_of_ones_own_are_used_anywhere_and_short_ones_nowhere() {
        let own = "k".repeat(40);
        let given = CookieKeySource {
            value: Some(&own),
            ..source("0.0.0.0")
        };
        assert_eq!(given.load().unwrap(), own.as_bytes());
        let short = CookieKeySource {
            value: Some("short"),
            ..source("127.0.0.1")
        };
        assert_eq!(short.load().unwrap_err().variable, "X_COOKIE_KEY");
    }

    #[test]
    fn a_key_file_is_read_without_its_newline() {
        let path = std::env::temp_dir().join(format!("tally-voter-key-{}", std::process::id()));
        std::fs::write(&path, format!("{DEV_COOKIE_KEY}\n")).unwrap();
        let from_file = CookieKeySource {
            file: Some(&path),
            ..source("203.0.113.1")
        };
        // The public key in a file is still the public key.
        assert_eq!(from_file.load().unwrap_err().variable, "X_COOKIE_KEY_FILE");
        let missing = CookieKeySource {
            file: Some(Path::new("/nonexistent/key")),
            ..source("127.0.0.1")
        };
        assert!(missing.load().unwrap_err().message.contains("cannot read"));
        std::fs::remove_file(path).unwrap();
    }
}
