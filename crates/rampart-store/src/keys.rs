//! Persistence for the gateway's virtual keys.
//!
//! A key is never stored: only its keyed hash (HMAC-SHA256 with the server secret, computed by
//! the gateway) and a short display hint. The gateway loads every key into memory at start and
//! re-reads them when [`VirtualKeys::keys_version`] changes, so the request path never queries
//! the database.

use crate::{Store, StoreError};
use rusqlite::OptionalExtension;

pub(crate) const MIGRATION_2: crate::migrate::Migration = crate::migrate::Migration {
    version: 2,
    concern: "gateway keys",
    sql: "
        CREATE TABLE gateway_key (
            id              TEXT PRIMARY KEY NOT NULL,
            name            TEXT NOT NULL,
            hash            BLOB NOT NULL UNIQUE,
            hint            TEXT NOT NULL,
            models          TEXT NOT NULL,
            rpm             INTEGER,
            tpm             INTEGER,
            max_concurrency INTEGER,
            budget_nanos    INTEGER,
            budget_period   TEXT,
            expires_ms      INTEGER,
            created_ms      INTEGER NOT NULL,
            revoked_ms      INTEGER,
            updated_ms      INTEGER NOT NULL,
            rotated_from    TEXT
        );
    ",
};

/// One virtual key as stored (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// Public identifier (`key_…`), safe to show and log.
    pub id: String,
    /// Human name given at creation.
    pub name: String,
    /// HMAC-SHA256 of the full key under the server secret.
    pub hash: Vec<u8>,
    /// Display hint: the prefix and the last characters (`rk-…Ab12cd`).
    pub hint: String,
    /// Models (or aliases) the key may use; empty = every configured model.
    pub models: Vec<String>,
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Concurrent requests.
    pub max_concurrency: Option<u32>,
    /// Spend budget in nano-USD (1e-9 USD).
    pub budget_nanos: Option<i64>,
    /// Budget period (`day`, `month`; `None` = the key's lifetime).
    pub budget_period: Option<String>,
    /// Expiry (ms since the Unix epoch).
    pub expires_ms: Option<i64>,
    /// Creation time (ms since the Unix epoch).
    pub created_ms: i64,
    /// Revocation time, when revoked.
    pub revoked_ms: Option<i64>,
    /// Last change (ms since the Unix epoch).
    pub updated_ms: i64,
    /// The key this one replaced by rotation.
    pub rotated_from: Option<String>,
}

/// A cheap summary that changes whenever any key changes: every change raises that key's
/// `updated_ms`, so the sum over all keys strictly increases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeysVersion {
    /// Number of keys, revoked included.
    pub count: i64,
    /// Sum of `updated_ms` over all keys.
    pub sum_updated_ms: i64,
}

/// What the gateway needs from a store for its virtual keys.
pub trait VirtualKeys {
    /// Store a new key. Fails when the id or hash already exists.
    fn insert_key(&mut self, record: &KeyRecord) -> Result<(), StoreError>;
    /// Every key, revoked ones included, oldest first.
    fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// One key by id.
    fn get_key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// Revoke a key; `false` when there is no such key or it was already revoked.
    fn revoke_key(&mut self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Revoke `old_id` and insert `new` in one transaction; `false` (and nothing changed) when
    /// `old_id` does not exist or is already revoked.
    fn rotate_key(
        &mut self,
        old_id: &str,
        new: &KeyRecord,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// The change marker.
    fn keys_version(&self) -> Result<KeysVersion, StoreError>;
}

fn i64_of(v: Option<u64>) -> Option<i64> {
    v.map(|x| i64::try_from(x).unwrap_or(i64::MAX))
}

fn u64_of(v: Option<i64>) -> Option<u64> {
    v.map(|x| x.max(0) as u64)
}

const COLS: &str = "id, name, hash, hint, models, rpm, tpm, max_concurrency, budget_nanos, budget_period, expires_ms, created_ms, revoked_ms, updated_ms, rotated_from";

fn row_to_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    let models: String = r.get(4)?;
    Ok(KeyRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        hash: r.get(2)?,
        hint: r.get(3)?,
        models: models
            .split('\n')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        rpm: u64_of(r.get(5)?),
        tpm: u64_of(r.get(6)?),
        max_concurrency: r
            .get::<_, Option<i64>>(7)?
            .map(|x| u32::try_from(x.max(0)).unwrap_or(u32::MAX)),
        budget_nanos: r.get(8)?,
        budget_period: r.get(9)?,
        expires_ms: r.get(10)?,
        created_ms: r.get(11)?,
        revoked_ms: r.get(12)?,
        updated_ms: r.get(13)?,
        rotated_from: r.get(14)?,
    })
}

