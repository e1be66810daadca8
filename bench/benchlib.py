#!/usr/bin/env python3
"""Helpers for bench/run.sh (Python 3 standard library only; no curl/jq needed).

  benchlib.py freeport                                   print a free 127.0.0.1 TCP port
  benchlib.py login URL USER [--password P]              print a bearer token (staff: with the operator password)
  benchlib.py create-product URL TOKEN ID STOCK PRICE    POST /api/inventory, print the status
  benchlib.py snapshot URL                               print {"t":..., "metrics":{...}} (JSON)
  benchlib.py drain URL [--idle S] [--max S] [--poll S]  wait until the saga backlog is drained
  benchlib.py record --label L [--key FILE]...           merge JSON files into one record line
  benchlib.py summarize RESULTS.jsonl [--meta META.json] print the markdown summary
"""
import argparse
import http.client
import json
import socket
import statistics
import sys
import time
import urllib.parse

import cost

METRICS = {
    "orders_created": "oms_orders_created_total",
    "sagas_completed": "oms_sagas_completed_total",
    "sagas_failed": "oms_sagas_failed_total",
    "sagas_cancelled": "oms_sagas_cancelled_total",
    "outbox_published": "oms_outbox_published_total",
    "dead_letters": "oms_dead_letters_total",
}


def http_call(url, method, path, body=None, headers=None, timeout=10.0):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def parse_prometheus(text, names):
    """Sum every series of each wanted metric (labels ignored). Missing metric -> None."""
    sums = {n: None for n in names}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name = line[:brace]
            rest = line[line.rfind("}") + 1:]
        else:
            name = line[:space]
            rest = line[space:]
        if name not in sums:
            continue
        try:
            v = float(rest.split()[0])
        except (IndexError, ValueError):
            continue
        sums[name] = (sums[name] or 0.0) + v
    return sums


def snapshot(url):
    t = time.time()
    try:
        status, body = http_call(url, "GET", "/metrics", timeout=5.0)
    except OSError as e:
        return {"t": t, "error": str(e), "metrics": {k: None for k in METRICS}}
    sums = parse_prometheus(body.decode("utf-8", "replace"), set(METRICS.values()))
    m = {k: (None if sums[v] is None else int(sums[v])) for k, v in METRICS.items()}
    return {"t": t, "status": status, "metrics": m}


def terminal(m):
    parts = [m.get("sagas_completed"), m.get("sagas_failed"), m.get("sagas_cancelled")]
    if all(p is None for p in parts):
        return None
    return sum(p or 0 for p in parts)


def cmd_drain(a):
    """Called right after the load stops. Polls /metrics until every created order has a terminal
    saga (completed+failed+cancelled >= orders_created), or the terminal count stops rising for
    --idle seconds, or --max seconds pass. drain_s = time of the last rise - time of the first poll.
    series: [seconds since the first poll, orders_created, terminal sagas] at every rise (and the
    first and last poll); max_pause_s: the longest time without a rise while orders were pending."""
    first = snapshot(a.url)
    t_first = first["t"]
    prev = terminal(first["metrics"])
    last_rise = t_first
    max_pause = 0.0
    cur = first
    outcome = "drained"
    series = []

    def point(s):
        series.append([round(s["t"] - t_first, 2), s["metrics"].get("orders_created"),
                       terminal(s["metrics"])])

    point(first)
    if prev is None:
        outcome = "no-metric"
    else:
        while True:
            created = cur["metrics"].get("orders_created")
            if created is not None and terminal(cur["metrics"]) >= created:
                outcome = "drained"
                break
            max_pause = max(max_pause, time.time() - last_rise)
            if time.time() - last_rise >= a.idle:
                outcome = "stalled"
                break
            if time.time() - t_first >= a.max:
                outcome = "timeout"
                break
            time.sleep(a.poll)
            cur = snapshot(a.url)
            term = terminal(cur["metrics"])
            if term is not None and term > prev:
                prev = term
                last_rise = cur["t"]
                point(cur)
        if series[-1][0] != round(cur["t"] - t_first, 2):
            point(cur)
    print(json.dumps({"end_of_load": first, "drained": cur, "outcome": outcome,
                      "drain_s": round(last_rise - t_first, 3), "max_pause_s": round(max_pause, 2),
                      "series": series}))


