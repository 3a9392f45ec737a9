//! The gateway's audit trail: an append-only hash chain.
//!
//! Every record carries a sequence number (1, 2, 3, …), the hash of the record before it
//! (`prev_hash`, 32 zero bytes for record 1) and its own hash:
//!
//! ```text
//! hash = SHA-256( prev_hash ‖ canonical(seq, entry) )
//! ```
//!
//! where [`canonical`] is a fixed, length-prefixed binary encoding of every field. The table
//! `audit_head` holds the last sequence number and hash, updated in the same transaction as each
//! append, and SQLite triggers refuse `UPDATE` and `DELETE` on the log. None of that stops someone
//! with write access to the file (triggers can be dropped); it makes every edit *visible*:
//! [`AuditLog::verify_audit`] walks the chain and names the first record that was edited,
//! reordered, inserted or deleted, and notices records cut from the end through the head.
//! For protection against an attacker who rewrites the whole chain, keep the head hash somewhere
//! else (the gateway prints it when it stops; `rampart audit verify` prints it) and check
//! against it with `rampart audit verify --head HASH`.

use crate::{Store, StoreError};
use sha2::{Digest, Sha256};

pub(crate) const MIGRATION_4: crate::migrate::Migration = crate::migrate::Migration {
    version: 4,
    concern: "gateway audit",
    sql: "
        CREATE TABLE audit_log (
            seq               INTEGER PRIMARY KEY NOT NULL,
            ts_ms             INTEGER NOT NULL,
            request_id        TEXT NOT NULL,
            key_id            TEXT,
            method            TEXT NOT NULL,
            path              TEXT NOT NULL,
            upstream          TEXT,
            model             TEXT,
            status            INTEGER NOT NULL,
            decision          TEXT NOT NULL,
            prompt_tokens     INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            tokens_estimated  INTEGER NOT NULL,
            cost_nanos        INTEGER NOT NULL,
            latency_us        INTEGER NOT NULL,
            body_sha256       TEXT NOT NULL,
            body              TEXT,
            detail            TEXT,
            prev_hash         BLOB NOT NULL,
            hash              BLOB NOT NULL
        );
        CREATE INDEX audit_log_ts ON audit_log (ts_ms);
        CREATE TABLE audit_head (
            id   INTEGER PRIMARY KEY CHECK (id = 1),
            seq  INTEGER NOT NULL,
            hash BLOB NOT NULL
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    ",
};

/// What one request left behind, before it is chained.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditEntry {
    /// When the request arrived (ms since the Unix epoch).
    pub ts_ms: i64,
    /// The gateway's request id (also returned to the client as `x-request-id`).
    pub request_id: String,
    /// The virtual key's public id, when the key was valid.
    pub key_id: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request path (no query string).
    pub path: String,
    /// Upstream that answered (the last one tried).
    pub upstream: Option<String>,
    /// Model as requested by the client.
    pub model: Option<String>,
    /// Status returned to the client (0 when the client went away before the end).
    pub status: u16,
    /// What the gateway decided: `allow`, `deny:<reason>`, `limit:<which>`, `error:<what>`, or
    /// a guardrail decision.
    pub decision: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Whether the token counts are estimates (no usage reported by the upstream).
    pub tokens_estimated: bool,
    /// Cost in nano-USD.
    pub cost_nanos: i64,
    /// Time from request to the end of the response, in microseconds.
    pub latency_us: u64,
    /// SHA-256 (hex) of the request body.
    pub body_sha256: String,
    /// The request body, redacted, when body logging is on.
    pub body: Option<String>,
    /// Extra JSON detail (errors, retries, guardrail findings).
    pub detail: Option<String>,
}

/// A chained record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// The content.
    pub entry: AuditEntry,
    /// Hash of the previous record (zeros for the first).
    pub prev_hash: [u8; 32],
    /// This record's hash.
    pub hash: [u8; 32],
}

/// The end of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChainHead {
    /// Sequence number of the last record (0 when empty).
    pub seq: u64,
    /// Hash of the last record (zeros when empty).
    pub hash: [u8; 32],
}

