//! Latency-based verification of where a user really is.
//!
//! Delay can be added but never removed: light in fibre covers at most ~102 km per millisecond of
//! round trip (≈ 150 km in vacuum), so a round-trip time that is too small for the claimed place
//! disproves the claim, and an interaction loop that is longer than the network explains is
//! evidence of a relay (a laptop in one country driven from another through a KVM-over-IP box or
//! remote desktop). This crate turns a stream of events (see [`event`] for the schema) into one
//! judgement per session:
//!
//! * **impossible** — a measured minimum RTT is below the physical bound for the claimed place
//!   (vacuum speed of light, conservative margins; [`physics`]). Never from statistics.
//! * **relay-suspected** — the stimulus → input loop exceeds what the network RTT and the user's
//!   baseline (or the population prior for new users) explain, with the added delay estimated
//!   with a 95 % confidence interval ([`relay`], [`baseline`]). Keys typed apart that arrive
//!   together (the second hop's jitter, [`keys`]) are a second, independent piece of evidence of
//!   the same relay and are combined with the loops' (Stouffer's rule; the verdict takes the
//!   larger of that and the loops' evidence alone).
//! * **suspicious** — the claim lies outside the CBG-style delay region of ≥ 3 landmarks
//!   ([`region`]) or another place explains those RTTs far better ([`likelihood`]), an RTT
//!   beats fibre but not vacuum, keystrokes are bunched ([`keys`]), or the
//!   user's logins imply travel faster than 1,000 km/h.
//! * **consistent** — nothing measured contradicts the claim.
//!
//! A false claim shows only towards a landmark: [`plan`] picks the landmarks to measure for a
//! claim (the nearest, then a ring spread in bearing), and a claim that stands after being tested
//! in few directions gets a note saying so.
//!
//! [`simulate`] writes a physically grounded synthetic data set with ground-truth labels.
//!
//! ```
//! use rampart_presence::{Analyzer, Config, Landmarks, Prior, Verdict};
//!
//! let (landmarks, errors) = Landmarks::parse(r#"[{"id":"phx","lat":33.45,"lon":-112.07}]"#);
//! assert!(errors.is_empty());
//! let mut a = Analyzer::new(Config::default(), landmarks, Prior::default());
//! let input = [
//!     r#"{"type":"login","session":"s1","t_ms":0,"user":"ana","claimed":{"city":"Madrid"}}"#,
//!     // Two 4 ms round trips to Phoenix: Madrid is 9,500 km away, light needs ≥ 63 ms.
//!     r#"{"type":"rtt","session":"s1","t_ms":10,"landmark":"phx","rtt_ms":4.0}"#,
//!     r#"{"type":"rtt","session":"s1","t_ms":20,"landmark":"phx","rtt_ms":4.2}"#,
//!     r#"{"type":"end","session":"s1","t_ms":30}"#,
//! ];
//! for line in input {
//!     a.push_line(line.as_bytes());
//! }
//! a.finish();
//! let reports: Vec<_> = a.drain_reports().collect();
//! assert_eq!(reports[0].verdict, Verdict::Impossible);
//! assert_eq!(reports[0].reasons[0].code, "rtt-below-physical-bound");
//! ```
#![deny(missing_docs)]

pub mod analyze;
pub mod baseline;
pub mod cities;
pub mod event;
pub mod geo;
pub mod keys;
pub mod landmarks;
pub mod likelihood;
pub mod physics;
pub mod plan;
pub mod region;
pub mod relay;
pub mod simulate;
pub mod stats;

pub use analyze::{
    Analyzer, Config, LineError, Reason, SessionReport, Summary, TravelReport, Verdict,
};
pub use baseline::{Prior, UserBaseline};
pub use landmarks::Landmarks;
