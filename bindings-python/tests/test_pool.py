"""brinery.Pool's semantics with real worker processes: the Executor and multiprocessing
calls, values by value from a real ``__main__`` (a script run in a subprocess), globals
that live in the worker, descriptors and shared-memory buffers, Ctrl-C in the parent."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import Executor

import pytest

from brinery.pool import Fd, Pool

METHODS = ["fork", "spawn"]
WAIT = 30


def double(x):
    return 2 * x


def read_fd(f):
    with f:
        return os.read(f.fileno(), 100)


def total(a):
    return float(a.sum()), a.shape


STASH = []


def stash(a):
    STASH.append(a)
    return float(a.sum())


def stashed(_):
    return [(float(a.sum()), a[:2].tolist()) for a in STASH]


def zero_then_total(a):
    total = float(a.sum())
    a[:] = 0  # copy-on-write: neither the parent nor later tasks see this
    return total


@pytest.mark.parametrize("method", METHODS)
def test_executor_and_multiprocessing_calls_in_subprocess(method):
    with Pool(2, start_method=method) as p:
        assert isinstance(p, Executor)
        assert p.submit(double, 21).result(WAIT) == 42
        assert list(p.map(double, range(10))) == [2 * i for i in range(10)]
        assert list(p.map(pow, [2, 3], [3, 2], chunksize=2)) == [8, 9]
        assert p.starmap(pow, [(2, 5), (3, 3)]) == [32, 27]
        assert list(p.imap(double, range(7), chunksize=3)) == [2 * i for i in range(7)]
        assert sorted(p.imap_unordered(double, range(7), chunksize=2)) == [2 * i for i in range(7)]
        r = p.apply_async(double, (4,))
        assert r.get(WAIT) == 8 and r.ready() and r.successful()
        assert p.apply(double, (5,)) == 10


def test_progress_bar_on_stderr_in_subprocess(capfd):
    with Pool(2) as p:
        assert list(p.imap(double, range(100), progress=True)) == [2 * i for i in range(100)]
    assert "100/100" in capfd.readouterr().err


@pytest.mark.parametrize("method", METHODS)
def test_pipe_end_travels_as_fd_in_subprocess(method):
    r, w = os.pipe()
    os.write(w, b"through SCM_RIGHTS")
    os.close(w)
    with Pool(1, start_method=method) as p:
        assert p.submit(read_fd, Fd(r)).result(WAIT) == b"through SCM_RIGHTS"
    os.close(r)


@pytest.mark.parametrize("method", METHODS)
def test_large_numpy_array_goes_through_shared_memory_in_subprocess(method):
    np = pytest.importorskip("numpy")
    a = np.arange(4_000_000, dtype=np.float64)
    with Pool(1, start_method=method) as p:
        assert p.submit(total, a).result(WAIT) == (float(a.sum()), a.shape)
        back = p.submit(lambda x: x * 2, a).result(WAIT)
    assert (back == a * 2).all()


@pytest.mark.parametrize("method", METHODS)
def test_array_stashed_in_a_worker_global_keeps_its_contents_in_subprocess(method):
    np = pytest.importorskip("numpy")
    n = 500_000
    with Pool(1, start_method=method) as p:
        assert p.submit(stash, np.full(n, 3.0)).result(WAIT) == 3.0 * n
        for k in range(8):
            assert p.submit(zero_then_total, np.full(n, float(k))).result(WAIT) == k * n
            # given back with the result (only the stashed array's segment stays lent)
            assert p._core.segment_stats()[0] == 1
        assert p.submit(stash, np.full(n, 5.0)).result(WAIT) == 5.0 * n
        for k in range(8):
            assert p.submit(total, np.full(n, float(k))).result(WAIT) == (k * n, (n,))
        assert p.submit(stashed, None).result(WAIT) == [(3.0 * n, [3.0, 3.0]), (5.0 * n, [5.0, 5.0])]
        lent, cached, reused = p._core.segment_stats()
    assert lent == 2, "the stashed arrays' segments stay with the worker"
    assert reused >= 14, "the other tasks' segments were reused"


def test_many_big_tasks_and_results_are_correct_in_subprocess():
    np = pytest.importorskip("numpy")
    arrays = [np.arange(200_000 + 1000 * i, dtype=np.float64) * (i + 1) for i in range(40)]
    with Pool(2) as p:
        sums = list(p.map(zero_then_total, arrays))
        doubled = list(p.map(lambda a: a * 2, arrays))
        for a in arrays[:10]:  # one at a time, each result dropped: segments come back
            assert (p.submit(lambda a: a + 1, a).result(WAIT) == a + 1).all()
    assert sums == [float(a.sum()) for a in arrays]
    assert all((d == a * 2).all() for d, a in zip(doubled, arrays))
    assert all(a[-1] == (len(a) - 1) * (i + 1) for i, a in enumerate(arrays)), "the parent's arrays are untouched"


MAIN_SCRIPT = textwrap.dedent(
    """
    import sys
    from brinery.pool import Pool

    COUNTER = 0

    def init(value):
        global GREETING
        GREETING = value

    def greet(name):
        return f"{GREETING}, {name}"

    def bump(_):
        global COUNTER
        COUNTER += 1
        return COUNTER

    if __name__ == "__main__":
        class Point:
            def __init__(self, x):
                self.x = x

        def make(x):
            return Point(x)

        def check(p):
            return isinstance(p, Point), p.x

        method = sys.argv[1]
        with Pool(1, start_method=method, initializer=init, initargs=("hello",)) as p:
            assert p.submit(greet, "world").result(30) == "hello, world"
            assert list(p.map(lambda x: x + 1, range(3))) == [1, 2, 3]
            offset = 10
            assert p.submit(lambda x: x + offset, 1).result(30) == 11
            pts = list(p.map(make, range(3)))
            assert all(type(q) is Point for q in pts), [type(q) for q in pts]
            assert list(p.map(check, pts)) == [(True, 0), (True, 1), (True, 2)]
            assert p.submit(check, Point(7)).result(30) == (True, 7)
            # globals persist in the worker across tasks
            assert [p.submit(bump, None).result(30) for _ in range(3)] == [1, 2, 3]
        print("ok")
    """
)


@pytest.mark.parametrize("method", METHODS)
def test_main_script_functions_classes_and_initializer_globals_in_subprocess(tmp_path, method):
    script = tmp_path / "main_script.py"
    script.write_text(MAIN_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), method], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from brinery.pool import Pool

    if __name__ == "__main__":
        # A process started in the background of a non-interactive shell (as CI may be)
        # inherits SIGINT ignored, and Python then keeps it ignored: ask for Ctrl-C's
        # usual meaning, which is what this test is about.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        p = Pool(2, start_method=sys.argv[1])
        print(*p.worker_pids(), flush=True)
        try:
            with p:
                threading.Timer(float(sys.argv[2]), os.kill, (os.getpid(), signal.SIGINT)).start()
                list(p.map(time.sleep, [60] * 4))
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """
)


