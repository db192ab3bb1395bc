//! The result service's results routes: which poll a path asks for, and in which form.

use tally_model::poll::is_valid_poll_id;
use tally_model::DEFAULT_POLL_ID;

/// The path of the default poll's results; `/results/<poll>` names any other.
pub const RESULTS_PATH: &str = "/results";

/// The last segment of the CSV export's path: `/results/<poll>/csv`.
pub const CSV_SUFFIX: &str = "/csv";

/// The last segment of the ballots export's path: `/results/<poll>/ballots`.
pub const BALLOTS_SUFFIX: &str = "/ballots";

/// The form results are asked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The results document (`/results/<poll>`).
    Json,
    /// The admin's CSV export (`/results/<poll>/csv`).
    Csv,
    /// The admin's CSV export of every ballot, without voters (`/results/<poll>/ballots`).
    Ballots,
}

impl Format {
    /// Whether only the admin token's holder may ask for it.
    pub fn is_export(self) -> bool {
        matches!(self, Format::Csv | Format::Ballots)
    }
}

/// The poll whose results `path` asks for, or `None` when the path is not a results
/// path or names a poll id that cannot exist (so it is never looked up).
pub fn poll_of(path: &str) -> Option<&str> {
    match route_of(path)? {
        (poll, Format::Json) => Some(poll),
        (_, Format::Csv | Format::Ballots) => None,
    }
}

/// The poll and format `path` asks for; `None` as for [`poll_of`].
pub fn route_of(path: &str) -> Option<(&str, Format)> {
    let rest = path.strip_prefix(RESULTS_PATH)?;
    if rest.is_empty() {
        return Some((DEFAULT_POLL_ID, Format::Json));
    }
    let rest = rest.strip_prefix('/')?;
    let (poll, format) = if let Some(poll) = rest.strip_suffix(CSV_SUFFIX) {
        (poll, Format::Csv)
    } else if let Some(poll) = rest.strip_suffix(BALLOTS_SUFFIX) {
        (poll, Format::Ballots)
    } else {
        (rest, Format::Json)
    };
    is_valid_poll_id(poll).then_some((poll, format))
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
    fn csv_is_a_route_of_its_own() {
        assert_eq!(route_of("/results/lunch/csv"), Some(("lunch", Format::Csv)));
        assert_eq!(
            route_of("/results/lunch/ballots"),
            Some(("lunch", Format::Ballots))
        );
        assert_eq!(poll_of("/results/lunch/ballots"), None);
        assert_eq!(route_of("/results/lunch"), Some(("lunch", Format::Json)));
        assert_eq!(route_of("/results/csv"), Some(("csv", Format::Json)));
        assert_eq!(poll_of("/results/lunch/csv"), None);
        for path in [
            "/results/csv/",
            "/results//csv",
            "/results/a/csv/x",
            "/results/a.b/csv",
        ] {
            assert_eq!(route_of(path), None, "{path}");
        }
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
