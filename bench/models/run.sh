#!/usr/bin/env bash
# Model-scanner benchmark: Rampart vs picklescan, modelscan and fickling on a generated corpus.
# Usage: bash bench/models/run.sh            (from the repository root)
# Creates bench/models/.venv (numpy, scikit-learn, joblib, torch, keras, gguf, onnx, safetensors,
# h5py and the three peers from PyPI), writes bench/models/corpus, builds Rampart in release mode
# and prints a Markdown table. Needs about 6 GB of disk for the venv (torch's PyPI wheel pulls
# the CUDA runtime libraries; only the CPU is used).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q numpy scikit-learn joblib torch keras gguf onnx safetensors h5py picklescan modelscan fickling
export KERAS_BACKEND=torch
rm -rf "$here/corpus"
"$venv/bin/python" "$here/gen_corpus.py" "$here/corpus" 2> "$here/gen_corpus.log"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release -j2 -p rampart-cli --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/rampart"
"$venv/bin/python" "$here/compare.py" "$here/corpus" "$bin" scan -f jsonl --fail-on none --no-progress
