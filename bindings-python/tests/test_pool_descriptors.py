"""A pool under the common soft limit of 1,024 open descriptors (``ulimit -n 1024``):
10,000 tasks that each carry the same ``multiprocessing.Queue`` and ``Lock`` run to the
end under fork and spawn, the parent holding one copy of each descriptor the queued tasks
pass (not one per task) and each worker a bounded number. Real processes: the script
lowers its own limit before it makes anything, and its workers inherit it."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, os, resource, sys, threading, time

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
sys.path.insert(0, {here!r})

from brinery.pool import Pool, context
from test_pool_shared import use_queue_and_lock, open_fds

TASKS = 10_000

if __name__ == "__main__":
    ctx = context()
    q, lock = ctx.Queue(), ctx.Lock()
    with Pool(2, start_method=sys.argv[1]) as pool:
        assert all(pool.map(use_queue_and_lock, [q] * 64, [lock] * 64, range(1, 65)))
        pids = pool.worker_pids()
        before = open_fds()
        workers_before = {{p: len(os.listdir(f"/proc/{{p}}/fd")) for p in pids}}
        peak = [before]
        stop = threading.Event()

        def sample():  # the parent's count, seen every millisecond while the map runs
            while not stop.is_set():
                peak[0] = max(peak[0], open_fds())
                time.sleep(0.001)

        sampler = threading.Thread(target=sample)
        sampler.start()
        workers_peak = {{}}
        try:
            for pid, n in pool.map(use_queue_and_lock, [q] * TASKS, [lock] * TASKS, range(TASKS)):
                workers_peak[pid] = max(n, workers_peak.get(pid, n))
        finally:
            stop.set()
            sampler.join()
        got = sorted(q.get(timeout=30) for _ in range(TASKS // 1000))
        assert got == list(range(0, TASKS, 1000)), got
        print(json.dumps({{
            "limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "before": before, "peak": peak[0], "after": open_fds(),
            "workers_before": {{str(p): n for p, n in workers_before.items()}},
            "workers_peak": {{str(p): n for p, n in workers_peak.items()}},
        }}))
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_10000_tasks_carrying_a_queue_and_a_lock_run_under_a_1024_descriptor_limit_in_subprocess(
    tmp_path, method
):
    script = tmp_path / "limit.py"
    script.write_text(SCRIPT.format(here=os.path.dirname(__file__)))
    out = subprocess.run([sys.executable, str(script), method], capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    got = json.loads(out.stdout.decode().splitlines()[-1])
    assert got["limit"] == 1024
    # The parent: one duplicate of each of the queue's two pipe ends while tasks wait,
    # whatever the number of tasks waiting (it was two per task: 8,192 for map's window).
    assert got["peak"] <= got["before"] + 16, got
    assert got["after"] <= got["before"], got
    # A worker: no more than the pool's budget of descriptors queued at it (128 each for
    # two workers) beyond what it held before; the same workers all along.
    assert set(got["workers_peak"]) <= set(got["workers_before"]), "a worker was replaced"
    for pid, n in got["workers_peak"].items():
        assert n <= got["workers_before"][pid] + 160, got
