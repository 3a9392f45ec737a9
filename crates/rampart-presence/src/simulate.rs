//! A synthetic but physically grounded data set with ground-truth labels.
//!
//! Users live in real cities (the embedded GeoNames table, population-weighted) and log in over a
//! number of days. Every delay is built from its physical parts:
//!
//! * **network RTT** = access-network delay (per access type: fibre, cable, DSL, 4G, LEO
//!   satellite) + propagation at the speed of light in fibre over the great-circle distance times
//!   a path inflation `γ = 1 + lognormal` plus a routing detour, + per-sample queueing jitter;
//! * **interaction loop** = one RTT sample to the company server + the person's response time
//!   (ex-Gaussian: per-user `μ, σ, τ`, per-session drift of `μ`, occasional lapses of attention);
//! * **relayed sessions** (laptop in the claimed place driven from abroad through a KVM-over-IP
//!   box or remote desktop) add a second hop (RTT between the laptop and a real city at a
//!   configurable distance, with its own jitter), video encoding delay and frame-interval wait to
//!   every loop, and the second hop's jitter plus HID polling to every keystroke;
//! * **location fraud**: the person is elsewhere than claimed (a real city 1,000–3,000 km away);
//! * **travel fraud**: a login from a far city a few hours after one at home.
//!
//! Landmarks are real cities (thinned to a minimum spacing). Each session measures what a verifier
//! would choose knowing only the claim: the few landmarks nearest to the claimed place and a few
//! farther ones (800–3,000 km by default) spread in bearing around it. Output
//! is time-sorted JSON Lines (k-way merged across concurrent sessions) plus one label line per
//! session and a landmarks file.

use crate::cities::{self, City};
use crate::geo::{C_FIBRE_KM_PER_MS, LatLon, destination, distance_km};
use crate::plan::{PlanSpec, plan};
use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;

/// A closed range `[lo, hi]` sampled uniformly.
pub type Range = [f64; 2];

/// One kind of access network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Access {
    /// Name, for labels.
    pub name: String,
    /// Relative frequency.
    pub weight: f64,
    /// Base (minimum) round-trip delay of the access link, ms.
    pub base_ms: Range,
    /// Mean of the exponential queueing jitter per RTT sample, ms.
    pub jitter_ms: f64,
}