def cmd_sample(a):
    """Print a metrics snapshot every --interval seconds until killed (one JSON line each)."""
    while True:
        t = time.time()
        snap = snapshot(a.url)
        print(json.dumps({"t": snap["t"], "orders": snap["metrics"].get("orders_created"),
                          "terminal": terminal(snap["metrics"])}), flush=True)
        time.sleep(max(0.0, a.interval - (time.time() - t)))


def timeline(path, t_start, t_end, step):
    """Rates per `step` seconds between t_start and t_end from a sample file."""
    try:
        with open(path) as fh:
            pts = [json.loads(l) for l in fh if l.startswith("{")]
    except (OSError, ValueError):
        return None
    pts = [p for p in pts if p.get("orders") is not None and p.get("terminal") is not None]
    if len(pts) < 2:
        return None
    out = []
    prev = pts[0]
    for p in pts[1:]:
        if p["t"] - prev["t"] >= step - 0.05 or p is pts[-1]:
            dt = p["t"] - prev["t"]
            if dt > 0:
                out.append((prev["t"] - t_start, p["t"] - t_start,
                            (p["orders"] - prev["orders"]) / dt, (p["terminal"] - prev["terminal"]) / dt))
            prev = p
    return out


def cmd_record(a):
    rec = {"label": a.label}
    for kv in a.key or []:
        k, path = kv.split("=", 1)
        try:
            with open(path) as f:
                lines = [ln for ln in f.read().splitlines() if ln.startswith("{")]
            rec[k] = json.loads(lines[-1]) if lines else None
        except (OSError, ValueError):
            rec[k] = None
    for kv in a.value or []:
        k, v = kv.split("=", 1)
        rec[k] = v
    print(json.dumps(rec))


