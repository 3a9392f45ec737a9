//! Virtual keys: format, generation, keyed hashing, and the in-memory key ring.
//!
//! A key is `rk-` + 32 random base62 characters + the 6-character base62 CRC32 of the random
//! part (the same checksum GitHub tokens use, so the secret scanner can tell a real Rampart key
//! from a look-alike). Only `HMAC-SHA256(server secret, key)` is stored. Authentication always
//! does the same work — checksum, HMAC, table lookup, a constant-time comparison against the
//! found hash or a dummy — so a malformed, unknown, revoked or expired key cannot be told apart
//! by timing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use hmac::{Hmac, KeyInit, Mac};
use rampart_detect::validate::crc32_base62_checksum;
use rampart_store::keys::KeyRecord;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::limits::{BudgetPeriod, Windows};

/// Prefix of every Rampart virtual key.
pub const PREFIX: &str = "rk-";
/// Length of the random part.
pub const RANDOM_LEN: usize = 32;
/// Total length of a key.
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_LEN + 6;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` uniformly random base62 characters from the OS generator.
pub fn random_base62(n: usize) -> Result<String, getrandom::Error> {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf)?;
        for &b in &buf {
            // 248 = 4 × 62: rejection sampling keeps the distribution uniform.
            if b < 248 && out.len() < n {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// A fresh virtual key.
pub fn generate_key() -> Result<String, getrandom::Error> {
    let random = random_base62(RANDOM_LEN)?;
    let check = crc32_base62_checksum(random.as_bytes());
    Ok(format!("{PREFIX}{random}{check}"))
}

/// A fresh public key id (`key_` + 16 base62).
pub fn generate_id() -> Result<String, getrandom::Error> {
    Ok(format!("key_{}", random_base62(16)?))
}

/// Does `key` have the shape and checksum of a Rampart key?
///
/// The checksum is computed whatever the input, so a malformed key costs what a well-formed one
/// costs.
pub fn well_formed(key: &[u8]) -> bool {
    let mut random = [0u8; RANDOM_LEN];
    let mut check = [0u8; 6];
    let sized = key.len() == KEY_LEN;
    if sized {
        random.copy_from_slice(&key[PREFIX.len()..PREFIX.len() + RANDOM_LEN]);
        check.copy_from_slice(&key[PREFIX.len() + RANDOM_LEN..]);
    }
    let sum = crc32_base62_checksum(&random);
    let shaped = sized
        & key.starts_with(PREFIX.as_bytes())
        & key[PREFIX.len().min(key.len())..]
            .iter()
            .all(u8::is_ascii_alphanumeric);
    shaped & (sum.as_bytes() == check)
}

/// HMAC-SHA256 keyed with the server secret.
#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(…)")
    }
}

impl KeyHasher {
    /// A hasher for `secret`.
    pub fn new(secret: &[u8]) -> KeyHasher {
        // HMAC accepts keys of any length.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        KeyHasher { mac }
    }

    /// The stored form of `key`.
    pub fn hash(&self, key: &[u8]) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(key);
        m.finalize().into_bytes().into()
    }
}

/// What `keys create` / the admin API take.
#[derive(Clone, Debug, Default)]
pub struct KeySpec {
    /// Human name.
    pub name: String,
    /// Allowed models (names or aliases); empty = all.
    pub models: Vec<String>,
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Concurrent requests.
    pub max_concurrency: Option<u32>,
    /// Budget in USD.
    pub budget_usd: Option<f64>,
    /// Budget period.
    pub budget_period: BudgetPeriod,
    /// Expiry (ms since the Unix epoch).
    pub expires_ms: Option<i64>,
}

/// Errors making a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The OS random generator failed.
    #[error("no randomness available: {0}")]
    Random(#[from] getrandom::Error),
    /// A value is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// Make a new key and its record. The key is returned once and not kept anywhere.
pub fn new_key(
    hasher: &KeyHasher,
    spec: &KeySpec,
    now_ms: i64,
    rotated_from: Option<String>,
) -> Result<(String, KeyRecord), KeyError> {
    if spec.name.trim().is_empty() {
        return Err(KeyError::Invalid("a key needs a non-empty --name".into()));
    }
    if spec.name.len() > 200 {
        return Err(KeyError::Invalid(
            "--name is longer than 200 characters".into(),
        ));
    }
    let budget_nanos = match spec.budget_usd {
        None => None,
        Some(b) if b.is_finite() && (0.0..=1e9).contains(&b) => Some((b * 1e9).round() as i64),
        Some(_) => {
            return Err(KeyError::Invalid(
                "--budget-usd must be between 0 and 1e9".into(),
            ));
        }
    };
    for (n, v) in [("--rpm", spec.rpm), ("--tpm", spec.tpm)] {
        if v == Some(0) {
            return Err(KeyError::Invalid(format!("{n} must be at least 1")));
        }
    }
    if spec.max_concurrency == Some(0) {
        return Err(KeyError::Invalid(
            "--max-concurrency must be at least 1".into(),
        ));
    }
    let key = generate_key()?;
    let rec = KeyRecord {
        id: generate_id()?,
        name: spec.name.trim().to_string(),
        hash: hasher.hash(key.as_bytes()).to_vec(),
        hint: rampart_core::redact(&key),
        models: spec.models.clone(),
        rpm: spec.rpm,
        tpm: spec.tpm,
        max_concurrency: spec.max_concurrency,
        budget_nanos,
        budget_period: match spec.budget_period {
            BudgetPeriod::Total => None,
            p => Some(p.as_str().to_string()),
        },
        expires_ms: spec.expires_ms,
        created_ms: now_ms,
        revoked_ms: None,
        updated_ms: now_ms,
        rotated_from,
    };
    Ok((key, rec))
}

/// The spec of an existing record (to rotate it with the same settings).
pub fn spec_of(rec: &KeyRecord) -> KeySpec {
    KeySpec {
        name: rec.name.clone(),
        models: rec.models.clone(),
        budget_period: period_of(rec),
        rpm: rec.rpm,
        tpm: rec.tpm,
        max_concurrency: rec.max_concurrency,
        budget_usd: rec.budget_nanos.map(|n| n as f64 / 1e9),
        expires_ms: rec.expires_ms,
    }
}

/// The budget period of a stored key.
pub fn period_of(rec: &KeyRecord) -> BudgetPeriod {
    rec.budget_period
        .as_deref()
        .and_then(BudgetPeriod::parse)
        .unwrap_or(BudgetPeriod::Total)
}

/// Mutable per-key state, kept across key-table reloads.
#[derive(Debug, Default)]
pub struct KeyRuntime {
    pub(crate) windows: Mutex<Windows>,
    pub(crate) inflight: AtomicU32,
    /// Spend in the current budget period, nano-USD.
    pub(crate) spent_nanos: AtomicI64,
    /// Start of the budget period `spent_nanos` counts (ms).
    pub(crate) period_start_ms: AtomicI64,
    /// Estimated spend of the requests in flight, nano-USD (see [`crate::limits::Estimate`]).
    pub(crate) reserved_nanos: AtomicI64,
    /// Estimated tokens of the requests in flight.
    pub(crate) reserved_tokens: std::sync::atomic::AtomicU64,
}

/// One loaded key.
#[derive(Debug)]
pub struct KeyEntry {
    /// The stored record.
    pub record: KeyRecord,
    /// Allowed models (empty = all).
    pub models: Vec<String>,
    /// Budget period.
    pub budget_period: BudgetPeriod,
    /// Runtime counters.
    pub runtime: Arc<KeyRuntime>,
}

/// Why authentication failed (for the audit trail; the client sees one message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No key in the request.
    Missing,
    /// Not a Rampart key, or unknown.
    Invalid,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl AuthFailure {
    /// Short reason for the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing_key",
            AuthFailure::Invalid => "invalid_key",
            AuthFailure::Revoked => "revoked_key",
            AuthFailure::Expired => "expired_key",
        }
    }
}

#[derive(Default)]
struct Table {
    /// First 8 bytes of the hash → entries (almost always one).
    by_prefix: HashMap<u64, Vec<Arc<KeyEntry>>>,
    by_id: HashMap<String, Arc<KeyEntry>>,
}

/// All keys, in memory. Reads take a read lock and clone an `Arc`.
pub struct KeyRing {
    hasher: KeyHasher,
    table: RwLock<Arc<Table>>,
    dummy: [u8; 32],
}

fn prefix(h: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = h.len().min(8);
    b[..n].copy_from_slice(&h[..n]);
    u64::from_le_bytes(b)
}

impl KeyRing {
    /// An empty ring.
    pub fn new(hasher: KeyHasher) -> KeyRing {
        let dummy = hasher.hash(b"rampart: no such key");
        KeyRing {
            hasher,
            table: RwLock::new(Arc::new(Table::default())),
            dummy,
        }
    }

    /// The hasher.
    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    fn current(&self) -> Arc<Table> {
        match self.table.read() {
            Ok(t) => Arc::clone(&t),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Replace the table with `records`, keeping the runtime state of keys that remain.
    /// `spend` gives each key's spend (nano-USD) in its current budget period as stored.
    pub fn load(
        &self,
        records: Vec<KeyRecord>,
        spend: &dyn Fn(&KeyRecord, BudgetPeriod) -> (i64, i64),
    ) {
        let old = self.current();
        let mut t = Table::default();
        for rec in records {
            let budget_period = period_of(&rec);
            let models = rec.models.clone();
            // A key keeps its counters across reloads; a rotated key takes over its
            // predecessor's (spend, windows, requests in flight).
            let inherited = old.by_id.get(&rec.id).or_else(|| {
                rec.rotated_from
                    .as_ref()
                    .and_then(|from| old.by_id.get(from))
            });
            let runtime = match inherited {
                Some(e) => Arc::clone(&e.runtime),
                None => {
                    let rt = KeyRuntime::default();
                    let (spent, start) = spend(&rec, budget_period);
                    rt.spent_nanos.store(spent, Ordering::Relaxed);
                    rt.period_start_ms.store(start, Ordering::Relaxed);
                    Arc::new(rt)
                }
            };
            let e = Arc::new(KeyEntry {
                models,
                budget_period,
                runtime,
                record: rec,
            });
            t.by_prefix
                .entry(prefix(&e.record.hash))
                .or_default()
                .push(Arc::clone(&e));
            t.by_id.insert(e.record.id.clone(), e);
        }
        let new = Arc::new(t);
        match self.table.write() {
            Ok(mut w) => *w = new,
            Err(p) => *p.into_inner() = new,
        }
    }

    /// A key by id.
    pub fn get(&self, id: &str) -> Option<Arc<KeyEntry>> {
        self.current().by_id.get(id).cloned()
    }

    /// Number of keys loaded (revoked included).
    pub fn len(&self) -> usize {
        self.current().by_id.len()
    }

    /// Whether no key is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Authenticate a presented key at time `now_ms`.
    pub fn authenticate(
        &self,
        presented: &[u8],
        now_ms: i64,
    ) -> Result<Arc<KeyEntry>, AuthFailure> {
        // Same work on every path: checksum, HMAC, lookup, constant-time compare.
        let shaped = well_formed(presented);
        let h = self.hasher.hash(presented);
        let table = self.current();
        let mut found: Option<&Arc<KeyEntry>> = None;
        let candidates = table.by_prefix.get(&prefix(&h));
        let mut matched = 0u8;
        match candidates {
            Some(c) => {
                for e in c {
                    let eq = h.ct_eq(e.record.hash.as_slice()).unwrap_u8();
                    if eq == 1 {
                        found = Some(e);
                    }
                    matched |= eq;
                }
            }
            None => {
                // Compare against a dummy so a miss costs what a hit costs; the dummy is the
                // hash of a string that is not a key, so this never matches a real request.
                let eq = std::hint::black_box(h.ct_eq(&self.dummy).unwrap_u8());
                std::hint::black_box(eq);
            }
        }
        let ok = matched == 1 && shaped;
        match found {
            Some(e) if ok => {
                if e.record.revoked_ms.is_some() {
                    Err(AuthFailure::Revoked)
                } else if e.record.expires_ms.is_some_and(|x| x <= now_ms) {
                    Err(AuthFailure::Expired)
                } else {
                    Ok(Arc::clone(e))
                }
            }
            _ => Err(AuthFailure::Invalid),
        }
    }
}

impl KeyEntry {
    /// May this key use `model` (its canonical name) requested as `asked`?
    pub fn allows(&self, canonical: &str, asked: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == canonical || m == asked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let k = generate_key().unwrap();
        assert_eq!(k.len(), KEY_LEN);
        assert!(k.starts_with("rk-"));
        assert!(well_formed(k.as_bytes()));
        // The scanner's generic checksum validator accepts it too.
        assert!(rampart_detect::validate::Validator::Crc32Base62.check(k.as_bytes()));
        let mut bad = k.clone().into_bytes();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        assert!(!well_formed(&bad));
        assert_ne!(generate_key().unwrap(), k);
    }

    #[test]
    fn authenticate_distinguishes_only_after_the_same_work() {
        let ring = KeyRing::new(KeyHasher::new(b"0123456789abcdef0123456789abcdef"));
        let spec = KeySpec {
            name: "a".into(),
            ..Default::default()
        };
        let (good, rec) = new_key(ring.hasher(), &spec, 0, None).unwrap();
        let (revoked, mut rec2) = new_key(ring.hasher(), &spec, 0, None).unwrap();
        rec2.revoked_ms = Some(1);
        let (expired, mut rec3) = new_key(ring.hasher(), &spec, 0, None).unwrap();
        rec3.expires_ms = Some(5);
        ring.load(vec![rec.clone(), rec2, rec3], &|_, _| (0, 0));
        assert_eq!(
            ring.authenticate(good.as_bytes(), 10).unwrap().record.id,
            rec.id
        );
        assert_eq!(
            ring.authenticate(revoked.as_bytes(), 10).unwrap_err(),
            AuthFailure::Revoked
        );
        assert_eq!(
            ring.authenticate(expired.as_bytes(), 10).unwrap_err(),
            AuthFailure::Expired
        );
        assert!(ring.authenticate(expired.as_bytes(), 4).is_ok());
        let other = generate_key().unwrap();
        assert_eq!(
            ring.authenticate(other.as_bytes(), 10).unwrap_err(),
            AuthFailure::Invalid
        );
        assert_eq!(
            ring.authenticate(b"sk-nope", 10).unwrap_err(),
            AuthFailure::Invalid
        );
        // The stored hash is not the key, and a different secret gives a different hash.
        assert_ne!(rec.hash, good.as_bytes());
        let other_hasher = KeyHasher::new(b"another secret, 32 chars long!!!");
        assert_ne!(other_hasher.hash(good.as_bytes()).to_vec(), rec.hash);
    }

    #[test]
    fn rotation_keeps_the_settings() {
        let spec = KeySpec {
            name: "b".into(),
            models: vec!["m1".into()],
            budget_usd: Some(1.5),
            budget_period: BudgetPeriod::Month,
            ..Default::default()
        };
        let (_k, rec) = new_key(&KeyHasher::new(b"x"), &spec, 0, None).unwrap();
        let back = spec_of(&rec);
        assert_eq!(back.models, vec!["m1".to_string()]);
        assert_eq!(back.budget_period, BudgetPeriod::Month);
        assert_eq!(rec.budget_nanos, Some(1_500_000_000));
    }
}
