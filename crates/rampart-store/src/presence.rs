//! Persistence for `rampart-presence`: per-user latency baselines and population priors.
//!
//! The store does not interpret the model: a baseline is a row with a few typed columns (user,
//! model version, number of sessions, last update) and the model itself as a JSON document, so the
//! presence crate can evolve its model (bumping `model_version`) without a schema change. Postgres
//! can keep the same shape with a `jsonb` column.

use crate::{Store, StoreError};
use rusqlite::OptionalExtension;

pub(crate) const MIGRATION_1: crate::migrate::Migration = crate::migrate::Migration {
    version: 1,
    concern: "presence",
    sql: "
        CREATE TABLE presence_baseline (
            user          TEXT PRIMARY KEY NOT NULL,
            model_version INTEGER NOT NULL,
            sessions      INTEGER NOT NULL,
            updated_ms    INTEGER NOT NULL,
            data          TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE presence_prior (
            name          TEXT PRIMARY KEY NOT NULL,
            model_version INTEGER NOT NULL,
            updated_ms    INTEGER NOT NULL,
            data          TEXT NOT NULL
        ) WITHOUT ROWID;
    ",
};

/// One user's baseline as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineRecord {
    /// The user id, as given in `login` events.
    pub user: String,
    /// Version of the presence model that wrote `data`.
    pub model_version: u32,
    /// Number of sessions folded into the baseline.
    pub sessions: u64,
    /// Server time (ms since the Unix epoch, or whatever clock the events use) of the last update.
    pub updated_ms: i64,
    /// The model, as JSON.
    pub data: String,
}

/// A named population prior as stored (e.g. `"default"`).
#[derive(Clone, Debug, PartialEq)]
pub struct PriorRecord {
    /// Name of the prior.
    pub name: String,
    /// Version of the presence model that wrote `data`.
    pub model_version: u32,
    /// Time of the last update.
    pub updated_ms: i64,
    /// The model, as JSON.
    pub data: String,
}

/// What the presence judgement needs from a store.
pub trait PresenceBaselines {
    /// The baseline of `user`, if any.
    fn load_baseline(&self, user: &str) -> Result<Option<BaselineRecord>, StoreError>;
    /// Insert or replace these baselines, atomically.
    fn save_baselines(&mut self, records: &[BaselineRecord]) -> Result<(), StoreError>;
    /// Number of users with a baseline.
    fn baseline_count(&self) -> Result<u64, StoreError>;
    /// The population prior called `name`, if any.
    fn load_prior(&self, name: &str) -> Result<Option<PriorRecord>, StoreError>;
    /// Insert or replace a population prior.
    fn save_prior(&mut self, record: &PriorRecord) -> Result<(), StoreError>;
}

impl PresenceBaselines for Store {
    fn load_baseline(&self, user: &str) -> Result<Option<BaselineRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT user, model_version, sessions, updated_ms, data FROM presence_baseline WHERE user = ?1",
        )?;
        Ok(st
            .query_row([user], |r| {
                Ok(BaselineRecord {
                    user: r.get(0)?,
                    model_version: r.get(1)?,
                    sessions: r.get::<_, i64>(2)?.max(0) as u64,
                    updated_ms: r.get(3)?,
                    data: r.get(4)?,
                })
            })
            .optional()?)
    }

    fn save_baselines(&mut self, records: &[BaselineRecord]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO presence_baseline (user, model_version, sessions, updated_ms, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(user) DO UPDATE SET model_version = excluded.model_version,
                   sessions = excluded.sessions, updated_ms = excluded.updated_ms, data = excluded.data",
            )?;
            for r in records {
                st.execute(rusqlite::params![
                    r.user,
                    r.model_version,
                    i64::try_from(r.sessions).unwrap_or(i64::MAX),
                    r.updated_ms,
                    r.data
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn baseline_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM presence_baseline", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    fn load_prior(&self, name: &str) -> Result<Option<PriorRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, model_version, updated_ms, data FROM presence_prior WHERE name = ?1",
        )?;
        Ok(st
            .query_row([name], |r| {
                Ok(PriorRecord {
                    name: r.get(0)?,
                    model_version: r.get(1)?,
                    updated_ms: r.get(2)?,
                    data: r.get(3)?,
                })
            })
            .optional()?)
    }

    fn save_prior(&mut self, record: &PriorRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO presence_prior (name, model_version, updated_ms, data) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET model_version = excluded.model_version,
               updated_ms = excluded.updated_ms, data = excluded.data",
            rusqlite::params![
                record.name,
                record.model_version,
                record.updated_ms,
                record.data
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(user: &str, sessions: u64, data: &str) -> BaselineRecord {
        BaselineRecord {
            user: user.into(),
            model_version: 1,
            sessions,
            updated_ms: 1_700_000_000_000 + sessions as i64,
            data: data.into(),
        }
    }

    #[test]
    fn baselines_round_trip_through_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rampart.db");
        {
            let mut s = Store::open(&path).unwrap();
            s.save_baselines(&[rec("alice", 2, r#"{"a":1}"#), rec("bob ☃", 5, "{}")])
                .unwrap();
            // Upsert replaces.
            s.save_baselines(&[rec("alice", 3, r#"{"a":2}"#)]).unwrap();
            s.save_prior(&PriorRecord {
                name: "default".into(),
                model_version: 1,
                updated_ms: 7,
                data: r#"{"p":1}"#.into(),
            })
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.baseline_count().unwrap(), 2);
        assert_eq!(
            s.load_baseline("alice").unwrap(),
            Some(rec("alice", 3, r#"{"a":2}"#))
        );
        assert_eq!(s.load_baseline("bob ☃").unwrap().unwrap().sessions, 5);
        assert_eq!(s.load_baseline("carol").unwrap(), None);
        let p = s.load_prior("default").unwrap().unwrap();
        assert_eq!((p.updated_ms, p.data.as_str()), (7, r#"{"p":1}"#));
        assert!(s.load_prior("other").unwrap().is_none());
    }

    #[test]
    fn two_connections_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rampart.db");
        let mut a = Store::open(&path).unwrap();
        let b = Store::open(&path).unwrap();
        a.save_baselines(&[rec("x", 1, "{}")]).unwrap();
        assert_eq!(b.load_baseline("x").unwrap().unwrap().sessions, 1);
    }
}