/// Everything the simulator draws from. Every distribution has its parameters here.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Random seed.
    pub seed: u64,
    /// Number of users.
    pub users: usize,
    /// Sessions per user.
    pub sessions_per_user: [usize; 2],
    /// Days the sessions are spread over.
    pub days: f64,
    /// Session length, minutes.
    pub session_minutes: Range,
    /// Interaction loops per session.
    pub interactions: [usize; 2],
    /// Keystrokes per session.
    pub keystrokes: [usize; 2],
    /// RTT samples per landmark.
    pub rtt_samples: [usize; 2],
    /// Put the connection RTT on every interaction event (`rtt_ms`); otherwise the analyzer must
    /// use RTT samples to the `server` landmark.
    pub interaction_rtt: bool,
    /// Users live in cities at least this populous.
    pub user_min_population: u64,
    /// Restrict users to these ISO country codes (empty: the world).
    pub user_countries: Vec<String>,
    /// Landmarks are cities at least this populous...
    pub landmark_min_population: u64,
    /// ...at least this far apart, km...
    pub landmark_spacing_km: f64,
    /// ...at most this many.
    pub landmark_max: usize,
    /// Or exactly these cities (names as in claims, e.g. `"Frankfurt am Main, DE"`), in place of
    /// the three settings above: a verifier's real set, such as cloud-region metros.
    pub landmark_cities: Vec<String>,
    /// A session measures this many landmarks nearest to the claimed place...
    pub landmarks_near: [usize; 2],
    /// ...plus this many farther ones, spread in bearing around the claim...
    pub landmarks_far: [usize; 2],
    /// ...at distances from the claim in this range, km.
    pub landmark_far_km: Range,
    /// The company server's city.
    pub server_city: String,
    /// Access networks.
    pub access: Vec<Access>,
    /// Path inflation: `γ − 1` is lognormal with this median...
    pub inflation_median: f64,
    /// ...and this log-SD.
    pub inflation_sigma: f64,
    /// Routing detour added to each path, km: exponential with this mean.
    pub detour_km: f64,
    /// Genuine users' home position: uniform within this radius of the city centre, km.
    pub home_spread_km: f64,
    /// Claims given as a city name (rest as coordinates), fraction.
    pub claim_city_fraction: f64,
    /// Population mean of a person's response-time μ (ex-Gaussian), ms.
    pub human_mu_ms: f64,
    /// Between-person SD of μ, ms.
    pub human_mu_sd_ms: f64,
    /// Session-to-session SD of μ within a person, ms.
    pub human_session_sd_ms: f64,
    /// Person's Gaussian σ, ms.
    pub human_sigma_ms: Range,
    /// Person's exponential τ, ms.
    pub human_tau_ms: Range,
    /// Probability of a lapse of attention per loop.
    pub lapse_probability: f64,
    /// Mean extra time of a lapse, ms.
    pub lapse_mean_ms: f64,
    /// Fastest possible response, ms.
    pub human_floor_ms: f64,
    /// Fraction of users who are relayed at some point.
    pub relay_user_fraction: f64,
    /// Of those, the fraction relayed from their very first session (no clean history).
    pub relay_from_start_fraction: f64,
    /// Clean sessions before the relay starts (others).
    pub relay_after_sessions: [usize; 2],
    /// Distance of the operator from the laptop, km.
    pub relay_hop_km: Range,
    /// Access delay on the operator's side, ms.
    pub relay_hop_access_ms: Range,
    /// Jitter on the second hop (exponential mean), ms.
    pub relay_hop_jitter_ms: f64,
    /// Video encode + decode delay per frame, ms.
    pub relay_encode_ms: Range,
    /// Frame interval (wait for the next frame is uniform within it), ms.
    pub relay_frame_ms: Range,
    /// USB HID polling interval of the KVM box, ms.
    pub relay_hid_poll_ms: f64,
    /// Fraction of sessions whose person is elsewhere than claimed.
    pub location_fraud_fraction: f64,
    /// How far elsewhere, km.
    pub location_fraud_km: Range,
    /// Fraction of users with one impossible-travel login.
    pub travel_fraud_user_fraction: f64,
    /// Fraction of users with one genuine trip (plausible speed).
    pub genuine_trip_user_fraction: f64,
    /// Typing: median inter-key interval, ms.
    pub iki_median_ms: Range,
    /// Typing: log-SD of inter-key intervals.
    pub iki_sigma: Range,
    /// One-way jitter on the user's own link for keystrokes (exponential mean), ms.
    pub key_jitter_ms: f64,
    /// Probability that a key's packet is lost on the user's own link and retransmitted.
    pub key_loss: f64,
    /// ...on the relay's second hop (per key).
    pub relay_hop_loss: f64,
    /// Retransmission stall after a loss (exponential mean, added to a 200 ms minimum RTO), ms.
    /// Key events are delivered in order (TCP), so the keys behind a stalled one arrive together.
    pub loss_stall_ms: f64,
    /// Server time of the first day, ms.
    pub start_ms: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            users: 300,
            sessions_per_user: [6, 12],
            days: 30.0,
            session_minutes: [20.0, 90.0],
            interactions: [150, 250],
            keystrokes: [200, 600],
            rtt_samples: [5, 15],
            interaction_rtt: true,
            user_min_population: 100_000,
            user_countries: Vec::new(),
            landmark_min_population: 1_000_000,
            landmark_spacing_km: 300.0,
            landmark_max: 250,
            landmark_cities: Vec::new(),
            landmarks_near: [2, 4],
            landmarks_far: [2, 4],
            landmark_far_km: [800.0, 3_000.0],
            server_city: "Frankfurt am Main".into(),
            access: vec![
                Access {
                    name: "fibre".into(),
                    weight: 0.3,
                    base_ms: [1.0, 4.0],
                    jitter_ms: 0.5,
                },
                Access {
                    name: "cable".into(),
                    weight: 0.3,
                    base_ms: [6.0, 15.0],
                    jitter_ms: 2.0,
                },
                Access {
                    name: "dsl".into(),
                    weight: 0.2,
                    base_ms: [10.0, 25.0],
                    jitter_ms: 2.0,
                },
                Access {
                    name: "4g".into(),
                    weight: 0.15,
                    base_ms: [25.0, 55.0],
                    jitter_ms: 8.0,
                },
                Access {
                    name: "leo-satellite".into(),
                    weight: 0.05,
                    base_ms: [25.0, 45.0],
                    jitter_ms: 6.0,
                },
            ],
            inflation_median: 0.5,
            inflation_sigma: 0.5,
            detour_km: 150.0,
            home_spread_km: 20.0,
            claim_city_fraction: 0.5,
            human_mu_ms: 300.0,
            human_mu_sd_ms: 40.0,
            human_session_sd_ms: 8.0,
            human_sigma_ms: [20.0, 50.0],
            human_tau_ms: [60.0, 150.0],
            lapse_probability: 0.02,
            lapse_mean_ms: 3_000.0,
            human_floor_ms: 120.0,
            relay_user_fraction: 0.15,
            relay_from_start_fraction: 0.3,
            relay_after_sessions: [3, 6],
            relay_hop_km: [1_500.0, 12_000.0],
            relay_hop_access_ms: [2.0, 20.0],
            relay_hop_jitter_ms: 5.0,
            relay_encode_ms: [20.0, 60.0],
            relay_frame_ms: [16.7, 33.3],
            relay_hid_poll_ms: 8.0,
            location_fraud_fraction: 0.05,
            location_fraud_km: [1_000.0, 3_000.0],
            travel_fraud_user_fraction: 0.05,
            genuine_trip_user_fraction: 0.1,
            iki_median_ms: [150.0, 300.0],
            iki_sigma: [0.4, 0.7],
            key_jitter_ms: 1.0,
            key_loss: 0.002,
            relay_hop_loss: 0.01,
            loss_stall_ms: 100.0,
            start_ms: 1_700_000_000_000.0,
        }
    }
}

