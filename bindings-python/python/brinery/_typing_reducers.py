"""Reductions for typing's definitions: ``TypeVar``, ``ParamSpec``, ``TypeVarTuple``,
``NewType`` and, where the interpreter has it (3.12+), ``TypeAliasType`` (``type X = ...``).

Stock pickle stores each of them by name, which fails to load when the definition lives
in ``__main__``, in a module registered by value or in a local scope. Those are rebuilt
here from their definition, with standard-library callables only.

Which kinds exist is read off the interpreter, not its version number: PEP 695's
``class C[T]``, ``def f[T]`` and ``type X = ...`` make ``TypeVar`` and ``TypeAliasType``
objects without importing ``typing``, so their types are taken from the builtin
``_typing`` module when it has them (:func:`register_builtin`, at import); ``NewType`` and
the 3.11 kinds come once ``typing`` is imported (:func:`register_typing`).

A by-value type alias is made by running a ``type`` statement built from its name and
the kinds of its parameters (``exec`` in a namespace whose ``__name__`` is the alias's
module, so ``__module__`` comes back too). Its value, and the bounds, constraints and
defaults of its parameters, stay lazy as in the original: they read a dict keyed by the
alias that is filled only after the alias exists in the stream, so a recursive alias
(``type Json = dict[str, Json] | list[Json] | int``) refers to itself by memo. The
alias's parameters are those the ``type`` statement made, and the original parameters
are stored as references to them (``alias.__type_params__[i]``).
"""

import functools
import operator
import weakref

from . import _identity
from ._reducers import Call, found_by_reference

__all__ = ["register_builtin", "register_typing"]

# Name of the dict, in the namespace the ``type`` statement runs in, that holds each
# alias's lazy parts (keyed by the alias itself).
_PARTS = "__brinery_alias_parts__"

# Parameter -> (its type alias, index), for the aliases dumped by value: such a
# parameter is stored as ``alias.__type_params__[index]``, so that the value of the
# rebuilt alias refers to the parameters its ``type`` statement made.
_PARAM_OWNER = weakref.WeakKeyDictionary()


def register_builtin(reducers):
    """Adds the kinds the interpreter makes by itself (PEP 695), where it has them."""
    try:
        import _typing
    except ImportError:  # pragma: no cover - every supported CPython has it
        return
    for name in ("TypeVar", "ParamSpec", "TypeVarTuple"):
        kind = getattr(_typing, name, None)
        if isinstance(kind, type):
            reducers[kind] = reduce_variable
    alias = getattr(_typing, "TypeAliasType", None)
    if isinstance(alias, type):
        reducers[alias] = reduce_alias


def register_typing(reducers):
    """Adds typing's own kinds (``typing`` is imported)."""
    import typing

    for kind in (typing.TypeVar, typing.ParamSpec, typing.TypeVarTuple, typing.NewType):
        reducers[kind] = reduce_variable
    alias = getattr(typing, "TypeAliasType", None)
    if isinstance(alias, type):
        reducers[alias] = reduce_alias


def _has_default(param):
    has = getattr(param, "has_default", None)
    return bool(has and has())


def _definition(obj):
    """How to make ``obj`` (a ``TypeVar``, ``ParamSpec``, ``TypeVarTuple`` or
    ``NewType``) again, and what tells one definition from another. Keywords the
    interpreter added later (``infer_variance``, ``default``) are given only when they
    differ from their default, so a stream stays loadable where they do not exist."""
    import typing

    extra = {}
    if getattr(obj, "__infer_variance__", False):
        extra["infer_variance"] = True
    if _has_default(obj):
        extra["default"] = obj.__default__
    if isinstance(obj, typing.TypeVar):
        spec = (obj.__bound__, obj.__constraints__, obj.__covariant__, obj.__contravariant__)
        make = functools.partial(typing.TypeVar, obj.__name__, *obj.__constraints__,
                                 bound=obj.__bound__, covariant=obj.__covariant__,
                                 contravariant=obj.__contravariant__, **extra)
    elif isinstance(obj, typing.ParamSpec):
        spec = (obj.__bound__, obj.__covariant__, obj.__contravariant__)
        make = functools.partial(typing.ParamSpec, obj.__name__, bound=obj.__bound__,
                                 covariant=obj.__covariant__,
                                 contravariant=obj.__contravariant__, **extra)
    elif isinstance(obj, typing.NewType):
        spec = (obj.__supertype__,)
        make = functools.partial(typing.NewType, obj.__name__, obj.__supertype__)
    else:
        spec = ()
        make = functools.partial(typing.TypeVarTuple, obj.__name__, **extra)
    return make, spec + tuple(sorted(extra.items()))


