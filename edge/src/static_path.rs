//! Turning a request path into the key of a loaded file: percent-decoded, and anything
//! that could step outside the www directory refused outright.

use percent_encoding::percent_decode_str;

/// The file a directory path stands for.
pub const INDEX: &str = "index.html";

/// The decoded, checked form of `path` (`/` and paths ending in `/` name the directory's
/// `index.html`), or `None` when it is not a path a static file could have: not UTF-8
/// once decoded, or holding a NUL, a backslash, or an empty, `.` or `..` segment.
pub fn file_key(path: &str) -> Option<String> {
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let rest = decoded.strip_prefix('/')?;
    if decoded.contains(['\0', '\\']) {
        return None;
    }
    let (directory, file) = match rest.rsplit_once('/') {
        Some((directory, file)) => (Some(directory), file),
        None => (None, rest),
    };
    let segments_ok = directory
        .map(|directory| directory.split('/').all(is_plain_segment))
        .unwrap_or(true);
    if !segments_ok || file == "." || file == ".." {
        return None;
    }
    if file.is_empty() {
        return Some(format!("{decoded}{INDEX}"));
    }
    Some(decoded.into_owned())
}

fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty() && segment != "." && segment != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_map_to_themselves() {
        assert_eq!(file_key("/style.css").as_deref(), Some("/style.css"));
        assert_eq!(file_key("/img/logo.png").as_deref(), Some("/img/logo.png"));
    }

    #[test]
    fn directories_mean_their_index() {
        assert_eq!(file_key("/").as_deref(), Some("/index.html"));
        assert_eq!(file_key("/docs/").as_deref(), Some("/docs/index.html"));
    }

    #[test]
    fn percent_encoding_is_decoded() {
        assert_eq!(
            file_key("/my%20page.html").as_deref(),
            Some("/my page.html")
        );
    }

    #[test]
    fn traversal_and_oddities_are_refused() {
        for path in [
            "/..",
            "/../etc/passwd",
            "/%2e%2e",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2fetc%2fpasswd",
            "/a/../b",
            "/a/%2e%2e/b",
            "/./a",
            "/a//b",
            "/a%00b",
            "/a%5cb",
            "/a\\b",
            "/%ff",
            "relative",
            "",
        ] {
            assert_eq!(file_key(path), None, "{path}");
        }
    }
}
