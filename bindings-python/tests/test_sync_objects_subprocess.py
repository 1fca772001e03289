"""Locks and other synchronisation objects (issue #24, section 4): each is stored as a
fresh object of its kind, nothing comes back held by a thread of the dumping process,
and an object holding one works where the stream is loaded by stock pickle with brinery
absent. Semantics in docs/guide.md, "By value or by reference"."""

import functools
import logging
import queue
import sys
import textwrap
import threading

import brinery
from helpers import load_without_brinery


def check_in_child(obj, check_code):
    code = textwrap.dedent(check_code) + "\nprint('done')\n"
    out = load_without_brinery(brinery.dumps(obj), code)
    assert out.strip().endswith("done"), out


def test_held_locks_load_released_and_unowned():
    lock, rlock, cond = threading.Lock(), threading.RLock(), threading.Condition()
    lock.acquire()
    rlock.acquire()
    rlock.acquire()
    cond.acquire()
    py_rlock = threading._PyRLock()
    py_rlock.acquire()
    check_in_child(
        [lock, rlock, cond, py_rlock],
        """
        import threading
        lock, rlock, cond, py_rlock = obj
        assert type(lock) is type(threading.Lock()) and not lock.locked()
        assert type(rlock) is type(threading.RLock())
        assert type(py_rlock) is threading._PyRLock
        got = []
        def other():  # another thread may take each: no thread owns them
            for l in (lock, rlock, cond, py_rlock):
                got.append(l.acquire(blocking=False))
                l.release()
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert got == [True] * 4, got
        """,
    )


def test_objects_holding_locks_work_after_loading():
    class Cache:
        def __init__(self):
            self._lock = threading.Lock()
            self._rlock = threading.RLock()
            self.data = {}

        def put(self, k, v):
            with self._lock, self._rlock, self._rlock:
                self.data[k] = v

    cache = Cache()
    cache.put("a", 1)
    check_in_child(
        {"caches": [cache, cache]},
        """
        a, b = obj["caches"]
        assert a is b and a.data == {"a": 1}
        a.put("b", 2)
        assert a.data == {"a": 1, "b": 2} and not a._lock.locked()
        """,
    )


def test_semaphores_events_conditions_and_barriers_keep_their_data():
    sem = threading.Semaphore(3)
    sem.acquire()
    bounded = threading.BoundedSemaphore(2)
    bounded.acquire()
    on, off = threading.Event(), threading.Event()
    on.set()
    cond = threading.Condition(threading.Lock())
    barrier = threading.Barrier(2, timeout=60)
    check_in_child(
        [sem, bounded, on, off, cond, barrier],
        """
        import threading
        sem, bounded, on, off, cond, barrier = obj
        assert [sem.acquire(blocking=False) for _ in range(3)] == [True, True, False]
        assert bounded.acquire(blocking=False) and not bounded.acquire(blocking=False)
        bounded.release()
        bounded.release()
        try:
            bounded.release()
        except ValueError:
            pass
        else:
            raise AssertionError("a BoundedSemaphore stays bounded")
        assert on.is_set() and not off.is_set()
        assert type(cond._lock) is type(threading.Lock())
        ready = []
        def waiter():
            with cond:
                cond.wait_for(lambda: ready, timeout=60)
            barrier.wait()
        t = threading.Thread(target=waiter)
        t.start()
        with cond:
            ready.append(1)
            cond.notify_all()
        assert barrier.parties == 2 and barrier.n_waiting in (0, 1)
        barrier.wait()
        t.join()
        assert not t.is_alive()
        """,
    )


def test_queues_keep_their_items_and_share_one_mutex():
    q = queue.Queue(maxsize=5)
    for i in range(3):
        q.put(i)
    q.get()
    q.task_done()
    lifo, prio = queue.LifoQueue(), queue.PriorityQueue()
    for i in (2, 1, 3):
        lifo.put(i)
        prio.put(i)
    simple = queue.SimpleQueue()
    for i in range(6):
        simple.put(i)
    for _ in range(4):
        simple.get()
    for i in range(6, 10):
        simple.put(i)
    simple.put(None)
    check_in_child(
        [q, lifo, prio, simple],
        """
        import queue, threading
        q, lifo, prio, simple = obj
        assert q.maxsize == 5 and q.qsize() == 2 and q.unfinished_tasks == 2
        assert q.not_empty._lock is q.mutex is q.not_full._lock is q.all_tasks_done._lock
        def consume():
            while True:
                item = q.get()
                q.task_done()
                if item is None:
                    break
        t = threading.Thread(target=consume)
        t.start()
        q.put(None)
        q.join()
        t.join()
        assert [lifo.get() for _ in range(3)] == [3, 1, 2]
        assert [prio.get() for _ in range(3)] == [1, 2, 3]
        assert type(simple) is queue.SimpleQueue
        assert [simple.get() for _ in range(simple.qsize())] == [4, 5, 6, 7, 8, 9, None]
        """,
    )


def test_logging_handlers_and_loggers():
    class Job:
        def __init__(self):
            self.handler = logging.StreamHandler(sys.stdout)
            self.handler.setFormatter(logging.Formatter("job: %(message)s"))
            self.log = logging.getLogger("brinery.test.job")

    check_in_child(
        Job(),
        """
        import logging
        assert obj.log is logging.getLogger("brinery.test.job")
        obj.log.addHandler(obj.handler)
        obj.log.setLevel(logging.INFO)
        obj.log.propagate = False
        obj.log.info("hello")
        obj.handler.flush()
        """,
    )


def test_cached_property_owner_and_its_lock():
    class Settings:
        def __init__(self):
            self.lock = threading.RLock()

        @functools.cached_property
        def size(self):
            with self.lock:
                return 42

    s = Settings()
    assert s.size == 42
    check_in_child(
        s,
        """
        assert obj.__dict__["size"] == 42 and obj.size == 42
        del obj.size
        assert obj.size == 42
        """,
    )


def test_threads_load_not_started_with_their_target():
    release = threading.Event()
    fresh = threading.Thread(target=print, args=("fresh ran",), name="fresh", daemon=True)
    done = threading.Thread(target=print, args=("done ran",), name="done")
    done.start()
    done.join()
    running = threading.Thread(target=release.wait, name="running")
    running.start()
    try:
        data = brinery.dumps([fresh, done, running])
    finally:
        release.set()
        running.join()
    code = """
    import threading
    fresh, done, running = obj
    for t in obj:
        assert type(t) is threading.Thread and not t.is_alive() and t.ident is None
    assert fresh.name == "fresh" and fresh.daemon and not done.daemon
    fresh.start()
    fresh.join()
    # A finished thread had dropped its target: it loads without one.
    done.start()
    done.join()
    # The running one's target is `release.wait`: the Event loads as it was, clear.
    assert running.name == "running"
    release = running._target.__self__
    assert type(release) is threading.Event and not release.is_set()
    release.set()
    running.start()
    running.join()
    print("done")
    """
    out = load_without_brinery(data, code)
    assert out.split() == ["fresh", "ran", "done"], out
