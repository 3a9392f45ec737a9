//! Supply-chain checks for Rampart: package inventories, offline OSV matching of vulnerable and
//! malicious versions, minimal fix plans and CycloneDX SBOMs.
//!
//! The pieces, in data-flow order:
//!
//! - [`inventory`] reads lockfiles (`Cargo.lock`, `package-lock.json`, `yarn.lock`,
//!   `pnpm-lock.yaml`, `requirements*.txt`, `poetry.lock`, `uv.lock`, `Pipfile.lock`, `pdm.lock`,
//!   `pylock.toml`, `go.mod`, `Gemfile.lock`, `composer.lock`) and installed-package metadata
//!   (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `node_modules/**/package.json`, dpkg status,
//!   apk installed) into [`Package`]s;
//! - [`osv`] parses OSV records; [`import`] reads files, folders and `all.zip` exports and
//!   downloads the official exports; [`db`] stores them in one compact, pre-indexed,
//!   memory-mapped file keyed by ecosystem and normalised name;
//! - [`version`] implements each ecosystem's version ordering and [`matcher`] evaluates OSV
//!   `affected` entries (`versions` lists and `SEMVER`/`ECOSYSTEM` ranges; `GIT` ranges never
//!   stop the rest from being checked);
//! - [`DepsDetector`] plugs all this into `rampart scan` as a [`rampart_core::Detector`];
//!   [`fixplan`] and [`sbom`] turn inventories into upgrade plans and CycloneDX 1.6 documents.
//!
//! ```
//! use rampart_core::{Detections, Detector, Item, Kind, Location};
//! use rampart_deps::{db, osv, Database, DepsDetector};
//! use std::collections::BTreeMap;
//!
//! // A database with one malicious-package advisory (normally: `rampart db import/update`).
//! let record = br#"{"id": "MAL-2026-2144", "summary": "Malicious code in litellm (PyPI)",
//!   "affected": [{"package": {"ecosystem": "PyPI", "name": "litellm"},
//!                 "versions": ["1.82.7", "1.82.8"]}]}"#;
//! let adv = osv::parse_record(record, "MAL-2026-2144.json", "import", &mut Vec::new()).unwrap();
//! let mut all = BTreeMap::new();
//! all.insert(adv.id.clone(), adv);
//! let bytes = db::build(&all, &serde_json::json!({})).unwrap();
//! let detector = DepsDetector::new(Database::from_bytes(bytes).unwrap());
//!
//! // A lockfile item, as any source would hand it over.
//! let loc = Location::file("app/requirements.txt");
//! let item = Item { path: "app/requirements.txt", data: b"requests==2.32.3\nLiteLLM==1.82.8\n",
//!                   location: &loc };
//! let mut out = Detections::default();
//! detector.detect(&item, &mut out);
//! assert_eq!(out.findings.len(), 1);
//! assert_eq!(out.findings[0].kind, Kind::MaliciousPackage);
//! assert_eq!(out.findings[0].location.line, Some(2));
//! assert_eq!(detector.take_inventory()[0].packages.len(), 2);
//! ```
#![deny(missing_docs)]

pub mod db;
pub mod detector;
mod ecosystem;
pub mod fixplan;
pub mod import;
pub mod inventory;
pub mod matcher;
pub mod osv;
pub mod sbom;
pub mod version;
pub mod walk;

pub use db::{Database, DbError, resolve_db_path};
pub use detector::{DepsDetector, Manifest, unread_files};
pub use ecosystem::Ecosystem;
pub use import::{ImportError, ImportReport};
pub use inventory::{License, Package};
