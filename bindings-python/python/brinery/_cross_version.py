"""Code objects for streams that load on another CPython minor version
(``brinery.dumps(obj, cross_version=True)``).

Bytecode is private to one minor version, so such a stream carries each by-value
function's code twice: as ``marshal`` bytes (format 2, which has no reference flags and
so gives the same bytes in every process) for the interpreter that wrote it, and as the
function's own source text, exactly its span, for any other. The loading interpreter
picks one with objects every Python has, ``dict.get`` keyed by its
``sys.implementation.cache_tag``; the branch not taken gets an empty input and builds
nothing (``marshal.loads(b"N")`` is None, ``exec("")`` defines nothing).

The source branch compiles a small module, padded with blank lines so that the function
keeps its line numbers, in which the function is written exactly as in its file (its
decorators left out, its defaults and annotations replaced by ``None``: the stream sets
the real ones afterwards, and evaluating them here would run code the function never
ran at definition). A function with free variables is written inside a maker function
whose parameters are those variables, so that it gets the same ``co_freevars``; a
method inside a class of its class's name, so that ``super()`` and private-name
mangling work as before. The code object taken from the result is used with the
stream's own cells, globals and attributes exactly as marshalled code would be.

Where the source cannot be had (code made by ``exec`` of a string, a function typed at
a bare prompt, a module shipped as ``.pyc`` only) dumping fails naming the function and
why, rather than writing a stream that fails later. A ``SyntaxError`` on the loading
version names the function and both versions in its file name.
"""

import ast
import functools
import linecache
import marshal
import operator
import sys

from ._errors import PicklingError
from ._reducers import Call

__all__ = ["adjust_class_recipe", "code_reduction", "CrossVersionError"]

_MARSHAL_VERSION = 2
# Names the compiled module uses; nothing else in it is ours.
_RESULT = "__brinery_function__"
_MAKER = "__brinery_make__"


class CrossVersionError(PicklingError):
    """The function's source cannot be written into a cross-version stream."""


# `sys.implementation.cache_tag` where the stream loads: one object, so a stream asks
# once (the memo gives it again).
_HERE = Call(getattr, Call(getattr, sys, "implementation"), "cache_tag")


def _pick(here, tag, mine, other):
    """``{tag: mine}.get(here, other)``: ``mine`` on the writer's interpreter."""
    return Call(dict.get, {tag: mine}, here, other)


def _function_nodes(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield node


def _spans(code):
    """The source spans of ``code``'s own instructions (``co_positions``), leaving out
    the empty ones of its prologue."""
    out = []
    for line, end_line, col, end_col in code.co_positions():
        if None in (line, end_line, col, end_col):
            continue
        if (end_line, end_col) > (line, col):
            out.append(((line, col), (end_line, end_col)))
    return out


def _find_node(tree, code):
    """The ``def`` or ``lambda`` whose code ``code`` is: a ``def`` by name and first
    line; a lambda as the innermost whose body holds every span of the code (two lambdas
    on one line, or one inside another, are told apart by their columns)."""
    name = code.co_name
    if name == "<lambda>":
        spans = _spans(code)
        found = []
        for node in _function_nodes(tree):
            if not isinstance(node, ast.Lambda) or node.lineno != code.co_firstlineno:
                continue
            start = (node.body.lineno, node.body.col_offset)
            end = (node.body.end_lineno, node.body.end_col_offset)
            if spans and all(start <= a and b <= end for a, b in spans):
                found.append((start, node))
        found.sort(key=lambda item: item[0])
        return found[-1][1] if found else None
    for node in _function_nodes(tree):
        if isinstance(node, ast.Lambda) or node.name != name:
            continue
        first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        if first == code.co_firstlineno:
            return node
    return None


def _blank_out(lines, node, first_line):
    """``lines`` (the function's, from ``first_line``) with each default value and
    annotation replaced by ``None`` (padded so no column after it moves on its line)."""
    spans = []
    args = node.args
    spans.extend(d for d in args.defaults)
    spans.extend(d for d in args.kw_defaults if d is not None)
    if not isinstance(node, ast.Lambda):
        every = args.posonlyargs + args.args + args.kwonlyargs
        every += [a for a in (args.vararg, args.kwarg) if a is not None]
        spans.extend(a.annotation for a in every if a.annotation is not None)
        if node.returns is not None:
            spans.append(node.returns)
    # From the last, so earlier positions stay valid.
    spans.sort(key=lambda n: (n.lineno, n.col_offset), reverse=True)
    for n in spans:
        i, j = n.lineno - first_line, n.end_lineno - first_line
        head, tail = lines[i][: n.col_offset], lines[j][n.end_col_offset :]
        # Keep the line count: the lines the expression spanned become empty ones.
        lines[i : j + 1] = [head + "None" + tail] + [""] * (j - i)
    return lines


@functools.lru_cache(maxsize=32)
def _parse(text, filename):
    """The file's syntax tree, parsed once per text (a dump of many functions of one
    file, or many dumps, parse it once). Callers only read it."""
    return ast.parse(text, filename)


def _innermost_class(qualname):
    """``(name, local)`` of the class whose body holds the function textually (its name
    mangles private names and gives ``super()`` its ``__class__``), or ``(None,
    False)``: in a qualified name a segment followed by ``<locals>`` is a function, any
    other one before the last a class; ``local`` when that class was made inside a
    function (its name is then a variable of that function)."""
    parts = qualname.split(".")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] != "<locals>" and parts[i + 1] != "<locals>":
            return parts[i], i > 0 and parts[i - 1] == "<locals>"
    return None, False


