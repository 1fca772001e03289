"""Reductions for standard-library objects that stock ``pickle`` refuses but that a
by-value pickler is expected to store (cloudpickle stores most of them too):
descriptors and their wrappers, dict views, ``WeakSet``, ``WeakKeyDictionary``,
``WeakValueDictionary``, ``mappingproxy``, ``memoryview``, ``lru_cache``
functions from ``__main__``, ``functools.cached_property``, bound methods that cannot be found again by name,
open files (``_open_files``), and the array types ``ctypes`` makes (``c_int * 3``;
``ctypes_table()``, added once ``ctypes`` is loaded).
Every reduction names only standard-library callables, so the stream still loads
without brinery.

``table()`` maps each type to its reduction; the native pickler consults it after the
dispatch table and before ``__reduce_ex__``.
"""

import abc
import collections
import collections.abc
import gc
import functools
import io
import operator
import sys
import types
import weakref

from . import _open_files

__all__ = ["Call", "table"]


# `type(...)`: the same reductions serve `abc.abstractproperty`, `abc.abstractclassmethod`
# and `abc.abstractstaticmethod`, which take the same arguments.
def _property(p):
    return type(p), (p.fget, p.fset, p.fdel, p.__doc__)


def _classmethod(m):
    return type(m), (m.__func__,)


def _staticmethod(m):
    return type(m), (m.__func__,)


