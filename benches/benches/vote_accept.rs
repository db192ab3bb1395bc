//! The vote service's accept path without the network: decode the body, check it
//! against the poll, verify (or issue) the voter cookie, and encode the `XADD`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally_model::{Choice, Keys, PollDefinition, PollOption, VoteEntry};
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
    parts.finish();
}

criterion_group!(benches, bench_accept);
criterion_main!(benches);