def g(d, *path):
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def derive(rec):
    """Figures of one repeat."""
    f = {}
    ng = rec.get("nginx_wrk")
    om = rec.get("oms_wrk")
    f["nginx_rps"] = g(ng, "ok_per_s")
    f["nginx_p50"] = g(ng, "latency_ms", "p50")
    f["nginx_p99"] = g(ng, "latency_ms", "p99")
    f["oms_ok_per_s"] = g(om, "ok_per_s")
    f["oms_p50"] = g(om, "latency_ms", "p50")
    f["oms_p90"] = g(om, "latency_ms", "p90")
    f["oms_p99"] = g(om, "latency_ms", "p99")
    f["oms_max"] = g(om, "latency_ms", "max")
    f["oms_non2xx"] = g(om, "non_2xx")
    rp = [g(om, "replayed"), g(rec.get("paced_oms"), "replayed")]
    f["replayed"] = None if all(x is None for x in rp) else sum(x or 0 for x in rp)
    e = g(om, "errors")
    f["oms_sock_errors"] = None if e is None else e["connect"] + e["read"] + e["write"] + e["timeout"]
    if f["oms_ok_per_s"] is not None and f["nginx_rps"]:
        f["oms_vs_nginx_pct"] = 100.0 * f["oms_ok_per_s"] / f["nginx_rps"]
    m0 = rec.get("oms_m0")
    dr = rec.get("oms_drain")
    if m0 and dr and terminal(m0["metrics"]) is not None:
        m1 = dr["end_of_load"]
        m2 = dr["drained"]
        win = m1["t"] - m0["t"]
        c0 = m0["metrics"]["sagas_completed"] or 0
        c1 = m1["metrics"]["sagas_completed"] or 0
        c2 = m2["metrics"]["sagas_completed"] or 0
        f["sagas_per_s_window"] = (c1 - c0) / win if win > 0 else None
        f["drain_s"] = dr["drain_s"]
        f["drain_outcome"] = dr["outcome"]
        f["drain_max_pause"] = dr.get("max_pause_s")
        f["backlog_at_end"] = ((m1["metrics"]["orders_created"] or 0) - terminal(m1["metrics"]))
        tot = win + dr["drain_s"]
        f["sagas_per_s_incl_drain"] = (c2 - c0) / tot if tot > 0 else None
        o0 = m0["metrics"]["orders_created"]
        o1 = m1["metrics"]["orders_created"]
        if o0 is not None and o1 is not None and win > 0:
            f["orders_per_s_metric"] = (o1 - o0) / win
    pn = rec.get("paced_nginx")
    f["paced_nginx_achieved"] = g(pn, "achieved_rate")
    f["paced_nginx_p99"] = g(pn, "latency_ms", "p99")
    f["paced_nginx_late"] = g(pn, "late_sends")
    po = rec.get("paced_oms")
    f["paced_offered"] = g(po, "offered_rate")
    f["paced_achieved"] = g(po, "achieved_rate")
    f["paced_p50"] = g(po, "latency_ms", "p50")
    f["paced_p99"] = g(po, "latency_ms", "p99")
    f["paced_max"] = g(po, "latency_ms", "max")
    f["paced_svc_p99"] = g(po, "service_latency_ms", "p99")
    f["paced_late"] = g(po, "late_sends")
    f["paced_late_pool"] = g(po, "late_no_free_connection")
    f["paced_late_wakeup"] = g(po, "late_client_wakeup")
    f["paced_non2xx"] = None if po is None else po["non_2xx"] + po["errors"]
    if f.get("sagas_per_s_incl_drain") is not None and f["nginx_rps"]:
        f["sagas_vs_nginx_pct"] = 100.0 * f["sagas_per_s_incl_drain"] / f["nginx_rps"]
    idle = rec.get("idle")
    for k, path in (("idle_post_p50", ("post_ms", "p50")), ("idle_post_p99", ("post_ms", "p99")),
                    ("idle_complete_p50", ("complete_ms", "p50")), ("idle_complete_p99", ("complete_ms", "p99")),
                    ("idle_saga_p50", ("saga_ms", "p50"))):
        f[k] = g(idle, *path)
    ku = rec.get("keepup")
    f["keepup_offered"] = g(ku, "offered_rate")
    f["keepup_achieved"] = g(ku, "achieved_rate")
    f["keepup_p99"] = g(ku, "latency_ms", "p99")
    ke = g(rec, "keepup_end", "metrics")
    if ke and terminal(ke) is not None and ke.get("orders_created") is not None:
        f["keepup_backlog"] = ke["orders_created"] - terminal(ke)
        if f["keepup_offered"]:
            f["keepup_backlog_s"] = f["keepup_backlog"] / f["keepup_offered"]
    ow, op = rec.get("overload_wrk"), rec.get("overload_probe")
    f["overload_rps"] = g(ow, "requests_per_s")
    f["overload_ok_rps"] = g(ow, "ok_per_s")
    if ow and ow.get("requests"):
        f["overload_shed_pct"] = 100.0 * (ow.get("non_2xx_by_status") or {}).get("503", 0) / ow["requests"]
    f["overload_probe_ok_p99"] = g(op, "ok_latency_ms", "p99")
    if op and op.get("completed"):
        f["overload_probe_shed_pct"] = 100.0 * op["status"].get("503", 0) / op["completed"]
    for phase in ("paced", "idle"):
        a, b = rec.get("cost_%s0" % phase), rec.get("cost_%s1" % phase)
        if a and b:
            c = cost.per_saga(a, b) or {}
            for k, v in c.items():
                f["cost_%s_%s" % (phase, k)] = v
    fin = g(rec, "oms_final", "drained", "metrics") or g(rec, "oms_final", "metrics")
    if fin:
        for k in ("orders_created", "sagas_completed", "sagas_failed", "sagas_cancelled", "dead_letters"):
            f["final_" + k] = fin.get(k)
        f["final_outcome"] = g(rec, "oms_final", "outcome")
    return f


