"""multiprocessing's shared objects (queues, locks, semaphores, events, conditions,
barriers, shared values and arrays, shared memory, manager proxies) passed to pool
workers that are already running, under fork and spawn, with real processes: the same
kernel object on both sides, used at once by the parent and two workers, returned,
and surviving a worker killed while using it. Every wait is bounded."""

import gc
import os
import signal

import pytest

import brinery
from brinery.pool import Pool, SharedObjectError, StageError, WorkerDiedError, context

METHODS = ["fork", "spawn"]
WAIT = 30


@pytest.fixture(scope="module", params=METHODS)
def pool(request):
    with Pool(2, start_method=request.param) as p:
        yield p


# -- what workers do -----------------------------------------------------------------


def put(q, x):
    q.put(x)
    return True


def put_and_flush(q, x):
    q.put(x)
    q.close()
    q.join_thread()  # written to the pipe before the task returns (and a kill may follow)
    return True


def send(conn, x):
    conn.send(x)
    return True


def try_acquire(lock):
    if not lock.acquire(block=False):
        return False
    lock.release()
    return True


def acquire_and_release(sem, n):
    for _ in range(n):
        sem.acquire(timeout=WAIT)
    for _ in range(n):
        sem.release()
    return True


def wait_for_event(ready, event):
    ready.set()
    return event.wait(WAIT)


def wait_for_value(cond, v):
    with cond:
        return cond.wait_for(lambda: v.value == 7, WAIT)


def cross_barrier(barrier):
    return barrier.wait(WAIT) is not None


def write_shared(v, a, rv, ra):
    v.value = 11
    a[1] = 22
    rv.value = 33
    ra[2] = 44
    return True


def write_shm(shm, sl):
    shm.buf[0] = 99
    sl[0] = "from the worker"
    shm.close()
    sl.shm.close()
    return True


def append(proxy, x):
    proxy.append(x)
    return len(proxy)


def identity(x):
    return x


def consume(tasks, results, lock, total, n):
    for _ in range(n):
        x = tasks.get(timeout=WAIT)
        results.put(x * 2)
        with lock:  # a read-modify-write: only exclusion keeps the count exact
            total.value = total.value + 1
    return True


def drain(jq, n):
    for _ in range(n):
        jq.get(timeout=WAIT)
        jq.task_done()
    return True


def take_lock_and_die(lock):
    lock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)


def open_fds(_=None):
    return len(os.listdir("/proc/self/fd"))


# -- each kind, passed to a running worker -------------------------------------------


def test_queues_and_pipes_reach_a_running_worker_in_subprocess(pool):
    ctx = context()
    q, sq, jq = ctx.Queue(), ctx.SimpleQueue(), ctx.JoinableQueue()
    ours, theirs = ctx.Pipe()
    assert pool.submit(put, q, 1).result(WAIT)
    assert pool.submit(put, sq, 2).result(WAIT)
    assert pool.submit(put, jq, 3).result(WAIT)
    assert pool.submit(send, theirs, 4).result(WAIT)
    assert (q.get(timeout=WAIT), sq.get(), jq.get(timeout=WAIT), ours.recv()) == (1, 2, 3, 4)
    jq.task_done()


@pytest.mark.parametrize("kind", ["Lock", "RLock", "Semaphore", "BoundedSemaphore"])
def test_a_lock_taken_in_the_parent_excludes_the_worker_in_subprocess(pool, kind):
    lock = getattr(context(), kind)()
    with lock:
        assert pool.submit(try_acquire, lock).result(WAIT) is False
    assert pool.submit(try_acquire, lock).result(WAIT) is True


def test_a_semaphore_counts_across_processes_in_subprocess(pool):
    sem = context().Semaphore(3)
    sem.acquire()
    assert pool.submit(acquire_and_release, sem, 2).result(WAIT)
    assert sem.get_value() == 2
    sem.release()


def test_event_condition_and_barrier_wake_a_waiting_worker_in_subprocess(pool):
    ctx = context()
    ready, event = ctx.Event(), ctx.Event()
    fut = pool.submit(wait_for_event, ready, event)
    assert ready.wait(WAIT), "the worker never started waiting"
    event.set()
    assert fut.result(WAIT) is True

    cond, v = ctx.Condition(), ctx.Value("i", 0)
    fut = pool.submit(wait_for_value, cond, v)
    with cond:
        v.value = 7
        cond.notify_all()
    assert fut.result(WAIT) is True

    barrier = ctx.Barrier(2)
    fut = pool.submit(cross_barrier, barrier)
    assert barrier.wait(WAIT) is not None
    assert fut.result(WAIT) is True


