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

``map`` follows ``Executor.map``: every task runs whether or not its iterator of results
(in order) is used, though only a window of them is in flight at a time
(``list(pool.map(f, xs))`` is ``multiprocessing.Pool.map``, and ``map_async(f,
xs).get()`` too). ``imap``/``imap_unordered`` submit lazily; ``starmap``
returns a list; ``apply_async`` and ``submit`` return an ``AsyncResult``, a
``concurrent.futures.Future`` that also has ``get``/``wait``/``ready``/``successful``
(``_results.py``). Work given after ``close()``/``shutdown()`` raises ``PoolClosedError``,
both the ``RuntimeError`` of ``Executor`` and the ``ValueError`` of
``multiprocessing.Pool``. Pools still open when the interpreter exits finish their
submitted tasks first, as executors do.

Raw descriptors (``os.pipe()`` ends are ints) must be wrapped as ``brinery.pool.Fd(fd)``
to be passed; sockets, open files and ``multiprocessing.connection.Connection`` objects
are recognised as they are. The worker gets its own duplicate, wrapped the same way.
``multiprocessing``'s queues, locks, semaphores, events, conditions, barriers, shared
values and arrays and shared memory pass as they are, as the same kernel objects
(``_shared.py``); ``context()`` makes ones that can always be passed.
"""

import atexit
import concurrent.futures as _cf
import functools
import itertools
import os
import pickle
import sys
import threading
import time
import types
import weakref

from . import _worker
from ._brinery import PoolCore
from ._errors import PoolClosedError, PoolError, RemoteError, StageError
from ._pool_errors import BrokenWorkersError, WaitTimeoutError, WorkerDiedError
from ._progress import Progress
from ._results import AsyncResult, Batch, MapResult, OrderedResults, RemoteTraceback, UnorderedResults
from ._results import attach_callbacks, settle
from ._shared import SharedObjectError, context
from ._worker import CALL, CHUNK, INIT_DEF, STARCHUNK

from ._worker_codec import FAST, FULL, Decoder, Encoder, Fd, close_unclaimed, is_plain, make_encoder, wants_by_value

__all__ = [
    "AsyncResult",
    "BrokenWorkersError",
    "Fd",
    "context",
    "MapResult",
    "Pool",
    "PoolClosedError",
    "PoolError",
    "RemoteError",
    "RemoteTraceback",
    "SharedObjectError",
    "StageError",
    "WaitTimeoutError",
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

# What imap/imap_unordered submit ahead of the consumer, and map ahead of the results
# that have arrived: at most this many chunks, and no more once their messages reach this
# many bytes (large arguments would otherwise be copied into shared memory thousands of
# tasks ahead).
_WINDOW = (4096, 16 << 20)

# A message with nothing besides its main stream: no other buffers, no descriptors.
_NOTHING = ((), ())


class _TaskEncoder(Encoder):
    def setup(self, pool):
        self.pool = pool
        self.needs = []
        self.inband = False
        self.inherits = pool._start_method == "fork"

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
    """A process pool; see the module documentation.

    The first four parameters are ``multiprocessing.Pool``'s, in its order; the keyword
    spellings of ``ProcessPoolExecutor`` (``max_workers``, ``mp_context``,
    ``max_tasks_per_child``) and ``multiprocessing.Pool`` (``context``) are taken too.
    A context (or ``start_method``) says ``"fork"`` (the default) or ``"spawn"``.
    ``python``: an interpreter to spawn the workers on (another CPython version with
    brinery installed); messages to and from them are written ``cross_version=True``.
    """

    def __init__(
        self,
        processes=None,
        initializer=None,
        initargs=(),
        maxtasksperchild=None,
        *,
        start_method=None,
        max_tasks_per_child=None,
        task_timeout=None,
        max_workers=None,
        mp_context=None,
        context=None,
        python=None,
    ):
        processes, name = _one_of(processes=processes, max_workers=max_workers)
        if processes is None:
            processes = os.cpu_count() or 1
        if not isinstance(processes, int) or processes < 1:
            raise ValueError(f"{name or 'processes'} must be greater than 0")
        if python is not None:
            # Another interpreter can only be spawned; it is the default then.
            python = os.fspath(python)
            if start_method is None and mp_context is None and context is None:
                start_method = "spawn"
        start_method = _start_method(start_method, *_one_of(mp_context=mp_context, context=context))
        if python is not None and start_method == "fork":
            raise ValueError("python= starts workers on another interpreter, which cannot be forked: use start_method='spawn'")
        max_tasks_per_child, name = _one_of(
            maxtasksperchild=maxtasksperchild, max_tasks_per_child=max_tasks_per_child
        )
        if max_tasks_per_child is not None and (
            type(max_tasks_per_child) is not int or max_tasks_per_child < 1
        ):
            raise ValueError(f"{name} must be a positive int or None")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._processes = processes
        self._start_method = start_method
        self._python = python
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
        self._encoder = make_encoder(_TaskEncoder, True, self, cross_version=python is not None)
        self._closing = False
        self._terminating = False
        self._core = None
        self._early_defs = []
        if start_method == "spawn" and initializer is not None:
            with self._enc_lock:
                enc = make_encoder(_TaskEncoder, True, self, cross_version=python is not None)
                enc.inband = True
                try:
                    main, bufs, fds = enc.encode((initializer, self._initargs))
                except pickle.PicklingError as e:
                    raise type(e)(_renamed(str(e), _INIT_PATHS)) from e
                if bufs:
                    raise ValueError("initargs cannot carry large buffers under spawn")
                # (the descriptors are initargs' own, open as long as this pool holds them)
                self._pending_init = (main, fds)
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
                # Not a bound method: the native core cannot show the collector a cycle
                # back to this pool, which would then never be freed.
                fork = functools.partial(_fork_worker, self._initializer, self._initargs)
                core = PoolCore(self._processes, fork=fork, **kwargs)
            else:
                env = [("PYTHONPATH", os.pathsep.join(_worker_path(self._python)))]
                argv = [self._python or sys.executable, "-c", "from brinery._worker import main; main()"]
                if self._python is not None:
                    env.append(("BRINERY_CROSS_VERSION", "1"))
                core = PoolCore(self._processes, spawn=argv, env=env, **kwargs)
            for n, blob in self._early_defs:
                core.define(n, blob)
            if self._base_needs:
                core.define(INIT_DEF, *self._pending_init)
            self._core = core
        except BaseException as e:  # noqa: BLE001 - re-raised by __init__
            failure.append(e)
            started.set()
            return
        started.set()
        _LIVE.add(self)
        try:
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
        except BaseException as e:  # noqa: BLE001 - nothing would deliver results any more
            self._closing = True
            self._terminating = True  # (feeds submit nothing more)
            self._fail_all(PoolError(f"the pool's event loop failed: {type(e).__name__}: {e}"))
            raise
        finally:
            _LIVE.discard(self)

    def _fail_all(self, error):
        with self._sink_lock:
            sinks, self._sinks = self._sinks, {}
        self._deliver([(tid, False, None, error) for tid in sinks], sinks)

    def _deliver(self, outs, sinks=None):
        touched = []
        gathers = []
        feeds = {}
        with self._sink_lock:
            if sinks is None:
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
                if batch.feed is not None:
                    feeds.setdefault(batch.feed, []).append(i)
                if batch.waiting:
                    touched.append(batch)
                elif batch.gather is not None:
                    gathers.append(batch)
            else:
                settle(sink, lambda: self._decode(out))
        for batch in set(touched):
            with batch.cond:
                batch.cond.notify_all()
        for batch in gathers:
            self._arrived(batch, 1)
        for feed, arrived in feeds.items():
            feed.release(arrived)

    def _arrived(self, batch, n):
        """``n`` results of a ``map_async`` are in (or will never come); the last one in
        finishes its ``MapResult``."""
        with batch.cond:
            batch.left -= n
            if batch.left:
                return
        results, batch.results = batch.results, None

        def values():
            out = []
            for r in results:
                out.extend(self._decode(r))
            return out

        settle(batch.gather, values)

    # -- encoding and decoding --------------------------------------------------------

    def _define(self, obj):
        n = next(self._next_def)
        entry = (obj, n, [])
        self._defs[n] = entry
        self._defs_by_obj[id(obj)] = entry
        enc = make_encoder(_TaskEncoder, True, self, cross_version=self._python is not None)
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

    def _check_running(self):
        if self._closing:
            raise PoolClosedError("cannot schedule new futures after shutdown")

    def _send(self, kind, fn, payload, sink):
        self._check_running()
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
            except KeyboardInterrupt:
                raise
            except BaseException as e:
                raise StageError("pickling the task in the parent", _described(kind, e)) from e
        with self._sink_lock:
            out = self._orphans.pop(tid, None)
            if out is None:
                self._sinks[tid] = sink
        if out is not None:
            self._sinks[tid] = sink
            self._deliver([out])
        return tid

    def _send_many(self, kind, fn, payloads, batch, first, sizes=None, check=True):
        """Submits ``payloads`` (results go to ``batch`` from index ``first``); returns
        the task ids, ``None`` for one that could not be pickled (its error is stored in
        the batch and nothing after it is sent). Appends each task's message size in bytes
        to ``sizes`` if given. ``check=False`` submits after ``shutdown()`` too (the rest
        of a ``map`` made before it)."""
        if sizes is None:
            sizes = []
        if check:
            self._check_running()
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
                    sizes.extend(map(len, mains))
                    start = core.submit_many(mains, ref[1])
                    tids.extend(range(start, start + len(mains)))
                    payloads = payloads[len(mains) :]
            for payload in payloads:
                try:
                    if ref is not None and is_plain(payload):
                        main = pickle.dumps((kind, ref[0], payload), 5)
                        tids.append(core.submit([main], (), ref[1]))
                        sizes.append(len(main))
                        continue
                    enc = self._encoder
                    enc.needs = list(self._base_needs)
                    main, bufs, fds = enc.encode((kind, fn, payload))
                    tids.append(core.submit([FULL + main, *bufs], fds, enc.needs))
                    sizes.append(len(main) + sum(memoryview(b).nbytes for b in bufs))
                except KeyboardInterrupt:
                    raise
                except BaseException as e:
                    err = StageError("pickling the task in the parent", _described(kind, e))
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
        if ref is not None:  # (a bound method or partial, often made per call, is not kept)
            self._fast_refs[id(fn)] = (fn, ref)
        return ref

    def _decode(self, out):
        tid, ok, main, extra = out
        if not ok:
            if isinstance(extra, BaseException):  # not pickled (_send_many), or _fail_all
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
        exc.__cause__ = RemoteTraceback(r[2])
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
        an iterator. Every task runs whether or not the iterator is used
        (``Executor.map``), but at most a window of them (``_WINDOW``) is in flight at a
        time: the driver thread submits more as results arrive.
        ``map(fn, iterable, chunksize)`` with an int third argument is
        ``multiprocessing.Pool.map``'s spelling (``chunksize=None`` picks one as it does)."""
        if len(iterables) == 2 and isinstance(iterables[1], int) and chunksize == 1:
            iterables, chunksize = iterables[:1], iterables[1]
        self._check_running()
        deadline = None if timeout is None else time.monotonic() + timeout
        items = list(zip(*iterables))
        chunksize = self._chunksize(chunksize, len(items))
        kind = CALL if chunksize == 1 else STARCHUNK
        bar = Progress(len(items)) if progress else None
        return OrderedResults(
            self, fn, kind, iter(items), chunksize, deadline=deadline, progress=bar, window=_WINDOW, driven=True
        )

    def shutdown(self, wait=True, *, cancel_futures=False):
        if cancel_futures and self._core is not None:
            with self._sink_lock:
                pending = list(self._sinks)
            cancelled = self._core.cancel_queued(pending) if pending else ()
            sinks = self._sinks
            for tid in cancelled:
                sink = sinks.get(tid)
                if isinstance(sink, _cf.Future):  # (the delivery that follows finds it done)
                    settle(sink, _raise_cancelled)
        self._closing = True
        if self._core is not None:
            self._core.wake()
        if wait and self._driver.is_alive() and threading.current_thread() is not self._driver:
            self._driver.join()

    # -- multiprocessing.Pool calls -----------------------------------------------------

    def apply_async(self, fn, args=(), kwds=None, callback=None, error_callback=None):
        fut = self.submit(fn, *args, **(kwds or {}))
        attach_callbacks(fut, callback, error_callback)
        return fut

    def apply(self, fn, args=(), kwds=None):
        return self.apply_async(fn, args, kwds).get()

    def map_async(self, fn, iterable, chunksize=None, callback=None, error_callback=None):
        """A ``MapResult`` whose ``get()`` is the list of ``fn(x)`` for each ``x``."""
        return self._gather(fn, CHUNK, iterable, chunksize, callback, error_callback)

    def starmap(self, fn, iterable, chunksize=None):
        """A list of ``fn(*args)`` for each ``args`` in ``iterable``."""
        return self._gather(fn, STARCHUNK, iterable, chunksize, None, None).get()

    def starmap_async(self, fn, iterable, chunksize=None, callback=None, error_callback=None):
        """A ``MapResult`` whose ``get()`` is the list of ``fn(*args)``."""
        return self._gather(fn, STARCHUNK, iterable, chunksize, callback, error_callback)

    def imap(self, fn, iterable, chunksize=1, *, progress=False):
        """Results in order, submitted lazily (a bounded window ahead of the consumer).
        The iterator's ``next(timeout)`` raises ``WaitTimeoutError`` and stays usable."""
        self._check_running()
        bar = None
        if progress:
            bar = Progress(len(iterable) if hasattr(iterable, "__len__") else None)
        return OrderedResults(self, fn, CHUNK, iter(iterable), chunksize, progress=bar, window=_WINDOW)

    def imap_unordered(self, fn, iterable, chunksize=1):
        """Results as they complete, submitted lazily."""
        self._check_running()
        return UnorderedResults(self, fn, CHUNK, iter(iterable), chunksize, _WINDOW)

    def _gather(self, fn, kind, iterable, chunksize, callback, error_callback):
        self._check_running()
        items = list(iterable)
        chunksize = self._chunksize(chunksize, len(items))
        chunks = [items[i : i + chunksize] for i in range(0, len(items), chunksize)]
        res = MapResult(self)
        attach_callbacks(res, callback, error_callback)
        batch = Batch(len(chunks))
        batch.gather = res
        batch.left = len(chunks) + 1  # one more until every chunk is sent
        tids = self._send_many(kind, fn, chunks, batch, 0) if chunks else []
        res._tids = [t for t in tids if t is not None]
        if len(tids) < len(chunks) or None in tids:  # a pickling error: nothing after it
            del batch.results[len(tids) :]
        self._arrived(batch, 1 + len(chunks) - len(res._tids))
        return res

    def _chunksize(self, chunksize, n):
        if chunksize is None:  # multiprocessing.Pool's choice: about four chunks a worker
            chunksize, extra = divmod(n, self._processes * 4)
            return max(1, chunksize + bool(extra))
        if chunksize < 1:
            raise ValueError("chunksize must be at least 1")
        return chunksize

    # -- lifecycle ------------------------------------------------------------------------

    def close(self):
        """No more work; the workers exit once the submitted tasks are done."""
        self.shutdown(wait=False)

    def join(self):
        """Waits for the workers to exit (after ``close()`` or ``terminate()``)."""
        if not self._closing:
            raise ValueError("Pool is still running")
        if threading.current_thread() is not self._driver:
            self._driver.join()

    def terminate(self):
        """Kill the workers now; unfinished tasks fail with ``PoolError``."""
        self._terminating = True
        self._closing = True
        if self._core is not None:
            self._core.wake()
        if self._driver.is_alive() and threading.current_thread() is not self._driver:
            self._driver.join()

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.terminate()
        else:
            self.shutdown(wait=True)
        return False

    def worker_pids(self):
        """Pids of the live workers."""
        return self._core.worker_pids() if self._core is not None else []


