//! Train the prompt-injection classifier shipped in `model/injection.bin`.
//!
//! ```text
//! cargo run --release -p rampart-guard --example train -- \
//!     --data bench/guardrails/data --out crates/rampart-guard/model/injection.bin --grid --refit 5
//! ```
//!
//! (the command `bench/guardrails/run.sh` runs to produce the shipped model).
//!
//! Reads `train.jsonl` and `validation.jsonl` (written by `bench/guardrails/extract.py`), trains
//! a class-weighted L2-regularized logistic regression with AdaGrad (fixed seed, deterministic),
//! picks the decision threshold at 1% false-positive rate on the validation split and writes the
//! model. With `--grid`, a small grid of (learning rate, epochs, l2) is tried and the setting
//! with the best validation recall at 1% FPR (ties: validation ROC-AUC) is kept; with `--refit`
//! (below), validation is pooled with train and cross-validation takes its place. The test
//! splits are never read.
//!
//! Options: `--bits N` (hash buckets 2^N, default 18), `--char-min N` / `--char-max N`
//! (character n-gram lengths, default 3..=5), `--epochs N` (default 8), `--l2 X`
//! (default 1e-6), `--lr X` (default 0.2), `--seed N`, `--grid`, `--sqrt-source-weight`
//! (weight each row by 1/sqrt(rows of its source and label) instead of 1; tried, not used for
//! the shipped model),
//! `--dump-val FILE` (validation scores and texts, for error analysis),
//! `--refit K`: pool train + validation into K stratified folds, score every pooled row with a
//! model trained on the other K−1 folds (out-of-fold), choose the setting (with `--grid`, among
//! a smaller grid) by out-of-fold recall at 1% FPR, take the threshold at 1% FPR on those
//! scores, and train the shipped model on the whole pool with that setting — the usual "choose
//! by cross-validation, refit on everything but test". The test splits are still never read.
//! With `--refit`, two more options (stop 22, `bench/guardrails/PREREG-stop22.md`):
//! `--cap-source N`: in the false-positive rate that sets the threshold and picks the setting,
//! each benign source counts as at most N rows (row weight min(1, N / its benign rows)), so
//! one large source (chatterbot's small talk, two-thirds of the benign pool) does not decide
//! what "1% FPR" means; `--avg-folds`: ship the mean of the k fold models of the chosen
//! setting (the models whose out-of-fold scores set the threshold) instead of refitting on the
//! whole pool, whose scores are on another scale than the threshold was read on.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use rampart_guard::classifier::{Classifier, FeatureConfig};

