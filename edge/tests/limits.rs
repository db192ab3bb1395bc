//! Limits through a real socket: 431 for oversized heads (JSON below hyper's hard
//! ceiling, bare above it), 429 + Retry-After per client on the vote routes, and
//! forwarding fields believed only from trusted proxies; voter cookies handed out with
//! voting pages at the address's issuance rate, HTTPS-only where the client's connection
//! was (also through a trusted proxy that ended TLS).

mod client_side;

use client_side::{body_of, header_of, raw, start_edge, Edge};

async fn edge(extra: &[&str]) -> (Edge, tempfile::TempDir) {
    let www = tempfile::tempdir().expect("tempdir");
    std::fs::write(www.path().join("index.html"), "<h1>Tally</h1>").expect("write");
    let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
    (start_edge(www.path(), &extra, false).await, www)
}

fn status(answer: &str) -> &str {
    answer.get(9..12).unwrap_or("")
}

fn fields(count: usize, size: usize) -> String {
    (0..count)
        .map(|n| format!("\r\nX-Field-{n}: {}", "v".repeat(size)))
        .collect()
}

/// RFC 6585 §5: too many fields or too many bytes → 431 with a JSON body.
#[tokio::test]
async fn oversized_heads_are_431() {
    let (edge, _www) = edge(&["--max-headers=20", "--max-header-bytes=4096"]).await;
    let fine = raw(
        edge.plain,
        &format!("GET / HTTP/1.1\r\nHost: t{}", fields(10, 10)),
    )
    .await;
    assert_eq!(status(&fine), "200");

    let many = raw(
        edge.plain,
        &format!("GET / HTTP/1.1\r\nHost: t{}", fields(25, 10)),
    )
    .await;
    assert_eq!(status(&many), "431", "{many}");
    assert_eq!(
        body_of(&many),
        "{\"error\":\"more than 20 request header fields\"}"
    );
    assert!(header_of(&many, "content-security-policy").is_some());

    let large = raw(
        edge.plain,
        &format!("GET / HTTP/1.1\r\nHost: t{}", fields(1, 5000)),
    )
    .await;
    assert_eq!(status(&large), "431", "{large}");
    assert!(body_of(&large).contains("larger than 4096 bytes"));

    // Past twice the limit hyper stops reading and answers 431 itself.
    let absurd = raw(
        edge.plain,
        &format!("GET / HTTP/1.1\r\nHost: t{}", fields(1, 20_000)),
    )
    .await;
    assert_eq!(status(&absurd), "431", "{absurd}");
}

/// RFC 6585 §4: over the rate, 429 with Retry-After and JSON; static files are not limited.
#[tokio::test]
async fn votes_over_the_rate_are_429() {
    let (edge, _www) = edge(&["--rate-limit=1/m burst 2"]).await;
    let vote = "POST /vote HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nvote=a";
    assert_eq!(status(&raw(edge.plain, vote).await), "202");
    assert_eq!(status(&raw(edge.plain, vote).await), "202");
    let limited = raw(edge.plain, vote).await;
    assert_eq!(status(&limited), "429", "{limited}");
    let wait: u64 = header_of(&limited, "retry-after")
        .and_then(|value| value.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        body_of(&limited),
        "{\"error\":\"too many requests; retry later\"}"
    );
    assert_eq!(
        status(&raw(edge.plain, "GET / HTTP/1.1\r\nHost: t").await),
        "200"
    );

    // An untrusted peer cannot claim to be someone else to get a fresh bucket.
    let spoofed = "POST /vote HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.9\r\nContent-Length: 6\r\n\r\nvote=a";
    assert_eq!(status(&raw(edge.plain, spoofed).await), "429");
}

/// Behind a trusted proxy, each forwarded client has its own bucket.
#[tokio::test]
async fn trusted_proxies_name_the_client() {
    let (edge, _www) = edge(&["--rate-limit=1/m burst 1", "--trusted-proxies=127.0.0.0/8"]).await;
    let vote = |client: &str| {
        format!("POST /vote HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: {client}\r\nContent-Length: 6\r\n\r\nvote=a")
    };
    assert_eq!(status(&raw(edge.plain, &vote("203.0.113.1")).await), "202");
    assert_eq!(status(&raw(edge.plain, &vote("203.0.113.1")).await), "429");
    assert_eq!(status(&raw(edge.plain, &vote("203.0.113.2")).await), "202");
    let forwarded = "POST /vote HTTP/1.1\r\nHost: t\r\nForwarded: for=\"[2001:db8::1]:443\"\r\nContent-Length: 6\r\n\r\nvote=a";
    assert_eq!(status(&raw(edge.plain, forwarded).await), "202");
}