def _wrappers(qualname, free, nested):
    """The blocks the function is written in, outermost first: ``("class", name)`` for
    its class, ``("maker", free)`` for a function whose parameters are its free
    variables. A class made at module level stays at module level (its name is a global
    there, as in the original), one made in a function inside the maker."""
    cls, local = _innermost_class(qualname)
    maker = ("maker", free)
    if cls is None:
        return [maker] if (free or nested) else []
    if local:
        return [maker, ("class", cls)]
    return [("class", cls)] + ([maker] if free else [])


def _result(parent, value):
    """The statement that hands ``value`` to the block ``parent`` is in."""
    if parent is not None and parent[0] == "maker":
        return f"return {value}"
    return f"{_RESULT} = {value}"


def _value_of(block):
    if block[0] == "class":
        return f"{block[1]}.__dict__[{_RESULT!r}]"
    return f"{_MAKER}({', '.join('None' for _ in block[1])})"


def _header(block):
    if block[0] == "class":
        return f"class {block[1]}:"
    return f"def {_MAKER}({', '.join(block[1])}):"


def _source(code):
    """The module text that defines ``code``'s function as ``__brinery_function__``."""
    qualname = code.co_qualname
    filename = code.co_filename
    lines = linecache.getlines(filename)
    if not lines:
        raise CrossVersionError(
            f"no source for {qualname!r} ({filename!r} is not a file linecache can read:"
            " made by exec/compile of a string, typed at a bare prompt, or a .pyc-only module)"
        )
    try:
        tree = _parse("".join(lines), filename)
    except SyntaxError as e:
        raise CrossVersionError(f"the source of {qualname!r} in {filename!r} does not parse: {e}")
    node = _find_node(tree, code)
    if node is None:
        raise CrossVersionError(
            f"the source of {qualname!r} is not in {filename!r} as it is now"
            f" (no function of that name at line {code.co_firstlineno})"
        )
    first, col = node.lineno, node.col_offset
    body = [line.rstrip("\r\n") for line in lines[first - 1 : node.end_lineno]]
    body[-1] = body[-1][: node.end_col_offset]
    body = _blank_out(body, node, first)
    is_lambda = isinstance(node, ast.Lambda)
    free = [n for n in code.co_freevars if n != "__class__"]
    blocks = _wrappers(qualname, free, nested=not is_lambda and col > 0)
    # Block i's header stands at column i; the function inside the last one.
    if not is_lambda and col < len(blocks):
        raise CrossVersionError(f"{qualname!r} is indented too little to be written alone")
    out = [" " * i + _header(b) for i, b in enumerate(blocks)]
    inner = blocks[-1] if blocks else None
    if is_lambda:
        # An expression, in parentheses, where its other lines may stand at any column:
        # they are kept as they are.
        pad = " " * len(blocks)
        out.append(pad + _result(inner, "(" + body[0][col:]))
        out += body[1:]
        out.append(pad + ")")
    else:
        # A statement, kept at its own column (multi-line strings in it are left alone).
        out.append(" " * col + body[0][col:])
        out += body[1:]
        out.append(" " * (col if blocks else 0) + _result(inner, node.name))
    for i in range(len(blocks) - 1, -1, -1):
        parent = blocks[i - 1] if i > 0 else None
        out.append(" " * i + _result(parent, _value_of(blocks[i])))
    # Blank lines first, so the function keeps its line numbers where there is room.
    return "\n" * max(first - len(blocks) - 1, 0) + "\n".join(out) + "\n"


