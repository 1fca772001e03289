"""Two builds of brinery (and ``pickle``) dumping the same objects in one process,
taking turns in a random order each round: for a change whose effect is smaller than
the 2x a memory-bound dump moves by from one process to the next with where its pages
fall, this compares the builds on the very same pages.

Each build is a directory holding a ``brinery`` package with its compiled module, e.g.
a copy of ``bindings-python/python/brinery`` after ``maturin develop --release`` of each
commit. Build both the same way: a ``cargo build`` of the same commit (its
``lib_brinery.so`` renamed ``_brinery.cpython-3XY-...so``) ran 3% more instructions
here than maturin's. Run from the repo root::

    .venv/bin/python bindings-python/benches/ab_builds.py OLD_DIR NEW_DIR \\
        [--cases 256x10,512x15,1024x20] [--rounds 40] [--processes 3]

A case ``SxM`` is M MB of S-byte ``bytes`` objects in a list. Prints, per process and
case, each library's median time and the ratios to the first build.

``--small`` compares the fixed cost of a call instead (``None``, 1 / 10 / 100 small
dicts, best of 40 rounds of 300-2,000 calls), and ``--graphs`` memo-heavy graphs
(a million ``(int, float, str)`` tuples, 200,000 records, a million strs, 200,000
lists each met twice; best of 12 dumps): the figures of the memo table's rewrite.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

CHILD = r"""
import pickle, random, resource, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import brinery_a, brinery_b
size, mb, rounds = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
obj = [bytes([i % 251]) * size for i in range(mb * 1024000 // size)]
libs = {"a": brinery_a.dumps, "b": brinery_b.dumps, "pickle": pickle.dumps}
assert libs["a"](obj, 5) == libs["b"](obj, 5) == pickle.dumps(obj, 5)
times = {k: [] for k in libs}
faults = {k: 0 for k in libs}
for r in range(rounds + 3):
    for k in random.sample(list(libs), len(libs)):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.thread_time()
        libs[k](obj, 5)
        t = time.thread_time() - t0
        faults[k] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        if r >= 3:
            times[k].append(t)
med = {k: statistics.median(v) for k, v in times.items()}
print(f"{size:5}B {mb:3}MB  " + "  ".join(
    f"{k} {med[k] * 1e3:7.3f}ms ({faults[k] // (rounds + 3)} faults)" for k in libs)
    + f"   b/a {med['b'] / med['a']:.2f}  pickle/a {med['pickle'] / med['a']:.2f}")
"""


SMALL_CHILD = r"""
import gc, pickle, random, sys, time
sys.path.insert(0, sys.argv[1])
import brinery_a, brinery_b
d = {"name": "item", "id": 1, "score": 0.5, "tags": ["a", "b", 1], "ok": True}
cases = [("None", None), ("1 dict", d)] + [(f"{n} dicts", [dict(d, id=i) for i in range(n)]) for n in (10, 100)]
libs = {"a": brinery_a.dumps, "b": brinery_b.dumps, "pickle": pickle.dumps}
gc.disable()
for label, obj in cases:
    assert libs["a"](obj, 5) == libs["b"](obj, 5) == pickle.dumps(obj, 5)
    n = 300 if label == "100 dicts" else 2000
    times = {k: [] for k in libs}
    for r in range(40):
        for k in random.sample(list(libs), 3):
            f = libs[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f(obj, 5)
            times[k].append((time.perf_counter() - t0) / n)
    m = {k: min(v) for k, v in times.items()}
    print(f"{label:10} " + "  ".join(f"{k} {m[k] * 1e6:7.3f}us" for k in libs)
          + f"   b/a {m['b'] / m['a']:.3f}  a/pickle {m['a'] / m['pickle']:.3f}  b/pickle {m['b'] / m['pickle']:.3f}")
"""

GRAPH_CHILD = r"""
import gc, pickle, random, sys, time
sys.path.insert(0, sys.argv[1])
import brinery_a, brinery_b
kind = sys.argv[2]
if kind == "tuples":
    obj = [(i, float(i), str(i)) for i in range(1_000_000)]
elif kind == "records":
    obj = [{"name": "item", "id": i, "score": 0.5, "tags": ["a", "b", i], "ok": True} for i in range(200_000)]
elif kind == "strs":
    obj = [str(i) * 3 for i in range(1_000_000)]
else:
    base = [[i] for i in range(200_000)]
    obj = base + base[::-1]
libs = {"a": brinery_a.dumps, "b": brinery_b.dumps, "pickle": pickle.dumps}
assert libs["a"](obj, 5) == libs["b"](obj, 5) == pickle.dumps(obj, 5)
gc.disable()
times = {k: [] for k in libs}
for r in range(12):
    for k in random.sample(list(libs), 3):
        t0 = time.perf_counter()
        libs[k](obj, 5)
        times[k].append(time.perf_counter() - t0)
m = {k: min(v) for k, v in times.items()}
print(f"{kind:8} " + "  ".join(f"{k} {m[k] * 1e3:7.2f}ms" for k in libs)
      + f"   b/a {m['b'] / m['a']:.3f}  a/pickle {m['a'] / m['pickle']:.3f}  b/pickle {m['b'] / m['pickle']:.3f}")
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--cases", default="256x10,512x15,1024x20")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--small", action="store_true", help="the fixed cost of a call")
    ap.add_argument("--graphs", action="store_true", help="memo-heavy graphs")
    args = ap.parse_args()
    cases = [tuple(int(x) for x in c.split("x")) for c in args.cases.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in (("brinery_a", args.a), ("brinery_b", args.b)):
            shutil.copytree(os.path.join(src, "brinery"), os.path.join(tmp, name))
        for _ in range(args.processes):
            if args.small:
                subprocess.run([sys.executable, "-c", SMALL_CHILD, tmp], check=True, cwd=tmp)
                continue
            if args.graphs:
                for kind in ("tuples", "records", "strs", "shared"):
                    subprocess.run([sys.executable, "-c", GRAPH_CHILD, tmp, kind], check=True, cwd=tmp)
                continue
            for size, mb in cases:
                subprocess.run([sys.executable, "-c", CHILD, tmp, str(size), str(mb), str(args.rounds)],
                               check=True, cwd=tmp)


if __name__ == "__main__":
    main()