def test_values_and_arrays_are_shared_not_copied_in_subprocess(pool):
    ctx = context()
    v, a = ctx.Value("i", 0), ctx.Array("i", 3)
    rv, ra = ctx.RawValue("d", 0.0), ctx.RawArray("q", 4)
    assert pool.submit(write_shared, v, a, rv, ra).result(WAIT)
    assert (v.value, a[:], rv.value, ra[:]) == (11, [0, 22, 0], 33.0, [0, 0, 44, 0])


def test_shared_memory_and_shareable_list_in_subprocess(pool):
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(create=True, size=16)
    sl = shared_memory.ShareableList(["x" * 20, 1])
    try:
        assert pool.submit(write_shm, shm, sl).result(WAIT)
        assert pool.submit(write_shm, shm, sl).result(WAIT)  # not unlinked by the first
        assert shm.buf[0] == 99 and sl[0] == "from the worker"
    finally:
        for s in (shm, sl.shm):
            s.close()
            s.unlink()


def test_manager_proxies_keep_working_in_subprocess(pool):
    import multiprocessing as mp

    with mp.get_context("spawn").Manager() as m:
        items = m.list()
        assert pool.submit(append, items, "a").result(WAIT) == 1
        assert pool.submit(append, items, "b").result(WAIT) == 2
        assert list(items) == ["a", "b"]


# -- nested, returned, in initargs ---------------------------------------------------


def test_objects_nested_in_arguments_and_returned_are_the_same_in_subprocess(pool):
    ctx = context()
    q, lock, v = ctx.Queue(), ctx.Lock(), ctx.Value("i", 5)
    back = pool.submit(identity, {"jobs": [q, (lock, v)]}).result(WAIT)
    q2, (lock2, v2) = back["jobs"]
    q2.put("through the returned queue")
    assert q.get(timeout=WAIT) == "through the returned queue"
    with lock2:
        assert not lock.acquire(block=False)
    v2.value = 6
    assert v.value == 6


SHARED = None


def keep(*objects):
    global SHARED
    SHARED = objects


def use_kept(x):
    q, lock, v = SHARED
    with lock:
        v.value += x
    q.put(x)
    return True


@pytest.mark.parametrize("method", METHODS)
def test_objects_in_initargs_in_subprocess(method):
    ctx = context()
    q, lock, v = ctx.Queue(), ctx.Lock(), ctx.Value("i", 0, lock=False)
    with Pool(2, start_method=method, initializer=keep, initargs=(q, lock, v)) as p:
        assert all(p.map(use_kept, range(1, 11)))
    assert sorted(q.get(timeout=WAIT) for _ in range(10)) == list(range(1, 11))
    assert v.value == 55


# -- concurrent use ------------------------------------------------------------------


def test_parent_and_two_workers_share_a_queue_a_lock_and_a_value_in_subprocess(pool):
    ctx = context()
    tasks, results, lock, total = ctx.Queue(), ctx.Queue(), ctx.Lock(), ctx.Value("i", 0, lock=False)
    n = 200
    futs = [pool.submit(consume, tasks, results, lock, total, n) for _ in range(2)]
    for i in range(2 * n):
        tasks.put(i)
        if i % 10 == 0:
            with lock:
                total.value = total.value + 1
    assert all(f.result(WAIT) for f in futs)
    assert sorted(results.get(timeout=WAIT) for _ in range(2 * n)) == [2 * i for i in range(2 * n)]
    assert total.value == 2 * n + 2 * n // 10


def test_joinable_queue_join_returns_when_workers_are_done_in_subprocess(pool):
    jq = context().JoinableQueue()
    for i in range(20):
        jq.put(i)
    futs = [pool.submit(drain, jq, 10) for _ in range(2)]
    jq.join()  # returns only once the workers' task_done() calls add up to 20
    assert all(f.result(WAIT) for f in futs)


# -- faults and lifetimes ------------------------------------------------------------


def test_a_lock_held_by_a_killed_worker_is_released_by_the_parent_in_subprocess(pool):
    ctx = context()
    lock, q = ctx.Lock(), ctx.Queue()
    with pytest.raises(WorkerDiedError, match="SIGKILL"):
        pool.submit(take_lock_and_die, lock).result(WAIT)
    assert not lock.acquire(block=False), "the dead worker's lock stays taken"
    lock.release()  # as the guide says: the parent gives it back
    assert pool.submit(try_acquire, lock).result(WAIT) is True
    assert pool.submit(put, q, "still working").result(WAIT)
    assert q.get(timeout=WAIT) == "still working"