fn insert(conn: &rusqlite::Connection, k: &KeyRecord) -> Result<(), StoreError> {
    let mut st = conn.prepare_cached(&format!(
        "INSERT INTO gateway_key ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))?;
    st.execute(rusqlite::params![
        k.id,
        k.name,
        k.hash,
        k.hint,
        k.models.join("\n"),
        i64_of(k.rpm),
        i64_of(k.tpm),
        k.max_concurrency.map(i64::from),
        k.budget_nanos,
        k.budget_period,
        k.expires_ms,
        k.created_ms,
        k.revoked_ms,
        k.updated_ms,
        k.rotated_from,
    ])?;
    Ok(())
}

fn revoke(conn: &rusqlite::Connection, id: &str, now_ms: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE gateway_key SET revoked_ms = ?2, updated_ms = MAX(updated_ms + 1, ?2)
         WHERE id = ?1 AND revoked_ms IS NULL",
        rusqlite::params![id, now_ms],
    )?;
    Ok(n == 1)
}

impl VirtualKeys for Store {
    fn insert_key(&mut self, record: &KeyRecord) -> Result<(), StoreError> {
        insert(&self.conn, record)
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM gateway_key ORDER BY created_ms, id"
        ))?;
        let rows = st.query_map([], row_to_key)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn get_key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {COLS} FROM gateway_key WHERE id = ?1"))?;
        Ok(st.query_row([id], row_to_key).optional()?)
    }

    fn revoke_key(&mut self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        revoke(&self.conn, id, now_ms)
    }

    fn rotate_key(
        &mut self,
        old_id: &str,
        new: &KeyRecord,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        if !revoke(&tx, old_id, now_ms)? {
            return Ok(false);
        }
        insert(&tx, new)?;
        tx.commit()?;
        Ok(true)
    }

    fn keys_version(&self) -> Result<KeysVersion, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(updated_ms), 0) FROM gateway_key",
            [],
            |r| {
                Ok(KeysVersion {
                    count: r.get(0)?,
                    sum_updated_ms: r.get(1)?,
                })
            },
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, hash: u8) -> KeyRecord {
        KeyRecord {
            id: id.into(),
            name: format!("name of {id}"),
            hash: vec![hash; 32],
            hint: "rk-…abcdef".into(),
            models: vec!["gpt-4o".into(), "fast".into()],
            rpm: Some(60),
            tpm: None,
            max_concurrency: Some(4),
            budget_nanos: Some(5_000_000_000),
            budget_period: Some("day".into()),
            expires_ms: None,
            created_ms: 10,
            revoked_ms: None,
            updated_ms: 10,
            rotated_from: None,
        }
    }

    #[test]
    fn keys_round_trip_revoke_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rampart.db");
        let mut s = Store::open(&path).unwrap();
        let v0 = s.keys_version().unwrap();
        s.insert_key(&key("key_a", 1)).unwrap();
        assert!(s.insert_key(&key("key_b", 1)).is_err(), "hash is unique");
        let v1 = s.keys_version().unwrap();
        assert_ne!(v0, v1);
        assert_eq!(s.get_key("key_a").unwrap().unwrap(), key("key_a", 1));
        let mut new = key("key_c", 2);
        new.rotated_from = Some("key_a".into());
        assert!(s.rotate_key("key_a", &new, 20).unwrap());
        assert!(!s.rotate_key("key_a", &key("key_d", 3), 21).unwrap());
        assert!(s.get_key("key_d").unwrap().is_none());
        let all = s.list_keys().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].revoked_ms, Some(20));
        assert_eq!(all[1].rotated_from.as_deref(), Some("key_a"));
        assert!(s.revoke_key("key_c", 30).unwrap());
        assert!(!s.revoke_key("key_c", 31).unwrap());
        assert!(!s.revoke_key("nope", 31).unwrap());
        assert_ne!(s.keys_version().unwrap(), v1);
    }
}
