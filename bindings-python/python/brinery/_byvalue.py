"""Helpers the native pickler calls for classes stored by value.

``class_recipe(cls)`` says how to rebuild a class with standard-library callables only:
the arguments of ``types.new_class`` (with a namespace holding only what the metaclass
needs at creation and nothing that can refer back to the class) and the calls to replay
once the class exists. ``BY_VALUE`` is the set of module names registered with
``register_pickle_by_value``.
"""

import abc
import enum
import operator
import sys
import types

from . import _class_creation
from . import _enums
from . import _reducers as _stdlib_reducers
from . import _runtime_reducers
from . import _sync_reducers
from . import _typing_reducers

__all__ = ["BY_VALUE", "class_recipe", "new_class"]

BY_VALUE: set = set()


def registered(module_name):
    """True when ``module_name``, or a package holding it, is registered by value."""
    return any(
        module_name == m or module_name.startswith(m + ".") for m in BY_VALUE
    )

new_class = types.new_class

# Attributes the interpreter or the metaclass makes itself; never copied.
_SKIP = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__module__",
        "__qualname__",
        "__doc__",
        "__slots__",
        "__orig_bases__",
        "__parameters__",
        "_abc_impl",
        "__annotations__",
    }
)

# Namespace entries the metaclass reads while creating the class.
_AT_CREATION = ("__module__", "__qualname__", "__doc__", "__slots__", "__annotations__")


def _is_enum(cls):
    return isinstance(cls, enum.EnumMeta)


def _is_typeddict(cls):
    return type(cls).__name__ == "_TypedDictMeta" and type(cls).__module__ == "typing"


def _is_namedtuple_class(cls):
    return (
        issubclass(cls, tuple)
        and hasattr(cls, "_fields")
        and any(getattr(b, "__name__", "") == "NamedTuple" for b in getattr(cls, "__orig_bases__", ()))
    )


def class_recipe(cls):
    """``(creator, args, [(callable, args, label), ...], init_owner,
    init_needs_keywords)`` for ``cls``: ``creator(*args)`` makes the class (see
    ``_class_creation``), the calls are replayed once it exists."""
    d = cls.__dict__
    ns = {}
    for key in _AT_CREATION:
        if key in d:
            ns[key] = d[key]
    ns["__qualname__"] = cls.__qualname__
    bases = getattr(cls, "__orig_bases__", None) or cls.__bases__
    if "__orig_bases__" not in d:
        bases = cls.__bases__
    kwds = {}
    meta = type(cls)
    if meta is not type and not _is_typeddict(cls) and not _is_namedtuple_class(cls):
        kwds["metaclass"] = meta
    if _is_typeddict(cls) and not cls.__total__:
        kwds["total"] = False
    skip = set(_SKIP)
    slots = d.get("__slots__", ())
    if isinstance(slots, str):
        slots = (slots,)
    skip.update(slots)
    if _is_enum(cls):
        values = _enums.creation_values(cls)
        ns.update(values)
        skip.update(values)
        skip.update(_enums.skipped(d))
    if _is_namedtuple_class(cls):
        ns.pop("__slots__", None)
        ns.update(cls._field_defaults)
        skip.update(cls._fields)
        skip.update({"__new__", "_make", "_replace", "__repr__", "_asdict", "__getnewargs__",
                     "_fields", "_field_defaults", "__slots__",
                     "__match_args__"})
    if _is_typeddict(cls):
        skip.update({"__required_keys__", "__optional_keys__", "__total__"})
    later = []
    for key, value in d.items():
        if key in skip or key in ns:
            continue
        later.append((setattr, (cls, key, _interned(value)), key))
    if _is_enum(cls):
        later.extend(_enums.member_attributes(cls))
    if isinstance(cls, abc.ABCMeta):
        registry = abc._get_dump(cls)[0]
        subs = [ref() for ref in registry]
        subs = [s for s in subs if s is not None]
        subs.sort(key=lambda s: (s.__module__, s.__qualname__))
        for sub in subs:
            later.append((cls.register, (sub,), "register"))
    body = operator.methodcaller("update", ns)
    creator, args = _class_creation.creation(cls, bases, kwds, ns, body)
    return creator, args, later, *_class_creation.init_subclass_owner(cls)


