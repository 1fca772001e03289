"""brinery.Pool under faults, with real worker processes (fork and spawn): loky's crash
matrix, where each fault must fail only its own task, say which stage failed and why,
and leave the pool serving; plus SIGKILL, timeouts and cleanup. Every wait is bounded."""

import ctypes
import os
import signal
import sys
import time
import weakref

import pytest

from brinery.pool import Pool, StageError, WorkerDiedError

METHODS = ["fork", "spawn"]
WAIT = 30  # seconds; no test may block longer


def c_exit(code):
    ctypes.CDLL(None).exit(code)


def segfault():
    ctypes.string_at(0)


def raise_value_error(msg="boom"):
    raise ValueError(msg)


def raise_keyboard_interrupt():
    raise KeyboardInterrupt


def identity(x):
    return x


def pid_after(_=None):
    return os.getpid()


class Reduces:
    """Pickles as ``func(*args)``: the fault happens wherever the object is loaded."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


class FailsToPickle:
    """Runs ``func(*args)`` when pickled, i.e. in whichever process pickles it."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        self.func(*self.args)
        raise RuntimeError("unreachable")


def returns(obj):
    return obj


def returns_fails_to_pickle(func, *args):
    return FailsToPickle(func, *args)


def returns_reduces(func, *args):
    return Reduces(func, *args)


def exit_in_parent_only(parent_pid):
    if os.getpid() == parent_pid:
        sys.exit("in the parent")
    return "loaded"


def in_worker_only(parent_pid):
    """Fails when called in the parent (unpickling the result there)."""
    if os.getpid() == parent_pid:
        raise ValueError("cannot load in the parent")
    return "loaded"


@pytest.fixture(params=METHODS)
def pool(request):
    with Pool(1, start_method=request.param) as p:
        yield p


def assert_still_serving(pool):
    assert pool.submit(identity, 42).result(WAIT) == 42


def alive(pid):
    return os.path.exists(f"/proc/{pid}")


# -- the crash matrix, stage by stage ------------------------------------------------


@pytest.mark.parametrize("fault", [raise_value_error, sys.exit], ids=["error", "sys_exit"])
def test_error_pickling_task_in_parent_in_subprocess(pool, fault):
    fut = pool.submit(identity, FailsToPickle(fault))
    with pytest.raises(StageError, match="pickling the task in the parent"):
        fut.result(WAIT)
    assert_still_serving(pool)


def test_keyboard_interrupt_while_pickling_a_task_is_not_swallowed_in_subprocess(pool):
    with pytest.raises(KeyboardInterrupt):
        pool.submit(identity, FailsToPickle(raise_keyboard_interrupt))
    with pytest.raises(KeyboardInterrupt):
        pool.map(identity, [1, FailsToPickle(raise_keyboard_interrupt)])
    assert_still_serving(pool)


def test_many_tasks_failing_to_pickle_then_many_that_do_in_subprocess(pool):
    failing = [pool.submit(identity, FailsToPickle(raise_value_error)) for _ in range(100)]
    fine = [pool.submit(identity, i) for i in range(100)]
    assert all(isinstance(f.exception(WAIT), StageError) for f in failing)
    assert [f.result(WAIT) for f in fine] == list(range(100))


@pytest.mark.parametrize(
    "payload, error, match",
    [
        (Reduces(raise_value_error, "bad arg"), StageError, "unpickling the task.*bad arg"),
        (Reduces(sys.exit, 2), StageError, r"unpickling the task.*SystemExit: 2"),
        (Reduces(os._exit, 3), WorkerDiedError, "exited with code 3 while unpickling the task"),
        (Reduces(c_exit, 4), WorkerDiedError, "exited with code 4 while unpickling the task"),
        (Reduces(c_exit, 0), WorkerDiedError, "exited with code 0 while unpickling the task"),
        (Reduces(ctypes.string_at, 0), WorkerDiedError, "SIGSEGV while unpickling the task"),
    ],
    ids=["error", "sys_exit", "os_exit", "c_exit", "c_exit_0", "segfault"],
)
def test_fault_unpickling_task_in_worker_in_subprocess(pool, payload, error, match):
    with pytest.raises(error, match=match):
        pool.submit(identity, payload).result(WAIT)
    assert_still_serving(pool)