class Call:
    """Stands, inside a reduction's arguments, for ``func(*args)`` evaluated at load
    time (it pickles as that call; the class itself never reaches the stream)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _class_dict_entry(d):
    # A descriptor of a class's own namespace: `vars(cls)[name]`, since attribute
    # access on the class may evaluate it instead (`type.__abstractmethods__`).
    return operator.getitem, (Call(vars, d.__objclass__), d.__name__)


def _member_descriptor(d):
    # Stock pickle's reduction, `getattr(cls, name)`, unless that gives something else
    # (the members of `type` itself, read on `type`, are its own attributes).
    if getattr(d.__objclass__, d.__name__, None) is d:
        return d.__reduce__()
    return _class_dict_entry(d)


def _mappingproxy(m):
    # The proxy over the very mapping it shows (found through the garbage collector, the
    # only public way to it), so a proxy and the dict it wraps stay one after loading
    # (`functools.singledispatch`'s `registry`); a copy when that cannot be found.
    inner = gc.get_referents(m)
    if len(inner) == 1 and isinstance(inner[0], collections.abc.Mapping):
        return types.MappingProxyType, (inner[0],)
    return types.MappingProxyType, (dict(m),)


def _weakset(s):
    # The items are stored strongly; as after any copy of a WeakSet, they stay in the
    # loaded set only while something else holds them.
    return weakref.WeakSet, (list(s),)


def _weak_key_dictionary(d):
    # Like a WeakSet, the entries are stored strongly and live on after loading only
    # while something else holds their keys.
    return weakref.WeakKeyDictionary, (dict(d.items()),)


def _weak_value_dictionary(d):
    return weakref.WeakValueDictionary, (dict(d.items()),)


def _memoryview(m):
    owner = m.tobytes() if m.readonly else bytearray(m.tobytes())
    if m.format == "B" and m.ndim == 1:
        return memoryview, (owner,)
    memoryview(owner).cast(m.format, m.shape)  # refuse now what could not load
    return operator.methodcaller("cast", m.format, m.shape), (memoryview(owner),)


def _dict_view(method, items_of):
    """A view is rebuilt by calling ``method`` on the dict it views (found through the
    garbage collector, the only public way to it), so it stays a view of that dict where
    the dict is in the stream too; on a dict holding the view's contents when the dict
    cannot be found."""
    call = operator.methodcaller(method)

    def reduce(view):
        inner = gc.get_referents(view)
        if len(inner) == 1 and isinstance(inner[0], dict):
            return call, (inner[0],)
        return call, (items_of(view),)

    return reduce


def _keys_dict(view):
    return dict.fromkeys(view)


def _values_dict(view):
    return dict(enumerate(view))


def _items_dict(view):
    return dict(view)


def _odict_keys(view):
    return collections.OrderedDict.fromkeys(view)


def _odict_values(view):
    return collections.OrderedDict(enumerate(view))


def _odict_items(view):
    return collections.OrderedDict(view)


def _found_by_name(m):
    """True when ``getattr(m.__self__, name)`` gives ``m`` back through the type (what
    CPython's own ``method.__reduce__`` relies on), judged without running any of the
    object's code: the function must sit under its name in the type's MRO, as a plain
    function for an instance or as a classmethod for a class."""
    owner, func = m.__self__, m.__func__
    name = getattr(func, "__name__", None)
    if not isinstance(name, str):
        return False
    if isinstance(owner, type):
        mro, want_classmethod = type.__getattribute__(owner, "__mro__"), True
    else:
        inst_dict = getattr(owner, "__dict__", None)
        if isinstance(inst_dict, dict) and name in inst_dict:
            return False
        mro, want_classmethod = type(owner).__mro__, False
    for klass in mro:
        attr = klass.__dict__.get(name)
        if attr is None:
            continue
        if want_classmethod:
            return isinstance(attr, classmethod) and attr.__func__ is func
        return attr is func
    return False


def _method(m):
    if _found_by_name(m):
        return m.__reduce__()
    # Bound to an object that holds it, or to a function the type does not have under
    # that name: rebuild the binding itself.
    return types.MethodType, (m.__func__, m.__self__)


def found_by_reference(obj, qualname=None):
    """True when ``obj`` can be imported as ``obj.__module__`` + ``qualname`` (default
    ``obj.__qualname__``), and is not from ``__main__`` or a module registered by value:
    the rule the pickler uses for functions."""
    from ._byvalue import BY_VALUE

    module = getattr(obj, "__module__", None)
    if qualname is None:
        qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return False
    if module in ("__main__", "__mp_main__") or "<locals>" in qualname:
        return False
    if any(module == m or module.startswith(m + ".") for m in BY_VALUE):
        return False
    found = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is obj


def _cached_property(p):
    # Its lock cannot be pickled and is made anew by the constructor; the rest of its
    # state (the attribute name `__set_name__` gave it, the doc) is set back as it was.
    state = {k: v for k, v in vars(p).items() if k not in ("func", "lock")}
    return functools.cached_property, (p.func,), state


def _lru_cache(wrapper):
    # An `lru_cache` function that can be imported is a global, as pickle writes it; one
    # from `__main__` or a local one is rebuilt around its function stored by value,
    # with the same size and `typed` flag and an empty cache.
    if found_by_reference(wrapper):
        return wrapper.__reduce__()
    params = wrapper.cache_parameters()
    args = (wrapper.__wrapped__, params["maxsize"], params["typed"], functools._CacheInfo)
    return functools._lru_cache_wrapper, args, dict(wrapper.__dict__)


def _ctypes_array_type(cls):
    """``c_int * 3`` and the like, whose name no module holds: made again the same way
    (``ctypes`` caches them, so the loader gets its own one). A subclass of
    ``ctypes.Array`` written in a module is found by name, as before."""
    item, length = getattr(cls, "_type_", None), getattr(cls, "_length_", None)
    if item is not None and length is not None and item * length is cls:
        return operator.mul, (item, length)
    return cls.__qualname__


def ctypes_table():
    """The reductions for ``ctypes`` (loaded), keyed by type: array types, whose
    metaclass no module names."""
    import ctypes

    return {type(ctypes.c_char * 1): _ctypes_array_type}


def table():
    """The reductions, keyed by type."""
    plain = {}
    od = collections.OrderedDict()
    views = {
        type({}.keys()): _dict_view("keys", _keys_dict),
        type({}.values()): _dict_view("values", _values_dict),
        type({}.items()): _dict_view("items", _items_dict),
        type(od.keys()): _dict_view("keys", _odict_keys),
        type(od.values()): _dict_view("values", _odict_values),
        type(od.items()): _dict_view("items", _odict_items),
    }
    plain.update(views)
    plain.update(
        {
            property: _property,
            abc.abstractproperty: _property,
            classmethod: _classmethod,
            abc.abstractclassmethod: _classmethod,
            staticmethod: _staticmethod,
            abc.abstractstaticmethod: _staticmethod,
            types.GetSetDescriptorType: _class_dict_entry,
            types.MemberDescriptorType: _member_descriptor,
            types.MappingProxyType: _mappingproxy,
            types.MethodType: _method,
            weakref.WeakSet: _weakset,
            weakref.WeakKeyDictionary: _weak_key_dictionary,
            weakref.WeakValueDictionary: _weak_value_dictionary,
            memoryview: _memoryview,
            functools._lru_cache_wrapper: _lru_cache,
            functools.cached_property: _cached_property,
            io.TextIOWrapper: _open_files.text_file,
            io.BufferedReader: _open_files.binary_file,
            io.BufferedRandom: _open_files.binary_file,
            io.BufferedWriter: _open_files.binary_file,
            io.FileIO: _open_files.binary_file,
        }
    )
    return plain
