"""The worker process of ``brinery.Pool``: receive a task, load it, run it, send the
result, for as long as the pool wants. Each step is written to the stage page first, so
if this process dies the parent knows which task it was on and how far it got.

Started either by a fork in the parent (``serve_forked``) or as a fresh
interpreter (``python -c 'from brinery.pool._worker import main; main()'``), which imports
brinery and the modules tasks name, never the parent's ``__main__``.
"""

import os
import signal
from itertools import starmap as _starmap
import sys

from .. import _namespaces
from .._errors import RemoteError, StageError
from .._brinery import WorkerEndpoint, chunk_pickles
import pickle

from ._codec import (
    FAST,
    FEW,
    FULL,
    PENDING,
    Decoder,
    Encoder,
    PlainWriter,
    close_unclaimed,
    is_plain,
    lead_opcodes,
    make_encoder,
)

# Stage numbers; their names are pool.STAGE_NAMES.
IDLE, RECEIVING, UNPICKLING, RUNNING, PICKLING, SENDING, INITIALIZING = range(7)

# A chunk's results as chunk_pickles writes them: (True, [values]).
_FIRST, _OK = (0,), lead_opcodes(True)

# Task kinds. COLUMNS is a STARCHUNK sent as the columns of its argument tuples (one list
# per argument position): ``fn(*args)`` for each ``args`` in ``zip(*columns)``.
CALL, CHUNK, STARCHUNK, COLUMNS = range(4)

# Definition id of the spawn-mode initializer ``(initializer, initargs)``.
INIT_DEF = 0

# A message with nothing besides its main stream: no other buffers, no descriptors.
_NOTHING = ((), ())


class _ResultEncoder(Encoder):
    def setup(self, worker):
        self.worker = worker

    def def_ref(self, obj):
        n = self.worker.def_ids.get(id(obj))
        if n is not None and self.worker.defs.get(n) is obj:
            return ("brinery.ref", n)
        return None