ROWS = [
    # key, label, unit/format
    ("oms_ok_per_s", "OMS created orders/s (wrk, closed loop, 2xx only)", "%.0f"),
    ("oms_p50", "OMS POST /api/orders latency p50 (wrk)", "%.2f ms"),
    ("oms_p90", "OMS POST latency p90 (wrk)", "%.2f ms"),
    ("oms_p99", "OMS POST latency p99 (wrk)", "%.2f ms"),
    ("oms_max", "OMS POST latency max (wrk)", "%.1f ms"),
    ("oms_non2xx", "OMS non-2xx responses during the wrk run", "%d"),
    ("replayed", "OMS answers with Idempotent-Replayed (wrk + paced; keys are unique, so 0)", "%d"),
    ("oms_sock_errors", "OMS socket errors + timeouts during the wrk run", "%d"),
    ("orders_per_s_metric", "orders created/s by oms_orders_created_total over the window", "%.0f"),
    ("sagas_per_s_window", "sagas completed/s during the load window", "%.0f"),
    ("backlog_at_end", "saga backlog when the load stopped (orders without a terminal saga)", "%d"),
    ("drain_s", "time for that backlog to drain", "%.2f s"),
    ("drain_max_pause", "longest pause in saga completions during that drain", "%.2f s"),
    ("sagas_per_s_incl_drain", "sagas completed/s, load window + drain", "%.0f"),
    ("paced_offered", "paced: offered rate", "%.0f /s"),
    ("paced_achieved", "paced: achieved rate (answers per second of wall time)", "%.0f /s"),
    ("paced_p50", "paced: POST latency p50 (from scheduled send)", "%.2f ms"),
    ("paced_p99", "paced: POST latency p99 (from scheduled send)", "%.2f ms"),
    ("paced_max", "paced: POST latency max (from scheduled send)", "%.1f ms"),
    ("paced_svc_p99", "paced: POST latency p99 (from actual send)", "%.2f ms"),
    ("paced_late", "paced: sends more than 5 ms late", "%d"),
    ("paced_late_pool", "paced: … of which no connection was free (server slow)", "%d"),
    ("paced_late_wakeup", "paced: … of which the generator woke up late (client CPU)", "%d"),
    ("paced_non2xx", "paced: non-2xx + errors", "%d"),
    ("sagas_vs_nginx_pct", "sagas completed/s (load + drain) as % of the nginx ceiling", "%.2f %%"),
    ("idle_post_p50", "idle (1 order at a time, 10 ms apart): POST p50", "%.2f ms"),
    ("idle_post_p99", "idle: POST p99", "%.2f ms"),
    ("idle_complete_p50", "idle: create → COMPLETED seen by the client, p50", "%.2f ms"),
    ("idle_complete_p99", "idle: create → COMPLETED seen by the client, p99", "%.2f ms"),
    ("idle_saga_p50", "idle: completedAt − createdAt (stamped by OMS), p50", "%.1f ms"),
    ("keepup_offered", "keep-up: offered rate", "%.0f /s"),
    ("keepup_achieved", "keep-up: achieved rate", "%.0f /s"),
    ("keepup_p99", "keep-up: POST p99 (from scheduled send)", "%.2f ms"),
    ("keepup_backlog", "keep-up: saga backlog when the paced run ended", "%d"),
    ("keepup_backlog_s", "keep-up: that backlog in seconds of the offered rate (keeps up when < 1)", "%.2f s"),
    ("overload_rps", "overload (wrk, 4x the connections): requests/s answered", "%.0f /s"),
    ("overload_ok_rps", "overload: orders accepted/s (201)", "%.0f /s"),
    ("overload_shed_pct", "overload: share shed with 503", "%.1f %%"),
    ("overload_probe_ok_p99", "overload: p99 of accepted POSTs (a 50/s probe beside wrk)", "%.2f ms"),
    ("overload_probe_shed_pct", "overload: the probe's share of 503s", "%.1f %%"),
    ("cost_paced_statements", "cost per saga under paced load: SQL statements (BEGIN/COMMIT included)", "%.1f"),
    ("cost_paced_durable_commits", "cost per saga under paced load: durable commits (≈ fsyncs / WAL flushes)", "%.2f"),
    ("cost_paced_lazy_commits", "cost per saga under paced load: lazy commits (no fsync of their own)", "%.2f"),
    ("cost_paced_messages", "cost per saga under paced load: messages handled", "%.1f"),
    ("cost_paced_cpu_us_oms", "cost per saga under paced load: CPU µs, oms processes", "%.0f"),
    ("cost_paced_cpu_us_postgres", "cost per saga under paced load: CPU µs, PostgreSQL", "%.0f"),
    ("cost_paced_cpu_us_nats", "cost per saga under paced load: CPU µs, nats-server", "%.0f"),
    ("cost_paced_cpu_us_generator", "cost per saga under paced load: CPU µs, load generator", "%.0f"),
    ("cost_paced_ctx_oms", "cost per saga under paced load: context switches, oms", "%.1f"),
    ("cost_paced_ctx_postgres", "cost per saga under paced load: context switches, PostgreSQL", "%.1f"),
    ("cost_paced_ctx_nats", "cost per saga under paced load: context switches, nats-server", "%.1f"),
    ("cost_paced_write_bytes_oms", "cost per saga under paced load: bytes written to disk, oms (SQLite WAL + checkpoints)", "%.0f"),
    ("cost_paced_write_bytes_postgres", "cost per saga under paced load: bytes written to disk, PostgreSQL", "%.0f"),
    ("cost_paced_write_bytes_nats", "cost per saga under paced load: bytes written to disk, nats-server", "%.0f"),
    ("cost_paced_pg_commits", "cost per saga under paced load: PostgreSQL commits (pg_stat_database)", "%.1f"),
    ("cost_paced_pg_wal_bytes", "cost per saga under paced load: PostgreSQL WAL bytes", "%.0f"),
    ("cost_paced_pg_wal_syncs", "cost per saga under paced load: PostgreSQL WAL syncs (fsyncs)", "%.2f"),
    ("cost_paced_nats_msgs_in", "cost per saga under paced load: NATS messages in", "%.1f"),
    ("cost_idle_statements", "cost per saga, idle: SQL statements", "%.1f"),
    ("cost_idle_durable_commits", "cost per saga, idle: durable commits (≈ fsyncs)", "%.2f"),
    ("cost_idle_cpu_us_oms", "cost per saga, idle: CPU µs, oms processes", "%.0f"),
    ("cost_idle_cpu_us_postgres", "cost per saga, idle: CPU µs, PostgreSQL", "%.0f"),
    ("cost_idle_ctx_oms", "cost per saga, idle: context switches, oms", "%.1f"),
    ("cost_idle_write_bytes_oms", "cost per saga, idle: bytes written to disk, oms", "%.0f"),
    ("cost_idle_pg_wal_bytes", "cost per saga, idle: PostgreSQL WAL bytes", "%.0f"),
    ("cost_idle_pg_wal_syncs", "cost per saga, idle: PostgreSQL WAL syncs", "%.2f"),
    ("nginx_rps", "HTTP ceiling: nginx `return 200` req/s (same wrk -t/-c, same script)", "%.0f"),
    ("nginx_p50", "nginx latency p50", "%.2f ms"),
    ("nginx_p99", "nginx latency p99", "%.2f ms"),
    ("oms_vs_nginx_pct", "OMS orders/s as % of the nginx ceiling", "%.1f %%"),
    ("paced_nginx_achieved", "generator self-check: paced.py vs nginx, achieved rate", "%.0f /s"),
    ("paced_nginx_p99", "generator self-check: paced.py vs nginx, p99", "%.2f ms"),
    ("paced_nginx_late", "generator self-check: sends more than 5 ms late", "%d"),
    ("final_orders_created", "final: orders created (oms_orders_created_total)", "%d"),
    ("final_sagas_completed", "final: sagas completed", "%d"),
    ("final_sagas_failed", "final: sagas failed", "%d"),
    ("final_sagas_cancelled", "final: sagas cancelled", "%d"),
    ("final_dead_letters", "final: dead letters", "%d"),
]


