"""Workers die with their parent: a pool whose parent is SIGKILLed (no chance to shut
down, no atexit, no finalizer) leaves no worker running, busy or idle, under fork and
spawn. The kernel's parent-death signal does it, not the parent's cleanup."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

WAIT = 30  # seconds; no test may block longer

PARENT = textwrap.dedent(
    """
    import sys, time
    import brinery

    def nap(s):
        time.sleep(s)
        return s

    if __name__ == "__main__":
        pool = brinery.Pool(3, start_method=sys.argv[1])
        # Two workers busy for a minute, one idle.
        busy = [pool.submit(nap, 60) for _ in range(2)]
        assert pool.submit(nap, 0).result(30) == 0
        deadline = time.monotonic() + 30
        while len(pool.worker_pids()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        print(" ".join(map(str, pool.worker_pids())), flush=True)
        time.sleep(120)
    """
)


def running(pid):
    """True while ``pid`` exists and is not a zombie (a zombie has stopped running; who
    reaps it is the init process's business once its parent is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_die_when_the_parent_is_killed_in_subprocess(tmp_path, method):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), method], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    pids = []
    try:
        line = parent.stdout.readline().decode()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 3, (line, parent.stderr.read().decode() if parent.poll() is not None else "")
        assert all(running(pid) for pid in pids)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while any(running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in pids if running(pid)]
        assert not left, f"workers still running after their parent was killed: {left}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(WAIT)
        for pid in pids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
