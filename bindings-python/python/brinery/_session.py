"""Whole sessions: ``dump_session`` saves the namespace of a module (a notebook's
included), ``load_session`` puts it back.

Not for single objects (``dumps``) nor for the pool's worker namespaces
(``_namespaces``).

A session file is two pickles and a trailer:

1. the namespace, ``{name: value}``, as one brinery stream, so objects reached from
   several names stay one object and stock ``pickle.load`` returns it as a dict where
   brinery is not installed;
2. what the reader needs besides: ``{"brinery.session": 1, "module": name,
   "skipped": {name: reason}}``, a plain pickle;
3. 16 bytes: the length of pickle 2 (little-endian u64) and ``SESSION_MAGIC``, so
   ``load_session`` reads pickle 2 first.

Names whose value cannot be pickled are left out and listed in ``skipped`` with the
error: the namespace is dumped whole, and when it fails the name at the head of the
error's path (``obj['sock']: ...``) is set aside and the rest dumped again; an error
without a path is traced to its name by dumping the names one by one.

``load_session`` loads functions defined in the session's module with the target
module's own dict as their globals (the stream would give them a dict of their own),
so ``global`` statements and later cells see the same names, as before the save.
"""

import ast
import fnmatch
import io
import os
import pickle
import re
import struct
import sys
import types
import warnings

from ._errors import SessionWarning

__all__ = ["SESSION_MAGIC", "dump_session", "load_session"]

SESSION_MAGIC = b"BRINSESS"
_TRAILER = struct.Struct("<Q8s")
_FORMAT = 1

# IPython's bookkeeping: input and output history, the shell itself.
_IPYTHON_NAMES = ("In", "Out", "_oh", "_ih", "_dh", "_", "__", "___", "_i", "_ii", "_iii",
                  "exit", "quit", "get_ipython")
_IPYTHON_NUMBERED = re.compile(r"_i?\d+\Z")
_PATH_HEAD = re.compile(r"obj\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]")


def dump_session(file=None, module="__main__", *, exclude=(), protocol=None):
    """Save the namespace of ``module`` (a name or a module; ``"__main__"``, which in
    Jupyter is the notebook's namespace) to ``file`` (a path or a binary file), or
    return it as bytes when ``file`` is None.

    Every global is kept but dunder names, IPython's history (``In``, ``Out``, ``_1``...)
    and brinery itself, and the names in ``exclude`` (names or ``fnmatch`` patterns).
    Imported modules, and functions and classes that can be imported, are stored by
    reference; the rest by value, in one stream, so shared objects stay shared. A name
    whose value cannot be pickled is left out and named, with the reason, in a
    ``SessionWarning``; ``load_session`` reports it again.
    """
    import brinery

    mod = _module(module, create=False)
    names = _candidates(mod, tuple(exclude))
    data, skipped = _dump_namespace(brinery, names, protocol)
    meta = pickle.dumps({"brinery.session": _FORMAT, "module": mod.__name__, "skipped": skipped}, 4)
    blob = data + meta + _TRAILER.pack(len(meta), SESSION_MAGIC)
    if skipped:
        warnings.warn(SessionWarning(_skipped_message("left out of the session", skipped)),
                      stacklevel=2)
    if file is None:
        return blob
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as f:
            f.write(blob)
    else:
        file.write(blob)
    return None


def load_session(file, module="__main__"):
    """Restore a session saved by ``dump_session`` into ``module`` (a name, made and put
    in ``sys.modules`` if missing, or a module object); ``file`` is a path, a binary
    file or bytes. Names the module already has are replaced. Returns ``{name: reason}``
    for the names the save left out, and warns with a ``SessionWarning`` when there are
    any.

    Functions and classes defined in the saved module use the target module's dict as
    their globals. Without brinery, ``pickle.load(f)`` reads the same file as a dict.
    """
    blob = _read(file)
    meta_len, magic = _TRAILER.unpack_from(blob, len(blob) - _TRAILER.size)
    if magic != SESSION_MAGIC:
        raise pickle.UnpicklingError("not a brinery session (no session trailer)")
    meta_start = len(blob) - _TRAILER.size - meta_len
    meta = pickle.loads(blob[meta_start : len(blob) - _TRAILER.size])
    if meta.get("brinery.session") != _FORMAT:
        raise pickle.UnpicklingError(f"unsupported session format {meta.get('brinery.session')!r}")
    mod = _module(module, create=True)
    target = vars(mod)
    unpickler = _SessionUnpickler(io.BytesIO(memoryview(blob)[:meta_start]), meta["module"], mod)
    namespace = unpickler.load()
    target.update(namespace)
    # What the functions read that the session did not list (an excluded name): their
    # globals are now the module's, so it must hold it.
    for globals_ in unpickler.redirected:
        for name, value in globals_.items():
            if not _is_dunder(name):
                target.setdefault(name, value)
    skipped = dict(meta["skipped"])
    if skipped:
        warnings.warn(SessionWarning(_skipped_message("left out when the session was saved", skipped)),
                      stacklevel=2)
    return skipped


