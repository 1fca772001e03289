"""The brinery exception hierarchy, declared once."""

import pickle

__all__ = [
    "PicklingError",
    "PicklingRecursionError",
    "PoolClosedError",
    "PoolError",
    "RemoteError",
    "SessionWarning",
    "SharedObjectError",
    "StageError",
    "StagePicklingError",
    "StageUnpicklingError",
    "UnpicklingError",
    "UnsafePickleError",
]


class PicklingError(pickle.PicklingError, TypeError):
    """An object cannot be pickled.

    The message starts with the path of the object inside what was dumped, e.g.
    ``obj['jobs'][2].callback.__closure__[0]: cannot pickle 'generator' object``; the
    original exception is ``__cause__``. It is also a ``TypeError``, like the error
    stock pickle raises for unpicklable objects.
    """


class PicklingRecursionError(PicklingError, RecursionError):
    """Objects nest deeper than ``sys.getrecursionlimit()``: raise the limit to pickle
    them (every depth up to it works, whatever the thread's stack size). It is both a
    ``RecursionError``, as stock pickle raises, and a ``PicklingError``."""


class SharedObjectError(PicklingError, RuntimeError):
    """A ``multiprocessing`` object that holds a kernel object (a queue, lock, event,
    shared value, pipe connection...) where it cannot go: into a byte stream, which
    cannot carry a descriptor (``brinery.dumps``; pass it as a ``brinery.Pool`` task
    argument, or to a child that inherits it), or to a pool worker that cannot reach its
    semaphore (one made under the ``fork`` context, in a process not forked after it).
    Public as ``brinery.pool.SharedObjectError``. Also a ``RuntimeError``, what
    ``multiprocessing`` itself raises for such objects."""

    __module__ = "brinery.pool"  # (its public path, in every brinery that has it)


class UnpicklingError(pickle.UnpicklingError):
    """A stream cannot be loaded by brinery's safe loader.

    ``offset`` is the byte offset of the opcode where loading stopped (``None`` when the
    failure is not tied to one opcode); the message ends with ``at byte N``. ``code`` is
    the stable name of the failure from the core's table, the same as C's
    ``BRINERY_DECODE_<code>`` status (``"TRUNCATED"``, ``"TOO_DEEP"``,
    ``"FORBIDDEN_GLOBAL"``...), or ``None`` for a failure only Python has (an exception
    raised by an allowed constructor, a refused call).
    """

    def __init__(self, message, offset=None, code=None):
        super().__init__(message)
        self.offset = offset
        self.code = code


class UnsafePickleError(UnpicklingError):
    """A stream names a global outside the allowlist (or calls something that is not an
    allowed global). Raised before anything in the stream is imported or called.

    ``global_name`` is the offending ``"module.name"`` (or ``"extension code N"``) and
    ``offset`` the byte offset of the opcode that names it.
    """

    def __init__(self, message, global_name=None, offset=None, code=None):
        super().__init__(message, offset, code)
        self.global_name = global_name


class SessionWarning(UserWarning):
    """``dump_session`` left names out of a session (their values cannot be pickled), or
    ``load_session`` restored one that had names left out; the message lists each name
    with the reason."""


# -- brinery.Pool's errors (public as brinery.pool.<name>) --------------------------------


class PoolError(Exception):
    """A task could not complete because of the pool (shut down before it ran...)."""


# WorkerDiedError, BrokenWorkersError and WaitTimeoutError are in pool._exceptions: their
# standard-library bases would make every ``import brinery`` import multiprocessing.


class PoolClosedError(PoolError, RuntimeError, ValueError):
    """Work was given to a pool after ``close()``, ``shutdown()`` or ``terminate()``.

    Both a ``RuntimeError`` (what ``Executor.submit`` raises then) and a ``ValueError``
    (what ``multiprocessing.Pool`` raises then)."""


class RemoteError(Exception):
    """Stands in for a worker exception that could not be pickled."""


class StageError(Exception):
    """A Python error in the worker outside the task itself (loading the task, pickling
    the result), or in the parent pickling a task or unpickling a result; ``stage`` names
    the step. One of a pickling stage is also a ``pickle.PicklingError``, one of an
    unpickling stage a ``pickle.UnpicklingError`` (``StagePicklingError``,
    ``StageUnpicklingError``), as the executors of the standard library raise there."""

    def __new__(cls, *args):
        # (Unpickling may call it with no arguments and restore them afterwards.)
        if cls is StageError and args and isinstance(args[0], str):
            if args[0].startswith("pickling"):
                cls = StagePicklingError
            elif args[0].startswith("unpickling"):
                cls = StageUnpicklingError
        return super().__new__(cls, *args)

    def __init__(self, stage, message):
        super().__init__(stage, message)
        self.stage = stage
        self.message = message

    def __str__(self):
        where = "" if self.stage.endswith("in the parent") else " in the worker"
        return f"error while {self.stage}{where}: {self.message}"


class StagePicklingError(StageError, pickle.PicklingError):
    """A ``StageError`` while pickling (the task in the parent, the result in the worker)."""


class StageUnpicklingError(StageError, pickle.UnpicklingError):
    """A ``StageError`` while unpickling (the task in the worker, the result in the
    parent)."""
