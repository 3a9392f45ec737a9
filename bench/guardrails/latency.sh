#!/usr/bin/env bash
# Per-check latency of the guardrail pipeline (rules, and rules + classifier) on 4 KB prompts.
# Usage: bench/guardrails/latency.sh [TEXT_FILE ...]   (default: the repo's README, ARCHITECTURE, BENCHMARKS)
# Prints a Markdown table (p50 / p99 / mean µs per check); figures go to BENCHMARKS.md,
# section "Guardrails — pipeline".
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p rampart-guard --example latency -- "$@"
