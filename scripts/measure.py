#!/usr/bin/env python3
"""Measures what the issues ask for, on this machine, with release builds (benchmarks, not tests).

- release binary sizes, and each Lambda binary zipped as bootstrap.zip (what SAM uploads);
- `riskrelay serve`: time from process start to the first answered request (/healthz);
- `riskrelay demo`: wall time and peak memory;
- each Lambda binary under a minimal local Lambda Runtime API: cold-start initialisation (process
  start to its first request for an event, including reading the secret from moto) and peak memory
  after one invocation.

Usage: scripts/measure.py [--runs N]   (after `cargo build --release`; starts its own moto)
Prints one JSON object; nothing here leaves 127.0.0.1.
"""
import argparse
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
TENANT = "11111111-2222-3333-4444-555555555555"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def sizes():
    out = {}
    tmp = tempfile.mkdtemp()
    for name in ["riskrelay", "webhook", "poller", "worker", "actions"]:
        path = os.path.join(RELEASE, name)
        entry = {"bytes": os.path.getsize(path)}
        if name != "riskrelay":
            z = os.path.join(tmp, f"{name}.zip")
            with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
                info = zipfile.ZipInfo("bootstrap")
                info.external_attr = 0o755 << 16
                with open(path, "rb") as b:
                    zf.writestr(info, b.read(), zipfile.ZIP_DEFLATED)
            entry["zip_bytes"] = os.path.getsize(z)
        out[name] = entry
    shutil.rmtree(tmp)
    return out


def serve_startup(runs):
    times = []
    env = dict(os.environ, RISKRELAY_TENANT_ID=TENANT, RISKRELAY_CLIENT_STATE="measure", RISKRELAY_LOG="warn")
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        p = subprocess.Popen([os.path.join(RELEASE, "riskrelay"), "serve", "--listen", f"127.0.0.1:{port}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.001)
        times.append((time.perf_counter() - t0) * 1000)
        p.terminate()
        p.wait()
    return {"runs": runs, "min_ms": round(min(times), 1), "median_ms": round(statistics.median(times), 1)}


def demo(runs):
    walls, peaks = [], []
    out = tempfile.mkdtemp()
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", os.path.join(RELEASE, "riskrelay"), "demo", "--out", out],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ, RISKRELAY_LOG="warn"))
        walls.append((time.perf_counter() - t0) * 1000)
        peaks.append(int(r.stderr.strip().splitlines()[-1]))
    shutil.rmtree(out)
    return {"runs": runs, "wall_median_ms": round(statistics.median(walls), 1), "wall_min_ms": round(min(walls), 1),
            "peak_rss_kib_max": max(peaks)}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """The three calls a function makes: next, response, error (and init/error)."""

    state = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        s = self.server.state
        if s["first_next"] is None:
            s["first_next"] = time.perf_counter()
        event = s["events"].pop(0) if s["events"] else None
        if event is None:
            s["idle"].set()
            time.sleep(60)
            return
        body = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("lambda-runtime-aws-request-id", "req-1")
        self.send_header("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 60000))
        self.send_header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:m")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        payload = self.rfile.read(n)
        self.server.state["results"].append((self.path, payload.decode(errors="replace")))
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()


def lambda_function(binary, event, env):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.state = {"first_next": None, "events": [event], "results": [], "idle": threading.Event()}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    full = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}", AWS_LAMBDA_FUNCTION_NAME="m",
                AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256", AWS_LAMBDA_FUNCTION_VERSION="$LATEST")
    t0 = time.perf_counter()
    p = subprocess.Popen([os.path.join(RELEASE, binary)], env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = server.state["idle"].wait(60)
    peak = peak_rss_kib(p.pid)
    p.kill()
    p.wait()
    server.shutdown()
    init = (server.state["first_next"] - t0) * 1000 if server.state["first_next"] else None
    return {"init_ms": round(init, 1) if init else None, "peak_rss_kib": peak, "answered": ok and bool(server.state["results"]),
            "result": server.state["results"][0][0] if server.state["results"] else None}


def lambdas(runs):
    port = free_port()
    moto = subprocess.Popen([os.path.join(ROOT, ".tools", "venv", "bin", "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        aws = dict(os.environ, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=endpoint)
        py = os.path.join(ROOT, ".tools", "venv", "bin", "python")
        setup = (
            "import boto3, json\n"
            f"e='{endpoint}'\n"
            "sm=boto3.client('secretsmanager',endpoint_url=e); sqs=boto3.client('sqs',endpoint_url=e)\n"
            "sm.create_secret(Name='riskrelay/measure',SecretString=json.dumps({'graph_client_secret':'x','client_state':'measure'}))\n"
            "print(sqs.create_queue(QueueName='measure')['QueueUrl'])\n"
        )
        queue_url = subprocess.run([py, "-c", setup], env=aws, capture_output=True, text=True, check=True).stdout.strip()
        env = dict(aws, RISKRELAY_TENANT_ID=TENANT, RISKRELAY_CLIENT_ID="22222222-3333-4444-5555-666666666666",
                   RISKRELAY_SECRET_ID="riskrelay/measure", RISKRELAY_TABLE_NAME="measure", RISKRELAY_QUEUE_URL=queue_url,
                   RISKRELAY_LOG="warn", RISKRELAY_LOG_FORMAT="json",
                   RISKRELAY_ACTIONS="confirm,revoke", RISKRELAY_ACTIONS_URL="https://qrstuvwxyzabcdef.lambda-url.us-east-1.on.aws")
        validation = json.load(open(os.path.join(ROOT, "events", "furl-validation.json")))
        cases = {
            "webhook": validation,
            "poller": {"job": "subscriptions"},
            "worker": {"Records": []},
            # A link that does not verify: the page answers without Graph or the store.
            "actions": json.load(open(os.path.join(ROOT, "events", "furl-action-link.json"))),
        }
        out = {}
        for name, event in cases.items():
            results = [lambda_function(name, event, env) for _ in range(runs)]
            inits = [r["init_ms"] for r in results if r["init_ms"] is not None]
            out[name] = {"runs": runs, "init_median_ms": round(statistics.median(inits), 1) if inits else None,
                         "init_min_ms": round(min(inits), 1) if inits else None,
                         "peak_rss_kib_max": max(r["peak_rss_kib"] or 0 for r in results),
                         "answered": all(r["answered"] for r in results), "last_result_path": results[-1]["result"]}
        return out
    finally:
        moto.terminate()
        moto.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    report = {
        "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
        "sizes": sizes(),
        "serve_first_answer": serve_startup(args.runs),
        "demo": demo(args.runs),
        "lambda": lambdas(max(3, args.runs // 2)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
