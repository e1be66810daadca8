#!/usr/bin/env python3
"""Does the cost of a request grow with the data? Python 3 standard library only.

For each size (default 10,000 and 1,000,000 stored orders), embedded mode:
  1. a fresh data directory; oms places one order through the real system (the template) and stops;
  2. bench/preload.py copies that order's rows until the directory holds SIZE orders, in every
     service's database (orders, idempotency keys, sagas and their history, reservations,
     payments, shipments, notifications, inbox rows);
  3. --repeat times: oms starts on that directory and, one after the other,
       POST /api/orders                      paced at --rate for --duration s (bench/paced.py,
                                             latency from the scheduled send: no coordinated omission)
       GET /api/orders/{id}                  --count requests, one every --gap-ms, random stored ids
       GET /api/orders/customer/{email}      --count requests, one every --gap-ms, random emails
                                             (--per-email orders per email at every size; the
                                             newest 100 come back)
     then stops (each repeat adds its few thousand orders to the same directory).
Prints one JSON line per size and repeat, then a summary: median p99 per endpoint per size and
the ratio of the largest size to the smallest.

  python3 bench/scale.py build/oms --sizes 10000,1000000 --repeat 3 --work /var/tmp/oms-scale [--keep --reuse]
"""
import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import http_call  # noqa: E402
from paced import percentile  # noqa: E402

PRODUCT, PRICE = "bench-1", "1.00"


def start(binary, data_dir, log):
    p = subprocess.Popen([binary, "run", "--port", "0", "--data-dir", data_dir, "--demo-data", "false",
                          "--log-level", "warn"], stdout=subprocess.PIPE, stderr=open(log, "ab"), text=True)
    for line in p.stdout:
        if line.startswith("oms listening on "):
            return p, line.split()[-1]
    sys.exit("oms exited before it was ready; see " + log)


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)


# The operator password of the oms processes this script starts (staff creates the product).
os.environ.setdefault("OMS_ADMIN_PASSWORD", "bench-" + uuid.uuid4().hex)


def login(url, staff=False):
    if staff:
        st, body = http_call(url, "POST", "/api/auth/login",
                             json.dumps({"userId": "staff", "password": os.environ["OMS_ADMIN_PASSWORD"]}).encode(),
                             {"Content-Type": "application/json"})
    else:
        st, body = http_call(url, "POST", "/api/auth/login?userId=bench")
    assert st == 200, body
    return json.loads(body)["token"]


def template(binary, d, log):
    p, url = start(binary, d, log)
    try:
        token = login(url)
        body = '{"productId":"%s","initialStock":1000000,"price":%s,"name":"bench product"}' % (PRODUCT, PRICE)
        st, resp = http_call(url, "POST", "/api/inventory", body.encode(),
                             {"Content-Type": "application/json", "Authorization": "Bearer " + login(url, staff=True)})
        assert st in (200, 201), resp
        order = '{"customerEmail":"template@example.com","items":[{"productId":"%s","quantity":1,"price":%s}]}' % (PRODUCT, PRICE)
        st, resp = http_call(url, "POST", "/api/orders", order.encode(),
                             {"Content-Type": "application/json", "Authorization": "Bearer " + token,
                              "Idempotency-Key": str(uuid.uuid4())})
        assert st == 201, resp
        oid = json.loads(resp)["orderId"]
        for _ in range(500):
            st, resp = http_call(url, "GET", "/api/orders/" + oid, headers={"Authorization": "Bearer " + token})
            if json.loads(resp).get("status") == "COMPLETED":
                break
            time.sleep(0.02)
        else:
            sys.exit("the template order did not complete")
        # Let the relays delete their published rows, so the template leaves no outbox rows.
        time.sleep(0.5)
    finally:
        stop(p)


def probe(url, token, paths, gap_ms):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    lat, bad = [], 0
    for path in paths:
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": "Bearer " + token})
        r = conn.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        bad += r.status != 200
        time.sleep(gap_ms / 1000)
    lat.sort()
    return {"p50": round(percentile(lat, 50), 3), "p99": round(percentile(lat, 99), 3), "non_200": bad}


