//! What a `202` promises about where the vote is: in Redis (`written`), on the Redis
//! primary's disk (`fsync`), or on a replica too (`replicated`). `fsync` relies on Redis
//! itself fsyncing every write before it answers (`appendonly yes`, `appendfsync always`:
//! Redis fsyncs once per event-loop turn, for every client's writes of that turn), and
//! this module keeps checking that it does, so the promise is never made blind.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

/// How durable an appended entry is before the vote service answers `202`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Redis has the entry: on disk within its `appendfsync` interval (`everysec`: a
    /// power cut can lose the last second of accepted votes; a crash of Redis alone
    /// loses nothing, the kernel has the write).
    Written,
    /// The Redis primary has the entry on disk: the service checks that Redis runs with
    /// `appendonly yes` and `appendfsync always`, and refuses votes (503) while it does not.
    Fsync,
    /// At least `VOTE_DURABILITY_REPLICAS` replicas have the entry (`WAIT`); a vote no
    /// replica confirmed in time gets 503 (it may still be counted: send it again, a
    /// voter's ballot is replaced, not added).
    Replicated,
}

/// How often Redis's persistence settings are read again in `fsync` mode: an operator's
/// `CONFIG SET appendfsync everysec` stops votes within this long.
pub const FSYNC_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// How soon the settings are read again when they could not be read: votes wait for
/// the check, so a Redis back from a restart takes votes again within this long.
const UNREADABLE_RECHECK: Duration = Duration::from_millis(100);

/// Whether Redis fsyncs every write, as last seen.
#[derive(Debug)]
pub struct FsyncCheck {
    state: AtomicU8,
}

impl Default for FsyncCheck {
    fn default() -> Self {
        FsyncCheck {
            state: AtomicU8::new(UNKNOWN),
        }
    }
}

/// Not yet read (the first check runs at start).
const UNKNOWN: u8 = 0;
/// `appendonly yes` and `appendfsync always`.
const EVERY_WRITE: u8 = 1;
/// Persistence is off or fsyncs less often than every write.
const NOT_EVERY_WRITE: u8 = 2;
/// The settings could not be read (Redis away, or `CONFIG` not permitted).
const UNREADABLE: u8 = 3;

impl FsyncCheck {
    /// `Ok` when the last check saw Redis fsync every write, otherwise why not.
    pub fn verdict(&self) -> Result<(), &'static str> {
        match self.state.load(Ordering::Relaxed) {
            EVERY_WRITE => Ok(()),
            NOT_EVERY_WRITE => Err("Redis does not fsync every write (VOTE_DURABILITY=fsync \
                 needs appendonly yes and appendfsync always)"),
            UNREADABLE => Err("Redis's persistence settings could not be read"),
            _ => Err("Redis's persistence settings are not checked yet"),
        }
    }

    /// Reads Redis's settings every [`FSYNC_CHECK_INTERVAL`] (sooner while they cannot be
    /// read) until the task is aborted.
    pub fn watch(self: &Arc<Self>, redis: ConnectionManager) -> tokio::task::JoinHandle<()> {
        let check = self.clone();
        tokio::spawn(async move {
            loop {
                let state = match fsyncs_every_write(&mut redis.clone()).await {
                    Ok(true) => EVERY_WRITE,
                    Ok(false) => NOT_EVERY_WRITE,
                    Err(error) => {
                        tracing::debug!(%error, "reading Redis's persistence settings failed");
                        UNREADABLE
                    }
                };
                let before = check.state.swap(state, Ordering::Relaxed);
                if state == NOT_EVERY_WRITE && before != NOT_EVERY_WRITE {
                    tracing::error!(
                        "VOTE_DURABILITY=fsync but Redis does not fsync every write: votes are \
                         refused until Redis runs with appendonly yes and appendfsync always"
                    );
                }
                let pause = match state {
                    UNREADABLE => UNREADABLE_RECHECK,
                    _ => FSYNC_CHECK_INTERVAL,
                };
                tokio::time::sleep(pause).await;
            }
        })
    }
}

/// Whether Redis has `appendonly yes` and `appendfsync always`.
async fn fsyncs_every_write(redis: &mut ConnectionManager) -> redis::RedisResult<bool> {
    let (appendonly, appendfsync): (Vec<String>, Vec<String>) = redis::pipe()
        .cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .cmd("CONFIG")
        .arg("GET")
        .arg("appendfsync")
        .query_async(redis)
        .await?;
    let value = |pair: &[String]| pair.get(1).map(|value| value.to_ascii_lowercase());
    Ok(value(&appendonly).as_deref() == Some("yes")
        && value(&appendfsync).as_deref() == Some("always"))
}
