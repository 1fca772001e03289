"""The pool's native codec of plain chunks against stock pickle, ns a value.

    python bindings-python/benches/chunk_codec.py [--repeat 10]

A ``map`` whose chunks hold only plain scalars skips the pickler: the parent writes each
chunk straight from the caller's list (``chunk_pickles``, through the core's
``Encoder``) and reads the worker's reply of plain values natively
(``plain_results``/``place_results``, through ``brinery_core::decode::flat``). This
times both on 200,000 ints, floats and strs in chunks of 1,000, beside stock
``pickle.dumps`` of the same ``(kind, fn, chunk)`` tuples and ``pickle.loads`` of the
same replies; best of ``--repeat`` rounds, the four taking turns in each round.
"""

import argparse
import pickle
import time

from brinery._brinery import chunk_pickles, plain_results
from brinery.pool._codec import lead_opcodes

N, SIZE = 200_000, 1000


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    lead, ok = lead_opcodes(1, abs), lead_opcodes(True)
    print(f"plain chunks of {SIZE:,}, ns a value (best of {args.repeat}, interleaved):")
    print(f"  {'values':8} {'write':>8} {'pickle.dumps':>13} {'ratio':>7}   {'read':>8} {'pickle.loads':>13} {'ratio':>7}")
    cases = {
        "ints": list(range(N)),
        "floats": [i * 0.5 for i in range(N)],
        "strs": [str(i) for i in range(N)],
    }
    for name, items in cases.items():
        starts = range(0, N, SIZE)
        replies = chunk_pickles(items, starts, SIZE, ok, False, 2)
        stock_replies = [pickle.dumps((True, items[i : i + SIZE]), 5) for i in starts]
        runs = {
            "write": lambda: chunk_pickles(items, starts, SIZE, lead, False, 3),
            "dumps": lambda: [pickle.dumps((1, abs, items[i : i + SIZE]), 5) for i in starts],
            "read": lambda: [plain_results(r) for r in replies],
            "loads": lambda: [pickle.loads(r) for r in stock_replies],
        }
        best = {k: float("inf") for k in runs}
        for _ in range(args.repeat):
            for k, fn in runs.items():
                best[k] = min(best[k], timed(fn))
        ns = {k: v / N * 1e9 for k, v in best.items()}
        print(f"  {name:8} {ns['write']:8.1f} {ns['dumps']:13.1f} {ns['write'] / ns['dumps']:6.2f}x"
              f"   {ns['read']:8.1f} {ns['loads']:13.1f} {ns['read'] / ns['loads']:6.2f}x")


if __name__ == "__main__":
    main()
