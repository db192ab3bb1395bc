//! Polls people create, through the edge with every service running: creation (JSON
//! and form), the poll appearing, two voters with multiple-choice ballots replaced
//! whole, close and reopen with the admin token, the CSV export, hidden results, closing
//! times, and bad input that gets a JSON error and creates nothing.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, StatusCode};
use redis::AsyncCommands;
use serde_json::{json, Value};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Reply, Stack};
use tally_testkit::eventually;

const JSON: (&str, &str) = ("content-type", "application/json");
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");

/// The vote service's default VOTE_POLL_CACHE_TTL: how stale its copy of a poll may be.
const VOTE_POLL_CACHE_TTL: Duration = Duration::from_secs(1);

/// A poll as its creator got it back.
struct Created {
    id: String,
    token: String,
}

async fn create(client: &Client, body: Value) -> Created {
    let reply = client
        .send(
            Method::POST,
            "/polls",
            &[JSON, ACCEPT_JSON],
            body.to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let answer = reply.json();
    let id = answer["poll"].as_str().unwrap().to_owned();
    let token = answer["admin_token"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 10);
    assert_eq!(answer["share_path"], format!("/p/{id}"));
    assert_eq!(answer["live_path"], format!("/p/{id}/live"));
    assert_eq!(answer["admin_path"], format!("/p/{id}/admin#{token}"));
    Created { id, token }
}

/// Polls `/results/<id>` until the poll exists; returns the document and prints how long it took.
async fn appears(client: &Client, poll: &str) -> Value {
    let started = Instant::now();
    let document = eventually(WAIT, "the created poll's results appear", || async {
        let reply = client.get(&format!("/results/{poll}")).await;
        (reply.status == StatusCode::OK).then(|| reply.json())
    })
    .await;
    println!("poll {poll} appeared after {:?}", started.elapsed());
    document
}

async fn vote(client: &Client, poll: &str, options: &[&str]) -> Reply {
    let body = json!({"poll": poll, "options": options}).to_string();
    client
        .send(Method::POST, "/vote", &[JSON, ACCEPT_JSON], body)
        .await
}

async fn admin(client: &Client, poll: &str, action: &str, token: Option<&str>) -> Reply {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![ACCEPT_JSON];
    if let Some(value) = &authorization {
        headers.push(("authorization", value.as_str()));
    }
    client
        .send(
            Method::POST,
            &format!("/polls/{poll}/{action}"),
            &headers,
            "",
        )
        .await
}

async fn results(client: &Client, poll: &str, token: Option<&str>) -> Value {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("authorization", value.as_str()))
        .collect();
    let reply = client
        .send(Method::GET, &format!("/results/{poll}"), &headers, "")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.json()
}

