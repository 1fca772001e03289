#!/usr/bin/env python3
"""Throughput of brinery-core against CPython's own pickler, on the same streams.

Run from the repository root:

    python3 core/benches/compare_cpython.py            # encode and decode
    python3 core/benches/compare_cpython.py encode     # encode_tree vs pickle.dumps
    python3 core/benches/compare_cpython.py decode     # decode to the value tree vs pickle.loads

Each direction builds its divan bench (core/benches/encode.rs, decode.rs) in release mode
and runs it with BRINERY_{ENCODE,DECODE}_REPORT=<dir>: the bench writes its protocol 4
streams there and prints how long brinery took on each. This script builds the same
data in Python and checks that pickle.dumps writes exactly those bytes (and, decoding,
that pickle.loads gives the data back), so both sides do the same work; it then times
CPython the same way (best of repeats for about a second) and prints MB/s for both and
their ratio (MB of output for encoding, of input for decoding).
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


# direction: (bench, report variable, stream file prefix, workloads, what CPython runs)
DIRECTIONS = {
    "encode": ("encode", "BRINERY_ENCODE_REPORT", "",
               (("data_heavy", data_heavy), ("structure_heavy", structure_heavy)),
               lambda obj, data: pickle.dumps(obj, protocol=PROTOCOL)),
    "decode": ("decode", "BRINERY_DECODE_REPORT", "decode_",
               (("string_heavy", string_heavy), ("structure_heavy", structure_heavy),
                ("int_heavy", int_heavy)),
               lambda obj, data: pickle.loads(data)),
}


def best_time(fn):
    best = float("inf")
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def compare(direction):
    bench, variable, prefix, workloads, cpython_run = DIRECTIONS[direction]
    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run(
            ["cargo", "bench", "-q", "-p", "brinery-core", "--bench", bench],
            cwd=ROOT, env=dict(os.environ, **{variable: out}), check=True,
            stdout=subprocess.PIPE, text=True)
        ours = json.loads(run.stdout.strip().splitlines()[-1])
        print("%-6s %-16s %10s %12s %12s %8s" % (direction, "workload", "bytes",
                                                 "brinery MB/s", "CPython MB/s", "ratio"))
        for name, build in workloads:
            obj = build()
            with open(os.path.join(out, prefix + name + ".pickle"), "rb") as f:
                data = f.read()
            if data != pickle.dumps(obj, protocol=PROTOCOL):
                sys.exit("%s: brinery's stream differs from pickle.dumps" % name)
            if direction == "decode" and pickle.loads(data) != obj:
                sys.exit("%s: pickle.loads does not give the data back" % name)
            cpython = len(data) / best_time(lambda: cpython_run(obj, data)) / 1e6
            brinery = ours[name]["bytes"] / ours[name]["seconds"] / 1e6
            print("%-6s %-16s %10d %12.0f %12.0f %7.2fx" % (direction, name, len(data), brinery,
                                                             cpython, brinery / cpython))


def main():
    wanted = sys.argv[1:] or list(DIRECTIONS)
    unknown = [w for w in wanted if w not in DIRECTIONS]
    if unknown:
        sys.exit("usage: compare_cpython.py [encode] [decode]")
    for direction in wanted:
        compare(direction)


if __name__ == "__main__":
    main()
