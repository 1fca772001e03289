"""Where brinery before the ``brinery.pool`` package defined ``RemoteTraceback`` (the
``__cause__`` of an exception a task raised): an exception stored by a user with that
older brinery names it here. It is ``brinery.pool``'s, defined in
``brinery.pool._results``."""

from .pool._results import RemoteTraceback

__all__ = ["RemoteTraceback"]
