//! Persistence for Rampart: one SQLite file, organised by concern.
//!
//! A [`Store`] is opened from a file path (created when absent). Opening applies the schema
//! migrations that the file has not seen yet — the applied version is kept in SQLite's
//! `PRAGMA user_version` — and switches the database to WAL mode so that readers never block the
//! writer. Each concern (presence baselines today; the gateway's keys and audit chain later) owns
//! one module with a small trait describing what it needs, and [`Store`] implements that trait for
//! SQLite. A Postgres back end implements the same traits; callers never see SQL.
//!
//! ```
//! use rampart_store::{Store, presence::{BaselineRecord, PresenceBaselines}};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = Store::open(dir.path().join("rampart.db")).unwrap();
//! store.save_baselines(&[BaselineRecord {
//!     user: "alice".into(), model_version: 1, sessions: 3, updated_ms: 1_700_000_000_000,
//!     data: r#"{"q":[210.0]}"#.into(),
//! }]).unwrap();
//! let back = store.load_baseline("alice").unwrap().unwrap();
//! assert_eq!(back.sessions, 3);
//! assert!(store.load_baseline("bob").unwrap().is_none());
//! ```
#![deny(missing_docs)]

pub mod audit;
pub mod incidents;
pub mod keys;
mod migrate;
pub mod presence;
pub mod usage;

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file's schema is newer than this build understands.
    #[error(
        "database schema version {found} is newer than this rampart understands ({supported}); upgrade rampart"
    )]
    TooNew {
        /// `user_version` found in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// A migration failed; the file is left at the previous version.
    #[error("schema migration to version {version} failed: {source}")]
    Migration {
        /// The migration that failed.
        version: i64,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// Any other SQLite error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The Rampart database: one SQLite connection, migrated to the current schema.
pub struct Store {
    conn: rusqlite::Connection,
    path: Option<PathBuf>,
}

impl Store {
    /// Open (or create) the database at `path`, apply pending migrations and enable WAL mode.
    /// The parent directory is created when missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            // Let SQLite report the error if this fails: its message names the file.
            let _ = std::fs::create_dir_all(parent);
        }
        // The store holds the audit trail (request bodies when logged), incidents and key
        // hashes: a new file is readable by its owner only (SQLite gives its -wal and -shm
        // files the same mode). An existing file keeps the mode its owner chose.
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
        }
        let conn = rusqlite::Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: Some(path.to_path_buf()),
        };
        store.configure(true)?;
        Ok(store)
    }

    /// An in-memory database (for tests and `--no-store`-like uses that still want the API).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = rusqlite::Connection::open_in_memory()?;
        let mut store = Store { conn, path: None };
        store.configure(false)?;
        Ok(store)
    }

    fn configure(&mut self, wal: bool) -> Result<(), StoreError> {
        self.conn.busy_timeout(std::time::Duration::from_secs(10))?;
        if wal {
            // `journal_mode` returns the resulting mode; read it rather than `pragma_update`.
            let _mode: String =
                self.conn
                    .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate::migrate(&mut self.conn)
    }

    /// The file this store lives in (`None` when in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version the file is at (SQLite `user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// The SQLite journal mode in force (`wal` for file databases).
    pub fn journal_mode(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_file_is_migrated_and_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/rampart.db");
        let store = Store::open(&path).unwrap();
        assert!(path.exists());
        assert_eq!(store.schema_version().unwrap(), migrate::LATEST);
        assert_eq!(store.journal_mode().unwrap().to_lowercase(), "wal");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{mode:o}");
        }
        drop(store);
        // Reopening is a no-op migration.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrate::LATEST);
    }

    #[test]
    fn newer_schema_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rampart.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 999).unwrap();
        }
        let err = Store::open(&path).err().unwrap();
        assert!(
            matches!(err, StoreError::TooNew { found: 999, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade rampart"));
    }

    #[test]
    fn garbage_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rampart.db");
        std::fs::write(&path, b"this is not a database, just some text that is long enough .......................................................").unwrap();
        assert!(Store::open(&path).is_err());
    }
}
