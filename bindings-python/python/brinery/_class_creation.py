"""How a class stored by value is made again: the callable and arguments that create
it, and which base's ``__init_subclass__`` must be kept from running meanwhile.

Python keeps no record of a class statement's keywords (``class B(A, kind="x")``,
``class C(metaclass=Meta, tag=1)``). What the hooks that took them did is in the class's
dict (or a registry stored by value), which the stream replays, so a rebuild must not
call them again without their keywords:

- a base's ``__init_subclass__`` that needs keywords, or that belongs to a base stored by
  value in the same stream, is switched off around the creation call (see
  ``bindings-python/src/encode/init_subclass.rs``);
- a metaclass whose ``__new__``, ``__init__`` or ``__prepare__`` needs keywords is not
  called: the class is made by ``M.__new__(meta, name, bases, ns)`` with ``M`` the
  nearest metaclass in ``meta``'s MRO whose ``__new__`` needs none (``type`` at worst),
  so it is still an instance of ``meta``; its ``__init__`` does not run.

Everything else is ``types.new_class(name, bases, kwds, exec_body)``, as a class
statement does. Keywords the metaclass itself records (a ``Flag``'s ``boundary``) are
passed again.
"""

import enum
import types

__all__ = ["creation", "init_subclass_owner"]

# `Py_TPFLAGS_IMMUTABLETYPE`: set on static types and immutable heap types (3.10+).
_IMMUTABLE_TYPE = 1 << 8


def _needs_arguments(func, skip):
    """True when ``func`` has a required parameter after its first ``skip`` ones, or
    when its signature cannot be read (None: no signature and not Python code)."""
    import inspect  # here: most processes never rebuild a class with hooks

    func = getattr(func, "__func__", func)
    try:
        params = list(inspect.signature(func).parameters.values())[skip:]
    except (TypeError, ValueError):
        return True if isinstance(func, types.FunctionType) else None
    return any(
        p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params
    )


def _own(meta, name):
    """``name`` from the first class of ``meta``'s MRO that defines it, and that class."""
    for klass in meta.__mro__:
        if name in klass.__dict__:
            return klass, klass.__dict__[name]
    return None, None


def init_subclass_owner(cls):
    """The class whose ``__init_subclass__`` runs when ``cls`` is created (None for
    ``object``'s, which does nothing), and whether it needs arguments that a class
    statement's keywords gave and that cannot be recovered."""
    for base in cls.__mro__[1:]:
        if "__init_subclass__" in base.__dict__:
            break
    else:
        return None, False
    if base is object or base.__flags__ & _IMMUTABLE_TYPE:
        # An immutable type's hook (3.12's `typing.Generic`, written in C) cannot be
        # switched off while the class is rebuilt: it runs, as for any new subclass.
        return None, False
    needs = _needs_arguments(base.__dict__["__init_subclass__"], 1)
    if needs is None:
        # A hook written in C with no signature to read: it runs.
        return None, False
    return base, needs


def _metaclass_needs_keywords(meta):
    if meta is type:
        return False
    for name, skip in (("__new__", 4), ("__init__", 4), ("__prepare__", 3)):
        owner, func = _own(meta, name)
        if owner is None or owner is type:
            continue
        if _needs_arguments(func, skip):
            return True
    return False


def _plain_new(meta):
    """The ``__new__`` of the nearest metaclass in ``meta``'s MRO that needs no
    keywords (``type.__new__`` at worst)."""
    for klass in meta.__mro__:
        func = klass.__dict__.get("__new__")
        if func is None:
            continue
        if klass is type or not _needs_arguments(func, 4):
            return getattr(klass, "__new__")
    return type.__new__


def creation(cls, bases, kwds, ns, exec_body):
    """``(callable, args)`` that make ``cls`` again from its creation namespace ``ns``."""
    meta = type(cls)
    if isinstance(cls, enum.EnumMeta) and issubclass(cls, enum.Flag):
        boundary = cls.__dict__.get("_boundary_")
        if boundary is not None:
            kwds["boundary"] = boundary
    if _metaclass_needs_keywords(meta):
        return _plain_new(meta), (meta, cls.__name__, tuple(bases), dict(ns))
    return types.new_class, (cls.__name__, tuple(bases), kwds, exec_body)
