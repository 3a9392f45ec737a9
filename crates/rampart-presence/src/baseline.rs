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
//! * The population prior (`μ_pop`, the total variance, `τ²`) is learned the same way from all
//!   users' sessions, starting from built-in defaults worth 10 sessions.

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
    /// The user's usual fraction of bunched key intervals.
    pub bunch_rate: f64,
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
    /// `added / sd`.
    pub z: f64,
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
        baseline: if sessions >= USER_MIN_SESSIONS {
            "user"
        } else {
            "population"
        },
        user_sessions: sessions,
    }
}

/// Fold a session judged free of relay into the user's baseline and the population prior.
pub fn learn(stat: &LoopStat, user: &mut UserBaseline, prior: &mut Prior, t_ms: f64) {
    let (m, pv) = posterior(Some(user), prior);
    let tau2 = prior.tau2();
    // Population level and spread (robust: residual clipped at 3 SD).
    let sd_tot = prior.var_total.max(1.0).sqrt();
    let r = (stat.s_ms - prior.mu).clamp(-3.0 * sd_tot, 3.0 * sd_tot);
    let a = rate(prior.sessions);
    prior.mu += a * r;
    prior.var_total += a * (r * r - prior.var_total);
    prior.v_mean += a * (stat.var - prior.v_mean);
    prior.sessions += 1;
    // Within-user variation, from users whose level is already known.
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

/// Keystroke bunching test: z-score of the observed bunched count against the user's (or the
/// population's) usual rate.
pub fn bunching_z(
    bunched: u64,
    intervals: u64,
    user: Option<&UserBaseline>,
    prior: &Prior,
) -> (f64, f64) {
    let p0 = match user {
        Some(u) if u.key_sessions >= USER_MIN_SESSIONS => u.bunch_rate,
        _ => prior.bunch_rate,
    }
    .clamp(0.005, 0.5);
    let n = intervals as f64;
    if n == 0.0 {
        return (0.0, p0);
    }
    ((bunched as f64 - n * p0) / (n * p0 * (1.0 - p0)).sqrt(), p0)
}

/// Fold a session's bunching rate into the baselines.
pub fn learn_keys(frac: f64, user: &mut UserBaseline, prior: &mut Prior) {
    let clip = |base: f64| frac.min(base * 3.0 + 0.02);
    let a = rate(prior.key_sessions);
    prior.bunch_rate += a * (clip(prior.bunch_rate) - prior.bunch_rate);
    prior.key_sessions += 1;
    let b = if user.key_sessions == 0 {
        prior.bunch_rate
    } else {
        user.bunch_rate
    };
    let w = (1.0 / (user.key_sessions as f64 + 1.0)).max(0.1);
    user.bunch_rate = b + w * (clip(b) - b);
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
        learn(&stat(5_000.0, 25.0), &mut u, &mut prior, 99.0);
        let after = judge(&stat(251.0, 25.0), Some(&u), &prior).expected_ms;
        assert!(after - before < 10.0, "{before} → {after}");
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
        let (z, p0) = bunching_z(1, 300, None, &prior);
        assert!(z < 1.0 && p0 == 0.01);
        let (z, _) = bunching_z(60, 300, None, &prior);
        assert!(z > 4.0);
    }
}
