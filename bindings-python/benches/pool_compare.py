"""brinery.Pool against multiprocessing.Pool, ProcessPoolExecutor and loky, in one run.

    python bindings-python/benches/pool_compare.py [--tasks 20000] [--repeat 3] [--soak 20]

Measures (best of --repeat): throughput of no-op tasks with chunksize 1 on 2 workers
(pools started and warmed first); the chunksize sweep (1, 10, 100, 1,000) of ``map``,
``imap``, ``imap_unordered``, ``starmap`` and ``map_async`` against
``multiprocessing.Pool`` (``--sweep-tasks``, ``--chunksizes``, ``--methods``); the p50
of one ``submit``→``result`` round trip beside its limit (a pickling socketpair
ping-pong between two Python processes); pool start to first result (fork and spawn)
beside its limit (fork plus one pipe byte); and the
effective throughput of a 100 MB NumPy array argument, and a ``multiprocessing.Queue``
passed to running workers against the same Queue inherited by ``multiprocessing.Process``
children (``--queue-items``, default 100,000; ``--only-queue`` runs only that). Prints
ratios against the peers.
``--only sweep,latency`` runs only the figures named. ``--soak N`` runs only the soak instead: N rounds of one fault plan (normal tasks beside
a task that raises, one that kills its worker, one with 251 large array arguments, one
whose result is 251 arrays) on brinery.Pool, ProcessPoolExecutor and loky, and prints
the tasks lost, the wrong outcomes, the descriptors leaked and parent/worker RSS.
Throughput and array rounds are interleaved (each pool takes a turn in every round), so
the ratios hold up on a machine whose load changes during the run.
"""

import argparse
import concurrent.futures as cf
import contextlib
import functools
import gc
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


def _first_result(make, first):
    """Seconds from making a pool to its first result (the pool is shut down after)."""
    t = time.perf_counter()
    p = make()
    try:
        first(p)
        return time.perf_counter() - t
    finally:
        try:
            p.shutdown(wait=True)
        except AttributeError:  # multiprocessing.Pool
            p.terminate()
            p.join()


def _fork_one_byte():
    """The start-up limit: fork a child that writes one byte to a pipe, and read it."""
    import os

    t = time.perf_counter()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, b"x")
        os._exit(0)
    os.read(r, 1)
    dt = time.perf_counter() - t
    os.close(r)
    os.close(w)
    os.waitpid(pid, 0)
    return dt


def startup(args):
    import brinery

    submit = lambda p: p.submit(noop, 1).result()  # noqa: E731
    runs = {"limit: fork + one pipe byte": _fork_one_byte}
    for method in ("fork", "spawn"):
        ctx = mp.get_context(method)
        runs[f"brinery.Pool ({method})"] = functools.partial(
            _first_result, functools.partial(brinery.Pool, 2, start_method=method), submit
        )
        runs[f"multiprocessing.Pool ({method})"] = functools.partial(
            _first_result, functools.partial(ctx.Pool, 2), lambda p: p.apply(noop, (1,))
        )
        runs[f"ProcessPoolExecutor ({method})"] = functools.partial(
            _first_result, functools.partial(cf.ProcessPoolExecutor, 2, mp_context=ctx), submit
        )
    try:
        import loky

        runs["loky"] = functools.partial(_first_result, functools.partial(loky.ProcessPoolExecutor, 2), submit)
    except ImportError:
        pass
    rows = interleaved(runs, args.repeat)
    print(f"\npool start to first result, 2 workers (best of {args.repeat}, interleaved):")
    for name, dt in rows.items():
        print(f"  {name:32} {dt * 1000:8.2f} ms")


def _pickle_echo(sock):
    import os
    import pickle

    while True:
        msg = sock.recv(65536)
        if not msg:
            os._exit(0)
        sock.sendall(pickle.dumps((True, pickle.loads(msg)[2][0]), 5))


def _pin(cpu):
    """Keeps this process on vCPU ``cpu`` (a worker's initializer for ``--placement``)."""
    import os

    os.sched_setaffinity(0, {cpu})


def latency(args):
    """``round_trips`` once for each ``--placement``."""
    for placement in args.placement.split(","):
        round_trips(args, placement)


