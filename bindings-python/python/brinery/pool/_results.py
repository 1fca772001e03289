"""What ``brinery.Pool`` hands back: ``AsyncResult`` (a ``concurrent.futures.Future`` with
``multiprocessing``'s ``get``/``wait``/``ready``/``successful``), ``MapResult`` (one
result for a whole ``map_async``/``starmap_async``) and the iterators of ``map``/``imap``
(in order) and ``imap_unordered``, which also take ``multiprocessing``'s ``next(timeout)``.

They only wait and hand out; submitting, delivering and decoding are the pool's
(``pool.py``). Results that arrive are stored in a ``Batch`` by the pool's driver thread.
"""

import collections
import concurrent.futures as _cf
from itertools import chain, repeat as _repeat, starmap as _starmap
import logging
import time
import threading

from .._brinery import place_results, plain_results
from ._feed import Feed
from ._exceptions import WaitTimeoutError
from ._worker import CALL

_LOGGER = logging.getLogger("concurrent.futures")

_PENDING, _FINISHED = _cf._base.PENDING, _cf._base.FINISHED
_DONE = (_cf._base.CANCELLED, _cf._base.CANCELLED_AND_NOTIFIED, _FINISHED)

# No wait for results blocks longer than this at a time. CPython runs signal handlers
# between bytecodes: a SIGINT that lands after the last check and before a blocking lock
# wait starts wakes nothing, and its KeyboardInterrupt is raised only when that wait ends
# (a 60 s task later, if the wait were unbounded).
_SLICE = 0.1

# An iterator with nothing left: no values of a chunk are waiting.
_NONE = iter(())
_NO_ARGS = ()


def wait_for(cond, ready, deadline):
    """With ``cond`` held, waits until ``ready()``; False if ``deadline`` passes first."""
    while not ready():
        remaining = _SLICE if deadline is None else min(_SLICE, deadline - time.monotonic())
        if remaining <= 0:
            return False
        cond.wait(remaining)
    return True