fn counts(document: &Value) -> BTreeMap<String, Value> {
    document["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap().to_owned(), o["votes"].clone()))
        .collect()
}

fn expected(pairs: &[(&str, i64)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

/// Waits until a vote on `poll` gets `status` (the vote service reads definitions
/// through a short cache, so a close takes effect within about a second).
async fn vote_gets(client: &Client, poll: &str, options: &[&str], status: StatusCode) -> Reply {
    eventually(WAIT, &format!("a vote on {poll} gets {status}"), || async {
        let reply = vote(client, poll, options).await;
        (reply.status == status).then_some(reply)
    })
    .await
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn rfc3339(ms: u64) -> String {
    tally_model::timestamp::format_ms(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_poll_takes_ballots_closes_reopens_and_exports_csv() {
    let stack = Stack::builder().start().await;
    let creator = Client::new(stack.edge());
    let poll = create(
        &creator,
        json!({"question": "Which drinks, \"today\"?", "options": ["Tea", "Coffee, black", "Water"],
               "choice": "multiple"}),
    )
    .await;
    let id = poll.id.as_str();
    let document = appears(&creator, id).await;
    assert_eq!(document["question"], "Which drinks, \"today\"?");
    assert_eq!(document["choice"], "multiple");
    assert_eq!(document["open"], true);
    assert_eq!(document["hidden"], false);
    assert_eq!(counts(&document), expected(&[("a", 0), ("b", 0), ("c", 0)]));

    // Two voters; the first replaces a two-option ballot with a one-option ballot.
    let page = format!("/p/{id}");
    let (ann, bob) = (
        Client::visitor(stack.edge(), &page).await,
        Client::visitor(stack.edge(), &page).await,
    );
    assert_eq!(
        vote(&ann, id, &["a", "c"]).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        vote(&bob, id, &["a", "b"]).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(vote(&ann, id, &["b"]).await.status, StatusCode::ACCEPTED);
    let form = ann
        .send(
            Method::POST,
            "/vote",
            &[FORM, ("accept", "text/html")],
            format!("poll={id}&option=b&option=c"),
        )
        .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER);
    assert_eq!(form.headers["location"], format!("/p/{id}#voted").as_str());
    stack.wait_drained().await;
    let want = expected(&[("a", 1), ("b", 2), ("c", 1)]);
    let document = eventually(WAIT, "results show both ballots", || async {
        let document = results(&creator, id, None).await;
        (counts(&document) == want).then_some(document)
    })
    .await;
    assert_eq!(
        document["total"], 2,
        "two ballots, however many options each"
    );
    let tallies: BTreeMap<String, i64> = stack.tallies(id).await;
    assert_eq!(
        tallies,
        [("a".into(), 1), ("b".into(), 2), ("c".into(), 1)].into()
    );
    assert_eq!(stack.recount(id).await, tallies, "tallies equal a recount");

    // Closing takes the admin token.
    let reply = admin(&creator, id, "close", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    assert!(!reply.error().is_empty());
    let reply = admin(&creator, id, "close", Some("not-the-token")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!reply.error().is_empty());
    let reply = admin(&creator, id, "close", Some(&poll.token)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.json(), json!({"poll": id, "open": false}));
    // The close is in effect once the worker applied it and the vote service's copy
    // of the definition is fresh; votes answered 202 before then still count.
    let closed = eventually(WAIT, "the worker applies the close", || async {
        let document = results(&creator, id, None).await;
        (document["open"] == false).then_some(document)
    })
    .await;
    assert_eq!(counts(&closed), want);
    tokio::time::sleep(VOTE_POLL_CACHE_TTL + Duration::from_millis(200)).await;
    let refused = vote(&bob, id, &["c"]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert!(refused.error().contains("closed"), "{}", refused.error());
    // A page without JavaScript is sent back to the poll's page, which says why.
    let refused_form = bob
        .send(
            Method::POST,
            "/vote",
            &[FORM, ("accept", "text/html")],
            format!("poll={id}&option=c"),
        )
        .await;
    assert_eq!(refused_form.status, StatusCode::SEE_OTHER);
    assert_eq!(
        refused_form.headers["location"],
        format!("/p/{id}#closed").as_str()
    );
    stack.wait_drained().await;
    assert_eq!(
        counts(&results(&creator, id, None).await),
        want,
        "the refused votes changed nothing"
    );

    // Reopened, votes count again.
    let reply = admin(&creator, id, "reopen", Some(&poll.token)).await;
    assert_eq!(reply.json(), json!({"poll": id, "open": true}));
    vote_gets(&bob, id, &["c"], StatusCode::ACCEPTED).await;
    stack.wait_drained().await;
    let want = expected(&[("a", 0), ("b", 1), ("c", 2)]);
    eventually(WAIT, "results show the reopened poll's vote", || async {
        let document = results(&creator, id, None).await;
        (counts(&document) == want && document["open"] == true).then_some(())
    })
    .await;

    // CSV: the admin only; RFC 4180 quoting and CRLF; percent of the two ballots.
    let csv_path = format!("/results/{id}/csv");
    assert_eq!(
        creator.get(&csv_path).await.status,
        StatusCode::UNAUTHORIZED
    );
    let authorization = format!("Bearer {}", poll.token);
    let reply = creator
        .send(
            Method::GET,
            &csv_path,
            &[("authorization", authorization.as_str())],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        reply.headers["content-disposition"],
        format!("attachment; filename=\"tally-{id}.csv\"").as_str()
    );
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        "option,label,votes,percent\r\n\
         a,Tea,0,0.0\r\n\
         b,\"Coffee, black\",1,50.0\r\n\
         c,Water,2,100.0\r\n"
    );
    let link = creator
        .get(&format!("{csv_path}?token={}", poll.token))
        .await;
    assert_eq!(
        link.body, reply.body,
        "the download link's ?token= works too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_form_creates_a_poll_and_lands_on_its_admin_page() {
    let stack = Stack::builder().start().await;
    let browser = Client::new(stack.edge());
    let reply = browser
        .send(
            Method::POST,
            "/polls",
            &[
                FORM,
                ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
            ],
            "question=Lunch+%E2%80%94+where%3F&option=Pizza&option=&option=Salad+bar&option=\
             &choice=single&closes_at=&hide_results=on",
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
    let location = reply.headers["location"].to_str().unwrap().to_owned();
    let (path, token) = location.split_once('#').unwrap();
    let id = path
        .strip_prefix("/p/")
        .and_then(|rest| rest.strip_suffix("/admin"))
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 43);

    let document = appears(&browser, &id).await;
    assert_eq!(document["question"], "Lunch — where?");
    let labels: Vec<&str> = document["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Pizza", "Salad bar"], "empty options are ignored");
    assert_eq!(document["choice"], "single");
    assert_eq!(document["hidden"], true, "hide_results=on");
    assert_eq!(results(&browser, &id, Some(token)).await["hidden"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_results_stay_hidden_until_close() {
    let stack = Stack::builder().start().await;
    let creator = Client::new(stack.edge());
    let poll = create(
        &creator,
        json!({"question": "Secret ballot?", "options": ["Yes", "No"], "hide_results": true}),
    )
    .await;
    let id = poll.id.as_str();
    appears(&creator, id).await;
    let voters = Client::visitors(stack.edge(), &format!("/p/{id}"), 2).await;
    for (voter, option) in voters.iter().zip(["a", "b"]) {
        assert_eq!(
            vote(voter, id, &[option]).await.status,
            StatusCode::ACCEPTED
        );
    }
    stack.wait_drained().await;
    let want = expected(&[("a", 1), ("b", 1)]);
    eventually(WAIT, "the admin sees both ballots", || async {
        (counts(&results(&creator, id, Some(&poll.token)).await) == want).then_some(())
    })
    .await;

    let public = results(&voters[0], id, None).await;
    assert_eq!(public["hidden"], true);
    assert_eq!(public["total"], Value::Null);
    assert_eq!(
        counts(&public),
        [("a".into(), Value::Null), ("b".into(), Value::Null)].into()
    );
    let raw = voters[0].get(&format!("/results/{id}")).await;
    assert!(
        !String::from_utf8_lossy(&raw.body).contains("\"votes\":1"),
        "no count anywhere in the public document"
    );

    admin(&creator, id, "close", Some(&poll.token)).await;
    let after = eventually(WAIT, "counts are public once closed", || async {
        let document = results(&voters[0], id, None).await;
        (document["open"] == false).then_some(document)
    })
    .await;
    assert_eq!(after["hidden"], false);
    assert_eq!(after["total"], 2);
    assert_eq!(counts(&after), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_times_in_the_past_are_refused_and_a_poll_closes_by_itself() {
    let stack = Stack::builder().start().await;
    let client = Client::new(stack.edge());
    let past = json!({"question": "Too late?", "options": ["a", "b"],
                      "closes_at": rfc3339(now_ms() - 60_000)});
    let reply = client
        .send(Method::POST, "/polls", &[JSON], past.to_string())
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.error().contains("future"), "{}", reply.error());

    let closes_at = now_ms() + 3_000;
    let poll = create(
        &client,
        json!({"question": "Quick?", "options": ["Yes", "No"], "closes_at": rfc3339(closes_at),
               "hide_results": true}),
    )
    .await;
    let document = appears(&client, &poll.id).await;
    client.visit(&format!("/p/{}", poll.id)).await;
    assert_eq!(document["closes_at"], rfc3339(closes_at));
    assert_eq!(document["open"], true);
    assert_eq!(
        vote(&client, &poll.id, &["a"]).await.status,
        StatusCode::ACCEPTED
    );

    let wait = closes_at.saturating_sub(now_ms()) + 50;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let late = vote(&client, &poll.id, &["b"]).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{:?}", late.body);
    assert!(!late.error().is_empty());
    stack.wait_drained().await;
    let document = eventually(WAIT, "the accepted vote is counted", || async {
        let document = results(&client, &poll.id, None).await;
        (document["total"] == 1).then_some(document)
    })
    .await;
    assert_eq!(document["open"], false, "past closes_at reads as closed");
    let closed_by_worker = eventually(WAIT, "the worker closes the poll past its time", || async {
        let row = stack
            .postgres()
            .await
            .query_one("SELECT open FROM polls WHERE id = $1", &[&poll.id])
            .await
            .ok()?;
        (!row.get::<_, bool>(0)).then_some(())
    });
    closed_by_worker.await;
    assert_eq!(document["hidden"], false, "and hidden counts are shown");
    assert_eq!(counts(&document), expected(&[("a", 1), ("b", 0)]));
}

/// One bad request: method, path, headers, body, and the status it must get.
type Case = (
    Method,
    String,
    Vec<(&'static str, String)>,
    String,
    StatusCode,
);

fn case(
    method: Method,
    path: &str,
    headers: &[(&'static str, &str)],
    body: &str,
    status: StatusCode,
) -> Case {
    (
        method,
        path.to_owned(),
        headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        body.to_owned(),
        status,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_poll_input_gets_json_errors_and_creates_nothing() {
    let stack = Stack::builder().start().await;
    let client = Client::new(stack.edge());
    let poll = create(
        &client,
        json!({"question": "Real?", "options": ["Yes", "No"]}),
    )
    .await;
    appears(&client, &poll.id).await;
    let stream = stack.keys.vote_stream();
    let length_before: u64 = stack.redis().await.xlen(&stream).await.unwrap();

    let eleven: Vec<String> = (0..11).map(|i| format!("option {i}")).collect();
    let long_label = "x".repeat(201);
    let huge = json!({"question": "Q", "options": ["a", "b"], "pad": "x".repeat(100_000)});
    let bearer = format!("Bearer {}", poll.token);
    let closing = format!("/polls/{}/close", poll.id);
    let ok_json = r#"{"question":"Q","options":["a","b"]}"#;
    let bad = StatusCode::BAD_REQUEST;
    let rule = StatusCode::UNPROCESSABLE_ENTITY;
    let cases: Vec<Case> = vec![
        case(Method::POST, "/polls", &[JSON], "{", bad),
        case(Method::POST, "/polls", &[JSON], "", bad),
        case(Method::POST, "/polls", &[JSON], "null", bad),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"options":["a","b"]}"#,
            bad,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":"a,b"}"#,
            bad,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["a",7]}"#,
            bad,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["a","b"],"id":"default"}"#,
            bad,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["a","b"],"choice":"any"}"#,
            bad,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["a","b"],"closes_at":"tomorrow"}"#,
            bad,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["a","b"],"hide_results":"yes"}"#,
            bad,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["only"]}"#,
            rule,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            &json!({"question": "Q", "options": eleven}).to_string(),
            rule,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["Tea","tea "]}"#,
            rule,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["a",""]}"#,
            rule,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            &json!({"question": "Q", "options": ["a", long_label]}).to_string(),
            rule,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"  ","options":["a","b"]}"#,
            rule,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q\r\nX-Injected: 1","options":["a","b"]}"#,
            rule,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            r#"{"question":"Q","options":["a\u0000","b"]}"#,
            rule,
        ),
        case(
            Method::POST,
            "/polls",
            &[JSON],
            &huge.to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        case(Method::POST, "/polls", &[FORM], "option=a&option=b", bad),
        case(
            Method::POST,
            "/polls",
            &[FORM],
            "question=Q&option=a&option=b&poll=default",
            bad,
        ),
        case(Method::POST, "/polls", &[FORM], "question=Q&option=a", rule),
        case(
            Method::POST,
            "/polls",
            &[("content-type", "text/plain")],
            ok_json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        case(
            Method::POST,
            "/polls",
            &[("content-type", "multipart/form-data; boundary=x")],
            ok_json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        case(
            Method::POST,
            "/polls",
            &[],
            ok_json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        case(
            Method::GET,
            "/polls",
            &[],
            "",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        case(
            Method::PUT,
            "/polls",
            &[JSON],
            ok_json,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        // Admin commands.
        case(Method::POST, &closing, &[], "", StatusCode::UNAUTHORIZED),
        case(
            Method::POST,
            &closing,
            &[("authorization", "Basic dXNlcjpwdw==")],
            "",
            StatusCode::UNAUTHORIZED,
        ),
        case(
            Method::POST,
            &closing,
            &[("authorization", "Bearer ")],
            "",
            StatusCode::UNAUTHORIZED,
        ),
        case(
            Method::POST,
            &closing,
            &[("authorization", "Bearer wrong")],
            "",
            StatusCode::FORBIDDEN,
        ),
        case(
            Method::POST,
            "/polls/default/close",
            &[("authorization", &bearer)],
            "",
            StatusCode::FORBIDDEN,
        ),
        case(
            Method::POST,
            "/polls/nope123456/close",
            &[("authorization", &bearer)],
            "",
            StatusCode::NOT_FOUND,
        ),
        case(
            Method::GET,
            &closing,
            &[("authorization", &bearer)],
            "",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        case(
            Method::POST,
            &format!("/polls/{}/delete", poll.id),
            &[("authorization", &bearer)],
            "",
            StatusCode::NOT_FOUND,
        ),
        case(
            Method::POST,
            "/polls/..%2f..%2fetc/close",
            &[("authorization", &bearer)],
            "",
            StatusCode::NOT_FOUND,
        ),
        case(
            Method::POST,
            "/polls/a%00b/close",
            &[("authorization", &bearer)],
            "",
            StatusCode::NOT_FOUND,
        ),
        case(
            Method::POST,
            "/polls/x'%3B--/reopen",
            &[("authorization", &bearer)],
            "",
            StatusCode::NOT_FOUND,
        ),
        case(
            Method::POST,
            &closing,
            &[("authorization", &bearer), JSON],
            &"x".repeat(8_000),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        // Results for the admin.
        case(
            Method::GET,
            &format!("/results/{}/csv", poll.id),
            &[],
            "",
            StatusCode::UNAUTHORIZED,
        ),
        case(
            Method::GET,
            &format!("/results/{}/csv", poll.id),
            &[("authorization", "Bearer wrong")],
            "",
            StatusCode::FORBIDDEN,
        ),
        case(
            Method::GET,
            &format!("/results/{}", poll.id),
            &[("authorization", "Bearer wrong")],
            "",
            StatusCode::FORBIDDEN,
        ),
        case(
            Method::GET,
            "/results/default/csv",
            &[("authorization", &bearer)],
            "",
            StatusCode::FORBIDDEN,
        ),
        case(
            Method::GET,
            "/results/..%2fetc/csv",
            &[("authorization", &bearer)],
            "",
            StatusCode::NOT_FOUND,
        ),
        case(
            Method::POST,
            &format!("/results/{}/csv", poll.id),
            &[("authorization", &bearer)],
            "",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (method, path, headers, body, status) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = client
            .send(method.clone(), path, &headers, body.clone())
            .await;
        assert_eq!(
            reply.status, *status,
            "{method} {path} {body:.80}: {:?}",
            reply.body
        );
        assert!(
            !reply.error().is_empty(),
            "{method} {path}: JSON error body"
        );
    }

    let length_after: u64 = stack.redis().await.xlen(&stream).await.unwrap();
    assert_eq!(
        length_after, length_before,
        "no bad request reached the stream"
    );
    let polls: i64 = stack
        .postgres()
        .await
        .query_one("SELECT count(*) FROM polls", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        polls, 2,
        "the default poll and the one real poll, nothing else"
    );
    let document = results(&client, &poll.id, None).await;
    assert_eq!(document["open"], true, "no bad command closed the poll");
}