def measure(a, binary, d, size, rep, ids, n_emails, log):
    p, url = start(binary, d, log)
    try:
        token = login(url)
        env = dict(os.environ, OMS_TOKEN=token)
        out = subprocess.run([sys.executable, os.path.join(HERE, "paced.py"), "--url", url, "--rate", str(a.rate),
                              "--duration", str(a.duration), "--threads", "16", "--product", PRODUCT,
                              "--price", PRICE], env=env, capture_output=True, text=True, check=True).stdout
        paced = json.loads(out.strip().splitlines()[-1])
        time.sleep(2)  # let the sagas of the paced run settle before the reads
        rnd = random.Random(rep)
        by_id = probe(url, token, ["/api/orders/" + rnd.choice(ids) for _ in range(a.count)], a.gap_ms)
        emails = ["c%d@example.com" % rnd.randrange(n_emails) for _ in range(a.count)]
        by_email = probe(url, token, ["/api/orders/customer/" + e for e in emails], a.gap_ms)
        rss = 0
        for line in open("/proc/%d/status" % p.pid):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) // 1024
    finally:
        stop(p)
    rec = {"bench": "scale", "size": size, "repeat": rep,
           "post": {"p50": paced["latency_ms"]["p50"], "p99": paced["latency_ms"]["p99"],
                    "ok": paced["ok_2xx"], "non_2xx": paced["non_2xx"], "kept_up": paced["generator_kept_up"]},
           "get_by_id": by_id, "list_by_email": by_email, "rss_mb": rss,
           "order_db_mb": round(os.path.getsize(os.path.join(d, "order.db")) / 2**20)}
    print(json.dumps(rec), flush=True)
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rate", type=int, default=200, help="POST /api/orders per second")
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--count", type=int, default=2000, help="requests per GET probe")
    ap.add_argument("--gap-ms", type=float, default=2.0)
    ap.add_argument("--per-email", type=int, default=100,
                    help="orders per customer email (the same at every size, so a list returns as many at each)")
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "oms-scale"))
    ap.add_argument("--keep", action="store_true", help="keep the data directories")
    ap.add_argument("--reuse", action="store_true",
                    help="use a directory a previous --keep run left with at least SIZE orders (the preload of 1M takes ~5 min)")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    sizes = [int(s) for s in a.sizes.split(",")]
    os.makedirs(a.work, exist_ok=True)
    log = os.path.join(a.work, "oms.log")
    results = {}
    for size in sizes:
        d = os.path.join(a.work, "orders-%d" % size)
        reusable = False
        if a.reuse and os.path.exists(os.path.join(d, "order.db")):
            with sqlite3.connect(os.path.join(d, "order.db")) as c:
                reusable = c.execute("SELECT COUNT(*) FROM orders").fetchone()[0] >= size
        if not reusable:
            shutil.rmtree(d, ignore_errors=True)
            template(binary, d, log)
            subprocess.run([sys.executable, os.path.join(HERE, "preload.py"), "--data-dir", d, "--orders", str(size),
                            "--emails", str(max(1, size // a.per_email))], check=True, stderr=subprocess.DEVNULL)
        with sqlite3.connect(os.path.join(d, "order.db")) as c:
            ids = [r[0] for r in c.execute("SELECT order_id FROM orders ORDER BY random() LIMIT 5000")]
        emails = max(1, size // a.per_email)
        results[size] = [measure(a, binary, d, size, rep, ids, emails, log) for rep in range(1, a.repeat + 1)]
        if not a.keep:
            shutil.rmtree(d, ignore_errors=True)
    med = lambda rs, k: statistics.median(r[k]["p99"] for r in rs)  # noqa: E731
    rng = lambda rs, k: "%.2f-%.2f" % (min(r[k]["p99"] for r in rs), max(r[k]["p99"] for r in rs))  # noqa: E731
    print("\n| p99, ms (median of %d; range) | %s | ratio |" % (a.repeat, " | ".join("%d orders" % s for s in sizes)))
    print("|---|" + "---|" * len(sizes) + "---|")
    for k, label in (("post", "POST /api/orders at %d/s" % a.rate), ("get_by_id", "GET /api/orders/{id}"),
                     ("list_by_email", "GET /api/orders/customer/{email}")):
        cells = ["%.2f (%s)" % (med(results[s], k), rng(results[s], k)) for s in sizes]
        ratio = med(results[sizes[-1]], k) / med(results[sizes[0]], k)
        print("| %s | %s | %.2f× |" % (label, " | ".join(cells), ratio))


if __name__ == "__main__":
    main()
