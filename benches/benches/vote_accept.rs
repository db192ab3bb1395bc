//! The vote service's accept path without the network: decode the body, check it
//! against the poll, verify (or issue) the voter cookie, and encode the `XADD`; and,
//! beside the cookie's parts, what a `code` poll (a thousand codes) and a `passcode`
//! poll add to it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally_model::passcode::hash_passcode;
use tally_model::voter_code::{code_from_random, hash_code, VOTER_CODE_CHARS};
use tally_model::{Choice, Identity, Keys, PollDefinition, PollOption, VoteEntry};
use tally_vote::ballot::{decode_ballot, BodyFormat};
use tally_vote::queue::xadd_command;
use tally_voter::VoterSigner;

fn poll() -> PollDefinition {
    PollDefinition {
        id: "default".into(),
        question: "Cats vs Dogs".into(),
        choice: Choice::Single,
        open: true,
        options: vec![
            PollOption {
                id: "a".into(),
                label: "Cats".into(),
            },
            PollOption {
                id: "b".into(),
                label: "Dogs".into(),
            },
        ],
        closes_at: None,
        hide_results: false,
        admin_hash: None,
        event: None,
        blocked_words: Vec::new(),
        words: None,
        identity: Default::default(),
        voter_code_hashes: Vec::new(),
        passcode_hash: None,
    }
}

/// The whole accept path for one request; returns the encoded command's length.
fn accept(
    format: BodyFormat,
    body: &[u8],
    cookie: Option<&str>,
    signer: &VoterSigner,
    poll: &PollDefinition,
    keys: &Keys,
) -> usize {
    let ballot = decode_ballot(format, body).expect("valid ballot");
    poll.check_ballot(&ballot.options).expect("fits the poll");
    let voter = match cookie.and_then(|value| signer.verify(value)) {
        Some(voter) => voter.to_owned(),
        None => {
            let voter = VoterSigner::new_voter_id();
            black_box(signer.set_cookie(&voter, false));
            voter
        }
    };
    let entry = VoteEntry {
        vote_id: "0192f0c1a2b37c4d8e9f0a1b2c3d4e5f".into(),
        poll: ballot.poll,
        options: ballot.options,
        voter,
        at_ms: 1_700_000_000_000,
        words: false,
    };
    xadd_command(keys, &entry).get_packed_command().len()
}

/// `poll` behind a thousand voter codes (the most a poll takes), and the last of them
/// as a voter would type it.
fn code_poll(poll: &PollDefinition) -> (PollDefinition, String) {
    let codes: Vec<String> = (0..1000u32)
        .map(|n| {
            let mut random = [0u8; VOTER_CODE_CHARS];
            random[..4].copy_from_slice(&n.to_le_bytes());
            code_from_random(random)
        })
        .collect();
    let mut hashes: Vec<String> = codes.iter().map(|code| hash_code(&poll.id, code)).collect();
    hashes.sort();
    let mut code_poll = poll.clone();
    code_poll.identity = Identity::Code;
    code_poll.voter_code_hashes = hashes;
    (code_poll, codes[999].to_lowercase())
}

fn bench_accept(c: &mut Criterion) {
    let signer = VoterSigner::new(b"bench-cookie-key-0123456789abcdefghij");
    let poll = poll();
    let keys = Keys::default();
    let cookie = signer.sign(&VoterSigner::new_voter_id());

    let mut group = c.benchmark_group("vote_accept");
    group.throughput(Throughput::Elements(1));
    group.bench_function("json_known_voter", |b| {
        let body = br#"{"poll":"default","option":"a"}"#;
        b.iter(|| {
            accept(
                BodyFormat::Json,
                black_box(body),
                Some(&cookie),
                &signer,
                &poll,
                &keys,
            )
        })
    });
    group.bench_function("classic_form_new_voter", |b| {
        b.iter(|| {
            accept(
                BodyFormat::Form,
                black_box(b"vote=a"),
                None,
                &signer,
                &poll,
                &keys,
            )
        })
    });
    group.finish();

    let mut parts = c.benchmark_group("vote_accept_parts");
    parts.bench_function("decode_json", |b| {
        b.iter(|| {
            decode_ballot(
                BodyFormat::Json,
                black_box(br#"{"poll":"default","option":"a"}"#),
            )
        })
    });
    parts.bench_function("verify_cookie", |b| {
        b.iter(|| signer.verify(black_box(&cookie)).is_some())
    });
    parts.bench_function("sign_cookie", |b| {
        b.iter(|| signer.sign(black_box("AAAAAAAAAAAAAAAAAAAAAA")))
    });
    let (code_poll, code) = code_poll(&poll);
    parts.bench_function("check_voter_code_of_1000", |b| {
        b.iter(|| {
            let code = code_poll.voter_code(black_box(&code)).expect("known code");
            signer.code_voter(&code_poll.id, &code)
        })
    });
    let mut passcode_poll = poll.clone();
    passcode_poll.identity = Identity::Passcode;
    passcode_poll.passcode_hash = Some(hash_passcode(&poll.id, "tiger lake"));
    parts.bench_function("check_passcode", |b| {
        b.iter(|| passcode_poll.passcode_matches(black_box("Tiger Lake")))
    });
    parts.finish();
}

criterion_group!(benches, bench_accept);
criterion_main!(benches);
