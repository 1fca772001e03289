"""``brinery.Pool``: a process pool that is a ``concurrent.futures.Executor`` and speaks
``multiprocessing.Pool``'s calls too.

Workers are forked (``start_method="fork"``, through ``os.fork()`` so Python's fork
hooks run) or spawned as fresh interpreters (``"spawn"``) by the Rust crate
``brinery-pool``, which supervises them: a worker that dies fails only the task it was
running, with an error naming the exit code or signal and the stage the task was in, and
is replaced. Tasks travel as brinery pickles: functions and classes that plain pickle can
only name (``__main__``, lambdas, closures) go by value, once per worker; their globals
live in the worker for its whole life (what the initializer sets with ``global`` is seen
by later tasks). OS resources travel as file descriptors; large buffers through shared
memory.

``map`` follows ``Executor.map``: it submits everything at once and returns an iterator
of results in order (``list(pool.map(f, xs))`` is ``multiprocessing.Pool.map``).
``imap``/``imap_unordered`` submit lazily; ``starmap`` returns a list; ``apply_async`` and
``submit`` return an ``AsyncResult``, a ``concurrent.futures.Future`` that also has
``get``/``wait``/``ready``/``successful``.

Raw descriptors (``os.pipe()`` ends are ints) must be wrapped as ``brinery.pool.Fd(fd)``
to be passed; sockets, open files and ``multiprocessing.connection.Connection`` objects
are recognised as they are. The worker gets its own duplicate, wrapped the same way.
"""

import collections
import concurrent.futures as _cf
import itertools
import os
import sys
import threading
import time

from . import _worker
from ._brinery import PoolCore
from ._errors import BrokenWorkersError, PoolError, RemoteError, StageError, WorkerDiedError
from ._worker import CALL, CHUNK, INIT_DEF, STARCHUNK
import pickle
import types

from ._worker_codec import FAST, FULL, Decoder, Encoder, Fd, close_unclaimed, is_plain, make_encoder, wants_by_value

__all__ = [
    "AsyncResult",
    "BrokenWorkersError",
    "Fd",
    "Pool",
    "PoolError",
    "RemoteError",
    "StageError",
    "WorkerDiedError",
]

STAGE_NAMES = [
    "idle",
    "receiving the task",
    "unpickling the task",
    "running the task",
    "pickling the result",
    "sending the result",
    "running the initializer",
]

# Chunks submitted ahead of the consumer by imap/imap_unordered.
_WINDOW = 4096

# A message with nothing besides its main stream: no other buffers, no descriptors.
_NOTHING = ((), ())


class _RemoteTraceback(Exception):
    def __init__(self, tb):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return "\n" + self.tb


class AsyncResult(_cf.Future):
    """A ``Future`` with ``multiprocessing``'s ``AsyncResult`` methods."""

    def __init__(self, pool=None):
        super().__init__()
        self._pool = pool
        self._tid = None

    def get(self, timeout=None):
        return self.result(timeout)

    def wait(self, timeout=None):
        try:
            self.exception(timeout)
        except (_cf.TimeoutError, _cf.CancelledError):
            pass

    def ready(self):
        return self.done()

    def successful(self):
        if not self.done():
            raise ValueError("result is not ready")
        return not self.cancelled() and self.exception() is None

    def cancel(self):
        cancelled = super().cancel()
        if cancelled and self._pool is not None and self._tid is not None:
            self._pool._core.cancel(self._tid)
        return cancelled


class _Batch:
    """Results of one map/imap call, filled by the driver thread."""

    __slots__ = ("results", "arrived", "cond", "waiting")

    def __init__(self, n=0):
        self.results = [None] * n
        self.arrived = collections.deque()
        self.cond = threading.Condition(threading.Lock())
        self.waiting = False


class _TaskEncoder(Encoder):
    def setup(self, pool):
        self.pool = pool
        self.needs = []
        self.inband = False

    def def_ref(self, obj):
        pool = self.pool
        hit = pool._defs_by_obj.get(id(obj))
        if hit is None or hit[0] is not obj:
            if not wants_by_value(obj):
                return None
            hit = pool._define(obj)
        self.needs.append(hit[1])
        self.needs.extend(hit[2])
        return ("brinery.def", hit[1])


