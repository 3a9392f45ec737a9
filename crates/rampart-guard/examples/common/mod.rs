//! Shared by the `train` and `eval` examples: reading the JSONL splits and the metrics.

#![allow(dead_code)]

use std::path::Path;

/// One labelled prompt (`label` 1 = injection or jailbreak).
#[derive(serde::Deserialize)]
pub struct Row {
    pub text: String,
    pub label: u8,
    pub source: String,
}

/// Read `dir/name.jsonl`; a bad line is reported on stderr and skipped.
pub fn read_split(dir: &Path, name: &str) -> Result<Vec<Row>, String> {
    let path = dir.join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (run bench/guardrails/extract.py first)",
            path.display()
        )
    })?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Row>(line) {
            Ok(r) if r.label <= 1 => rows.push(r),
            Ok(r) => eprintln!(
                "{}:{}: label {} is not 0 or 1; skipped",
                path.display(),
                i + 1,
                r.label
            ),
            Err(e) => eprintln!("{}:{}: {e}; skipped", path.display(), i + 1),
        }
    }
    Ok(rows)
}

/// Area under the ROC curve (ties counted half).
pub fn roc_auc(scores: &[f32], labels: &[u8]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0f64, 0usize);
    let n_pos = labels.iter().filter(|&&l| l == 1).count() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && scores[idx[j]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0; // ranks are 1-based
        for &k in &idx[i..j] {
            if labels[k] == 1 {
                rank_sum += avg_rank;
            }
        }
        i = j;
    }
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// The lowest threshold (`score >= t` blocks) whose false-positive rate on `scores`/`labels`
/// is at most `fpr`: [`threshold_at_weighted_fpr`] with every row weighing 1.
pub fn threshold_at_fpr(scores: &[f32], labels: &[u8], fpr: f64) -> f32 {
    threshold_at_weighted_fpr(scores, labels, &vec![1.0; scores.len()], fpr)
}

/// The lowest threshold whose false-positive *weight* (the summed weights of the negatives it
/// blocks, over all negatives' weight) is at most `fpr`. Positives' weights are ignored.
pub fn threshold_at_weighted_fpr(scores: &[f32], labels: &[u8], weights: &[f32], fpr: f64) -> f32 {
    let mut neg: Vec<(f32, f64)> = scores
        .iter()
        .zip(labels)
        .zip(weights)
        .filter(|((_, l), _)| **l == 0)
        .map(|((s, _), w)| (*s, f64::from(*w)))
        .collect();
    neg.sort_by(|a, b| b.0.total_cmp(&a.0));
    let allowed = fpr * neg.iter().map(|n| n.1).sum::<f64>();
    let mut blocked = 0.0;
    for &(s, w) in &neg {
        blocked += w;
        if blocked > allowed + 1e-9 {
            // Everything strictly above `s` is blocked; `s` and below pass.
            return next_up(s).min(1.0);
        }
    }
    0.0
}

/// The weighted false-positive rate at `score >= t` (weights as in
/// [`threshold_at_weighted_fpr`]).
pub fn weighted_fpr_at(scores: &[f32], labels: &[u8], weights: &[f32], t: f32) -> f64 {
    let (mut fp, mut n) = (0f64, 0f64);
    for ((s, l), w) in scores.iter().zip(labels).zip(weights) {
        if *l == 0 {
            n += f64::from(*w);
            if *s >= t {
                fp += f64::from(*w);
            }
        }
    }
    fp / n.max(f64::MIN_POSITIVE)
}

fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let b = x.to_bits();
    f32::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

/// (recall, false-positive rate) at `score >= t`.
pub fn rates_at(scores: &[f32], labels: &[u8], t: f32) -> (f64, f64) {
    let (mut tp, mut p, mut fp, mut n) = (0usize, 0usize, 0usize, 0usize);
    for (s, l) in scores.iter().zip(labels) {
        if *l == 1 {
            p += 1;
            tp += usize::from(*s >= t);
        } else {
            n += 1;
            fp += usize::from(*s >= t);
        }
    }
    (tp as f64 / p.max(1) as f64, fp as f64 / n.max(1) as f64)
}