def fmt(v, f):
    if v is None:
        return "n/a"
    if "%d" in f:
        v = int(round(v))
    return f % v


def cmd_summarize(a):
    recs = []
    with open(a.results) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("{"):
                recs.append(json.loads(line))
    meta = {}
    if a.meta:
        with open(a.meta) as fh:
            meta = json.load(fh)
    figs = [derive(r) for r in recs]
    out = []
    w = out.append
    w("## OMS benchmark (%s)" % meta.get("when", ""))
    w("")
    for k in ("host", "oms", "mode", "durability", "duration", "repeat", "wrk", "rate", "note"):
        if k in meta:
            w("- %s: %s" % (k, meta[k]))
    w("")
    n = len(figs)
    w("| figure | median | min – max | runs |")
    w("|---|---:|---:|---|")
    for key, label, f in ROWS:
        vals = [x.get(key) for x in figs]
        present = [v for v in vals if v is not None]
        if not present:
            continue  # a figure this mode or these options do not measure
        med = statistics.median(present)
        w("| %s | %s | %s – %s | %s |" % (
            label, fmt(med, f), fmt(min(present), f), fmt(max(present), f),
            ", ".join(fmt(v, f) for v in vals)))
    w("")
    outcomes = [x.get("drain_outcome") for x in figs]
    fouts = [x.get("final_outcome") for x in figs]
    w("Drain outcome per run (after wrk / after the paced run): %s" % ", ".join(
        "%s/%s" % (o or "n/a", p or "n/a") for o, p in zip(outcomes, fouts)))
    kept = [g(r, "paced_oms", "generator_kept_up") for r in recs]
    causes = [g(r, "paced_oms", "late_cause") for r in recs]
    w("Paced generator kept up with the offered rate against OMS: %s%s" % (
        ", ".join(str(k) for k in kept),
        "" if not any(causes) else " (%s)" % "; ".join(c for c in causes if c)))
    kept_n = [g(r, "paced_nginx", "generator_kept_up") for r in recs]
    w("Paced generator kept up against nginx (self-check): %s" % ", ".join(str(k) for k in kept_n))
    st = {}
    for r in recs:
        for k, v in (g(r, "oms_wrk", "non_2xx_by_status") or {}).items():
            st[k] = st.get(k, 0) + v
        for k, v in (g(r, "paced_oms", "status") or {}).items():
            if not k.startswith("2"):
                st[k] = st.get(k, 0) + v
    if st:
        w("Non-2xx statuses seen (all runs): %s" % ", ".join("%s×%d" % kv for kv in sorted(st.items())))
    w("")
    tl_any = False
    for r in recs:
        path = r.get("timeline_file")
        m0 = r.get("oms_m0")
        dr = r.get("oms_drain")
        if not path or not m0 or not dr:
            continue
        tl = timeline(path, m0["t"], dr["end_of_load"]["t"], 2.0)
        if not tl:
            continue
        if not tl_any:
            w("Timeline of the wrk window, per ~2 s: orders created/s → sagas finished/s "
              "(from /metrics sampled every second):")
            w("")
            tl_any = True
        w("- %s: %s" % (r.get("label"), ", ".join(
            "%.0f–%.0fs %.0f→%.0f" % (max(0.0, a0), a1, o, t) for a0, a1, o, t in tl)))
    if tl_any:
        w("")
    cmds = meta.get("commands") or (recs[-1].get("commands") if recs else None)
    if recs and recs[-1].get("cmds_file"):
        try:
            with open(recs[-1]["cmds_file"]) as fh:
                cmds = fh.read().rstrip("\n").splitlines()
        except OSError:
            pass
    if cmds:
        w("Commands of the last run (ports are picked per run):")
        w("")
        w("```")
        for c in cmds:
            w(c)
        w("```")
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    p = sub.add_parser("login"); p.add_argument("url"); p.add_argument("user")
    p.add_argument("--password", help="the operator password (a staff or admin login)")
    p = sub.add_parser("create-product")
    for x in ("url", "token", "product", "stock", "price"):
        p.add_argument(x)
    p = sub.add_parser("snapshot"); p.add_argument("url")
    p = sub.add_parser("drain"); p.add_argument("url")
    p.add_argument("--idle", type=float, default=15.0)
    p.add_argument("--max", type=float, default=120.0)
    p.add_argument("--poll", type=float, default=0.2)
    p = sub.add_parser("sample"); p.add_argument("url")
    p.add_argument("--interval", type=float, default=1.0)
    p = sub.add_parser("record"); p.add_argument("--label", default="")
    p.add_argument("--key", action="append", help="NAME=FILE (last JSON line of FILE)")
    p.add_argument("--value", action="append", help="NAME=STRING")
    p = sub.add_parser("summarize"); p.add_argument("results"); p.add_argument("--meta")
    a = ap.parse_args()

    if a.cmd == "freeport":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif a.cmd == "login":
        if a.password:
            st, body = http_call(a.url, "POST", "/api/auth/login",
                                 body=json.dumps({"userId": a.user, "password": a.password}).encode(),
                                 headers={"Content-Type": "application/json"})
        else:
            st, body = http_call(a.url, "POST", "/api/auth/login?userId=" + urllib.parse.quote(a.user))
        if st != 200:
            sys.exit("login failed: HTTP %d %s" % (st, body[:300]))
        print(json.loads(body)["token"])
    elif a.cmd == "create-product":
        body = '{"productId":%s,"initialStock":%d,"price":%s,"name":"bench product"}' % (
            json.dumps(a.product), int(a.stock), a.price)
        st, resp = http_call(a.url, "POST", "/api/inventory", body=body.encode(),
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer " + a.token})
        print(st)
        if st not in (200, 201, 409):
            sys.exit("create product failed: HTTP %d %s" % (st, resp[:300]))
    elif a.cmd == "snapshot":
        print(json.dumps(snapshot(a.url)))
    elif a.cmd == "drain":
        cmd_drain(a)
    elif a.cmd == "sample":
        try:
            cmd_sample(a)
        except (KeyboardInterrupt, BrokenPipeError):
            pass
    elif a.cmd == "record":
        cmd_record(a)
    elif a.cmd == "summarize":
        cmd_summarize(a)


if __name__ == "__main__":
    main()
