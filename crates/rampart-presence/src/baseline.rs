//! Per-user baselines and population priors, updated online and robust to outliers.
//!
//! The relay statistic `S` of a session (see [`crate::relay`]) is modelled as
//! `S = μ_user + D + e`, with `μ_user` the user's own level, `D` the relay's added delay (0 for a
//! direct session) and `e ~ N(0, τ² + v)`: `τ²` is the session-to-session variation of a person
//! (time of day, fatigue, task) and `v` the sampling variance of that session's `S`. Users are
//! drawn from the population, `μ_user ~ N(μ_pop, σ_u²)`.
//!
//! * A user's baseline is the posterior of `μ_user`: precision `1/σ_u² + Σ λᵏ wⱼ`, mean
//!   `(μ_pop/σ_u² + Σ λᵏ wⱼ Sⱼ) / precision` with `wⱼ = 1/(τ² + vⱼ)`. A new user is therefore
//!   judged against the population prior, and the user's own history takes over smoothly as
//!   sessions accumulate. The forgetting factor `λ = 0.9` lets the baseline follow slow drift.
//! * Robustness: a session moves the baseline by at most 2.5 predictive standard deviations
//!   (winsorised update), and sessions judged `relay-suspected` or `impossible` never update it.
//! * The population prior (`μ_pop`, the total variance, `τ²`) is learned online from all
//!   users' sessions, starting from built-in defaults worth 10 sessions: level and spread from
//!   sessions within 2 SD of it, corrected for the cut (see [`learn`]), `τ²` from users who
//!   have a baseline, on the sessions their own gate lets through.
//! * Keystrokes: the fraction of bunched key intervals, with its between-session variance, for
//!   [`bunching_evidence`].

use crate::likelihood::PathModel;
use crate::relay::LoopStat;
use serde::{Deserialize, Serialize};

/// Version of the serialised model; bump when the meaning of a field changes.
pub const MODEL_VERSION: u32 = 1;
/// Forgetting factor of user baselines (per session).
pub const FORGET: f64 = 0.9;
/// A session may move a baseline by at most this many predictive standard deviations.
pub const CLIP_SD: f64 = 2.5;
/// Sessions after which the user's own history, not the population, is "the baseline".
pub const USER_MIN_SESSIONS: u64 = 3;

/// The last login of a user (for impossible travel across runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastLogin {
    /// Server time, ms.
    pub t_ms: f64,
    /// Claimed latitude.
    pub lat: f64,
    /// Claimed longitude.
    pub lon: f64,
    /// Accuracy radius of the claim, km.
    pub radius_km: f64,
    /// Session id.
    pub session: String,
    /// How the claim was given (city label or coordinates).
    pub place: String,
    /// Where the session's RTTs placed the user, when they disputed the claim: impossible
    /// travel is then also checked from there (a false claim must not hide the next login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<MeasuredPlace>,
}

/// A disk holding the whole delay region of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasuredPlace {
    /// Centre latitude.
    pub lat: f64,
    /// Centre longitude.
    pub lon: f64,
    /// Radius, km: every point of the region lies within it.
    pub radius_km: f64,
    /// Nearest city to the centre, for messages.
    pub near: String,
}

/// One user's baseline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserBaseline {
    /// Sessions folded into the relay baseline.
    pub sessions: u64,
    /// Σ λᵏ wⱼ (1/ms²).
    pub w_sum: f64,
    /// Σ λᵏ wⱼ Sⱼ.
    pub ws_sum: f64,
    /// Sessions folded into the keystroke baseline.
    pub key_sessions: u64,
    /// The user's usual fraction of bunched key intervals (posterior mean; for display).
    pub bunch_rate: f64,
    /// Σ λᵏ (bunched key intervals) over the user's sessions.
    #[serde(default)]
    pub key_bunched: f64,
    /// Σ λᵏ (key intervals) over the user's sessions.
    #[serde(default)]
    pub key_intervals: f64,
    /// The latest login seen.
    pub last_login: Option<LastLogin>,
    /// Server time of the last update, ms.
    pub updated_ms: f64,
}

