#!/usr/bin/env bash
# The .pyc reader's names against xdis (an independent disassembler, PyPI) on real CPython
# 3.8-3.14 bytecode: xdis's own test files (from its sdist), plus any directories given.
# Usage: bash bench/secrets/pyc_names.sh [DIR...]   (each DIR: *.pyc directly inside)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out/secrets/pyc_names"
venv="$root/bench/.venv-xdis"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$out"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "xdis==6.3.0"
if [ ! -d "$out/xdis-6.3.0" ]; then
  "$venv/bin/pip" download -q --no-deps --no-binary :all: "xdis==6.3.0" -d "$out"
  tar xzf "$out/xdis-6.3.0.tar.gz" -C "$out"
fi
cargo build --release --locked -p rampart-detect --example pyc_names --manifest-path "$root/Cargo.toml" >&2
dirs=()
for v in 3.8 3.9 3.10 3.11 3.12 3.13 3.14; do dirs+=("$out/xdis-6.3.0/test/bytecode_$v"); done
dirs+=("$@")
"$CARGO_TARGET_DIR/release/examples/pyc_names" "${dirs[@]}" > "$out/rampart.tsv"
"$venv/bin/python" "$root/bench/secrets/pyc_names.py" "$out/rampart.tsv"
