//! Persistence for the gateway's usage ledger: requests, tokens and spend per key, model and
//! minute.
//!
//! The gateway counts in memory and writes the counts behind the response in batches
//! ([`UsageLedger::add_usage`] adds to existing rows). At start it reads each key's total spend
//! ([`UsageLedger::spend_by_key`]) to seed the in-memory budgets.

use crate::{Store, StoreError};
use std::collections::HashMap;

pub(crate) const MIGRATION_3: crate::migrate::Migration = crate::migrate::Migration {
    version: 3,
    concern: "gateway usage",
    sql: "
        CREATE TABLE gateway_usage (
            key_id            TEXT NOT NULL,
            minute_ms         INTEGER NOT NULL,
            model             TEXT NOT NULL,
            requests          INTEGER NOT NULL,
            errors            INTEGER NOT NULL,
            prompt_tokens     INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cost_nanos        INTEGER NOT NULL,
            PRIMARY KEY (key_id, minute_ms, model)
        ) WITHOUT ROWID;
    ",
};

/// Counts to add for one key, model and minute.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageDelta {
    /// The key's public id.
    pub key_id: String,
    /// Start of the minute (ms since the Unix epoch, a multiple of 60 000).
    pub minute_ms: i64,
    /// The model as requested (after alias resolution).
    pub model: String,
    /// Requests.
    pub requests: u64,
    /// Requests that ended in an error status.
    pub errors: u64,
    /// Prompt (input) tokens.
    pub prompt_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
    /// Cost in nano-USD.
    pub cost_nanos: i64,
}

/// Totals for one key over a period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageTotal {
    /// The key's public id.
    pub key_id: String,
    /// Requests.
    pub requests: u64,
    /// Requests that ended in an error status.
    pub errors: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost in nano-USD.
    pub cost_nanos: i64,
}

/// What the gateway needs from a store for usage accounting.
pub trait UsageLedger {
    /// Add these counts (one transaction).
    fn add_usage(&mut self, deltas: &[UsageDelta]) -> Result<(), StoreError>;
    /// Total spend (nano-USD) of every key that has any usage.
    fn spend_by_key(&self) -> Result<HashMap<String, i64>, StoreError>;
    /// Totals per key for minutes starting at or after `since_ms` (all time when `None`).
    fn usage_totals(&self, since_ms: Option<i64>) -> Result<Vec<UsageTotal>, StoreError>;
}

fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl UsageLedger for Store {
    fn add_usage(&mut self, deltas: &[UsageDelta]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO gateway_usage (key_id, minute_ms, model, requests, errors, prompt_tokens, completion_tokens, cost_nanos)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(key_id, minute_ms, model) DO UPDATE SET
                   requests = requests + excluded.requests,
                   errors = errors + excluded.errors,
                   prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                   completion_tokens = completion_tokens + excluded.completion_tokens,
                   cost_nanos = cost_nanos + excluded.cost_nanos",
            )?;
            for d in deltas {
                st.execute(rusqlite::params![
                    d.key_id,
                    d.minute_ms,
                    d.model,
                    sat(d.requests),
                    sat(d.errors),
                    sat(d.prompt_tokens),
                    sat(d.completion_tokens),
                    d.cost_nanos
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn spend_by_key(&self) -> Result<HashMap<String, i64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT key_id, SUM(cost_nanos) FROM gateway_usage GROUP BY key_id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        Ok(rows.collect::<Result<HashMap<_, _>, _>>()?)
    }

    fn usage_totals(&self, since_ms: Option<i64>) -> Result<Vec<UsageTotal>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT key_id, SUM(requests), SUM(errors), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos)
             FROM gateway_usage WHERE minute_ms >= ?1 GROUP BY key_id ORDER BY key_id",
        )?;
        let rows = st.query_map([since_ms.unwrap_or(i64::MIN)], |r| {
            Ok(UsageTotal {
                key_id: r.get(0)?,
                requests: r.get::<_, i64>(1)?.max(0) as u64,
                errors: r.get::<_, i64>(2)?.max(0) as u64,
                prompt_tokens: r.get::<_, i64>(3)?.max(0) as u64,
                completion_tokens: r.get::<_, i64>(4)?.max(0) as u64,
                cost_nanos: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_up_per_key_and_minute() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path().join("r.db")).unwrap();
        let d = |key: &str, minute: i64, cost: i64| UsageDelta {
            key_id: key.into(),
            minute_ms: minute,
            model: "m".into(),
            requests: 1,
            errors: 0,
            prompt_tokens: 10,
            completion_tokens: 5,
            cost_nanos: cost,
        };
        s.add_usage(&[d("a", 0, 100), d("a", 60_000, 50), d("b", 0, 7)])
            .unwrap();
        s.add_usage(&[d("a", 0, 1)]).unwrap();
        let spend = s.spend_by_key().unwrap();
        assert_eq!(spend["a"], 151);
        assert_eq!(spend["b"], 7);
        let t = s.usage_totals(Some(60_000)).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].requests, t[0].prompt_tokens, t[0].cost_nanos),
            (1, 10, 50)
        );
        let all = s.usage_totals(None).unwrap();
        assert_eq!(all[0].requests, 3);
    }
}
