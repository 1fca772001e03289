"""Reductions for objects of the interpreter's own machinery that stock ``pickle``
refuses: ``classmethod_descriptor`` objects (``type.__dict__['__prepare__']``) and C
capsules (``datetime.datetime_CAPI``), plus the names of
the type objects ``types`` exposes under a name other than their own
(``types.FrameType`` is ``frame``, which ``builtins`` does not have).

A capsule is stored by the name it was made under, as dill stores it, and found again
by import when the stream loads; one that cannot be found that way is refused.
(``weakref.proxy`` objects are the walker's: see
``bindings-python/src/encode/weak_proxy.rs``.)
Reductions name only standard-library callables.
"""

import builtins
import importlib
import operator
import pickle
import types

from ._reducers import Call

__all__ = ["table", "type_names"]


def _classmethod_descriptor(d):
    # `vars(cls)[name]`: attribute access on the class binds it instead.
    return operator.getitem, (Call(vars, d.__objclass__), d.__name__)


def _capsule_name(capsule):
    text = repr(capsule)
    start = text.find('"')
    end = text.find('"', start + 1)
    return text[start + 1 : end] if start >= 0 and end > start else None


def _capsule(capsule):
    name = _capsule_name(capsule)
    module, _, attr = (name or "").rpartition(".")
    if module and attr:
        try:
            found = getattr(importlib.import_module(module), attr, None)
        except ImportError:
            found = None
        if found is capsule:
            return getattr, (Call(importlib.import_module, module), attr)
    raise pickle.PicklingError(
        f"cannot pickle capsule {name!r}: it cannot be found again by import"
    )


def _capsule_type():
    found = getattr(types, "CapsuleType", None)  # 3.13+
    if found is None:
        import _datetime  # a small C module that exports a capsule

        found = type(_datetime.datetime_CAPI)
    return found


def table():
    """The reductions, keyed by type."""
    return {
        types.ClassMethodDescriptorType: _classmethod_descriptor,
        _capsule_type(): _capsule,
    }


def type_names():
    """``{type: (module, name)}`` for the types in ``types`` (and ``_thread``'s lock
    type) that cannot be found by their own ``__qualname__``."""
    import _thread

    names = {}
    candidates = [(types, "types", attr) for attr in dir(types)]
    candidates.append((_thread, "_thread", "LockType"))
    for module, module_name, attr in candidates:
        obj = getattr(module, attr, None)
        if not isinstance(obj, type) or attr.startswith("_"):
            continue
        home = importlib.import_module(obj.__module__) if obj.__module__ != "builtins" else builtins
        if getattr(home, obj.__qualname__, None) is not obj:
            names.setdefault(obj, (module_name, attr))
    return names
