"""Descriptors held while a pool runs many tasks that each carry the same
``multiprocessing.Queue`` and ``Lock`` (issue 25): the parent's and each worker's count of
``/proc/<pid>/fd`` before, at its peak during, and after the run, with no garbage
collection forced anywhere. Each task takes the lock and puts one item into the queue.

    python bindings-python/benches/pool_fds.py [--tasks N] [--methods fork,spawn]

Prints one line per start method. Figures go to docs/benchmarks.md."""

import argparse
import os
import threading
import time

import brinery
import brinery.pool


def fds(pid="self"):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def task(q, lock, i):
    with lock:
        q.put(i)
    return os.getpid(), fds()


def run(method, tasks):
    ctx = brinery.pool.context()
    q, lock = ctx.Queue(), ctx.Lock()
    with brinery.Pool(2, start_method=method) as pool:
        warm = list(pool.map(task, [q] * 4, [lock] * 4, range(4)))
        for _ in warm:
            q.get(timeout=30)
        pids = pool.worker_pids()
        before = (fds(), [fds(p) for p in pids])
        peak = [before[0], list(before[1])]
        stop = threading.Event()

        def sample():  # the parent's and workers' counts, seen from outside, every 5 ms
            while not stop.is_set():
                peak[0] = max(peak[0], fds())
                for k, p in enumerate(pids):
                    n = fds(p)
                    if n is not None:
                        peak[1][k] = max(peak[1][k], n)
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.perf_counter()
        got = 0
        for pid, n in pool.map(task, [q] * tasks, [lock] * tasks, range(tasks)):
            k = pids.index(pid) if pid in pids else None
            if k is not None:
                peak[1][k] = max(peak[1][k], n)
        while got < tasks:
            q.get(timeout=30)
            got += 1
        took = time.perf_counter() - start
        stop.set()
        sampler.join()
        time.sleep(0.2)
        after = (fds(), [fds(p) for p in pids])
    print(f"{method}: {tasks} tasks in {took:.1f} s; parent {before[0]} -> peak {peak[0]} -> {after[0]}; "
          f"workers {before[1]} -> peak {peak[1]} -> {after[1]}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--methods", default="fork,spawn")
    a = ap.parse_args()
    for m in a.methods.split(","):
        run(m, a.tasks)