/// A hall behind one address: each voter with a valid cookie has a bucket of its own;
/// without one, or with a cookie signed by another key, the address's bucket.
#[tokio::test]
async fn voters_behind_one_address_each_have_their_own_rate() {
    const KEY: &str = "limits-test-cookie-key-0123456789abcdef";
    let (edge, _www) = edge(&[
        "--rate-limit=1/m burst 1",
        "--voter-rate-limit=1/m burst 2",
        &format!("--cookie-key={KEY}"),
    ])
    .await;
    let vote = |cookie: &str| {
        format!(
            "POST /vote HTTP/1.1\r\nHost: t\r\nCookie: {cookie}\r\nContent-Length: 6\r\n\r\nvote=a"
        )
    };
    let signer = tally_voter::VoterSigner::new(KEY.as_bytes());
    for n in 0..50 {
        let cookie = format!("tally_voter={}", signer.sign(&format!("phone{n}")));
        assert_eq!(
            status(&raw(edge.plain, &vote(&cookie)).await),
            "202",
            "phone {n}"
        );
        assert_eq!(
            status(&raw(edge.plain, &vote(&cookie)).await),
            "202",
            "phone {n}"
        );
        assert_eq!(
            status(&raw(edge.plain, &vote(&cookie)).await),
            "429",
            "phone {n}"
        );
    }
    let forged = tally_voter::VoterSigner::new(b"some-other-key-0123456789abcdef012345");
    let forged = format!("tally_voter={}", forged.sign("mallory"));
    assert_eq!(status(&raw(edge.plain, &vote(&forged)).await), "202");
    assert_eq!(
        status(&raw(edge.plain, &vote(&forged)).await),
        "429",
        "a forged cookie spends the address's one token"
    );
}

/// Creating polls and events has a bucket of its own, per address, whatever the cookie.
#[tokio::test]
async fn creation_is_limited_on_its_own() {
    let (edge, _www) = edge(&["--create-rate-limit=2/h burst 2"]).await;
    let create = |path: &str| {
        format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}")
    };
    assert_ne!(status(&raw(edge.plain, &create("/polls")).await), "429");
    assert_ne!(status(&raw(edge.plain, &create("/events")).await), "429");
    let limited = raw(edge.plain, &create("/polls")).await;
    assert_eq!(status(&limited), "429", "{limited}");
    let wait: u64 = header_of(&limited, "retry-after")
        .and_then(|value| value.parse().ok())
        .expect("Retry-After");
    assert!((1..=1800).contains(&wait), "{wait}");
    let vote = "POST /vote HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nvote=a";
    assert_eq!(
        status(&raw(edge.plain, vote).await),
        "202",
        "votes are not creations"
    );
}

/// The voting page hands a new browser its voter cookie, which the vote service will
/// take; a browser that sends a valid one gets none. Past the address's issuance rate
/// the page is still served, without a cookie, and other pages never carry one.
#[tokio::test]
async fn voting_pages_hand_out_voter_cookies_at_the_address_rate() {
    const KEY: &str = "issue-test-cookie-key-0123456789abcdef";
    let (edge, _www) = edge(&[
        "--new-voter-rate-limit=1/h burst 3",
        &format!("--cookie-key={KEY}"),
    ])
    .await;
    let page = |cookie: &str| format!("GET / HTTP/1.1\r\nHost: t\r\n{cookie}\r\n");
    let signer = tally_voter::VoterSigner::new(KEY.as_bytes());
    let first = raw(edge.plain, &page("")).await;
    assert_eq!(status(&first), "200", "{first}");
    let set = header_of(&first, "set-cookie").expect("a voter cookie");
    let value = set
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("tally_voter="))
        .expect("tally_voter=…");
    assert!(
        signer.verify(value).is_some(),
        "signed with the vote key: {set}"
    );
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert_eq!(
        header_of(&first, "cache-control"),
        Some("private, no-cache")
    );

    let kept = raw(
        edge.plain,
        &page(&format!("Cookie: tally_voter={value}\r\n")),
    )
    .await;
    assert_eq!(status(&kept), "200");
    assert_eq!(header_of(&kept, "set-cookie"), None, "it has one");
    assert_eq!(header_of(&kept, "cache-control"), Some("no-cache"));

    let forged = tally_voter::VoterSigner::new(b"some-other-key-0123456789abcdef012345");
    let forged = format!("Cookie: tally_voter={}\r\n", forged.sign("mallory"));
    let replaced = raw(edge.plain, &page(&forged)).await;
    assert!(
        header_of(&replaced, "set-cookie").is_some(),
        "a forged one is none"
    );
    assert!(header_of(&raw(edge.plain, &page("")).await, "set-cookie").is_some());

    let over = raw(edge.plain, &page("")).await;
    assert_eq!(status(&over), "200", "the page is served all the same");
    assert_eq!(
        header_of(&over, "set-cookie"),
        None,
        "over the address's burst of 3"
    );
    let missing = raw(edge.plain, "GET /missing.css HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(header_of(&missing, "set-cookie"), None);
}

/// Behind a proxy that ends TLS, the cookie is still HTTPS-only: when that proxy is
/// trusted and says so. Anyone else claiming HTTPS changes nothing.
#[tokio::test]
async fn a_trusted_proxys_https_marks_the_voter_cookie_secure() {
    let page = "GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https\r\n\r\n";
    for (trusted, secure) in [("127.0.0.0/8", true), ("10.0.0.0/8", false)] {
        let (edge, _www) = edge(&[&format!("--trusted-proxies={trusted}")]).await;
        let answer = raw(edge.plain, page).await;
        let set = header_of(&answer, "set-cookie").expect("a voter cookie");
        assert_eq!(set.contains("Secure"), secure, "proxies {trusted}: {set}");
    }
    let (edge, _www) = edge(&["--trusted-proxies=127.0.0.0/8"]).await;
    let plain = raw(edge.plain, "GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let set = header_of(&plain, "set-cookie").expect("a voter cookie");
    assert!(!set.contains("Secure"), "plain HTTP all the way: {set}");
}

#[tokio::test]
async fn the_rate_limit_can_be_switched_off() {
    let (edge, _www) = edge(&["--rate-limit=off"]).await;
    let vote = "POST /vote HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nvote=a";
    for _ in 0..50 {
        assert_eq!(status(&raw(edge.plain, vote).await), "202");
    }
}
