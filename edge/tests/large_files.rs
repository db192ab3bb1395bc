//! Large static files through a real socket, which the edge sends from memory files
//! with sendfile(2): every byte arrives, in every form (whole, compressed, a range), on a
//! kept-alive connection that goes on working after them, and to a client reading so
//! slowly that each response goes out in many pieces.

mod client_side;

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use client_side::{start_edge, Edge};
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

/// Well above the edge's threshold for sending from a memory file (32 KiB), and many
/// socket buffers long.
const LARGE: usize = 3 * 1024 * 1024 + 17;

/// Bytes that do not compress: the file is only ever sent as it is.
fn noise(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rand::rngs::StdRng::seed_from_u64(7).fill(bytes.as_mut_slice());
    bytes
}

/// Text that compresses to about half (hex digits of noise), so that its gzip and
/// brotli forms are large too; 256 KiB, as brotli's densest setting compresses it at
/// start.
fn script() -> Vec<u8> {
    noise(128 * 1024)
        .iter()
        .flat_map(|byte| format!("{byte:02x}").into_bytes())
        .collect()
}

async fn edge_with(files: &[(&str, &[u8])]) -> (Edge, tempfile::TempDir) {
    let www = tempfile::tempdir().expect("tempdir");
    std::fs::write(www.path().join("index.html"), "<h1>Tally</h1>").expect("write");
    for (name, content) in files {
        std::fs::write(www.path().join(name), content).expect("write");
    }
    let edge = start_edge(www.path(), &[], false).await;
    (edge, www)
}

/// One response read off a kept-alive connection: its status, fields (lower-case names)
/// and exactly Content-Length bytes of body.
struct Answer {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Writes `head` (request line and fields, no blank line) and reads the answer; `pause`
/// sleeps between reads of at most `chunk` bytes, for a slow client.
async fn exchange(
    reader: &mut BufReader<TcpStream>,
    head: &str,
    chunk: usize,
    pause: Duration,
) -> Answer {
    reader
        .get_mut()
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line, got {line:?}"));
    let mut fields = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("field");
        let field = line.trim_end();
        if field.is_empty() {
            break;
        }
        let (name, value) = field.split_once(':').expect("name: value");
        fields.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut answer = Answer {
        status,
        fields,
        body: Vec::new(),
    };
    let length: usize = match (head.starts_with("HEAD "), answer.field("content-length")) {
        (true, _) | (_, None) => 0,
        (false, Some(length)) => length.parse().expect("a length"),
    };
    let mut piece = vec![0; chunk];
    while answer.body.len() < length {
        let want = chunk.min(length - answer.body.len());
        let read = reader.read(&mut piece[..want]).await.expect("body");
        assert!(
            read > 0,
            "the connection closed {} bytes early",
            length - answer.body.len()
        );
        answer.body.extend_from_slice(&piece[..read]);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    answer
}

async fn connect(edge: SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(edge).await.expect("connect"))
}

const FAST: (usize, Duration) = (64 * 1024, Duration::ZERO);

#[tokio::test]
async fn every_form_arrives_whole_on_one_connection() {
    let binary = noise(LARGE);
    let text = script();
    let (edge, _www) = edge_with(&[("big.bin", &binary), ("bundle.js", &text)]).await;
    let mut connection = connect(edge.plain).await;
    let (chunk, pause) = FAST;

    let whole = exchange(
        &mut connection,
        "GET /big.bin HTTP/1.1\r\nHost: t",
        chunk,
        pause,
    )
    .await;
    assert_eq!(whole.status, 200);
    assert_eq!(
        whole.field("content-length"),
        Some(LARGE.to_string().as_str())
    );
    assert!(whole.body == binary, "the body differs from the file");

    // The same connection, a range from the middle.
    let range = exchange(
        &mut connection,
        "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000000-1999999",
        chunk,
        pause,
    )
    .await;
    assert_eq!(range.status, 206);
    assert!(
        range.body == binary[1_000_000..2_000_000],
        "the range differs"
    );

    // The compressed form decodes to the file.
    let gzip = exchange(
        &mut connection,
        "GET /bundle.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip",
        chunk,
        pause,
    )
    .await;
    assert_eq!(gzip.status, 200);
    assert_eq!(gzip.field("content-encoding"), Some("gzip"));
    assert!(
        gzip.body.len() > 64 * 1024,
        "large enough to be sent from a file"
    );
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(gzip.body.as_slice())
        .read_to_end(&mut decoded)
        .expect("gzip");
    assert!(decoded == text, "the gzip form decodes to something else");

    // HEAD: the fields and no body; then a small file, written as before, on the same
    // connection, so the framing held.
    let head = exchange(
        &mut connection,
        "HEAD /big.bin HTTP/1.1\r\nHost: t",
        chunk,
        pause,
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.field("content-length"),
        Some(LARGE.to_string().as_str())
    );
    let page = exchange(&mut connection, "GET / HTTP/1.1\r\nHost: t", chunk, pause).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, b"<h1>Tally</h1>");
}

#[tokio::test]
async fn a_slow_reader_gets_every_byte() {
    let binary = noise(LARGE);
    let (edge, _www) = edge_with(&[("big.bin", &binary)]).await;
    // A small receive window: the edge's socket fills and each response is sent in
    // many pieces, each resumed where the last stopped.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(8 * 1024).expect("SO_RCVBUF");
    let stream = socket.connect(edge.plain).await.expect("connect");
    let mut connection = BufReader::new(stream);
    for _ in 0..2 {
        let answer = exchange(
            &mut connection,
            "GET /big.bin HTTP/1.1\r\nHost: t",
            16 * 1024,
            Duration::from_micros(200),
        )
        .await;
        assert_eq!(answer.status, 200);
        assert!(answer.body == binary, "the body differs from the file");
    }
}

#[tokio::test]
async fn many_clients_at_once_each_get_their_own_bytes() {
    let binary = noise(LARGE / 4);
    let text = script();
    let (edge, _www) = edge_with(&[("big.bin", &binary), ("bundle.js", &text)]).await;
    let clients = (0..16).map(|client| {
        let (binary, text) = (binary.clone(), text.clone());
        tokio::spawn(async move {
            let mut connection = connect(edge.plain).await;
            for round in 0..4 {
                let (path, expected) = if (client + round) % 2 == 0 {
                    ("/big.bin", &binary)
                } else {
                    ("/bundle.js", &text)
                };
                let answer = exchange(
                    &mut connection,
                    &format!("GET {path} HTTP/1.1\r\nHost: t"),
                    FAST.0,
                    FAST.1,
                )
                .await;
                assert_eq!(answer.status, 200);
                assert!(
                    answer.body == *expected,
                    "{path} differs for client {client}"
                );
            }
        })
    });
    for client in clients {
        client.await.expect("client");
    }
}