struct Opts {
    data: PathBuf,
    out: PathBuf,
    bits: u8,
    char_min: u8,
    char_max: u8,
    epochs: usize,
    l2: f32,
    lr: f32,
    seed: u64,
    grid: bool,
    sqrt_source_weight: bool,
    dump_val: Option<PathBuf>,
    refit: Option<usize>,
    cap_source: Option<f32>,
    avg_folds: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        data: PathBuf::from("bench/guardrails/data"),
        out: PathBuf::from("crates/rampart-guard/model/injection.bin"),
        bits: 18,
        char_min: FeatureConfig::default().char_min,
        char_max: FeatureConfig::default().char_max,
        epochs: 8,
        l2: 1e-6,
        lr: 0.2,
        seed: 0x5eed,
        grid: false,
        sqrt_source_weight: false,
        dump_val: None,
        refit: None,
        cap_source: None,
        avg_folds: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--data" => o.data = val("--data")?.into(),
            "--out" => o.out = val("--out")?.into(),
            "--bits" => o.bits = val("--bits")?.parse().map_err(|e| format!("--bits: {e}"))?,
            "--char-min" => {
                o.char_min = val("--char-min")?
                    .parse()
                    .map_err(|e| format!("--char-min: {e}"))?
            }
            "--char-max" => {
                o.char_max = val("--char-max")?
                    .parse()
                    .map_err(|e| format!("--char-max: {e}"))?
            }
            "--epochs" => {
                o.epochs = val("--epochs")?
                    .parse()
                    .map_err(|e| format!("--epochs: {e}"))?
            }
            "--l2" => o.l2 = val("--l2")?.parse().map_err(|e| format!("--l2: {e}"))?,
            "--lr" => o.lr = val("--lr")?.parse().map_err(|e| format!("--lr: {e}"))?,
            "--seed" => o.seed = val("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--grid" => o.grid = true,
            "--sqrt-source-weight" => o.sqrt_source_weight = true,
            "--dump-val" => o.dump_val = Some(val("--dump-val")?.into()),
            "--refit" => {
                let k: usize = val("--refit")?
                    .parse()
                    .map_err(|e| format!("--refit: {e}"))?;
                if k < 2 {
                    return Err("--refit needs at least 2 folds".into());
                }
                o.refit = Some(k);
            }
            "--cap-source" => {
                let n: f32 = val("--cap-source")?
                    .parse()
                    .map_err(|e| format!("--cap-source: {e}"))?;
                if n.is_nan() || n < 1.0 {
                    return Err("--cap-source needs a number of rows >= 1".into());
                }
                o.cap_source = Some(n);
            }
            "--avg-folds" => o.avg_folds = true,
            "-h" | "--help" => {
                return Err(
                    "usage: train [--data DIR] [--out FILE] [--bits N] [--epochs N] \
                            [--l2 X] [--lr X] [--seed N] [--grid] [--sqrt-source-weight] \
                            [--refit K [--cap-source N] [--avg-folds]]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(o)
}

/// xorshift64*: small, fixed-seed shuffling.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

type Sparse = Vec<(u32, f32)>;
/// A linear model's weights and bias.
type Linear = (Vec<f32>, f32);
/// Features, labels and row weights, indexed alike.
type Data<'a> = (&'a [Sparse], &'a [u8], &'a [f32]);

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

fn dot(w: &[f32], b: f32, x: &Sparse) -> f32 {
    b + x.iter().map(|&(i, v)| w[i as usize] * v).sum::<f32>()
}

/// One training setting.
#[derive(Clone, Copy)]
struct Hyper {
    epochs: usize,
    l2: f32,
    lr: f32,
    seed: u64,
    verbose: bool,
}

/// Train on the rows of `xs`/`ys`/`rw` listed in `rows` (all of them, or one fold's complement).
fn train(dims: usize, (xs, ys, rw): Data<'_>, rows: &[usize], h: &Hyper) -> Linear {
    let n = rows.len();
    let n_pos = rows.iter().filter(|&&i| ys[i] == 1).count().max(1) as f32;
    let n_neg = (n as f32 - n_pos).max(1.0);
    // Balanced class weights.
    let cw = [n as f32 / (2.0 * n_neg), n as f32 / (2.0 * n_pos)];
    let mut w = vec![0f32; dims];
    let mut g2 = vec![0f32; dims];
    let (mut b, mut bg2) = (0f32, 0f32);
    let mut order: Vec<usize> = rows.to_vec();
    let Hyper {
        epochs,
        l2,
        lr,
        seed,
        verbose,
    } = *h;
    let mut rng = Rng(seed | 1);
    for epoch in 0..epochs {
        rng.shuffle(&mut order);
        let mut loss = 0f64;
        for &k in &order {
            let x = &xs[k];
            let y = ys[k];
            let p = sigmoid(dot(&w, b, x));
            let pc = if y == 1 { p } else { 1.0 - p };
            loss += -(f64::from(pc.max(1e-7)).ln()) * f64::from(cw[y as usize] * rw[k]);
            let g = (p - f32::from(y)) * cw[y as usize] * rw[k];
            for &(i, v) in x {
                let i = i as usize;
                let grad = g * v + l2 * w[i];
                g2[i] += grad * grad;
                w[i] -= lr * grad / (g2[i].sqrt() + 1e-8);
            }
            bg2 += g * g;
            b -= lr * g / (bg2.sqrt() + 1e-8);
        }
        if verbose {
            eprintln!(
                "train: epoch {}/{} weighted log-loss {:.4}",
                epoch + 1,
                epochs,
                loss / n as f64
            );
        }
    }
    (w, b)
}

/// [`train`], as a [`Classifier`] whose `score` is the one the gateway runs: thresholds are
/// always read off that function, never off a re-implementation of its arithmetic.
fn trained(
    cfg: FeatureConfig,
    data: Data<'_>,
    rows: &[usize],
    h: &Hyper,
) -> Result<Classifier, String> {
    let (w, b) = train(cfg.dims(), data, rows, h);
    Classifier::from_parts(cfg, w, b, 0.5).map_err(|e| e.to_string())
}

/// Train + validation pooled for `--refit`, with stratified fold numbers (each label's rows
/// shuffled with the seed and dealt round-robin into `k` folds).
struct Pool<'a> {
    /// The rows' texts, scored the way the shipped model scores (for the threshold).
    texts: Vec<&'a str>,
    xs: Vec<Sparse>,
    ys: Vec<u8>,
    rw: Vec<f32>,
    fold: Vec<usize>,
    k: usize,
    /// Each benign row's weight in the false-positive rate that sets the threshold and picks
    /// the setting: 1, or with `--cap-source N` min(1, N / benign rows of its source), so no
    /// source counts as more than N rows (chatterbot's small talk is two-thirds of the benign
    /// pool otherwise). Malicious rows: 1 (unused).
    fpr_w: Vec<f32>,
}

impl<'a> Pool<'a> {
    fn new(
        cfg: &FeatureConfig,
        k: usize,
        (train_rows, train): (&'a [common::Row], Data<'_>),
        val_rows: &'a [common::Row],
        seed: u64,
        cap_source: Option<f32>,
    ) -> Pool<'a> {
        let texts = train_rows
            .iter()
            .chain(val_rows)
            .map(|r| r.text.as_str())
            .collect();
        let mut xs = train.0.to_vec();
        xs.extend(val_rows.iter().map(|r| cfg.features(&r.text)));
        let mut ys = train.1.to_vec();
        ys.extend(val_rows.iter().map(|r| r.label));
        let mut rw = train.2.to_vec();
        rw.extend(std::iter::repeat_n(1.0, val_rows.len()));
        let mut fold = vec![0usize; ys.len()];
        let mut rng = Rng(seed.rotate_left(17) | 1);
        for label in [0u8, 1] {
            let mut idx: Vec<usize> = (0..ys.len()).filter(|&i| ys[i] == label).collect();
            rng.shuffle(&mut idx);
            for (j, &i) in idx.iter().enumerate() {
                fold[i] = j % k;
            }
        }
        let mut benign: std::collections::HashMap<&str, usize> = Default::default();
        for r in train_rows.iter().chain(val_rows).filter(|r| r.label == 0) {
            *benign.entry(r.source.as_str()).or_default() += 1;
        }
        let fpr_w = train_rows
            .iter()
            .chain(val_rows)
            .map(|r| match cap_source {
                Some(cap) if r.label == 0 => (cap / benign[r.source.as_str()] as f32).min(1.0),
                _ => 1.0,
            })
            .collect();
        Pool {
            texts,
            xs,
            ys,
            rw,
            fold,
            k,
            fpr_w,
        }
    }

