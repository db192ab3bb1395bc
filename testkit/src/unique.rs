//! Names that are unique within this process and across concurrently running test processes.

use std::sync::atomic::{AtomicU64, Ordering};

/// Per-process counter; combined with the pid it makes names unique across processes too.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Next value of the per-process counter.
fn next() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A key prefix unique in this process and across processes, e.g. `"t4242_7:"` for Redis keys.
pub fn unique_prefix() -> String {
    format!("t{}_{}:", std::process::id(), next())
}

/// A lower-case identifier unique in this process and across processes, e.g. `"t_4242_7"`,
/// usable unquoted as a PostgreSQL database name.
pub(crate) fn unique_identifier() -> String {
    format!("t_{}_{}", std::process::id(), next())
}