def _interned(value):
    """A ``str`` value as its interned copy. A class body's string constants are
    interned by the compiler, so in the defining process ``x = "join"`` is the very
    object of the name ``join``, while a class loaded from a stream has two equal
    strings; interning both makes the memo, and so the bytes, the same in either."""
    return sys.intern(value) if type(value) is str else value


def _dataclasses_sentinel(name):
    """Reduces one of dataclasses' sentinels to the module's own object: by name when it
    is that object, else (a copy made by another pickler's round trip, e.g. cloudpickle's
    or dill's) as ``getattr(dataclasses, name)``, which loads as the real one."""

    def reduce(obj):
        import dataclasses

        if getattr(dataclasses, name, None) is obj:
            return name
        return getattr, (dataclasses, name)

    return reduce


def _reduce_field_base(obj):
    name = obj.name if isinstance(getattr(obj, "name", None), str) else "MISSING"
    return _dataclasses_sentinel(name)(obj)


# Reductions for objects stock pickle cannot store; consulted after the dispatch table
# and before ``__reduce_ex__``.
REDUCERS = _stdlib_reducers.table()
REDUCERS.update(_sync_reducers.table())
REDUCERS.update(_runtime_reducers.table())
_typing_reducers.register_builtin(REDUCERS)

_MP_MODULES = (
    "multiprocessing.synchronize",
    "multiprocessing.queues",
    "multiprocessing.connection",
    "multiprocessing.sharedctypes",
    "multiprocessing.heap",
)

# Modules whose types have reductions here but which brinery does not import itself
# (``dataclasses`` brings ``inspect``, and every spawned pool worker would pay for both):
# the native pickler calls ``add_late_reducers(name)`` once ``name`` is in ``sys.modules``.
# ``multiprocessing``'s modules of objects that hold kernel objects: a byte stream refuses
# them (``pool._shared.refusals``), the pool passes them.
LATE_MODULES = ("dataclasses", "typing", "queue", "ctypes", *_MP_MODULES)


def add_late_reducers(module):
    """Adds the reductions for the types of ``module`` (one of ``LATE_MODULES``)."""
    if module == "dataclasses":
        import dataclasses

        REDUCERS[dataclasses._FIELD_BASE] = _reduce_field_base
        REDUCERS[dataclasses._MISSING_TYPE] = _dataclasses_sentinel("MISSING")
        REDUCERS[dataclasses._HAS_DEFAULT_FACTORY_CLASS] = _dataclasses_sentinel("_HAS_DEFAULT_FACTORY")
    elif module == "typing":
        _typing_reducers.register_typing(REDUCERS)
    elif module == "queue":
        REDUCERS.update(_sync_reducers.queue_table())
    elif module == "ctypes":
        REDUCERS.update(_stdlib_reducers.ctypes_table())
    elif module in _MP_MODULES:
        from .pool import _shared

        REDUCERS.update(_shared.refusals(module))
    else:
        raise ValueError(f"no late reductions for {module!r}")


def _stdlib_names():
    names = {}
    for attr in ("FunctionType", "CodeType", "CellType", "ModuleType", "MappingProxyType",
                 "MethodType", "SimpleNamespace", "GetSetDescriptorType", "MemberDescriptorType"):
        names[getattr(types, attr)] = ("types", attr)
    for tp, place in _runtime_reducers.type_names().items():
        names.setdefault(tp, place)
    return names


# Standard-library objects whose own ``__qualname__`` does not lead back to them.
STDLIB_NAMES = _stdlib_names()


def reduction_forgets_dict(tp):
    """True when instances of ``tp`` reduce through a base type's ``__reduce_ex__`` or
    ``__reduce__`` written in C (``ndarray``, ``datetime``, ``Decimal``...), which knows
    nothing of their ``__dict__``: the pickler then sets it back after the object is
    rebuilt. False when the reduction is ``object``'s (which keeps ``__dict__``), ``tp``'s
    own, or Python code's (which leaves out what it leaves out on purpose). Whether a
    method is written in C is read off the method, not the type's flags (3.13 made
    ``_decimal``'s types heap types)."""
    mro = tp.__mro__
    ex = next((c for c in mro if "__reduce_ex__" in c.__dict__), object)
    name = "__reduce_ex__"
    owner = ex
    if ex is object:
        name = "__reduce__"
        owner = next((c for c in mro if "__reduce__" in c.__dict__), object)
    if owner is object or owner is tp:
        return False
    method = owner.__dict__[name]
    return not isinstance(getattr(method, "__func__", method), types.FunctionType)