class RemoteTraceback(Exception):
    """The ``__cause__`` of an exception raised by a task: the worker's traceback text
    (``tb``), as ``multiprocessing`` and ``concurrent.futures`` attach it."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)

    def __init__(self, tb):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return "\n" + self.tb


class AsyncResult(_cf.Future):
    """A ``Future`` with ``multiprocessing``'s ``AsyncResult`` methods.

    The task of ``Pool.submit`` may go straight to an idle worker, reserved for this
    future: the first thread to wait on it (``result``, ``exception``, ``get``,
    ``wait``) reads the reply itself, and the pool's driver thread never sees it.
    Anything else that watches the future (``done``, a done-callback,
    ``concurrent.futures.wait`` or ``as_completed``, which add to ``_waiters``) hands
    the task back to the driver thread first, so the outcome is delivered however the
    future is waited for."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)

    _reserved = False

    def __init__(self, pool=None):
        # (Future.__init__'s fields, set here: one call fewer for each task submitted)
        self._condition = threading.Condition()
        self._state = _PENDING
        self._result = None
        self._exception = None
        self.__waiters = []
        self._done_callbacks = []
        self._pool = pool
        self._tid = None

    def _hand_back(self):
        if self._reserved:
            self._reserved = False
            self._pool._core.release(self._tid)

    @property
    def _waiters(self):
        if self._reserved:
            self._hand_back()
        return self.__waiters

    @_waiters.setter
    def _waiters(self, waiters):
        self.__waiters = waiters

    def done(self):
        if self._reserved:
            self._hand_back()
        return self._state in _DONE

    def add_done_callback(self, fn):
        super().add_done_callback(fn)  # (first: a callback the driver thread runs stays so)
        self._hand_back()

    def result(self, timeout=None):
        if not self._wait(timeout):
            raise _cf.TimeoutError()
        if self._state == _FINISHED and self._exception is None:
            return self._result
        return super().result(0)

    def exception(self, timeout=None):
        if not self._wait(timeout):
            raise _cf.TimeoutError()
        return super().exception(0)

    def _wait(self, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._tid is not None and self._state == _PENDING:
            # Read the result off the worker on this thread, if it is running there.
            self._pool._collect(self, deadline)
        if self._state in _DONE:  # (it never goes back to pending)
            return True
        with self._condition:
            return wait_for(self._condition, self.done, deadline)

    def get(self, timeout=None):
        """The result (or raises the task's exception); ``WaitTimeoutError`` if it is not
        there within ``timeout`` seconds."""
        if not self._wait(timeout):
            raise WaitTimeoutError()
        if self._state == _FINISHED and self._exception is None:
            return self._result
        return super().result(0)

    def wait(self, timeout=None):
        try:
            self.exception(timeout)
        except (_cf.TimeoutError, _cf.CancelledError):
            pass

    def ready(self):
        return self.done()

    def successful(self):
        if not self.done():
            raise ValueError(f"{self!r} not ready")
        return not self.cancelled() and self.exception() is None

    def cancel(self):
        """Cancels the task if no worker has it yet (``Future.cancel``: a running task is
        not cancelled and this returns False)."""
        if self.done():
            return self.cancelled()
        pool = self._pool
        if pool is not None and not pool._core.cancel_queued(self._task_ids()):
            return self.cancelled()
        if not super().cancel():
            return False
        notify_cancelled(self)
        return True

    def _task_ids(self):
        return [] if self._tid is None else [self._tid]


class MapResult(AsyncResult):
    """The single result of ``map_async``/``starmap_async``: the list of all results, or
    the first exception. ``cancel()`` cancels the chunks no worker has yet."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)

    def __init__(self, pool):
        super().__init__(pool)
        self._tids = ()

    def _task_ids(self):
        return list(self._tids)


def attach_callbacks(fut, callback, error_callback):
    """``multiprocessing``'s ``callback(result)`` / ``error_callback(exception)``."""
    if callback is None and error_callback is None:
        return

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


def notify_cancelled(fut):
    """Tells ``concurrent.futures.wait`` and ``as_completed`` that ``fut``, just
    cancelled, is done: ``Future.cancel`` alone leaves that to the executor, which calls
    ``set_running_or_notify_cancel`` when the task's turn comes."""
    with fut._condition:
        if fut._state == _cf._base.CANCELLED:
            fut.set_running_or_notify_cancel()


def finish(fut, value):
    """``settle(fut, lambda: value)``, for a value already at hand."""
    try:
        fut.set_result(value)
    except _cf.InvalidStateError:  # (done already: cancelled by the user meanwhile)
        notify_cancelled(fut)
    except BaseException:  # noqa: BLE001
        _LOGGER.exception("exception calling callback for %r", fut)


def settle(fut, outcome):
    """Finishes ``fut`` with ``outcome()`` (its value, or what it raises); does nothing if
    ``fut`` is already done (cancelled). Never raises: a done-callback that raises past
    ``Future``'s own guard (``SystemExit``, ``KeyboardInterrupt``) is logged, so the
    driver thread that delivers results keeps going."""
    try:
        if fut.done():
            notify_cancelled(fut)
            return
        try:
            value = outcome()
        except _cf.CancelledError:
            _cf.Future.cancel(fut)
            notify_cancelled(fut)
        except BaseException as e:  # noqa: BLE001 - it is the task's outcome
            fut.set_exception(e)
        else:
            fut.set_result(value)
    except _cf.InvalidStateError:
        pass  # cancelled by the user meanwhile
    except BaseException:  # noqa: BLE001
        _LOGGER.exception("exception calling callback for %r", fut)


class Batch:
    """Results of one map/imap call, filled by the driver thread. ``gather`` is the
    ``MapResult`` of a ``map_async`` (finished by the pool when ``left`` reaches 0)."""

    __slots__ = ("results", "arrived", "cond", "waiting", "gather", "left", "feed", "values", "chunksize")

    def __init__(self, n=0):
        self.results = [None] * n
        self.arrived = collections.deque()
        self.cond = threading.Condition(threading.Lock())
        self.waiting = False
        self.gather = None
        self.left = 0
        self.feed = None  # a driven Feed, told of each result as it arrives
        self.values = None  # a map_async's output list, filled as chunks arrive
        self.chunksize = 0


class _Failed:
    """A ``map_async`` chunk's error, decoded as it arrived (raised in its turn)."""

    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


# A ``map_async`` chunk whose values are in place in the output list.
_PLACED = object()


def decode_arrived(batch, decode):
    """Decodes the results of a ``map_async`` that have arrived and are not yet decoded
    (any thread; each index is taken by one), and puts their values in place in
    ``batch.values``: nothing of a chunk outlives its arrival (no list per chunk kept
    to the end, for the cyclic collector to walk again and again)."""
    arrived, results, out, size = batch.arrived, batch.results, batch.values, batch.chunksize
    while True:
        try:
            i = arrived.popleft()
        except IndexError:  # (another thread may take the last one between a check and this)
            return
        r = results[i]
        # (a chunk of plain results is decoded straight into its place)
        if r[1] and r[3] is None and place_results(r[2], out, i * size):
            results[i] = _PLACED
            continue
        try:
            values = decode(r)
        except BaseException as e:  # noqa: BLE001 - raised in its turn by gathered()
            results[i] = _Failed(e)
        else:
            out[i * size : i * size + len(values)] = values
            results[i] = _PLACED


def gathered(batch, results, decode):
    """The values of all of a ``map_async``'s chunks in order, or the first chunk's
    error."""
    out, size = batch.values, batch.chunksize
    batch.values = None
    for i, r in enumerate(results):
        if r is _PLACED:
            continue
        if type(r) is _Failed:
            raise r.error
        values = decode(r)  # (one that never arrived: a pickling error)
        out[i * size : i * size + len(values)] = values
    return out


def _await(batch, i, deadline):
    """Waits for ``batch.results[i]``; ``WaitTimeoutError`` past ``deadline``."""
    with batch.cond:
        batch.waiting = True
        try:
            if not wait_for(batch.cond, lambda: batch.results[i] is not None, deadline):
                raise WaitTimeoutError()
        finally:
            batch.waiting = False
    return batch.results[i]


class _Results:
    """What the in-order and unordered iterators share: a ``Feed`` submitting the input's
    chunks, the error the input itself raised (raised after the results before it), and
    cancelling what is left when the iterator is abandoned or fails. With ``driven``,
    the pool's driver thread keeps the feed going as results arrive; otherwise the
    consumer does as it takes them."""

    def __init__(self, pool, fn, kind, it, chunksize, window, driven=False):
        self._pool = pool
        self._kind = kind
        self._batch = Batch()
        self._feed = Feed(pool, fn, kind, it, chunksize, self._batch, window)
        self._driven = driven
        self._done = False
        self._started = False
        self._bar = None
        if driven:
            self._batch.feed = self._feed
        self._feed.pump()

    def _taken(self, i):
        """Result ``i`` is the consumer's now."""
        if not self._driven and self._feed.window is not None:
            self._feed.release((i,))

    def _decode(self, out):
        """The value (or a chunk's values) in ``out``; a task's error ends the iteration."""
        if out[1] and out[3] is None and self._kind != CALL:
            values = plain_results(out[2])  # (plain results, decoded natively)
            if values is not None:
                return values
        try:
            return self._pool._decode(out)
        except BaseException:
            self.close()
            raise

    def __iter__(self):
        # A loop takes the values from C: ``chain`` over the chunks, a generator resumed
        # once a chunk, not once a value. A chunk's iterator is ``_ready``, so ``next()``
        # and another loop over this object go on where a loop left off.
        if self._kind == CALL:
            return self._values()
        return chain.from_iterable(self._chunks())

    def _chunks(self):
        yield self._ready
        while True:
            try:
                values = self._fetch(None)
            except StopIteration:
                return
            # (the list empties as its values are handed out: this frame keeps none)
            yield self._chunk(values)

    def _values(self):
        # One value a task: no chunk to go through (and nothing left in ``_ready``).
        while True:
            try:
                value = [self._fetch(None)]
            except StopIteration:
                return
            yield value.pop()

    def __next__(self):
        for value in self._ready:
            return value
        return self.next()

    def next(self, timeout=None):
        for value in self._ready:
            return value
        value = self._fetch(timeout)
        if self._kind == CALL:
            return value
        return next(self._chunk(value))

    def _chunk(self, values):
        """An iterator over a chunk's ``values`` (a list of ours), kept in ``_ready``,
        that pops each value off the list as it hands it out: no value handed out stays
        referenced here."""
        values.reverse()
        self._ready = it = _starmap(values.pop, _repeat(_NO_ARGS, len(values)))
        return it

    def close(self):
        """Ends the iteration; the tasks of this call no worker has yet are cancelled."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._done:
            return
        self._done = True
        self._feed.stop()
        core = self._pool._core
        for tid in self._unfinished():
            if tid is not None:
                core.cancel(tid)

    def __del__(self):
        # As with Executor.map's generator: dropped before its first result, every task
        # still runs; dropped part way, the rest is cancelled.
        if not self._started:
            return
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the pool may be gone
            pass


class OrderedResults(_Results):
    """Results of ``map``/``imap`` in input order; ``next(timeout)`` as in
    ``multiprocessing`` (a timeout leaves the iterator usable). ``deadline`` is
    ``Executor.map``'s: past it the iterator fails and its remaining tasks are
    cancelled."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)

    def __init__(
        self, pool, fn, kind, it, chunksize, *, deadline=None, progress=None, window=None, driven=False
    ):
        self._i = 0
        self._ready = _NONE
        self._deadline = deadline
        super().__init__(pool, fn, kind, it, chunksize, window, driven)
        self._bar = progress

    def _unfinished(self):
        return self._feed.tids[self._i :]

    def _more(self, i, deadline):
        """Whether task ``i`` exists, once the feed knows: a driven feed may be submitting
        it from the driver thread right now."""
        batch, feed = self._batch, self._feed
        if i < len(batch.results) or not self._driven:
            return i < len(batch.results)
        with batch.cond:
            batch.waiting = True
            try:
                if not wait_for(batch.cond, lambda: i < len(batch.results) or feed.exhausted, deadline):
                    raise WaitTimeoutError()
            finally:
                batch.waiting = False
        return i < len(batch.results)

    def _fetch(self, timeout):
        """The next task's value (a chunk's list of values), waiting for it."""
        self._started = True
        batch = self._batch
        i = self._i
        deadline = self._deadline
        if timeout is not None:
            mine = time.monotonic() + timeout
            deadline = mine if deadline is None else min(deadline, mine)
        if self._done or not self._more(i, deadline):
            self._finish()
        out = batch.results[i]
        if out is None:
            try:
                out = _await(batch, i, deadline)
            except WaitTimeoutError:
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    self.close()
                raise
            except BaseException:
                self.close()
                raise
        batch.results[i] = None
        self._i = i + 1
        self._taken(i)
        value = self._decode(out)
        if self._bar is not None:
            self._bar.advance(self._feed.sizes[i])
        return value

    def _finish(self):
        error, self._feed.input_error = self._feed.input_error, None
        self.close()
        if error is not None:
            raise error
        raise StopIteration


class UnorderedResults(_Results):
    """Results of ``imap_unordered`` as they complete; ``next(timeout)`` as in
    ``multiprocessing``."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)

    def __init__(self, pool, fn, kind, it, chunksize, window):
        self._ready = _NONE
        self._took = set()
        super().__init__(pool, fn, kind, it, chunksize, window)

    def _unfinished(self):
        return [tid for i, tid in enumerate(self._feed.tids) if i not in self._took]

    def _wait(self, batch, deadline):
        with batch.cond:
            batch.waiting = True
            try:
                if not wait_for(batch.cond, lambda: batch.arrived, deadline):
                    raise WaitTimeoutError()
            except WaitTimeoutError:
                raise
            except BaseException:
                self.close()
                raise
            finally:
                batch.waiting = False
            return batch.arrived.popleft()

    def _fetch(self, timeout):
        """The values of the next chunk to complete, waiting for it."""
        self._started = True
        batch = self._batch
        if self._done or len(self._took) >= len(batch.results):
            error, self._feed.input_error = self._feed.input_error, None
            self.close()
            if error is not None:
                raise error
            raise StopIteration
        if batch.arrived:  # (this thread alone takes from it: no lock needed)
            i = batch.arrived.popleft()
        else:
            i = self._wait(batch, None if timeout is None else time.monotonic() + timeout)
        out = batch.results[i]
        batch.results[i] = None
        self._took.add(i)
        self._taken(i)
        return self._decode(out)
