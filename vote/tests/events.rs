//! Events against the real vote service and a real Redis: creation (JSON and a browser's
//! form), the join code reserved before the entry is appended, every presenter command
//! and the entry it appends, next/previous from the stored definition, the owner token,
//! ballots on current, not-current and locked questions, and a matrix of bad input that
//! each gets a clear JSON error and appends nothing.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use http::{header, HeaderMap, Method};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use serde_json::{json, Value};
use tally_model::admin_token::hash_token;
use tally_model::event::EventQuestion;
use tally_model::{
    Choice, EventAction, EventCommandEntry, EventDefinition, Keys, PollDefinition, PollOption,
    StatusEntry, StreamEntry,
};
use tally_runtime::exposition::{scrape, value};
use tally_runtime::Ports;
use tally_testkit::{shared_redis, unique_prefix, InProcess};

const KEY: &str = "events-test-cookie-key-0123456789abcdef";
const TOKEN: &str = "the-owner-token";
const CODE: &str = "04812345";
const EVENT: &str = "eV3nt00001";
const POLLS: [&str; 3] = ["Qu3st10n00", "Qu3st10n01", "Qu3st10n02"];
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// A vote service on free ports over its own key prefix, and a connection to its Redis.
struct Harness {
    running: InProcess<tally_vote::StartError>,
    keys: Keys,
    redis: MultiplexedConnection,
}

/// What the service answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map_or("", |value| value.to_str().unwrap())
    }

    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

impl Harness {
    /// Poll and event definitions are cached for a minute, so that a test passing
    /// shows the copy that refuses a ballot is read again, not waited out.
    async fn start() -> Harness {
        Harness::start_with(&[]).await
    }

