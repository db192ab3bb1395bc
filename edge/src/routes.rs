//! Path routing: which requests go to the vote service, which to the result service
//! (its JSON and its live WebSocket feed), and which are static files.

use http::Method;

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The vote service.
    Vote,
    /// The result service.
    Result,
    /// A file from the www directory.
    Static,
}

impl Route {
    /// Every route, in [`Route::index`] order.
    pub const ALL: [Route; 3] = [Route::Vote, Route::Result, Route::Static];

    /// The route's name in logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Route::Vote => "vote",
            Route::Result => "result",
            Route::Static => "static",
        }
    }

    /// The route's position in [`Route::ALL`], for per-route counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where a poll's pages live: `/p/<id>` (rendered by the result service so that it works
/// without JavaScript), `/p/<id>/qr.svg`, and the static `/p/<id>/live` and `/p/<id>/admin`.
const POLL_PAGES: &str = "/p/";

/// The route for `method` and `path`. `POST /` is the classic voting app's form post, so
/// it goes to the vote service; every other method on `/` is the front page. `/live` is
/// the result service's WebSocket feed; a poll's page and its QR code come from the
/// result service too.
pub fn route(method: &Method, path: &str) -> Route {
    if (method == Method::POST && path == "/") || under(path, "/vote") || under(path, "/polls") {
        Route::Vote
    } else if under(path, "/results") || under(path, "/live") || rendered_poll_page(path) {
        Route::Result
    } else {
        Route::Static
    }
}

/// The file that serves a static route whose path is not a file name: a poll's live and
/// admin pages (one page for every poll; the script reads the id from the address) and
/// `/new`.
pub fn static_alias(path: &str) -> Option<&'static str> {
    if path == "/new" {
        return Some("/new.html");
    }
    match poll_page(path)? {
        (_, Some("live")) => Some("/live.html"),
        (_, Some("admin")) => Some("/admin.html"),
        _ => None,
    }
}

/// Whether `path` is a poll page the result service renders: `/p/<id>` or its QR code.
fn rendered_poll_page(path: &str) -> bool {
    matches!(poll_page(path), Some((_, None | Some("qr.svg"))))
}

/// `/p/<id>` → `(id, None)`, `/p/<id>/<page>` → `(id, Some(page))`; `None` for anything
/// else, including an empty id or deeper paths.
fn poll_page(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix(POLL_PAGES)?;
    let (id, page) = match rest.split_once('/') {
        Some((id, page)) if !page.contains('/') => (id, Some(page)),
        Some(_) => return None,
        None => (rest, None),
    };
    (!id.is_empty()).then_some((id, page))
}

/// Whether `path` is `prefix` itself or a path below it (`/results.html` is not below
/// `/results`).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_table() {
        let cases = [
            (Method::POST, "/", Route::Vote),
            (Method::GET, "/", Route::Static),
            (Method::HEAD, "/", Route::Static),
            (Method::POST, "/vote", Route::Vote),
            (Method::GET, "/vote", Route::Vote),
            (Method::POST, "/vote/lunch", Route::Vote),
            (Method::POST, "/voter", Route::Static),
            (Method::GET, "/vote.html", Route::Static),
            (Method::GET, "/results", Route::Result),
            (Method::GET, "/results/", Route::Result),
            (Method::GET, "/results/lunch", Route::Result),
            (Method::DELETE, "/results/lunch", Route::Result),
            (Method::GET, "/results.html", Route::Static),
            (Method::GET, "/resultsx", Route::Static),
            (Method::GET, "/style.css", Route::Static),
            (Method::POST, "/index.html", Route::Static),
            (Method::POST, "/polls", Route::Vote),
            (Method::GET, "/polls/lunch", Route::Vote),
            (Method::GET, "/pollster", Route::Static),
            (Method::GET, "/live", Route::Result),
            (Method::GET, "/live/default", Route::Result),
            (Method::GET, "/lively.html", Route::Static),
            (Method::GET, "/p/x7Kq2", Route::Result),
            (Method::HEAD, "/p/x7Kq2", Route::Result),
            (Method::GET, "/p/x7Kq2/qr.svg", Route::Result),
            (Method::GET, "/p/x7Kq2/live", Route::Static),
            (Method::GET, "/p/x7Kq2/admin", Route::Static),
            (Method::GET, "/p/", Route::Static),
            (Method::GET, "/p/a/b/c", Route::Static),
            (Method::GET, "/pages", Route::Static),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn poll_pages_share_one_static_file_each() {
        assert_eq!(static_alias("/p/x7Kq2/live"), Some("/live.html"));
        assert_eq!(static_alias("/p/x7Kq2/admin"), Some("/admin.html"));
        assert_eq!(static_alias("/new"), Some("/new.html"));
        for path in [
            "/p/x7Kq2",
            "/p//live",
            "/p/x/live/more",
            "/p/x/other",
            "/",
            "/new/",
        ] {
            assert_eq!(static_alias(path), None, "{path}");
        }
    }

    #[test]
    fn indexes_follow_all() {
        for (position, route) in Route::ALL.into_iter().enumerate() {
            assert_eq!(route.index(), position, "{}", route.label());
        }
    }
}
