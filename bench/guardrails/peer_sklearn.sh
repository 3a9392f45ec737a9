#!/usr/bin/env bash
# The scikit-learn n-gram baselines on the splits bench/guardrails/run.sh wrote (run that first).
# Own venv (bench/guardrails/.venv-sklearn), so the data packages' pinned set stays untouched;
# takes about 5 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-sklearn"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check scikit-learn==1.9.1
"$venv/bin/python" "$here/peer_sklearn.py" "$here/data" "$here/results/peer_sklearn.json" \
    | tee "$here/results/peer_sklearn.txt"
