#!/usr/bin/env python3
"""Paced (open-loop) load generator for POST /api/orders. Python 3 standard library only.

Debian's wrk is closed-loop: every connection sends its next request only when the previous
answer came back, so it measures "how fast can it go", not "what latency does a client see at
R requests/s". This script offers a fixed rate R for D seconds: request i is scheduled at
t0 + i/R, whatever happened to the earlier ones. A pool of threads, each with its own
keep-alive http.client connection, takes the next slot from a shared counter, sleeps until the
slot's time and sends.

Two latencies per request:
  * service latency   - from the moment the request was actually sent to the end of the response;
  * scheduled latency - from the moment it *should* have been sent (t0 + i/R) to the end of the
                        response. If the server stalls, the requests queued behind the stall are
                        charged for the wait (no "coordinated omission"). This is the figure to
                        quote as "p99 at R/s offered".
"lateness" (actual send - scheduled send) shows whether the generator itself kept up: if its
p99 is more than a few ms while the service latency is low, the client, not the server, was the
bottleneck, and the result says so (generator_kept_up=false).

Output: one JSON line starting with {"bench":"paced", ...} on stdout (latencies in ms).

Example:
  OMS_TOKEN=... python3 bench/paced.py --url http://127.0.0.1:8080 --rate 500 --duration 20
"""
import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list (p in 0..100)."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def summarize(vals_s):
    vals = sorted(vals_s)
    if not vals:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    r = lambda v: round(v * 1000.0, 3)
    return {
        "p50": r(percentile(vals, 50)),
        "p90": r(percentile(vals, 90)),
        "p99": r(percentile(vals, 99)),
        "max": r(vals[-1]),
        "mean": r(sum(vals) / len(vals)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--path", default=os.environ.get("OMS_BENCH_PATH", "/api/orders"))
    ap.add_argument("--rate", type=float, default=500.0, help="offered requests per second")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    ap.add_argument("--threads", type=int, default=16,
                    help="sender threads = keep-alive connections (default 16)")
    ap.add_argument("--token", default=os.environ.get("OMS_TOKEN", ""))
    ap.add_argument("--product", default=os.environ.get("OMS_BENCH_PRODUCT", "bench-1"))
    ap.add_argument("--price", default=os.environ.get("OMS_BENCH_PRICE", "1.00"))
    ap.add_argument("--email", default=os.environ.get("OMS_BENCH_EMAIL", "bench@example.com"))
    ap.add_argument("--timeout", type=float, default=10.0, help="per-request socket timeout, s")
    ap.add_argument("--late-ms", type=float, default=5.0,
                    help="a send more than this late counts as late (generator did not keep up)")
    ap.add_argument("--label", default="", help="free text copied into the JSON line")
    args = ap.parse_args()

    if args.rate <= 0 or args.duration <= 0 or args.threads <= 0:
        ap.error("rate, duration and threads must be > 0")

    u = urllib.parse.urlsplit(args.url)
    host, port = u.hostname, u.port or 80
    # the price goes in verbatim (e.g. 1.00), exactly like create_orders.lua
    body = ('{"customerEmail":%s,"items":[{"productId":%s,"quantity":1,"price":%s}],"currency":"USD"}'
            % (json.dumps(args.email), json.dumps(args.product), args.price)).encode()
    base_headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
    if args.token:
        base_headers["Authorization"] = "Bearer " + args.token
    run_id = os.urandom(8).hex()

    total = int(args.rate * args.duration)
    interval = 1.0 / args.rate
    late_s = args.late_ms / 1000.0
    lock = threading.Lock()
    state = {"next": 0}
    results = []  # per thread lists, merged at the end
    # start slightly in the future so that all threads are ready
    t0 = time.perf_counter() + 0.2

    def worker(widx):
        out = {"sched": [], "sched_ok": [], "svc": [], "late": [], "status": {}, "errors": 0, "ok": 0, "replayed": 0,
               "late_pool": 0, "late_wakeup": 0}
        results.append(out)
        conn = None
        while True:
            with lock:
                i = state["next"]
                state["next"] = i + 1
            if i >= total:
                break
            ts = t0 + i * interval
            now = time.perf_counter()
            # Taken after its time: no connection was free earlier (all busy on the server).
            # Taken in time but sent late: this thread woke up late (client CPU / scheduling).
            taken_late = now - ts > late_s
            if ts > now:
                time.sleep(ts - now)
            headers = dict(base_headers)
            headers["Idempotency-Key"] = "paced-%s-%d" % (run_id, i)
            sent = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
                conn.request("POST", args.path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                end = time.perf_counter()
                st = resp.status
                out["status"][st] = out["status"].get(st, 0) + 1
                if 200 <= st < 300:
                    out["ok"] += 1
                if resp.getheader("Idempotent-Replayed"):
                    out["replayed"] += 1
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, socket.timeout):
                end = time.perf_counter()
                out["errors"] += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            out["sched"].append(end - ts)
            if 200 <= st < 300:
                out["sched_ok"].append(end - ts)
            out["svc"].append(end - sent)
            out["late"].append(max(0.0, sent - ts))
            if taken_late:
                out["late_pool"] += 1
            elif sent - ts > late_s:
                out["late_wakeup"] += 1
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_end = time.perf_counter()

    sched, sched_ok, svc, late, status = [], [], [], [], {}
    ok = errors = replayed = late_pool = late_wakeup = 0
    for r in results:
        sched += r["sched"]
        sched_ok += r["sched_ok"]
        svc += r["svc"]
        late += r["late"]
        ok += r["ok"]
        errors += r["errors"]
        replayed += r["replayed"]
        late_pool += r["late_pool"]
        late_wakeup += r["late_wakeup"]
        for k, v in r["status"].items():
            status[k] = status.get(k, 0) + v
    elapsed = t_end - t0
    late_n = sum(1 for x in late if x * 1000.0 > args.late_ms)
    lat_late = summarize(late)
    completed = len(sched)
    out = {
        "bench": "paced",
        "label": args.label,
        "offered_rate": args.rate,
        "duration_s": args.duration,
        "threads": args.threads,
        "scheduled": total,
        "completed": completed,
        "ok_2xx": ok,
        "non_2xx": completed - ok,
        "errors": errors,
        "replayed": replayed,
        "status": {str(k): v for k, v in sorted(status.items())},
        "elapsed_s": round(elapsed, 3),
        # requests answered per second of wall time, from the first scheduled send to the last answer
        "achieved_rate": round(completed / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": summarize(sched),          # from scheduled send time (headline)
        "ok_latency_ms": summarize(sched_ok),    # the same, of the 2xx answers only (shed 503s are fast)
        "service_latency_ms": summarize(svc),    # from actual send time
        "lateness_ms": lat_late,
        "late_sends": late_n,
        "late_threshold_ms": args.late_ms,
        # late because every connection was waiting for the server when the slot came up
        "late_no_free_connection": late_pool,
        # late because the sending thread woke up late (the generator's own CPU / scheduling)
        "late_client_wakeup": late_wakeup,
        # The generator kept up if (almost) every request left on time. 1 % late is tolerated.
        "generator_kept_up": completed > 0 and late_n <= 0.01 * completed,
    }
    if not out["generator_kept_up"]:
        if late_pool >= late_wakeup:
            out["late_cause"] = ("mostly no free connection: all %d were waiting for the server "
                                 "(%d late sends), %d sends late from client wake-up"
                                 % (args.threads, late_pool, late_wakeup))
        else:
            out["late_cause"] = ("mostly client wake-up: the generator did not get the CPU in time "
                                 "(%d late sends; %d from no free connection)" % (late_wakeup, late_pool))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
