#!/usr/bin/env bash
# bench/deps: advisory-database import, open, RSS and matching 10,000 packages, against a
# Python `packaging` baseline on the same corpus and the same packages.
#
#   bash bench/deps/run.sh            # from the repository root
#
# Needs ../shared/data/osv (the reference OSV corpus). Creates a venv for the peer in
# target-bench-deps/venv (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CORPUS=${CORPUS:-$ROOT/../shared/data/osv}
N=${N:-10000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-bench-deps}
[ -d "$CORPUS" ] || { echo "SKIP: $CORPUS is absent"; exit 0; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release -j2 -q -p rampart-deps --example deps_bench
BIN=$CARGO_TARGET_DIR/release
VENV=$ROOT/target-bench-deps/venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q packaging==26.3
fi
PY=$VENV/bin/python

peak() { # run a command, print "wall_seconds peak_rss_kib" of it to fd 3
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }
  cat "$WORK/time"
}

echo "== machine: $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg), $(uname -sr); corpus: $(find "$CORPUS" -name '*.json' | wc -l) OSV records"
B=$BIN/examples/deps_bench
# deps_bench calls the same library functions as `rampart db import --replace` / `db status`
# (rampart_deps::import::import_paths, Database::open), without the CLI's argument parsing.
echo "== import of the JSON directories (import_paths, replace), 3 runs: JSON, then wall seconds + peak RSS KiB"
for i in 1 2 3; do peak "$B" import "$WORK/osv.rdb" "$CORPUS"; cat "$WORK/out"; done
ls -l "$WORK/osv.rdb" | awk '{print "   database file: " $5 " bytes"}'

echo "== import of per-ecosystem all.zip exports (zipped corpus folders), 3 runs"
for d in "$CORPUS"/*/; do
  (cd "$d" && python3 -c "import zipfile,os,sys; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED); [z.write(f) for f in sorted(os.listdir('.'))]" "$WORK/$(basename "$d").zip")
done
for i in 1 2 3; do peak "$B" import "$WORK/zip.rdb" "$WORK"/*.zip; cat "$WORK/out"; done

echo "== open + first lookup in a fresh process, 5 runs: JSON, then wall seconds + peak RSS KiB of the process"
for i in 1 2 3 4 5; do peak "$B" open "$WORK/osv.rdb"; cat "$WORK/out"; done

for MODE in keys entries; do
  echo "== match $N packages, workload '$MODE' (deps_bench), 5 runs; first pass after open is the figure"
  "$B" gen "$CORPUS" "$N" "$WORK/pkgs-$MODE.jsonl" "$MODE"
  for i in 1 2 3 4 5; do "$B" match "$WORK/osv.rdb" "$WORK/pkgs-$MODE.jsonl"; done
  echo "== peer on workload '$MODE': Python $($PY -c 'import sys;print(sys.version.split()[0])') + packaging $($PY -c 'import packaging;print(packaging.__version__)'), same corpus and packages, 3 runs"
  for i in 1 2 3; do $PY bench/deps/peer_match.py "$CORPUS" "$WORK/pkgs-$MODE.jsonl"; done
  DEPS_BENCH_DUMP="$WORK/r-$MODE.txt" "$B" match "$WORK/osv.rdb" "$WORK/pkgs-$MODE.jsonl" >/dev/null
  PEER_DUMP="$WORK/p-$MODE.txt" $PY bench/deps/peer_match.py "$CORPUS" "$WORK/pkgs-$MODE.jsonl" >/dev/null
  echo "   packages whose advisory ids differ between rampart and the peer: $(diff "$WORK/r-$MODE.txt" "$WORK/p-$MODE.txt" | grep -c '^<' || true)"
  diff "$WORK/r-$MODE.txt" "$WORK/p-$MODE.txt" | grep '^[<>]' | sort -u | head -6 | sed 's/^/     /' || true
done

echo "== PEP 440 ordering cross-check: every PyPI version in the corpus, sorted by rampart vs packaging"
$PY - "$CORPUS" > "$WORK/versions.txt" <<'PYEOF'
import json, os, sys
vs = set()
d = os.path.join(sys.argv[1], "PyPI")
for f in os.listdir(d):
    for a in json.load(open(os.path.join(d, f))).get("affected", []):
        vs.update(a.get("versions") or [])
        for r in a.get("ranges") or []:
            if r["type"] == "ECOSYSTEM":
                for e in r["events"]:
                    vs.update(e.values())
print("\n".join(sorted(vs)))
PYEOF
"$B" versions < "$WORK/versions.txt" > "$WORK/rampart_sorted.txt" 2>"$WORK/rej.txt"
$PY - "$WORK/versions.txt" > "$WORK/packaging_sorted.txt" <<'PYEOF'
import sys
from packaging.version import Version, InvalidVersion
ok = []
bad = 0
for l in open(sys.argv[1]).read().split("\n"):
    if not l:
        continue
    try:
        ok.append((Version(l), l))
    except InvalidVersion:
        bad += 1
ok.sort(key=lambda x: (x[0], x[1]))
print("\n".join(s for _, s in ok))
print(f"{bad} rejected", file=sys.stderr)
PYEOF
echo "   versions: $(wc -l < "$WORK/versions.txt"); rampart rejected: $(cat "$WORK/rej.txt")"
if cmp -s "$WORK/rampart_sorted.txt" "$WORK/packaging_sorted.txt"; then
  echo "   identical order and identical accept/reject set"
else
  echo "   DIFFERENT:"; diff "$WORK/rampart_sorted.txt" "$WORK/packaging_sorted.txt" | head -20
fi
