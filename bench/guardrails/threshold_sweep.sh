#!/usr/bin/env bash
# The default policy (rules + classifier) at several `inbound.classifier_threshold` values, on
# every evaluation set: the trade-off a team reads before raising the threshold. Run
# bench/guardrails/run.sh first (data/). Results: bench/guardrails/results/threshold_sweep.txt
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"
cargo build --release --locked -j2 -p rampart-cli
bin="$CARGO_TARGET_DIR/release/rampart"
d=bench/guardrails/data
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
{
    for t in default 0.70 0.75 0.80 0.85 0.90; do
        echo "## inbound.classifier_threshold = $t"
        pol=()
        if [ "$t" != default ]; then
            echo "inbound.classifier_threshold = $t" >"$tmp/p.toml"
            pol=(--policy "$tmp/p.toml")
        fi
        python3 bench/guardrails/pipeline_eval.py "$bin" "${pol[@]}" \
            $d/{fresh_unseen,agent_unseen,garak_unseen,bastion_unseen,ordinary_unseen,test}.jsonl | grep 'rules+classifier'
    done
} | tee bench/guardrails/results/threshold_sweep.txt
