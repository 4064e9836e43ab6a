#!/usr/bin/env bash
# The log-flood benchmark: `riskrelay serve` (the webhook alone, on loopback) is sent notification
# requests of 1,000 forged items each (`{}`: no subscription, no clientState — what anyone can
# send without a secret) from 4 connections for SECONDS seconds; prints the bytes sent, the bytes
# of log written, and their ratio. Usage: scripts/flood-bench.sh [SECONDS]   (default 5;
# BIN=path/to/riskrelay, default the release build). A benchmark, not a test: run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-5}
if [ -z "${BIN:-}" ]; then
  cargo build --release --bin riskrelay
  BIN=target/release/riskrelay
fi
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env -i PATH="$PATH" RISKRELAY_TENANT_ID=11111111-2222-3333-4444-555555555555 \
  RISKRELAY_CLIENT_STATE=flood-bench-client-state-value RISKRELAY_LOG=info \
  "$BIN" serve --listen "127.0.0.1:$port" >/dev/null 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
  sleep 0.05
done
python3 - "$port" "$SECONDS_TO_RUN" "$work/log" <<'PY'
import http.client, os, sys, threading, time
port, seconds, log = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
body = ('{"value":[' + ",".join(["{}"] * 1000) + "]}").encode()
sent = [0, 0]
lock = threading.Lock()
stop = time.time() + seconds
def flood():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < stop:
        c.request("POST", "/notifications", body, {"content-type": "application/json"})
        r = c.getresponse(); r.read()
        with lock:
            sent[0] += len(body); sent[1] += 1
threads = [threading.Thread(target=flood) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
time.sleep(0.5)
logged = os.path.getsize(log)
print(f"flood-bench: {seconds:.0f} s, {sent[1]} requests of 1,000 forged items, "
      f"{sent[0] / 1e6:.1f} MB sent, {logged / 1e6:.2f} MB of log written, "
      f"{logged / sent[0]:.4f} log bytes per byte received")
PY
