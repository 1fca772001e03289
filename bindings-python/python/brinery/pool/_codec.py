"""How ``brinery.Pool`` turns tasks and results into messages, on both sides.

A message is a main pickle stream, out-of-band buffers (protocol 5 buffers and ``bytes``
of ``THRESHOLD`` bytes or more; the native layer moves those through shared memory), and
file descriptors (passed with SCM_RIGHTS). Persistent ids carry what a plain stream
cannot:

- ``("brinery.def", n)``: a function or class stored by value once per worker as
  definition ``n``; the worker loads it on first use and keeps it, so every task sees
  the same object (``isinstance`` holds across tasks);
- ``("brinery.ref", n)``: in a result, definition ``n`` coming back: the parent resolves it
  to its own original object;
- ``("brinery.fd", i, kind, *details)``: the ``i``-th passed descriptor, rebuilt as an
  ``Fd``, a ``socket.socket``, a ``multiprocessing.connection.Connection`` or a file;
- ``("brinery.bytes", i)``: a large ``bytes`` object sent as buffer ``i``;
- ``("brinery.mp", kind, ...)``: a ``multiprocessing`` semaphore, heap arena or shared
  memory segment, the same kernel object on both sides (``_shared``);
- the ``("brinery.ns", ...)``/``("brinery.fill", ...)`` ids of ``Pickler(namespaces=True)``
  that bind by-value functions to one globals dict per module for the worker's life.
"""

import functools
import io
import itertools
import os
import pickle
import sys
import types

from .. import Pickler, _byvalue, _namespaces
from . import _shared

THRESHOLD = 64 * 1024

# Types that can never need a persistent id, checked first to keep the hot path short.
_PLAIN = frozenset(
    {int, float, str, bool, type(None), tuple, list, dict, set, frozenset, complex, bytearray}
)


class Fd:
    """A raw file descriptor to pass to a worker (``os.pipe()`` ends are plain ints, so
    wrap them: ``Fd(r)``). The worker receives an ``Fd`` holding its own duplicate, which
    it owns and should close (``with`` closes it, as does ``close()``)."""
    __module__ = "brinery.pool"  # (its public path: see the package documentation)

    __slots__ = ("fd",)

    def __init__(self, fd):
        self.fd = int(fd)

    def fileno(self):
        return self.fd

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def detach(self):
        """The descriptor, now the caller's (as ``multiprocessing``'s ``DupFd``)."""
        fd, self.fd = self.fd, -1
        return fd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Fd({self.fd})"


def wants_by_value(obj):
    """Whether brinery stores this function or class by value (mirrors the pickler)."""
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        return False
    if module in ("__main__", "__mp_main__"):
        return True
    for m in _byvalue.BY_VALUE:
        if module == m or module.startswith(m + "."):
            return True
    qualname = getattr(obj, "__qualname__", "")
    if "<locals>" in qualname or "<lambda>" in qualname:
        return True
    cur = sys.modules.get(module)
    if cur is None:
        return True
    for part in qualname.split("."):
        cur = getattr(cur, part, None)
        if cur is None:
            return True
    return cur is not obj


def fd_pid(obj, fds):
    """The persistent id of an OS resource (recording its descriptor), or None."""
    if isinstance(obj, Fd):
        fds.append(obj.fd)
        return ("brinery.fd", len(fds) - 1, "fd")
    # socket and multiprocessing.connection are looked up, not imported: an object of
    # theirs implies they are loaded, and a spawned worker starts faster without them.
    socket = sys.modules.get("socket")
    if socket is not None and isinstance(obj, socket.socket):
        fds.append(obj.fileno())
        return ("brinery.fd", len(fds) - 1, "socket")
    connection = sys.modules.get("multiprocessing.connection")
    if connection is not None and isinstance(obj, connection.Connection):
        fds.append(obj.fileno())
        return ("brinery.fd", len(fds) - 1, "connection", obj.readable, obj.writable)
    if isinstance(obj, io.IOBase):
        try:
            fd = obj.fileno()
        except (OSError, ValueError):
            return None
        obj.flush() if obj.writable() else None
        fds.append(fd)
        if isinstance(obj, io.TextIOBase):
            return ("brinery.fd", len(fds) - 1, "text", obj.mode, obj.encoding)
        mode = getattr(obj, "mode", "rb")
        return ("brinery.fd", len(fds) - 1, "binary", mode if isinstance(mode, str) else "rb")
    return None