/// Population prior.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// Sessions that updated `mu` and `var_total`.
    pub sessions: u64,
    /// Mean session statistic over the population, ms.
    pub mu: f64,
    /// Variance of the session statistic across all sessions of all users, ms².
    pub var_total: f64,
    /// Within-user session-to-session variance τ², ms².
    pub tau2: f64,
    /// Number of residuals that updated `tau2`.
    pub tau_obs: u64,
    /// Mean sampling variance of a session statistic, ms².
    pub v_mean: f64,
    /// Population fraction of bunched key intervals.
    pub bunch_rate: f64,
    /// Sessions that updated `bunch_rate`.
    pub key_sessions: u64,
    /// Variance of the bunched fraction between sessions beyond the binomial's (how much the
    /// rate itself varies from person to person and link to link).
    #[serde(default = "default_bunch_var")]
    pub bunch_var: f64,
    /// Path model of the location test: mean of ln(γ − 1) over far landmarks.
    #[serde(default = "default_path_log_m")]
    pub path_log_m: f64,
    /// ...and its standard deviation.
    #[serde(default = "default_path_s")]
    pub path_s: f64,
    /// Landmark observations that updated the path model.
    #[serde(default)]
    pub path_obs: u64,
}

fn default_path_log_m() -> f64 {
    0.6f64.ln()
}

fn default_path_s() -> f64 {
    0.6
}

/// (1 %)²: the rate varies between sessions as much as its mean (gamma shape 1).
fn default_bunch_var() -> f64 {
    1e-4
}

impl Default for Prior {
    /// Built-in defaults, used until data replaces them: response excess around 320 ms with
    /// 60 ms total spread (simple visual reaction times of adults are ~250–350 ms with
    /// between-person SD ~40–50 ms), τ = 15 ms, 1 % bunched key intervals.
    fn default() -> Self {
        Prior {
            sessions: 0,
            mu: 320.0,
            var_total: 60.0 * 60.0,
            tau2: 15.0 * 15.0,
            tau_obs: 0,
            v_mean: 36.0,
            bunch_rate: 0.01,
            key_sessions: 0,
            bunch_var: default_bunch_var(),
            path_log_m: default_path_log_m(),
            path_s: default_path_s(),
            path_obs: 0,
        }
    }
}

const PRIOR_PSEUDO: f64 = 10.0;
const MIN_RATE: f64 = 1.0 / 2000.0;

fn rate(n: u64) -> f64 {
    (1.0 / (n as f64 + 1.0 + PRIOR_PSEUDO)).max(MIN_RATE)
}

impl Prior {
    /// Between-user variance σ_u², ms² (never below (10 ms)²).
    pub fn sigma_u2(&self) -> f64 {
        (self.var_total - self.tau2 - self.v_mean).max(100.0)
    }

    /// The location test's path model as learnt so far (`S` kept in [0.2, 1.5]).
    pub fn path_model(&self, detour_km: f64) -> PathModel {
        PathModel {
            median: self.path_log_m.exp(),
            sigma: self.path_sigma(),
            detour_km,
        }
    }

    /// `S` of the path model, kept in [0.2, 1.5].
    fn path_sigma(&self) -> f64 {
        self.path_s.clamp(0.2, 1.5)
    }

    /// The population's bunching rate, kept in [0.05 %, 50 %].
    fn bunch_p(&self) -> f64 {
        self.bunch_rate.clamp(5e-4, 0.5)
    }

    /// Gamma shape of the bunching rate's variation between sessions, `p²/var`, in [0.2, 100].
    pub fn bunch_shape(&self) -> f64 {
        let p = self.bunch_p();
        (p * p / self.bunch_var.max(1e-12)).clamp(0.2, 100.0)
    }

    /// Posterior mean of a user's bunching rate: the population's gamma (mean `p`, shape `r`)
    /// updated by the user's discounted counts, `(r + Σ bunched)/(r/p + Σ intervals)`.
    fn user_bunch_rate(&self, user: &UserBaseline) -> f64 {
        let shape = self.bunch_shape();
        (shape + user.key_bunched) / (shape / self.bunch_p() + user.key_intervals)
    }

    /// Within-user session-to-session variance, never below (2 ms)².
    pub fn tau2(&self) -> f64 {
        self.tau2.max(4.0)
    }
}