def _fork_worker(initializer, initargs, sock, stage, parent_only):
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _worker.serve_forked(sock, stage, parent_only, parent, initializer, initargs)
    return pid


def _one_of(**named):
    """The one of ``named`` given (not None) and its name; TypeError if several are."""
    given = [(v, k) for k, v in named.items() if v is not None]
    if len(given) > 1:
        raise TypeError(f"give only one of {' and '.join(named)}")
    return given[0] if given else (None, None)


def _worker_path(python):
    """``sys.path`` for a spawned worker: this one, or for another interpreter, without
    this interpreter's standard library, site-packages and the folder of its brinery
    (built for this version; that interpreter has its own brinery)."""
    paths = [p for p in sys.path if p]
    if python is None:
        return paths
    mine = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    brinery_home = os.path.realpath(os.path.dirname(os.path.dirname(_worker.__file__)))
    out = []
    for p in paths:
        real = os.path.realpath(p)
        if real == brinery_home or "site-packages" in real or "dist-packages" in real:
            continue
        if any(real == m or real.startswith(m + os.sep) for m in mine):
            continue
        out.append(p)
    return out


def _start_method(start_method, context, name):
    """``"fork"`` or ``"spawn"`` from ``start_method=`` and a multiprocessing context
    (or its name)."""
    if context is not None:
        method = context if isinstance(context, str) else context.get_start_method()
        if start_method is not None and start_method != method:
            raise ValueError(f"start_method {start_method!r} contradicts {name}={method!r}")
        start_method = method
    if start_method is None:
        return "fork"
    if start_method not in ("fork", "spawn"):
        raise ValueError(f"brinery.Pool starts workers by 'fork' or 'spawn', not {start_method!r}")
    return start_method


