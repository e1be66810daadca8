#!/usr/bin/env python3
"""A hunt for the shutdown hang (issue 9 item 8), not part of `make test`: stops and restarts a
random `oms serve` process of a local cluster many times under light load and reports every stop
that takes long; one that takes over 8 s gets all its threads' stacks dumped with gdb into
DIR/hang-<name>-<n>.txt before the process's own watchdog (25 s) ends it.

    python3 tests/cluster/stop_stress.py --bin build/asan/oms --iterations 200

Prints one line per stop (time, exit code) and a summary; exits 1 if any stop hung or exited
non-zero. docs/VERIFICATION.md has the runs."""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = os.path.join(ROOT, "scripts", "cluster")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "oms"))
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--dir", default=None, help="the cluster's directory (default: a new temp dir)")
    a = ap.parse_args()
    d = a.dir or tempfile.mkdtemp(prefix="oms-stop-stress-")
    env = dict(os.environ, OMS_ADMIN_PASSWORD=os.environ.get("OMS_ADMIN_PASSWORD", uuid.uuid4().hex))

    def cluster(*args, check=True):
        return subprocess.run([sys.executable, CLUSTER, args[0], "--dir", d] + list(args[1:]), env=env,
                              capture_output=True, text=True, check=check)

    cluster("up", "--free-ports", "--bin", os.path.abspath(a.bin))
    st = json.load(open(os.path.join(d, "cluster.json")))
    base = "http://127.0.0.1:%d" % st["ports"]["gateway"]

    def call(method, path, body=None, token=None, headers=None):
        r = urllib.request.Request(base + path, method=method,
                                   data=json.dumps(body).encode() if body is not None else None)
        r.add_header("Content-Type", "application/json")
        if token:
            r.add_header("Authorization", "Bearer " + token)
        for k, v in (headers or {}).items():
            r.add_header(k, v)
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return json.load(resp)
        except Exception:  # noqa: BLE001 - a stopped service answers 503: the load goes on
            return None

    token = call("POST", "/api/auth/login", {"userId": "stress"})["token"]
    stop = threading.Event()

    def load():
        while not stop.is_set():
            call("POST", "/api/orders", {"customerEmail": "s@example.com",
                                         "items": [{"productId": "prod-101", "quantity": 1, "price": 50.00}]},
                 token, {"Idempotency-Key": uuid.uuid4().hex})
            time.sleep(0.05)

    loader = threading.Thread(target=load)
    loader.start()
    names = [n for n in st["ports"] if n != "gateway"]
    bad, times = [], []
    try:
        for i in range(a.iterations):
            name = random.choice(names)
            pid = int(open(os.path.join(d, "run", name + ".pid")).read())
            p = subprocess.Popen([sys.executable, CLUSTER, "stop", "--dir", d, name], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            t0 = time.monotonic()
            dumped = False
            while p.poll() is None:
                if time.monotonic() - t0 > 8 and not dumped:
                    dumped = True
                    g = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                                       capture_output=True, text=True, timeout=120)
                    path = os.path.join(d, "hang-%s-%d.txt" % (name, i))
                    open(path, "w").write(g.stdout + g.stderr)
                    print("%s (pid %d) still stopping after 8 s: stacks in %s" % (name, pid, path), flush=True)
                time.sleep(0.05)
            took = time.monotonic() - t0
            times.append(took)
            exit_file = os.path.join(d, "run", name + ".exit")
            code = open(exit_file).read().strip() if os.path.exists(exit_file) else "?"
            print("%d %s stopped in %.2f s, exit %s" % (i, name, took, code), flush=True)
            if dumped or code != "0":
                bad.append((i, name, took, code))
            cluster("up")
    finally:
        stop.set()
        loader.join()
        cluster("down", check=False)
    times.sort()
    print("%d stops: median %.2f s, max %.2f s; %d hung or exited non-zero %s" % (
        len(times), times[len(times) // 2], times[-1], len(bad), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
