"""The brinery exception hierarchy, declared once."""

import pickle

__all__ = ["PicklingError", "UnpicklingError", "UnsafePickleError"]


class PicklingError(pickle.PicklingError, TypeError):
    """An object cannot be pickled.

    The message starts with the path of the object inside what was dumped, e.g.
    ``obj['jobs'][2].callback.__closure__[0]: cannot pickle 'generator' object``; the
    original exception is ``__cause__``. It is also a ``TypeError``, like the error
    stock pickle raises for unpicklable objects.
    """


class UnpicklingError(pickle.UnpicklingError):
    """A stream cannot be loaded by brinery's safe loader.

    ``offset`` is the byte offset of the opcode where loading stopped (``None`` when the
    failure is not tied to one opcode); the message ends with ``at byte N``.
    """

    def __init__(self, message, offset=None):
        super().__init__(message)
        self.offset = offset


class UnsafePickleError(UnpicklingError):
    """A stream names a global outside the allowlist (or calls something that is not an
    allowed global). Raised before anything in the stream is imported or called.

    ``global_name`` is the offending ``"module.name"`` (or ``"extension code N"``) and
    ``offset`` the byte offset of the opcode that names it.
    """

    def __init__(self, message, global_name=None, offset=None):
        super().__init__(message, offset)
        self.global_name = global_name