class _SessionUnpickler(pickle.Unpickler):
    """Rebuilds the functions of module ``source`` with the dict of module ``target`` as
    their globals: the dict a stream makes for them (a script's or a notebook's
    ``__main__``), or the module it rebuilds when the session's module is stored by
    value (one that cannot be imported)."""

    def __init__(self, file, source, target):
        super().__init__(file)
        self.source = source
        self.module = target
        self.target = vars(target)
        self.redirected = []
        self._seen = {}

    def find_class(self, module, name):
        if module == "types" and name == "FunctionType":
            return self._function
        if module == "types" and name == "ModuleType":
            return self._module_type
        return super().find_class(module, name)

    def _module_type(self, name, *rest):
        if name == self.source and self.module is not None:
            module, self.module = self.module, None
            return module
        return types.ModuleType(name, *rest)

    def _function(self, code, globals_, *rest):
        return types.FunctionType(code, self._globals(globals_), *rest)

    def _globals(self, globals_):
        hit = self._seen.get(id(globals_))
        if hit is not None and hit[0] is globals_:
            return hit[1]
        # A dict the stream made for the module's functions (a module's own dict, of a
        # module stored by value, has `__spec__`).
        ours = (type(globals_) is dict and globals_ is not self.target
                and globals_.get("__name__") == self.source and "__spec__" not in globals_)
        out = self.target if ours else globals_
        if ours:
            self.redirected.append(globals_)
        self._seen[id(globals_)] = (globals_, out)
        return out


def _module(module, create):
    if isinstance(module, str):
        found = sys.modules.get(module)
        if found is None:
            if not create:
                raise ValueError(f"no module named {module!r} is loaded")
            found = sys.modules[module] = types.ModuleType(module)
        return found
    if not hasattr(module, "__dict__"):
        raise TypeError(f"module must be a module or a module name, not {type(module).__name__}")
    return module


def _candidates(mod, exclude):
    """``{name: value}`` of what the session keeps."""
    ns = vars(mod)
    hidden = _ipython_hidden(ns)
    out = {}
    for name, value in list(ns.items()):
        if not isinstance(name, str) or _is_dunder(name):
            continue
        if name in hidden and hidden[name] is value:
            continue
        if hidden is not _NO_HIDDEN and (name in _IPYTHON_NAMES or _IPYTHON_NUMBERED.match(name)):
            continue
        if _is_brinery(value) or any(fnmatch.fnmatchcase(name, pat) for pat in exclude):
            continue
        out[name] = value
    return out


_NO_HIDDEN = {}


def _ipython_hidden(ns):
    """The names IPython put in ``ns`` for itself (``%who`` hides them), when ``ns`` is
    a running IPython's user namespace."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return _NO_HIDDEN
    shell = ipython.get_ipython()
    if shell is None or shell.user_ns is not ns:
        return _NO_HIDDEN
    return dict(shell.user_ns_hidden)


def _is_brinery(value):
    if isinstance(value, types.ModuleType):
        name = value.__name__
    elif isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        name = getattr(value, "__module__", None) or ""
    else:
        return False
    return name == "brinery" or name.startswith("brinery.")


def _is_dunder(name):
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _dump_namespace(brinery, names, protocol):
    """One stream of ``names`` less what cannot be pickled; returns it and
    ``{name: reason}`` for what was left out."""
    skipped = {}
    while True:
        try:
            return brinery.dumps(names, protocol), skipped
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as e:  # noqa: BLE001 - any error a value's reduction raises
            name = _failing_name(brinery, names, e, protocol)
            skipped[name] = f"{type(e).__name__}: {_without_path(str(e), name)}"
            names = {k: v for k, v in names.items() if k != name}


def _failing_name(brinery, names, error, protocol):
    m = _PATH_HEAD.match(str(error))
    if m is not None:
        try:
            name = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            name = None
        if name in names:
            return name
    for name, value in names.items():
        try:
            brinery.dumps(value, protocol)
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception:  # noqa: BLE001
            return name
    raise error  # every name pickles alone but not together: nothing to leave out


def _without_path(message, name):
    head = f"obj[{name!r}]"
    if message.startswith(head + ": "):
        return message[len(head) + 2 :]
    if message.startswith(head):
        return name + message[len(head) :]
    return message


def _skipped_message(what, skipped):
    lines = [f"{len(skipped)} name(s) {what}:"]
    lines += [f"  {name}: {reason}" for name, reason in skipped.items()]
    return "\n".join(lines)


def _read(file):
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file)
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as f:
            return f.read()
    return file.read()
