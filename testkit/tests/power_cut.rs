//! The power-cut directory: real file operations through the FUSE mount, then the kit's real
//! redis-server keeping its append-only file there, killed (SIGKILL) and "cut".

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tally_testkit::{CutReport, PowerCutDir, RedisServer};

/// Keys each redis test writes: enough for a few kilobytes of append-only file.
const KEYS: usize = 200;

/// redis 7's incremental append-only file in a fresh data directory (default `appenddirname`
/// and `appendfilename`).
const INCR_AOF: &str = "appendonlydir/appendonly.aof.1.incr.aof";

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read through the mount")
}

fn append(path: &Path, data: &[u8]) -> File {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for appending");
    file.write_all(data).expect("append");
    file
}

#[test]
fn unsynced_appends_are_dropped_and_synced_data_survives() {
    let dir = PowerCutDir::mount();
    let log = dir.path().join("log");
    append(&log, b"synced ").sync_all().unwrap();
    drop(append(&log, b"unsynced"));
    assert_eq!(read(&log), b"synced unsynced", "reads see unsynced writes");

    let report = dir.cut();
    assert_eq!(read(&log), b"synced ");
    assert_eq!(
        report,
        CutReport {
            files: vec![PathBuf::from("log")],
            bytes_dropped: 8,
            bytes_restored: 0,
        }
    );
}

#[test]
fn data_synced_with_fdatasync_survives() {
    let dir = PowerCutDir::mount();
    let path = dir.path().join("data");
    let mut file = File::create(&path).unwrap();
    file.write_all(b"kept").unwrap();
    file.sync_data().unwrap();
    drop(file);

    assert_eq!(dir.cut(), CutReport::default());
    assert_eq!(read(&path), b"kept");
}

#[test]
fn an_unsynced_overwrite_of_synced_bytes_is_undone() {
    let dir = PowerCutDir::mount();
    let path = dir.path().join("page");
    std::fs::write(&path, b"hello world").unwrap();
    File::open(&path).unwrap().sync_all().unwrap();

    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.write_all(b"HELLO").unwrap();
    file.seek(SeekFrom::End(0)).unwrap();
    file.write_all(b"!").unwrap();
    assert_eq!(read(&path), b"HELLO world!");

    let report = dir.cut();
    assert_eq!(read(&path), b"hello world");
    assert_eq!((report.bytes_restored, report.bytes_dropped), (5, 1));

    // The cut reaches the kernel's view through a handle still open, too.
    let mut seen = Vec::new();
    File::open(&path).unwrap().read_to_end(&mut seen).unwrap();
    assert_eq!(seen, b"hello world");
    assert_eq!(file.metadata().unwrap().len(), 11);
}

#[test]
fn a_created_and_renamed_file_survives_without_its_unsynced_content() {
    let dir = PowerCutDir::mount();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let temp = dir.path().join("d/manifest.tmp");
    let final_path = dir.path().join("d/manifest");
    std::fs::write(&temp, b"unsynced content").unwrap();
    std::fs::rename(&temp, &final_path).unwrap();

    let report = dir.cut();
    assert_eq!(report.files, [PathBuf::from("d/manifest")]);
    assert!(!temp.exists());
    assert_eq!(
        read(&final_path),
        b"",
        "the name is durable, the data is not"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path().join("d"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["manifest"]);
}

#[test]
fn data_synced_after_a_cut_is_kept_by_the_next_cut() {
    let dir = PowerCutDir::mount();
    let path = dir.path().join("aof");
    drop(append(&path, b"lost"));
    assert_eq!(dir.cut().bytes_dropped, 4);
    assert_eq!(read(&path), b"");

    append(&path, b"kept").sync_data().unwrap();
    assert_eq!(dir.cut(), CutReport::default());
    assert_eq!(read(&path), b"kept");
}

#[test]
fn a_truncation_is_durable() {
    let dir = PowerCutDir::mount();
    let path = dir.path().join("file");
    append(&path, b"0123456789").sync_all().unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4)
        .unwrap();
    assert_eq!(dir.cut(), CutReport::default());
    assert_eq!(read(&path), b"0123");
}

/// Run one `redis-cli` command against the server on `port`; its output, trimmed.
fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli on PATH");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `SET key:<i> value:<i>` for each `i` in 0..`count`, each acknowledged.
fn set_keys(port: u16, count: usize) {
    let commands: String = (0..count)
        .map(|i| format!("SET key:{i} value:{i}\n"))
        .collect();
    let mut cli = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli on PATH");
    cli.stdin
        .take()
        .expect("redis-cli's stdin")
        .write_all(commands.as_bytes())
        .expect("commands to redis-cli");
    let output = cli.wait_with_output().expect("redis-cli's replies");
    let replies = String::from_utf8_lossy(&output.stdout);
    assert_eq!(replies.lines().filter(|line| *line == "OK").count(), count);
}

fn key_count(port: u16) -> usize {
    cli(port, &["DBSIZE"]).parse().expect("DBSIZE's reply")
}

#[test]
fn redis_with_appendfsync_always_keeps_every_acknowledged_write() {
    let dir = PowerCutDir::mount();
    let redis = RedisServer::options()
        .append_only("always")
        .data_dir(dir.path())
        .start();
    set_keys(redis.port(), KEYS);
    // An RDB snapshot too: a temp file, fsynced, renamed to dump.rdb.
    assert_eq!(cli(redis.port(), &["SAVE"]), "OK");
    redis.stop();

    let report = dir.cut();
    // The base file, the manifest (temp file, fsync, rename, fsync of the directory), the
    // snapshot and every write to the incremental AOF were fsynced before redis acknowledged them.
    assert_eq!(report, CutReport::default());
    assert!(
        std::fs::metadata(dir.path().join("dump.rdb"))
            .unwrap()
            .len()
            > 0
    );
    redis.restart();
    assert_eq!(key_count(redis.port()), KEYS);
}

#[test]
fn redis_with_appendfsync_no_loses_everything_since_its_aof_file_was_created() {
    let dir = PowerCutDir::mount();
    let redis = RedisServer::options()
        .append_only("no")
        .data_dir(dir.path())
        .start();
    set_keys(redis.port(), KEYS);
    redis.stop();

    // A crash alone loses nothing: the writes reached the (simulated) disk's cache.
    redis.restart();
    assert_eq!(key_count(redis.port()), KEYS);
    redis.stop();

    // redis never fsyncs the incremental AOF under `appendfsync no`: the cut empties it, and
    // only it (the base file and the manifest are fsynced whatever appendfsync says).
    let incr = dir.path().join(INCR_AOF);
    let written = std::fs::metadata(&incr).unwrap().len();
    assert!(written > (KEYS * "SET key:0 value:0".len()) as u64);
    let report = dir.cut();
    assert_eq!(report.files, [PathBuf::from(INCR_AOF)]);
    assert_eq!(report.bytes_dropped, written);
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), 0);
    redis.restart();
    assert_eq!(key_count(redis.port()), 0, "cut: {report:?}");
}
