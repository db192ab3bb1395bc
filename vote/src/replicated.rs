//! `VOTE_DURABILITY=replicated`: entries are appended in groups, each group followed by
//! one `WAIT`, so that one round trip to the replicas confirms every vote of the group.
//! `WAIT` blocks the connection it is sent on (and counts only that connection's
//! writes), so the groups go out on connections of their own, never on the one that
//! reads poll definitions.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Value;
use tally_model::Keys;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::error::VoteError;
use crate::queue::xadd_fields;

/// Most entries in one group: about 100 KB of pipeline, far more than a replica round
/// trip's worth of votes at the vote path's rate.
const GROUP_MAX: usize = 512;

/// Writers sending groups: while one waits for its replicas, the next group forms and
/// goes out, so a vote waits at most about two round trips under load.
const WRITERS: usize = 2;

/// Entries waiting for a writer; beyond, a vote is refused with 503 rather than queued
/// without bound in the service's memory.
const WAITING_MAX: usize = 16_384;

/// One entry waiting to be appended, and where its outcome goes.
struct Pending {
    fields: Vec<(&'static str, String)>,
    outcome: oneshot::Sender<Result<String, VoteError>>,
}

/// Appends entries and answers once `replicas` replicas have them.
#[derive(Debug, Clone)]
pub struct ReplicatedAppender {
    waiting: mpsc::Sender<Pending>,
    replicas: u32,
}

/// What every writer needs.
struct Writing {
    keys: Keys,
    replicas: u32,
    timeout: Duration,
}

impl ReplicatedAppender {
    /// Starts the writers, each on a connection from `connect`; `WAIT` gives up after
    /// `timeout`. Returns the appender and the writers' tasks (they end when every
    /// clone of the appender is dropped).
    pub fn start(
        connect: impl Fn() -> redis::RedisResult<ConnectionManager>,
        keys: Keys,
        replicas: u32,
        timeout: Duration,
    ) -> redis::RedisResult<(ReplicatedAppender, Vec<JoinHandle<()>>)> {
        let (waiting, receiver) = mpsc::channel(WAITING_MAX);
        let receiver = Arc::new(Mutex::new(receiver));
        let writing = Arc::new(Writing {
            keys,
            replicas,
            timeout,
        });
        let mut writers = Vec::with_capacity(WRITERS);
        for _ in 0..WRITERS {
            let redis = connect()?;
            writers.push(tokio::spawn(write_groups(
                receiver.clone(),
                redis,
                writing.clone(),
            )));
        }
        Ok((ReplicatedAppender { waiting, replicas }, writers))
    }

    /// How many replicas confirm each entry.
    pub fn replicas(&self) -> u32 {
        self.replicas
    }

    /// Appends an entry with `fields`; its stream entry id once the replicas have it.
    pub async fn append(&self, fields: &[(&'static str, String)]) -> Result<String, VoteError> {
        let (outcome, answer) = oneshot::channel();
        let pending = Pending {
            fields: fields.to_vec(),
            outcome,
        };
        self.waiting
            .try_send(pending)
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => VoteError::Busy,
                mpsc::error::TrySendError::Closed(_) => VoteError::QueueUnavailable,
            })?;
        answer.await.unwrap_or(Err(VoteError::QueueUnavailable))
    }
}

/// Takes whatever is waiting (up to [`GROUP_MAX`]), appends it and waits for the
/// replicas, until every sender is gone.
async fn write_groups(
    receiver: Arc<Mutex<mpsc::Receiver<Pending>>>,
    mut redis: ConnectionManager,
    writing: Arc<Writing>,
) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    loop {
        let received = receiver.lock().await.recv_many(&mut group, GROUP_MAX).await;
        if received == 0 {
            return;
        }
        let outcomes = append_group(&mut redis, &writing, &group).await;
        for (pending, outcome) in group.drain(..).zip(outcomes) {
            // The request may have gone (client left); its entry stands either way.
            let _ = pending.outcome.send(outcome);
        }
    }
}

/// Appends `group` in one pipeline ended by `WAIT`; one outcome per entry.
async fn append_group(
    redis: &mut ConnectionManager,
    writing: &Writing,
    group: &[Pending],
) -> Vec<Result<String, VoteError>> {
    let mut pipe = redis::pipe();
    for pending in group {
        pipe.add_command(xadd_fields(&writing.keys, &pending.fields));
    }
    let timeout_ms = u64::try_from(writing.timeout.as_millis()).unwrap_or(u64::MAX);
    pipe.cmd("WAIT").arg(writing.replicas).arg(timeout_ms);
    let replies: Vec<Value> = match pipe.query_async(redis).await {
        Ok(replies) => replies,
        Err(error) => {
            tracing::warn!(%error, entries = group.len(), "XADD + WAIT failed");
            return group
                .iter()
                .map(|_| Err(VoteError::QueueUnavailable))
                .collect();
        }
    };
    let confirmed = match replies.last() {
        Some(Value::Int(replicas)) => *replicas,
        _ => 0,
    };
    if confirmed < i64::from(writing.replicas) {
        tracing::warn!(
            confirmed,
            wanted = writing.replicas,
            entries = group.len(),
            "replicas did not confirm appended votes in time"
        );
        return group
            .iter()
            .map(|_| Err(VoteError::NotReplicated))
            .collect();
    }
    replies
        .iter()
        .take(group.len())
        .map(|reply| match reply {
            Value::BulkString(id) => Ok(String::from_utf8_lossy(id).into_owned()),
            Value::SimpleString(id) => Ok(id.clone()),
            _ => Err(VoteError::QueueUnavailable),
        })
        .collect()
}