class Worker:
    def __init__(self, ep):
        self.ep = ep
        self.defs = {}
        self.def_ids = {}
        self.loading = set()
        self.bound = {}
        # (a worker of ``Pool(python=)`` may run another CPython version than its parent)
        cross = os.environ.get("BRINERY_CROSS_VERSION") == "1"
        self.encoder = make_encoder(_ResultEncoder, False, self, cross_version=cross)
        self.init_error = None
        self.initialized = False

    # Decoder side hooks.
    def load_def(self, n):
        obj = self.defs.get(n)
        if obj is not None:
            return obj
        if n in self.loading:
            return PENDING
        data = self.ep.definition(n)
        if data is None:
            raise LookupError(f"definition {n} was never sent to this worker")
        fds = self.ep.definition_fds(n)  # (only the spawn initializer's may have some)
        self.loading.add(n)
        try:
            obj = Decoder(data, [], fds, self).load()
        finally:
            self.loading.discard(n)
            close_unclaimed(fds)
        module = getattr(obj, "__module__", None)
        name = getattr(obj, "__qualname__", "")
        if isinstance(module, str) and name.isidentifier():
            obj = self.bind(module, name, n, obj)
        self.defs[n] = obj
        self.def_ids[id(obj)] = n
        return obj

    def bind(self, module, name, n, obj):
        """Binds definition ``n``, a function or class named ``name``, in this worker's
        namespace of ``module``, and returns the object tasks get for it.

        The parent numbers definitions in the order it makes them, so a later definition
        of a name (a class or function redefined, a notebook cell run again) takes the
        name over from an earlier one, in the namespace and in the class registry, and
        instances of either keep their own class. A name bound to something else (what
        an initializer set with ``global``) is kept. A forked worker keeps the object it
        inherited when that has the same definition, so instances made by inherited
        functions and instances sent as arguments agree."""
        ns = _namespaces.namespace(module)
        key = (module, name)
        existing = ns.get(name, _MISSING)
        if existing is _MISSING or existing is obj:
            ns[name] = obj
            self.bound[key] = n
            return obj
        if type(existing) is not type(obj) or getattr(existing, "__qualname__", None) != name:
            return obj
        prev = self.bound.get(key)
        if prev is not None and self.defs.get(prev) is existing:
            if n > prev:
                ns[name] = obj
                self.bound[key] = n
            return obj
        self.bound[key] = n
        if _same_definition(existing, obj):
            return existing
        ns[name] = obj
        return obj

    def load_ref(self, n):
        raise LookupError("result references are for the parent")

    def run_spawn_initializer(self):
        self.initialized = True
        if self.ep.definition(INIT_DEF) is None:
            return
        self.ep.set_stage(INITIALIZING)
        try:
            initializer, initargs = self.load_def(INIT_DEF)
            initializer(*initargs)
        except BaseException as e:  # noqa: BLE001 - reported with every task
            self.init_error = e

    def serve(self):
        ep = self.ep
        plain = PlainWriter()
        while True:
            # A spawned worker runs the initializer on its first task: the task's clock
            # (task_timeout) starts after it.
            got = ep.recv(UNPICKLING, not self.initialized)
            if got is None:
                return
            tid, main, extra = got
            bufs, fds = _NOTHING if extra is None else extra
            # Large arguments are shared-memory segments the parent reuses once nothing
            # here references them: hold them no longer than the task does.
            got = extra = None
            if not self.initialized:
                self.run_spawn_initializer()
                ep.start_clock()
                ep.set_stage(UNPICKLING)
            if self.init_error is not None:
                bufs = main = None
                close_unclaimed(fds)
                self.reply(tid, (False, _initializer_failed(self.init_error), _tb(self.init_error)))
                continue
            try:
                if main[0] == FAST:  # (kind, def id or function, payload)
                    kind, fn, payload = pickle.loads(main)
                    if type(fn) is int:
                        fn = self.load_def(fn)
                else:
                    kind, fn, payload = Decoder(memoryview(main)[1:], bufs, fds, self).load()
            except BaseException as e:  # noqa: BLE001
                bufs = main = None
                close_unclaimed(fds)
                self.reply(tid, (False, StageError("unpickling the task", _describe(e)), _tb(e)))
                continue
            bufs = main = None
            ep.set_stage(RUNNING)
            try:
                if kind == CALL:  # (no local names for the arguments: see above)
                    value = fn(*payload[0], **payload[1])
                elif kind == CHUNK:
                    value = list(map(fn, payload))
                elif kind == COLUMNS:
                    value = list(map(fn, *payload))
                else:
                    value = list(_starmap(fn, payload))
                out = (True, value)
            except Exception as e:  # noqa: BLE001
                out = (False, e, _tb(e))
            except BaseException as e:  # noqa: BLE001 - sys.exit() fails the task, not the worker
                why = f"{type(e).__name__}({', '.join(map(repr, e.args))}); the worker stayed up"
                out = (False, StageError("running the task", why), _tb(e))
            del fn, payload
            if fds:
                close_unclaimed(fds)
            # The common cases of reply(), inline: a chunk's results are checked plain
            # while they are written.
            if not out[0]:
                self.reply(tid, out)
            elif kind == CALL or len(out[1]) < FEW:
                if is_plain(out[1]):
                    ep.set_stage(PICKLING)
                    ep.reply(tid, SENDING, pickle.dumps(out, 5))
                else:
                    self.reply(tid, out)
            else:
                ep.set_stage(PICKLING)
                # Plain scalars are written straight from the list (chunk_pickles);
                # anything else is checked while it is written (PlainWriter).
                data = chunk_pickles(value, _FIRST, len(value), _OK, False, 2) if type(value) is list else None
                data = data[0] if data else plain.dumps(out, out[1])
                if data is None:
                    self.reply(tid, out)
                else:
                    ep.reply(tid, SENDING, data)
                data = None
            # The result is the parent's now: an idle worker holds none of its memory or
            # files (a returned file closes here; the parent has its own descriptor).
            out = value = None

    def reply(self, tid, out):
        ep = self.ep
        ep.set_stage(PICKLING)
        try:
            if out[0] and is_plain(out[1]):
                main, bufs, fds = pickle.dumps(out, 5), (), ()
            else:
                main, bufs, fds = self.encoder.encode(out)
                main = FULL + main
        except BaseException as e:  # noqa: BLE001
            if out[0]:
                err = StageError("pickling the result", _describe(e))
                tb = _tb(e)
            else:
                err = RemoteError(_describe(out[1]))
                tb = out[2]
            main, bufs, fds = self.encoder.encode((False, err, tb))
            main = FULL + main
        try:
            ep.reply(tid, SENDING, main, bufs, fds)
        except OSError as e:
            # Nothing of the result was queued (a memfd could not be made, too many
            # descriptors): the task fails, the worker stays. (A stream broken part way
            # fails this reply too, and the worker exits: the parent then reports it.)
            main = bufs = fds = out = None
            err = StageError("sending the result", _describe(e))
            ep.reply(tid, SENDING, FULL + self.encoder.encode((False, err, _tb(e)))[0])


