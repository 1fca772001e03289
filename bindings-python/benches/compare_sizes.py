"""brinery against pickle where sizes, not kinds, of data differ: an output-size sweep,
small objects (the fixed cost of one call) and the peak memory of a big graph.

Run from the repo root: ``.venv/bin/python bindings-python/benches/compare_sizes.py``.
Times are the best thread CPU time of interleaved rounds (brinery, then pickle, in each
round), so a busy machine slows both alike; ratio = brinery / pickle. With
BRINERY_BENCH_QUICK set the sweep stops at 32 MB and the 5-million-tuple memory case,
which takes a separate process per library, is skipped.
"""

import os
import pickle
import resource
import subprocess
import sys
import time

import brinery

PROTO = 5
QUICK = bool(os.environ.get("BRINERY_BENCH_QUICK"))


def best_interleaved(fns, rounds, number):
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.thread_time()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.thread_time() - t0) / number)
    return best


def pair(obj):
    return {
        "brinery": lambda: brinery.dumps(obj, PROTO),
        "pickle": lambda: pickle.dumps(obj, PROTO),
    }


def row(label, t, unit=1e3, suffix="ms"):
    b, p = t["brinery"], t["pickle"]
    print(f"  {label:<26}{b * unit:>10.3f}{suffix}{p * unit:>10.3f}{suffix}{b / p:>8.2f}x")


def size_sweep():
    print("\nOutput size: n payloads of 1 KiB (inside frames) / of 1 MiB (left out of the buffer)")
    print(f"  {'output':<26}{'brinery':>12}{'pickle':>12}{'ratio':>9}")
    sizes_mb = [1, 4, 10, 15, 20, 32] if QUICK else [1, 4, 10, 15, 20, 32, 64, 128, 200]
    for mb in sizes_mb:
        obj = [bytes([i % 251]) * 1024 for i in range(mb * 1000)]
        rounds = 5 if mb <= 32 else 3
        row(f"{mb} MB of 1 KiB bytes", best_interleaved(pair(obj), rounds, 1))
    obj = [bytes([i % 251]) * 4096 for i in range(2_000)] + [bytes([i]) * (1 << 20) for i in range(40)]
    t = best_interleaved(pair(obj), 5, 1)
    join = [bytes(x) for x in obj]
    t1 = best_interleaved({"join": lambda: b"".join(join)}, 5, 1)["join"]
    row("payloads (compare.py)", t)
    label = '  one copy (b"".join)'
    print(f"  {label:<26}{t1 * 1e3:>10.3f}ms{'':>12}{t['brinery'] / t1:>8.2f}x of the limit")


def small_objects():
    print("\nSmall objects (per call)")
    print(f"  {'object':<26}{'brinery':>12}{'pickle':>12}{'ratio':>9}")
    d = {"name": "item", "id": 1, "score": 0.5, "tags": ["a", "b", 1], "ok": True}
    cases = [("None", None), ("1 dict", d)] + [
        (f"{n} dicts", [dict(d, id=i) for i in range(n)]) for n in (10, 100)
    ]
    for label, obj in cases:
        t = best_interleaved(pair(obj), 7 if QUICK else 15, 2000)
        row(label, t, 1e6, "us")


CHILD = """
import pickle, resource, sys, brinery
objs = [(i, float(i), str(i)) for i in range(5_000_000)]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = (brinery.dumps if sys.argv[1] == "brinery" else pickle.dumps)(objs, 5)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024, len(out) / 2**20)
"""


def peak_memory():
    print("\nPeak RSS of one dumps() of 5 million (int, float, str) tuples (growth over the data)")
    res = {}
    for lib in ("brinery", "pickle"):
        out = subprocess.run([sys.executable, "-c", CHILD, lib], check=True, capture_output=True, text=True)
        grow, size = map(float, out.stdout.split())
        res[lib] = grow
        print(f"  {lib:<10}+{grow:>7.0f} MiB  (output {size:.0f} MiB)")
    print(f"  ratio {res['brinery'] / res['pickle']:.2f}x")


def main():
    print(f"Python {sys.version.split()[0]}, protocol {PROTO}; ratio = brinery / pickle")
    small_objects()
    size_sweep()
    if not QUICK:
        peak_memory()


if __name__ == "__main__":
    main()
