//! Path routing: which requests go to the vote service, which to the result service
//! (its JSON and its live WebSocket feed), and which are static files. The defaults
//! match the app; rules from `EDGE_ROUTES` are tried first.

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
    pub const fn label(self) -> &'static str {
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

/// Every route's label, the edge's `route` label set in the HTTP metrics.
pub const LABELS: [&str; 3] = [
    Route::ALL[0].label(),
    Route::ALL[1].label(),
    Route::ALL[2].label(),
];

/// One configured rule, `[METHOD ]/prefix=vote|result|static`: requests (with that
/// method, if one is named) for the prefix itself or a path below it go to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    method: Option<Method>,
    prefix: String,
    target: Route,
}

/// Reads one [`RouteRule`] (`POST /=vote`, `/api/results=result`, `/vote=static`).
pub fn parse_rule(text: &str) -> Result<RouteRule, String> {
    let (matcher, target) = text
        .trim()
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not [METHOD ]/prefix=vote|result|static"))?;
    let target = match target.trim() {
        "vote" => Route::Vote,
        "result" => Route::Result,
        "static" => Route::Static,
        other => return Err(format!("{other:?} is not vote, result or static")),
    };
    let (method, prefix) = match matcher.trim().split_once(' ') {
        Some((method, prefix)) => {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("{method:?} is not a method"))?;
            (Some(method), prefix.trim())
        }
        None => (None, matcher.trim()),
    };
    let prefix = match prefix.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => prefix,
    };
    if !prefix.starts_with('/') || prefix.contains(['?', '#', ' ', '%']) || prefix.contains("..") {
        return Err(format!("{prefix:?} is not a path prefix"));
    }
    Ok(RouteRule {
        method,
        prefix: prefix.to_owned(),
        target,
    })
}

/// The routing table: the configured rules in order (the first that matches wins),
/// then the defaults of [`route`].
#[derive(Debug, Clone, Default)]
pub struct Routes {
    rules: Vec<RouteRule>,
}

impl Routes {
    /// The defaults, overridden by `rules`.
    pub fn new(rules: Vec<RouteRule>) -> Self {
        Routes { rules }
    }

    /// The route for `method` and `path`.
    pub fn route(&self, method: &Method, path: &str) -> Route {
        self.rules
            .iter()
            .find(|rule| {
                rule.method.as_ref().is_none_or(|m| m == method) && under(path, &rule.prefix)
            })
            .map_or_else(|| route(method, path), |rule| rule.target)
    }
}

/// Where a poll's pages live: `/p/<id>` (rendered by the result service so that it works
/// without JavaScript), `/p/<id>/qr.svg`, and the static `/p/<id>/live` and `/p/<id>/admin`.
const POLL_PAGES: &str = "/p/";

/// Where an event's pages live: `/e/<code>` and `/e/<code>/qr.svg` (rendered by the
/// result service), and the static `/e/<code>/present` and `/e/<code>/screen`.
const EVENT_PAGES: &str = "/e/";

/// Creating events and the presenter's commands (`POST`, the vote service); any other
/// method reads an event's public state (`GET /events/<code>`, the result service).
const EVENTS: &str = "/events";

/// The join page (`/j`, a form for the code) and its short link `/j/<code>`.
const JOIN: &str = "/j";

/// The route for `method` and `path`. `POST /` is the classic voting app's form post, so
/// it goes to the vote service; every other method on `/` is the front page. `/live` is
/// the result service's WebSocket feed; a poll's page and its QR code come from the
/// result service too. Under `/events`, a `POST` is a command for the vote service and
/// anything else a read for the result service; the join page and an event's audience
/// page and QR code are rendered by the result service.
pub fn route(method: &Method, path: &str) -> Route {
    let vote = (method == Method::POST && (path == "/" || under(path, EVENTS)))
        || under(path, "/vote")
        || under(path, "/polls");
    if vote {
        Route::Vote
    } else if under(path, "/results")
        || under(path, "/live")
        || under(path, EVENTS)
        || rendered_poll_page(path)
        || join_page(path)
        || rendered_event_page(path)
    {
        Route::Result
    } else {
        Route::Static
    }
}