class _ParentSide:
    def __init__(self, pool):
        self.pool = pool

    def load_def(self, n):
        raise LookupError("definitions are for workers")

    def load_ref(self, n):
        return self.pool._defs[n][0]


class Pool(_cf.Executor):
    """A process pool; see the module documentation."""

    def __init__(
        self,
        processes=None,
        *,
        start_method="fork",
        initializer=None,
        initargs=(),
        max_tasks_per_child=None,
        task_timeout=None,
    ):
        if processes is None:
            processes = os.cpu_count() or 1
        if processes < 1:
            raise ValueError("processes must be at least 1")
        if start_method not in ("fork", "spawn"):
            raise ValueError("start_method must be 'fork' or 'spawn'")
        if max_tasks_per_child is not None and max_tasks_per_child < 1:
            raise ValueError("max_tasks_per_child must be at least 1")
        self._processes = processes
        self._start_method = start_method
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._sinks = {}
        self._orphans = {}
        self._sink_lock = threading.Lock()
        self._enc_lock = threading.RLock()
        self._defs = {}
        self._defs_by_obj = {}
        self._fast_refs = {}
        self._next_def = itertools.count(1)
        self._base_needs = []
        self._parent_side = _ParentSide(self)
        self._encoder = make_encoder(_TaskEncoder, True, self)
        self._closing = False
        self._terminating = False
        self._core = None
        self._early_defs = []
        if start_method == "spawn" and initializer is not None:
            with self._enc_lock:
                enc = make_encoder(_TaskEncoder, True, self)
                enc.inband = True
                main, bufs, fds = enc.encode((initializer, self._initargs))
                if bufs or fds:
                    raise ValueError("initargs cannot carry descriptors or large buffers under spawn")
                self._pending_init = main
                self._base_needs = [INIT_DEF, *enc.needs]
        started = threading.Event()
        failure = []
        self._driver = threading.Thread(
            target=self._drive,
            args=(started, failure, max_tasks_per_child, task_timeout),
            name="brinery-pool-driver",
            daemon=True,
        )
        self._driver.start()
        started.wait()
        if failure:
            raise failure[0]

    # -- the driver thread ------------------------------------------------------------

    def _drive(self, started, failure, max_tasks_per_child, task_timeout):
        # Workers are started (and restarted) from this thread only: PR_SET_PDEATHSIG
        # follows the thread that forked, and this thread lives as long as the pool.
        try:
            kwargs = dict(
                max_tasks_per_child=max_tasks_per_child,
                task_timeout=task_timeout,
                stage_names=STAGE_NAMES,
            )
            if self._start_method == "fork":
                core = PoolCore(self._processes, fork=self._fork, **kwargs)
            else:
                env = [("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))]
                argv = [sys.executable, "-c", "from brinery._worker import main; main()"]
                core = PoolCore(self._processes, spawn=argv, env=env, **kwargs)
            for n, blob in self._early_defs:
                core.define(n, blob)
            if self._base_needs:
                core.define(INIT_DEF, self._pending_init)
            self._core = core
        except BaseException as e:  # noqa: BLE001 - re-raised by __init__
            failure.append(e)
            started.set()
            return
        started.set()
        while True:
            if self._terminating:
                self._deliver(core.shutdown(True))
                break
            if self._closing and not self._sinks:
                self._deliver(core.shutdown(False))
                break
            outs = core.wait(None)
            if outs:
                self._deliver(outs)

    def _fork(self, sock, stage, parent_only):
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            _worker.serve_forked(sock, stage, parent_only, parent, self._initializer, self._initargs)
        return pid

    def _deliver(self, outs):
        touched = []
        with self._sink_lock:
            sinks = self._sinks
            pairs = []
            for out in outs:
                sink = sinks.pop(out[0], None)
                if sink is None:
                    self._orphans[out[0]] = out
                else:
                    pairs.append((sink, out))
        for sink, out in pairs:
            if type(sink) is tuple:
                batch, i = sink
                batch.results[i] = out
                batch.arrived.append(i)
                if batch.waiting:
                    touched.append(batch)
            else:
                self._settle(sink, out)
        for batch in set(touched):
            with batch.cond:
                batch.cond.notify_all()

    def _settle(self, fut, out):
        if fut.cancelled():
            return
        try:
            value = self._decode(out)
        except BaseException as e:  # noqa: BLE001
            fut.set_exception(e)
        else:
            fut.set_result(value)

    # -- encoding and decoding --------------------------------------------------------

    def _define(self, obj):
        n = next(self._next_def)
        entry = (obj, n, [])
        self._defs[n] = entry
        self._defs_by_obj[id(obj)] = entry
        enc = make_encoder(_TaskEncoder, True, self)
        enc.inband = True
        enc.defining = obj
        try:
            main, bufs, fds = enc.encode(obj)
            if bufs or fds:
                raise ValueError("a function or class sent by value cannot hold descriptors or large buffers")
        except BaseException:
            del self._defs[n]
            del self._defs_by_obj[id(obj)]
            raise
        entry[2].extend(enc.needs)
        if self._core is None:  # the spawn initializer, encoded before the pool starts
            self._early_defs.append((n, main))
        else:
            self._core.define(n, main)
        return entry

    def _send(self, kind, fn, payload, sink):
        if self._closing:
            raise RuntimeError("cannot schedule new futures after shutdown")
        with self._enc_lock:
            try:
                ref = self._fast_ref(fn)
                if ref is not None and is_plain(payload):
                    main = pickle.dumps((kind, ref[0], payload), 5)
                    tid = self._core.submit([main], (), ref[1])
                else:
                    enc = self._encoder
                    enc.needs = list(self._base_needs)
                    main, bufs, fds = enc.encode((kind, fn, payload))
                    tid = self._core.submit([FULL + main, *bufs], fds, enc.needs)
            except BaseException as e:
                raise StageError("pickling the task in the parent", f"{type(e).__name__}: {e}") from e
        with self._sink_lock:
            out = self._orphans.pop(tid, None)
            if out is None:
                self._sinks[tid] = sink
        if out is not None:
            self._sinks[tid] = sink
            self._deliver([out])
        return tid

    def _send_many(self, kind, fn, payloads, batch, first):
        """Submits ``payloads`` (results go to ``batch`` from index ``first``); returns
        the task ids, ``None`` for one that could not be pickled (its error is stored in
        the batch and nothing after it is sent)."""
        if self._closing:
            raise RuntimeError("cannot schedule new futures after shutdown")
        core = self._core
        tids = []
        with self._enc_lock:
            ref = self._fast_ref(fn)
            if ref is not None:
                # The plain ones up front go in one call, as stock pickles.
                mains = []
                for payload in payloads:
                    if not is_plain(payload):
                        break
                    mains.append(pickle.dumps((kind, ref[0], payload), 5))
                if mains:
                    start = core.submit_many(mains, ref[1])
                    tids.extend(range(start, start + len(mains)))
                    payloads = payloads[len(mains) :]
            for payload in payloads:
                try:
                    if ref is not None and is_plain(payload):
                        tids.append(core.submit([pickle.dumps((kind, ref[0], payload), 5)], (), ref[1]))
                        continue
                    enc = self._encoder
                    enc.needs = list(self._base_needs)
                    main, bufs, fds = enc.encode((kind, fn, payload))
                    tids.append(core.submit([FULL + main, *bufs], fds, enc.needs))
                except BaseException as e:
                    err = StageError("pickling the task in the parent", f"{type(e).__name__}: {e}")
                    err.__cause__ = e
                    batch.results[first + len(tids)] = (None, False, "parent", err)
                    tids.append(None)
                    break
        late = []
        with self._sink_lock:
            sinks, orphans = self._sinks, self._orphans
            for i, tid in enumerate(tids, first):
                if tid is None:
                    continue
                out = orphans.pop(tid, None) if orphans else None
                if out is None:
                    sinks[tid] = (batch, i)
                else:
                    sinks[tid] = (batch, i)
                    late.append(out)
        if late:
            self._deliver(late)
        return tids

    def _fast_ref(self, fn):
        """``(what the fast path pickles for fn, definitions needed)``, or None when fn
        needs the full encoder. Cached per function object."""
        hit = self._fast_refs.get(id(fn))
        if hit is not None and hit[0] is fn:
            return hit[1]
        t = type(fn)
        ref = None
        if t is types.FunctionType or t is types.BuiltinFunctionType:
            if t is types.FunctionType and wants_by_value(fn):
                entry = self._defs_by_obj.get(id(fn))
                if entry is None or entry[0] is not fn:
                    entry = self._define(fn)
                ref = (entry[1], [*self._base_needs, entry[1], *entry[2]])
            else:
                ref = (fn, list(self._base_needs))
        self._fast_refs[id(fn)] = (fn, ref)
        return ref

    def _decode(self, out):
        tid, ok, main, extra = out
        if not ok:
            if tid is None:  # the task could not even be pickled (see _send_many)
                raise extra
            raise _error(main, extra)
        bufs, fds = _NOTHING if extra is None else extra
        try:
            if main[0] == FAST:
                r = pickle.loads(main)
            else:
                r = Decoder(memoryview(main)[1:], bufs, fds, self._parent_side).load()
        except BaseException as e:
            raise StageError("unpickling the result in the parent", f"{type(e).__name__}: {e}") from e
        finally:
            if fds:
                close_unclaimed(fds)
        if r[0]:
            return r[1]
        exc = r[1]
        exc.__cause__ = _RemoteTraceback(r[2])
        raise exc

    # -- Executor API -----------------------------------------------------------------

    def submit(self, fn, /, *args, **kwargs):
        fut = AsyncResult(self)
        try:
            fut._tid = self._send(CALL, fn, (args, kwargs), fut)
        except StageError as e:
            fut.set_exception(e)
        return fut

    def map(self, fn, *iterables, timeout=None, chunksize=1, progress=False):
        """Results of ``fn(*args)`` for each ``args`` in ``zip(*iterables)``, in order, as
        an iterator (everything is submitted at once, as ``Executor.map`` does)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        items = list(zip(*iterables))
        return self._ordered(fn, STARCHUNK, iter(items), len(items), chunksize, deadline, progress, window=None)

    def imap(self, fn, iterable, chunksize=1, *, progress=False):
        """Like ``multiprocessing.Pool.imap``: lazily submitted, results in order."""
        n = len(iterable) if hasattr(iterable, "__len__") else None
        return self._ordered(fn, CHUNK, iter(iterable), n, chunksize, None, progress, window=_WINDOW)

    def imap_unordered(self, fn, iterable, chunksize=1):
        """Like ``multiprocessing.Pool.imap_unordered``: results as they complete."""
        return self._unordered(fn, iter(iterable), chunksize)

    def starmap(self, fn, iterable, chunksize=1):
        """Like ``multiprocessing.Pool.starmap``: a list of ``fn(*args)``."""
        items = list(iterable)
        return list(self._ordered(fn, STARCHUNK, iter(items), len(items), chunksize, None, False, None))

    def apply_async(self, fn, args=(), kwds=None, callback=None, error_callback=None):
        fut = self.submit(fn, *args, **(kwds or {}))
        if callback is not None or error_callback is not None:

            def done(f):
                if f.cancelled():
                    return
                e = f.exception()
                if e is None:
                    if callback is not None:
                        callback(f.result())
                elif error_callback is not None:
                    error_callback(e)

            fut.add_done_callback(done)
        return fut

    def apply(self, fn, args=(), kwds=None):
        return self.apply_async(fn, args, kwds).get()

    def _ordered(self, fn, kind, it, n, chunksize, deadline, progress, window):
        if chunksize < 1:
            raise ValueError("chunksize must be at least 1")
        if kind == STARCHUNK and chunksize == 1:
            kind = CALL
        batch = _Batch()
        chunks = _chunks(it, chunksize)
        tids = []
        sizes = []

        def submit_some(limit):
            todo = list(itertools.islice(chunks, limit))
            if not todo:
                return
            first = len(batch.results)
            batch.results.extend([None] * len(todo))
            sizes.extend(map(len, todo))
            payloads = [(c[0], {}) for c in todo] if kind == CALL else todo
            sent = self._send_many(kind, fn, payloads, batch, first)
            tids.extend(sent)
            if len(sent) < len(todo):  # a pickling error: stop where it happened
                del batch.results[first + len(sent) :]
                del sizes[first + len(sent) :]

        submit_some(window)
        bar = _Progress(n) if progress else None
        i = 0
        try:
            while i < len(batch.results):
                out = batch.results[i]
                if out is None:
                    out = self._await(batch, i, deadline)
                batch.results[i] = None
                if window is not None:
                    submit_some(1)
                value = self._decode(out)
                if bar is not None:
                    bar.advance(sizes[i])
                i += 1
                if kind == CALL:
                    yield value
                else:
                    yield from value
        except BaseException:
            for tid in tids[i:]:
                if tid is not None:
                    self._core.cancel(tid)
            raise
        finally:
            if bar is not None:
                bar.close()

    def _await(self, batch, i, deadline):
        with batch.cond:
            batch.waiting = True
            try:
                while batch.results[i] is None:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise _cf.TimeoutError()
                    batch.cond.wait(remaining)
            finally:
                batch.waiting = False
        return batch.results[i]

    def _unordered(self, fn, it, chunksize):
        batch = _Batch()
        chunks = _chunks(it, chunksize)
        outstanding = 0
        tids = {}
        for chunk in itertools.islice(chunks, _WINDOW):
            i = len(batch.results)
            batch.results.append(None)
            tids[i] = self._send(CHUNK, fn, chunk, (batch, i))
            outstanding += 1
        try:
            while outstanding:
                with batch.cond:
                    batch.waiting = True
                    while not batch.arrived:
                        batch.cond.wait()
                    batch.waiting = False
                    i = batch.arrived.popleft()
                out = batch.results[i]
                batch.results[i] = None
                del tids[i]
                outstanding -= 1
                for chunk in itertools.islice(chunks, 1):
                    j = len(batch.results)
                    batch.results.append(None)
                    tids[j] = self._send(CHUNK, fn, chunk, (batch, j))
                    outstanding += 1
                yield from self._decode(out)
        except BaseException:
            for tid in tids.values():
                self._core.cancel(tid)
            raise

    def shutdown(self, wait=True, *, cancel_futures=False):
        if cancel_futures:
            with self._sink_lock:
                pending = list(self._sinks)
            for tid in pending:
                self._core.cancel(tid)
        self._closing = True
        if self._core is not None:
            self._core.wake()
        if wait and self._driver.is_alive() and threading.current_thread() is not self._driver:
            self._driver.join()

    # -- multiprocessing.Pool lifecycle ------------------------------------------------

    def close(self):
        self.shutdown(wait=False)

    def join(self):
        self._driver.join()

    def terminate(self):
        """Kill the workers now; unfinished tasks fail with ``PoolError``."""
        self._terminating = True
        self._closing = True
        if self._core is not None:
            self._core.wake()
        if self._driver.is_alive() and threading.current_thread() is not self._driver:
            self._driver.join()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.terminate()
        else:
            self.shutdown(wait=True)
        return False

    def worker_pids(self):
        """Pids of the live workers."""
        return self._core.worker_pids() if self._core is not None else []


def _chunks(it, size):
    if size == 1:
        for x in it:
            yield [x]
        return
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


def _error(kind, message):
    if kind == "died":
        return WorkerDiedError(message)
    if kind == "timeout":
        return TimeoutError(message)
    if kind == "cancelled":
        return _cf.CancelledError(message)
    if kind == "cannot_start":
        return BrokenWorkersError(message)
    return PoolError(message)


class _Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.last = 0.0

    def advance(self, n):
        self.done += n
        now = time.monotonic()
        if now - self.last >= 0.1 or self.done == self.total:
            self.last = now
            self.draw(now)

    def draw(self, now):
        rate = self.done / max(now - self.start, 1e-9)
        if self.total:
            frac = self.done / self.total
            bar = "#" * int(frac * 30)
            line = f"\r[{bar:<30}] {self.done}/{self.total} ({rate:,.0f}/s)"
        else:
            line = f"\r{self.done} done ({rate:,.0f}/s)"
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self):
        self.draw(time.monotonic())
        sys.stderr.write("\n")
        sys.stderr.flush()
