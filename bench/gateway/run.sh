#!/usr/bin/env bash
# Gateway benchmark: a mock OpenAI-style upstream, driven directly, through Rampart (keys,
# limits and audit on), and through LiteLLM's proxy — same mock, same machine, same run.
#
#   bash bench/gateway/run.sh            # everything (installs litellm[proxy] into bench/gateway/.venv)
#   RATES="100 500 1000" DURATION=10 SKIP_LITELLM=1 bash bench/gateway/run.sh
#   GUARDRAILS=1 RATES=1000 SKIP_LITELLM=1 bash bench/gateway/run.sh   # + a second gateway with
#       every guardrail on (rampart-guard@R), and both with a 4 KB prompt (rampart[-guard]-4k@R)
#
# Prints one JSON line per measurement and a summary; raw lines go to bench/gateway/results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/bench/gateway
RATES=${RATES:-"100 500 1000 2000"}
DURATION=${DURATION:-10}
MAX_CONNS=${MAX_CONNS:-64}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$HERE/results/$(date -u +%Y%m%dT%H%M%SZ).jsonl
mkdir -p "$HERE/results"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "# load before: $(uptime)" >&2
cargo build --release -j2 -p rampart-cli --target-dir "$TARGET" >&2
cargo build --release -j2 --manifest-path "$HERE/loadgen/Cargo.toml" --target-dir "$TARGET/bench-gateway" >&2
cargo build --release -j2 -p rampart-gateway --example auth_timing --target-dir "$TARGET" >&2
RAMPART=$TARGET/release/rampart
LOADGEN=$TARGET/bench-gateway/release/loadgen
MOCK=$TARGET/bench-gateway/release/mock-upstream

# ── Mock upstream (one worker thread) ──
"$MOCK" 127.0.0.1:0 1 > "$WORK/mock.addr" &
PIDS+=($!)
while [ ! -s "$WORK/mock.addr" ]; do sleep 0.05; done
MOCK_ADDR=$(head -1 "$WORK/mock.addr")
echo "# mock upstream on $MOCK_ADDR" >&2

# ── Rampart: keys, limits and audit on ──
cd "$WORK"
"$RAMPART" gateway --init --config rampart.toml >/dev/null
python3 - "$MOCK_ADDR" <<'PY'
import sys
t = open("rampart.toml").read().split("# ── Upstreams")[0]
t += f'''
[upstreams.mock]
kind = "openai"
base_url = "http://{sys.argv[1]}/v1"
api_key_env = "BENCH_PROVIDER_KEY"

[models.bench-model]
targets = [{{ upstream = "mock" }}]
input_usd_per_mtok = 0.15
output_usd_per_mtok = 0.60
'''
open("rampart.toml", "w").write(t)
PY
export BENCH_PROVIDER_KEY=sk-bench-provider-key
export RAMPART_ADMIN_TOKEN=bench-admin-token-0123456789
KEY=$("$RAMPART" keys create --config rampart.toml --name bench --rpm 100000000 --tpm 10000000000 \
      --max-concurrency 100000 --budget-usd 1000000 | tail -1)
REVOKED_OUT=$("$RAMPART" keys create --config rampart.toml --name revoked)
REVOKED=$(echo "$REVOKED_OUT" | tail -1)
"$RAMPART" keys revoke --config rampart.toml "$(echo "$REVOKED_OUT" | head -1 | awk '{print $3}')" >/dev/null
"$RAMPART" gateway --config rampart.toml --listen 127.0.0.1:0 2> "$WORK/gw.err" &
GW_PID=$!
PIDS+=($GW_PID)
until grep -q "listening on" "$WORK/gw.err" 2>/dev/null; do sleep 0.05; done
GW_ADDR=$(sed -n 's#.*listening on http://##p' "$WORK/gw.err" | head -1)
echo "# rampart on $GW_ADDR (pid $GW_PID)" >&2

# ── GUARDRAILS=1: a second Rampart (own database) with every guardrail on ──
GUARD_ADDR=""
if [ -n "${GUARDRAILS:-}" ]; then
  sed 's#^database = .*#database = "guard.db"#' rampart.toml > rampart-guard.toml
  # The classifier runs on every prompt (its cost is measured) but flags rather than blocks: set
  # to block, it refuses this benchmark's own benign prompt and nothing would reach the upstream.
  # GUARD_CLASSIFIER=false measures the rules alone.
  printf '%s\n' '' '[guardrails.policies.default]' 'inbound.secrets = "redact"' 'inbound.pii = "redact"' \
    'inbound.injection = "block"' "inbound.classifier = ${GUARD_CLASSIFIER:-\"flag\"}" 'inbound.max_tokens = 100000' \
    'outbound.secrets = "redact"' 'outbound.pii = "redact"' 'outbound.urls = "block"' \
    'outbound.harm = "block"' >> rampart-guard.toml
  GKEY=$("$RAMPART" keys create --config rampart-guard.toml --name bench --rpm 100000000 --tpm 10000000000 \
        --max-concurrency 100000 --budget-usd 1000000 | tail -1)
  "$RAMPART" gateway --config rampart-guard.toml --listen 127.0.0.1:0 2> "$WORK/gw-guard.err" &
  GUARD_PID=$!
  PIDS+=($GUARD_PID)
  until grep -q "listening on" "$WORK/gw-guard.err" 2>/dev/null; do sleep 0.05; done
  GUARD_ADDR=$(sed -n 's#.*listening on http://##p' "$WORK/gw-guard.err" | head -1)
  echo "# rampart with all guardrails on $GUARD_ADDR (pid $GUARD_PID)" >&2
  # A 4 KB prompt of real prose (the repository's README) in a chat body.
  python3 -c 'import json,sys; t=open(sys.argv[1],encoding="utf-8").read()[:4096]; print(json.dumps({"model":"bench-model","max_tokens":32,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":t}]}))' \
    "$ROOT/README.md" > "$WORK/body-4k.json"
