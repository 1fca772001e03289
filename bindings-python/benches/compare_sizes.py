"""brinery against pickle where sizes, not kinds, of data differ: an output-size sweep,
small objects (the fixed cost of one call) and the peak memory of a big graph.

Run from the repo root: ``.venv/bin/python bindings-python/benches/compare_sizes.py``.
Times are the best thread CPU time of interleaved rounds (brinery, then pickle, in each
round), so a busy machine slows both alike; ratio = brinery / pickle. With
BRINERY_BENCH_QUICK set the sweep stops at 64 MB (else 1 GB) and the 5-million-tuple
memory case, which takes a separate process per library, is skipped. ``cargo xtask bench``
runs it on every supported CPython.
"""

import os
import pickle
import random
import resource
import statistics
import subprocess
import sys
import time

import brinery

PROTO = 5
QUICK = bool(os.environ.get("BRINERY_BENCH_QUICK"))


def best_interleaved(fns, rounds, number):
    # A fresh random order each round: which library runs first in a round moved small
    # timings by a few percent on this VM.
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in random.sample(list(fns.items()), len(fns)):
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


SWEEP_CHILD = """
import pickle, sys, time, brinery
mb, lib, rounds, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
obj = [bytes([i % 251]) * size for i in range(mb * 1024000 // size)]
dumps = brinery.dumps if lib == "brinery" else pickle.dumps
best = float("inf")
for _ in range(rounds):
    t0 = time.thread_time()
    dumps(obj, 5)
    best = min(best, time.thread_time() - t0)
print(best)
"""


def isolated(mb, rounds, size=1024, processes=2):
    """Each library in processes of its own, taking turns: above a few MB the time is
    mostly page faults, and how many there are depends on what else the process's
    allocator has seen (dumping with both libraries in one process measures their
    interplay, not either one). Where neither faults (the output lands on memory the
    process already has), the time is the copy's, bound by memory bandwidth, and moves
    by up to 2x from one process to the next with where its pages happen to be: the
    best of each process's rounds, and the median of those bests over the processes."""
    best = {"brinery": [], "pickle": []}
    for _ in range(processes):
        for lib in best:
            out = subprocess.run([sys.executable, "-c", SWEEP_CHILD, str(mb), lib, str(rounds), str(size)],
                                 check=True, capture_output=True, text=True)
            best[lib].append(float(out.stdout))
    return {lib: min(ts) for lib, ts in best.items()}, {lib: statistics.median(ts) for lib, ts in best.items()}


def isolated_row(label, mb, rounds, size=1024, processes=2):
    t, median = isolated(mb, rounds, size, processes)
    ratio = median["brinery"] / median["pickle"]
    print(f"  {label:<26}{t['brinery'] * 1e3:>10.3f}ms{t['pickle'] * 1e3:>10.3f}ms"
          f"{t['brinery'] / t['pickle']:>8.2f}x  (median of {processes} processes each: {ratio:.2f}x)")


def size_sweep():
    print("\nOutput size: 1 KiB, then 256- and 512-byte bytes objects, each library in its own processes;")
    print("then 4 KiB and 1 MiB ones (spliced), interleaved in this process")
    print(f"  {'output':<26}{'brinery':>12}{'pickle':>12}{'ratio':>9}")
    sizes_mb = [1, 4, 10, 20, 32, 64] if QUICK else [1, 2, 4, 8, 10, 15, 20, 24, 28, 32, 48, 64, 128, 256, 512, 1000]
    for mb in sizes_mb:
        rounds = 5 if mb <= 64 else 3
        isolated_row(f"{mb} MB of 1 KiB bytes", mb, rounds)
    # Payloads of a few hundred bytes, around the sizes where pickle's buffer happens to
    # reuse memory already faulted in (issue 26 item 2).
    for size in (256, 512):
        for mb in [10, 20, 32] if QUICK else [4, 8, 10, 12, 15, 20, 32]:
            isolated_row(f"{mb} MB of {size} B bytes", mb, 5, size, processes=4)
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