impl SimConfig {
    /// A second, deliberately different configuration for testing against a generator the
    /// detectors were not tuned on: every distribution's parameters moved, other cities, other
    /// landmarks, other access mix, another server. Pass a different seed as well.
    pub fn alternative() -> SimConfig {
        SimConfig {
            seed: 777,
            users: 300,
            sessions_per_user: [5, 10],
            days: 21.0,
            session_minutes: [10.0, 120.0],
            interactions: [120, 300],
            keystrokes: [100, 900],
            rtt_samples: [3, 10],
            interaction_rtt: false,
            user_min_population: 15_000,
            user_countries: Vec::new(),
            landmark_min_population: 300_000,
            landmark_spacing_km: 450.0,
            landmark_max: 400,
            landmark_cities: Vec::new(),
            landmarks_near: [1, 3],
            landmarks_far: [2, 5],
            landmark_far_km: [600.0, 4_000.0],
            server_city: "Ashburn, VA, US".into(),
            access: vec![
                Access {
                    name: "fibre".into(),
                    weight: 0.15,
                    base_ms: [0.5, 3.0],
                    jitter_ms: 1.0,
                },
                Access {
                    name: "cable".into(),
                    weight: 0.35,
                    base_ms: [8.0, 20.0],
                    jitter_ms: 4.0,
                },
                Access {
                    name: "dsl".into(),
                    weight: 0.15,
                    base_ms: [15.0, 35.0],
                    jitter_ms: 3.0,
                },
                Access {
                    name: "5g".into(),
                    weight: 0.2,
                    base_ms: [12.0, 30.0],
                    jitter_ms: 6.0,
                },
                Access {
                    name: "4g".into(),
                    weight: 0.1,
                    base_ms: [35.0, 80.0],
                    jitter_ms: 15.0,
                },
                Access {
                    name: "leo-satellite".into(),
                    weight: 0.05,
                    base_ms: [30.0, 60.0],
                    jitter_ms: 10.0,
                },
            ],
            inflation_median: 0.8,
            inflation_sigma: 0.6,
            detour_km: 300.0,
            home_spread_km: 35.0,
            claim_city_fraction: 0.7,
            human_mu_ms: 360.0,
            human_mu_sd_ms: 60.0,
            human_session_sd_ms: 12.0,
            human_sigma_ms: [30.0, 80.0],
            human_tau_ms: [100.0, 250.0],
            lapse_probability: 0.05,
            lapse_mean_ms: 6_000.0,
            human_floor_ms: 150.0,
            relay_user_fraction: 0.2,
            relay_from_start_fraction: 0.4,
            relay_after_sessions: [2, 5],
            relay_hop_km: [500.0, 15_000.0],
            relay_hop_access_ms: [1.0, 40.0],
            relay_hop_jitter_ms: 10.0,
            relay_encode_ms: [10.0, 90.0],
            relay_frame_ms: [11.1, 50.0],
            relay_hid_poll_ms: 4.0,
            location_fraud_fraction: 0.08,
            location_fraud_km: [1_000.0, 5_000.0],
            travel_fraud_user_fraction: 0.08,
            genuine_trip_user_fraction: 0.2,
            iki_median_ms: [110.0, 400.0],
            iki_sigma: [0.3, 0.9],
            key_jitter_ms: 2.5,
            key_loss: 0.005,
            relay_hop_loss: 0.02,
            loss_stall_ms: 250.0,
            start_ms: 1_650_000_000_000.0,
        }
    }

    /// Check ranges and probabilities; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let prob = |name: &str, p: f64| {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(format!("{name} must be in [0, 1], got {p}"))
            }
        };
        let range = |name: &str, r: Range| {
            if r[0].is_finite() && r[1].is_finite() && r[0] >= 0.0 && r[0] <= r[1] {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be [lo, hi] with 0 ≤ lo ≤ hi, got {r:?}"
                ))
            }
        };
        // Counts are bounded so that no draw or allocation overflows.
        let urange = |name: &str, r: [usize; 2], max: usize| {
            if r[0] <= r[1] && r[1] <= max {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be [lo, hi] with lo ≤ hi ≤ {max}, got {r:?}"
                ))
            }
        };
        let pos = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a non-negative number, got {v}"))
            }
        };
        prob("claim_city_fraction", self.claim_city_fraction)?;
        prob("lapse_probability", self.lapse_probability)?;
        prob("relay_user_fraction", self.relay_user_fraction)?;
        prob("relay_from_start_fraction", self.relay_from_start_fraction)?;
        prob("location_fraud_fraction", self.location_fraud_fraction)?;
        prob(
            "travel_fraud_user_fraction",
            self.travel_fraud_user_fraction,
        )?;
        prob(
            "genuine_trip_user_fraction",
            self.genuine_trip_user_fraction,
        )?;
        for (n, r) in [
            ("session_minutes", self.session_minutes),
            ("human_sigma_ms", self.human_sigma_ms),
            ("human_tau_ms", self.human_tau_ms),
            ("relay_hop_km", self.relay_hop_km),
            ("relay_hop_access_ms", self.relay_hop_access_ms),
            ("relay_encode_ms", self.relay_encode_ms),
            ("relay_frame_ms", self.relay_frame_ms),
            ("location_fraud_km", self.location_fraud_km),
            ("landmark_far_km", self.landmark_far_km),
            ("iki_median_ms", self.iki_median_ms),
            ("iki_sigma", self.iki_sigma),
        ] {
            range(n, r)?;
        }
        for (n, r, max) in [
            ("sessions_per_user", self.sessions_per_user, 10_000),
            ("interactions", self.interactions, 1_000_000),
            ("keystrokes", self.keystrokes, 1_000_000),
            ("rtt_samples", self.rtt_samples, 10_000),
            ("landmarks_near", self.landmarks_near, 10_000),
            ("landmarks_far", self.landmarks_far, 10_000),
            ("relay_after_sessions", self.relay_after_sessions, 10_000),
        ] {
            urange(n, r, max)?;
        }
        if self.users > 10_000_000 {
            return Err(format!(
                "users must be at most 10,000,000, got {}",
                self.users
            ));
        }
        for (n, v) in [
            ("days", self.days),
            ("landmark_spacing_km", self.landmark_spacing_km),
            ("inflation_median", self.inflation_median),
            ("inflation_sigma", self.inflation_sigma),
            ("detour_km", self.detour_km),
            ("home_spread_km", self.home_spread_km),
            ("human_mu_ms", self.human_mu_ms),
            ("human_mu_sd_ms", self.human_mu_sd_ms),
            ("human_session_sd_ms", self.human_session_sd_ms),
            ("lapse_mean_ms", self.lapse_mean_ms),
            ("human_floor_ms", self.human_floor_ms),
            ("relay_hop_jitter_ms", self.relay_hop_jitter_ms),
            ("relay_hid_poll_ms", self.relay_hid_poll_ms),
            ("key_jitter_ms", self.key_jitter_ms),
            ("loss_stall_ms", self.loss_stall_ms),
            ("start_ms", self.start_ms),
        ] {
            pos(n, v)?;
        }
        if self.access.is_empty() || self.access.iter().all(|a| a.weight <= 0.0) {
            return Err("access needs at least one entry with a positive weight".into());
        }
        for a in &self.access {
            pos("access.weight", a.weight)?;
            pos("access.jitter_ms", a.jitter_ms)?;
            range("access.base_ms", a.base_ms)?;
        }
        if self.landmarks_near[1] + self.landmarks_far[1] == 0 {
            return Err("landmarks_near and landmarks_far allow no landmark at all".into());
        }
        for c in &self.landmark_cities {
            if cities::lookup(c, None).is_none() {
                return Err(format!("landmark_cities: `{c}` is not in the cities table"));
            }
        }
        if cities::lookup(&self.server_city, None).is_none() {
            return Err(format!(
                "server_city `{}` is not in the cities table",
                self.server_city
            ));
        }
        Ok(())
    }
}