/// The relay judgement of one session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelayJudgement {
    /// The session's statistic `S`, ms.
    pub s_ms: f64,
    /// What the baseline predicts for it, ms.
    pub expected_ms: f64,
    /// Estimated added delay `S − expected`, ms.
    pub added_ms: f64,
    /// Standard deviation of that estimate under "no relay", ms.
    pub sd_ms: f64,
    /// 95 % confidence interval of the added delay, ms.
    pub ci95_ms: [f64; 2],
    /// `added / sd`: the interaction loops' evidence.
    pub z: f64,
    /// The keystrokes' evidence, when the session had enough typing
    /// ([`bunching_evidence`]).
    pub keys_z: Option<f64>,
    /// What the verdict uses: `z`, or with keystrokes the larger of `z` and
    /// `(z + keys_z)/√2`.
    pub evidence_z: f64,
    /// `user` when the user's own history dominates, else `population`.
    pub baseline: &'static str,
    /// Sessions in the user's baseline.
    pub user_sessions: u64,
}

/// Posterior mean and variance of a user's level.
fn posterior(user: Option<&UserBaseline>, prior: &Prior) -> (f64, f64) {
    let p0 = 1.0 / prior.sigma_u2();
    let (w, ws) = user.map_or((0.0, 0.0), |u| (u.w_sum, u.ws_sum));
    let prec = p0 + w;
    ((prior.mu * p0 + ws) / prec, 1.0 / prec)
}

/// Judge a session's loop statistic against the user's baseline (or the population prior).
pub fn judge(stat: &LoopStat, user: Option<&UserBaseline>, prior: &Prior) -> RelayJudgement {
    let (m, pv) = posterior(user, prior);
    let sd = (pv + prior.tau2() + stat.var).sqrt();
    let added = stat.s_ms - m;
    let sessions = user.map_or(0, |u| u.sessions);
    RelayJudgement {
        s_ms: stat.s_ms,
        expected_ms: m,
        added_ms: added,
        sd_ms: sd,
        ci95_ms: [added - 1.96 * sd, added + 1.96 * sd],
        z: added / sd,
        keys_z: None,
        evidence_z: added / sd,
        baseline: if sessions >= USER_MIN_SESSIONS {
            "user"
        } else {
            "population"
        },
        user_sessions: sessions,
    }
}

/// Population sessions count towards the population's level and spread only while their
/// residual is below this many standard deviations (see [`learn`]).
pub const POP_LEARN_Z: f64 = 2.0;

/// Fold a session not judged a relay into the population prior and, when `own` (the session
/// also passed the stricter learning gate for its user), into the user's baseline.
///
/// The population's level and spread learn only from sessions whose residual from the
/// population level is below [`POP_LEARN_Z`] standard deviations, so that relays just under the
/// verdict threshold cannot drag the population towards them (with half of all users relayed
/// from their first session, learning from every unflagged session let the prior drift until
/// most relays looked normal). A normal cut off above at c has mean −σλ and mean square
/// σ²(1 − cλ), λ = φ(c)/Φ(c); the updates undo both, because a prior learnt from the cut-off
/// sample alone is narrower than the population, flags more of its genuine right tail, and
/// then learns even less of it. A user's own level, and the within-user variance τ² measured
/// on it, learn only when `own`.
pub fn learn(stat: &LoopStat, user: &mut UserBaseline, prior: &mut Prior, t_ms: f64, own: bool) {
    let (m, pv) = posterior(Some(user), prior);
    let tau2 = prior.tau2();
    // Population level and spread (truncated above at POP_LEARN_Z, winsorised below at 3 SD).
    let sd_tot = prior.var_total.max(1.0).sqrt();
    let r = (stat.s_ms - prior.mu).max(-3.0 * sd_tot);
    let a = rate(prior.sessions);
    if r < POP_LEARN_Z * sd_tot {
        let c = POP_LEARN_Z;
        let lambda = crate::stats::normal_pdf(c) / (1.0 - crate::stats::normal_sf(c));
        prior.mu += a * (r + sd_tot * lambda);
        prior.var_total += a * (r * r / (1.0 - c * lambda) - prior.var_total);
    }
    prior.v_mean += a * (stat.var - prior.v_mean);
    prior.sessions += 1;
    if !own {
        return;
    }
    // Within-user variation, from users whose level is already known. It is a population
    // parameter, but measured on one user's history, so it follows the user's gate: a user's
    // unflagged relayed sessions must not widen it (their residuals are the relay's delay).
    if user.sessions >= USER_MIN_SESSIONS {
        let exp = pv + tau2 + stat.var;
        let r = (stat.s_ms - m).clamp(-3.0 * exp.sqrt(), 3.0 * exp.sqrt());
        let obs = r * r - pv - stat.var;
        prior.tau2 += rate(prior.tau_obs) * (obs - prior.tau2);
        prior.tau2 = prior.tau2.max(4.0);
        prior.tau_obs += 1;
    }
    // The user's level (winsorised).
    let sd = (pv + tau2 + stat.var).sqrt();
    let s = m + (stat.s_ms - m).clamp(-CLIP_SD * sd, CLIP_SD * sd);
    let w = 1.0 / (tau2 + stat.var);
    user.w_sum = FORGET * user.w_sum + w;
    user.ws_sum = FORGET * user.ws_sum + w * s;
    user.sessions += 1;
    user.updated_ms = user.updated_ms.max(t_ms);
}

