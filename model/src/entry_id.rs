//! Redis stream entry ids (`<milliseconds>-<sequence>`), ordered as Redis orders them.
//!
//! The worker stores the id of the entry a ballot came from and lets a ballot be
//! replaced only by an entry with a larger id: that is what makes redelivery harmless
//! and keeps an older vote from overwriting a newer one.

use std::fmt;
use std::str::FromStr;

/// A stream entry id. Derived ordering compares `ms` first, then `seq`, as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId {
    /// Milliseconds part (the Redis server's clock when the entry was added).
    pub ms: u64,
    /// Sequence number within that millisecond.
    pub seq: u64,
}

/// The text was not `<u64>-<u64>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a stream entry id: {0:?}")]
pub struct BadEntryId(pub String);

impl FromStr for EntryId {
    type Err = BadEntryId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadEntryId(text.to_owned());
        let (ms, seq) = text.split_once('-').ok_or_else(bad)?;
        Ok(EntryId {
            ms: ms.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        let id: EntryId = "1700000000000-7".parse().unwrap();
        assert_eq!(
            id,
            EntryId {
                ms: 1_700_000_000_000,
                seq: 7
            }
        );
        assert_eq!(id.to_string(), "1700000000000-7");
    }

    #[test]
    fn orders_by_time_then_sequence() {
        let a: EntryId = "5-9".parse().unwrap();
        let b: EntryId = "6-0".parse().unwrap();
        let c: EntryId = "6-1".parse().unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "5", "5-", "-5", "a-1", "1-b", "1-2-3"] {
            assert!(text.parse::<EntryId>().is_err(), "{text:?} parsed");
        }
    }
}
