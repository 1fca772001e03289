"""brinery as a joblib parallel backend, so ``joblib.Parallel`` and scikit-learn's
``n_jobs`` run on ``brinery.Pool``.

Importing this module registers the backend ``"brinery"`` (``register()`` does the
same and is idempotent)::

    import joblib
    import brinery.joblib

    with joblib.parallel_config(backend="brinery", n_jobs=4):
        scores = cross_val_score(model, X, y, cv=5)

What changes against joblib's default (loky):

- tasks travel as brinery pickles: lambdas, closures and classes or estimators defined
  in ``__main__`` or in a notebook go by value, once per worker;
- a worker that dies fails only the batch it was running, with a
  ``brinery.pool.WorkerDiedError`` naming the signal or exit code; the other workers
  finish what they run and stay up for the next call (loky raises
  ``TerminatedWorkerError`` and restarts every worker);
- when a task fails, joblib cancels the batches no worker has started
  (``abort_everything``); running ones finish.

Each worker limits BLAS and OpenMP to ``cpu_count() // n_jobs`` threads, as loky does
(``parallel_config(inner_max_num_threads=...)`` sets it). Workers are ``fork``ed by
default; ``parallel_config(backend="brinery",
start_method="spawn")`` spawns them. A pool is kept per (worker count, start method)
and reused by later calls; ``shutdown()`` stops them (they also stop at interpreter
exit). Batching is joblib's automatic batching, ``return_as="generator"`` and
``"generator_unordered"`` work, and so do ``timeout=`` and ``verbose=``.

Not covered: joblib's memory mapping of large NumPy arguments (``max_nbytes``); brinery
sends protocol 5 buffers through shared memory instead.
"""

import os
import threading

import joblib as _joblib
from joblib._parallel_backends import (
    AutoBatchingMixin as _AutoBatchingMixin,
    FallbackToBackend as _FallbackToBackend,
    ParallelBackendBase as _ParallelBackendBase,
    SequentialBackend as _SequentialBackend,
)

__all__ = ["NAME", "BrineryBackend", "register", "shutdown"]

NAME = "brinery"

_POOLS = {}
_POOLS_LOCK = threading.Lock()


def _pool(n_jobs, start_method, threads=None):
    from brinery.pool import Pool

    if threads is None:
        threads = max((os.cpu_count() or 1) // n_jobs, 1)
    key = (n_jobs, start_method, threads)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None or pool._closing:
            pool = _POOLS[key] = Pool(n_jobs, start_method=start_method,
                                      initializer=_limit_threads, initargs=(threads,))
        return pool


def _limit_threads(n):
    """Worker initializer: BLAS and OpenMP pools get ``n`` threads each (as loky's
    workers do, through environment variables), so workers do not oversubscribe the
    cores. Forked workers have their libraries loaded already: threadpoolctl, when
    installed (scikit-learn needs it), changes them in place."""
    for var in _ParallelBackendBase.MAX_NUM_THREADS_VARS:
        os.environ.setdefault(var, str(n))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    global _LIMITS
    _LIMITS = threadpool_limits(n)


def shutdown(wait=True):
    """Stops the pools the backend started (later calls start new ones)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.shutdown(wait=wait, cancel_futures=True)


class BrineryBackend(_AutoBatchingMixin, _ParallelBackendBase):
    """The ``"brinery"`` joblib backend: batches run on a shared ``brinery.Pool``."""

    supports_retrieve_callback = True
    supports_inner_max_num_threads = True
    supports_timeout = True
    supports_return_generator = True
    uses_threads = False
    supports_sharedmem = False

    def __init__(self, nesting_level=None, inner_max_num_threads=None, start_method="fork",
                 **backend_kwargs):
        super().__init__(nesting_level=nesting_level,
                         inner_max_num_threads=inner_max_num_threads, **backend_kwargs)
        self.start_method = start_method
        self._pool = None
        self._pending = set()
        self._lock = threading.Lock()

    def effective_n_jobs(self, n_jobs):
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            return 1
        if n_jobs < 0:
            return max((os.cpu_count() or 1) + 1 + n_jobs, 1)
        return n_jobs

    def configure(self, n_jobs=1, parallel=None, prefer=None, require=None, start_method=None,
                  **backend_kwargs):
        n_jobs = self.effective_n_jobs(n_jobs)
        if n_jobs == 1:
            raise _FallbackToBackend(_SequentialBackend(nesting_level=self.nesting_level))
        if start_method is not None:
            self.start_method = start_method
        self.parallel = parallel
        self._pool = _pool(n_jobs, self.start_method, self.inner_max_num_threads)
        return n_jobs

    def submit(self, func, callback=None):
        future = self._pool.submit(func)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def _forget(self, future):
        with self._lock:
            self._pending.discard(future)

    def retrieve_result_callback(self, future):
        return future.result()

    def retrieve_result(self, out, timeout=None):
        return out.result(timeout=timeout)

    def abort_everything(self, ensure_ready=True):
        """Cancels the batches no worker has started; the pool stays up."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.cancel()

    def terminate(self):
        # The pool outlives the call (later calls reuse its workers).
        self._pool = None
        self.reset_batch_stats()


def register():
    """Registers the ``"brinery"`` backend with joblib; calling it again is a no-op."""
    _joblib.register_parallel_backend(NAME, BrineryBackend)


register()