def reduce_variable(obj):
    """A ``TypeVar``, ``ParamSpec``, ``TypeVarTuple`` or ``NewType``: by name when it
    is found again, else from its definition, loading as the one the process already
    has under the same key, as classes do (see ``_identity``)."""
    owner = _PARAM_OWNER.get(obj)
    if owner is not None:
        alias, index = owner
        return operator.getitem, (Call(getattr, alias, "__type_params__"), index)
    name = getattr(obj, "__qualname__", obj.__name__)
    if found_by_reference(obj, name):
        return name
    make, spec = _definition(obj)
    key = _identity.typing_variable_key(obj, spec)
    lookup, args = _identity.lookup_reduction(Call(make), key)
    # These take their __module__ from the frame that creates them, which on loading is
    # whoever called pickle.loads: it is set back (BUILD's slot-state part uses
    # setattr), with a NewType's qualified name.
    state = {"__module__": obj.__module__}
    if name != obj.__name__:
        state["__qualname__"] = name
    return lookup, args, (None, state)


def _param_source(param, index):
    """The parameter as it is written in a ``type`` statement, its bound, constraints
    and default read lazily from the alias's parts (``(value, bounds, defaults)``)."""
    import typing

    name = param.__name__
    if not name.isidentifier():
        raise ValueError(f"type parameter name {name!r} is not an identifier")
    parts = f"{_PARTS}[__brinery_alias__]"
    if isinstance(param, typing.ParamSpec):
        text = f"**{name}"
    elif isinstance(param, typing.TypeVarTuple):
        text = f"*{name}"
    else:
        text = name
        if param.__constraints__:
            items = ", ".join(
                f"{parts}[1][{index}][{i}]" for i in range(len(param.__constraints__))
            )
            text += f": ({items})"
        elif param.__bound__ is not None:
            text += f": {parts}[1][{index}]"
    if _has_default(param):
        text += f" = {parts}[2][{index}]"
    return text


def _bound_part(param):
    """A ``TypeVar``'s constraints, else its bound; None for the other kinds."""
    import typing

    if not isinstance(param, typing.TypeVar):
        return None
    return param.__constraints__ or param.__bound__


def reduce_alias(alias):
    """A ``TypeAliasType``: by name when it is found again, else rebuilt (see the module
    docs)."""
    name = alias.__name__
    if found_by_reference(alias, name):
        return name
    if not name.isidentifier():
        raise ValueError(f"type alias name {name!r} is not an identifier")
    params = alias.__type_params__
    sources = [_param_source(p, i) for i, p in enumerate(params)]
    head = f"{name}[{', '.join(sources)}]" if sources else name
    # `__brinery_alias__` names the alias from inside its own lazy scopes; it is bound in
    # the namespace once the statement has run.
    source = f"type {head} = {_PARTS}[__brinery_alias__][0]\n__brinery_alias__ = {name}\n"
    parts = {}
    namespace = {"__name__": alias.__module__, _PARTS: parts}
    made = Call(operator.getitem, (namespace, Call(exec, source, namespace)), 0)
    bounds = tuple(_bound_part(p) for p in params)
    defaults = tuple(p.__default__ if _has_default(p) else None for p in params)
    for i, p in enumerate(params):
        _PARAM_OWNER[p] = (alias, i)
    state = (alias.__value__, bounds, defaults)
    return (operator.getitem, (made, name), state, None, None,
            functools.partial(operator.setitem, parts))
