//! Relay detection: how much longer is the stimulus → input loop than the network explains?
//!
//! For each interaction the server knows when a stimulus left and when the next input arrived.
//! Subtracting the network RTT leaves the **excess** `E = loop − rtt`: the person's response time
//! plus, for a relayed session (KVM-over-IP box, remote desktop), the second hop and the video
//! encoding. The session statistic `S` is the mean of the 10th–50th percentiles of `E`: the
//! leading edge and centre of the response-time distribution, which a constant added delay
//! shifts and which lapses of attention (the long right tail) do not move.
//!
//! Its sampling variance comes from the asymptotic covariance of sample quantiles,
//! `Cov(q_i, q_j) = (min(p_i,p_j) − p_i p_j) · s_i s_j / n`, with the sparsity `s = 1/f(q)`
//! estimated from the sample by a difference quotient.

/// Quantile levels averaged into the session statistic.
pub const LEVELS: [f64; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

/// Sample quantile (Hyndman–Fan type 7, linear interpolation) of sorted values.
pub fn quantile_sorted(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let h = (xs.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(xs.len() - 1);
    xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
}

/// The per-session relay statistic.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LoopStat {
    /// Number of loops used.
    pub n: usize,
    /// Mean of the quantiles at [`LEVELS`], ms.
    pub s_ms: f64,
    /// Sampling variance of `s_ms`, ms².
    pub var: f64,
    /// 10th percentile of the excess ("floor"), ms.
    pub floor_ms: f64,
    /// Median excess, ms.
    pub median_ms: f64,
}

/// Compute the statistic from excess values (sorted in place). `None` when `xs` is empty.
pub fn loop_stat(xs: &mut [f64]) -> Option<LoopStat> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let q: Vec<f64> = LEVELS.iter().map(|&p| quantile_sorted(xs, p)).collect();
    let h = (0.6 * (n as f64).powf(-1.0 / 3.0)).clamp(0.03, 0.1);
    let sparsity: Vec<f64> = LEVELS
        .iter()
        .map(|&p| {
            let (a, b) = ((p - h).max(0.0), (p + h).min(1.0));
            ((quantile_sorted(xs, b) - quantile_sorted(xs, a)) / (b - a)).max(1.0)
        })
        .collect();
    let k = LEVELS.len() as f64;
    let mut var = 0.0;
    for i in 0..LEVELS.len() {
        for j in 0..LEVELS.len() {
            let (pi, pj) = (LEVELS[i], LEVELS[j]);
            var += (pi.min(pj) - pi * pj) * sparsity[i] * sparsity[j];
        }
    }
    var /= k * k * n as f64;
    Some(LoopStat {
        n,
        s_ms: q.iter().sum::<f64>() / k,
        var: var.max(0.25),
        floor_ms: q[0],
        median_ms: q[4],
    })
}

/// A fixed-capacity uniform sample of a stream (Vitter's algorithm R) with a deterministic
/// generator, so that results do not depend on anything but the input.
#[derive(Clone, Debug)]
pub struct Reservoir {
    /// The kept values.
    pub items: Vec<[f32; 2]>,
    /// How many were offered.
    pub seen: u64,
    cap: usize,
    state: u64,
}

impl Reservoir {
    /// An empty reservoir of capacity `cap`, seeded by `seed`.
    pub fn new(cap: usize, seed: u64) -> Reservoir {
        Reservoir {
            items: Vec::new(),
            seen: 0,
            cap: cap.max(1),
            state: seed | 1,
        }
    }

    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Offer one value.
    pub fn push(&mut self, v: [f32; 2]) {
        self.seen += 1;
        if self.items.len() < self.cap {
            self.items.push(v);
        } else {
            let j = self.next() % self.seen;
            if (j as usize) < self.cap {
                self.items[j as usize] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_hand() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile_sorted(&xs, 0.0), 1.0);
        assert_eq!(quantile_sorted(&xs, 0.5), 3.0);
        assert_eq!(quantile_sorted(&xs, 0.1), 1.4);
        assert_eq!(quantile_sorted(&xs, 1.0), 5.0);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }

    #[test]
    fn a_constant_shift_moves_the_statistic_by_exactly_that_much() {
        // Deterministic spread-out sample.
        let base: Vec<f64> = (0..200)
            .map(|i| 250.0 + ((i * 37) % 200) as f64 * 1.5)
            .collect();
        let a = loop_stat(&mut base.clone()).unwrap();
        let b = loop_stat(&mut base.iter().map(|x| x + 40.0).collect::<Vec<_>>()).unwrap();
        assert!((b.s_ms - a.s_ms - 40.0).abs() < 1e-9);
        assert!((a.var - b.var).abs() < 1e-9);
        // Outliers in the right tail do not move it.
        let mut with_lapses = base.clone();
        for x in with_lapses.iter_mut().take(30) {
            *x += 10_000.0;
        }
        let c = loop_stat(&mut with_lapses).unwrap();
        assert!((c.s_ms - a.s_ms).abs() < 25.0, "{} vs {}", c.s_ms, a.s_ms);
        // The variance shrinks like 1/n.
        let more: Vec<f64> = (0..800)
            .map(|i| 250.0 + ((i * 37) % 200) as f64 * 1.5)
            .collect();
        let d = loop_stat(&mut more.clone()).unwrap();
        assert!(
            d.var < a.var / 3.0 && d.var > a.var / 5.0,
            "{} {}",
            d.var,
            a.var
        );
    }

    #[test]
    fn reservoir_is_bounded_and_uniformish() {
        let mut r = Reservoir::new(100, 42);
        for i in 0..10_000 {
            r.push([i as f32, 0.0]);
        }
        assert_eq!(r.items.len(), 100);
        assert_eq!(r.seen, 10_000);
        let mean = r.items.iter().map(|v| v[0] as f64).sum::<f64>() / 100.0;
        assert!((mean - 5_000.0).abs() < 1_000.0, "{mean}");
    }
}
