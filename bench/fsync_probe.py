#!/usr/bin/env python3
"""How long this disk takes to make a small write durable (fdatasync), the floor under every
request that --durability full answers only after its commit is on disk.

    python3 bench/fsync_probe.py [--dir DIR] [--count N]

Writes 4 KiB and fdatasyncs it N times in a temp file under DIR (default: the system temp dir,
use the data dir's file system to be exact) and prints p50/p90/p99/max in milliseconds."""
import argparse
import json
import os
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=None)
    ap.add_argument("--count", type=int, default=500)
    args = ap.parse_args()
    fd, path = tempfile.mkstemp(dir=args.dir, prefix="fsync-probe.")
    try:
        block = b"x" * 4096
        times = []
        for _ in range(args.count):
            os.write(fd, block)
            t = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        pick = lambda q: round(times[min(len(times) - 1, int(q * len(times)))], 3)
        print(json.dumps({"bench": "fsync", "count": args.count, "p50_ms": pick(0.5),
                          "p90_ms": pick(0.9), "p99_ms": pick(0.99), "max_ms": round(times[-1], 3)}))
    finally:
        os.close(fd)
        os.unlink(path)


if __name__ == "__main__":
    main()
