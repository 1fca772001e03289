"""brinery against pickle, cloudpickle and dill, measured side by side in one run.

Run from the repo root: ``.venv/bin/python bindings-python/benches/compare.py``. Prints
one table per case: best-of-N time per dump, ratio to the reference (pickle for plain
data and dataclass instances, cloudpickle for closures), stream size, and the time
``pickle.loads`` takes on each library's stream; then ``dump()`` to a ``BytesIO`` and
to a file on disk against ``pickle.dump``.
"""

import dataclasses
import io
import os
import pickle
import sys
import tempfile
import time

import cloudpickle
import dill

import brinery

PROTO = 5
# `cargo xtask demo` and `cargo xtask bench --quick` set BRINERY_BENCH_QUICK: fewer rounds.
ROUNDS = 5 if os.environ.get("BRINERY_BENCH_QUICK") else 15


def best(fn, repeat=15, number=2):
    """Best CPU time of one call (thread CPU time, so other processes on a busy machine
    do not count)."""
    times = []
    for _ in range(repeat):
        t0 = time.thread_time()
        for _ in range(number):
            fn()
        times.append((time.thread_time() - t0) / number)
    return min(times)


def plain_data():
    return [
        {"name": f"item{i}", "id": i, "score": i * 0.5, "tags": ["a", "b", i], "ok": i % 2 == 0}
        for i in range(10_000)
    ]


def make_closure(i):
    offset = i * 2

    def closure(x):
        return x + offset + i

    return closure


@dataclasses.dataclass
class Record:
    name: str
    id: int
    score: float


def closures():
    return [make_closure(i) for i in range(1_000)]


def records():
    return [Record(f"r{i}", i, i * 0.25) for i in range(10_000)]


def payloads():
    # Payloads big enough to be spliced into the output rather than copied twice.
    return [bytes([i % 251]) * 4096 for i in range(2_000)] + [
        bytes([i]) * (1 << 20) for i in range(40)
    ]


LOADERS = {"dill": dill.loads}

DUMPERS = {
    "brinery": lambda o: brinery.dumps(o, PROTO),
    # Each by-value code object carries its source too (loads on other minor versions).
    "brinery-xv": lambda o: brinery.dumps(o, PROTO, cross_version=True),
    "pickle": lambda o: pickle.dumps(o, PROTO),
    "cloudpickle": lambda o: cloudpickle.dumps(o, PROTO),
    "dill": lambda o: dill.dumps(o, PROTO),
}


def run_case(title, obj, reference, libs, repeat=ROUNDS):
    print(f"\n{title}")
    print(f"  {'library':<12}{'dumps':>12}{'ratio':>9}{'size':>11}{'loads':>12}")
    streams = {}
    for lib in libs:
        try:
            streams[lib] = DUMPERS[lib](obj)
        except Exception as e:  # stock pickle cannot store __main__ closures by value
            print(f"  {lib:<12}{'n/a (' + type(e).__name__ + ')':>12}")
    # Libraries take turns within each round, so a busy machine slows all of them alike.
    dump_t = {lib: float("inf") for lib in streams}
    load_t = {lib: float("inf") for lib in streams}
    # dill last: loading its stream of a __main__ class rewrites that class in place.
    order = [lib for lib in streams if lib != "dill"] + [lib for lib in streams if lib == "dill"]
    for lib in order:
        if lib == "dill":
            break
        for _ in range(repeat):
            for other in order:
                if other == "dill":
                    continue
                dump = DUMPERS[other]
                dump_t[other] = min(dump_t[other], best(lambda: dump(obj), repeat=1, number=1))
        break
    if "dill" in streams:
        dump_t["dill"] = best(lambda: dill.dumps(obj, PROTO), repeat=3, number=1)
    # Loads after all dumps: cloudpickle and dill update a __main__ class in place when
    # their stream of it is loaded in the process that made it.
    for _ in range(repeat):
        for lib in order:
            if lib == "dill" and _ >= 3:
                continue
            load, data = LOADERS.get(lib, pickle.loads), streams[lib]
            load_t[lib] = min(load_t[lib], best(lambda: load(data), repeat=1, number=1))
    rows = {lib: (dump_t[lib], len(streams[lib]), load_t[lib]) for lib in streams}
    ref = rows[reference][0]
    for lib, row in rows.items():
        if row is None:
            continue
        t, size, lt = row
        print(f"  {lib:<12}{t * 1e3:>10.2f}ms{t / ref:>8.2f}x{size:>11,}{lt * 1e3:>10.2f}ms")
    return rows


def run_dump_case(title, obj, path, repeat=ROUNDS):
    """``dump()`` to an in-memory and to an on-disk file, brinery against pickle."""
    print(f"\n{title}")
    print(f"  {'target':<10}{'brinery':>12}{'pickle':>12}{'ratio':>9}")

    def to_bytesio(mod):
        mod.dump(obj, io.BytesIO(), PROTO)

    def to_file(mod):
        with open(path, "wb") as f:
            mod.dump(obj, f, PROTO)

    for name, target in (("BytesIO", to_bytesio), ("file", to_file)):
        t = {brinery: float("inf"), pickle: float("inf")}
        for _ in range(repeat):
            for mod in t:
                t[mod] = min(t[mod], best(lambda: target(mod), repeat=1, number=1))
        b, p = t[brinery], t[pickle]
        print(f"  {name:<10}{b * 1e3:>10.2f}ms{p * 1e3:>10.2f}ms{b / p:>8.2f}x")


def main():
    print(f"Python {sys.version.split()[0]}, protocol {PROTO}; best CPU time of {ROUNDS} interleaved rounds (dill: 3); loads = pickle.loads (dill.loads for dill); ratio = dumps time / {{reference}}")
    run_case("10,000 dicts of str/int/float/list/bool (reference: pickle)", plain_data(), "pickle",
             ["brinery", "pickle", "cloudpickle", "dill"])
    run_case("1,000 distinct __main__ closures (reference: cloudpickle; brinery-xv: cross_version=True)",
             closures(), "cloudpickle", ["brinery", "brinery-xv", "cloudpickle", "dill"])
    run_case("10,000 instances of a __main__ dataclass (reference: pickle; pickle stores the class by name)",
             records(), "pickle", ["brinery", "pickle", "cloudpickle", "dill"])
    run_case("2,000 bytes of 4 KiB and 40 of 1 MiB (reference: pickle)", payloads(), "pickle",
             ["brinery", "pickle", "cloudpickle"])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.pkl")
        run_dump_case("dump() of the 10,000 dicts (ratio: brinery / pickle)", plain_data(), path)
        run_dump_case("dump() of the payloads (ratio: brinery / pickle)", payloads(), path)


if __name__ == "__main__":
    main()