/// Ground truth for one session.
#[derive(Clone, Debug, Serialize)]
pub struct Label {
    /// Session id.
    pub session: String,
    /// User id.
    pub user: String,
    /// Index of the session among the user's sessions (0-based).
    pub index: usize,
    /// Clean (not relayed) sessions of this user before this one.
    pub clean_history: usize,
    /// Relayed?
    pub relayed: bool,
    /// Mean delay the relay adds to a loop, ms (0 when not relayed).
    pub added_delay_ms: f64,
    /// Where the person (or, when relayed, the laptop) really is.
    pub true_lat: f64,
    /// Longitude of that.
    pub true_lon: f64,
    /// What was claimed.
    pub claimed: String,
    /// Distance between the truth and the claim, km.
    pub claim_offset_km: f64,
    /// This login is part of an impossible-travel pair.
    pub travel_fraud: bool,
    /// Access network type.
    pub access: String,
    /// Landmarks measured.
    pub landmarks: usize,
    /// Interaction loops.
    pub interactions: usize,
}

/// What a simulation produced.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SimSummary {
    /// Events written.
    pub events: u64,
    /// Sessions.
    pub sessions: u64,
    /// Relayed sessions.
    pub relayed: u64,
    /// Sessions claiming a place ≥ 1 km from the truth.
    pub location_fraud: u64,
    /// Impossible-travel logins.
    pub travel_fraud: u64,
    /// Landmarks.
    pub landmarks: usize,
}

/// A landmark of the simulation.
#[derive(Clone, Debug, Serialize)]
pub struct SimLandmark {
    /// Id.
    pub id: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

struct Rng(Xoshiro256PlusPlus);

impl Rng {
    fn u(&mut self) -> f64 {
        self.0.random::<f64>()
    }
    fn uni(&mut self, r: Range) -> f64 {
        r[0] + (r[1] - r[0]) * self.u()
    }
    fn int(&mut self, r: [usize; 2]) -> usize {
        r[0] + (self.u() * (r[1] - r[0] + 1) as f64).floor() as usize
    }
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let z: f64 = StandardNormal.sample(&mut self.0);
        mean + sd * z
    }
    fn exp(&mut self, mean: f64) -> f64 {
        let e: f64 = Exp1.sample(&mut self.0);
        mean * e
    }
    fn chance(&mut self, p: f64) -> bool {
        self.u() < p
    }
}

fn pick_weighted(rng: &mut Rng, cum: &[f64]) -> usize {
    let total = cum.last().copied().unwrap_or(0.0);
    let x = rng.u() * total;
    cum.partition_point(|&c| c <= x)
        .min(cum.len().saturating_sub(1))
}

struct Person {
    id: String,
    home: City,
    home_pos: LatLon,
    access: usize,
    access_base: f64,
    mu: f64,
    sigma: f64,
    tau: f64,
    iki_median: f64,
    iki_sigma: f64,
}

struct Path {
    base: f64,
    jitter: f64,
}

impl Path {
    fn sample(&self, rng: &mut Rng) -> f64 {
        self.base + rng.exp(self.jitter)
    }
}

fn choose_landmarks(
    rng: &mut Rng,
    cfg: &SimConfig,
    positions: &[LatLon],
    claim: LatLon,
) -> Vec<usize> {
    let spec = PlanSpec {
        near: rng.int(cfg.landmarks_near),
        ring: rng.int(cfg.landmarks_far),
        ring_km: cfg.landmark_far_km,
        // Never fewer than the minimum asked for.
        min_total: (cfg.landmarks_near[0] + cfg.landmarks_far[0]).max(1),
    };
    plan(positions, claim, &spec)
        .iter()
        .map(|p| p.index)
        .collect()
}

