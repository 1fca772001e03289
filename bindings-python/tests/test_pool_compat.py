"""brinery.Pool as a drop-in for multiprocessing.Pool and concurrent.futures executors, with
real worker processes: the calls both APIs have (map_async, starmap_async, apply, callbacks,
get/next with a timeout), their lifecycles (close/join/terminate, shutdown, work after
either, interpreter exit), Future.cancel, and the constructor spellings of both. The
semantics checked are those of CPython's own pool and executor tests."""

import concurrent.futures as cf
import multiprocessing
import os
import select
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from concurrent.futures.process import BrokenProcessPool

import pytest

from brinery.pool import (
    BrokenWorkersError,
    Fd,
    Pool,
    PoolClosedError,
    WaitTimeoutError,
    WorkerDiedError,
)

METHODS = ["fork", "spawn"]
WAIT = 30  # seconds; no test may block longer


def square(x):
    return x * x


def mul(x, y):
    return x * y


def fail_on(x, bad=3):
    if x == bad:
        raise ValueError(f"bad {x}")
    return x


def read_byte(f):
    return os.read(f.fileno(), 1)


def write_to(f, data):
    return os.write(f.fileno(), data)


def init_fail():
    raise ValueError("no init today")


class Says:
    """Input that raises after ``when`` items, as a broken generator would."""

    def __init__(self, total, when):
        self.items = iter(range(total))
        self.when = when

    def __iter__(self):
        return self

    def __next__(self):
        x = next(self.items)
        if x == self.when:
            raise KeyError("input broke")
        return x


@pytest.fixture(params=METHODS)
def pool(request):
    with Pool(2, start_method=request.param) as p:
        yield p


class Blocked:
    """Tasks that wait on a pipe until released, so a test knows what is running."""

    def __init__(self):
        self.r, self.w = os.pipe()

    def task(self):
        return read_byte, Fd(self.r)

    def release(self, n):
        os.write(self.w, b"x" * n)

    def close(self):
        os.close(self.r)
        os.close(self.w)


def started(pool, n_workers, blocked):
    """Submits one blocked task per worker and returns their futures once all run."""
    r, w = os.pipe()
    futs = [pool.submit(_signal_then_read, Fd(w), Fd(blocked.r)) for _ in range(n_workers)]
    os.close(w)
    got = b""
    while len(got) < n_workers:
        assert select.select([r], [], [], WAIT)[0], "blocked tasks never started"
        got += os.read(r, n_workers)
    os.close(r)
    return futs


def _signal_then_read(signal_fd, read_fd):
    os.write(signal_fd.fileno(), b"!")
    return os.read(read_fd.fileno(), 1)


# -- multiprocessing.Pool's calls ---------------------------------------------------------


def test_map_async_and_starmap_async_in_subprocess(pool):
    seen = []
    r = pool.map_async(square, range(10), callback=seen.append)
    assert r.get(WAIT) == [x * x for x in range(10)]
    assert r.ready() and r.successful()
    r.wait(WAIT)
    pairs = list(zip(range(100), range(99, -1, -1)))
    assert pool.starmap_async(mul, pairs, chunksize=7).get(WAIT) == [a * b for a, b in pairs]
    assert pool.starmap(mul, pairs) == [a * b for a, b in pairs]
    assert pool.map_async(square, []).get(WAIT) == []
    assert pool.apply(mul, (6,), {"y": 7}) == 42
    deadline = time.monotonic() + WAIT
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == [[x * x for x in range(10)]], "callback gets the whole list"


def test_map_async_error_callback_gets_the_first_error_in_subprocess(pool):
    errors = []
    r = pool.map_async(fail_on, range(10), chunksize=2, error_callback=errors.append)
    with pytest.raises(ValueError, match="bad 3"):
        r.get(WAIT)
    assert not r.successful()
    deadline = time.monotonic() + WAIT
    while not errors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [str(e) for e in errors] == ["bad 3"]


def test_get_and_next_with_a_timeout_raise_both_timeout_errors_in_subprocess(pool):
    blocked = Blocked()
    try:
        fn, arg = blocked.task()
        r = pool.apply_async(fn, (arg,))
        with pytest.raises(multiprocessing.TimeoutError):
            r.get(0.2)
        with pytest.raises(cf.TimeoutError):
            r.get(0.2)
        assert not r.ready()
        with pytest.raises(ValueError):
            r.successful()  # not ready yet
        it = pool.imap(read_byte, [Fd(blocked.r)] * 2)
        with pytest.raises(WaitTimeoutError):
            it.next(timeout=0.2)
        blocked.release(3)
        assert r.get(WAIT) == b"x"
        assert list(it) == [b"x", b"x"], "the iterator is still usable after a timeout"
    finally:
        blocked.close()


