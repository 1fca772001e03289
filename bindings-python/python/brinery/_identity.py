"""Same-process identity for classes (and typing's ``TypeVar``-like objects) stored by value.

A class stored by value is rebuilt when the stream loads. In a process that already has
that class (the process that dumped it, a forked worker, a Dask client receiving
results made from the class it sent), the loaded instances should belong to the class
the process already has, as they do with cloudpickle: ``pickle.loads(brinery.dumps(p))
== p`` for a local dataclass, ``isinstance`` holds, enum members stay identical.

After rebuilding a class, the stream asks ``brinery._classes.setdefault(key, rebuilt)``
through standard-library calls only::

    operator.methodcaller("setdefault", key, rebuilt)(
        getattr(sys.modules.get("brinery"), "_classes", {}))

Where brinery is not imported, that is a throwaway dict and the rebuilt class is used:
the stream stays portable. Where it is, :data:`REGISTRY` answers with the class already
registered under ``key``, or registers the rebuilt one (so later streams in that process
reuse it, and dumping it again writes the same key). When the class found was itself
made by loading a stream here (a worker's copy), it takes the attributes of the class
just rebuilt, as with cloudpickle: a method added or changed where the class was
defined reaches the worker's copy and the instances it already holds, and methods get
the fresh globals of the new stream. A class defined in this process is never changed
by loading.

The key is deterministic, never a random id: module, qualified name and a digest of the
class's own by-value stream (dumped alone, without these lookups), so the same
definition gives the same key in every process and a different definition never
matches. Distinct live classes with identical contents in one process get ``#1``,
``#2``... suffixes in the order they are first dumped. The registry holds classes weakly.
"""

import enum
import operator
import sys
import threading
import types
import weakref

from ._reducers import Call

__all__ = [
    "REGISTRY",
    "ClassRegistry",
    "adopt",
    "key_for",
    "lookup_reduction",
    "same_definition",
    "typing_variable_key",
]


class ClassRegistry(weakref.WeakValueDictionary):
    """``key -> class``, weakly, remembering each class's key."""

    def __init__(self):
        super().__init__()
        self.key_of = weakref.WeakKeyDictionary()
        # Classes first made here by loading a stream (not defined here).
        self.loaded = weakref.WeakSet()

    def register(self, key, cls):
        """Registers a class of this process, as it is dumped."""
        found = super().setdefault(key, cls)
        if found not in self.key_of:
            self.key_of[found] = key
        return found

    def setdefault(self, key, cls):
        """What a loading stream calls with the class it rebuilt (see the module docs)."""
        found = self.register(key, cls)
        if found is cls:
            self.loaded.add(cls)
        elif found in self.loaded and isinstance(found, type):
            _refresh(found, cls)
        return found


# Attributes that belong to the class object itself, never copied to another class.
_OWN = frozenset({"__dict__", "__weakref__", "__module__", "__qualname__", "__slots__", "_abc_impl"})


def _refresh(target, source):
    """Gives ``target`` the attributes of ``source``, a newer rebuild of the same class."""
    if isinstance(target, enum.EnumMeta):
        return  # members keep their identity
    for name, value in list(vars(source).items()):
        if name in _OWN or isinstance(value, (types.MemberDescriptorType, types.GetSetDescriptorType)):
            continue
        _rebind_class_cells(value, source, target)
        try:
            setattr(target, name, target if value is source else value)
        except (AttributeError, TypeError):
            pass


def _rebind_class_cells(value, source, target):
    """Points the ``__class__`` cells (zero-argument ``super()``) of the functions in
    ``value`` from ``source`` to ``target``."""
    if isinstance(value, (classmethod, staticmethod)):
        funcs = [value.__func__]
    elif isinstance(value, property):
        funcs = [value.fget, value.fset, value.fdel]
    else:
        funcs = [value]
    for f in funcs:
        if not isinstance(f, types.FunctionType) or not f.__closure__:
            continue
        for name, cell in zip(f.__code__.co_freevars, f.__closure__):
            try:
                if name == "__class__" and cell.cell_contents is source:
                    cell.cell_contents = target
            except ValueError:  # an empty cell
                pass


REGISTRY = ClassRegistry()

_state = threading.local()


def key_for(cls):
    """The registry key of ``cls`` (registering it), or None while a digest is being
    computed (the content dump must not contain lookups of its own)."""
    if getattr(_state, "digesting", False):
        return None
    key = REGISTRY.key_of.get(cls)
    if key is not None:
        return key
    return _register(cls, f"{cls.__module__}.{cls.__qualname__}", _content(cls))


def _content(cls):
    from . import _native_dumps

    _state.digesting = True
    try:
        return _native_dumps(cls, 5)
    finally:
        _state.digesting = False


def _digest(content):
    import hashlib  # here, not at the top: most processes never hash a class

    return hashlib.blake2b(content, digest_size=12).hexdigest()


def same_definition(cls, loaded):
    """Whether ``cls``, a class of this process, has the definition of ``loaded``, a
    class just rebuilt here from a stream (compared by key without its ``#n`` suffix;
    ``cls`` is not registered). A forked worker asks it of the class it inherited."""
    key = REGISTRY.key_of.get(loaded)
    if key is None:
        return False
    own = REGISTRY.key_of.get(cls)
    if own is None:
        try:
            own = f"{cls.__module__}.{cls.__qualname__}:{_digest(_content(cls))}"
        except Exception:  # noqa: BLE001 - not dumpable here: not the same definition
            return False
    return own.partition("#")[0] == key.partition("#")[0]


def adopt(cls, loaded):
    """Registers ``cls`` in place of ``loaded`` (same definition, see ``same_definition``),
    so later streams carrying that key load as ``cls``."""
    key = REGISTRY.key_of.get(loaded)
    if key is not None and REGISTRY.get(key) is loaded:
        REGISTRY[key] = cls
        REGISTRY.key_of[cls] = key


def _register(obj, name, content):
    """Registers ``obj`` under ``name``, a digest of ``content`` (its definition), and
    a ``#n`` suffix when another live object of this process has the same definition."""
    base = f"{name}:{_digest(content)}"
    key, n = base, 0
    while True:
        other = REGISTRY.get(key)
        if other is None or other is obj:
            break
        n += 1
        key = f"{base}#{n}"
    REGISTRY.register(key, obj)
    return key


def typing_variable_key(obj, spec):
    """The registry key of a ``TypeVar``, ``ParamSpec``, ``TypeVarTuple`` or ``NewType``
    stored by value (registering it): its kind, module, name and a digest of its
    definition ``spec``, so one definition gives one key everywhere."""
    key = REGISTRY.key_of.get(obj)
    if key is not None:
        return key
    kind = type(obj).__name__.lower()
    content = repr((obj.__name__, *spec)).encode()
    return _register(obj, f"{obj.__module__}.{obj.__name__}:{kind}", content)


def lookup_reduction(cls, key):
    """The reduction whose result is the class to use for ``cls`` when loading."""
    modules = Call(getattr, sys, "modules")
    package = Call(operator.methodcaller("get", "brinery"), modules)
    registry = Call(getattr, package, "_classes", {})
    return operator.methodcaller("setdefault", key, cls), (registry,)