fi
cd "$ROOT"

# ── LiteLLM proxy ──
LITELLM_ADDR=""
if [ -z "${SKIP_LITELLM:-}" ]; then
  if [ ! -x "$HERE/.venv/bin/litellm" ]; then
    python3 -m venv "$HERE/.venv"
    "$HERE/.venv/bin/pip" install -q 'litellm[proxy]' >&2
  fi
  cat > "$WORK/litellm.yaml" <<EOF
model_list:
  - model_name: bench-model
    litellm_params:
      model: openai/bench-model
      api_base: http://$MOCK_ADDR/v1
      api_key: sk-bench-provider-key
general_settings:
  master_key: sk-litellm-bench-master  # rampart:allow (local benchmark proxy only)
litellm_settings:
  telemetry: false
EOF
  LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$HERE/.venv/bin/litellm" --config "$WORK/litellm.yaml" --host 127.0.0.1 --port "$LPORT" --num_workers "${LITELLM_WORKERS:-2}" \
      > "$WORK/litellm.log" 2>&1 &
  LITELLM_PID=$!
  PIDS+=($LITELLM_PID)
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$LPORT/health/liveliness" >/dev/null 2>&1 && break
    sleep 0.2
  done
  LITELLM_ADDR=127.0.0.1:$LPORT
  echo "# litellm on $LITELLM_ADDR (pid $LITELLM_PID), $("$HERE/.venv/bin/pip" show litellm | grep ^Version)" >&2
fi

rss_kb() { # RSS of a process and its children, kB
  local total=0
  for p in $1 $(pgrep -P "$1" 2>/dev/null || true); do
    local v; v=$(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo $total
}
hwm_kb() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }

run() { # label url key args...
  local label=$1 url=$2 key=$3; shift 3
  local k=(); [ -n "$key" ] && k=(--key "$key")
  "$LOADGEN" --url "$url" "${k[@]}" --label "$label" --duration "$DURATION" "$@" | tee -a "$OUT"
}

echo "# load at start of measurements: $(uptime)" | tee -a "$OUT" >&2
for rate in $RATES; do
  run "direct@$rate" "http://$MOCK_ADDR/v1/chat/completions" "" --rate "$rate" --conns 64
  run "rampart@$rate" "http://$GW_ADDR/v1/chat/completions" "$KEY" --rate "$rate" --conns 64
  if [ -n "$LITELLM_ADDR" ]; then
    run "litellm@$rate" "http://$LITELLM_ADDR/v1/chat/completions" "sk-litellm-bench-master" --rate "$rate" --conns 64
  fi
done
if [ -n "$GUARD_ADDR" ]; then
  for rate in $RATES; do
    run "rampart-guard@$rate" "http://$GUARD_ADDR/v1/chat/completions" "$GKEY" --rate "$rate" --conns 64
    run "rampart-4k@$rate" "http://$GW_ADDR/v1/chat/completions" "$KEY" --rate "$rate" --conns 64 --body-file "$WORK/body-4k.json"
    run "rampart-guard-4k@$rate" "http://$GUARD_ADDR/v1/chat/completions" "$GKEY" --rate "$rate" --conns 64 --body-file "$WORK/body-4k.json"
  done
fi
run "direct@max" "http://$MOCK_ADDR/v1/chat/completions" "" --max --conns "$MAX_CONNS"
run "rampart@max" "http://$GW_ADDR/v1/chat/completions" "$KEY" --max --conns "$MAX_CONNS"
[ -n "$LITELLM_ADDR" ] && run "litellm@max" "http://$LITELLM_ADDR/v1/chat/completions" "sk-litellm-bench-master" --max --conns "$MAX_CONNS"
# 401 timing: revoked key, unknown well-formed key, not-a-key, at a fixed rate.
run "401-revoked@500" "http://$GW_ADDR/v1/chat/completions" "$REVOKED" --rate 500 --conns 16
UNKNOWN=$(python3 -c '
import zlib, secrets
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
r = "".join(secrets.choice(A) for _ in range(32)); n = zlib.crc32(r.encode()); c = ""
for _ in range(6): c = A[n % 62] + c; n //= 62
print("rk-" + r + c)')
run "401-unknown@500" "http://$GW_ADDR/v1/chat/completions" "$UNKNOWN" --rate 500 --conns 16
run "401-garbage@500" "http://$GW_ADDR/v1/chat/completions" "sk-garbage" --rate 500 --conns 16

"$TARGET/release/examples/auth_timing" 10000 200000 | tee -a "$OUT"
echo "{\"label\":\"rss\",\"rampart_rss_kb\":$(rss_kb $GW_PID),\"rampart_hwm_kb\":$(hwm_kb $GW_PID)${LITELLM_PID:+,\"litellm_rss_kb\":$(rss_kb $LITELLM_PID)}}" | tee -a "$OUT"
echo "# load at end: $(uptime)" | tee -a "$OUT" >&2

# Audit: every proxied request was recorded, and the chain verifies.
kill -TERM "$GW_PID"; wait "$GW_PID" || true
"$RAMPART" audit verify --config "$WORK/rampart.toml" | tee -a "$OUT"

python3 "$HERE/summary.py" "$OUT"
