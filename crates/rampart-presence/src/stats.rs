//! Small distribution functions the judgements need: the standard normal's upper-tail quantile
//! (to turn a p-value into a z-score) and the negative binomial's upper tail (counts of bunched
//! key intervals, whose rate varies from person to person and link to link).

/// `z` with `P(N(0,1) > z) = q`, for `q` in (0, 1); ±∞ at the ends, NaN for NaN.
///
/// Acklam's rational approximation (relative error below 1.2·10⁻⁹), evaluated on the lower tail
/// of whichever side is nearer, so that tiny `q` keep their precision.
pub fn normal_isf(q: f64) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q <= 0.0 {
        return f64::INFINITY;
    }
    if q >= 1.0 {
        return f64::NEG_INFINITY;
    }
    if q > 0.5 {
        return -normal_isf(1.0 - q);
    }
    // Φ⁻¹(q) for q ≤ 0.5 is ≤ 0; the upper-tail quantile is its negation.
    -lower_quantile(q)
}

/// Φ⁻¹(p) for p in (0, 0.5].
fn lower_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Mid-p upper tail `P(K > k) + ½·P(K = k)` of a negative binomial count with the given mean and
/// shape `r` (variance `mean + mean²/r`: a Poisson count whose rate is gamma-distributed).
///
/// Sums the probability mass function by its recurrence in log space, so it needs no gamma
/// function and does not underflow; counts far beyond the mean (where the tail is below 10⁻³⁰⁰)
/// give 0. Large means (> 10⁴) use the normal approximation with the same mean and variance.
pub fn nbinom_mid_p_upper(k: u64, mean: f64, shape: f64) -> f64 {
    let usable = |x: f64| x.is_finite() && x > 0.0;
    if !usable(mean) || !usable(shape) {
        // No count is expected: any count at all is as surprising as it gets.
        return if k == 0 { 0.5 } else { 0.0 };
    }
    if mean > 1e4 {
        let sd = (mean + mean * mean / shape).sqrt();
        return normal_sf((k as f64 - mean) / sd);
    }
    let p = shape / (shape + mean); // success probability
    let log_q = (mean / (shape + mean)).ln(); // ln(1 − p)
    // ln pmf(0) = r ln p; ln pmf(j+1) = ln pmf(j) + ln((j + r)/(j + 1)) + ln(1 − p).
    let step = |lp: f64, j: u64| lp + ((j as f64 + shape) / (j as f64 + 1.0)).ln() + log_q;
    let mut lp = shape * p.ln();
    // Walk to k, accumulating the lower tail as we go (only needed when k is below the mode).
    let mut lower = 0.0; // P(K < k)
    for j in 0..k {
        lower += lp.exp();
        lp = step(lp, j);
        if lp < -745.0 && j as f64 > mean {
            // pmf(k) underflows: the tail beyond is smaller still.
            return 0.0;
        }
    }
    let at_k = lp.exp();
    if lower > 0.5 {
        // The upper tail is small: sum it directly rather than as 1 − lower.
        let mut upper = 0.0;
        let mut j = k;
        let mut l = lp;
        loop {
            l = step(l, j);
            j += 1;
            let term = l.exp();
            upper += term;
            if (term <= upper * 1e-17 && j as f64 > mean) || j > k + 1_000_000 {
                break;
            }
        }
        upper + 0.5 * at_k
    } else {
        (1.0 - lower - 0.5 * at_k).clamp(0.0, 1.0)
    }
}

/// The standard normal density φ(x).
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// `P(N(0,1) > z)` (Abramowitz–Stegun 7.1.26 on erfc; absolute error below 1.5·10⁻⁷).
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * erfc
    } else {
        1.0 - 0.5 * erfc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_tables() {
        // Values from standard normal tables (scipy.stats.norm.isf).
        for (q, z) in [
            (0.5, 0.0),
            (0.025, 1.959_963_984_540_054),
            (0.01, 2.326_347_874_040_841),
            (0.001_35, 2.999_976_992_703_396),
            (1e-10, 6.361_340_902_404_056),
            (0.975, -1.959_963_984_540_054),
        ] {
            let got = normal_isf(q);
            assert!(
                (got - z).abs() < 1e-7 * z.abs().max(1.0),
                "{q}: {got} vs {z}"
            );
        }
        assert_eq!(normal_isf(0.0), f64::INFINITY);
        assert_eq!(normal_isf(1.0), f64::NEG_INFINITY);
        assert!(normal_isf(1e-320) > 37.0);
        for z in [-3.0, -1.0, 0.0, 0.5, 2.0, 4.0] {
            assert!((normal_isf(normal_sf(z)) - z).abs() < 1e-3, "{z}");
        }
    }

    #[test]
    fn negative_binomial_tail_by_hand() {
        // Shape 1 is the geometric distribution: pmf(j) = p (1 − p)^j with p = 1/(1 + mean).
        let mean: f64 = 3.0;
        let p: f64 = 1.0 / (1.0 + mean);
        for k in 0..12u64 {
            let pmf = |j: u64| p * (1.0 - p).powi(j as i32);
            let upper: f64 = (1.0 - p).powi(k as i32 + 1); // P(K > k)
            let want = upper + 0.5 * pmf(k);
            let got = nbinom_mid_p_upper(k, mean, 1.0);
            assert!((got - want).abs() < 1e-12, "{k}: {got} vs {want}");
        }
        // Far tail: summed directly, not lost to 1 − 1.
        let far = nbinom_mid_p_upper(200, 3.0, 1.0);
        let want = 0.75f64.powi(201) + 0.5 * 0.25 * 0.75f64.powi(200);
        assert!((far / want - 1.0).abs() < 1e-9, "{far} vs {want}");
        // A large shape approaches the Poisson: P(K ≥ 10 | mean 2) ≈ 4.6·10⁻⁵.
        let pois: f64 = nbinom_mid_p_upper(10, 2.0, 1e6);
        let exact = {
            let mut pmf = (-2.0f64).exp();
            let mut cdf = 0.0;
            for j in 0..10 {
                cdf += pmf;
                pmf *= 2.0 / (j as f64 + 1.0);
            }
            1.0 - cdf - 0.5 * pmf
        };
        assert!((pois / exact - 1.0).abs() < 1e-3, "{pois} vs {exact}");
        // Degenerate parameters never give NaN.
        for (k, m, r) in [
            (0, 0.0, 1.0),
            (5, 0.0, 1.0),
            (5, f64::NAN, 1.0),
            (5, 1.0, 0.0),
        ] {
            assert!(!nbinom_mid_p_upper(k, m, r).is_nan());
        }
        assert_eq!(nbinom_mid_p_upper(100_000, 1.0, 1.0), 0.0);
        let big = nbinom_mid_p_upper(2_000_000, 1e6, 1.0);
        assert!(big > 0.0 && big < 0.5);
    }
}
