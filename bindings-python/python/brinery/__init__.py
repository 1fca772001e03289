"""brinery: serialize all of Python, fast, in a stream any Python can load.

``dumps``/``dump``/``Pickler`` write the same bytes as ``pickle`` for everything
``pickle`` can store, and store by value what ``pickle`` can only name: functions,
lambdas, closures, classes and modules defined in ``__main__``, locally, in modules
that cannot be imported, or in modules registered with ``register_pickle_by_value``.
Every stream loads with stock ``pickle.loads`` (``loads``/``load`` here *are* the stock
ones) in a same-minor-version Python where brinery is not installed.
"""

import os as _os
import pickle as _pickle
import sys as _sys
import types as _types

from . import _brinery, _byvalue
from ._errors import PicklingError, PicklingRecursionError, SessionWarning, UnpicklingError, UnsafePickleError

# Any fork of this process waits a moment for threads inside brinery's native code (see
# src/fork_gate.rs): a child forked while one is there may inherit a half-built static.
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(before=_brinery.before_fork)

__all__ = [
    "DEFAULT_PROTOCOL",
    "HIGHEST_PROTOCOL",
    "Pickler",
    "PicklingError",
    "PicklingRecursionError",
    "Pool",
    "SessionWarning",
    "UnpicklingError",
    "UnsafePickleError",
    "dump",
    "dump_session",
    "dumps",
    "list_registry_pickle_by_value",
    "load",
    "load_session",
    "loads",
    "register_pickle_by_value",
    "safe_load",
    "safe_loads",
    "scan",
    "unregister_pickle_by_value",
]

HIGHEST_PROTOCOL = _pickle.HIGHEST_PROTOCOL
DEFAULT_PROTOCOL = _pickle.DEFAULT_PROTOCOL

loads = _pickle.loads
load = _pickle.load

# Native functions themselves (keywords, `by_value` modules or names, the protocol default
# and truth-valued flags are handled there): a Python wrapper's frame cost about as much
# as a whole `pickle.dumps(None)`.
dumps = _brinery.dumps
dump = _brinery.dump
_native_dumps = dumps


def _module_names(by_value):
    names = []
    for m in by_value:
        names.append(m.__name__ if isinstance(m, _types.ModuleType) else str(m))
    return names


class Pickler(_brinery.Pickler):
    """A ``pickle.Pickler`` work-alike writing through brinery.

    Subclasses may define ``persistent_id``, ``reducer_override`` and ``dispatch_table``;
    they are looked up when ``dump()`` starts and win exactly as with ``pickle.Pickler``.

    ``namespaces=True`` is for processes that load many streams into one long-lived
    interpreter (brinery's pool): the globals of by-value functions are not a fresh dict
    per stream but the persistent id ``("brinery.ns", module_name)``, filled afterwards
    through ``("brinery.fill", module_name, {name: value})`` (names the namespace lacks
    only). Load such streams with ``brinery._namespaces.Unpickler``.

    ``pickler.fast = True`` (set on the instance, as on ``pickle.Pickler``, where a class
    attribute of that name does not switch it on either) writes data without the memo:
    the bytes of ``pickle``'s fast mode, objects shared inside the data are written once
    per reference, and a cycle through lists and dicts raises ``ValueError``. Functions
    and classes stored by value keep their memo even then (their globals stay shared and
    recursive closures still work).
    """

    _fast_mode = False

    @property
    def fast(self):
        """``pickle``'s fast mode (no memo for data); see the class docstring."""
        return self._fast_mode

    @fast.setter
    def fast(self, value):
        self._fast_mode = bool(value)

    def __new__(cls, *args, **kwargs):
        # Configured by `__init__`, as `pickle.Pickler` is: a subclass's `__init__` may
        # take other arguments and pass `Pickler.__init__` the ones it needs.
        return super().__new__(cls)

    def __init__(self, file=None, protocol=None, *, fix_imports=True, buffer_callback=None,
                 by_value=(), namespaces=False, cross_version=False):
        if protocol is None:
            protocol = DEFAULT_PROTOCOL
        self._init(
            file,
            protocol,
            fix_imports=bool(fix_imports),
            buffer_callback=buffer_callback,
            by_value=_module_names(by_value),
            namespaces=namespaces,
            cross_version=bool(cross_version),
        )

    @property
    def memo(self):
        """What earlier ``dump()`` calls memoized, as ``pickle.Pickler.memo``: a view
        whose ``copy()`` is ``{id(obj): (index, obj)}`` and whose ``clear()`` empties it.
        Assign another pickler's ``memo`` (or such a dict) to continue its numbering."""
        return PicklerMemoProxy(self)

    @memo.setter
    def memo(self, value):
        if isinstance(value, PicklerMemoProxy) or type(value).__name__ == "PicklerMemoProxy":
            value = value.copy()
        elif not isinstance(value, dict):
            raise TypeError(
                f"'memo' attribute must be a PicklerMemoProxy object or dict, not {type(value).__name__}"
            )
        self._set_memo(value)

    @memo.deleter
    def memo(self):
        raise TypeError("attribute deletion is not supported")


class PicklerMemoProxy:
    """``Pickler.memo``: a live view of one pickler's memo (as ``pickle``'s own)."""

    __slots__ = ("_pickler",)

    def __init__(self, pickler):
        self._pickler = pickler

    def clear(self):
        """Empty the pickler's memo, as ``Pickler.clear_memo()``."""
        self._pickler.clear_memo()

    def copy(self):
        """``{id(obj): (index, obj)}`` for every memoized object."""
        return self._pickler._memo_copy()

    def __reduce__(self):
        return dict, (self.copy(),)


# The error messages are cloudpickle's, word for word: code written for it may match them.
def _check_module(module):
    if not isinstance(module, _types.ModuleType):
        raise ValueError(f"Input should be a module object, got {module} instead")


def register_pickle_by_value(module):
    """Store the functions and classes of ``module`` (and its submodules) by value."""
    _check_module(module)
    if module.__name__ not in _sys.modules:
        raise ValueError(f"{module} was not imported correctly, have you used an `import` statement to access it?")
    _byvalue.BY_VALUE.add(module.__name__)


def unregister_pickle_by_value(module):
    """Undo ``register_pickle_by_value(module)``."""
    _check_module(module)
    if module.__name__ not in _byvalue.BY_VALUE:
        raise ValueError(f"{module} is not registered for pickle by value")
    _byvalue.BY_VALUE.discard(module.__name__)


def list_registry_pickle_by_value():
    """The names of the modules registered with ``register_pickle_by_value``."""
    return set(_byvalue.BY_VALUE)


# Imported on first use, so that `import brinery` (and every spawned pool worker, which
# imports it) does not pay for the pool, the safe loader and the class registry
# (concurrent.futures, logging, hashlib...) until they are wanted.
_LAZY = {
    "Pool": ("pool", "Pool"),
    "pool": ("pool", None),
    "safe": ("safe", None),
    "safe_load": ("safe", "safe_load"),
    "safe_loads": ("safe", "safe_loads"),
    "scan": ("safe", "scan"),
    "dump_session": ("_session", "dump_session"),
    "load_session": ("_session", "load_session"),
    # Classes stored by value, by registry key: a stream rebuilding one of them loads as
    # the class registered here, if any (see `_identity`). Streams reach it by this name.
    "_classes": ("_identity", "REGISTRY"),
}


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'brinery' has no attribute {name!r}") from None
    import importlib

    mod = importlib.import_module(f"{__name__}.{module}")
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