@pytest.mark.parametrize(
    "fn, args, error, match",
    [
        (segfault, (), WorkerDiedError, "SIGSEGV while running the task"),
        (sys.exit, (3,), StageError, r"running the task.*SystemExit\(3\)"),
        (c_exit, (5,), WorkerDiedError, "exited with code 5 while running the task"),
        (c_exit, (0,), WorkerDiedError, "exited with code 0 while running the task"),
        (os._exit, (6,), WorkerDiedError, "exited with code 6 while running the task"),
        (raise_value_error, ("in task",), ValueError, "in task"),
    ],
    ids=["segfault", "sys_exit", "c_exit", "c_exit_0", "os_exit", "exception"],
)
def test_fault_running_task_in_subprocess(pool, fn, args, error, match):
    with pytest.raises(error, match=match):
        pool.submit(fn, *args).result(WAIT)
    assert_still_serving(pool)


def test_stage_errors_are_the_pickle_errors_of_their_stage_in_subprocess(pool):
    import pickle

    with pytest.raises(pickle.PicklingError, match="pickling the task in the parent"):
        pool.submit(identity, FailsToPickle(raise_value_error)).result(WAIT)
    with pytest.raises(pickle.UnpicklingError, match="unpickling the task"):
        pool.submit(identity, Reduces(raise_value_error)).result(WAIT)
    with pytest.raises(pickle.PicklingError, match="pickling the result"):
        pool.submit(returns_fails_to_pickle, raise_value_error).result(WAIT)
    with pytest.raises(pickle.UnpicklingError, match="unpickling the result in the parent"):
        pool.submit(returns_reduces, in_worker_only, os.getpid()).result(WAIT)
    assert_still_serving(pool)


def test_task_exception_carries_worker_traceback_in_subprocess(pool):
    with pytest.raises(ValueError) as info:
        pool.submit(raise_value_error, "traced").result(WAIT)
    cause = info.value.__cause__
    assert cause is not None and "raise_value_error" in str(cause)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((ctypes.string_at, 0), WorkerDiedError, "SIGSEGV while pickling the result"),
        ((os._exit, 7), WorkerDiedError, "exited with code 7 while pickling the result"),
        ((c_exit, 8), WorkerDiedError, "exited with code 8 while pickling the result"),
        ((sys.exit, 9), StageError, r"pickling the result.*SystemExit: 9"),
        ((raise_value_error, "no pickle"), StageError, "pickling the result.*no pickle"),
    ],
    ids=["segfault", "exit", "c_exit", "sys_exit", "error"],
)
def test_fault_pickling_result_in_worker_in_subprocess(pool, args, error, match):
    with pytest.raises(error, match=match):
        pool.submit(returns_fails_to_pickle, *args).result(WAIT)
    assert_still_serving(pool)


def test_error_unpickling_result_in_parent_in_subprocess(pool):
    fut = pool.submit(returns_reduces, in_worker_only, os.getpid())
    with pytest.raises(StageError, match="unpickling the result in the parent.*cannot load"):
        fut.result(WAIT)
    assert_still_serving(pool)


def test_exit_unpickling_result_in_parent_in_subprocess(pool):
    fut = pool.submit(returns_reduces, exit_in_parent_only, os.getpid())
    with pytest.raises(StageError, match="unpickling the result in the parent.*SystemExit"):
        fut.result(WAIT)
    assert_still_serving(pool)


class CrashesWhenDropped:
    """Kills the worker that drops it, after the task that got it returned."""

    def __init__(self, parent_pid):
        self.parent_pid = parent_pid

    def __del__(self):
        if os.getpid() != self.parent_pid:
            ctypes.string_at(0)


def test_argument_crashing_the_worker_when_dropped_fails_its_task_only_in_subprocess(pool):
    fut = pool.submit(id, CrashesWhenDropped(os.getpid()))
    with pytest.raises(WorkerDiedError, match="SIGSEGV"):
        fut.result(WAIT)
    assert_still_serving(pool)