/// Where and how the chain is broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainBreak {
    /// The record's content no longer matches its hash.
    Edited {
        /// The record.
        seq: u64,
    },
    /// The record does not link to the one before it: records were reordered, inserted, or the
    /// previous record was replaced.
    OutOfOrder {
        /// The record whose `prev_hash` does not match.
        seq: u64,
    },
    /// Sequence numbers jump: records were deleted.
    Missing {
        /// First missing sequence number.
        from: u64,
        /// Last missing sequence number.
        to: u64,
    },
    /// The chain ends before the recorded head: records were cut from the end.
    Truncated {
        /// Last record present.
        last: u64,
        /// Last record according to the head.
        head: u64,
    },
    /// The head does not match the last record.
    HeadMismatch {
        /// Last record present.
        last: u64,
        /// Head's sequence number.
        head: u64,
    },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Edited { seq } => write!(
                f,
                "record {seq} was edited: its content no longer matches its hash"
            ),
            ChainBreak::OutOfOrder { seq } => write!(
                f,
                "record {seq} does not follow record {}: records were reordered, inserted or replaced",
                seq.saturating_sub(1)
            ),
            ChainBreak::Missing { from, to } if from == to => {
                write!(f, "record {from} is missing (deleted)")
            }
            ChainBreak::Missing { from, to } => {
                write!(f, "records {from} to {to} are missing (deleted)")
            }
            ChainBreak::Truncated { last, head } => write!(
                f,
                "records {} to {head} are missing (deleted from the end; the chain ends at record {last})",
                last + 1
            ),
            ChainBreak::HeadMismatch { last, head } => write!(
                f,
                "the chain head (record {head}) does not match the last record ({last}); the head or the records after it were altered"
            ),
        }
    }
}

impl ChainBreak {
    /// The first record named by this break.
    pub fn seq(&self) -> u64 {
        match *self {
            ChainBreak::Edited { seq } | ChainBreak::OutOfOrder { seq } => seq,
            ChainBreak::Missing { from, .. } => from,
            ChainBreak::Truncated { last, .. } => last + 1,
            ChainBreak::HeadMismatch { last, .. } => last,
        }
    }
}

/// The outcome of [`AuditLog::verify_audit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// The last record's position and hash.
    pub last: ChainHead,
    /// The first break, if any.
    pub problem: Option<ChainBreak>,
}

/// Which records to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditQuery {
    /// Only records at or after this time (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only records after this sequence number.
    pub after_seq: Option<u64>,
    /// The last `n` records instead of all (still returned oldest first).
    pub tail: Option<usize>,
}

