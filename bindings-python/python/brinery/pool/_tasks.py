"""How a ``Pool`` turns calls into task messages and results back into values, in the
parent: the task encoder (functions and classes by value once per worker, as numbered
definitions), the fast path for plain arguments (a stock pickle), the decoding of
replies, and the errors a failed task raises, with paths named as the caller wrote them
(``args[1]['lock']``, not the internal tuple). Not for the worker's side (``_worker``) nor
for handing results out (``_results``)."""

import concurrent.futures as _cf
import pickle
import types

from .._brinery import chunk_pickles, columns
from .._errors import PoolClosedError, PoolError, StageError
from . import _shared
from ._codec import (
    FAST,
    FEW,
    FULL,
    SCALARS,
    Decoder,
    Encoder,
    close_unclaimed,
    is_plain,
    lead_opcodes,
    make_encoder,
    wants_by_value,
)
from ._exceptions import BrokenWorkersError, WorkerDiedError
from ._results import RemoteTraceback
from ._worker import CALL, CHUNK, COLUMNS, STARCHUNK

__all__ = ["ParentSide", "TaskEncoder", "Tasks", "INIT_PATHS", "renamed"]

# A message with nothing besides its main stream: no other buffers, no descriptors.
_NOTHING = ((), ())


class TaskEncoder(Encoder):
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


class ParentSide:
    def __init__(self, pool):
        self.pool = pool

    def load_def(self, n):
        raise LookupError("definitions are for workers")

    def load_ref(self, n):
        return self.pool._defs[n][0]