def round_trips(args, placement):
    """p50 (and p90) of one ``submit``→``result`` round trip on a warm 1-worker pool, with
    the limit beside it: two Python processes ping-ponging over a socketpair, pickling
    both ways. ``placement`` ``spread`` keeps this process on vCPU 0 and every worker (and
    the ping-pong's child) on vCPU 1, ``one`` all of them on vCPU 0; ``free`` leaves it to
    the scheduler, which on a VM keeps a pair where it first landed."""
    import os
    import pickle
    import socket
    import statistics

    import brinery

    n = args.round_trips
    pin = {}
    if placement == "free":
        os.sched_setaffinity(0, range(os.cpu_count()))
    else:
        _pin(0)
        pin = dict(initializer=_pin, initargs=(1 if placement == "spread" else 0,))

    def trips(one):
        out = []
        for i in range(n):
            t = time.perf_counter()
            one(i)
            out.append(time.perf_counter() - t)
        return out

    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        a.close()
        if pin:
            _pin(*pin["initargs"])
        _pickle_echo(b)
    b.close()

    def ping(i):
        a.sendall(pickle.dumps((0, noop, ((i,), {})), 5))
        pickle.loads(a.recv(65536))

    with contextlib.ExitStack() as stack:
        bp = stack.enter_context(brinery.Pool(1, **pin))
        mpp = stack.enter_context(mp.Pool(1, **pin))
        ex = stack.enter_context(cf.ProcessPoolExecutor(1, **pin))
        runs = {
            "limit: socketpair + pickle": ping,
            "brinery.Pool submit/result": lambda i: bp.submit(noop, i).result(),
            "brinery.Pool apply": lambda i: bp.apply(noop, (i,)),
            "brinery.Pool apply_async/get": lambda i: bp.apply_async(noop, (i,)).get(),
            "multiprocessing.Pool apply": lambda i: mpp.apply(noop, (i,)),
            "ProcessPoolExecutor submit": lambda i: ex.submit(noop, i).result(),
        }
        for one in runs.values():
            trips(one)  # warm
        times = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, one in runs.items():
                times[name].extend(trips(one))
    a.close()
    os.waitpid(pid, 0)
    where = f", placement {placement}"
    print(f"\none round trip of a no-op task, 1 warm worker ({n} x {args.repeat}, interleaved{where}):")
    for name, ts in times.items():
        ts.sort()
        p50, p90 = statistics.median(ts), ts[len(ts) * 9 // 10]
        print(f"  {name:32} p50 {p50 * 1e6:7.1f} µs   p90 {p90 * 1e6:7.1f} µs")


# The methods of the chunksize sweep: how each pool runs ``noop`` over ``xs`` (a list of
# ints) with the given chunksize and drains the results.
SWEEP = {
    "map": lambda p, xs, c: _drain(p.map(noop, xs, chunksize=c)),
    "imap": lambda p, xs, c: _drain(p.imap(noop, xs, chunksize=c)),
    "imap_unordered": lambda p, xs, c: _drain(p.imap_unordered(noop, xs, chunksize=c)),
    "starmap": lambda p, xs, c: p.starmap(noop, [(x,) for x in xs], chunksize=c),
    "map_async": lambda p, xs, c: p.map_async(noop, xs, chunksize=c).get(),
}


def chunk_sweep(args):
    """Each ``SWEEP`` method at chunksize 1, 10, 100 and 1,000 on brinery.Pool (fork) and
    multiprocessing.Pool, 2 workers, interleaved; ``--sweep-tasks`` no-op tasks (a tenth
    of them at chunksize 1)."""
    import brinery

    sizes = [int(c) for c in args.chunksizes.split(",")]
    methods = [m for m in SWEEP if args.methods in ("all", m) or m in args.methods.split(",")]
    with brinery.Pool(2) as bp, mp.Pool(2) as mpp:
        for p in (bp, mpp):
            SWEEP["map_async"](p, list(range(200)), 1)
        pids = {"brinery": bp.worker_pids(), "mp": [w.pid for w in mpp._pool]}
        print(f"\nno-op tasks by chunksize, 2 workers, brinery.Pool (fork) / multiprocessing.Pool (best of {args.repeat}, interleaved);")
        print("  CPU: ns per task in the parent (all threads) + in the workers, summed over the rounds")
        print(f"  {'method':16} {'chunksize':>9} {'tasks':>8} {'brinery/s':>12} {'mp.Pool/s':>12} {'ratio':>6}   {'brinery CPU':>15} {'mp.Pool CPU':>15} {'ratio':>6}")
        for c in sizes:
            n = args.sweep_tasks // 10 if c == 1 else args.sweep_tasks
            xs = list(range(n))
            for m in methods:
                run = SWEEP[m]
                cpu = {"brinery": [0.0, 0.0], "mp": [0.0, 0.0]}

                def once(name, p):
                    t0, w0 = time.process_time(), _cpu_of(pids[name])
                    dt = _timed(lambda: run(p, xs, c))
                    cpu[name][0] += time.process_time() - t0
                    cpu[name][1] += _cpu_of(pids[name]) - w0
                    return dt

                rows = interleaved({"brinery": lambda: once("brinery", bp), "mp": lambda: once("mp", mpp)}, args.repeat)
                b, o = rows["brinery"], rows["mp"]
                per = {k: (v[0] * 1e9 / n / args.repeat, v[1] * 1e9 / n / args.repeat) for k, v in cpu.items()}
                (bpar, bw), (opar, ow) = per["brinery"], per["mp"]
                print(
                    f"  {m:16} {c:9} {n:8} {n / b:12,.0f} {n / o:12,.0f} {o / b:5.2f}x"
                    f"   {bpar:6.0f} + {bw:6.0f} {opar:6.0f} + {ow:6.0f} {(opar + ow) / (bpar + bw):5.2f}x",
                    flush=True,
                )


def _cpu_of(pids):
    """CPU seconds the processes ``pids`` have used (user + system; clock-tick resolution)."""
    import os

    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


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


def consume_queue(q, ready):
    ready.put(True)
    n = 0
    while q.get() is not None:
        n += 1
    return n


def _consume_into(q, ready, out):
    out.put(consume_queue(q, ready))


def queue_throughput(args):
    """A ``Queue`` carrying small items from the parent to two consumers: passed to
    running brinery workers, or inherited by ``multiprocessing.Process`` children. The
    consumers are running (and have said so) before the clock starts."""
    import brinery.pool

    n = args.queue_items
    ctx = brinery.pool.context()

    def feed(q, done):
        start = time.perf_counter()
        for i in range(n):
            q.put(i)
        q.put(None)
        q.put(None)
        assert sum(done()) == n
        return time.perf_counter() - start

    def passed(p):
        q, ready = ctx.Queue(), ctx.Queue()
        futs = [p.submit(consume_queue, q, ready) for _ in range(2)]
        ready.get(), ready.get()
        return feed(q, lambda: [f.result() for f in futs])

    def inherited(method):
        mctx = mp.get_context(method)
        q, ready, out = mctx.Queue(), mctx.Queue(), mctx.Queue()
        procs = [mctx.Process(target=_consume_into, args=(q, ready, out)) for _ in range(2)]
        for pr in procs:
            pr.start()
        ready.get(), ready.get()
        t = feed(q, lambda: [out.get(), out.get()])
        for pr in procs:
            pr.join()
        return t

    with brinery.Pool(2, start_method="fork") as pf, brinery.Pool(2, start_method="spawn") as ps:
        passed(pf), passed(ps)
        times = interleaved(
            {
                "brinery.Pool (fork), Queue passed": lambda: passed(pf),
                "brinery.Pool (spawn), Queue passed": lambda: passed(ps),
                "mp.Process (fork), Queue inherited": lambda: inherited("fork"),
                "mp.Process (spawn), Queue inherited": lambda: inherited("spawn"),
            },
            args.repeat,
        )
    base = times["mp.Process (fork), Queue inherited"]
    print(f"Queue carrying {n:,} small items to 2 running consumers (best of {args.repeat}):")
    for name, t in times.items():
        print(f"  {name:38} {n / t:12,.0f} items/s   x{base / t:.2f} vs inherited (fork)")


def raise_value_error():
    raise ValueError("planned")


def exit_worker():
    import os

    os._exit(1)


def count(xs):
    return len(xs)


def soak_plan(np):
    """``(fn, args, expected)``: a value, or the exception class the task must raise."""
    from concurrent.futures.process import BrokenProcessPool

    plan = [(abs, (-i,), i) for i in range(20)]
    plan[5:5] = [
        (raise_value_error, (), ValueError),
        (exit_worker, (), BrokenProcessPool),
        (count, ([np.zeros(10000) for _ in range(251)],), 251),
        (np.split, (np.zeros(251 * 10000), 251), 251),
    ]
    return plan


def _outcome(fut, expected, deadline):
    """``"ok"``, ``"wrong"`` or ``"lost"`` (not done by ``deadline``) for one task."""
    try:
        value = fut.result(max(0.0, deadline - time.monotonic()))
    except cf.TimeoutError:
        return "lost"
    except BaseException as e:  # noqa: BLE001 - an outcome like any other
        ok = isinstance(expected, type) and isinstance(e, expected)
        return "ok" if ok else "wrong"
    if isinstance(value, list):
        value = len(value)
    return "ok" if value == expected else "wrong"


def _fds():
    import os

    return len(os.listdir("/proc/self/fd"))


def _rss_mb(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _worker_pids(ex):
    if hasattr(ex, "worker_pids"):
        return ex.worker_pids()
    return list(getattr(ex, "_processes", None) or {})


def soak(args):
    try:
        import numpy as np
    except ImportError:
        print("numpy not installed: soak skipped")
        return
    import brinery

    makers = {"brinery.Pool": lambda: brinery.Pool(2), "ProcessPoolExecutor": lambda: cf.ProcessPoolExecutor(2)}
    try:
        import loky

        makers["loky"] = lambda: loky.ProcessPoolExecutor(2)
    except ImportError:
        pass
    plan = soak_plan(np)
    print(f"\nsoak: {args.soak} rounds of {len(plan)} tasks (4 faults), 2 workers:")
    print(f"  {'':20} {'lost':>6} {'wrong':>6} {'rebuilt':>8} {'fds +':>6} {'parent MB':>10} {'workers MB':>11}")
    print("  (fds +: descriptors left open in the parent after shutdown; workers MB: the")
    print("  largest sum of the workers' RSS after a round, 0 where every round broke the pool)")
    for name, make in makers.items():
        fds = _fds()
        ex = make()
        ex.submit(abs, 1).result()
        lost = wrong = rebuilt = 0
        workers = 0.0
        for _ in range(args.soak):
            try:
                futs = [(ex.submit(fn, *a), want) for fn, a, want in plan]
            except RuntimeError:  # broken by an earlier round: submit refuses
                futs = []
            deadline = time.monotonic() + 30
            outcomes = [_outcome(f, want, deadline) for f, want in futs]
            lost += outcomes.count("lost") + len(plan) - len(futs)
            wrong += outcomes.count("wrong")
            workers = max(workers, sum(_rss_mb(pid) for pid in _worker_pids(ex)))
            if getattr(ex, "_broken", False) or not futs or "lost" in outcomes:
                try:
                    ex.shutdown(wait=False, cancel_futures=True)
                except TypeError:  # loky's spelling
                    ex.shutdown(wait=False, kill_workers=True)
                ex = make()
                rebuilt += 1
        parent = _rss_mb()
        ex.shutdown(wait=True)
        gc.collect()
        leaked = _fds() - fds
        print(f"  {name:20} {lost:6} {wrong:6} {rebuilt:8} {leaked:6} {parent:10.0f} {workers:11.0f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--soak", type=int, default=0, help="run only the soak, this many rounds")
    ap.add_argument("--queue-items", type=int, default=100_000)
    ap.add_argument("--only-queue", action="store_true", help="run only the Queue figure")
    ap.add_argument("--sweep-tasks", type=int, default=200_000)
    ap.add_argument("--chunksizes", default="1,10,100,1000")
    ap.add_argument("--methods", default="all", help="the sweep's methods, comma-separated")
    ap.add_argument("--round-trips", type=int, default=2000)
    ap.add_argument(
        "--placement",
        default="free,spread,one",
        help="latency, comma-separated: left to the scheduler (free), or this process on vCPU 0 "
        "and the workers on vCPU 1 (spread) or 0 (one)",
    )
    ap.add_argument(
        "--only",
        help="run only these figures, comma-separated: throughput, sweep, latency, startup, array, queue",
    )
    args = ap.parse_args()
    if args.soak:
        soak(args)
        return
    if args.only_queue:
        queue_throughput(args)
        return
    figures = {
        "throughput": throughput,
        "sweep": chunk_sweep,
        "latency": latency,
        "startup": startup,
        "array": big_array,
        "queue": queue_throughput,
    }
    only = args.only.split(",") if args.only else list(figures)
    for name in only:
        figures[name](args)


if __name__ == "__main__":
    main()
