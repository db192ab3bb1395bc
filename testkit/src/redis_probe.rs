//! Readiness probe for redis-server: raw RESP over TCP, no client library needed.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::launch::Probe;
use crate::ports::loopback;

/// How long connecting to, writing to or reading from the server may take during a probe.
const PROBE_IO_TIMEOUT: Duration = Duration::from_secs(1);

/// `CONFIG GET dir` as a RESP array, to tell our server from another one on the same port.
const CONFIG_GET_DIR: &[u8] = b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$3\r\ndir\r\n";

/// Lines in the reply to [`CONFIG_GET_DIR`]: `*2`, `$3`, `dir`, `$N`, the directory.
const CONFIG_GET_DIR_REPLY_LINES: usize = 5;

/// `PING` the server on `port`; if it answers `+PONG`, check that its working directory is `dir`.
pub(crate) fn probe(port: u16, dir: &Path) -> Probe {
    match ping_and_get_dir(port) {
        Some(reported) if same_dir(&reported, dir) => Probe::Ours,
        Some(_) => Probe::Foreign,
        None => Probe::NotYet,
    }
}

/// The server's `dir` setting if it answers `PING` with `+PONG`; `None` if it isn't ready.
fn ping_and_get_dir(port: u16) -> Option<String> {
    let stream = TcpStream::connect_timeout(&loopback(port), PROBE_IO_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_IO_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(PROBE_IO_TIMEOUT)).ok()?;
    let mut writer = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);

    writer.write_all(b"PING\r\n").ok()?;
    if !read_line(&mut reader)?.starts_with("+PONG") {
        return None;
    }

    writer.write_all(CONFIG_GET_DIR).ok()?;
    let mut lines = Vec::with_capacity(CONFIG_GET_DIR_REPLY_LINES);
    for _ in 0..CONFIG_GET_DIR_REPLY_LINES {
        lines.push(read_line(&mut reader)?);
    }
    lines.pop()
}

/// One CRLF-terminated line without its terminator.
fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

/// Whether the directory redis reports is `expected` (redis reports its canonical cwd).
fn same_dir(reported: &str, expected: &Path) -> bool {
    let expected_canonical = expected
        .canonicalize()
        .unwrap_or_else(|_| expected.to_path_buf());
    Path::new(reported) == expected || Path::new(reported) == expected_canonical
}