class Tasks:
    """The encoding half of ``Pool`` (a base class of it): what it needs of the pool is
    ``_enc_lock``, ``_encoder``, ``_defs``, ``_sinks``, ``_core``..., set by
    ``Pool.__init__``."""

    def _define(self, obj):
        n = next(self._next_def)
        entry = (obj, n, [])
        self._defs[n] = entry
        self._defs_by_obj[id(obj)] = entry
        enc = make_encoder(TaskEncoder, True, self, cross_version=self._python is not None)
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

    def _send(self, kind, fn, payload, sink, reserve=False):
        """Submits one task whose outcome goes to ``sink``; returns its id. ``reserve``:
        see ``AsyncResult`` (the caller then collects or releases it)."""
        self._check_running()
        locks = None
        with self._enc_lock:
            try:
                ref = self._fast_ref(fn)
                if ref is not None and is_plain(payload):
                    main = pickle.dumps((kind, ref[0], payload), 5)
                    tid = self._core.submit([main], (), ref[1], reserve)
                else:
                    enc = self._encoder
                    enc.needs = list(self._base_needs)
                    main, bufs, fds = enc.encode((kind, fn, payload))
                    tid = self._core.submit([FULL + main, *bufs], fds, enc.needs, reserve)
                    if enc.semaphores:
                        locks = _shared.locks_in(payload, kind == CALL)
            except KeyboardInterrupt:
                raise
            except BaseException as e:
                raise StageError("pickling the task in the parent", _described(kind, e)) from e
        self._sink(tid, sink, locks)
        return tid

    def _send_call(self, fn, args, kwargs, sink):
        """``_send(CALL, fn, (args, kwargs), sink, reserve=True)``, for ``Pool.submit``.
        The common case goes first, in few steps: ``fn`` already on the fast path (its
        definition, if it needs one, is sent) and only scalar positional arguments. That
        needs nothing of the encoder (nor its lock) and no walk of the arguments."""
        hit = self._fast_refs.get(id(fn))
        if hit is None or hit[0] is not fn or kwargs or self._closing:
            return self._send(CALL, fn, (args, kwargs), sink, True)
        for a in args:
            if type(a) not in SCALARS:
                return self._send(CALL, fn, (args, kwargs), sink, True)
        head, needs = hit[1]
        try:
            tid = self._core.submit([pickle.dumps((CALL, head, (args, kwargs)), 5)], (), needs, True)
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            raise StageError("pickling the task in the parent", _described(CALL, e)) from e
        self._sink(tid, sink)
        return tid

    def _sink(self, tid, sink, locks=None):
        """The outcome of task ``tid`` goes to ``sink`` (delivered now if it is in)."""
        with self._sink_lock:
            if locks:
                self._locks[tid] = locks
            out = self._orphans.pop(tid, None) if self._orphans else None
            if out is None:
                self._sinks[tid] = sink
                return
        self._sinks[tid] = sink
        self._deliver([out])

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
        locks = {}
        with self._enc_lock:
            ref = self._fast_ref(fn)
            if ref is not None:
                # The plain ones up front go in one call, as stock pickles.
                mains = []
                head = ref[0]
                # (the common cases of _plain_main, inline; a call's chunks are all of
                # one size but the last)
                if kind == CALL or (payloads and len(payloads[0]) < FEW):
                    for payload in payloads:
                        if not is_plain(payload):
                            break
                        mains.append(pickle.dumps((kind, head, payload), 5))
                elif kind == CHUNK:
                    dumps, allowed = self._plain.dumps, None if type(head) is int else head
                    for payload in payloads:
                        main = dumps((kind, head, payload), payload, allowed)
                        if main is None:
                            break
                        mains.append(main)
                else:
                    for payload in payloads:
                        main = self._plain_main(kind, head, payload)
                        if main is None:
                            break
                        mains.append(main)
                if mains:
                    sizes.extend(map(len, mains))
                    start = core.submit_many(mains, ref[1])
                    tids.extend(range(start, start + len(mains)))
                    payloads = payloads[len(mains) :]
            for payload in payloads:
                try:
                    main = None if ref is None else self._plain_main(kind, ref[0], payload)
                    if main is not None:
                        tids.append(core.submit([main], (), ref[1]))
                        sizes.append(len(main))
                        continue
                    enc = self._encoder
                    enc.needs = list(self._base_needs)
                    main, bufs, fds = enc.encode((kind, fn, payload))
                    tids.append(core.submit([FULL + main, *bufs], fds, enc.needs))
                    sizes.append(len(main) + sum(memoryview(b).nbytes for b in bufs))
                    if enc.semaphores:
                        locks[tids[-1]] = _shared.locks_in(payload, kind == CALL)
                except KeyboardInterrupt:
                    raise
                except BaseException as e:
                    err = StageError("pickling the task in the parent", _described(kind, e))
                    err.__cause__ = e
                    batch.results[first + len(tids)] = (None, False, "parent", err)
                    tids.append(None)
                    break
        self._sink_many(tids, batch, first, locks)
        return tids

    def _sink_many(self, tids, batch, first, locks=None):
        """Results of ``tids`` (None: not sent) go to ``batch`` from index ``first``."""
        late = []
        with self._sink_lock:
            if locks:
                self._locks.update(locks)
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

    def _send_slices(self, kind, fn, items, start, stop, size, batch, first, sizes=None, check=True):
        """``_send_many`` of the chunks ``items[i : i + size]`` for ``i`` in
        ``range(start, stop, size)``, ``items`` a list. The plain chunks up front are
        written straight from the list (``chunk_pickles``: no slice, nor a C pickler's
        dispatch per item); the rest are sliced and sent as ``_send_many`` sends them."""
        if sizes is None:
            sizes = []
        if check:
            self._check_running()
        starts = range(start, stop, size)
        tids = []
        # (a worker on another interpreter may run an older brinery, without COLUMNS)
        if size >= FEW and (kind == CHUNK or (kind == STARCHUNK and self._python is None)):
            with self._enc_lock:
                ref = self._fast_ref(fn)
                lead = None if ref is None else lead_opcodes(COLUMNS if kind == STARCHUNK else kind, ref[0])
                if lead is not None:
                    mains = chunk_pickles(items, starts, size, lead, kind == STARCHUNK, 3)
                    if mains:
                        sizes.extend(map(len, mains))
                        at = self._core.submit_many(mains, ref[1])
                        tids = range(at, at + len(mains))
            if tids:
                self._sink_many(tids, batch, first)
                tids = list(tids)
        rest = [items[i : i + size] for i in starts[len(tids) :]]
        if rest:
            tids.extend(self._send_many(kind, fn, rest, batch, first + len(tids), sizes, check=False))
        return tids

    def _plain_main(self, kind, head, payload):
        """The task as a stock pickle, or None if it needs the full encoder. A chunk is
        checked while it is written (``PlainWriter``), not visited first, unless it has
        fewer than ``FEW`` items; a starmap's is sent as columns if it can be."""
        if kind == CALL or len(payload) < FEW:
            return pickle.dumps((kind, head, payload), 5) if is_plain(payload) else None
        allowed = None if type(head) is int else head
        # (a worker on another interpreter may run an older brinery, without COLUMNS)
        if kind == STARCHUNK and self._python is None:
            cols = columns(payload)
            if cols is not None:
                return self._plain.dumps((COLUMNS, head, cols), cols, allowed)
        return self._plain.dumps((kind, head, payload), payload, allowed)

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


# The path a pickling error names, from what was pickled to what the caller passed:
# ``(kind, fn, (args, kwargs))`` for a call, ``(kind, fn, chunk)`` for map's,
# ``(initializer, initargs)`` for a spawn pool's initializer.
_CALL_PATHS = {"obj[2][0]": "args", "obj[2][1]": "kwargs", "obj[1]": "fn"}
_CHUNK_PATHS = {"obj[2]": "chunk", "obj[1]": "fn"}
INIT_PATHS = {"obj[1]": "initargs", "obj[0]": "initializer"}


def renamed(text, names):
    for old, new in names.items():
        if text.startswith(old):
            return new + text[len(old) :]
    return text


def _described(kind, e):
    head, sep, rest = f"{type(e).__name__}: {e}".partition(": ")
    return head + sep + renamed(rest, _CALL_PATHS if kind == CALL else _CHUNK_PATHS)


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
