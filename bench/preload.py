#!/usr/bin/env python3
"""Fill an embedded data directory with N historical orders, quickly. Python 3 standard library only.

The directory must hold exactly one finished order (its saga COMPLETED), placed through the real
system: that order is the template. Every row it left in every service's database (the order, its
idempotency record, the saga and its history, the reservation, the payment, the shipment task, the
notifications, the inbox rows of every message) is copied N - 1 times, older and older, so that each
service's tables and indexes hold N orders' rows, as if N sagas had run over the last --span-days
days. Outbox and dead-letter tables stay as they are, and the product's stock is raised so that the
inventory invariants still hold (available + reserved = total; reserved = units reserved).

In each copy, every UUID in every text value (ids, message ids, JSON bodies) becomes a new
time-ordered UUIDv7 whose timestamp is moved back like the copy's *_ms columns; the template's
customer email becomes one of --emails addresses (c<k>@example.com), so a list by email returns
N / --emails orders. oms must not be running on the directory.

  python3 bench/preload.py --data-dir DIR --orders 1000000
"""
import argparse
import hashlib
import json
import os
import re
import sqlite3
import sys
import time

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SKIP = {"schema_migrations", "outbox", "dead_letters", "products", "sqlite_sequence"}
DBS = ["order", "saga", "inventory", "payment", "fulfillment", "notification"]


def uuid7_ms(u):
    return int(u[:8] + u[9:13], 16)


def derive(u, i, shift):
    """The copy-i version of UUID u: its timestamp moved back by shift ms, new random bits."""
    ms = max(uuid7_ms(u) - shift, 0) if u[14] == "7" else None
    h = hashlib.blake2b((u + ":" + str(i)).encode(), digest_size=10).hexdigest()
    if ms is None:  # not a v7 id (a client's Idempotency-Key): any unique text will do
        ms = int(h[:12], 16)
    t = "%012x" % ms
    var = "89ab"[int(h[15], 16) & 3]
    return "%s-%s-7%s-%s%s-%s" % (t[:8], t[8:12], h[:3], var, h[3:6], h[6:18])


def recipe(value, email):
    """How a template value becomes a copy's: ('const', v) | ('time', v) | ('text', parts)."""
    if isinstance(value, str):
        pieces, last = [], 0
        for m in re.finditer(UUID.pattern + "|" + re.escape(email), value):
            pieces.append(value[last:m.start()])
            pieces.append(("uuid", m.group(0)) if m.group(0) != email else ("email",))
            last = m.end()
        if len(pieces) == 0:
            return ("const", value)
        pieces.append(value[last:])
        return ("text", pieces)
    return ("const", value)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--orders", type=int, required=True, help="orders in total, the template included")
    ap.add_argument("--emails", type=int, default=10000, help="distinct customer emails")
    ap.add_argument("--span-days", type=float, default=6.0, help="copies spread over this many days back")
    ap.add_argument("--chunk", type=int, default=20000, help="copies per transaction")
    a = ap.parse_args()
    t0 = time.time()
    conns = {n: sqlite3.connect(os.path.join(a.data_dir, n + ".db"), isolation_level=None) for n in DBS}
    orders = conns["order"].execute("SELECT order_id, customer_email, status FROM orders").fetchall()
    if len(orders) != 1 or orders[0][2] != "COMPLETED":
        sys.exit("preload: the data directory must hold exactly one COMPLETED order (the template); found %r" % orders)
    template_id, email = orders[0][0], orders[0][1]
    # Per database: (table, columns, one recipe per column) for every row the template left.
    plans = {}
    for name, c in conns.items():
        c.execute("PRAGMA synchronous=OFF")
        tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'") if r[0] not in SKIP]
        rows = []
        for t in tables:
            cols = [r[1] for r in c.execute("PRAGMA table_info(%s)" % t)]
            for row in c.execute("SELECT * FROM %s" % t):
                rec = []
                for col, v in zip(cols, row):
                    if col.endswith("_ms") and isinstance(v, int) and v > 10**12:
                        rec.append(("time", v))
                    else:
                        rec.append(recipe(v, email))
                rows.append((t, cols, rec))
        plans[name] = rows
    n_copies = a.orders - 1
    span_ms = int(a.span_days * 86400 * 1000)
    done = 0
    while done < n_copies:
        upto = min(n_copies, done + a.chunk)
        batches = {name: {} for name in conns}
        for i in range(done + 1, upto + 1):
            shift = (n_copies - i + 1) * span_ms // max(n_copies, 1) + 1  # the oldest copy first
            ids = {}
            mail = "c%d@example.com" % (i % a.emails)
            for name, rows in plans.items():
                per = batches[name]
                for t, cols, rec in rows:
                    out = []
                    for kind, *rest in rec:
                        if kind == "const":
                            out.append(rest[0])
                        elif kind == "time":
                            out.append(rest[0] - shift)
                        else:
                            s = []
                            for p in rest[0]:
                                if isinstance(p, str):
                                    s.append(p)
                                elif p[0] == "email":
                                    s.append(mail)
                                else:
                                    u = p[1]
                                    if u not in ids:
                                        ids[u] = derive(u, i, shift)
                                    s.append(ids[u])
                            out.append("".join(s))
                    per.setdefault((t, tuple(cols)), []).append(out)
        for name, per in batches.items():
            c = conns[name]
            c.execute("BEGIN")
            for (t, cols), values in per.items():
                c.executemany("INSERT INTO %s (%s) VALUES (%s)" % (t, ",".join(cols), ",".join("?" * len(cols))), values)
            c.execute("COMMIT")
        done = upto
        print("preload: %d of %d orders (%.0f s)" % (done + 1, a.orders, time.time() - t0), file=sys.stderr, flush=True)
    # Stock: every copy's reservation holds the template's units.
    inv = conns["inventory"]
    units = {}
    for (items,) in inv.execute("SELECT items FROM reservations WHERE order_id = ?", (template_id,)):
        for it in json.loads(items):
            units[it["productId"]] = units.get(it["productId"], 0) + it["quantity"] * n_copies
    inv.execute("BEGIN")
    for pid, k in units.items():
        inv.execute("UPDATE products SET total = total + ?, reserved = reserved + ? WHERE product_id = ?", (k, k, pid))
    inv.execute("COMMIT")
    for c in conns.values():
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.close()
    print(json.dumps({"bench": "preload", "orders": a.orders, "emails": a.emails, "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
