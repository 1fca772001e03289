"""What an ``Enum`` class stored by value needs beyond an ordinary class.

The class is made by its own metaclass from a namespace holding each member's value,
so members keep their identity (``Planet.EARTH is loaded_earth``), aliases and flags
work, and ``auto()`` values stay as they were. Two things the metaclass cannot redo:

- a member's own attributes, set by the class's ``__init__`` or ``__new__``
  (``Planet.EARTH.mass``, ``Currency.USD.symbol``): the namespace carries the member's
  final ``_value_``, not the arguments those methods took, so they are set back on each
  member with ``setattr`` once the class exists;
- the class's own hooks with reserved names (``_missing_``, ``_generate_next_value_``,
  a custom ``__new__`` kept as ``_new_member_``): set back the same way, while the
  bookkeeping the metaclass writes itself (``_member_map_``, ``_value2member_map_``...)
  is left to it.
"""

import types

from ._reducers import Call

__all__ = ["creation_values", "member_attributes", "skipped"]

_member_keys = None


def _enum_member_keys():
    """The attributes every member gets from the metaclass, read from a throwaway enum
    (they differ between Python versions)."""
    global _member_keys
    if _member_keys is None:
        import enum

        keys = set(vars(enum.Enum("_Probe", "A").A))
        keys.update(vars(enum.Flag("_Probe", "A").A))
        _member_keys = frozenset(keys)
    return _member_keys


def _user_function(value):
    func = getattr(value, "__func__", value)
    return isinstance(func, types.FunctionType) and func.__module__ != "enum"


def skipped(d):
    """The names of ``d`` (an enum class's dict) the metaclass makes itself."""
    names = {
        k
        for k, v in d.items()
        if k.startswith("_") and k.endswith("_") and not k.startswith("__") and not _user_function(v)
    }
    names.add("__new__")
    return names


def creation_values(cls):
    """``{name: value}`` of the members defined in ``cls`` itself, aliases included
    (given their member's value after it, they are made aliases again)."""
    d = cls.__dict__
    return {name: member._value_ for name, member in cls.__members__.items() if name in d}


def member_attributes(cls):
    """``[(setattr, (member, name, value), label), ...]`` for the members' own
    attributes."""
    keys = _enum_member_keys()
    calls = []
    for name, member in cls.__members__.items():
        if member.name != name:
            continue  # an alias: the canonical member carries the attributes
        # `getattr(cls, name)`, not the member itself: the member is memoized only once
        # the class is resolved to the one the loading process may already have.
        rebuilt = Call(getattr, cls, name)
        for key, value in vars(member).items():
            if key not in keys:
                calls.append((setattr, (rebuilt, key, value), f"{name}.{key}"))
    return calls
