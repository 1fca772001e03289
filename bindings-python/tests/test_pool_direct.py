"""The short way of ``Pool.submit``, with real worker processes: a task sent straight to an
idle worker is reserved for the thread that waits on its future, which reads the reply
itself. Every other way of waiting for the future (``concurrent.futures.wait`` and
``as_completed``, a done-callback, polling ``done()``, nothing at all until shutdown)
must still get the outcome, and so must a waiter interrupted part way, several threads
waiting on one worker, and work the driver thread queues behind a reserved task. Whatever
the arguments (scalars take a shorter way in), the value, or the task's error, comes back
as sent."""

import concurrent.futures as cf
import os
import signal
import threading
import time

import pytest

from brinery.pool import Fd, Pool, PoolClosedError, WorkerDiedError

WAIT = 30  # seconds; no test may block longer


def slow_square(x, delay=0.2):
    time.sleep(delay)
    return x * x


def write_then_return(fd, x):
    time.sleep(0.1)
    os.write(fd.fileno(), b"!")
    return x


@pytest.fixture
def pool():
    with Pool(1) as p:
        assert p.submit(slow_square, 0, 0).result(WAIT) == 0  # warm, then idle
        yield p


def _by_wait(f):
    done, _ = cf.wait([f], timeout=WAIT)
    return done == {f}


def _by_as_completed(f):
    return list(cf.as_completed([f], timeout=WAIT)) == [f]


def _by_callback(f):
    called = threading.Event()
    f.add_done_callback(lambda _: called.set())
    return called.wait(WAIT)


def _by_polling_done(f):
    deadline = time.monotonic() + WAIT
    while not f.done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.parametrize("observe", [_by_wait, _by_as_completed, _by_callback, _by_polling_done])
def test_every_way_of_waiting_gets_a_reserved_result_in_subprocess(pool, observe):
    f = pool.submit(slow_square, 7)
    assert observe(f)
    assert f.result(0) == 49


def test_a_result_no_one_waits_for_is_delivered_at_shutdown_in_subprocess():
    r, w = os.pipe()
    try:
        with Pool(1) as p:
            f = p.submit(write_then_return, Fd(w), 5)
        assert f.done() and f.result(0) == 5
        assert os.read(r, 1) == b"!"
    finally:
        os.close(r)
        os.close(w)


def test_a_timed_out_wait_hands_the_task_to_other_waiters_in_subprocess(pool):
    f = pool.submit(slow_square, 3, 0.3)
    with pytest.raises(cf.TimeoutError):
        f.result(0)
    with pytest.raises(cf.TimeoutError):
        f.result(0.01)
    assert _by_wait(f) and f.result(0) == 9


def test_an_interrupted_wait_loses_no_result_in_subprocess(pool):
    f = pool.submit(slow_square, 4, 0.5)

    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(KeyboardInterrupt):
            f.result(WAIT)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert _by_as_completed(f) and f.result(0) == 16


def test_work_queued_behind_a_reserved_task_finishes_in_subprocess(pool):
    first = pool.submit(slow_square, 2, 0.1)
    assert list(pool.map(slow_square, range(5), [0] * 5)) == [0, 1, 4, 9, 16]
    assert first.result(WAIT) == 4


def test_threads_waiting_on_the_same_workers_all_get_their_results_in_subprocess():
    with Pool(2) as p:
        out = {}

        def run(k):
            out[k] = [p.submit(slow_square, k * 100 + i, 0).result(WAIT) for i in range(200)]

        threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        assert all(out[k] == [(k * 100 + i) ** 2 for i in range(200)] for k in range(4))


def test_a_worker_dying_under_a_waiting_thread_fails_only_its_task_in_subprocess(pool):
    f = pool.submit(os._exit, 3)
    with pytest.raises(WorkerDiedError):
        f.result(WAIT)
    assert pool.submit(slow_square, 6, 0).result(WAIT) == 36


def test_a_task_timing_out_under_a_waiting_thread_in_subprocess():
    with Pool(1, task_timeout=0.2) as p:
        assert p.submit(slow_square, 1, 0).result(WAIT) == 1
        f = p.submit(slow_square, 2, 5)
        with pytest.raises(TimeoutError):
            f.result(WAIT)
        assert p.submit(slow_square, 3, 0).result(WAIT) == 9


def test_waiting_in_turn_on_tasks_queued_behind_each_other_in_subprocess(pool):
    # The waiting thread reads each result itself; the tasks queued behind must still be
    # handed to the worker it frees (a collect that ends with tasks queued wakes the loop).
    for _ in range(3):
        futs = [pool.submit(slow_square, i, 0) for i in range(300)]
        assert [f.result(WAIT) for f in futs] == [i * i for i in range(300)]


class _Int(int):
    pass


def echo(*args, **kwargs):
    return args, kwargs


def raise_cancelled():
    raise cf.CancelledError("from the task")


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((1, 2.5, "s", None, True, 3j), {}),  # (the short way: scalars, no keywords)
        ((), {}),
        ((1,), {"k": 2}),
        (([1, 2], {"a": (3,)}), {}),
        ((_Int(5),), {}),  # (a subclass of a scalar type takes the long way)
        ((object(),), {}),
    ],
)
def test_submit_sends_any_arguments_and_gets_the_value_back_in_subprocess(pool, args, kwargs):
    for _ in range(2):  # (the first call puts the function on the short way)
        got_args, got_kwargs = pool.submit(echo, *args, **kwargs).result(WAIT)
        assert len(got_args) == len(args) and got_kwargs == kwargs
        for got, sent in zip(got_args, args):
            assert type(got) is type(sent)
            if type(sent) is not object:
                assert got == sent


def test_a_task_error_read_by_the_waiting_thread_in_subprocess(pool):
    f = pool.submit(int, "x")
    with pytest.raises(ValueError) as e:
        f.result(WAIT)
    assert "Traceback" in str(e.value.__cause__)
    assert isinstance(f.exception(0), ValueError)
    # A task raising CancelledError cancels its future, as the driver thread does.
    f = pool.submit(raise_cancelled)
    with pytest.raises(cf.CancelledError):
        f.result(WAIT)
    assert f.cancelled()
    assert pool.submit(slow_square, 5, 0).result(WAIT) == 25


def test_submit_after_shutdown_refuses_also_on_the_short_way_in_subprocess():
    p = Pool(1)
    assert p.submit(slow_square, 2, 0).result(WAIT) == 4
    p.shutdown()
    with pytest.raises(PoolClosedError):
        p.submit(slow_square, 3, 0)


def test_a_future_starts_with_every_field_a_future_has():
    # (AsyncResult sets Future's fields itself: a Python that adds one must not break it)
    from brinery.pool._results import AsyncResult

    f = AsyncResult()
    assert set(vars(cf.Future())) - {"_waiters"} <= set(vars(f))
    assert f._waiters == [] and not f.done() and f.cancel() and f.cancelled()