    fn data(&self) -> Data<'_> {
        (&self.xs, &self.ys, &self.rw)
    }

    /// Out-of-fold scores: every row scored by the model trained on the other folds; and the
    /// mean of those k models' weights and biases (for `--avg-folds`).
    fn oof(&self, cfg: FeatureConfig, h: &Hyper) -> Result<(Vec<f32>, Linear), String> {
        let mut oof = vec![0f32; self.ys.len()];
        let (mut w_sum, mut b_sum) = (vec![0f32; cfg.dims()], 0f32);
        for f in 0..self.k {
            let tr: Vec<usize> = (0..self.ys.len()).filter(|&i| self.fold[i] != f).collect();
            let (w, b) = train(cfg.dims(), self.data(), &tr, h);
            for (s, x) in w_sum.iter_mut().zip(&w) {
                *s += x;
            }
            b_sum += b;
            let model = Classifier::from_parts(cfg, w, b, 0.5).map_err(|e| e.to_string())?;
            for i in (0..self.ys.len()).filter(|&i| self.fold[i] == f) {
                oof[i] = model.score(self.texts[i]);
            }
        }
        let k = self.k as f32;
        w_sum.iter_mut().for_each(|x| *x /= k);
        Ok((oof, (w_sum, b_sum / k)))
    }
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    let t0 = std::time::Instant::now();
    let train_rows = common::read_split(&o.data, "train")?;
    let val_rows = common::read_split(&o.data, "validation")?;
    let cfg = FeatureConfig {
        bits: o.bits,
        char_min: o.char_min,
        char_max: o.char_max,
        ..FeatureConfig::default()
    };
    cfg.validate().map_err(|e| e.to_string())?;
    let xs: Vec<Sparse> = train_rows.iter().map(|r| cfg.features(&r.text)).collect();
    let ys: Vec<u8> = train_rows.iter().map(|r| r.label).collect();
    let vy: Vec<u8> = val_rows.iter().map(|r| r.label).collect();
    eprintln!(
        "train: {} train / {} validation rows featurized in {:.1?}",
        xs.len(),
        val_rows.len(),
        t0.elapsed()
    );

    // Per-row weights: 1, or with --sqrt-source-weight each source's rows weighted by
    // 1/sqrt(rows of that source and label), rescaled so each label's mean weight stays 1.
    let mut rw = vec![1f32; ys.len()];
    if o.sqrt_source_weight {
        let mut n: std::collections::HashMap<(&str, u8), usize> = Default::default();
        for r in &train_rows {
            *n.entry((r.source.as_str(), r.label)).or_default() += 1;
        }
        for (k, r) in train_rows.iter().enumerate() {
            rw[k] = 1.0 / (n[&(r.source.as_str(), r.label)] as f32).sqrt();
        }
        for label in [0u8, 1] {
            let (sum, cnt) = ys
                .iter()
                .zip(&rw)
                .filter(|(y, _)| **y == label)
                .fold((0f32, 0usize), |(s, c), (_, w)| (s + w, c + 1));
            let scale = if sum > 0.0 { cnt as f32 / sum } else { 1.0 };
            for (w, y) in rw.iter_mut().zip(&ys) {
                if *y == label {
                    *w *= scale;
                }
            }
        }
    }

    let grid: Vec<(usize, f32, f32)> = if o.grid && o.refit.is_some() {
        // Out-of-fold scoring trains k models per setting: a smaller grid, around the region
        // the validation grid below found best (more epochs, light l2).
        let mut g = Vec::new();
        for lr in [0.2, 0.4] {
            for e in [8, 16, 32] {
                for l2 in [1e-4, 3e-4, 1e-3] {
                    g.push((e, l2, lr));
                }
            }
        }
        g
    } else if o.grid {
        let mut g = Vec::new();
        for lr in [0.05, 0.1, 0.2] {
            for e in [1, 2, 4, 8, 16] {
                for l2 in [0.0, 1e-5, 1e-4, 3e-4, 1e-3] {
                    g.push((e, l2, lr));
                }
            }
        }
        g
    } else {
        vec![(o.epochs, o.l2, o.lr)]
    };

    let all: Vec<usize> = (0..xs.len()).collect();
    let pool = o.refit.map(|k| {
        Pool::new(
            &cfg,
            k,
            (&train_rows, (&xs, &ys, &rw)),
            &val_rows,
            o.seed,
            o.cap_source,
        )
    });
    if pool.is_none() && (o.cap_source.is_some() || o.avg_folds) {
        return Err("--cap-source and --avg-folds need --refit".into());
    }
    let what = match &pool {
        Some(p) => format!("{}-fold out-of-fold (train + validation)", p.k),
        None => "validation".to_string(),
    };
    let mut best: Option<(f64, f64, f32, Hyper, Option<Linear>)> = None;
    for (epochs, l2, lr) in grid {
        let hyper = Hyper {
            epochs,
            l2,
            lr,
            seed: o.seed,
            verbose: !o.grid && pool.is_none(),
        };
        let (scores, labels, avg): (Vec<f32>, &[u8], _) = match &pool {
            Some(p) => {
                let (oof, avg) = p.oof(cfg, &hyper)?;
                (oof, &p.ys, o.avg_folds.then_some(avg))
            }
            None => {
                let model = trained(cfg, (&xs, &ys, &rw), &all, &hyper)?;
                let vs = val_rows.iter().map(|r| model.score(&r.text)).collect();
                (vs, &vy, None)
            }
        };
        let auc = common::roc_auc(&scores, labels);
        // The false-positive rate that sets the threshold: each benign row weighs 1, or with
        // `--cap-source` its source's cap.
        let ones;
        let fpr_w: &[f32] = match &pool {
            Some(p) => &p.fpr_w,
            None => {
                ones = vec![1.0; labels.len()];
                &ones
            }
        };
        let thr = common::threshold_at_weighted_fpr(&scores, labels, fpr_w, 0.01);
        let recall = common::rates_at(&scores, labels, thr).0;
        let fpr = common::weighted_fpr_at(&scores, labels, fpr_w, thr);
        let capped = if o.cap_source.is_some() {
            " (capped)"
        } else {
            ""
        };
        eprintln!(
            "train: epochs={epochs} l2={l2:e} lr={lr}: {what} AUC {auc:.4}, threshold {thr:.4}, \
             recall {recall:.4} at FPR{capped} {fpr:.4}"
        );
        let better = match &best {
            None => true,
            Some((r, a, ..)) => recall > *r || (recall == *r && auc > *a),
        };
        if better {
            best = Some((recall, auc, thr, hyper, avg));
        }
    }
    let (recall, auc, thr, hyper, avg) = best.ok_or("empty grid")?;
    let Hyper { epochs, l2, lr, .. } = hyper;
    let (w, b) = match (&pool, avg) {
        // The mean of the k fold models whose out-of-fold scores set the threshold.
        (Some(_), Some(avg)) => avg,
        (Some(p), None) => train(
            cfg.dims(),
            p.data(),
            &(0..p.ys.len()).collect::<Vec<_>>(),
            &hyper,
        ),
        (None, _) => train(cfg.dims(), (&xs, &ys, &rw), &all, &hyper),
    };
    let model = Classifier::from_parts(cfg, w, b, thr).map_err(|e| e.to_string())?;
    if let Some(p) = &o.dump_val {
        // Validation texts with their scores, for error analysis (never the test splits).
        let mut s = String::new();
        for r in &val_rows {
            let v = serde_json::json!({"label": r.label, "source": r.source,
                                       "score": model.score(&r.text), "text": r.text});
            s.push_str(&v.to_string());
            s.push('\n');
        }
        std::fs::write(p, s).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let bytes = model.to_bytes();
    std::fs::write(&o.out, &bytes).map_err(|e| format!("{}: {e}", o.out.display()))?;
    println!(
        "train: wrote {} ({} bytes): bits={} epochs={epochs} l2={l2:e} lr={lr} seed={}{}{}; \
         {what} AUC {auc:.4}, recall {recall:.4} at 1% FPR, threshold {:.4}; {:.1?}",
        o.out.display(),
        bytes.len(),
        o.bits,
        o.seed,
        o.cap_source
            .map(|n| format!(" cap-source={n}"))
            .unwrap_or_default(),
        if o.avg_folds { " avg-folds" } else { "" },
        model.threshold(),
        t0.elapsed()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("train: {e}");
            ExitCode::from(2)
        }
    }
}