# -- signals, timeouts, cleanup -------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_sigkill_of_worker_fails_only_its_task_in_subprocess(method):
    with Pool(1, start_method=method) as p:
        pid = p.submit(pid_after).result(WAIT)
        slow = p.submit(time.sleep, 60)
        after = p.submit(identity, "next")
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerDiedError, match="SIGKILL"):
            slow.result(WAIT)
        assert after.result(WAIT) == "next"
        assert p.submit(pid_after).result(WAIT) != pid


@pytest.mark.parametrize("method", METHODS)
def test_task_past_timeout_fails_with_timeout_error_in_subprocess(method):
    # Builtins only: a task's time includes importing what it names, and a replacement
    # worker imports afresh under spawn.
    with Pool(1, start_method=method, task_timeout=1.0) as p:
        t = time.monotonic()
        hung = p.submit(time.sleep, 60)
        with pytest.raises(TimeoutError, match="timed out after 1s"):
            hung.result(WAIT)
        assert time.monotonic() - t < 20
        assert p.submit(abs, -42).result(WAIT) == 42


@pytest.mark.parametrize("method", METHODS)
def test_no_process_left_after_shutdown_in_subprocess(method):
    p = Pool(2, start_method=method)
    p.submit(segfault)  # forces one replacement along the way
    assert list(p.map(identity, range(50))) == list(range(50))
    pids = p.worker_pids()
    assert len(pids) == 2
    p.shutdown(wait=True)
    assert not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("method", METHODS)
def test_terminate_kills_running_tasks_and_reaps_in_subprocess(method):
    p = Pool(2, start_method=method)
    futs = [p.submit(time.sleep, 60) for _ in range(4)]
    time.sleep(0.3)
    pids = p.worker_pids()
    t = time.monotonic()
    p.terminate()
    assert time.monotonic() - t < 10
    for f in futs:
        with pytest.raises(Exception):
            f.result(WAIT)
    assert not any(alive(pid) for pid in pids)


def test_max_tasks_per_child_replaces_workers_in_subprocess():
    with Pool(1, max_tasks_per_child=3) as p:
        pids = [p.submit(pid_after).result(WAIT) for _ in range(7)]
    assert len(set(pids)) == 3


# -- found by the soak (issue #27) ------------------------------------------------------


def test_a_task_with_more_than_250_large_buffers_runs_and_the_pool_survives_in_subprocess(pool):
    np = pytest.importorskip("numpy")
    running = pool.submit(time.sleep, 0.2)
    many = pool.submit(len, [np.zeros(10000) for _ in range(251)])
    assert running.result(WAIT) is None
    assert many.result(WAIT) == 251
    assert_still_serving(pool)


def test_a_result_with_more_than_250_buffers_arrives_and_the_worker_survives_in_subprocess(pool):
    np = pytest.importorskip("numpy")
    pid = pool.submit(pid_after).result(WAIT)
    parts = pool.submit(np.split, np.arange(251 * 10000.0), 251).result(WAIT)
    assert len(parts) == 251 and parts[250][-1] == 251 * 10000 - 1
    assert pool.submit(pid_after).result(WAIT) == pid


@pytest.mark.parametrize("method", METHODS)
def test_the_initializer_does_not_count_against_the_task_timeout_in_subprocess(method):
    # Queued at once, the task starts after a 1 s initializer and runs 1.5 s: under its
    # own 2 s, though 2.5 s after it was queued.
    init = dict(initializer=time.sleep, initargs=(1.0,), task_timeout=2.0)
    with Pool(1, start_method=method, **init) as p:
        assert p.submit(time.sleep, 1.5).result(WAIT) is None
        assert p.submit(abs, -1).result(WAIT) == 1


@pytest.mark.parametrize("method", METHODS)
def test_an_initializer_that_kills_its_worker_breaks_the_pool_without_looping_in_subprocess(method):
    from brinery.pool import BrokenWorkersError

    with Pool(1, start_method=method, initializer=os._exit, initargs=(3,)) as p:
        with pytest.raises(BrokenWorkersError, match="exited with code 3"):
            p.submit(abs, -1).result(WAIT)


