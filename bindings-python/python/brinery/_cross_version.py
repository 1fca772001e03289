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
import linecache
import marshal
import operator
import sys

from ._errors import PicklingError
from ._reducers import Call

__all__ = ["code_reduction", "CrossVersionError"]

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


def _innermost_class(qualname):
    """The class whose body holds the function textually (its name mangles private
    names and gives ``super()`` its ``__class__``), or None: in a qualified name a
    segment followed by ``<locals>`` is a function, any other one before the last a
    class."""
    parts = qualname.split(".")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] != "<locals>" and parts[i + 1] != "<locals>":
            return parts[i]
    return None


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
        tree = ast.parse("".join(lines), filename)
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
    cls = _innermost_class(qualname)
    free = [n for n in code.co_freevars if n != "__class__"]
    maker = f"def {_MAKER}({', '.join(free)}):"
    call = f"{_RESULT} = {_MAKER}({', '.join('None' for _ in free)})"
    if isinstance(node, ast.Lambda):
        # An expression: written in parentheses, where its other lines may stand at any
        # column, so they are kept as they are.
        text = [body[0][col:]] + body[1:]
        if cls:
            head = [maker, f" class {cls}:", f"  {_RESULT} = ({text[0]}"]
            tail = [")", f" return {cls}.__dict__[{_RESULT!r}]"]
        else:
            head = [maker, f" return ({text[0]}"]
            tail = [")"]
        out = head + text[1:] + tail + [call]
        lambda_line = len(head)
    elif col == 0:
        if free or cls:  # pragma: no cover - a top-level def has neither
            raise CrossVersionError(f"{qualname!r} is at column 0 inside a scope")
        out = body + [f"{_RESULT} = {node.name}"]
        lambda_line = 1
    else:
        # A statement: kept at its own column (so multi-line strings in it are left
        # alone), inside blocks indented less.
        body[0] = " " * col + body[0][col:]
        if cls:
            if col < 2:
                raise CrossVersionError(f"method {qualname!r} is indented by one column")
            # Named from inside the class body, so a private name is mangled as the
            # compiler mangled the def's.
            inner = col // 2
            head = [maker, " " * inner + f"class {cls}:"]
            result = [
                " " * col + f"{_RESULT} = {node.name}",
                " " * inner + f"return {cls}.__dict__[{_RESULT!r}]",
            ]
        else:
            head = [maker]
            result = [" " * col + f"return {node.name}"]
        out = head + body + result + [call]
        lambda_line = len(head) + 1
    # Blank lines first, so the function keeps its line numbers where there is room.
    return "\n" * max(first - lambda_line, 0) + "\n".join(out) + "\n"


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
    compiled = Call(compile, _pick(here, tag, "", source), Call(str.format, filename, here), "exec")
    # `(namespace, exec(compiled, namespace))[0]`: the namespace once the text has run.
    filled = Call(operator.getitem, (namespace, Call(exec, compiled, namespace)), 0)
    function = Call(dict.get, filled, _RESULT)
    from_source = Call(getattr, function, "__code__", None)
    return _pick(here, tag, from_bytecode, from_source)
