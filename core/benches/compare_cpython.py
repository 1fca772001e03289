#!/usr/bin/env python3
"""Encoding throughput of brinery-core's tree encoder against CPython's pickle.dumps.

Run from the repository root:

    python3 core/benches/compare_cpython.py

It builds core/benches/encode.rs in release mode and runs it with BRINERY_ENCODE_REPORT,
which times brinery on two workloads and writes its streams; this script builds the same
data in Python, checks that pickle.dumps writes exactly the same bytes (so both sides do
the same work), times pickle.dumps the same way (best of repeats for about a second), and
prints MB/s of output for both and their ratio.
"""

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time

PROTOCOL = 4
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def data_heavy():
    return [("s%04d" % i) * 6554 for i in range(64)] + [bytes([i]) * 32768 for i in range(64)]


def structure_heavy():
    return [{"id": i, "name": f"user{i}", "score": i * 1.5, "tags": ["a", "b"]}
            for i in range(10000)]


def best_time(obj):
    best = float("inf")
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:
        t = time.perf_counter()
        pickle.dumps(obj, protocol=PROTOCOL)
        best = min(best, time.perf_counter() - t)
    return best


def main():
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, BRINERY_ENCODE_REPORT=out)
        run = subprocess.run(
            ["cargo", "bench", "-q", "-p", "brinery-core", "--bench", "encode"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True)
        ours = json.loads(run.stdout.strip().splitlines()[-1])
        print("%-16s %10s %12s %12s %8s" % ("workload", "bytes", "brinery MB/s",
                                            "CPython MB/s", "ratio"))
        for name, build in (("data_heavy", data_heavy), ("structure_heavy", structure_heavy)):
            obj = build()
            expected = pickle.dumps(obj, protocol=PROTOCOL)
            with open(os.path.join(out, name + ".pickle"), "rb") as f:
                if f.read() != expected:
                    sys.exit("%s: brinery's stream differs from pickle.dumps" % name)
            size = len(expected)
            cpython = size / best_time(obj) / 1e6
            brinery = ours[name]["bytes"] / ours[name]["seconds"] / 1e6
            print("%-16s %10d %12.0f %12.0f %7.2fx" % (name, size, brinery, cpython,
                                                       brinery / cpython))


if __name__ == "__main__":
    main()