/// Fold the log path inflations of one session's far landmarks (taken at the claim, which is
/// trusted: false claims are a minority, and each value is winsorised at 3 SD) into the path
/// model: a running mean and a running mean absolute deviation (× 1.2533, the SD of a normal).
pub fn learn_path(log_inflations: &[f64], prior: &mut Prior) {
    for &z in log_inflations {
        if !z.is_finite() {
            continue;
        }
        let s = prior.path_sigma();
        let r = (z - prior.path_log_m).clamp(-3.0 * s, 3.0 * s);
        let a = rate(prior.path_obs);
        prior.path_log_m += a * r;
        prior.path_s += a * (1.253_314 * r.abs() - prior.path_s);
        prior.path_obs += 1;
    }
}

/// Keystroke evidence of a relay: how unusual a session's count of bunched key intervals is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyEvidence {
    /// Bunched intervals (≤ [`crate::keys::BUNCH_MS`]).
    pub bunched: u64,
    /// Typing intervals.
    pub intervals: u64,
    /// Bunched fraction expected for this user, as a rate per interval.
    pub expected_rate: f64,
    /// Gamma shape of the rate's variation between sessions (`∞` would be a plain binomial).
    pub shape: f64,
    /// `z = Φ⁻¹(1 − p)` of the mid-p upper tail: ~N(0, 1) without a relay, large with one.
    pub z: f64,
}

/// Judge a session's bunched key intervals.
///
/// The count is modelled as negative binomial: binomial sampling of a rate that itself varies
/// between sessions (a gamma with the population's mean and the shape that matches the learnt
/// between-session variance, [`Prior::bunch_var`]). A user's own history can only raise the
/// expected rate (the posterior mean of their rate, `(r + Σ bunched)/(r/p + Σ intervals)`,
/// when it is above the population's): a typist whose own link bunches keys is not flagged for
/// it, while a user who usually bunches less than most is still judged against the population,
/// so moving to a jittery network is not a relay.
pub fn bunching_evidence(
    bunched: u64,
    intervals: u64,
    user: Option<&UserBaseline>,
    prior: &Prior,
) -> KeyEvidence {
    let shape = prior.bunch_shape();
    let p_user = user.map_or(0.0, |u| prior.user_bunch_rate(u));
    let p0 = prior.bunch_p().max(p_user).min(0.5);
    let tail = crate::stats::nbinom_mid_p_upper(bunched, intervals as f64 * p0, shape);
    KeyEvidence {
        bunched,
        intervals,
        expected_rate: p0,
        shape,
        z: crate::stats::normal_isf(tail),
    }
}

