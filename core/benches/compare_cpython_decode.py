#!/usr/bin/env python3
"""Decoding throughput of brinery-core's decoder against CPython's pickle.loads.

Run from the repository root:

    python3 core/benches/compare_cpython_decode.py

It builds core/benches/decode.rs in release mode and runs it with BRINERY_DECODE_REPORT,
which writes its three protocol 4 streams and times brinery's decode on them; this script
builds the same data in Python, checks that pickle.dumps gives exactly those bytes and
that pickle.loads of them gives back the data, times pickle.loads on those very bytes the
same way (best of repeats for about a second), and prints MB/s of input for both and
their ratio.
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


def string_heavy():
    return [("%05d " % i) + "lorem ipsum dolor sit amet, " * (i % 16 + 1)
            + ("caf\u00e9 \u00fcn\u00efc\u00f6d\u00e9 \u2603" if i % 4 == 0 else "")
            for i in range(20000)]


def structure_heavy():
    return [{"id": i, "name": f"user{i}", "score": i * 1.5, "tags": ["a", "b"]}
            for i in range(10000)]


def int_heavy():
    return [i % 256 if i % 3 == 0 else (i * 7919) % 65536 if i % 3 == 1
            else (i * 2654435761) % (1 << 32) - (1 << 31) for i in range(1000000)]


def best_time(data):
    best = float("inf")
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:
        t = time.perf_counter()
        pickle.loads(data)
        best = min(best, time.perf_counter() - t)
    return best


def main():
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, BRINERY_DECODE_REPORT=out)
        run = subprocess.run(
            ["cargo", "bench", "-q", "-p", "brinery-core", "--bench", "decode"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True)
        ours = json.loads(run.stdout.strip().splitlines()[-1])
        print("%-16s %10s %12s %12s %8s" % ("workload", "bytes", "brinery MB/s",
                                            "CPython MB/s", "ratio"))
        for name, build in (("string_heavy", string_heavy),
                            ("structure_heavy", structure_heavy),
                            ("int_heavy", int_heavy)):
            obj = build()
            with open(os.path.join(out, "decode_%s.pickle" % name), "rb") as f:
                data = f.read()
            if data != pickle.dumps(obj, protocol=PROTOCOL):
                sys.exit("%s: brinery's stream differs from pickle.dumps" % name)
            if pickle.loads(data) != obj:
                sys.exit("%s: pickle.loads does not give the data back" % name)
            cpython = len(data) / best_time(data) / 1e6
            brinery = ours[name]["bytes"] / ours[name]["seconds"] / 1e6
            print("%-16s %10d %12.0f %12.0f %7.2fx" % (name, len(data), brinery, cpython,
                                                       brinery / cpython))


if __name__ == "__main__":
    main()
