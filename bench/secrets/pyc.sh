#!/usr/bin/env bash
# Secrets in compiled Python: the generated corpus's .py files that CPython compiles, as .pyc
# only (what a compiled-only image ships), scanned by Rampart, Kingfisher and Betterleaks.
# Usage: bash bench/secrets/pyc.sh   (after bench/secrets/run.sh, which makes the corpus and venv)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/bench/out/secrets"
venv="$root/bench/.venv"
[ -f "$out/corpus/truth.jsonl" ] || { echo "run bench/secrets/run.sh first (no corpus)" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --locked -p rampart-cli --manifest-path "$root/Cargo.toml" >&2
rm -rf "$out/pyc" && mkdir -p "$out/pyc/files"
python3 - "$out/corpus" "$out/pyc" <<'PY'
import ast, json, os, py_compile, sys
corpus, dst = sys.argv[1], sys.argv[2]
done = set()
for dirpath, _, names in os.walk(os.path.join(corpus, "files")):
    for n in names:
        if not n.endswith(".py"):
            continue
        src = os.path.join(dirpath, n)
        rel = os.path.relpath(src, os.path.join(corpus, "files"))
        target = os.path.join(dst, "files", rel + "c")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            py_compile.compile(src, cfile=target, doraise=True)
            done.add(rel)
        except py_compile.PyCompileError:
            pass
with open(os.path.join(dst, "truth.jsonl"), "w") as t:
    for line in open(os.path.join(corpus, "truth.jsonl")):
        x = json.loads(line)
        if x["file"] in done:
            x["file"] += "c"
            # The .pyc holds the string's value, not its source text: `\n` written in the .py
            # is a newline in the constant (PEM keys in JSON service-account blobs).
            if "\\" in x["secret"]:
                try:
                    x["secret"] = ast.literal_eval('"""' + x["secret"] + '"""')
                except (SyntaxError, ValueError):
                    pass
            t.write(json.dumps(x) + "\n")
print(f"{len(done)} .py files compiled", file=sys.stderr)
PY
python3 --version >&2
"$CARGO_TARGET_DIR/release/rampart" scan "$out/pyc/files" -j 2 -f json -o "$out/pyc/rampart.json" --fail-on none --no-progress --show-secrets || true
"$venv/bin/kingfisher" scan "$out/pyc/files" --no-validate -j 2 -f json -o "$out/pyc/kingfisher.json" --no-update-check --git-history none >/dev/null 2>&1 || true
"$venv/bin/betterleaks" fs "$out/pyc/files" -j 2 --no-banner -s -o "$out/pyc/betterleaks.json" >/dev/null 2>&1 || true
for t in rampart kingfisher betterleaks; do
  python3 "$root/bench/secrets/score.py" "$t" "$out/pyc/$t.json" "$out/pyc/truth.jsonl" --misses 0
done
