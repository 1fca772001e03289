"""The thread that runs a ``Pool``'s event loop, and how its workers are started: the
driver thread creates the native ``PoolCore`` (forking through ``_brinery.fork()``, which
runs Python's fork hooks as ``os.fork()`` does, or spawning
``python -c 'from brinery.pool._worker import main'``), then waits for replies and
delivers each to the future, ``map`` batch or ``imap`` iterator waiting for it. Pools
still running at interpreter exit finish their submitted tasks first. Not for encoding
tasks (``_tasks``) nor for the public calls (``_pool``)."""

import atexit
import functools
import os
import sys
import time
import weakref

from .._brinery import PoolCore, fork as _native_fork
from .._errors import PoolError
from . import _shared, _worker
from ._results import _PENDING, _SLICE, decode_arrived, finish, gathered, settle
from ._worker import INIT_DEF

__all__ = ["Driver", "STAGE_NAMES"]

# What a spawned worker runs. (The brinery of ``Pool(python=)``'s interpreter may be one
# from before the pool became a package, which has ``brinery._worker`` only.)
_WORKER_MAIN = """
try:
    from brinery.pool._worker import main
except ImportError:
    from brinery._worker import main
main()
"""

# Seconds during which only the first worker runs unless a task waits for another (the
# first result then shares the CPUs with no other worker starting): about the time a
# worker takes to start.
_RAMP_UP = {"fork": 0.01, "spawn": 0.1}

STAGE_NAMES = [
    "idle",
    "receiving the task",
    "unpickling the task",
    "running the task",
    "pickling the result",
    "sending the result",
    "running the initializer",
]


class Driver:
    """The delivering half of ``Pool`` (a base class of it)."""

    # -- the driver thread ------------------------------------------------------------

    def _drive(self, started, failure, max_tasks_per_child, task_timeout):
        # Workers are started (and restarted) from this thread only: PR_SET_PDEATHSIG
        # follows the thread that forked, and this thread lives as long as the pool.
        try:
            kwargs = dict(
                max_tasks_per_child=max_tasks_per_child,
                task_timeout=task_timeout,
                stage_names=STAGE_NAMES,
                ramp_up=_RAMP_UP[self._start_method],
            )
            if self._start_method == "fork":
                # Not a bound method: the native core cannot show the collector a cycle
                # back to this pool, which would then never be freed.
                fork = functools.partial(_fork_worker, self._initializer, self._initargs)
                core = PoolCore(self._processes, fork=fork, **kwargs)
            else:
                env = [("PYTHONPATH", os.pathsep.join(_worker_path(self._python)))]
                argv = [self._python or sys.executable, "-c", _WORKER_MAIN]
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

    def _collect(self, fut, deadline):
        """Waits until ``deadline`` for the outcome of ``fut``'s task by reading its
        worker's reply on this thread (``PoolCore.collect``, called at least once: it
        also takes over a reservation, see ``AsyncResult``), and delivers it. Returns
        early, the delivery left to the driver thread, when the task is not at a worker
        or another thread reads that worker. An outcome taken is delivered even if this
        thread is interrupted (``KeyboardInterrupt``) meanwhile."""
        core = self._core
        tid = fut._tid
        got = []
        try:
            while True:
                remaining = _SLICE if deadline is None else max(0.0, min(_SLICE, deadline - time.monotonic()))
                done = core.collect(tid, remaining, got) is not False
                # (Not before: interrupted first, the future must still hand it back.)
                fut._reserved = False
                if done or not remaining:
                    return
        finally:
            if got:
                self._deliver_one(got[0])
                if self._closing:  # (the driver thread may be waiting for this one)
                    core.wake()

    def _deliver_one(self, out):
        """``_deliver([out])`` for the outcome of one ``submit`` (its sink a future)."""
        with self._sink_lock:
            locks = self._locks
            if locks:
                out = _shared.name_held_locks(out, locks.pop(out[0], None))
            sink = self._sinks.pop(out[0], None)
            if sink is None:
                self._orphans[out[0]] = out
                return
        if not out[1] or sink._state != _PENDING:
            settle(sink, lambda: self._decode(out))
            return
        # (the common case, in fewer steps: a value for a future still pending)
        try:
            value = self._decode(out)
        except BaseException as e:  # noqa: BLE001 - the task's outcome
            settle(sink, functools.partial(_reraise, e))
        else:
            finish(sink, value)

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
            locks = self._locks
            for out in outs:
                if locks:
                    out = _shared.name_held_locks(out, locks.pop(out[0], None))
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
        finishes its ``MapResult``. Each is decoded as it arrives, while the workers run
        the rest."""
        decode_arrived(batch, self._decode)
        with batch.cond:
            batch.left -= n
            if batch.left:
                return
        results, batch.results = batch.results, None
        settle(batch.gather, lambda: gathered(batch, results, self._decode))


def _reraise(e):
    raise e


def _fork_worker(initializer, initargs, sock, stage, parent_only):
    parent = os.getpid()
    # What os.fork() does first: refuse at interpreter shutdown, raise its audit event.
    if sys.is_finalizing():
        raise RuntimeError("can't fork at interpreter shutdown")
    sys.audit("os.fork")
    # Not os.fork(): this one waits until no other thread is inside brinery's native
    # code, whose half-initialized statics the worker would inherit (see fork_gate.rs).
    pid = _native_fork()
    if pid == 0:
        _worker.serve_forked(sock, stage, parent_only, parent, initializer, initargs)
    return pid


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

