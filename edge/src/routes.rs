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

/// The route for `method` and `path`. `POST /` is the classic voting app's form post, so
/// it goes to the vote service; every other method on `/` is the front page. `/live` is
/// the result service's WebSocket feed.
pub fn route(method: &Method, path: &str) -> Route {
    if (method == Method::POST && path == "/") || under(path, "/vote") || under(path, "/polls") {
        Route::Vote
    } else if under(path, "/results") || under(path, "/live") {
        Route::Result
    } else {
        Route::Static
    }
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
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn indexes_follow_all() {
        for (position, route) in Route::ALL.into_iter().enumerate() {
            assert_eq!(route.index(), position, "{}", route.label());
        }
    }
}