# The delays put the SIGINT anywhere from before the tasks are submitted to well into the
# wait for their results, including just before the parent blocks waiting (where a wait
# without a bound used to swallow it until a result came, 60 s later).
@pytest.mark.parametrize("delay", [0.0, 0.002, 0.5])
@pytest.mark.parametrize("method", METHODS)
def test_keyboard_interrupt_in_parent_stops_pool_in_subprocess(tmp_path, method, delay):
    script = tmp_path / "interrupt.py"
    script.write_text(INTERRUPT_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), method, str(delay)], capture_output=True, text=True, timeout=50
    )
    lines = out.stdout.split("\n")
    assert "interrupted" in lines, out.stderr
    for pid in map(int, lines[0].split()):
        assert not os.path.exists(f"/proc/{pid}")


def send_over(sock):
    with sock:
        sock.sendall(b"from the worker")
    return "sent"


def write_file(f):
    with f:
        f.write("written by the worker\n")
    return "written"


def conn_roundtrip(conn):
    conn.send(conn.recv() * 2)
    conn.close()
    return "done"


@pytest.mark.parametrize("method", METHODS)
def test_socket_file_and_connection_travel_as_fds_in_subprocess(tmp_path, method):
    import multiprocessing as mp
    import socket

    a, b = socket.socketpair()
    path = tmp_path / "out.txt"
    ours, theirs = mp.Pipe()
    with Pool(1, start_method=method) as p, open(path, "w") as f:
        assert p.submit(send_over, b).result(WAIT) == "sent"
        assert a.recv(100) == b"from the worker"
        assert p.submit(write_file, f).result(WAIT) == "written"
        fut = p.submit(conn_roundtrip, theirs)
        ours.send(21)
        assert ours.recv() == 42
        assert fut.result(WAIT) == "done"
    assert path.read_text() == "written by the worker\n"
    a.close()
    b.close()


QUEUE = None


def keep_queue(q):
    global QUEUE
    QUEUE = q


def put_in_queue(x):
    QUEUE.put(x * 10)
    return True