def code_reduction(code):
    """What stands for ``code`` in a cross-version stream (see the module docs): a
    reduction that gives the code object on any supported CPython."""
    tag = sys.implementation.cache_tag
    qualname = code.co_qualname
    try:
        source = _source(code)
    except CrossVersionError as e:
        raise CrossVersionError(f"cross_version: {e}") from None
    filename = (
        f"<brinery: {qualname} written on {tag}, compiled on {{}}; source: {code.co_filename}>"
    )
    here = _HERE
    # Each input is empty on the interpreter that does not use it.
    from_bytecode = Call(marshal.loads, _pick(here, tag, marshal.dumps(code, _MARSHAL_VERSION), b"N"))
    namespace = {}
    text = _pick(here, tag, "", source)
    name = Call(str.format, filename, here)
    compiled = Call(compile, text, name, "exec")
    # The text goes into `linecache` under the compiled code's file name, so that what
    # is loaded can be dumped cross-version again (a Dask worker returning a class it
    # got this way); an empty update on the writer's version.
    lines = (Call(len, text), None, Call(str.splitlines, text, True), name)
    remembered = Call(dict.update, Call(getattr, linecache, "cache"), _pick(here, tag, {}, {name: lines}))
    # `(namespace, exec(compiled, namespace), ...)[0]`: the namespace once the text has run.
    filled = Call(operator.getitem, (namespace, Call(exec, compiled, namespace), remembered), 0)
    function = Call(dict.get, filled, _RESULT)
    from_source = Call(getattr, function, "__code__", None)
    return _pick(here, tag, from_bytecode, from_source)


# What `dataclasses.dataclass` writes into a class: made again on loading (below).
_DATACLASS_MADE = frozenset({
    "__init__", "__repr__", "__eq__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__",
    "__setattr__", "__delattr__", "__match_args__", "__dataclass_fields__",
    "__dataclass_params__", "__getstate__", "__setstate__", "__replace__",
})


def _generated(value):
    """True for a function whose code has no source file (made by ``exec``)."""
    code = getattr(value, "__code__", None)
    return code is not None and not linecache.getlines(code.co_filename)


def adjust_class_recipe(cls, recipe):
    """``class_recipe(cls)`` for a cross-version stream. A dataclass's generated methods
    are made by ``exec`` and have no source: they are left out, each field is set back
    as its ``Field``, and ``dataclasses.dataclass`` runs again on the rebuilt class (on
    the loading version), with the parameters it was made with.

    A dataclass whose fields are slots (``slots=True``, which makes a new class, or
    ``__slots__`` by hand) is decorated again without ``slots``: the class rebuilt from
    the stream already has them. Its slot descriptors are read before, as the decorator
    replaces each field's class attribute with its default, and set back after."""
    params = cls.__dict__.get("__dataclass_params__")
    fields = cls.__dict__.get("__dataclass_fields__")
    if params is None or fields is None:
        return recipe
    import dataclasses

    creator, args, later, *rest = recipe
    slotted = _slot_fields(cls, fields)
    slot_state = [getattr(dataclasses, n, None) for n in ("_dataclass_getstate", "_dataclass_setstate")]
    # The class as first made, slot descriptors included: `dataclass` below replaces
    # each field's class attribute with its default, and the descriptors are put back.
    before = Call(dict, Call(vars, cls))
    kept = []
    for call in later:
        label = call[2]
        value = call[1][2] if call[0] is setattr else None
        if slotted and value is not None and any(value is f for f in slot_state):
            # `dataclass(slots=True, frozen=True)`'s own `__getstate__`/`__setstate__`,
            # by reference (every supported version has them): kept, as re-applying
            # the decorator without `slots` does not add them.
            kept.append(call)
            continue
        made = (
            label.startswith("__dataclass")
            or label == "__match_args__"
            or value is None
            or _generated(value)
            # A function of dataclasses itself (3.13's `__replace__`), which another
            # version may not have.
            or getattr(value, "__module__", None) == "dataclasses"
            # `__repr__` is wrapped (recursion guard) around the generated one.
            or _generated(getattr(value, "__wrapped__", None))
        )
        if call[0] is setattr and label in _DATACLASS_MADE and made:
            continue
        kept.append(call)
    # The class's own fields: a base's come from the base when the decorator runs.
    own = cls.__dict__.get("__annotations__", {})
    for name, f in fields.items():
        if name in own and f._field_type is not dataclasses._FIELD_CLASSVAR:
            kept.append((setattr, (cls, name, f), name))
    options = {k: getattr(params, k) for k in ("init", "repr", "eq", "order", "unsafe_hash", "frozen")}
    options["match_args"] = "__match_args__" in cls.__dict__
    if slotted:
        kept.insert(0, (len, (before,), "__slots__"))
    kept.append((functools.partial(dataclasses.dataclass, **options), (cls,), "dataclass"))
    for name in slotted:
        kept.append((setattr, (cls, name, Call(operator.getitem, before, name)), name))
    return (creator, args, kept, *rest)


def _slot_fields(cls, fields):
    """The fields of dataclass ``cls`` that are slots of ``cls`` itself
    (``slots=True``, or ``__slots__`` written by hand)."""
    import types

    d = cls.__dict__
    if "__slots__" not in d:
        return []
    return [name for name in fields
            if isinstance(d.get(name), types.MemberDescriptorType)]
