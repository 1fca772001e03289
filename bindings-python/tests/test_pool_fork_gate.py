"""A forked worker never starts while another thread is inside brinery's native code
(whose half-initialized statics it would inherit and then wait on forever), and a thread
that stays inside too long does not hold workers back for good; a plain ``os.fork()``
waits for a short native call too. Real fork workers; the "inside" thread is a
``brinery.dumps`` whose reducer blocks."""

import os
import threading
import time

import pytest

import brinery
from brinery.pool import Pool
from helpers import run_python

WAIT = 30


def _started_at():
    return _START


def _record_start():
    global _START
    _START = time.monotonic()


class _Blocks:
    """Pickled by a reducer that holds its ``dumps`` call for ``hold`` seconds."""

    def __init__(self, entered, hold):
        self.entered, self.hold = entered, hold

    def __reduce__(self):
        self.entered.set()
        time.sleep(self.hold)  # (releases the GIL: the driver thread runs meanwhile)
        self.left = time.monotonic()  # (still inside dumps)
        return (int, (1,))


def _dump_in_thread(hold):
    entered = threading.Event()
    done = []
    obj = _Blocks(entered, hold)

    def run():
        brinery.dumps(obj)
        done.append(obj.left)

    t = threading.Thread(target=run)
    t.start()
    assert entered.wait(WAIT)
    return t, done


def test_a_fork_waits_for_a_native_call_on_another_thread_to_return():
    t, done = _dump_in_thread(0.6)
    with Pool(1, start_method="fork", initializer=_record_start) as pool:
        started = pool.submit(_started_at).result(timeout=WAIT)
    t.join(WAIT)
    assert done and started >= done[0]


@pytest.mark.parametrize("hold", [4.0])
def test_a_native_call_that_stays_inside_does_not_hold_the_fork_back_for_good(hold):
    t, done = _dump_in_thread(hold)
    begin = time.monotonic()
    with Pool(1, start_method="fork", initializer=_record_start) as pool:
        started = pool.submit(_started_at).result(timeout=WAIT)
    assert started - begin < hold - 1.0  # forked while the dumps still ran
    assert not done or done[0] > started
    t.join(WAIT)


def test_os_fork_waits_for_a_short_native_call_on_another_thread():
    # Not the pool's fork: brinery's before-fork hook makes any fork wait (a little).
    t, done = _dump_in_thread(0.1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, repr(time.monotonic()).encode())
        os._exit(0)
    os.close(w)
    started = float(os.read(r, 100))
    os.close(r)
    os.waitpid(pid, 0)
    t.join(WAIT)
    assert done and started >= done[0]


def test_a_worker_fork_raises_the_audit_event_os_fork_does_in_subprocess():
    # (audit hooks cannot be removed: a process of its own)
    out = run_python("""
import sys, brinery
events = []
sys.addaudithook(lambda event, args: events.append(event) if event == "os.fork" else None)
with brinery.Pool(2, start_method="fork") as pool:
    assert pool.submit(abs, -3).result(timeout=30) == 3
    assert sorted(pool.map(abs, range(-50, 0), chunksize=1)) == list(range(1, 51))
print(len(events))
""")
    assert int(out) >= 2, out