def test_a_fork_context_lock_made_after_the_workers_is_refused_clearly_in_subprocess():
    import multiprocessing as mp

    with Pool(1, start_method="spawn") as p:
        lock = mp.get_context("fork").Lock()
        with pytest.raises(StageError, match=r"args\[1\]\['lock'\].*'fork' context.*brinery.pool.context"):
            p.submit(try_acquire, 1, {"lock": lock}).result(WAIT)
    with Pool(1, start_method="fork") as p:
        lock = mp.get_context("fork").Lock()  # made after the worker was forked
        with pytest.raises(StageError, match="'fork' context.*not forked after it.*brinery.pool.context"):
            p.submit(try_acquire, lock).result(WAIT)


def test_fork_context_objects_made_before_a_fork_pool_are_inherited_in_subprocess():
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q, lock = ctx.Queue(), ctx.Lock()
    with Pool(2, start_method="fork") as p:
        with lock:
            assert p.submit(try_acquire, lock).result(WAIT) is False
        assert p.submit(put, q, "inherited").result(WAIT)
        assert q.get(timeout=WAIT) == "inherited"
        assert p.submit(identity, lock).result(WAIT) is not None


def _inheritance_only_objects():
    """Every kind that can cross only inside a pool, as ``(name, object)``."""
    ctx = context()
    ours, theirs = ctx.Pipe()
    return [
        ("Queue", ctx.Queue()),
        ("SimpleQueue", ctx.SimpleQueue()),
        ("JoinableQueue", ctx.JoinableQueue()),
        ("Lock", ctx.Lock()),
        ("RLock", ctx.RLock()),
        ("Semaphore", ctx.Semaphore(2)),
        ("BoundedSemaphore", ctx.BoundedSemaphore(2)),
        ("Event", ctx.Event()),
        ("Condition", ctx.Condition()),
        ("Barrier", ctx.Barrier(2)),
        ("Synchronized", ctx.Value("i", 1)),
        ("SynchronizedArray", ctx.Array("i", 3)),
        ("Connection", ours),
        ("RawValue", ctx.RawValue("i", 1)),
        ("RawArray", ctx.RawArray("i", 3)),
        ("RawArray of doubles", ctx.RawArray("d", [1.5, 2.5])),
    ]


@pytest.mark.parametrize("name, obj", _inheritance_only_objects(), ids=lambda x: x if isinstance(x, str) else "")
def test_plain_dumps_refuses_each_shared_object_with_its_path(name, obj):
    import io

    from brinery.pool import SharedObjectError

    for dump in (lambda o: brinery.dumps(o), lambda o: brinery.Pickler(io.BytesIO()).dump(o)):
        with pytest.raises(SharedObjectError) as info:
            dump({"jobs": [1, (obj,)]})
        e = info.value
        assert isinstance(e, brinery.PicklingError) and isinstance(e, RuntimeError)
        text = str(e)
        # Where it is, what it is, why, and the fix. (A RawValue/RawArray is refused at
        # its shared buffer, one step inside it.)
        assert text.startswith("obj['jobs'][1][0]"), text
        if name.startswith("Raw"):
            assert "RawValue, RawArray" in text, text
        else:
            assert f": cannot pickle a multiprocessing.{name}:" in text, text
        assert "a byte stream cannot carry a descriptor" in text, text
        assert "brinery.Pool task" in text, text


def test_plain_dumps_keeps_what_crosses_by_name():
    import ctypes
    import pickle
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(create=True, size=8)
    try:
        again = pickle.loads(brinery.dumps(shm))  # by name, as pickle stores it
        assert again.name == shm.name
        again.close()
    finally:
        shm.close()
        shm.unlink()
    # A plain ctypes object is not shared memory: stored as a copy, as pickle does.
    assert pickle.loads(brinery.dumps(ctypes.c_int(5))).value == 5
    # So is a plain ctypes array, whose made-up type (c_int * 3) is made again by the
    # loader, even when a RawArray of the same type exists (ctypes caches array types).
    context().RawArray("i", 3)
    grid = ((ctypes.c_double * 2) * 2)((1.0, 2.0), (3.0, 4.0))
    again = pickle.loads(brinery.dumps({"grid": grid, "row": (ctypes.c_int * 3)(7, 8, 9)}))
    assert [list(r) for r in again["grid"]] == [[1.0, 2.0], [3.0, 4.0]]
    assert list(again["row"]) == [7, 8, 9] and type(again["row"]) is ctypes.c_int * 3


# -- descriptors under load -----------------------------------------------------------

TASKS = 10_000


def use_queue_and_lock(q, lock, i):
    """A task carrying the same queue and lock as every other: takes the lock, puts into
    the queue now and then, and reports this worker's descriptors while it runs."""
    with lock:
        pass
    if i % 1000 == 0:
        q.put(i)
    return os.getpid(), open_fds()


