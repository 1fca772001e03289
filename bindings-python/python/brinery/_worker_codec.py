"""Where brinery before the ``brinery.pool`` package defined ``Fd`` (an open file
passed to a worker by descriptor): a stream written by that older brinery names it
here. It is ``brinery.pool``'s, defined in ``brinery.pool._codec``."""

from .pool._codec import Fd

__all__ = ["Fd"]