    /// [`Harness::start`] with more flags.
    async fn start_with(flags: &[&str]) -> Harness {
        let redis_url = shared_redis().url();
        let keys = Keys::new(unique_prefix());
        let mut args = vec![
            "tally-vote",
            "--redis-url",
            &redis_url,
            "--redis-key-prefix",
            keys.prefix(),
            "--cookie-key",
            KEY,
            "--poll-cache-ttl",
            "60s",
            // The kit's Redis keeps no files.
            "--durability",
            "written",
        ];
        args.extend_from_slice(flags);
        let config = tally_vote::Config::try_parse_from(args).unwrap();
        let running = InProcess::start(|public, admin, stop| {
            tally_vote::run(
                Ports {
                    public,
                    admin: Some(admin),
                },
                config,
                stop,
            )
        })
        .await;
        let redis = redis::Client::open(redis_url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        Harness {
            running,
            keys,
            redis,
        }
    }

    fn address(&self) -> SocketAddr {
        self.running.public
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.address()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = client
            .request(request.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, path: &str, content_type: &str, body: impl Into<Bytes>) -> Answer {
        self.send(Method::POST, path, &[("content-type", content_type)], body)
            .await
    }

    /// A presenter's command with the owner token; `show` takes a JSON position.
    async fn command(&self, action: &str, body: &'static str) -> Answer {
        let bearer = format!("Bearer {TOKEN}");
        let headers = [("authorization", bearer.as_str()), ("content-type", JSON)];
        self.send(
            Method::POST,
            &format!("/events/{CODE}/{action}"),
            &headers,
            body,
        )
        .await
    }

    async fn stream_length(&mut self) -> usize {
        redis::cmd("XLEN")
            .arg(self.keys.vote_stream())
            .query_async(&mut self.redis)
            .await
            .unwrap()
    }

    /// Every entry of the stream, decoded.
    async fn entries(&mut self) -> Vec<StreamEntry> {
        let reply: redis::streams::StreamRangeReply = self
            .redis
            .xrange_all(self.keys.vote_stream())
            .await
            .unwrap();
        reply
            .ids
            .iter()
            .map(|id| {
                let fields: HashMap<String, String> = id
                    .map
                    .iter()
                    .map(|(k, v)| (k.clone(), redis::from_redis_value(v.clone()).unwrap()))
                    .collect();
                StreamEntry::from_fields(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .unwrap()
            })
            .collect()
    }

    async fn last_entry(&mut self) -> StreamEntry {
        self.entries().await.pop().unwrap()
    }

    /// Writes the event, its code and its questions' polls as the worker would.
    async fn seed(&mut self, event: &EventDefinition) {
        let _: () = self
            .redis
            .hset_multiple(
                self.keys.event_definition(&event.id),
                &[
                    ("version", event.version.to_string()),
                    ("body", serde_json::to_string(event).unwrap()),
                ],
            )
            .await
            .unwrap();
        let _: () = self
            .redis
            .set(self.keys.event_code(&event.code), &event.id)
            .await
            .unwrap();
        for question in &event.questions {
            self.seed_poll(&poll_of(event, &question.poll, true)).await;
        }
    }

    async fn seed_poll(&mut self, poll: &PollDefinition) {
        let _: () = self
            .redis
            .set(
                self.keys.poll_definition(&poll.id),
                serde_json::to_string(poll).unwrap(),
            )
            .await
            .unwrap();
    }
}

/// The seeded event: three questions, `current` shown, owned by [`TOKEN`].
fn event(current: Option<usize>) -> EventDefinition {
    EventDefinition {
        id: EVENT.into(),
        code: CODE.into(),
        title: "All hands".into(),
        owner_hash: hash_token(TOKEN),
        questions: POLLS
            .iter()
            .map(|poll| EventQuestion {
                poll: (*poll).into(),
                question: format!("{poll}?"),
                choice: Choice::Single,
                scale: None,
                hidden_words: Vec::new(),
                words: None,
                shown: false,
            })
            .collect(),
        current,
        results_visible: true,
        locked: false,
        participants: 0,
        version: 1,
        blocked_words: Vec::new(),
    }
}

fn poll_of(event: &EventDefinition, poll: &str, open: bool) -> PollDefinition {
    PollDefinition {
        id: poll.into(),
        question: format!("{poll}?"),
        choice: Choice::Single,
        open,
        options: ["Yes", "No"]
            .iter()
            .zip(["a", "b"])
            .map(|(label, id)| PollOption {
                id: id.into(),
                label: (*label).into(),
            })
            .collect(),
        closes_at: None,
        hide_results: false,
        admin_hash: Some(event.owner_hash.clone()),
        event: Some(event.id.clone()),
        blocked_words: Vec::new(),
        words: None,
        identity: Default::default(),
        voter_code_hashes: Vec::new(),
        passcode_hash: None,
    }
}

fn command_entry(action: EventAction) -> EventCommandEntry {
    EventCommandEntry {
        event: EVENT.into(),
        action,
        at_ms: 0,
    }
}

/// `entry` with its `at` set to 0, for comparing.
fn timeless(entry: StreamEntry) -> StreamEntry {
    match entry {
        StreamEntry::EventCommand(command) => StreamEntry::EventCommand(EventCommandEntry {
            at_ms: 0,
            ..command
        }),
        StreamEntry::Status(status) => StreamEntry::Status(StatusEntry { at_ms: 0, ..status }),
        other => other,
    }
}

/// The entry a show of `position` appends: it names the question's poll too.
fn shows(position: usize) -> EventAction {
    EventAction::Show {
        position,
        poll: Some(POLLS[position].into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_creation_reserves_its_code_and_queues_the_event() {
    let mut harness = Harness::start().await;
    let body = json!({
        "title": " Town hall ",
        "questions": [
            {"question": "Lunch?", "options": ["Pizza", " Salad "]},
            {"question": "Topics", "options": ["a", "b", "c"], "choice": "multiple"},
        ],
    });
    let answer = harness
        .post("/events", JSON, body.to_string().into_bytes())
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    let created = &answer.body;
    let (event, code) = (
        created["event"].as_str().unwrap(),
        created["code"].as_str().unwrap(),
    );
    let token = created["owner_token"].as_str().unwrap();
    assert!(tally_model::event::is_event_id(event), "{created}");
    assert!(tally_model::event::is_join_code(code), "{created}");
    assert_eq!(token.len(), 43);
    assert_eq!(created["join_path"], format!("/j/{code}"));
    assert_eq!(created["audience_path"], format!("/e/{code}"));
    assert_eq!(created["screen_path"], format!("/e/{code}/screen"));
    assert_eq!(
        created["presenter_path"],
        format!("/e/{code}/present#{token}")
    );
    let polls: Vec<&str> = created["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(polls.len(), 2);
    assert!(polls
        .iter()
        .all(|p| tally_model::new_poll::is_created_poll_id(p)));

    let reserved: Option<String> = harness
        .redis
        .get(harness.keys.event_code(code))
        .await
        .unwrap();
    assert_eq!(reserved.as_deref(), Some(event), "the code names the event");

    let entries = harness.entries().await;
    assert_eq!(entries.len(), 1);
    let StreamEntry::EventCreate(entry) = &entries[0] else {
        panic!("{entries:?}");
    };
    assert_eq!((entry.event.as_str(), entry.code.as_str()), (event, code));
    assert_eq!(entry.title, "Town hall");
    assert_eq!(entry.owner_hash, hash_token(token));
    let now = tally_model::timestamp::now_ms();
    assert!(entry.at_ms <= now && now - entry.at_ms < 60_000);
    let questions: Vec<_> = entry
        .questions
        .iter()
        .map(|q| {
            (
                q.poll.as_str(),
                q.new_poll.question.as_str(),
                q.new_poll.choice,
                q.new_poll.labels.clone(),
            )
        })
        .collect();
    assert_eq!(
        questions,
        [
            (
                polls[0],
                "Lunch?",
                Choice::Single,
                vec!["Pizza".to_owned(), "Salad".to_owned()]
            ),
            (
                polls[1],
                "Topics",
                Choice::Multiple,
                vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]
            ),
        ]
    );
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_form_creation_goes_to_the_presenter_page() {
    let mut harness = Harness::start().await;
    let form = "title=Quiz&question=Tea%3F&option=Yes&option=&option=No\
                &question=Pets&option=Cats&option=Dogs&choice=multiple";
    let answer = harness
        .send(
            Method::POST,
            "/events",
            &[("content-type", FORM), ("accept", "text/html,*/*;q=0.8")],
            form,
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    let location = answer.header(header::LOCATION).to_owned();
    let StreamEntry::EventCreate(entry) = harness.last_entry().await else {
        panic!("not an event creation");
    };
    let presenter = format!("/e/{}/present#", entry.code);
    assert!(location.starts_with(&presenter), "{location}");
    let token = location.split_once('#').unwrap().1;
    assert_eq!(
        entry.owner_hash,
        hash_token(token),
        "the token is in the fragment"
    );
    assert_eq!(entry.title, "Quiz");
    assert_eq!(entry.questions.len(), 2);
    assert_eq!(entry.questions[0].new_poll.labels, ["Yes", "No"]);
    assert_eq!(entry.questions[1].new_poll.choice, Choice::Multiple);

    let answer = harness
        .send(
            Method::POST,
            "/events",
            &[("content-type", FORM), ("accept", JSON)],
            form,
        )
        .await;
    assert_eq!(answer.status, 202, "a form asking for JSON gets JSON");
    assert!(answer.body["owner_token"].is_string());
    assert_eq!(harness.stream_length().await, 2);
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_appends_its_entry() {
    let mut harness = Harness::start().await;
    harness.seed(&event(Some(1))).await;
    let cases: [(&str, &'static str, StreamEntry, Value); 8] = [
        (
            "show",
            r#"{"position":2}"#,
            StreamEntry::EventCommand(command_entry(shows(2))),
            json!({"event": CODE, "action": "show", "position": 2, "poll": POLLS[2]}),
        ),
        (
            "reveal",
            "",
            StreamEntry::EventCommand(command_entry(EventAction::Reveal)),
            json!({"event": CODE, "action": "reveal"}),
        ),
        (
            "hide",
            "",
            StreamEntry::EventCommand(command_entry(EventAction::Hide)),
            json!({"event": CODE, "action": "hide"}),
        ),
        (
            "lock",
            "",
            StreamEntry::EventCommand(command_entry(EventAction::Lock)),
            json!({"event": CODE, "action": "lock"}),
        ),
        (
            "unlock",
            "ignored",
            StreamEntry::EventCommand(command_entry(EventAction::Unlock)),
            json!({"event": CODE, "action": "unlock"}),
        ),
        (
            "close",
            "",
            StreamEntry::Status(StatusEntry {
                poll: POLLS[1].into(),
                open: false,
                at_ms: 0,
            }),
            json!({"event": CODE, "action": "close", "position": 1}),
        ),
        (
            "reopen",
            "",
            StreamEntry::Status(StatusEntry {
                poll: POLLS[1].into(),
                open: true,
                at_ms: 0,
            }),
            json!({"event": CODE, "action": "reopen", "position": 1}),
        ),
        (
            "next",
            "",
            StreamEntry::EventCommand(command_entry(shows(2))),
            json!({"event": CODE, "action": "next", "position": 2, "poll": POLLS[2]}),
        ),
    ];
    for (count, (action, body, entry, answered)) in cases.into_iter().enumerate() {
        let answer = harness.command(action, body).await;
        assert_eq!(answer.status, 202, "{action}: {answer:?}");
        assert_eq!(answer.body, answered, "{action}");
        assert_eq!(harness.stream_length().await, count + 1, "{action}");
        assert_eq!(timeless(harness.last_entry().await), entry, "{action}");
    }

    let bearer = format!("Bearer {TOKEN}");
    let answer = harness
        .send(
            Method::POST,
            &format!("/events/{CODE}/show"),
            &[("authorization", bearer.as_str()), ("content-type", FORM)],
            "position=0",
        )
        .await;
    assert_eq!(answer.status, 202, "a form's position: {answer:?}");
    assert_eq!(
        timeless(harness.last_entry().await),
        StreamEntry::EventCommand(command_entry(shows(0)))
    );
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_and_previous_start_from_the_stored_definition() {
    let mut harness = Harness::start().await;
    // (current, action, the position shown, or the refusal's status)
    let cases = [
        (None, "next", Ok(0)),
        (Some(0), "next", Ok(1)),
        (Some(1), "next", Ok(2)),
        (Some(2), "next", Err(409)),
        (Some(2), "previous", Ok(1)),
        (Some(1), "previous", Ok(0)),
        (Some(0), "previous", Err(409)),
        (None, "previous", Err(409)),
        (None, "close", Err(409)),
        (None, "reopen", Err(409)),
    ];
    for (current, action, expected) in cases {
        // The worker moved on: the next command reads the new state, no cache between.
        harness.seed(&event(current)).await;
        let before = harness.stream_length().await;
        let answer = harness.command(action, "").await;
        match expected {
            Ok(position) => {
                assert_eq!(answer.status, 202, "{current:?} {action}: {answer:?}");
                assert_eq!(answer.body["position"], position);
                assert_eq!(
                    timeless(harness.last_entry().await),
                    StreamEntry::EventCommand(command_entry(shows(position)))
                );
            }
            Err(status) => {
                assert_eq!(answer.status, status, "{current:?} {action}: {answer:?}");
                assert!(!answer.error().is_empty(), "{answer:?}");
                assert_eq!(harness.stream_length().await, before, "nothing appended");
            }
        }
    }
    harness.seed(&event(Some(2))).await;
    let answer = harness.command("next", "").await;
    assert!(answer.error().contains("last question"), "{answer:?}");

    let page = scrape(harness.running.admin).await.unwrap();
    let at = |series: &str| value(&page, series);
    assert_eq!(
        at(r#"tally_polls_commands_total{command="event_next"}"#),
        Some(3.0)
    );
    assert_eq!(
        at(r#"tally_polls_commands_total{command="event_previous"}"#),
        Some(2.0)
    );
    assert_eq!(
        at(r#"tally_polls_commands_total{command="event_close"}"#),
        Some(0.0)
    );
    let refused = r#"http_requests_total{route="event_command",status="409"}"#;
    assert_eq!(at(refused), Some(6.0), "{page}");
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_token_commands_the_event() {
    let mut harness = Harness::start().await;
    harness.seed(&event(Some(0))).await;
    let path = format!("/events/{CODE}/next");
    let cases: [(&[(&str, &str)], u16); 5] = [
        (&[], 401),
        (&[("authorization", "Basic dXNlcjpwYXNz")], 401),
        (&[("authorization", "Bearer ")], 401),
        (&[("authorization", "Bearer not-the-token")], 403),
        (&[("authorization", "Bearer the-owner-tokeN")], 403),
    ];
    for (headers, status) in cases {
        let answer = harness.send(Method::POST, &path, headers, "").await;
        assert_eq!(answer.status, status, "{headers:?}: {answer:?}");
        assert!(!answer.error().is_empty());
        if status == 401 {
            assert_eq!(answer.header(header::WWW_AUTHENTICATE), "Bearer");
        }
    }
    let bearer = format!("Bearer {TOKEN}");
    let unknown = harness
        .send(
            Method::POST,
            "/events/99999999/next",
            &[("authorization", bearer.as_str())],
            "",
        )
        .await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert!(unknown.error().contains("99999999"));

    // A code whose event is another event's definition commands nothing.
    let mut other = event(Some(0));
    other.code = "11111111".into();
    let _: () = harness
        .redis
        .set(harness.keys.event_code("22222222"), EVENT)
        .await
        .unwrap();
    harness.seed(&other).await;
    let mismatched = harness
        .send(
            Method::POST,
            "/events/22222222/next",
            &[("authorization", bearer.as_str())],
            "",
        )
        .await;
    assert_eq!(mismatched.status, 404, "{mismatched:?}");
    assert_eq!(harness.stream_length().await, 0);
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballots_are_taken_on_the_current_question_of_an_open_event() {
    let mut harness = Harness::start().await;
    harness.seed(&event(Some(0))).await;
    let vote = |poll: &str| format!(r#"{{"poll":"{poll}","option":"a"}}"#).into_bytes();

    let answer = harness.post("/vote", JSON, vote(POLLS[0])).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    let answer = harness.post("/vote", JSON, vote(POLLS[1])).await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert!(answer.error().contains("not the current one"), "{answer:?}");
    assert_eq!(harness.stream_length().await, 1);

    // The presenter moves on; the cached copy (a minute's TTL) refuses, so it is re-read.
    harness.seed(&event(Some(1))).await;
    let answer = harness.post("/vote", JSON, vote(POLLS[1])).await;
    assert_eq!(answer.status, 202, "right after the move: {answer:?}");
    assert_eq!(harness.stream_length().await, 2);

    // A browser is sent back to the event's page with the reason.
    let browser = |poll: &str| format!("poll={poll}&option=b");
    let headers = [("content-type", FORM), ("accept", "text/html")];
    let answer = harness
        .send(Method::POST, "/vote", &headers, browser(POLLS[2]))
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(
        answer.header(header::LOCATION),
        format!("/e/{CODE}#not-current")
    );
    assert_eq!(harness.stream_length().await, 2, "refusals append nothing");

    let answer = harness
        .send(Method::POST, "/vote", &headers, browser(POLLS[1]))
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.header(header::LOCATION), format!("/e/{CODE}#voted"));
    assert_eq!(harness.stream_length().await, 3);
    let StreamEntry::Vote(ballot) = harness.last_entry().await else {
        panic!("not a vote");
    };
    assert_eq!(
        (ballot.poll.as_str(), ballot.options.clone()),
        (POLLS[1], vec!["b".into()])
    );

    harness.running.stop().await.unwrap();
}

/// A copy that takes the ballot is kept for the TTL (a lock is seen within it, like a
/// poll's closing); one that refuses is read again, so a lock lifted is seen at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_event_takes_no_ballot_until_unlocked() {
    let mut harness = Harness::start().await;
    let mut locked = event(Some(1));
    locked.locked = true;
    harness.seed(&locked).await;
    let api = format!(r#"{{"poll":"{}","option":"a"}}"#, POLLS[1]);
    let answer = harness.post("/vote", JSON, api.clone()).await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert!(answer.error().contains("locked"), "{answer:?}");
    let headers = [("content-type", FORM), ("accept", "text/html")];
    let form = format!("poll={}&option=b", POLLS[1]);
    let answer = harness.send(Method::POST, "/vote", &headers, form).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.header(header::LOCATION), format!("/e/{CODE}#closed"));
    assert_eq!(harness.stream_length().await, 0);

    harness.seed(&event(Some(1))).await;
    let answer = harness.post("/vote", JSON, api).await;
    assert_eq!(answer.status, 202, "unlocked: {answer:?}");
    assert_eq!(harness.stream_length().await, 1);
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_question_sends_a_browser_to_the_event_page() {
    let mut harness = Harness::start().await;
    harness.seed(&event(Some(2))).await;
    harness
        .seed_poll(&poll_of(&event(None), POLLS[2], false))
        .await;
    let headers = [("content-type", FORM), ("accept", "text/html")];
    let body = format!("poll={}&option=a", POLLS[2]);
    let answer = harness.send(Method::POST, "/vote", &headers, body).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.header(header::LOCATION), format!("/e/{CODE}#closed"));
    let api = format!(r#"{{"poll":"{}","option":"a"}}"#, POLLS[2]);
    let answer = harness.post("/vote", JSON, api).await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert!(answer.error().contains("closed"), "{answer:?}");
    assert_eq!(harness.stream_length().await, 0);
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_whose_event_is_not_written_yet_takes_no_ballot() {
    let mut harness = Harness::start().await;
    harness
        .seed_poll(&poll_of(&event(None), POLLS[0], true))
        .await;
    let answer = harness
        .post(
            "/vote",
            JSON,
            format!(r#"{{"poll":"{}","option":"a"}}"#, POLLS[0]),
        )
        .await;
    assert_eq!(answer.status, 409, "{answer:?}");
    assert_eq!(harness.stream_length().await, 0);
    harness.running.stop().await.unwrap();
}

/// A request refused: method, path, headers, body; the status and a word of its error.
struct Refusal {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
    status: u16,
    says: &'static str,
}

/// `POST /events` with `content_type` (none when empty) and `body`.
fn creation(content_type: &'static str, body: String, status: u16, says: &'static str) -> Refusal {
    let headers = match content_type {
        "" => vec![],
        value => vec![("content-type", value.to_owned())],
    };
    Refusal {
        method: Method::POST,
        path: "/events".into(),
        headers,
        body,
        status,
        says,
    }
}

/// A command at `path` with the owner token, and `content_type` (none when empty).
fn owned(
    path: String,
    content_type: &'static str,
    body: &str,
    status: u16,
    says: &'static str,
) -> Refusal {
    let mut headers = vec![("authorization", format!("Bearer {TOKEN}"))];
    if !content_type.is_empty() {
        headers.push(("content-type", content_type.to_owned()));
    }
    Refusal {
        method: Method::POST,
        path,
        headers,
        body: body.to_owned(),
        status,
        says,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_appends_nothing() {
    let mut harness = Harness::start().await;
    harness.seed(&event(Some(2))).await;
    let question = |options: &str| format!(r#"{{"question":"Q?","options":[{options}]}}"#);
    let two = question(r#""a","b""#);
    let event = |title: &str, questions: &str| {
        format!(r#"{{"title":"{title}","questions":[{questions}]}}"#)
    };
    let many = vec![two.clone(); 31].join(",");
    let huge = event("T", &question(&format!("\"{}\"", "x".repeat(600_000))));
    let eleven: Vec<String> = (0..11).map(|i| format!("\"o{i}\"")).collect();
    let paced = r#"{"question":"Q","options":["a","b"],"hide_results":true}"#;
    let any = r#"{"question":"Q","options":["a","b"],"choice":"all"}"#;
    let at = |rest: &str| format!("/events/{rest}");
    let show = at(&format!("{CODE}/show"));
    let next = at(&format!("{CODE}/next"));
    let unicode = "%EF%BC%90%EF%BC%94%EF%BC%98%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95";
    let cases = [
        creation("text/plain", "title=T".into(), 415, "application/json"),
        creation("", event("T", &two), 415, "application/json"),
        creation(JSON, "{".into(), 400, "JSON"),
        creation(JSON, r#"{"title":"T"}"#.into(), 400, "questions"),
        creation(
            JSON,
            r#"{"title":"T","questions":[],"owner":"me"}"#.into(),
            400,
            "owner",
        ),
        creation(JSON, event("T", paced), 400, "hide_results"),
        creation(JSON, event("T", any), 400, "choice"),
        creation(JSON, event("", &two), 422, "title"),
        creation(JSON, event("T\\u0007", &two), 422, "title"),
        creation(JSON, event("T", ""), 422, "at least one question"),
        creation(JSON, event("T", &many), 422, "at most 30"),
        creation(
            JSON,
            event("T", &format!("{two},{}", question(r#""a""#))),
            422,
            "question 2",
        ),
        creation(JSON, event("T", &question(r#""a","A""#)), 422, "twice"),
        creation(
            JSON,
            event("T", &question(&eleven.join(","))),
            422,
            "at most 10",
        ),
        creation(JSON, huge, 413, "larger than"),
        creation(FORM, "question=Q&option=a&option=b".into(), 400, "title"),
        creation(
            FORM,
            "title=T&option=a&question=Q".into(),
            400,
            "before the first question",
        ),
        creation(
            FORM,
            "title=T&question=Q&option=a&poll=x".into(),
            400,
            "unknown form field",
        ),
        creation(
            FORM,
            "title=T&question=Q&option=a".into(),
            422,
            "question 1",
        ),
        Refusal {
            method: Method::GET,
            ..creation("", String::new(), 405, "POST")
        },
        Refusal {
            method: Method::PUT,
            ..owned(next.clone(), "", "", 405, "POST")
        },
        owned(at("../x/next"), "", "", 404, "8 digits"),
        owned(at("%00/next"), "", "", 404, "8 digits"),
        owned(at(&format!("{CODE}9/next")), "", "", 404, "8 digits"),
        owned(at("0481234/next"), "", "", 404, "8 digits"),
        owned(at(&format!("{unicode}/next")), "", "", 404, "8 digits"),
        owned(at(""), "", "", 404, "8 digits"),
        owned(at(CODE), "", "", 404, "command"),
        owned(at(&format!("{CODE}/delete")), "", "", 404, "command"),
        owned(format!("{next}/"), "", "", 404, "command"),
        Refusal {
            headers: vec![],
            ..owned(next.clone(), "", "", 401, "Bearer")
        },
        Refusal {
            headers: vec![("authorization", "Bearer wrong".into())],
            ..owned(next.clone(), "", "", 403, "does not own")
        },
        owned(next.clone(), "", "", 409, "last question"),
        owned(
            show.clone(),
            "",
            r#"{"position":1}"#,
            415,
            "application/json",
        ),
        owned(show.clone(), JSON, "", 400, "JSON"),
        owned(show.clone(), JSON, "{}", 400, "position"),
        owned(show.clone(), JSON, r#"{"position":-1}"#, 400, "JSON"),
        owned(
            show.clone(),
            JSON,
            r#"{"position":1,"poll":"x"}"#,
            400,
            "poll",
        ),
        owned(show.clone(), FORM, "position=one", 400, "position"),
        owned(
            show.clone(),
            JSON,
            r#"{"position":3}"#,
            422,
            "the event has 3",
        ),
        owned(
            show,
            JSON,
            &format!(r#"{{"position":1{}}}"#, " ".repeat(100 * 1024)),
            413,
            "larger than",
        ),
    ];
    for refusal in cases {
        let Refusal {
            method,
            path,
            headers,
            body,
            status,
            says,
        } = refusal;
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let before = harness.stream_length().await;
        let answer = harness
            .send(method.clone(), &path, &headers, body.clone())
            .await;
        let shown = body.chars().take(80).collect::<String>();
        assert_eq!(answer.status, status, "{method} {path} {shown}: {answer:?}");
        assert!(
            answer.error().contains(says),
            "{method} {path} {shown}: {:?} should say {says:?}",
            answer.error()
        );
        if status == 405 {
            assert_eq!(answer.header(header::ALLOW), "POST");
        }
        assert_eq!(
            harness.stream_length().await,
            before,
            "{method} {path} {shown}"
        );
    }
    assert_eq!(harness.stream_length().await, 0);
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_creation_is_refused_with_retry_after() {
    let redis = tally_testkit::RedisServer::start();
    let url = redis.url();
    let config = tally_vote::Config::try_parse_from([
        "tally-vote",
        "--redis-url",
        &url,
        "--cookie-key",
        KEY,
        "--durability",
        "written",
    ])
    .unwrap();
    let running = InProcess::start(|public, admin, stop| {
        tally_vote::run(
            Ports {
                public,
                admin: Some(admin),
            },
            config,
            stop,
        )
    })
    .await;
    redis.stop();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let body = r#"{"title":"T","questions":[{"question":"Q","options":["a","b"]}]}"#;
    let request = http::Request::post(format!("http://{}/events", running.public))
        .header("content-type", JSON)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_events_and_their_commands() {
    let mut harness =
        Harness::start_with(&["--queue-high-water", "1", "--backlog-interval", "10ms"]).await;
    harness.seed(&event(Some(0))).await;
    for _ in 0..2 {
        let _: String = harness
            .redis
            .xadd(harness.keys.vote_stream(), "*", &[("kind", "filler")])
            .await
            .unwrap();
    }
    let body = r#"{"title":"T","questions":[{"question":"Q","options":["a","b"]}]}"#;
    // The backlog is measured every 10 ms; thirty measurements later it is seen.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let answer = harness.post("/events", JSON, body).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    let answer = harness.command("next", "").await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(harness.stream_length().await, 2, "only the filler");
    harness.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_change_until_the_room_has_seen_them() {
    let mut harness = Harness::start().await;
    let mut seen_first = event(Some(0));
    seen_first.questions[0].shown = true;
    harness.seed(&seen_first).await;

    let added = harness
        .command(
            "add-question",
            r#"{"question":" Tea? ","options":["Yes","No"]}"#,
        )
        .await;
    assert_eq!(added.status, 202, "{added:?}");
    let poll = added.body["poll"].as_str().unwrap().to_owned();
    let StreamEntry::EventCommand(EventCommandEntry {
        action: EventAction::AddQuestion(question),
        ..
    }) = harness.last_entry().await
    else {
        panic!("not an addition");
    };
    assert_eq!(question.poll, poll);
    assert_eq!(question.new_poll.question, "Tea?");
    assert_eq!(question.new_poll.labels, ["Yes", "No"]);

    let edited = harness
        .command(
            "edit-question",
            r#"{"poll":"Qu3st10n01","question":"Scale?","scale":{"min":0,"max":10}}"#,
        )
        .await;
    assert_eq!(edited.status, 202, "{edited:?}");
    let StreamEntry::EventCommand(EventCommandEntry {
        action: EventAction::ReplaceQuestion { old, new },
        ..
    }) = harness.last_entry().await
    else {
        panic!("not a replacement");
    };
    assert_eq!(
        (old.as_str(), edited.body["poll"].as_str()),
        (POLLS[1], Some(new.poll.as_str()))
    );
    assert_eq!(new.new_poll.labels.len(), 11, "0 to 10");

    let removed = harness
        .command("remove-question", r#"{"poll":"Qu3st10n02"}"#)
        .await;
    assert_eq!(removed.status, 202, "{removed:?}");
    assert_eq!(
        timeless(harness.last_entry().await),
        StreamEntry::EventCommand(command_entry(EventAction::RemoveQuestion(POLLS[2].into())))
    );
    let ordered = harness
        .command(
            "order",
            r#"{"polls":["Qu3st10n02","Qu3st10n00","Qu3st10n01"]}"#,
        )
        .await;
    assert_eq!(ordered.status, 202, "{ordered:?}");

    // A show may name the question's poll: the presenter's choice, wherever it moved.
    let shown = harness.command("show", r#"{"poll":"Qu3st10n02"}"#).await;
    assert_eq!(
        (shown.status, &shown.body["position"]),
        (202, &json!(2)),
        "{shown:?}"
    );
    assert_eq!(
        timeless(harness.last_entry().await),
        StreamEntry::EventCommand(command_entry(shows(2)))
    );

    // Every refusal says why and appends nothing.
    let before = harness.stream_length().await;
    for (action, body, status) in [
        ("show", r#"{"poll":"N0tHere001"}"#, 409),
        ("show", r#"{}"#, 400),
        (
            "edit-question",
            r#"{"poll":"Qu3st10n00","question":"Q?","options":["a","b"]}"#,
            409,
        ),
        ("remove-question", r#"{"poll":"Qu3st10n00"}"#, 409),
        ("remove-question", r#"{"poll":"N0tHere001"}"#, 409),
        ("remove-question", r#"{"poll":"../../x"}"#, 409),
        ("order", r#"{"polls":["Qu3st10n02","Qu3st10n00"]}"#, 409),
        (
            "order",
            r#"{"polls":["Qu3st10n02","Qu3st10n02","Qu3st10n01"]}"#,
            409,
        ),
        ("order", r#"{"polls":"Qu3st10n02"}"#, 400),
        (
            "add-question",
            r#"{"question":"Q?","options":["only one"]}"#,
            422,
        ),
        (
            "add-question",
            r#"{"question":"","options":["a","b"]}"#,
            422,
        ),
        (
            "add-question",
            r#"{"question":"Q?","options":["a","b"],"closes_at":1}"#,
            400,
        ),
        (
            "add-question",
            r#"{"poll":"Qu3st10n01","question":"Q?","options":["a","b"]}"#,
            400,
        ),
        (
            "add-question",
            r#"{"question":"Q\u202e?","options":["a","b"]}"#,
            422,
        ),
        ("add-question", "{not json", 400),
        ("add-question", "", 400),
        (
            "edit-question",
            r#"{"question":"Q?","options":["a","b"]}"#,
            400,
        ),
    ] {
        let answer = harness.command(action, body).await;
        assert_eq!(answer.status, status, "{action} {body}: {answer:?}");
        assert!(!answer.error().is_empty(), "{answer:?}");
    }
    let bearer = format!("Bearer {TOKEN}");
    let as_form = harness
        .send(
            Method::POST,
            &format!("/events/{CODE}/add-question"),
            &[("authorization", bearer.as_str()), ("content-type", FORM)],
            "question=Q%3F&option=a&option=b",
        )
        .await;
    assert_eq!(as_form.status, 415, "{as_form:?}");
    let no_token = harness
        .post(
            &format!("/events/{CODE}/add-question"),
            JSON,
            r#"{"question":"Q?","options":["a","b"]}"#,
        )
        .await;
    assert_eq!(no_token.status, 401, "{no_token:?}");
    assert_eq!(harness.stream_length().await, before, "nothing appended");
    harness.running.stop().await.unwrap();
}