def test_multiprocessing_queue_in_initargs_is_inherited_under_fork_in_subprocess():
    import multiprocessing as mp

    q = mp.get_context("fork").Queue()
    with Pool(2, initializer=keep_queue, initargs=(q,)) as p:
        assert all(p.map(put_in_queue, range(5)))
        assert sorted(q.get(timeout=WAIT) for _ in range(5)) == [0, 10, 20, 30, 40]


def signal_then_sleep(f):
    with f:
        os.write(f.fileno(), b"!")
    time.sleep(0.5)


def test_shutdown_cancel_futures_in_subprocess():
    import select

    r, w = os.pipe()
    p = Pool(1)
    running = p.submit(signal_then_sleep, Fd(w))
    os.close(w)
    queued = [p.submit(double, i) for i in range(200)]
    assert select.select([r], [], [], WAIT)[0], "the first task never started"
    os.close(r)
    p.shutdown(wait=True, cancel_futures=True)
    assert running.result(WAIT) is None
    assert not running.cancelled(), "a running task is not cancelled"
    cancelled = [f for f in queued if f.cancelled()]
    assert cancelled, "queued tasks are cancelled, as Future.cancel() would"
    assert all(f.done() and f.exception() is None for f in queued if not f.cancelled())


class Unpicklable:
    def __reduce__(self):
        raise TypeError("not today")


def test_map_raises_at_the_unpicklable_item_in_subprocess():
    from brinery.pool import StageError

    with Pool(2) as p:
        it = p.map(double, [1, Unpicklable(), 3])
        assert next(it) == 2
        with pytest.raises(StageError, match="pickling the task in the parent.*not today"):
            next(it)
        assert list(p.map(double, [4, 5])) == [8, 10]


def test_map_timeout_raises_timeout_error_in_subprocess():
    import concurrent.futures as cf

    p = Pool(1)
    # The task sleeps 30 s: only the timeout can end next() with TimeoutError.
    it = p.map(time.sleep, [30], timeout=0.3)
    with pytest.raises(cf.TimeoutError):
        next(it)
    p.terminate()


def test_public_pool_classes_are_pickled_under_brinery_pool():
    # Streams name brinery.pool, the path every brinery version has, never the private
    # module that defines a class; the names older versions wrote still load.
    import pickle
    import pickletools

    import brinery._pool_errors
    import brinery.pool

    for name in ("WorkerDiedError", "BrokenWorkersError", "WaitTimeoutError", "SharedObjectError", "RemoteTraceback"):
        cls = getattr(brinery.pool, name)
        data = pickle.dumps(cls("why"))
        modules = {arg for op, arg, _ in pickletools.genops(data) if op.name in ("SHORT_BINUNICODE", "GLOBAL") and isinstance(arg, str) and arg.startswith("brinery")}
        assert modules == {"brinery.pool"}, (name, modules)
        assert type(pickle.loads(data)) is cls
    assert brinery._pool_errors.WorkerDiedError is brinery.pool.WorkerDiedError
    # The paths brinery wrote before the pool became a package, as an old stream has them
    # (protocol 2 names globals by text, so only the module changes).
    old_cause = pickle.dumps(brinery.pool.RemoteTraceback("tb"), 2).replace(b"brinery.pool\n", b"brinery._results\n")
    assert b"brinery._results\nRemoteTraceback" in old_cause
    cause = pickle.loads(old_cause)
    assert type(cause) is brinery.pool.RemoteTraceback and cause.tb == "tb"
    old_fd = pickle.dumps(brinery.pool.Fd(-1), 2).replace(b"brinery.pool\n", b"brinery._worker_codec\n")
    assert b"brinery._worker_codec\nFd" in old_fd and type(pickle.loads(old_fd)) is brinery.pool.Fd
    fd = brinery.pool.Fd(-1)
    assert b"brinery.pool" in pickle.dumps(fd) and type(pickle.loads(pickle.dumps(fd))) is brinery.pool.Fd


def test_is_plain_sees_into_chunks_of_tuples_and_lists():
    from brinery.pool._codec import THRESHOLD, is_plain

    assert is_plain([(i, str(i), None) for i in range(100)])
    assert is_plain([[1.5, 2], [], ["x"]])
    assert is_plain(list(range(1000)))
    # One item of another kind anywhere in the chunk takes it off the fast path.
    assert not is_plain([(1,), (2,), (len,)])
    assert not is_plain([(1,), (b"x" * THRESHOLD,)])
    assert not is_plain([1, 2, object()])
    assert is_plain([(1,), (b"x",), [2]])
    # Three levels at most, as before.
    assert is_plain([[[1]]])
    assert not is_plain([[[[1]]]])
    assert not is_plain([(1,)], depth=1)
