"""brinery.Pool's errors that are also the standard library's pool errors, so code written
for ``ProcessPoolExecutor`` or ``multiprocessing.Pool`` catches them. They live apart from
``_errors`` (the rest of the hierarchy) because their bases import ``multiprocessing``,
which neither ``import brinery`` nor a spawned worker should pay for."""

import multiprocessing
from concurrent.futures.process import BrokenProcessPool

from .._errors import PoolError

__all__ = ["BrokenWorkersError", "WaitTimeoutError", "WorkerDiedError"]


class WorkerDiedError(PoolError, BrokenProcessPool):
    """The worker running the task died; the message names the exit code or signal and
    the stage the task was in. Only that task fails (the pool is not broken), but it is a
    ``BrokenProcessPool`` so code written for ``ProcessPoolExecutor`` catches it."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)


class BrokenWorkersError(PoolError, BrokenProcessPool):
    """Workers die before serving anything, or the initializer failed (every task then
    fails with this error, the initializer's own exception as ``__cause__``)."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)


class WaitTimeoutError(multiprocessing.TimeoutError, TimeoutError):
    """A wait for a result ran out of time (``AsyncResult.get(timeout)``, an ``imap``
    iterator's ``next(timeout)``, ``map(..., timeout=)``); the task goes on.

    Both ``multiprocessing.TimeoutError`` and ``concurrent.futures.TimeoutError``."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)
