"""Loading pickles you did not produce, and looking inside a pickle before loading it.

``safe_loads`` decodes with brinery's own pickle machine (``brinery-core``, written in
Rust; never ``pickle.Unpickler``), which turns the stream into an inert tree without
importing or calling anything. The tree is then checked as a whole: a global outside
the allowlist, a call of anything but an allowed global, or a persistent id refuses the
stream with ``UnsafePickleError`` *before* any global is imported or called. Only then
are the objects built, calling only allowlisted globals, each with arguments checked
against amplification (no ``bytearray(10**12)``, no ``list(range(10**12))``).

``scan`` reports what ``pickle.loads`` would import and call, with byte offsets and a
severity per finding (see ``docs/security.md``); it reads the opcodes, so it also
reports on streams that do not load.
"""

from collections import namedtuple

from . import _brinery
from ._errors import UnpicklingError, UnsafePickleError

__all__ = [
    "DEFAULT_ALLOW",
    "Finding",
    "Scan",
    "UnpicklingError",
    "UnsafePickleError",
    "default_max_alloc",
    "dis",
    "safe_load",
    "safe_loads",
    "scan",
]

#: The globals ``safe_loads`` allows by default, as ``"module.name"`` strings: builtin
#: scalars, containers and ``slice``/``range``/``complex``, ``datetime.date``/``time``/
#: ``datetime``/``timedelta``/``timezone``, ``decimal.Decimal``, ``fractions.Fraction``,
#: ``collections.OrderedDict``/``Counter``/``deque``/``defaultdict``, ``uuid.UUID``,
#: ``_codecs.encode`` and ``copyreg._reconstructor`` (for allowed classes only).
DEFAULT_ALLOW = frozenset(_brinery.default_allowlist())

#: Deepest nesting ``safe_loads`` builds by default (marks in the stream and containers
#: in the result). ``pickle.dumps`` itself stops near 1,000 (the recursion limit).
DEFAULT_MAX_DEPTH = _brinery.default_limits(0)[0]


def default_max_alloc(size):
    """The default allocation bound for a stream of ``size`` bytes: 1 MiB plus 64 bytes
    per input byte, charged separately to the decoded tree and to the Python objects
    built from it (so a 1 KB stream can never make ``safe_loads`` allocate more than
    about 2.2 MB, whatever it holds). The core's ``Limits::for_input``, which every
    binding uses."""
    return _brinery.default_limits(size)[2]


def _allow_map(allow):
    extra = {}
    if allow is None:
        return extra
    if isinstance(allow, (str, bytes)) or not hasattr(allow, "__iter__"):
        allow = [allow]
    for item in allow:
        if isinstance(item, str):
            if "." not in item:
                raise ValueError(f"allow entries are 'module.name' strings, not {item!r}")
            extra[item] = None
        else:
            module = getattr(item, "__module__", None)
            qualname = getattr(item, "__qualname__", None) or getattr(item, "__name__", None)
            if not module or not qualname:
                raise TypeError(f"cannot allow {item!r}: it has no __module__ and __qualname__")
            extra[f"{module}.{qualname}"] = item
    return extra


def safe_loads(data, *, allow=None, buffers=None, encoding="ASCII", max_depth=None,
               max_memo=None, max_alloc=None):
    """Load a pickle without running anything outside an allowlist.

    ``allow`` adds globals to ``DEFAULT_ALLOW``: ``"module.name"`` strings (imported
    when the stream names them) or the objects themselves (classes, functions; used
    as they are, nothing is imported). ``buffers`` and ``encoding`` are as in
    ``pickle.loads`` (``encoding`` may be ``"ASCII"``, ``"latin1"`` or ``"bytes"``).
    ``max_depth``, ``max_memo`` and ``max_alloc`` bound nesting, memo entries and bytes
    allocated (defaults: ``DEFAULT_MAX_DEPTH``, one memo entry per input byte (16 at
    least), ``default_max_alloc(len(data))``: the core's ``Limits::for_input``).

    Raises ``UnsafePickleError`` (naming the global and its byte offset) for a global
    outside the allowlist, before anything is imported or called, and
    ``UnpicklingError`` (with ``offset``) for a malformed stream or an exceeded limit.
    Both are ``pickle.UnpicklingError`` subclasses.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    if buffers is not None:
        buffers = list(buffers)
    return _brinery.safe_loads(
        data,
        _allow_map(allow),
        buffers,
        encoding,
        max_depth,
        max_memo,
        max_alloc,
    )


def safe_load(file, **kwargs):
    """``safe_loads(file.read(), **kwargs)``: reads the rest of the binary file."""
    return safe_loads(file.read(), **kwargs)


Finding = namedtuple("Finding", "offset opcode target severity reason")
Finding.__doc__ = """One global a stream imports or one call it makes.

``target`` is ``"module.name"``, ``"extension code N"``, or a description of a value the
stream built; ``severity`` is ``"safe"``, ``"unknown"``, ``"code"`` or ``"dangerous"``."""

SEVERITIES = ("safe", "unknown", "code", "dangerous")


class Scan:
    """What ``scan`` found: ``imports`` and ``calls`` (lists of ``Finding``), the
    worst ``severity``, the ``protocol``, ``end`` (bytes up to ``STOP``, or ``None``),
    ``error`` (``(message, offset)`` where the walk stopped, or ``None``) and ``limit``
    (``(message, offset)``: the first default limit of ``safe_loads`` the stream
    exceeds, where ``safe_loads`` refuses it, or ``None``; such a stream is at least
    ``"unknown"``)."""

    def __init__(self, raw):
        self.imports = [Finding(*f) for f in raw["imports"]]
        self.calls = [Finding(*f) for f in raw["calls"]]
        self.severity = raw["severity"]
        self.protocol = raw["protocol"]
        self.end = raw["end"]
        self.error = raw["error"]
        self.limit = raw["limit"]

    def flagged(self, level="code"):
        """Imports and calls at or above ``level``, in stream order."""
        rank = SEVERITIES.index(level)
        found = [f for f in self.imports + self.calls if SEVERITIES.index(f.severity) >= rank]
        return sorted(found, key=lambda f: f.offset)

    @property
    def dangerous(self):
        """True when loading this stream with ``pickle`` could run code it carries or
        names: any finding of severity ``"code"`` or ``"dangerous"``."""
        return SEVERITIES.index(self.severity) >= SEVERITIES.index("code")

    def __repr__(self):
        return f"<Scan severity={self.severity} imports={len(self.imports)} calls={len(self.calls)}>"


def scan(data):
    """Report every global ``pickle.loads(data)`` would import and every call it would
    make, with offsets and severities, without loading anything."""
    if not isinstance(data, bytes):
        data = bytes(data)
    return Scan(_brinery.scan(data))


def dis(data):
    """The disassembly of ``data`` as ``pickletools.dis`` prints it (as a string)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    return _brinery.dis(data)