def _raise_cancelled():
    raise _cf.CancelledError()


# Pools whose event loop runs: finished (their submitted tasks done) at interpreter exit.
_LIVE = weakref.WeakSet()


@atexit.register
def _finish_live_pools():
    pools = list(_LIVE)
    try:
        for p in pools:
            p.shutdown(wait=True)
    except KeyboardInterrupt:
        for p in pools:
            p.terminate()
        raise


# The path a pickling error names, from what was pickled to what the caller passed:
# ``(kind, fn, (args, kwargs))`` for a call, ``(kind, fn, chunk)`` for map's,
# ``(initializer, initargs)`` for a spawn pool's initializer.
_CALL_PATHS = {"obj[2][0]": "args", "obj[2][1]": "kwargs", "obj[1]": "fn"}
_CHUNK_PATHS = {"obj[2]": "chunk", "obj[1]": "fn"}
_INIT_PATHS = {"obj[1]": "initargs", "obj[0]": "initializer"}


def _renamed(text, names):
    for old, new in names.items():
        if text.startswith(old):
            return new + text[len(old) :]
    return text


def _described(kind, e):
    head, sep, rest = f"{type(e).__name__}: {e}".partition(": ")
    return head + sep + _renamed(rest, _CALL_PATHS if kind == CALL else _CHUNK_PATHS)


def _error(kind, message):
    if kind == "died":
        return WorkerDiedError(message)
    if kind == "timeout":
        return TimeoutError(message)
    if kind == "cancelled":
        return _cf.CancelledError(message)
    if kind == "cannot_start":
        return BrokenWorkersError(message)
    if kind == "transport":  # (stage, reason): the parent could not send or receive it
        stage, reason = message
        return StageError(f"{stage} in the parent", reason)
    return PoolError(message)
