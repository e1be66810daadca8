#!/usr/bin/env python3
"""Latency of one order at a time on an otherwise idle system. Python 3 standard library only.

Sends COUNT orders one after another, GAP ms apart (each after the previous one's saga ended), and
measures for each:
  * post      - POST /api/orders, from send to the end of the 201;
  * complete  - from the send of the POST until GET /api/orders/{id} first answers COMPLETED
                (polled every --poll-ms on a second keep-alive connection): what a client sees;
  * saga      - completedAt - createdAt of that order (both stamped by the system: the saga's
                completion time minus the POST's acceptance time), without the polling's
                resolution or the order service's last hop.
Output: one JSON line {"bench":"idle", ...} on stdout (ms).

  OMS_TOKEN=... python3 bench/idle_probe.py --url http://127.0.0.1:8080 --count 100 --gap-ms 10
"""
import argparse
import datetime
import http.client
import json
import os
import sys
import time
import urllib.parse
import uuid

from paced import summarize


def ms_of(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--gap-ms", type=float, default=10.0)
    ap.add_argument("--poll-ms", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one saga")
    ap.add_argument("--token", default=os.environ.get("OMS_TOKEN", ""))
    ap.add_argument("--product", default=os.environ.get("OMS_BENCH_PRODUCT", "bench-1"))
    ap.add_argument("--price", default=os.environ.get("OMS_BENCH_PRICE", "1.00"))
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    post_conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    get_conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    auth = {"Authorization": "Bearer " + a.token}
    body = ('{"customerEmail":"idle@example.com","items":[{"productId":"%s","quantity":1,"price":%s}]}'
            % (a.product, a.price)).encode()
    post, complete, saga, failures = [], [], [], 0
    for _ in range(a.count):
        headers = dict(auth, **{"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
        t0 = time.perf_counter()
        post_conn.request("POST", "/api/orders", body=body, headers=headers)
        r = post_conn.getresponse()
        data = r.read()
        t1 = time.perf_counter()
        if r.status != 201:
            failures += 1
            time.sleep(a.gap_ms / 1000.0)
            continue
        post.append(t1 - t0)
        oid = json.loads(data)["orderId"]
        deadline = t0 + a.timeout
        order = None
        while time.perf_counter() < deadline:
            get_conn.request("GET", "/api/orders/" + oid, headers=auth)
            g = get_conn.getresponse()
            o = json.loads(g.read())
            if g.status == 200 and o.get("status") != "PENDING" and not o.get("cancelRequested"):
                order = o
                break
            time.sleep(a.poll_ms / 1000.0)
        t2 = time.perf_counter()
        if order is None or order["status"] != "COMPLETED":
            failures += 1
        else:
            complete.append(t2 - t0)
            if order.get("completedAt"):
                saga.append((ms_of(order["completedAt"]) - ms_of(order["createdAt"])) / 1000.0)
        time.sleep(a.gap_ms / 1000.0)
    print(json.dumps({"bench": "idle", "count": a.count, "gap_ms": a.gap_ms, "poll_ms": a.poll_ms,
                      "failures": failures, "post_ms": summarize(post), "complete_ms": summarize(complete),
                      "saga_ms": summarize(saga)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
