#!/usr/bin/env python3
"""Turns the measured cost of one saga into the nodes a given rate needs (docs/SCALING.md).

The per-saga costs come from the cost model every bench/run.sh prints (bench/cost.py): CPU µs of
the oms processes, of PostgreSQL and of nats-server, PostgreSQL WAL bytes and NATS messages per
saga. The defaults are the distributed-mode figures of docs/PERFORMANCE.md; pass your own.

Model (deliberately simple, and said so):
  * CPU scales linearly with the rate; a node is planned at --utilization of its cores;
  * PostgreSQL is sharded by order id (every service's tables key on it, ADR 8/SCALING.md), so
    its CPU and WAL divide evenly over shards; one shard's WAL is capped at --wal-mb-s;
  * NATS JetStream is partitioned by subject (one stream or subject range per partition), each
    partition capped at --nats-msgs-s messages/s.

  python3 bench/scaling.py --rate 1000 --rate 10000 --rate 100000
"""
import argparse
import math


def plan(rate, a):
    oms_cores = rate * a.oms_cpu_us / 1e6
    pg_cores = rate * a.pg_cpu_us / 1e6
    nats_cores = rate * a.nats_cpu_us / 1e6
    usable = a.cores * a.utilization
    wal_mb_s = rate * a.pg_wal_bytes / 1e6
    msgs_s = rate * a.msgs
    pg_shards = max(math.ceil(pg_cores / usable), math.ceil(wal_mb_s / a.wal_mb_s), 1)
    nats_parts = max(math.ceil(msgs_s / a.nats_msgs_s), math.ceil(nats_cores / usable), 1)
    return {
        "rate": rate,
        "oms_cores": oms_cores, "oms_nodes": max(math.ceil(oms_cores / usable), 1),
        "pg_cores": pg_cores, "wal_mb_s": wal_mb_s, "pg_shards": pg_shards,
        "nats_cores": nats_cores, "msgs_s": msgs_s, "nats_partitions": nats_parts,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, action="append", help="sagas/s (repeatable)")
    ap.add_argument("--oms-cpu-us", type=float, default=2032.0, help="CPU µs of all oms processes per saga")
    ap.add_argument("--pg-cpu-us", type=float, default=5002.0, help="CPU µs of PostgreSQL per saga")
    ap.add_argument("--nats-cpu-us", type=float, default=1088.0, help="CPU µs of nats-server per saga")
    ap.add_argument("--pg-wal-bytes", type=float, default=20372.0, help="PostgreSQL WAL bytes per saga")
    ap.add_argument("--msgs", type=float, default=12.0, help="messages published per saga (NATS counts each twice in: publish and ack)")
    ap.add_argument("--cores", type=int, default=16, help="cores per node")
    ap.add_argument("--utilization", type=float, default=0.6, help="planned share of a node's cores")
    ap.add_argument("--wal-mb-s", type=float, default=150.0, help="sustained WAL MB/s one PostgreSQL shard may write")
    ap.add_argument("--nats-msgs-s", type=float, default=150000.0, help="persisted messages/s one JetStream partition takes")
    a = ap.parse_args()
    rates = a.rate or [1000.0, 10000.0, 100000.0]
    print("per saga: oms %.0f µs, PostgreSQL %.0f µs, NATS %.0f µs CPU; %.0f WAL bytes; %.0f messages" % (
        a.oms_cpu_us, a.pg_cpu_us, a.nats_cpu_us, a.pg_wal_bytes, a.msgs))
    print("nodes of %d cores planned at %.0f %%\n" % (a.cores, 100 * a.utilization))
    print("| sagas/s | oms cores → nodes | PostgreSQL cores, WAL MB/s → shards | NATS msgs/s, cores → partitions |")
    print("|---:|---|---|---|")
    for r in rates:
        p = plan(r, a)
        print("| %.0f | %.1f → %d | %.1f, %.1f → %d | %.0f, %.1f → %d |" % (
            p["rate"], p["oms_cores"], p["oms_nodes"], p["pg_cores"], p["wal_mb_s"], p["pg_shards"],
            p["msgs_s"], p["nats_cores"], p["nats_partitions"]))


if __name__ == "__main__":
    main()