_MISSING = object()


def _same_definition(existing, loaded):
    """Whether ``existing``, an object this worker did not load (a forked worker's
    inherited one), has the definition of ``loaded``; a class found so takes its place
    in the class registry."""
    if isinstance(existing, type):
        from .. import _identity

        if not _identity.same_definition(existing, loaded):
            return False
        _identity.adopt(existing, loaded)
        return True
    return getattr(existing, "__code__", None) == getattr(loaded, "__code__", _MISSING)


def _initializer_failed(e):
    from ._exceptions import BrokenWorkersError  # (multiprocessing is imported only now)

    return BrokenWorkersError(f"the pool's initializer failed: {_describe(e)}")


def _describe(e):
    return f"{type(e).__module__}.{type(e).__qualname__}: {e}"


def _tb(e):
    import traceback  # not at the top: a spawned worker that never fails never needs it

    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


def _run_finalizers():
    """What ``multiprocessing`` runs when one of its children exits, if a task loaded it:
    queues this process fed flush their buffers (their feeder threads are joined), so
    nothing a task put is lost when the worker exits. Finalizers inherited from the
    parent by fork are skipped by ``multiprocessing`` itself (they check the pid)."""
    util = sys.modules.get("multiprocessing.util")
    run = getattr(util, "_run_finalizers", None)
    if run is not None:
        run(0)
        run()


def _quiet_signals():
    # Ctrl-C goes to the whole foreground group: let the parent decide what to cancel.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def serve_forked(sock, stage, parent_only, parent_pid, initializer, initargs):
    """The body of a forked worker; never returns."""
    code = 0
    try:
        WorkerEndpoint.die_with_parent(parent_pid)
        for fd in parent_only:
            try:
                os.close(fd)
            except OSError:
                pass
        _quiet_signals()
        # By-value functions from __main__ bind to the real (inherited) __main__ globals.
        main = sys.modules.get("__main__")
        if main is not None:
            _namespaces.NAMESPACES["__main__"] = vars(main)
        worker = Worker(WorkerEndpoint(sock, stage))
        worker.initialized = True
        if initializer is not None:
            worker.ep.set_stage(INITIALIZING)
            try:
                initializer(*initargs)
            except BaseException as e:  # noqa: BLE001
                worker.init_error = e
        worker.serve()
        _run_finalizers()
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main():
    """Entry point of a spawned worker."""
    _quiet_signals()
    Worker(WorkerEndpoint.from_env()).serve()
    _run_finalizers()
    sys.stdout.flush()
    sys.stderr.flush()


__all__ = ["main", "serve_forked", "StageError", "RemoteError"]
