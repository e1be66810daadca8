#!/usr/bin/env python3
"""The cost model of a saga: what the whole system spent between two snapshots, divided by the
sagas that finished in between. Python 3 standard library only (psql for PostgreSQL's counters).

A snapshot holds
  * OMS's /metrics: SQL statements sent (BEGIN/COMMIT included), durable commits (one fsync each
    on SQLite with durability full; on PostgreSQL one WAL flush each), lazy commits, messages
    handled by consumers, sagas finished;
  * per process type (oms, postgres, nats, generator), summed from /proc: CPU time (user+system),
    context switches (voluntary + involuntary, every thread), bytes written to storage;
  * in distributed mode: PostgreSQL's pg_stat_wal (WAL records, bytes, writes, syncs) and
    pg_stat_database (commits), NATS's /varz (messages in and out).

  python3 bench/cost.py snapshot URL --work DIR [--cluster-json FILE] > a.json
  ... load ...
  python3 bench/cost.py snapshot URL --work DIR [--cluster-json FILE] > b.json
  python3 bench/cost.py per-saga a.json b.json
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")

OMS_COUNTERS = {
    "statements": ("oms_db_statements_total", None),
    "durable_commits": ("oms_db_commits_total", 'durable="true"'),
    "lazy_commits": ("oms_db_commits_total", 'durable="false"'),
    "messages": ("oms_bus_messages_handled_total", None),
    "sagas_completed": ("oms_sagas_completed_total", None),
    "sagas_failed": ("oms_sagas_failed_total", None),
    "sagas_cancelled": ("oms_sagas_cancelled_total", None),
    "orders_created": ("oms_orders_created_total", None),
}


def oms_counters(url):
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    out = {k: None for k in OMS_COUNTERS}  # None: this build does not expose it
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        for k, (metric, label) in OMS_COUNTERS.items():
            if name == metric and (label is None or label in name_labels):
                out[k] = (out[k] or 0.0) + float(value)
    return out


def read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def classify(pid, work, cmdlines):
    cmd = cmdlines.get(pid, "")
    comm = read("/proc/%s/comm" % pid).strip()
    if "paced.py" in cmd or "idle_probe.py" in cmd or comm == "wrk":
        return "generator"
    if work not in cmd:
        # PostgreSQL's backends do not name the data dir: their parent (the postmaster) does.
        ppid = read("/proc/%s/stat" % pid).rsplit(")", 1)[-1].split()[1:2]
        if comm.startswith("postgres") and ppid and work in cmdlines.get(ppid[0], ""):
            return "postgres"
        return None
    if comm.startswith("postgres"):
        return "postgres"
    if comm.startswith("nats"):
        return "nats"
    if comm == "oms" or "/oms " in cmd + " ":
        return "oms"
    return None


def procs(work):
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    cmdlines = {p: read("/proc/%s/cmdline" % p).replace("\0", " ") for p in pids}
    out = {}
    for pid in pids:
        kind = classify(pid, work, cmdlines)
        if not kind:
            continue
        stat = read("/proc/%s/stat" % pid).rsplit(")", 1)[-1].split()
        if len(stat) < 13:
            continue
        cpu_us = (int(stat[11]) + int(stat[12])) * TICK_US
        ctx = 0
        try:
            tasks = os.listdir("/proc/%s/task" % pid)
        except OSError:
            tasks = []
        for t in tasks:
            for line in read("/proc/%s/task/%s/status" % (pid, t)).splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    ctx += int(line.split()[1])
        io = dict(l.split(": ") for l in read("/proc/%s/io" % pid).splitlines() if ": " in l)
        d = out.setdefault(kind, {"processes": 0, "cpu_us": 0.0, "ctx_switches": 0, "write_bytes": 0})
        d["processes"] += 1
        d["cpu_us"] += cpu_us
        d["ctx_switches"] += ctx
        d["write_bytes"] += int(io.get("write_bytes", 0))
    return out


def pg_stats(cluster_json):
    st = json.load(open(cluster_json))
    q = ("SELECT (SELECT sum(xact_commit) FROM pg_stat_database), wal_records, wal_bytes, wal_write, wal_sync"
         " FROM pg_stat_wal")
    psql = "psql"
    for d in ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"):
        if os.path.exists(d + "/psql"):
            psql = d + "/psql"
            break
    r = subprocess.run([psql, "-h", "127.0.0.1", "-p", str(st["pg_port"]), "-U", "oms", "-d", "postgres", "-tAF,",
                        "-c", q], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        return {"error": r.stderr.strip()[:200]}
    v = r.stdout.strip().split(",")
    keys = ("commits", "wal_records", "wal_bytes", "wal_writes", "wal_syncs")
    return {k: float(x) for k, x in zip(keys, v)}


def nats_stats(cluster_json):
    st = json.load(open(cluster_json))
    try:
        v = json.load(urllib.request.urlopen("http://127.0.0.1:%d/varz" % st["nats_monitor_port"], timeout=5))
    except OSError as e:
        return {"error": str(e)}
    return {"in_msgs": v.get("in_msgs", 0), "out_msgs": v.get("out_msgs", 0), "in_bytes": v.get("in_bytes", 0)}


def snapshot(url, work, cluster_json=None):
    s = {"t": time.time(), "oms": oms_counters(url), "procs": procs(work)}
    if cluster_json:
        s["pg"] = pg_stats(cluster_json)
        s["nats"] = nats_stats(cluster_json)
    return s


def per_saga(a, b):
    """Per finished saga between snapshots a and b (None when no saga finished)."""
    done = lambda s: sum(s["oms"][k] or 0 for k in ("sagas_completed", "sagas_failed", "sagas_cancelled"))
    n = done(b) - done(a)
    if n <= 0:
        return None
    f = {"sagas": n, "seconds": b["t"] - a["t"]}
    for k in ("statements", "durable_commits", "lazy_commits", "messages"):
        if a["oms"][k] is not None and b["oms"][k] is not None:
            f[k] = (b["oms"][k] - a["oms"][k]) / n
    for kind in ("oms", "postgres", "nats", "generator"):
        pa, pb = a["procs"].get(kind), b["procs"].get(kind)
        if pa and pb:
            f["cpu_us_" + kind] = (pb["cpu_us"] - pa["cpu_us"]) / n
            f["ctx_" + kind] = (pb["ctx_switches"] - pa["ctx_switches"]) / n
            f["write_bytes_" + kind] = (pb["write_bytes"] - pa["write_bytes"]) / n
    if "pg" in a and "pg" in b and "error" not in a["pg"] and "error" not in b["pg"]:
        for k in ("commits", "wal_records", "wal_bytes", "wal_writes", "wal_syncs"):
            f["pg_" + k] = (b["pg"][k] - a["pg"][k]) / n
    if "nats" in a and "nats" in b and "error" not in a["nats"] and "error" not in b["nats"]:
        f["nats_msgs_in"] = (b["nats"]["in_msgs"] - a["nats"]["in_msgs"]) / n
    return f


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("snapshot")
    p.add_argument("url")
    p.add_argument("--work", required=True, help="the benchmark's work dir (names its processes)")
    p.add_argument("--cluster-json")
    p = sub.add_parser("per-saga")
    p.add_argument("a")
    p.add_argument("b")
    a = ap.parse_args()
    if a.cmd == "snapshot":
        print(json.dumps(snapshot(a.url, a.work, a.cluster_json)))
    else:
        print(json.dumps(per_saga(json.load(open(a.a)), json.load(open(a.b)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
