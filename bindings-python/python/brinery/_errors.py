"""The brinery exception hierarchy, declared once."""

import pickle

__all__ = ["PicklingError"]


class PicklingError(pickle.PicklingError, TypeError):
    """An object cannot be pickled.

    The message starts with the path of the object inside what was dumped, e.g.
    ``obj['jobs'][2].callback.__closure__[0]: cannot pickle 'generator' object``; the
    original exception is ``__cause__``. It is also a ``TypeError``, like the error
    stock pickle raises for unpicklable objects.
    """
