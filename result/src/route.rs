//! The result service's one route: which poll a path asks for.

use tally_model::poll::is_valid_poll_id;
use tally_model::DEFAULT_POLL_ID;

/// The path of the default poll's results; `/results/<poll>` names any other.
pub const RESULTS_PATH: &str = "/results";

/// The poll whose results `path` asks for, or `None` when the path is not a results
/// path or names a poll id that cannot exist (so it is never looked up).
pub fn poll_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(RESULTS_PATH)?;
    if rest.is_empty() {
        return Some(DEFAULT_POLL_ID);
    }
    let poll = rest.strip_prefix('/')?;
    is_valid_poll_id(poll).then_some(poll)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_path_is_the_default_poll() {
        assert_eq!(poll_of("/results"), Some("default"));
    }

    #[test]
    fn poll_ids_follow_the_schema() {
        assert_eq!(poll_of("/results/lunch-2_B"), Some("lunch-2_B"));
        let longest = format!("/results/{}", "p".repeat(64));
        assert_eq!(poll_of(&longest), Some("p".repeat(64).as_str()));
    }

    #[test]
    fn everything_else_is_no_route() {
        for path in [
            "/",
            "/results/",
            "/resultsx",
            "/results.html",
            "/results/a/b",
            "/results/a.b",
            "/results/%2e%2e",
            "/results/..",
            "/results/caf\u{e9}",
            &format!("/results/{}", "p".repeat(65)),
        ] {
            assert_eq!(poll_of(path), None, "{path}");
        }
    }
}