/// Run the simulation. Events go to `events`, one label per session to `labels`.
pub fn simulate(
    cfg: &SimConfig,
    events: &mut dyn Write,
    labels: &mut dyn Write,
) -> Result<(SimSummary, Vec<SimLandmark>), String> {
    cfg.validate()?;
    let mut rng = Rng(Xoshiro256PlusPlus::seed_from_u64(cfg.seed));
    let io = |e: std::io::Error| format!("write error: {e}");
    // Landmarks: the listed cities, or populous cities greedily thinned.
    let lm_id = |c: &City| {
        format!(
            "lm-{}-{}",
            c.name.to_lowercase().replace([' ', '"', '\\'], "-"),
            c.country.to_lowercase()
        )
    };
    let mut lms: Vec<(String, LatLon)> = Vec::new();
    if cfg.landmark_cities.is_empty() {
        for c in cities::all() {
            if c.population < cfg.landmark_min_population || lms.len() >= cfg.landmark_max {
                break;
            }
            if lms
                .iter()
                .all(|(_, p)| distance_km(*p, c.pos) >= cfg.landmark_spacing_km)
            {
                lms.push((lm_id(c), c.pos));
            }
        }
    } else {
        for name in &cfg.landmark_cities {
            if let Some(c) = cities::lookup(name, None)
                && lms.iter().all(|(_, p)| distance_km(*p, c.pos) > 1.0)
            {
                lms.push((lm_id(&c), c.pos));
            }
        }
    }
    let lm_positions: Vec<LatLon> = lms.iter().map(|l| l.1).collect();
    let server_city = cities::lookup(&cfg.server_city, None).ok_or("server city not found")?;
    let server_pos = server_city.pos;
    let mut out_lms: Vec<SimLandmark> = lms
        .iter()
        .map(|(id, p)| SimLandmark {
            id: id.clone(),
            lat: p.lat,
            lon: p.lon,
        })
        .collect();
    out_lms.push(SimLandmark {
        id: "server".into(),
        lat: server_pos.lat,
        lon: server_pos.lon,
    });
    // Home cities.
    let countries: Vec<String> = cfg
        .user_countries
        .iter()
        .map(|c| c.to_uppercase())
        .collect();
    let pool: Vec<City> = cities::all()
        .iter()
        .filter(|c| c.population >= cfg.user_min_population)
        .filter(|c| countries.is_empty() || countries.iter().any(|k| k == c.country))
        .copied()
        .collect();
    if pool.is_empty() {
        return Err("no city matches user_min_population / user_countries".into());
    }
    let mut cum = Vec::with_capacity(pool.len());
    let mut acc = 0.0;
    for c in &pool {
        acc += c.population as f64;
        cum.push(acc);
    }
    let far_pool: Vec<City> = cities::all()
        .iter()
        .filter(|c| c.population >= 200_000)
        .copied()
        .collect();
    let mut access_cum = Vec::new();
    let mut a = 0.0;
    for x in &cfg.access {
        a += x.weight.max(0.0);
        access_cum.push(a);
    }
    // A city at a distance within `r` of `from` (falls back to a point on a random bearing).
    let city_at = |rng: &mut Rng, from: LatLon, r: Range| -> (LatLon, String) {
        for _ in 0..2000 {
            let c = far_pool[(rng.u() * far_pool.len() as f64) as usize % far_pool.len()];
            let d = distance_km(from, c.pos);
            if d >= r[0] && d <= r[1] {
                return (c.pos, c.label());
            }
        }
        let p = destination(from, rng.uni([0.0, 360.0]), rng.uni(r));
        (p, format!("{:.4}, {:.4}", p.lat, p.lon))
    };
    // Path RTT model between two points for a given access delay.
    let path = |rng: &mut Rng, a: LatLon, b: LatLon, access_base: f64, jitter: f64| -> Path {
        let d = distance_km(a, b);
        let gamma = 1.0 + cfg.inflation_median * rng.normal(0.0, cfg.inflation_sigma).exp();
        let detour = rng.exp(cfg.detour_km);
        Path {
            base: access_base + 2.0 * (d * gamma + detour) / C_FIBRE_KM_PER_MS + 0.1,
            jitter,
        }
    };
    // Schedule.
    struct Planned {
        t: f64,
        user: usize,
        index: usize,
        relayed: bool,
        clean_history: usize,
        claim: Option<(LatLon, String)>,
        truth: Option<LatLon>,
        travel_fraud: bool,
    }
    let mut people = Vec::with_capacity(cfg.users);
    let mut plan: Vec<Planned> = Vec::new();
    let day = 86_400_000.0;
    for u in 0..cfg.users {
        let home = pool[pick_weighted(&mut rng, &cum)];
        let home_pos = destination(
            home.pos,
            rng.uni([0.0, 360.0]),
            cfg.home_spread_km * rng.u().sqrt(),
        );
        let access = pick_weighted(&mut rng, &access_cum);
        let p = Person {
            id: format!("user-{u:05}"),
            home,
            home_pos,
            access,
            access_base: rng.uni(cfg.access[access].base_ms),
            mu: rng
                .normal(cfg.human_mu_ms, cfg.human_mu_sd_ms)
                .max(cfg.human_floor_ms + 20.0),
            sigma: rng.uni(cfg.human_sigma_ms),
            tau: rng.uni(cfg.human_tau_ms),
            iki_median: rng.uni(cfg.iki_median_ms),
            iki_sigma: rng.uni(cfg.iki_sigma),
        };
        let n = rng.int(cfg.sessions_per_user).max(1);
        let mut times: Vec<f64> = (0..n)
            .map(|_| cfg.start_ms + rng.u() * cfg.days * day)
            .collect();
        times.sort_by(f64::total_cmp);
        let relayed_user = rng.chance(cfg.relay_user_fraction);
        let relay_start = if !relayed_user {
            usize::MAX
        } else if rng.chance(cfg.relay_from_start_fraction) {
            0
        } else {
            rng.int(cfg.relay_after_sessions)
        };
        let travel_fraud = n >= 2 && rng.chance(cfg.travel_fraud_user_fraction);
        let trip = !travel_fraud && n >= 3 && rng.chance(cfg.genuine_trip_user_fraction);
        let mut clean = 0;
        let mut planned_user: Vec<Planned> = Vec::new();
        for (i, &t) in times.iter().enumerate() {
            let relayed = i >= relay_start;
            let mut pl = Planned {
                t,
                user: u,
                index: i,
                relayed,
                clean_history: clean,
                claim: None,
                truth: None,
                travel_fraud: false,
            };
            if !relayed && rng.chance(cfg.location_fraud_fraction) {
                pl.claim = Some(city_at(&mut rng, home_pos, cfg.location_fraud_km));
            }
            if !relayed {
                clean += 1;
            }
            planned_user.push(pl);
        }
        if travel_fraud {
            // A login from a far city 1–3 hours after session k.
            let k = (rng.u() * (n - 1) as f64) as usize;
            let t = planned_user[k].t + rng.uni([1.0, 3.0]) * 3_600_000.0;
            let (pos, label) = city_at(&mut rng, home_pos, [4_000.0, 12_000.0]);
            let next = planned_user
                .get(k + 1)
                .map(|p| p.t)
                .unwrap_or(f64::INFINITY);
            if t < next {
                planned_user.insert(
                    k + 1,
                    Planned {
                        t,
                        user: u,
                        index: 0,
                        relayed: planned_user[k].relayed,
                        clean_history: 0,
                        claim: Some((pos, label)),
                        truth: None,
                        travel_fraud: true,
                    },
                );
            }
        }
        if trip {
            // A real trip: the person really goes, slower than 800 km/h.
            let k = 1 + (rng.u() * (planned_user.len() - 2) as f64) as usize;
            let (pos, label) = city_at(&mut rng, home_pos, [500.0, 9_000.0]);
            let prev_t = planned_user[k - 1].t;
            let d = distance_km(home_pos, pos);
            let min_t = prev_t + (d / 800.0 + 2.0) * 3_600_000.0;
            let next_t = planned_user
                .get(k + 1)
                .map(|p| p.t)
                .unwrap_or(f64::INFINITY);
            let back_ok = next_t - planned_user[k].t.max(min_t) > (d / 800.0 + 2.0) * 3_600_000.0;
            if !planned_user[k].relayed && planned_user[k].claim.is_none() && back_ok {
                planned_user[k].t = planned_user[k].t.max(min_t);
                planned_user[k].claim = Some((pos, label));
                planned_user[k].truth = Some(pos);
            }
        }
        for (i, p) in planned_user.iter_mut().enumerate() {
            p.index = i;
        }
        // Recount clean history after insertions.
        let mut clean = 0;
        for p in planned_user.iter_mut() {
            p.clean_history = clean;
            if !p.relayed {
                clean += 1;
            }
        }
        plan.extend(planned_user);
        people.push(p);
    }
    plan.sort_by(|a, b| a.t.total_cmp(&b.t));
    // Generate, k-way merging events of concurrent sessions by time.
    let mut heap: BinaryHeap<Reverse<(u64, u64, String)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut summary = SimSummary {
        landmarks: out_lms.len(),
        ..SimSummary::default()
    };
    let key = |t: f64| (t * 1000.0).round().max(0.0) as u64;
    for (si, pl) in plan.iter().enumerate() {
        while let Some(Reverse((t, _, _))) = heap.peek() {
            if *t as f64 / 1000.0 >= pl.t {
                break;
            }
            if let Some(Reverse((_, _, line))) = heap.pop() {
                events.write_all(line.as_bytes()).map_err(io)?;
                summary.events += 1;
            }
        }
        let p = &people[pl.user];
        let sid = format!("s{si:07}");
        let truth = pl.truth.unwrap_or(p.home_pos);
        let (claim_pos, claim_label) = pl.claim.clone().unwrap_or((p.home.pos, p.home.label()));
        // A city name only when it names exactly one place (the label's truth is that place).
        let unambiguous = cities::lookup_all(&claim_label, None).len() == 1;
        let claim_json = if rng.chance(cfg.claim_city_fraction) && unambiguous {
            format!(
                "{{\"city\":{}}}",
                serde_json::to_string(&claim_label).unwrap_or_default()
            )
        } else {
            format!(
                "{{\"lat\":{:.5},\"lon\":{:.5}}}",
                claim_pos.lat, claim_pos.lon
            )
        };
        let mut evs: Vec<(f64, String)> = Vec::new();
        let t0 = pl.t;
        let len_ms = rng.uni(cfg.session_minutes) * 60_000.0;
        evs.push((t0, format!(
            "{{\"type\":\"login\",\"session\":\"{sid}\",\"t_ms\":{t0:.1},\"user\":\"{}\",\"claimed\":{claim_json}}}\n",
            p.id
        )));
        // The verifier's choice: the landmarks nearest to the claim, plus farther ones spread in
        // bearing around it.
        let chosen = choose_landmarks(&mut rng, cfg, &lm_positions, claim_pos);
        let take = chosen.len();
        let acc = &cfg.access[p.access];
        let mut t = t0 + 500.0;
        for &li in &chosen {
            let path = path(&mut rng, truth, lms[li].1, p.access_base, acc.jitter_ms);
            for _ in 0..rng.int(cfg.rtt_samples).max(1) {
                let r = path.sample(&mut rng);
                evs.push((t, format!(
                    "{{\"type\":\"rtt\",\"session\":\"{sid}\",\"t_ms\":{t:.1},\"landmark\":\"{}\",\"rtt_ms\":{r:.3}}}\n",
                    lms[li].0
                )));
                t += 200.0;
            }
        }
        // The company server.
        let server = path(&mut rng, truth, server_pos, p.access_base, acc.jitter_ms);
        if !cfg.interaction_rtt {
            for _ in 0..rng.int(cfg.rtt_samples).max(3) {
                let r = server.sample(&mut rng);
                evs.push((t, format!(
                    "{{\"type\":\"rtt\",\"session\":\"{sid}\",\"t_ms\":{t:.1},\"landmark\":\"server\",\"rtt_ms\":{r:.3}}}\n"
                )));
                t += 200.0;
            }
        }
        // Relay parameters.
        let (hop, encode, frame, added) = if pl.relayed {
            let (op, _) = city_at(&mut rng, truth, cfg.relay_hop_km);
            let hop_access = rng.uni(cfg.relay_hop_access_ms);
            let hop = path(&mut rng, truth, op, hop_access, cfg.relay_hop_jitter_ms);
            let encode = cfg.relay_encode_ms;
            let frame = rng.uni(cfg.relay_frame_ms);
            let added = hop.base + hop.jitter + (encode[0] + encode[1]) / 2.0 + frame / 2.0;
            (Some(hop), encode, frame, added)
        } else {
            (None, [0.0, 0.0], 0.0, 0.0)
        };
        // Interactions.
        let n_loops = rng.int(cfg.interactions);
        let mu_s = rng.normal(p.mu, cfg.human_session_sd_ms);
        let t_start = t;
        let span = (len_ms - (t_start - t0)).max(n_loops as f64 * 2_000.0);
        for i in 0..n_loops {
            let stim = t_start + span * (i as f64 + rng.u()) / n_loops.max(1) as f64;
            let mut h = rng.normal(mu_s, p.sigma) + rng.exp(p.tau);
            if rng.chance(cfg.lapse_probability) {
                h += rng.exp(cfg.lapse_mean_ms);
            }
            h = h.max(cfg.human_floor_ms);
            let mut lp = server.sample(&mut rng) + h;
            if let Some(hop) = &hop {
                lp += hop.sample(&mut rng) + rng.uni(encode) + rng.uni([0.0, frame]);
            }
            let resp = stim + lp;
            let rtt_field = if cfg.interaction_rtt {
                format!(",\"rtt_ms\":{:.3}", server.sample(&mut rng))
            } else {
                ",\"landmark\":\"server\"".to_owned()
            };
            evs.push((resp, format!(
                "{{\"type\":\"interaction\",\"session\":\"{sid}\",\"t_ms\":{resp:.1},\"stimulus_ms\":{stim:.1},\"response_ms\":{resp:.1}{rtt_field}}}\n"
            )));
        }
        // Keystrokes, in bursts.
        let n_keys = rng.int(cfg.keystrokes);
        let mut kt = t_start + rng.uni([0.0, 10_000.0]);
        let one_way = server.base / 2.0;
        let (mut last_hop, mut last_arrive) = (f64::MIN, f64::MIN);
        for k in 0..n_keys {
            if k > 0 {
                let iki = p.iki_median * rng.normal(0.0, p.iki_sigma).exp();
                kt += if rng.chance(0.03) {
                    rng.exp(20_000.0) + 2_000.0
                } else {
                    iki.max(25.0)
                };
            }
            // The key is typed at the operator's side when relayed: second hop first (in order,
            // with its losses), then HID polling, then the user's own link (in order).
            let mut at_laptop = kt;
            if let Some(hop) = &hop {
                at_laptop += hop.base / 2.0 + rng.exp(hop.jitter);
                if rng.chance(cfg.relay_hop_loss) {
                    at_laptop += 200.0 + rng.exp(cfg.loss_stall_ms);
                }
                at_laptop = at_laptop.max(last_hop + 0.05);
                last_hop = at_laptop;
                if cfg.relay_hid_poll_ms > 0.0 {
                    at_laptop = (at_laptop / cfg.relay_hid_poll_ms).ceil() * cfg.relay_hid_poll_ms;
                }
            }
            let mut arrive =
                at_laptop + one_way + rng.exp(cfg.key_jitter_ms.max(acc.jitter_ms / 2.0));
            if rng.chance(cfg.key_loss) {
                arrive += 200.0 + rng.exp(cfg.loss_stall_ms);
            }
            arrive = arrive.max(last_arrive + 0.05);
            last_arrive = arrive;
            evs.push((
                arrive,
                format!("{{\"type\":\"keystroke\",\"session\":\"{sid}\",\"t_ms\":{arrive:.1},\"seq\":{k}}}\n"),
            ));
        }
        let end_t = evs.iter().map(|e| e.0).fold(t0, f64::max) + 1_000.0;
        evs.push((
            end_t,
            format!("{{\"type\":\"end\",\"session\":\"{sid}\",\"t_ms\":{end_t:.1}}}\n"),
        ));
        for (t, line) in evs {
            seq += 1;
            heap.push(Reverse((key(t), seq, line)));
        }
        let offset = distance_km(truth, claim_pos);
        summary.sessions += 1;
        summary.relayed += pl.relayed as u64;
        summary.location_fraud +=
            (pl.claim.is_some() && pl.truth.is_none() && !pl.travel_fraud) as u64;
        summary.travel_fraud += pl.travel_fraud as u64;
        let label = Label {
            session: sid,
            user: p.id.clone(),
            index: pl.index,
            clean_history: pl.clean_history,
            relayed: pl.relayed,
            added_delay_ms: added,
            true_lat: truth.lat,
            true_lon: truth.lon,
            claimed: claim_label,
            claim_offset_km: offset,
            travel_fraud: pl.travel_fraud,
            access: acc.name.clone(),
            landmarks: take,
            interactions: n_loops,
        };
        let mut s = serde_json::to_string(&label).map_err(|e| e.to_string())?;
        s.push('\n');
        labels.write_all(s.as_bytes()).map_err(io)?;
    }
    while let Some(Reverse((_, _, line))) = heap.pop() {
        events.write_all(line.as_bytes()).map_err(io)?;
        summary.events += 1;
    }
    Ok((summary, out_lms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            users: 8,
            sessions_per_user: [3, 4],
            interactions: [30, 40],
            keystrokes: [20, 30],
            ..SimConfig::default()
        }
    }

    #[test]
    fn deterministic_sorted_and_parseable() {
        let run = |c: &SimConfig| {
            let (mut e, mut l) = (Vec::new(), Vec::new());
            let (s, lms) = simulate(c, &mut e, &mut l).unwrap();
            (e, l, s, lms)
        };
        let (e1, l1, s1, lms) = run(&small(5));
        let (e2, l2, _, _) = run(&small(5));
        assert_eq!(e1, e2);
        assert_eq!(l1, l2);
        let (e3, _, _, _) = run(&small(6));
        assert_ne!(e1, e3);
        let text = String::from_utf8(e1).unwrap();
        let mut last = f64::MIN;
        let mut n = 0;
        for line in text.lines() {
            let ev =
                crate::event::parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(ev.t_ms >= last - 0.001, "not sorted at {line}");
            last = ev.t_ms;
            n += 1;
        }
        assert_eq!(n, s1.events);
        assert_eq!(
            String::from_utf8(l1).unwrap().lines().count() as u64,
            s1.sessions
        );
        assert!(lms.iter().any(|l| l.id == "server"));
        assert!(lms.len() > 50);
    }

    #[test]
    fn a_listed_landmark_set_replaces_the_populous_cities() {
        let mut c = SimConfig {
            landmark_cities: vec![
                "Frankfurt am Main, DE".into(),
                "Paris, FR".into(),
                "Singapore, SG".into(),
            ],
            ..small(7)
        };
        let (mut e, mut l) = (Vec::new(), Vec::new());
        let (s, lms) = simulate(&c, &mut e, &mut l).unwrap();
        assert!(s.sessions > 0);
        let ids: Vec<&str> = lms.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "lm-frankfurt-am-main-de",
                "lm-paris-fr",
                "lm-singapore-sg",
                "server"
            ]
        );
        // Every RTT goes to a listed landmark or the server.
        let text = String::from_utf8(e).unwrap();
        for line in text.lines().filter(|l| l.contains(r#""type":"rtt""#)) {
            assert!(
                ids.iter()
                    .any(|id| line.contains(&format!(r#""landmark":"{id}""#))),
                "{line}"
            );
        }
        c.landmark_cities.push("Nowhere At All".into());
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("landmark_cities") && err.contains("Nowhere At All"),
            "{err}"
        );
    }

    #[test]
    fn alternative_config_is_valid_and_differs() {
        let a = SimConfig::alternative();
        a.validate().unwrap();
        let d = SimConfig::default();
        assert_ne!(a.human_mu_ms, d.human_mu_ms);
        assert_ne!(a.server_city, d.server_city);
        let bad = SimConfig {
            lapse_probability: 2.0,
            ..SimConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("lapse_probability"));
        let bad = SimConfig {
            interactions: [5, 1],
            ..SimConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("interactions"));
        // Absurd counts are refused, not overflowed or allocated.
        for (bad, field) in [
            (
                SimConfig {
                    sessions_per_user: [usize::MAX, usize::MAX],
                    ..SimConfig::default()
                },
                "sessions_per_user must be [lo, hi] with lo ≤ hi ≤ 10000",
            ),
            (
                SimConfig {
                    landmarks_near: [0, usize::MAX],
                    ..SimConfig::default()
                },
                "landmarks_near must be",
            ),
            (
                SimConfig {
                    users: usize::MAX,
                    ..SimConfig::default()
                },
                "users must be at most",
            ),
        ] {
            let e = bad.validate().unwrap_err();
            assert!(e.contains(field), "{e}");
        }
    }
}
