//! Events in the result service against real Redis and Postgres from the test kit: the
//! state as JSON (public, and the owner's question list), the Postgres fallback when
//! Redis has lost the event, join codes as typed, the audience page with and without a
//! current question, its QR code, and the live feed that follows the presenter.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use support::{next_close, next_json, redis_connection, Service, Socket};
use tally_model::admin_token::hash_token;
use tally_model::event::{EventDefinition, EventQuestion};
use tally_model::{Choice, STORE_RESULTS_LUA};
use tally_testkit::{shared_postgres, shared_redis};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const ID: &str = "Ev3nt00001";
const CODE: &str = "01234567";
const OWNER: &str = "the-owner-token";
const FIRST: &str = "Qu3st10n01";
const SECOND: &str = "Qu3st10n02";

/// An event of two questions in Postgres, as the worker commits it (nothing shown yet).
async fn seeded_database() -> String {
    let database = shared_postgres().fresh_database().await;
    let (mut client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    tally_worker::migrate::migrate(&mut client).await.unwrap();
    let seed = format!(
        "INSERT INTO events (id, code, title, owner_hash, version)
              VALUES ('{ID}', '{CODE}', 'All hands', '{hash}', 1);
         INSERT INTO polls (id, question, choice, ballots, version, event_id, event_position)
              VALUES ('{FIRST}', 'Lunch?', 'single', 3, 3, '{ID}', 0),
                     ('{SECOND}', 'Drinks?', 'multiple', 0, 1, '{ID}', 1);
         INSERT INTO poll_options (poll_id, id, label, position)
              VALUES ('{FIRST}', 'a', 'Soup', 0), ('{FIRST}', 'b', 'Salad', 1),
                     ('{SECOND}', 'a', 'Tea', 0), ('{SECOND}', 'b', 'Coffee', 1);
         INSERT INTO tallies (poll_id, option_id, votes)
              VALUES ('{FIRST}', 'a', 2), ('{FIRST}', 'b', 1),
                     ('{SECOND}', 'a', 0), ('{SECOND}', 'b', 0);",
        hash = hash_token(OWNER)
    );
    client.batch_execute(&seed).await.unwrap();
    database.reader_url()
}

/// The event's definition at `version`, showing `current`.
fn definition(version: i64, current: Option<usize>) -> EventDefinition {
    let question = |poll: &str, text: &str, choice| EventQuestion {
        poll: poll.into(),
        question: text.into(),
        choice,
        scale: None,
        hidden_words: Vec::new(),
        shown: false,
        words: None,
    };
    EventDefinition {
        id: ID.into(),
        code: CODE.into(),
        title: "All hands".into(),
        owner_hash: hash_token(OWNER),
        questions: vec![
            question(FIRST, "Lunch?", Choice::Single),
            question(SECOND, "Drinks?", Choice::Multiple),
        ],
        current,
        results_visible: true,
        locked: false,
        participants: version,
        version,
        blocked_words: Vec::new(),
    }
}

/// Writes and publishes `definition` as the worker does after a commit.
async fn publish_event(service: &Service, definition: &EventDefinition) {
    let mut redis = redis_connection(&service.redis_url).await.unwrap();
    let _: i64 = redis::Script::new(STORE_RESULTS_LUA)
        .key(service.keys.event_definition(ID))
        .arg(definition.version)
        .arg(serde_json::to_string(definition).unwrap())
        .arg("1")
        .arg(service.keys.event_channel(ID))
        .invoke_async(&mut redis)
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(service.keys.event_code(CODE))
        .arg(ID)
        .query_async(&mut redis)
        .await
        .unwrap();
}

/// A results document of question `poll` at `version`, `votes` for its option `a`.
fn results(poll: &str, version: i64, votes: i64) -> Value {
    json!({
        "poll": poll, "question": "Q?", "choice": "single", "event": ID,
        "options": [{"id": "a", "label": "A", "votes": votes}, {"id": "b", "label": "B", "votes": 0}],
        "total": votes, "updated_at": "2026-01-01T00:00:00.000Z", "version": version,
    })
}

async fn start() -> Service {
    let database = seeded_database().await;
    let service = Service::start(&shared_redis().url(), &database, &[]).await;
    publish_event(&service, &definition(1, None)).await;
    service
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
}

async fn send(service: &Service, method: Method, path: &str, token: Option<&str>) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", service.address));
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

async fn get(service: &Service, path: &str) -> Reply {
    send(service, Method::GET, path, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_is_public_and_the_question_list_is_the_owners() {
    let service = start().await;
    let path = format!("/events/{CODE}");

    let public = get(&service, &path).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.headers[header::CACHE_CONTROL], "no-store");
    let state = public.json();
    assert_eq!(state["code"], CODE);
    assert_eq!(state["title"], "All hands");
    assert_eq!(state["questions"], 2);
    assert_eq!(state["current"], Value::Null);
    assert!(state.get("questions_list").is_none(), "{state}");
    assert!(!public.text().contains("owner"), "{}", public.text());

    let owner = send(&service, Method::GET, &path, Some(OWNER)).await;
    assert_eq!(owner.status, StatusCode::OK);
    let list = &owner.json()["questions_list"];
    assert_eq!(list[0]["poll"], FIRST);
    assert_eq!(list[1]["question"], "Drinks?");
    assert_eq!(list[1]["choice"], "multiple");

    let stranger = send(&service, Method::GET, &path, Some("not-the-token")).await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);
    assert!(stranger.json()["error"].as_str().unwrap().contains(CODE));

    let head = send(&service, Method::HEAD, &path, None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(
        head.headers[header::CONTENT_LENGTH],
        public.body.len().to_string()
    );

    let post = send(&service, Method::POST, &path, None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers[header::ALLOW], "GET, HEAD");

    let unknown = get(&service, "/events/99999999").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.json()["error"]
        .as_str()
        .unwrap()
        .contains("99999999"));
    for hostile in ["/events/0123456", "/events/abcdefgh", "/events/%30123456"] {
        let reply = get(&service, hostile).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{hostile}");
        assert!(reply.json()["error"].is_string(), "{hostile}");
    }

    publish_event(&service, &definition(2, Some(1))).await;
    let shown = get(&service, &path).await.json();
    assert_eq!(shown["current"]["position"], 1);
    assert_eq!(shown["current"]["poll"], SECOND);
    assert_eq!(shown["current"]["question"], "Drinks?");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_answers_when_redis_has_lost_the_event() {
    let service = start().await;
    let mut redis = redis_connection(&service.redis_url).await.unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(service.keys.event_definition(ID))
        .arg(service.keys.event_code(CODE))
        .query_async(&mut redis)
        .await
        .unwrap();

    let path = format!("/events/{CODE}");
    let public = get(&service, &path).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text());
    let state = public.json();
    assert_eq!(state["title"], "All hands");
    assert_eq!(state["questions"], 2);
    assert_eq!(state["version"], 1);

    // The read-only role cannot see the owner's hash: the owner is asked to retry.
    let owner = send(&service, Method::GET, &path, Some(OWNER)).await;
    assert_eq!(owner.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(owner.headers[header::RETRY_AFTER], "2");
    assert_eq!(
        get(&service, "/events/99999999").await.status,
        StatusCode::NOT_FOUND
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_codes_are_tidied_and_sent_on() {
    let service = start().await;
    for path in [
        "/j/01234567",
        "/j/0123%204567",
        "/j/0123-4567",
        "/j?code=0123+4567",
        "/j?code=0123.4567",
    ] {
        let reply = get(&service, path).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(reply.headers[header::LOCATION], "/e/01234567", "{path}");
    }

    let form = get(&service, "/j").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text().contains(r#"action="/j""#));

    let unknown = get(&service, "/j/9999-9999").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text().contains("No event has this code"));
    assert!(unknown.text().contains(r#"value="9999-9999""#));

    for typed in ["/j?code=123", "/j/abcdefgh", "/j?code=%3Cscript%3E"] {
        let reply = get(&service, typed).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{typed}");
        assert!(reply.text().contains("8 digits"), "{typed}");
        assert!(!reply.text().contains("<script>"), "{typed}");
    }
    assert_eq!(
        send(&service, Method::POST, "/j/01234567", None)
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audience_page_shows_the_question_the_presenter_shows() {
    let service = start().await;
    let path = format!("/e/{CODE}");

    let waiting = get(&service, &path).await;
    assert_eq!(waiting.status, StatusCode::OK);
    assert_eq!(
        waiting.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(waiting.text().contains("Waiting for the presenter"));
    assert!(!waiting.text().contains("<form id=\"ballot\""));

    publish_event(&service, &definition(2, Some(0))).await;
    let page = get(&service, &path).await;
    let html = page.text();
    assert!(html.contains(&format!(r#"data-poll="{FIRST}""#)), "{html}");
    assert!(html.contains("Lunch?"));
    assert!(html.contains(&format!(
        r#"<input type="hidden" name="poll" value="{FIRST}">"#
    )));
    assert!(html.contains("2 votes"), "counts from Postgres: {html}");

    let mut locked = definition(3, Some(0));
    locked.locked = true;
    publish_event(&service, &locked).await;
    let html = get(&service, &path).await.text();
    assert!(!html.contains("<form id=\"ballot\""), "{html}");
    assert!(html.contains("locked this event"));

    let qr = get(&service, &format!("{path}/qr.svg")).await;
    assert_eq!(qr.status, StatusCode::OK);
    assert_eq!(qr.headers[header::CONTENT_TYPE], "image/svg+xml");
    assert!(qr.text().starts_with("<?xml") || qr.text().starts_with("<svg"));

    let unknown = get(&service, "/e/99999999").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text().contains("No event has this code"));
    assert_eq!(
        get(&service, "/e/99999999/qr.svg").await.status,
        StatusCode::NOT_FOUND
    );
    let head = send(&service, Method::HEAD, &path, None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    service.stop().await;
}

/// The next frame, which must be of `kind`.
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    let frame = next_json(socket).await;
    assert_eq!(frame["type"], kind, "{frame}");
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_follows_the_presenter() {
    let service = start().await;
    let mut socket = service.connect_path(&format!("/live/e/{CODE}")).await;
    let first = next_of(&mut socket, "event").await;
    assert_eq!(first["event"]["current"], Value::Null);
    assert_eq!(first["event"]["version"], 1);
    assert!(first["event"].get("owner_hash").is_none(), "{first}");

    // The presenter shows the first question: its state, then its results snapshot.
    publish_event(&service, &definition(2, Some(0))).await;
    let shown = next_of(&mut socket, "event").await;
    assert_eq!(shown["event"]["current"]["poll"], FIRST);
    let snapshot = next_of(&mut socket, "results").await;
    assert_eq!(snapshot["results"]["poll"], FIRST);
    assert_eq!(snapshot["results"]["total"], 3);

    // Its results move; a question not shown is not sent.
    service.publish(&results(SECOND, 5, 9)).await;
    service.publish(&results(FIRST, 4, 7)).await;
    let moved = next_of(&mut socket, "results").await;
    assert_eq!(moved["results"]["poll"], FIRST);
    assert_eq!(moved["results"]["version"], 4);

    // A participant joining changes the state but not the question: no results again.
    publish_event(&service, &definition(3, Some(0))).await;
    let joined = next_of(&mut socket, "event").await;
    assert_eq!(joined["event"]["participants"], 3);

    // Next: the second question and its snapshot, then its own updates.
    publish_event(&service, &definition(4, Some(1))).await;
    let next = next_of(&mut socket, "event").await;
    assert_eq!(next["event"]["current"]["position"], 1);
    let second = next_of(&mut socket, "results").await;
    assert_eq!(second["results"]["poll"], SECOND);
    assert_eq!(second["results"]["version"], 5, "the cached document");
    service.publish(&results(SECOND, 6, 10)).await;
    assert_eq!(
        next_of(&mut socket, "results").await["results"]["version"],
        6
    );

    // A stale definition (an older version) is never sent.
    publish_event(&service, &definition(2, Some(0))).await;
    publish_event(&service, &definition(5, None)).await;
    let back = next_of(&mut socket, "event").await;
    assert_eq!(back["event"]["version"], 5);
    assert_eq!(back["event"]["current"], Value::Null);

    // A second phone joining now lands on the state as it is.
    let mut late = service.connect_path(&format!("/live/e/{CODE}")).await;
    assert_eq!(next_of(&mut late, "event").await["event"]["version"], 5);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_event_is_closed_with_4404() {
    let service = start().await;
    let mut socket = service.connect_path("/live/e/99999999").await;
    let (code, reason) = next_close(&mut socket).await;
    assert_eq!(code, CloseCode::Library(4404));
    assert_eq!(reason, "no such event");
    service.stop().await;
}
