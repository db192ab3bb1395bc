//! Versioned SQL migrations, embedded in the binary and applied at start.
//!
//! All pending migrations run in one transaction under a transaction-scoped advisory
//! lock, so several workers starting at once apply each migration exactly once and a
//! failed migration leaves nothing half-done.

use tokio_postgres::Client;

/// Arbitrary but fixed: the advisory lock key that serialises migrations ("tally" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0074_616c_6c79;

/// The migrations, in order. A migration never changes once released; add a new one.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "polls_ballots_tallies",
        include_str!("../migrations/0001_polls_ballots_tallies.sql"),
    ),
    (
        2,
        "created_polls",
        include_str!("../migrations/0002_created_polls.sql"),
    ),
    (3, "events", include_str!("../migrations/0003_events.sql")),
    (
        4,
        "scale_questions",
        include_str!("../migrations/0004_scale_questions.sql"),
    ),
    (
        5,
        "ranking_questions",
        include_str!("../migrations/0005_ranking_questions.sql"),
    ),
    (
        6,
        "word_cloud_questions",
        include_str!("../migrations/0006_word_cloud_questions.sql"),
    ),
    (
        7,
        "ballot_export",
        include_str!("../migrations/0007_ballot_export.sql"),
    ),
    (
        8,
        "block_list_changes",
        include_str!("../migrations/0008_block_list_changes.sql"),
    ),
    (
        9,
        "ballot_minutes",
        include_str!("../migrations/0009_ballot_minutes.sql"),
    ),
    (
        10,
        "question_changes",
        include_str!("../migrations/0010_question_changes.sql"),
    ),
    (
        11,
        "replaced_questions",
        include_str!("../migrations/0011_replaced_questions.sql"),
    ),
    (
        12,
        "voter_identity",
        include_str!("../migrations/0012_voter_identity.sql"),
    ),
    (
        13,
        "voter_codes",
        include_str!("../migrations/0013_voter_codes.sql"),
    ),
    (
        14,
        "room_passcodes",
        include_str!("../migrations/0014_room_passcodes.sql"),
    ),
    (
        15,
        "event_voter_codes",
        include_str!("../migrations/0015_event_voter_codes.sql"),
    ),
];

/// Applies the migrations this database lacks; returns how many were applied.
pub async fn migrate(client: &mut Client) -> Result<usize, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version     integer PRIMARY KEY,
                 name        text NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let applied: Vec<i32> = transaction
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut count = 0;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tracing::info!(version, name, "applying migration");
        transaction.batch_execute(sql).await?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )
            .await?;
        count += 1;
    }
    transaction.commit().await?;
    Ok(count)
}