/// The file that serves a static route whose path is not a file name: a poll's live and
/// admin pages (one page for every poll; the script reads the id from the address),
/// an event's presenter and screen pages (likewise), `/new` and `/new-event`.
pub fn static_alias(path: &str) -> Option<&'static str> {
    match path {
        "/new" => return Some("/new.html"),
        "/new-event" => return Some("/new-event.html"),
        _ => {}
    }
    match page_of(EVENT_PAGES, path) {
        Some((_, Some("present"))) => return Some("/present.html"),
        Some((_, Some("screen"))) => return Some("/screen.html"),
        _ => {}
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

/// Whether `path` is an event page the result service renders: `/e/<code>` or its QR
/// code.
fn rendered_event_page(path: &str) -> bool {
    matches!(page_of(EVENT_PAGES, path), Some((_, None | Some("qr.svg"))))
}

/// Whether `path` is the join page `/j` or a join link `/j/<code>`.
fn join_page(path: &str) -> bool {
    path == JOIN || matches!(page_of("/j/", path), Some((_, None)))
}

/// `/p/<id>` → `(id, None)`, `/p/<id>/<page>` → `(id, Some(page))`; `None` for anything
/// else, including an empty id or deeper paths.
fn poll_page(path: &str) -> Option<(&str, Option<&str>)> {
    page_of(POLL_PAGES, path)
}

/// [`poll_page`] for the pages under any `pages` prefix (ending in `/`).
fn page_of<'a>(pages: &str, path: &'a str) -> Option<(&'a str, Option<&'a str>)> {
    let rest = path.strip_prefix(pages)?;
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
            (Method::POST, "/events", Route::Vote),
            (Method::POST, "/events/12345678/next", Route::Vote),
            (Method::POST, "/events/12345678/show", Route::Vote),
            (Method::GET, "/events", Route::Result),
            (Method::GET, "/events/12345678", Route::Result),
            (Method::HEAD, "/events/12345678", Route::Result),
            (Method::PUT, "/events/12345678/next", Route::Result),
            (Method::POST, "/eventsx", Route::Static),
            (Method::GET, "/events.html", Route::Static),
            (Method::GET, "/j", Route::Result),
            (Method::GET, "/j/12345678", Route::Result),
            (Method::POST, "/j", Route::Result),
            (Method::GET, "/j/", Route::Static),
            (Method::GET, "/j/12345678/x", Route::Static),
            (Method::GET, "/join.js", Route::Static),
            (Method::GET, "/e/12345678", Route::Result),
            (Method::GET, "/e/12345678/qr.svg", Route::Result),
            (Method::GET, "/e/12345678/present", Route::Static),
            (Method::GET, "/e/12345678/screen", Route::Static),
            (Method::GET, "/e/", Route::Static),
            (Method::GET, "/e/1/2/3", Route::Static),
            (Method::GET, "/event.css", Route::Static),
            (Method::GET, "/new-event", Route::Static),
            (Method::GET, "/live/event/12345678", Route::Result),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn configured_rules_come_first() {
        let rules = [
            "/api/tally=vote",
            "GET /vote/help=static",
            "POST /=static",
            "/results/=static",
        ]
        .map(|rule| parse_rule(rule).expect(rule));
        let routes = Routes::new(rules.to_vec());
        assert_eq!(routes.route(&Method::POST, "/api/tally"), Route::Vote);
        assert_eq!(routes.route(&Method::GET, "/api/tally/x"), Route::Vote);
        assert_eq!(routes.route(&Method::GET, "/api/tallyx"), Route::Static);
        assert_eq!(routes.route(&Method::GET, "/vote/help"), Route::Static);
        assert_eq!(
            routes.route(&Method::POST, "/vote/help"),
            Route::Vote,
            "method-bound"
        );
        assert_eq!(routes.route(&Method::POST, "/"), Route::Static);
        assert_eq!(
            routes.route(&Method::GET, "/results/x"),
            Route::Static,
            "trailing / ignored"
        );
        assert_eq!(
            routes.route(&Method::GET, "/live/x"),
            Route::Result,
            "defaults remain"
        );
        assert_eq!(Routes::default().route(&Method::POST, "/"), Route::Vote);
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in [
            "",
            "/vote",
            "/vote=db",
            "vote=vote",
            "/a/../b=vote",
            "/a%2f=vote",
            "B@D /a=vote",
            "/a?x=vote",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_rule(" post /polls/ = vote ").expect("spaces"),
            RouteRule {
                method: Some(Method::POST),
                prefix: "/polls".into(),
                target: Route::Vote
            }
        );
    }

    #[test]
    fn poll_pages_share_one_static_file_each() {
        assert_eq!(static_alias("/p/x7Kq2/live"), Some("/live.html"));
        assert_eq!(static_alias("/p/x7Kq2/admin"), Some("/admin.html"));
        assert_eq!(static_alias("/new"), Some("/new.html"));
        assert_eq!(static_alias("/new-event"), Some("/new-event.html"));
        assert_eq!(static_alias("/e/12345678/present"), Some("/present.html"));
        assert_eq!(static_alias("/e/12345678/screen"), Some("/screen.html"));
        for path in [
            "/e/12345678",
            "/e/12345678/qr.svg",
            "/e//present",
            "/e/12345678/present/x",
            "/e/12345678/other",
            "/new-event/",
            "/j/12345678",
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
