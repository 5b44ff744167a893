#!/usr/bin/env bash
# The production install, checked on a clean copy (CI runs it from .ci/run):
# build dist/ here, copy what the Dockerfile ships (no TypeScript sources)
# to a temporary folder, `npm ci --omit=dev` there, then
#   - neither the TypeScript compiler nor the tsx loader is installed,
#   - `nas --help` runs,
#   - `nas serve` answers /healthz and an authenticated GET /v1/searches,
#   - a 2-trial search on the synthetic dataset succeeds (the service forks
#     its job process and training workers from the compiled JavaScript).
# Exits non-zero with the reason (and the server's log) on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "check-prod-install: $*"; }
fail() {
  echo "check-prod-install: FAILED: $*" >&2
  if [ -n "${LOG:-}" ] && [ -s "$LOG" ]; then echo "--- last lines of the server's log ($LOG)" >&2; tail -n 40 "$LOG" >&2; fi
  exit 1
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nas-prod-install.XXXXXX")
PKG="$TMP/pkg"
LOG="$TMP/serve.log"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

say "building dist/"
npm run build --silent || fail "npm run build failed"

say "copying the package to $PKG (what the Dockerfile ships: no src/)"
mkdir -p "$PKG/native"
cp package.json package-lock.json "$PKG/"
cp -R bin dist web api latency-tables device-profiles "$PKG/"
find native -maxdepth 1 -type f -exec cp {} "$PKG/native/" \;

say "npm ci --omit=dev (builds better-sqlite3 and the native kernels: a minute or two)"
(cd "$PKG" && npm ci --omit=dev --no-audit --no-fund >"$TMP/npm-ci.log" 2>&1) \
  || { tail -n 40 "$TMP/npm-ci.log" >&2; fail "npm ci --omit=dev failed"; }
cd "$PKG"
for dev in typescript tsx; do
  [ ! -e "node_modules/$dev" ] || fail "node_modules/$dev is installed by npm ci --omit=dev: a run-time dependency pulls it in"
done

say "nas --help"
HELP=$(node bin/nas.js --help 2>&1) || fail "node bin/nas.js --help exited non-zero:
$HELP"
grep -q '^Usage: nas' <<<"$HELP" || fail "node bin/nas.js --help printed no usage:
$HELP"

# HTTP through node's fetch (no curl needed): prints "<status> <body>"
http() { # METHOD URL [KEY] [JSON BODY]
  node -e '
    const [method, url, key, body] = process.argv.slice(1);
    const headers = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body) headers["content-type"] = "application/json";
    fetch(url, { method, headers, body: body || undefined })
      .then(async (r) => console.log(r.status, await r.text()))
      .catch((e) => { console.log(0, e.message); });
  ' "$@"
}

KEY="nas_prod-install-check-$(node -e 'console.log(require("node:crypto").randomBytes(12).toString("hex"))')"
say "nas serve --port 0 (any free port)"
: >"$LOG"
NAS_ADMIN_KEY="$KEY" NAS_HOST_CALIBRATION=cached NAS_LOG_LEVEL=warn NAS_THREADS=1 \
  node bin/nas.js serve --port 0 --host 127.0.0.1 --data-dir "$TMP/data" --latency-check none >"$LOG" 2>&1 &
SERVER_PID=$!

# the port the server chose, from its first line (up to 60 s)
BASE=""
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  kill -0 "$SERVER_PID" 2>/dev/null || fail "nas serve exited before listening"
  BASE=$(sed -n 's#^mobile-nas serving on \(http://[^ ]*\)/ .*#\1#p' "$LOG" | head -n 1)
  [ -n "$BASE" ] && break
  sleep 0.5
done
[ -n "$BASE" ] || fail "nas serve printed no 'serving on' line within 60 s"

HEALTH=""
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  kill -0 "$SERVER_PID" 2>/dev/null || fail "nas serve exited"
  HEALTH=$(http GET "$BASE/healthz")
  [ "${HEALTH%% *}" = 200 ] && break
  sleep 0.5
done
[ "${HEALTH%% *}" = 200 ] || fail "GET /healthz did not answer 200 within 60 s (last: $HEALTH)"
say "GET /healthz: $HEALTH"

json_field() { # JSON FIELD (dotted): prints the value, fails on non-JSON
  node -e 'let v = JSON.parse(process.argv[1]); for (const k of process.argv[2].split(".")) v = v?.[k]; console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2"
}

LIST=$(http GET "$BASE/v1/searches" "$KEY")
[ "${LIST%% *}" = 200 ] || fail "GET /v1/searches with the admin key: expected 200, got $LIST"
ITEMS=$(json_field "${LIST#* }" items) || fail "GET /v1/searches did not answer JSON: $LIST"
[ "$ITEMS" = "[]" ] || fail "GET /v1/searches on a new data directory: expected no items, got $ITEMS"
say "GET /v1/searches (authenticated): 200, no searches yet"

BODY='{"dataset":"synthetic","deviceId":"node-tflite-wasm","latencyTargetMs":1000,"strategy":"random","seed":1,"budget":{"maxTrials":2,"maxParallelTrials":2},"proxy":{"subset":48,"validationSubset":24,"epochs":1,"batchSize":16,"bnRecalibrationImages":0}}'
CREATED=$(http POST "$BASE/v1/searches" "$KEY" "$BODY")
[ "${CREATED%% *}" = 202 ] || fail "POST /v1/searches: expected 202, got $CREATED"
ID=$(json_field "${CREATED#* }" id)
say "POST /v1/searches: search $ID queued; waiting for it to end (up to 5 minutes)"
STATUS=""
deadline=$((SECONDS + 300))
while [ "$SECONDS" -lt "$deadline" ]; do
  kill -0 "$SERVER_PID" 2>/dev/null || fail "nas serve exited while search $ID ran"
  GOT=$(http GET "$BASE/v1/searches/$ID" "$KEY")
  [ "${GOT%% *}" = 200 ] || fail "GET /v1/searches/$ID: expected 200, got $GOT"
  STATUS=$(json_field "${GOT#* }" status)
  case "$STATUS" in succeeded|failed|cancelled) break ;; esac
  sleep 1
done
case "$STATUS" in
  succeeded) ;;
  failed|cancelled) fail "search $ID ended $STATUS (expected succeeded): $(json_field "${GOT#* }" error)" ;;
  *) fail "search $ID did not end within 5 minutes (status: $STATUS)" ;;
esac
say "search $ID succeeded: $(json_field "${GOT#* }" trialsDone) trials trained in forked workers"

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
say "OK: the production install (npm ci --omit=dev, compiled dist/, no tsx) serves and runs a search"