def rebuild_fd(pid, fds):
    _, i, kind, *details = pid
    fd = fds[i]
    fds[i] = -1  # now owned by the object built here
    if kind == "fd":
        return Fd(fd)
    if kind == "socket":
        import socket

        return socket.socket(fileno=fd)
    if kind == "connection":
        from multiprocessing.connection import Connection

        return Connection(fd, readable=details[0], writable=details[1])
    if kind == "text":
        return open(fd, details[0].replace("b", ""), encoding=details[1])
    if kind == "binary":
        mode = details[0]
        return open(fd, mode if "b" in mode else mode + "b")
    raise pickle.UnpicklingError(f"unknown descriptor kind {kind!r}")


def close_unclaimed(fds):
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


class Encoder(Pickler):
    """A brinery pickler collecting out-of-band buffers and descriptors per dump, with a
    hook (``def_ref``) deciding how functions and classes are referred to."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffers = []
        self.fds = []
        self.defining = None
        # Whether the receiver may be forked from this process (see ``_shared``).
        self.inherits = True
        self.semaphores = False

    def encode(self, obj):
        """``(main_stream, buffers, fds)`` for ``obj``."""
        self.buffers.clear()
        self.fds = []
        self.semaphores = False  # (whether obj passes a multiprocessing semaphore)
        with _shared.spawning():
            main = self.dumps(obj)
        return main, list(self.buffers), self.fds

    def setup(self):
        pass

    def def_ref(self, obj):
        return None

    def persistent_id(self, obj):
        t = type(obj)
        if t in _PLAIN:
            return None
        if t is bytes:
            if len(obj) >= THRESHOLD:
                self.buffers.append(obj)
                return ("brinery.bytes", len(self.buffers))
            return None
        if t is types.FunctionType or isinstance(obj, type):
            if obj is self.defining:
                return None
            return self.def_ref(obj)
        pid = fd_pid(obj, self.fds) or _shared.reduce(obj, self.fds, self.inherits)
        if pid is not None and pid[1] == "sem":
            self.semaphores = True
        return pid


def make_encoder(cls, namespaces, *args, cross_version=False):
    """An ``Encoder`` subclass instance whose large protocol-5 buffers go out of band;
    ``cross_version``: for a process on another CPython minor version (``Pool(python=)``)."""
    buffers = []

    def out_of_band(pb):
        m = pb.raw()
        if m.nbytes < THRESHOLD:
            return True
        buffers.append(m)
        return False

    enc = cls(None, 5, buffer_callback=out_of_band, namespaces=namespaces, cross_version=cross_version)
    enc.buffers = buffers
    enc.setup(*args)
    return enc


SCALARS = frozenset({int, float, str, bool, type(None), complex})
_TUPLE = {tuple}
_LIST = {list}
_chain = itertools.chain.from_iterable


def is_plain(x, depth=3):
    """Whether stock ``pickle`` can write ``x`` exactly as brinery would, with no
    persistent id: scalars, small bytes, and shallow tuples/lists/str-keyed dicts of them.
    Such messages take the fast path (a stock pickle, C pickler both ways)."""
    t = type(x)
    if t in SCALARS:
        return True
    if t is bytes:
        return len(x) < THRESHOLD
    if depth == 0:
        return False
    # Scalars are checked inline: most containers hold nothing else, and a call each
    # would cost more than the check.
    if t is tuple or t is list:
        # A chunk of a map is a long list of scalars or of tuples of them: the types are
        # gathered at C speed first, and only a mixed container is looked at item by item.
        kinds = set(map(type, x))
        if kinds <= SCALARS:
            return True
        if depth > 1 and (kinds == _TUPLE or kinds == _LIST):
            if SCALARS.issuperset(map(type, _chain(x))):
                return True
        for y in x:
            if type(y) not in SCALARS and not is_plain(y, depth - 1):
                return False
        return True
    if t is dict:
        for k, v in x.items():
            if type(k) is not str or (type(v) not in SCALARS and not is_plain(v, depth - 1)):
                return False
        return True
    return False


# A chunk (of tasks or results) of fewer items is checked plain before it is pickled
# (``is_plain``, cheaper for so few), not while (``PlainWriter``).
FEW = 8


class _NotPlain(Exception):
    pass


class _PlainPickler(pickle.Pickler):
    # The C pickler writes None, bools, ints, floats, str, bytes, bytearray, tuples,
    # lists, dicts, sets and frozensets itself and asks ``reducer_override`` about
    # anything else: here, anything else but a complex (and its class) is what a stock
    # pickle may not write as brinery would, and ends the attempt.
    allowed = None

    def reducer_override(self, obj):
        if obj is self.allowed or type(obj) is complex or obj is complex:
            return NotImplemented
        raise _NotPlain


def _in_band(pb):
    if pb.raw().nbytes >= THRESHOLD:  # (brinery would send it out of band)
        raise _NotPlain
    return True


class PlainWriter:
    """Stock pickles of plain messages, the check made while writing: ``dumps`` costs
    what ``pickle.dumps`` does, where ``is_plain`` then ``pickle.dumps`` would visit a
    chunk of a thousand items twice, the first time in Python. One per thread that uses
    it (it reuses its buffer)."""

    def __init__(self):
        self._out = io.BytesIO()
        self._pickler = _PlainPickler(self._out, 5, buffer_callback=_in_band)

    def dumps(self, message, payload, allowed=None):
        """The stock pickle of ``message``, or None if a stock pickle could differ from
        brinery's. ``payload`` is the part of ``message`` the caller's values are in;
        ``allowed``, a function pickled by reference, may appear in it too."""
        out, pickler = self._out, self._pickler
        out.seek(0)
        out.truncate()
        pickler.allowed = allowed
        try:
            pickler.dump(message)
        except Exception:  # noqa: BLE001 - _NotPlain, or an error the full encoder reports
            return None
        finally:
            pickler.clear_memo()
            pickler.allowed = None
        data = out.getvalue()
        # Only a large message can hold bytes that brinery sends out of band: is_plain
        # looks for them (its answer for the payload is the one a small message skips).
        if len(data) >= THRESHOLD and not is_plain(payload):
            return None
        return data


# First byte of a main stream: a stock pickle (its PROTO opcode; nothing is prepended,
# so it loads as it is), or ``FULL`` prepended to one needing ``Decoder``.
FAST = 0x80
FULL = b"D"

PENDING = object()


class Decoder(pickle.Unpickler):
    """Loads a message: buffers, descriptors and the pool's persistent ids. ``load_def``
    and ``load_ref`` are supplied by the side using it."""

    def __init__(self, data, buffers, fds, side):
        super().__init__(io.BytesIO(data), buffers=buffers)
        self.buffers = buffers
        self.fds = fds
        self.side = side

    def persistent_load(self, pid):
        tag = pid[0]
        if tag == "brinery.def":
            return self.side.load_def(pid[1])
        if tag == "brinery.ref":
            return self.side.load_ref(pid[1])
        if tag == "brinery.fd":
            return rebuild_fd(pid, self.fds)
        if tag == "brinery.bytes":
            return bytes(self.buffers[pid[1] - 1])
        if tag == "brinery.mp":
            return _shared.rebuild(pid, self.fds)
        if tag == "brinery.fill":
            ns = _namespaces.namespace(pid[1])
            for k, v in pid[2].items():
                if v is not PENDING:
                    ns.setdefault(k, v)
            return None
        return _namespaces.persistent_load(pid)


def lead_opcodes(*lead):
    """The opcodes ``pickle`` writes for the items ``lead`` at the head of the tuple
    ``(*lead, [])`` (what ``chunk_pickles`` writes before a chunk), or None if pickling
    fails or writes them otherwise. Taken from pickle's own output: what it writes
    around them is what it writes around as many ``None`` and as many ``True`` (the
    lead comes first, so its memo entries are numbered alike wherever it is copied)."""
    try:
        body = _unframed_body(pickle.dumps((*lead, []), 5))
    except Exception:  # noqa: BLE001 - the usual path reports it
        return None
    around = _around(len(lead))
    if body is None or around is None:
        return None
    head, tail = around
    if not (body.startswith(head) and body.endswith(tail)) or len(body) < len(head) + len(tail):
        return None
    return body[len(head) : len(body) - len(tail)]


@functools.lru_cache(maxsize=None)
def _around(n):
    """What pickle writes before and after ``n`` leading items of ``(*lead, [])``."""
    a, b = (_unframed_body(pickle.dumps((v,) * n + ([],), 5)) for v in (None, True))
    if a is None or b is None or len(a) != len(b):
        return None
    start = next(i for i in range(len(a)) if a[i] != b[i]) if n else len(a)
    return a[:start], a[start + n :]


def _unframed_body(data):
    """What follows ``PROTO 5`` and the frame header in a one-frame stream."""
    if data[:2] != b"\x80\x05":
        return None
    body = data[2:]
    return body[9:] if body[:1] == b"\x95" else body