@pytest.mark.parametrize("chunksize, before", [(1, 3), (2, 2), (4, 0)])
def test_imap_raises_the_input_error_after_the_results_before_it_in_subprocess(pool, chunksize, before):
    it = pool.imap(square, Says(10, 3), chunksize)
    assert [next(it) for _ in range(before)] == [x * x for x in range(before)]
    with pytest.raises(KeyError, match="input broke"):
        next(it)


def test_imap_unordered_raises_the_input_error_after_its_results_in_subprocess(pool):
    got = []
    with pytest.raises(KeyError, match="input broke"):
        for x in pool.imap_unordered(square, Says(10, 3)):
            got.append(x)
    assert sorted(got) == [0, 1, 4]


def test_map_input_error_is_raised_by_the_call_in_subprocess(pool):
    with pytest.raises(KeyError, match="input broke"):
        pool.map(square, Says(10, 3))
    with pytest.raises(KeyError, match="input broke"):
        pool.map_async(square, Says(10, 3))


def test_multiprocessing_map_spelling_with_chunksize_in_subprocess(pool):
    assert list(pool.map(square, range(20), 6)) == [x * x for x in range(20)]
    assert list(pool.map(square, range(20), chunksize=None)) == [x * x for x in range(20)]


# -- lifecycle --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_work_after_close_raises_both_closed_errors_in_subprocess(method):
    p = Pool(1, start_method=method)
    with pytest.raises(ValueError, match="still running"):
        p.join()
    r = p.map_async(square, range(5))
    p.close()
    for call in (
        lambda: p.submit(square, 2),
        lambda: p.apply_async(square, (2,)),
        lambda: p.map_async(square, [1]),
        lambda: p.starmap_async(mul, [(1, 2)]),
        lambda: p.imap(square, [1]),
        lambda: p.imap_unordered(square, [1]),
        lambda: p.map(square, [1]),
    ):
        with pytest.raises(PoolClosedError) as info:
            call()
        assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)
    p.join()
    assert r.get(WAIT) == [x * x for x in range(5)], "close() lets submitted work finish"
    with pytest.raises(ValueError):
        with p:
            pass


def test_map_submits_everything_before_it_returns_in_subprocess():
    r, w = os.pipe()
    p = Pool(2)
    p.map(write_to, [Fd(w)] * 3, [b"x"] * 3)  # never iterated, as Executor.map allows
    res = p.map(square, range(10))
    p.shutdown(wait=True)
    os.close(w)
    assert os.read(r, 10) == b"xxx"
    os.close(r)
    assert list(res) == [x * x for x in range(10)], "results outlive the shutdown"


@pytest.fixture
def busy():
    """A one-worker pool, its worker running a task (released by ``blocked.release``)."""
    blocked = Blocked()
    p = Pool(1)
    try:
        yield p, blocked, started(p, 1, blocked)[0]
    finally:
        p.terminate()
        blocked.close()


def test_cancel_only_what_no_worker_has_in_subprocess(busy):
    p, blocked, running = busy
    # The first few may already be queued at the worker (prefetched), like the futures
    # ProcessPoolExecutor has moved to its call queue; the last is not.
    later = [p.submit(square, i) for i in range(5)]
    assert not running.cancel(), "a running task cannot be cancelled"
    assert later[-1].cancel() and later[-1].cancelled()
    with pytest.raises(cf.CancelledError):
        later[-1].result(WAIT)
    blocked.release(1)
    assert running.result(WAIT) == b"x"
    assert not running.cancel() and not running.cancelled()
    assert [f.result(WAIT) for f in later if not f.cancelled()][:1] == [0]


def test_shutdown_cancel_futures_without_waiting_in_subprocess(busy):
    p, blocked, running = busy
    queued = [p.submit(square, i) for i in range(50)]
    p.shutdown(wait=False, cancel_futures=True)
    # All but the one already queued at the worker, by the time shutdown returns.
    assert sum(f.cancelled() for f in queued) >= len(queued) - 1
    assert not running.cancelled()
    blocked.release(1)
    assert running.result(WAIT) == b"x"
    p.join()
    assert all(f.result() == 0 for f in queued[:1] if not f.cancelled())