/// Fold a session's bunched key intervals into the baselines: the population rate (robust:
/// a session counts at most 3× the rate + 2 points) and its between-session variance, and, when
/// `own`, the user's discounted counts (see [`learn`] for the two gates).
pub fn learn_keys(
    bunched: u64,
    intervals: u64,
    user: &mut UserBaseline,
    prior: &mut Prior,
    own: bool,
) {
    if intervals == 0 {
        return;
    }
    let n = intervals as f64;
    let frac = bunched as f64 / n;
    let clip = |base: f64| frac.min(base * 3.0 + 0.02);
    let a = rate(prior.key_sessions);
    let p = prior.bunch_p();
    let between = (clip(p) - p).powi(2) - p * (1.0 - p) / n;
    prior.bunch_var += a * (between - prior.bunch_var);
    prior.bunch_var = prior.bunch_var.max(1e-9);
    prior.bunch_rate += a * (clip(prior.bunch_rate) - prior.bunch_rate);
    prior.key_sessions += 1;
    if !own {
        return;
    }
    user.key_bunched = FORGET * user.key_bunched + clip(prior.bunch_p().max(user.bunch_rate)) * n;
    user.key_intervals = FORGET * user.key_intervals + n;
    user.bunch_rate = prior.user_bunch_rate(user);
    user.key_sessions += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(s: f64, var: f64) -> LoopStat {
        LoopStat {
            n: 200,
            s_ms: s,
            var,
            floor_ms: s - 50.0,
            median_ms: s + 30.0,
        }
    }

    #[test]
    fn new_users_are_judged_against_the_population() {
        let prior = Prior::default();
        let j = judge(&stat(360.0, 36.0), None, &prior);
        assert_eq!(j.baseline, "population");
        assert!((j.expected_ms - 320.0).abs() < 1e-9);
        // σ_u² = 3600 − 225 − 36 = 3339; sd = sqrt(3339 + 225 + 36) = 60.
        assert!((j.sd_ms - 60.0).abs() < 1e-9, "{}", j.sd_ms);
        assert!(j.z < 1.0);
    }

    #[test]
    fn a_known_user_is_judged_against_their_own_history_and_outliers_do_not_poison_it() {
        let mut prior = Prior::default();
        let mut u = UserBaseline::default();
        for i in 0..20 {
            learn(
                &stat(250.0 + (i % 3) as f64, 25.0),
                &mut u,
                &mut prior,
                i as f64,
                true,
            );
        }
        let j = judge(&stat(251.0, 25.0), Some(&u), &prior);
        assert_eq!(j.baseline, "user");
        assert!(
            j.expected_ms > 245.0 && j.expected_ms < 256.0,
            "{}",
            j.expected_ms
        );
        let relayed = judge(&stat(251.0 + 60.0, 25.0), Some(&u), &prior);
        assert!(relayed.z > 2.33, "{relayed:?}");
        assert!(relayed.ci95_ms[0] < 60.0 && relayed.ci95_ms[1] > 60.0);
        // One absurd session moves the baseline by at most 2.5 predictive SDs.
        let before = judge(&stat(251.0, 25.0), Some(&u), &prior).expected_ms;
        learn(&stat(5_000.0, 25.0), &mut u, &mut prior, 99.0, true);
        let after = judge(&stat(251.0, 25.0), Some(&u), &prior).expected_ms;
        assert!(after - before < 10.0, "{before} → {after}");
        // A session that only the population learns from leaves the user's level alone.
        let (w, n) = (u.w_sum, u.sessions);
        let mu = prior.mu;
        learn(&stat(300.0, 25.0), &mut u, &mut prior, 100.0, false);
        assert_eq!((u.w_sum, u.sessions), (w, n));
        assert!(prior.mu > mu);
    }

    #[test]
    fn the_population_is_learnt_without_the_cut_off_tail_shrinking_it() {
        // Sessions from N(300, 50²) (Box–Muller on a fixed LCG): only those below 2 SD teach
        // the population, and the truncation correction gives back the full spread; without it
        // the prior would settle near 0.89 × the variance and keep narrowing.
        let mut state = 12345u64;
        let mut uni = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut prior = Prior::default();
        for _ in 0..20_000 {
            let z = (-2.0 * uni().ln()).sqrt() * (2.0 * std::f64::consts::PI * uni()).cos();
            let mut u = UserBaseline::default();
            learn(&stat(300.0 + 50.0 * z, 25.0), &mut u, &mut prior, 0.0, true);
        }
        assert!((prior.mu - 300.0).abs() < 3.0, "{}", prior.mu);
        let sd = prior.var_total.sqrt();
        assert!((sd - 50.0).abs() < 2.5, "{sd}");
        // Relays far above the cut-off do not move it.
        let before = (prior.mu, prior.var_total);
        let mut u = UserBaseline::default();
        learn(&stat(500.0, 25.0), &mut u, &mut prior, 0.0, true);
        assert_eq!((prior.mu, prior.var_total), before);
    }

    #[test]
    fn serialises_round_trip() {
        let u = UserBaseline {
            sessions: 3,
            w_sum: 0.1,
            ws_sum: 30.0,
            last_login: Some(LastLogin {
                t_ms: 1.0,
                lat: 2.0,
                lon: 3.0,
                radius_km: 4.0,
                session: "s".into(),
                place: "x".into(),
                measured: Some(MeasuredPlace {
                    lat: 5.0,
                    lon: 6.0,
                    radius_km: 7.0,
                    near: "y".into(),
                }),
            }),
            ..Default::default()
        };
        let back: UserBaseline = serde_json::from_str(&serde_json::to_string(&u).unwrap()).unwrap();
        assert_eq!(u, back);
    }

    #[test]
    fn the_path_model_is_learnt_and_false_claims_barely_move_it() {
        // ln(γ − 1) ~ N(ln 0.8, 0.4²) by Box–Muller on a deterministic low-discrepancy pair of
        // sequences (no RNG, no flakiness); every 20th value
        // comes from a false claim (e^5 ≈ 150× the usual inflation).
        let mut prior = Prior::default();
        let mut zs = Vec::new();
        for i in 0..4000u32 {
            let u1 = (f64::from(i) + 0.5) / 4000.0;
            let u2 = f64::from(i.reverse_bits()) / f64::from(u32::MAX);
            let n = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            zs.push(if i % 20 == 0 {
                5.0
            } else {
                0.8f64.ln() + 0.4 * n
            });
        }
        learn_path(&zs, &mut prior);
        let m = prior.path_model(200.0);
        assert!((m.median - 0.8).abs() < 0.08, "{m:?}");
        assert!((m.sigma - 0.4).abs() < 0.08, "{m:?}");
        assert_eq!(prior.path_obs, 4000);
        // Non-finite values are ignored.
        learn_path(&[f64::NAN, f64::INFINITY], &mut prior);
        assert_eq!(prior.path_obs, 4000);
    }

    #[test]
    fn bunching() {
        let prior = Prior::default();
        let e = bunching_evidence(1, 300, None, &prior);
        assert!(
            e.z < 0.0 && e.expected_rate == 0.01 && e.shape == 1.0,
            "{e:?}"
        );
        // Expected 3 of 300, geometric (shape 1): P(K ≥ 60) ≈ 0.75^60 ≈ 3·10⁻⁸ → z ≈ 5.4.
        let e = bunching_evidence(60, 300, None, &prior);
        assert!(e.z > 5.0 && e.z < 6.0, "{e:?}");
    }

    #[test]
    fn bunching_baselines_are_learnt_and_only_raise_expectations() {
        let mut prior = Prior::default();
        let mut users: Vec<UserBaseline> = vec![UserBaseline::default(); 50];
        // Population: half the users bunch 0.2 % of intervals, half 1.2 % (jittery links),
        // 400 intervals a session, counts at the rate ± ½.
        for round in 0..40 {
            for (i, u) in users.iter_mut().enumerate() {
                let rate = if i % 2 == 0 { 0.002 } else { 0.012 };
                let k = ((rate * 400.0) as u64) + (round + i as u64) % 2;
                learn_keys(k, 400, u, &mut prior, true);
            }
        }
        assert!(
            (prior.bunch_rate - 0.0075).abs() < 0.0015,
            "{}",
            prior.bunch_rate
        );
        // Between-session variance (0.5 %)² less the binomial's: shape ≈ 0.0075²/0.75e-5 ≈ 7.
        let shape = prior.bunch_shape();
        assert!(shape > 2.0 && shape < 30.0, "{shape}");
        // The jittery user's usual count is not evidence; the same count from a new user is
        // mild; a relay's 20 of 400 is strong for both.
        let jittery = &users[1];
        let calm = &users[0];
        let own = bunching_evidence(5, 400, Some(jittery), &prior);
        assert!(bunching_evidence(5, 400, None, &prior).z > own.z);
        assert!(own.z < 1.0, "{own:?}");
        assert!(bunching_evidence(20, 400, Some(jittery), &prior).z > 3.0);
        assert!(bunching_evidence(20, 400, None, &prior).z > 3.0);
        // A calm user is judged against the population, not their own lower rate.
        let c = bunching_evidence(3, 400, Some(calm), &prior);
        let pop = bunching_evidence(3, 400, None, &prior);
        assert_eq!(c.expected_rate, pop.expected_rate);
        assert!(c.z < 2.0, "{c:?}");
        // A stored prior without the new field loads with the default.
        let mut v = serde_json::to_value(&prior).unwrap();
        v.as_object_mut().unwrap().remove("bunch_var");
        let back: Prior = serde_json::from_value(v).unwrap();
        assert_eq!(back.bunch_var, 1e-4);
    }
}