/// What the gateway needs from a store for its audit trail.
pub trait AuditLog {
    /// Chain and append `entries` in one transaction; returns the new head.
    fn append_audit(&mut self, entries: &[AuditEntry]) -> Result<ChainHead, StoreError>;
    /// The current head (from the last record).
    fn audit_head(&self) -> Result<ChainHead, StoreError>;
    /// Walk the whole chain.
    fn verify_audit(&self) -> Result<VerifyReport, StoreError>;
    /// Visit the records matching `query`, oldest first; stops at the first error `f` returns.
    fn for_each_audit(
        &self,
        query: AuditQuery,
        f: &mut dyn FnMut(AuditRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// The canonical encoding of a record that its hash covers.
pub fn canonical(seq: u64, e: &AuditEntry) -> Vec<u8> {
    fn s(out: &mut Vec<u8>, v: &str) {
        out.extend_from_slice(&(v.len() as u64).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    fn o(out: &mut Vec<u8>, v: &Option<String>) {
        match v {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                s(out, v);
            }
        }
    }
    let mut out = Vec::with_capacity(256 + e.body.as_ref().map_or(0, String::len));
    out.extend_from_slice(b"rampart-audit-v1\0");
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&e.ts_ms.to_be_bytes());
    s(&mut out, &e.request_id);
    o(&mut out, &e.key_id);
    s(&mut out, &e.method);
    s(&mut out, &e.path);
    o(&mut out, &e.upstream);
    o(&mut out, &e.model);
    out.extend_from_slice(&e.status.to_be_bytes());
    s(&mut out, &e.decision);
    out.extend_from_slice(&e.prompt_tokens.to_be_bytes());
    out.extend_from_slice(&e.completion_tokens.to_be_bytes());
    out.push(u8::from(e.tokens_estimated));
    out.extend_from_slice(&e.cost_nanos.to_be_bytes());
    out.extend_from_slice(&e.latency_us.to_be_bytes());
    s(&mut out, &e.body_sha256);
    o(&mut out, &e.body);
    o(&mut out, &e.detail);
    out
}

/// `SHA-256(prev ‖ canonical(seq, entry))`.
pub fn chain_hash(prev: &[u8; 32], seq: u64, entry: &AuditEntry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical(seq, entry));
    h.finalize().into()
}

/// Lower-case hex of a hash.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to32(v: Vec<u8>) -> [u8; 32] {
    let mut out = [0u8; 32];
    let n = v.len().min(32);
    out[..n].copy_from_slice(&v[..n]);
    out
}

const COLS: &str = "seq, ts_ms, request_id, key_id, method, path, upstream, model, status, decision, prompt_tokens, completion_tokens, tokens_estimated, cost_nanos, latency_us, body_sha256, body, detail, prev_hash, hash";

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get::<_, i64>(0)?.max(0) as u64,
        entry: AuditEntry {
            ts_ms: r.get(1)?,
            request_id: r.get(2)?,
            key_id: r.get(3)?,
            method: r.get(4)?,
            path: r.get(5)?,
            upstream: r.get(6)?,
            model: r.get(7)?,
            status: u16::try_from(r.get::<_, i64>(8)?).unwrap_or(u16::MAX),
            decision: r.get(9)?,
            prompt_tokens: r.get::<_, i64>(10)?.max(0) as u64,
            completion_tokens: r.get::<_, i64>(11)?.max(0) as u64,
            tokens_estimated: r.get::<_, i64>(12)? != 0,
            cost_nanos: r.get(13)?,
            latency_us: r.get::<_, i64>(14)?.max(0) as u64,
            body_sha256: r.get(15)?,
            body: r.get(16)?,
            detail: r.get(17)?,
        },
        prev_hash: to32(r.get(18)?),
        hash: to32(r.get(19)?),
    })
}

fn last_record_head(conn: &rusqlite::Connection) -> Result<ChainHead, StoreError> {
    use rusqlite::OptionalExtension;
    let row = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    Ok(row.map_or(ChainHead::default(), |(seq, hash)| ChainHead {
        seq: seq.max(0) as u64,
        hash: to32(hash),
    }))
}

impl AuditLog for Store {
    fn append_audit(&mut self, entries: &[AuditEntry]) -> Result<ChainHead, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut head = last_record_head(&tx)?;
        {
            let mut st = tx.prepare_cached(&format!(
                "INSERT INTO audit_log ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ))?;
            for e in entries {
                let seq = head.seq + 1;
                let hash = chain_hash(&head.hash, seq, e);
                st.execute(rusqlite::params![
                    sat(seq),
                    e.ts_ms,
                    e.request_id,
                    e.key_id,
                    e.method,
                    e.path,
                    e.upstream,
                    e.model,
                    i64::from(e.status),
                    e.decision,
                    sat(e.prompt_tokens),
                    sat(e.completion_tokens),
                    i64::from(e.tokens_estimated),
                    e.cost_nanos,
                    sat(e.latency_us),
                    e.body_sha256,
                    e.body,
                    e.detail,
                    &head.hash[..],
                    &hash[..],
                ])?;
                head = ChainHead { seq, hash };
            }
            tx.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                rusqlite::params![sat(head.seq), &head.hash[..]],
            )?;
        }
        tx.commit()?;
        Ok(head)
    }

    fn audit_head(&self) -> Result<ChainHead, StoreError> {
        last_record_head(&self.conn)
    }

    fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        use rusqlite::OptionalExtension;
        let mut st = self
            .conn
            .prepare(&format!("SELECT {COLS} FROM audit_log ORDER BY seq"))?;
        let mut rows = st.query([])?;
        let mut prev = ChainHead::default();
        let mut records = 0u64;
        let mut problem = None;
        while let Some(row) = rows.next()? {
            let rec = row_to_record(row)?;
            records += 1;
            if rec.seq != prev.seq + 1 {
                problem = Some(if rec.seq > prev.seq + 1 {
                    ChainBreak::Missing {
                        from: prev.seq + 1,
                        to: rec.seq - 1,
                    }
                } else {
                    ChainBreak::OutOfOrder { seq: rec.seq }
                });
                break;
            }
            if rec.prev_hash != prev.hash {
                problem = Some(ChainBreak::OutOfOrder { seq: rec.seq });
                break;
            }
            if chain_hash(&rec.prev_hash, rec.seq, &rec.entry) != rec.hash {
                problem = Some(ChainBreak::Edited { seq: rec.seq });
                break;
            }
            prev = ChainHead {
                seq: rec.seq,
                hash: rec.hash,
            };
        }
        if problem.is_none() {
            let head = self
                .conn
                .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()?;
            let (hseq, hhash) = head.map_or((0, [0u8; 32]), |(s, h)| (s.max(0) as u64, to32(h)));
            if hseq > prev.seq {
                problem = Some(ChainBreak::Truncated {
                    last: prev.seq,
                    head: hseq,
                });
            } else if hseq != prev.seq || hhash != prev.hash {
                problem = Some(ChainBreak::HeadMismatch {
                    last: prev.seq,
                    head: hseq,
                });
            }
        }
        Ok(VerifyReport {
            records,
            last: prev,
            problem,
        })
    }

    fn for_each_audit(
        &self,
        query: AuditQuery,
        f: &mut dyn FnMut(AuditRecord) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut sql =
            format!("SELECT {COLS} FROM audit_log WHERE ts_ms >= ?1 AND seq > ?2 ORDER BY seq");
        let mut limit = -1i64;
        if let Some(n) = query.tail {
            sql = format!(
                "SELECT * FROM (SELECT {COLS} FROM audit_log WHERE ts_ms >= ?1 AND seq > ?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq"
            );
            limit = i64::try_from(n).unwrap_or(i64::MAX);
        }
        let mut st = self.conn.prepare(&sql)?;
        let since = query.since_ms.unwrap_or(i64::MIN);
        let after = sat(query.after_seq.unwrap_or(0));
        let mut rows = if query.tail.is_some() {
            st.query(rusqlite::params![since, after, limit])?
        } else {
            st.query(rusqlite::params![since, after])?
        };
        while let Some(row) = rows.next()? {
            f(row_to_record(row)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64) -> AuditEntry {
        AuditEntry {
            ts_ms: 1_700_000_000_000 + i as i64,
            request_id: format!("req_{i}"),
            key_id: Some("key_a".into()),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            upstream: Some("openai".into()),
            model: Some("gpt-4o-mini".into()),
            status: 200,
            decision: "allow".into(),
            prompt_tokens: 10 + i,
            completion_tokens: 5,
            tokens_estimated: false,
            cost_nanos: 1234,
            latency_us: 900,
            body_sha256: "ab".repeat(32),
            body: None,
            detail: None,
        }
    }

    /// A store with records 1..=n, and its path.
    fn chain(n: u64) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let mut s = Store::open(&path).unwrap();
        let all: Vec<_> = (1..=n).map(entry).collect();
        // Two batches, to cover chaining across transactions.
        s.append_audit(&all[..3]).unwrap();
        let head = s.append_audit(&all[3..]).unwrap();
        assert_eq!(head.seq, n);
        (dir, path)
    }

    /// Tamper with the file as an attacker would: drop the append-only triggers first.
    fn tamper(path: &std::path::Path, sql: &str) {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
            .unwrap();
        c.execute_batch(sql).unwrap();
    }

    fn verify(path: &std::path::Path) -> VerifyReport {
        Store::open(path).unwrap().verify_audit().unwrap()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (_d, path) = chain(8);
        let r = verify(&path);
        assert_eq!(r.problem, None);
        assert_eq!((r.records, r.last.seq), (8, 8));
        let mut seen = Vec::new();
        Store::open(&path)
            .unwrap()
            .for_each_audit(
                AuditQuery {
                    tail: Some(3),
                    ..Default::default()
                },
                &mut |r| {
                    seen.push(r.seq);
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(seen, vec![6, 7, 8]);
    }

    #[test]
    fn the_log_refuses_updates_and_deletes() {
        let (_d, path) = chain(4);
        let c = rusqlite::Connection::open(&path).unwrap();
        let e = c
            .execute("UPDATE audit_log SET status = 500 WHERE seq = 2", [])
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        assert!(
            c.execute("DELETE FROM audit_log WHERE seq = 2", [])
                .is_err()
        );
    }

    #[test]
    fn an_edited_record_is_named() {
        let (_d, path) = chain(8);
        tamper(
            &path,
            "UPDATE audit_log SET prompt_tokens = 1 WHERE seq = 5",
        );
        let r = verify(&path);
        assert_eq!(r.problem, Some(ChainBreak::Edited { seq: 5 }));
        assert!(
            r.problem
                .unwrap()
                .to_string()
                .contains("record 5 was edited")
        );
    }

    #[test]
    fn an_edit_that_recomputes_the_hash_breaks_the_next_link() {
        let (_d, path) = chain(8);
        // Edit record 5 and give it a correct own hash: record 6 no longer links to it.
        let s = Store::open(&path).unwrap();
        let mut recs = Vec::new();
        s.for_each_audit(AuditQuery::default(), &mut |r| {
            recs.push(r);
            Ok(())
        })
        .unwrap();
        drop(s);
        let mut e5 = recs[4].entry.clone();
        e5.decision = "deny:auth".into();
        let h = chain_hash(&recs[4].prev_hash, 5, &e5);
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("DROP TRIGGER audit_log_no_update;")
            .unwrap();
        c.execute(
            "UPDATE audit_log SET decision = 'deny:auth', hash = ?1 WHERE seq = 5",
            [&h[..]],
        )
        .unwrap();
        drop(c);
        assert_eq!(
            verify(&path).problem,
            Some(ChainBreak::OutOfOrder { seq: 6 })
        );
    }

    #[test]
    fn a_deleted_record_is_named() {
        let (_d, path) = chain(8);
        tamper(&path, "DELETE FROM audit_log WHERE seq = 4");
        let p = verify(&path).problem.unwrap();
        assert_eq!(p, ChainBreak::Missing { from: 4, to: 4 });
        assert!(p.to_string().contains("record 4 is missing"));
    }

    #[test]
    fn a_deletion_with_renumbering_is_named() {
        let (_d, path) = chain(8);
        tamper(
            &path,
            "DELETE FROM audit_log WHERE seq = 4; UPDATE audit_log SET seq = seq - 1 WHERE seq > 4;",
        );
        assert_eq!(
            verify(&path).problem,
            Some(ChainBreak::OutOfOrder { seq: 4 })
        );
    }

    #[test]
    fn reordered_records_are_named() {
        let (_d, path) = chain(8);
        // Swap records 3 and 6 by renumbering.
        tamper(
            &path,
            "UPDATE audit_log SET seq = -3 WHERE seq = 3;
             UPDATE audit_log SET seq = 3 WHERE seq = 6;
             UPDATE audit_log SET seq = 6 WHERE seq = -3;",
        );
        let p = verify(&path).problem.unwrap();
        assert_eq!(p, ChainBreak::OutOfOrder { seq: 3 });
        assert!(p.to_string().contains("reordered"), "{p}");
    }

    #[test]
    fn records_cut_from_the_end_are_noticed() {
        let (_d, path) = chain(8);
        tamper(&path, "DELETE FROM audit_log WHERE seq >= 7");
        assert_eq!(
            verify(&path).problem,
            Some(ChainBreak::Truncated { last: 6, head: 8 })
        );
    }

    #[test]
    fn empty_log_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("e.db")).unwrap();
        let r = s.verify_audit().unwrap();
        assert_eq!((r.records, r.problem), (0, None));
    }
}
