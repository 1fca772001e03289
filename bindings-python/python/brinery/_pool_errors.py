"""Where brinery before the ``brinery.pool`` package defined ``WorkerDiedError``,
``BrokenWorkersError`` and ``WaitTimeoutError``: streams written by it (a worker of an
older brinery under ``Pool(python=)``, an exception stored by a user) name them here.
They are ``brinery.pool``'s, defined in ``brinery.pool._exceptions``."""

from .pool._exceptions import BrokenWorkersError, WaitTimeoutError, WorkerDiedError

__all__ = ["BrokenWorkersError", "WaitTimeoutError", "WorkerDiedError"]
