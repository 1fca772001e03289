"""``brinery.Pool`` itself: its parameters, the ``concurrent.futures.Executor`` calls and
``multiprocessing.Pool``'s, and its lifecycle (``close``, ``join``, ``terminate``, ``with``).
How tasks are encoded is in ``_tasks``, how the workers run and replies are delivered in
``_driver``; see the package's documentation for what the pool does."""

import concurrent.futures as _cf
import itertools
import os
import pickle
import threading
import time

from .._errors import StageError
from ._driver import Driver
from ._progress import Progress
from ._results import AsyncResult, Batch, MapResult, OrderedResults, UnorderedResults
from ._results import attach_callbacks, settle
from ._tasks import INIT_PATHS, ParentSide, TaskEncoder, Tasks, renamed
from ._codec import PlainWriter, make_encoder
from ._worker import CALL, CHUNK, INIT_DEF, STARCHUNK

__all__ = ["Pool"]

# What imap/imap_unordered submit ahead of the consumer, and map ahead of the results
# that have arrived: at most this many chunks, and no more once their messages reach this
# many bytes (large arguments would otherwise be copied into shared memory thousands of
# tasks ahead).
_WINDOW = (4096, 16 << 20)

# How many of a map_async's chunks are pickled and submitted at a time after the first
# two a worker: this many, or enough for this many items.
_GROUP = (16, 4096)

class Pool(Tasks, Driver, _cf.Executor):
    """A process pool; see the ``brinery.pool`` documentation.

    The first four parameters are ``multiprocessing.Pool``'s, in its order; the keyword
    spellings of ``ProcessPoolExecutor`` (``max_workers``, ``mp_context``,
    ``max_tasks_per_child``) and ``multiprocessing.Pool`` (``context``) are taken too.
    A context (or ``start_method``) says ``"fork"`` (the default) or ``"spawn"``.
    ``python``: an interpreter to spawn the workers on (another CPython version with
    brinery installed); messages to and from them are written ``cross_version=True``.
    """

    __module__ = "brinery.pool"  # (its public path: see the package documentation)

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
        # Task id -> the multiprocessing locks its arguments pass, by path (``_shared``).
        self._locks = {}
        self._orphans = {}
        self._sink_lock = threading.Lock()
        self._enc_lock = threading.RLock()
        self._defs = {}
        self._defs_by_obj = {}
        self._fast_refs = {}
        self._next_def = itertools.count(1)
        self._base_needs = []
        self._parent_side = ParentSide(self)
        self._encoder = make_encoder(TaskEncoder, True, self, cross_version=python is not None)
        self._plain = PlainWriter()  # (chunks' stock pickles, under _enc_lock)
        self._closing = False
        self._terminating = False
        self._core = None
        self._early_defs = []
        if start_method == "spawn" and initializer is not None:
            with self._enc_lock:
                enc = make_encoder(TaskEncoder, True, self, cross_version=python is not None)
                enc.inband = True
                try:
                    main, bufs, fds = enc.encode((initializer, self._initargs))
                except pickle.PicklingError as e:
                    raise type(e)(renamed(str(e), INIT_PATHS)) from e
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

    # -- Executor API -----------------------------------------------------------------

    def submit(self, fn, /, *args, **kwargs):
        fut = AsyncResult(self)
        try:
            fut._tid = self._send_call(fn, args, kwargs, fut)
            fut._reserved = True
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
        single = len(iterables) == 1
        items = list(iterables[0] if single else zip(*iterables))
        chunksize = self._chunksize(chunksize, len(items))
        if chunksize == 1:
            kind = CALL
            if single:
                items = list(zip(items))
        else:  # (one argument each: no tuples to make or unpack)
            kind = CHUNK if single else STARCHUNK
        bar = Progress(len(items)) if progress else None
        return OrderedResults(
            self, fn, kind, items, chunksize, deadline=deadline, progress=bar, window=_WINDOW, driven=True
        )

    def shutdown(self, wait=True, *, cancel_futures=False):
        if cancel_futures and self._core is not None:
            with self._sink_lock:
                sinks = dict(self._sinks)
            cancelled = self._core.cancel_queued(list(sinks)) if sinks else ()
            # Settled here, before shutdown returns, even those whose cancelled outcome
            # the driver thread has taken meanwhile (whichever settles second finds the
            # future done).
            for tid in cancelled:
                sink = sinks.get(tid)
                if isinstance(sink, _cf.Future):
                    settle(sink, _raise_cancelled)
        self._closing = True
        if self._core is not None:
            # (The driver thread now waits for every task: none may stay reserved for a
            # thread that will never collect it, and no worker starts for nothing, which
            # at interpreter exit could not fork.)
            self._core.close()
            self._core.wake()
        if wait and self._driver.is_alive() and threading.current_thread() is not self._driver:
            self._driver.join()

    # -- multiprocessing.Pool calls -----------------------------------------------------

    def apply_async(self, fn, args=(), kwds=None, callback=None, error_callback=None):
        fut = self.submit(fn, *args, **(kwds or {}))
        attach_callbacks(fut, callback, error_callback)
        return fut

    def apply(self, fn, args=(), kwds=None):
        return self.submit(fn, *args, **(kwds or {})).get()

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
        return OrderedResults(self, fn, CHUNK, _items(iterable), chunksize, progress=bar, window=_WINDOW)

    def imap_unordered(self, fn, iterable, chunksize=1):
        """Results as they complete, submitted lazily."""
        self._check_running()
        return UnorderedResults(self, fn, CHUNK, _items(iterable), chunksize, _WINDOW)

    def _gather(self, fn, kind, iterable, chunksize, callback, error_callback):
        self._check_running()
        # (a list is read only before this returns: every chunk is written or sliced off
        # by then)
        items = iterable if type(iterable) is list else list(iterable)
        chunksize = self._chunksize(chunksize, len(items))
        n = -(-len(items) // chunksize)
        res = MapResult(self)
        attach_callbacks(res, callback, error_callback)
        batch = Batch(n)
        batch.gather = res
        batch.values = [None] * len(items)
        batch.chunksize = chunksize
        batch.left = n + 1  # one more until every chunk is sent
        tids = []
        # Sent in groups, the first small: the workers run the first chunks while the
        # rest are pickled.
        group = 2 * self._processes
        while len(tids) < n:
            start = len(tids) * chunksize
            stop = min(len(items), start + group * chunksize)
            count = len(range(start, stop, chunksize))
            sent = self._send_slices(kind, fn, items, start, stop, chunksize, batch, len(tids), check=not tids)
            tids.extend(sent)
            if len(sent) < count or None in sent:  # a pickling error: nothing after it
                del batch.results[len(tids) :]
                break
            group = max(_GROUP[0], _GROUP[1] // chunksize)
            # The pool's event loop runs in the driver thread, which needs the GIL to
            # hand over what arrived before it can give the workers more: let it.
            time.sleep(0)
        res._tids = [t for t in tids if t is not None]
        self._arrived(batch, 1 + n - len(res._tids))
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
            self._core.close()
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


def _items(iterable):
    """What a lazy call reads its input from: a list as it is (its chunks are slices of
    it), anything else as an iterator."""
    return iterable if type(iterable) is list else iter(iterable)


def _one_of(**named):
    """The one of ``named`` given (not None) and its name; TypeError if several are."""
    given = [(v, k) for k, v in named.items() if v is not None]
    if len(given) > 1:
        raise TypeError(f"give only one of {' and '.join(named)}")
    return given[0] if given else (None, None)


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

