"""brinery.Pool against multiprocessing.Pool, ProcessPoolExecutor and loky, in one run.

    python bindings-python/benches/pool_compare.py [--tasks 20000] [--repeat 3]

Measures (best of --repeat): throughput of no-op tasks with chunksize 1 on 2 workers
(pools started and warmed first), pool start to first result (fork and spawn), and the
effective throughput of a 100 MB NumPy array argument. Prints ratios against the peers.
Throughput and array rounds are interleaved (each pool takes a turn in every round), so
the ratios hold up on a machine whose load changes during the run.
"""

import argparse
import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import time


def noop(x):
    return x


def nbytes(a):
    return a.nbytes


def interleaved(contenders, repeat):
    """Best time of each ``name -> once()`` over ``repeat`` rounds, the contenders taking
    turns within each round, so a change in machine load hits them all alike."""
    times = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, once in contenders.items():
            times[name].append(once())
    return {name: min(ts) for name, ts in times.items()}


def best(fn, repeat):
    return min(fn() for _ in range(repeat))


def throughput(args):
    import brinery

    n = args.tasks
    with contextlib.ExitStack() as stack:
        runs = {}
        for method in ("fork", "spawn"):
            p = stack.enter_context(brinery.Pool(2, start_method=method))
            list(p.map(noop, range(200)))
            runs[f"brinery.Pool ({method})"] = lambda p=p: _timed(lambda: _drain(p.map(noop, range(n))))
        p = stack.enter_context(mp.Pool(2))
        p.map(noop, range(200))
        runs["multiprocessing.Pool"] = lambda: _timed(lambda: p.map(noop, range(n), chunksize=1))
        ex = stack.enter_context(cf.ProcessPoolExecutor(2))
        list(ex.map(noop, range(200)))
        runs["ProcessPoolExecutor"] = lambda: _timed(lambda: _drain(ex.map(noop, range(n))))
        try:
            import loky
        except ImportError:
            loky = None
        if loky is not None:
            lex = loky.ProcessPoolExecutor(2)
            stack.callback(lex.shutdown)
            list(lex.map(noop, range(200)))
            runs["loky"] = lambda: _timed(lambda: _drain(lex.map(noop, range(n))))
        rows = interleaved(runs, args.repeat)
    print(f"\n{n} no-op tasks, chunksize 1, 2 workers (best of {args.repeat}, interleaved):")
    base = rows["brinery.Pool (fork)"]
    for name, dt in rows.items():
        print(f"  {name:24} {n / dt:10,.0f} tasks/s   brinery(fork) is {dt / base:5.2f}x")


def _drain(it):
    for _ in it:
        pass


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def startup(args):
    import brinery

    rows = {}
    for method in ("fork", "spawn"):

        def once():
            t = time.perf_counter()
            with brinery.Pool(2, start_method=method) as p:
                p.submit(noop, 1).result()
                dt = time.perf_counter() - t
            return dt

        rows[f"brinery.Pool ({method})"] = best(once, args.repeat)

        def mp_once():
            t = time.perf_counter()
            with mp.get_context(method).Pool(2) as p:
                p.apply(noop, (1,))
                dt = time.perf_counter() - t
            return dt

        rows[f"multiprocessing.Pool ({method})"] = best(mp_once, args.repeat)
    print(f"\npool start to first result, 2 workers (best of {args.repeat}):")
    for name, dt in rows.items():
        print(f"  {name:32} {dt * 1000:8.1f} ms")


def big_array(args):
    try:
        import numpy as np
    except ImportError:
        print("\nnumpy not installed: array benchmark skipped")
        return
    import brinery

    a = np.ones(100 * 1024 * 1024 // 8)
    mb = a.nbytes / 1e6
    with brinery.Pool(1) as bp, mp.Pool(1) as mpp, cf.ProcessPoolExecutor(1) as ex:
        bp.submit(nbytes, a[:10]).result()
        mpp.apply(nbytes, (a[:10],))
        ex.submit(nbytes, a[:10]).result()
        rows = interleaved(
            {
                "brinery.Pool": lambda: _timed(lambda: bp.submit(nbytes, a).result()),
                "multiprocessing.Pool": lambda: _timed(lambda: mpp.apply(nbytes, (a,))),
                "ProcessPoolExecutor": lambda: _timed(lambda: ex.submit(nbytes, a).result()),
            },
            args.repeat,
        )
    print(f"\na {mb:.0f} MB NumPy array as an argument (best of {args.repeat}, interleaved):")
    base = rows["brinery.Pool"]
    for name, dt in rows.items():
        print(f"  {name:24} {mb / dt:10,.0f} MB/s   brinery is {dt / base:5.2f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    throughput(args)
    startup(args)
    big_array(args)


if __name__ == "__main__":
    main()