def test_a_cancelled_future_counts_as_done_for_wait_and_as_completed_in_subprocess(pool):
    import concurrent.futures as cf

    running = pool.submit(time.sleep, 0.5)
    queued = [pool.submit(abs, -i) for i in range(3)]
    assert queued[-1].cancel()
    done, not_done = cf.wait([running, queued[-1]], timeout=WAIT)
    assert done == {running, queued[-1]} and not not_done
    assert set(cf.as_completed([queued[-1]], timeout=WAIT)) == {queued[-1]}
    assert [f.result(WAIT) for f in queued[:-1]] == [0, 1]


def test_a_pool_is_freed_once_closed_in_subprocess():
    import gc
    import weakref

    for method in METHODS:
        with Pool(1, start_method=method) as p:
            assert p.submit(abs, -1).result(WAIT) == 1
        ref = weakref.ref(p)
        del p
        gc.collect()
        assert ref() is None, method


_last_result = None


class Tracked:
    """A result the worker can tell is still alive."""


def make_tracked():
    global _last_result
    obj = Tracked()
    _last_result = weakref.ref(obj)
    return obj


def last_result_alive():
    return _last_result is not None and _last_result() is not None


def open_file(path):
    return open(path, "rb")


def open_in_worker(path):
    return any(os.path.realpath(f"/proc/self/fd/{fd}") == path for fd in os.listdir("/proc/self/fd"))


def test_an_idle_worker_holds_nothing_of_its_last_result_in_subprocess(pool, tmp_path):
    assert isinstance(pool.submit(make_tracked).result(WAIT), Tracked)
    assert pool.submit(last_result_alive).result(WAIT) is False
    path = str(tmp_path / "returned")
    with open(path, "wb") as f:
        f.write(b"data")
    with pool.submit(open_file, path).result(WAIT) as f:
        assert f.read() == b"data"
        assert pool.submit(open_in_worker, path).result(WAIT) is False


def test_imap_bounds_the_bytes_it_submits_ahead_in_subprocess():
    np = pytest.importorskip("numpy")
    pulled = []

    def arrays():
        for i in range(64):
            pulled.append(i)
            yield np.full(1 << 17, i)  # 1 MiB each

    with Pool(1) as p:
        for method in (p.imap, p.imap_unordered):
            pulled.clear()
            it = method(np.sum, arrays())
            assert len(pulled) <= 32, method.__name__
            assert sorted(it) == [(1 << 17) * i for i in range(64)]
            assert len(pulled) == 64


def sum_after_gate(a, gate):
    if gate is not None:
        with gate:
            os.read(gate.fd, 1)
    return int(a.sum())


@pytest.mark.parametrize("chunksize", [1, 4])
def test_map_bounds_the_bytes_in_flight_and_still_runs_everything_in_subprocess(chunksize):
    np = pytest.importorskip("numpy")
    from brinery.pool import Fd

    r, w = os.pipe()
    arrays = [np.full(1 << 17, i) for i in range(64)]  # 1 MiB each
    gates = [Fd(r)] + [None] * 63
    with Pool(1) as p:
        submitted = []
        send_many = p._send_many

        def counting(kind, fn, payloads, *args, **kwargs):
            submitted.append(len(payloads))
            return send_many(kind, fn, payloads, *args, **kwargs)

        p._send_many = counting
        # The worker waits on the gate: nothing finishes, so all submitted is in flight.
        try:
            it = p.map(sum_after_gate, arrays, gates, chunksize=chunksize)
            ahead = sum(submitted) * chunksize
        finally:
            os.write(w, b"!")
        assert ahead <= 32, submitted
        del it  # never iterated: the driver thread submits the rest as results arrive
        p.shutdown(wait=True)  # (what is left of the map is still submitted after it)
    assert sum(submitted) * chunksize == 64
    os.close(r)
    os.close(w)
