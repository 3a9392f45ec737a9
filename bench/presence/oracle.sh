#!/usr/bin/env bash
# The oracle bound for cold-start relay detection (see oracle.py) on the scenarios of run.sh.
# Needs the release binary (run.sh builds it) and python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/../.."
B="${CARGO_TARGET_DIR:-target}/release/rampart"
OUT=bench/presence/out/oracle
mkdir -p "$OUT"
while read -r name args; do
    # shellcheck disable=SC2086
    "$B" presence simulate --out "$OUT/$name.jsonl" --users 1000 $args 2>/dev/null
    # shellcheck disable=SC2086
    "$B" presence simulate --out "$OUT/$name.jsonl" --print-config $args >"$OUT/$name.config.json"
    python3 bench/presence/oracle.py "$OUT/$name.config.json" "$OUT/$name.labels.jsonl" 40
    rm -f "$OUT/$name.jsonl"
done <<'LIST'
default-s2 --profile default --seed 2
alternative-s777 --profile alternative --seed 777
alternative-s9001-other-cities --profile alternative --seed 9001 --config bench/presence/other-cities.json
alt2-s4242 --profile default --seed 4242 --config bench/presence/alt2.json
near-threshold-relays-s5 --profile default --seed 5 --config bench/presence/near-threshold.json
alternative-near-threshold-s31 --profile alternative --seed 31 --config bench/presence/near-threshold.json
alt2-near-threshold-s4343 --profile default --seed 4343 --config bench/presence/alt2-near-threshold.json
LIST
