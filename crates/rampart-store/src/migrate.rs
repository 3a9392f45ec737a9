//! Schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each concern adds its migrations to [`MIGRATIONS`] with the next free version number; a
//! migration is applied once, in its own transaction, and never edited after release.

use crate::StoreError;

/// One schema step.
pub(crate) struct Migration {
    /// The `user_version` after this step.
    pub version: i64,
    /// Which concern it belongs to (for messages).
    pub concern: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// All migrations in order. Append only.
pub(crate) const MIGRATIONS: &[Migration] = &[
    crate::presence::MIGRATION_1,
    crate::keys::MIGRATION_2,
    crate::usage::MIGRATION_3,
    crate::audit::MIGRATION_4,
    crate::incidents::MIGRATION_5,
];

/// The version a fully migrated file has.
pub(crate) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

pub(crate) fn migrate(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::TooNew {
            found: current,
            supported: LATEST,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let wrap = |source| StoreError::Migration {
            version: m.version,
            source,
        };
        let tx = conn.transaction().map_err(wrap)?;
        tx.execute_batch(m.sql).map_err(wrap)?;
        tx.pragma_update(None, "user_version", m.version)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        let _ = m.concern;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_strictly_increase() {
        for w in super::MIGRATIONS.windows(2) {
            assert!(
                w[1].version > w[0].version,
                "{} after {}",
                w[1].concern,
                w[0].concern
            );
        }
    }
}
