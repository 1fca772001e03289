"""``Feed``: how one ``map``/``imap``/``imap_unordered`` call submits its chunks, at most a
window of tasks and bytes ahead.

What "ahead" means is the caller's: for ``imap``/``imap_unordered`` a task is ahead until
the consumer takes its result (the consumer releases it, and submits more, from its own
thread); for ``map`` a task is ahead until its result arrives (the pool's driver thread
releases it as it delivers, so every task runs even if nobody iterates, as
``Executor.map`` promises). Any thread may release; one at a time submits, and picks up
what others released meanwhile.

It does not wait for results or hand them out (``_results.py``), nor encode tasks
(``pool.py``).
"""

import collections
import itertools
import threading
import time

from .._errors import PoolError
from ._worker import CALL


# How many small tasks go in one native call: this many chunks, or enough for this many
# items, at most the last.
_BATCH = (16, 1024, 64)


def chunks(it, size):
    """Lists of ``size`` items of ``it`` (an iterator, or a list: then slices of it, as
    far as it goes when each is taken)."""
    if size == 1:
        for x in it:
            yield [x]
        return
    if type(it) is list:
        i = 0
        while i < len(it):
            yield it[i : i + size]
            i += size
        return
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


class Feed:
    """Submits ``kind`` tasks of ``fn`` for the chunks of ``it`` into ``batch``: all at
    once when ``window`` is None, else while fewer than ``window = (tasks, bytes)`` are
    ahead (and always two tasks a worker, however large)."""

    def __init__(self, pool, fn, kind, it, chunksize, batch, window):
        if chunksize < 1:
            raise ValueError("chunksize must be at least 1")
        self.pool = pool
        self.fn = fn
        self.kind = kind
        self.chunks = chunks(it, chunksize)
        # A list's chunks are written straight from it (``Pool._send_slices``), from
        # index ``_next`` on, as far as it goes when each batch is sent.
        self._items = it if type(it) is list and chunksize > 1 and kind != CALL else None
        self._next = 0
        self._size = chunksize
        least, items, most = _BATCH
        self._batch = max(least, min(most, items // chunksize))
        self.batch = batch
        self.window = window
        self.tids = []
        self.sizes = []  # items in each chunk (for a progress bar)
        self.bytes = []  # each task's message size, while it is ahead
        self.ahead = 0
        self.ahead_bytes = 0
        self.input_error = None
        self.stopped = False
        self._lock = threading.Lock()
        self._released = collections.deque()
        self._pumping = False
        self._idle = 0  # releases that would not let the window take more

    @property
    def exhausted(self):
        """Nothing more will be submitted (the input is spent, failed or stopped)."""
        return self.chunks is None and not self._pumping

    def release(self, indices):
        """Tasks ``indices`` are no longer ahead; submits more if the window allows."""
        released = self._released
        released.extend(indices)
        if len(released) >= self._idle:
            self.pump()

    def stop(self):
        """Submits nothing more; returns the ids of the tasks already submitted."""
        self.stopped = True
        self.chunks = None
        return self.tids

    def pump(self):
        """Submits what the window allows, unless another thread is at it (that thread
        then sees what was released here)."""
        while True:
            with self._lock:
                if self._pumping:
                    return
                self._pumping = True
            try:
                self._fill()
            finally:
                with self._lock:
                    self._pumping = False
                batch = self.batch
                if batch.waiting:
                    with batch.cond:
                        batch.cond.notify_all()
            if not self._released or self.chunks is None:
                return

    def _fill(self):
        if self.window is None:
            self._send(None)
            return
        count, nbytes = self.window
        least = 2 * self.pool._processes
        slack = min(self._batch, count // 4)
        released = self._released
        sent = False
        while self.chunks is not None:
            while released:
                i = released.popleft()
                self.ahead -= 1
                self.ahead_bytes -= self.bytes[i]
                self.bytes[i] = 0
            ahead = self.ahead
            # Small tasks go in batches (one native call each), large ones one by one,
            # and a full window of small ones is topped up a batch at a time: the next
            # releases until then need not look.
            small = ahead and self.ahead_bytes * 256 < nbytes * ahead
            if small and slack > 1 and ahead > count - slack:
                self._idle = ahead - (count - slack)
                return
            if ahead >= count or (ahead >= least and self.ahead_bytes >= nbytes):
                self._idle = 0
                return
            if sent and self.batch.feed is None:
                # The consumer's thread, between batches: the pool's event loop runs in
                # the driver thread, which needs the GIL to hand over what arrived
                # before it can give the workers more. (A driven feed is filled by
                # that thread.)
                time.sleep(0)
            self._send(min(count - ahead, self._batch if small else 1))
            sent = True

    def _send(self, limit):
        pool = self.pool
        if pool._terminating:
            if self.chunks is not None:
                self.chunks = None
                self.input_error = PoolError("the pool was terminated before the rest was submitted")
            return
        if self._items is not None:
            self._send_list(limit)
            return
        todo = []
        if self.chunks is not None:
            try:
                for chunk in self.chunks if limit is None else itertools.islice(self.chunks, limit):
                    todo.append(chunk)
            except Exception as e:  # noqa: BLE001 - the input's own error, raised in its turn
                self.input_error = e
                self.chunks = None
            else:
                if limit is None or len(todo) < limit:
                    self.chunks = None
        if not todo:
            return
        batch = self.batch
        first = len(batch.results)
        batch.results.extend([None] * len(todo))
        self.sizes.extend(map(len, todo))
        kind = self.kind
        payloads = [(c[0], {}) for c in todo] if kind == CALL else todo
        sizes = []
        # A driven feed keeps submitting after shutdown(): those tasks were promised.
        sent = pool._send_many(kind, self.fn, payloads, batch, first, sizes, check=False)
        self._sent(sent, len(todo), first, sizes)

    def _sent(self, sent, count, first, sizes):
        """Records ``sent``, the task ids of ``count`` chunks from index ``first`` (their
        message ``sizes``); stops at a chunk that could not be pickled."""
        batch, pool = self.batch, self.pool
        sizes.extend([0] * (len(sent) - len(sizes)))  # (one that failed to pickle)
        self.tids.extend(sent)
        self.bytes.extend(sizes)
        self.ahead += len(sent)
        self.ahead_bytes += sum(sizes)
        if len(sent) < count:  # a pickling error: stop where it happened
            del batch.results[first + len(sent) :]
            del self.sizes[first + len(sent) :]
            self.chunks = None
        if self.stopped:  # stopped while these were being submitted
            core = pool._core
            for tid in sent:
                if tid is not None:
                    core.cancel(tid)

    def _send_list(self, limit):
        """``_send`` of the next ``limit`` chunks of a list (all that are left: None)."""
        if self.chunks is None:
            return
        items, size, start = self._items, self._size, self._next
        n = len(items)
        stop = n if limit is None else min(n, start + limit * size)
        if start >= stop:
            self.chunks = None
            return
        if limit is None or stop < start + limit * size:  # (as far as the list goes now)
            self.chunks = None
        self._next = stop
        count = len(range(start, stop, size))
        batch = self.batch
        first = len(batch.results)
        batch.results.extend([None] * count)
        self.sizes.extend([size] * (count - 1))
        self.sizes.append(stop - (start + (count - 1) * size))
        sizes = []
        sent = self.pool._send_slices(self.kind, self.fn, items, start, stop, size, batch, first, sizes, check=False)
        self._sent(sent, count, first, sizes)

