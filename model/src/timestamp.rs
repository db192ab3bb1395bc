//! Instants as the API writes them (RFC 3339) and as the stream carries them
//! (milliseconds since the Unix epoch).
//!
//! Clients send RFC 3339 (`2026-05-01T18:00:00Z`, `…+02:00`); a browser's
//! `datetime-local` field sends `2026-05-01T18:00` without an offset, which is read as UTC.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The text is not an instant this API understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 date-time (e.g. 2026-05-01T18:00:00Z)")]
pub struct BadTimestamp(pub String);

/// Milliseconds since the Unix epoch for `text`: RFC 3339, or a `datetime-local`
/// value (`YYYY-MM-DDTHH:MM[:SS]`) taken as UTC. Instants before 1970 are refused.
pub fn parse_ms(text: &str) -> Result<u64, BadTimestamp> {
    let bad = || BadTimestamp(text.chars().take(60).collect());
    let text = text.trim();
    let instant = OffsetDateTime::parse(text, &Rfc3339).or_else(|_| {
        let with_seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let without = format_description!("[year]-[month]-[day]T[hour]:[minute]");
        PrimitiveDateTime::parse(text, with_seconds)
            .or_else(|_| PrimitiveDateTime::parse(text, without))
            .map(|local| local.assume_offset(UtcOffset::UTC))
    });
    let instant = instant.map_err(|_| bad())?;
    u64::try_from(instant.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

/// `ms` as RFC 3339 in UTC with milliseconds (`2026-05-01T18:00:00.000Z`), the form
/// the results document uses for every instant.
pub fn format_ms(ms: u64) -> String {
    let instant = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    instant.format(format).unwrap_or_default()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc3339_with_any_offset_and_datetime_local_as_utc() {
        let utc = 1_777_658_400_000; // 2026-05-01T18:00:00Z
        for text in [
            "2026-05-01T18:00:00Z",
            "2026-05-01T18:00:00.000Z",
            "2026-05-01T20:00:00+02:00",
            "2026-05-01T18:00",
            "2026-05-01T18:00:00",
            " 2026-05-01T18:00:00Z ",
        ] {
            assert_eq!(parse_ms(text), Ok(utc), "{text}");
        }
        assert_eq!(parse_ms("2026-05-01T18:00:00.25Z"), Ok(utc + 250));
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        for text in [
            "",
            "tomorrow",
            "2026-13-01T00:00:00Z",
            "2026-05-01",
            "1969-12-31T23:59:59Z",
            "2026-05-01T18:00:00Z; DROP",
        ] {
            assert!(parse_ms(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn formats_in_utc_with_milliseconds_and_round_trips() {
        assert_eq!(format_ms(1_777_658_400_250), "2026-05-01T18:00:00.250Z");
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        let ms = 1_800_000_123_456;
        assert_eq!(parse_ms(&format_ms(ms)), Ok(ms));
    }
}