EXIT_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from brinery.pool import Pool

    def late(msg):
        time.sleep(0.3)
        os.write(1, f"{msg}\\n".encode())  # one write: the two workers' lines never mix

    if __name__ == "__main__":
        p = Pool(2, start_method=sys.argv[1])
        p.submit(late, "first")
        q = Pool(1, start_method=sys.argv[1])
        q.submit(late, "second")
        q.shutdown(wait=False)
    """
)


@pytest.mark.parametrize("method", METHODS)
def test_open_pools_finish_their_tasks_at_interpreter_exit_in_subprocess(tmp_path, method):
    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT)
    out = subprocess.run([sys.executable, str(script), method], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split()) == ["first", "second"]
    assert out.stderr == ""


# -- the constructor ----------------------------------------------------------------------


def test_constructor_takes_both_apis_spellings_in_subprocess():
    with Pool(1, None, (), 2) as p:  # multiprocessing.Pool's positional order
        assert len({p.submit(os.getpid).result(WAIT) for _ in range(4)}) == 2
    with Pool(max_workers=1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as p:
        assert p.submit(square, 3).result(WAIT) == 9
    with Pool(1, context=multiprocessing.get_context("fork")) as p:
        assert p.apply(square, (4,)) == 16


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(max_workers=0), ValueError, "max_workers must be greater than 0"),
        (dict(processes=-1), ValueError, "processes must be greater than 0"),
        (dict(maxtasksperchild=0), ValueError, "maxtasksperchild must be a positive int"),
        (dict(max_tasks_per_child=0.5), ValueError, "max_tasks_per_child must be a positive int"),
        (dict(initializer=1), TypeError, "initializer must be a callable"),
        (dict(mp_context=multiprocessing.get_context("forkserver")), ValueError, "fork' or 'spawn"),
        (dict(processes=1, max_workers=1), TypeError, "only one of processes and max_workers"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Pool(**kwargs)


# -- errors as the standard library's ---------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_failed_initializer_fails_tasks_as_broken_pool_in_subprocess(method):
    with Pool(1, start_method=method, initializer=init_fail) as p:
        with pytest.raises(BrokenProcessPool, match="initializer failed.*no init today") as info:
            p.submit(square, 2).result(WAIT)
        assert isinstance(info.value, BrokenWorkersError)
        assert "init_fail" in str(info.value.__cause__), "the initializer's traceback"


def test_dead_worker_is_a_broken_process_pool_error_in_subprocess(pool):
    with pytest.raises(BrokenProcessPool) as info:
        pool.submit(os._exit, 3).result(WAIT)
    assert isinstance(info.value, WorkerDiedError)
    assert pool.submit(square, 5).result(WAIT) == 25, "only that task failed"


# -- what the pool holds on to, and its delivery thread -------------------------------------


class Probe:
    def method(self):
        return "called"


def make_probe(_):
    return Probe()


def test_submitted_callables_and_results_are_not_kept_in_subprocess(pool):
    probe = Probe()
    gone = threading.Event()
    ref = weakref.ref(probe, lambda _: gone.set())
    assert pool.submit(probe.method).result(WAIT) == "called"
    del probe
    assert gone.wait(WAIT), "the pool kept a bound method it was given"
    for obj in pool.map(make_probe, range(3)):
        ref = weakref.ref(obj)
        del obj
        assert ref() is None, "the map iterator kept a result it handed out"
    for results in (
        pool.map(make_probe, range(7), chunksize=3),
        pool.imap(make_probe, range(7), chunksize=3),
        pool.imap_unordered(make_probe, range(7), chunksize=3),
    ):
        for obj in results:
            ref = weakref.ref(obj)
            del obj
            assert ref() is None, "the iterator kept a value of a chunk it handed out"


def test_iterators_go_on_where_a_loop_over_a_chunk_left_off_in_subprocess(pool):
    # A loop hands out a chunk's values from the iterator's own store: breaking out in
    # the middle of a chunk loses none of them, for next() or the next loop.
    for make in (
        lambda: pool.map(square, range(11), chunksize=4),
        lambda: pool.map(pow, range(11), [2] * 11, chunksize=4),
        lambda: pool.imap(square, range(11), chunksize=4),
    ):
        it = make()
        for x in it:
            if x == 1:
                break
        assert next(it) == 4
        assert [x for x in it][:2] == [9, 16]
        assert list(it) == []
    it = pool.imap_unordered(square, range(11), chunksize=4)
    seen = []
    for x in it:
        seen.append(x)
        if len(seen) == 2:
            break
    seen.append(next(it))
    seen.extend(it)
    assert sorted(seen) == [x * x for x in range(11)]


def test_done_callback_that_exits_does_not_stop_delivery_in_subprocess(pool):
    fut = pool.submit(square, 3)
    fut.add_done_callback(lambda f: sys.exit("from a callback"))
    assert fut.result(WAIT) == 9
    assert [pool.submit(square, i).result(WAIT) for i in range(3)] == [0, 1, 4]


def test_submit_from_a_done_callback_in_subprocess(pool):
    inner = []
    done = threading.Event()

    def again(_):
        inner.append(pool.submit(os._exit, 0))
        inner.append(pool.submit(square, 6))
        done.set()

    pool.submit(square, 2).add_done_callback(again)
    assert done.wait(WAIT)
    with pytest.raises(WorkerDiedError, match="exited with code 0"):
        inner[0].result(WAIT)
    assert inner[1].result(WAIT) == 36