def test_descriptors_stay_bounded_over_10000_tasks_carrying_a_queue_and_a_lock_in_subprocess(pool):
    ctx = context()
    q, lock = ctx.Queue(), ctx.Lock()
    assert all(pool.map(use_queue_and_lock, [q] * 8, [lock] * 8, range(1, 9)))
    parent_before = open_fds()
    workers_before = {}
    for pid, n in pool.map(use_queue_and_lock, [q] * 64, [lock] * 64, range(1, 65)):
        workers_before[pid] = min(n, workers_before.get(pid, n))
    # No collection anywhere from here on: descriptors must go when their objects do.
    parent_peak = parent_before
    workers_peak = {}
    results = pool.map(use_queue_and_lock, [q] * TASKS, [lock] * TASKS, range(TASKS))
    for k, (pid, n) in enumerate(results):
        workers_peak[pid] = max(n, workers_peak.get(pid, n))
        if k % 100 == 0:
            parent_peak = max(parent_peak, open_fds())
    assert sorted(q.get(timeout=WAIT) for _ in range(TASKS // 1000)) == list(range(0, TASKS, 1000))
    assert set(workers_peak) <= set(workers_before), "a worker was replaced"
    growth = {pid: workers_peak[pid] - workers_before[pid] for pid in workers_peak}
    # What remains is bounded by design, not by the task count: a worker holds the
    # descriptors of the tasks queued at it, at most the pool's budget (128 each for two
    # workers; 6,400 when each task's copy of the queue kept its own, 460 before the
    # budget); the parent one duplicate of each pipe end while tasks passing it wait (it
    # was a copy per task in map's window: 8,192).
    assert max(growth.values()) <= 160, (workers_before, workers_peak)
    assert parent_peak <= parent_before + 16, (parent_before, parent_peak)
    # And back where they started once the run is over.
    after = {}
    for pid, n in pool.map(use_queue_and_lock, [q] * 64, [lock] * 64, range(1, 65)):
        after[pid] = min(n, after.get(pid, n))
    assert all(after[pid] <= workers_before.get(pid, after[pid]) for pid in after), (workers_before, after)
    assert open_fds() <= parent_before, (parent_before, open_fds())


# -- a lock held by a worker that dies ------------------------------------------------


def take_and_die(what, spare):
    lock = what["guard"]
    lock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("kind", ["Lock", "RLock", "BoundedSemaphore", "Condition"])
def test_the_death_of_a_task_holding_a_lock_names_the_lock_in_subprocess(pool, kind):
    ctx = context()
    lock, spare, q = getattr(ctx, kind)(), ctx.Lock(), ctx.Queue()
    with pytest.raises(WorkerDiedError) as info:
        pool.submit(take_and_die, {"guard": lock}, spare).result(WAIT)
    text = str(info.value)
    assert "SIGKILL" in text
    assert f"args[0]['guard'] (a multiprocessing.{kind})" in text, text
    assert "release" in text and "guide" in text, text
    assert "args[1]" not in text, "a lock the task never took is not named"
    # As the guide says: a Lock or a semaphore the parent releases, and the workers go on
    # with it; an RLock (a Condition's lock by default) only its owner can release.
    inner = lock._lock if kind == "Condition" else lock
    assert not inner.acquire(block=False), "the dead worker's lock stays taken"
    if kind in ("Lock", "BoundedSemaphore"):
        inner.release()
        assert pool.submit(try_acquire, inner).result(WAIT) is True
    else:
        with pytest.raises(AssertionError, match="not owned"):
            inner.release()
    assert pool.submit(put, q, "still working").result(WAIT)
    assert q.get(timeout=WAIT) == "still working"


SCRIPT = """
import sys
from brinery.pool import Pool, WorkerDiedError, context
sys.path.insert(0, {here!r})
from test_pool_shared import put_and_flush, take_lock_and_die

if __name__ == "__main__":
    ctx = context()
    q, lock = ctx.Queue(), ctx.Lock()
    # (private, for this check only: the names multiprocessing gave the semaphores)
    print(" ".join(s._semlock.name for s in (q._rlock, q._wlock, q._sem, lock)), flush=True)
    with Pool(2, start_method=sys.argv[1]) as p:
        assert p.submit(put_and_flush, q, 1).result(30)
        try:
            p.submit(take_lock_and_die, lock).result(30)
        except WorkerDiedError:
            pass
        assert q.get(timeout=30) == 1
"""


@pytest.mark.parametrize("method", METHODS)
def test_no_semaphore_name_is_left_after_shutdown_and_a_killed_worker_in_subprocess(tmp_path, method):
    import subprocess
    import sys

    script = tmp_path / "names.py"
    script.write_text(SCRIPT.format(here=os.path.dirname(__file__)))
    out = subprocess.run([sys.executable, str(script), method], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    names = out.stdout.decode().split()
    assert len(names) == 4
    assert not [n for n in names if os.path.exists("/dev/shm/sem." + n.lstrip("/"))]
