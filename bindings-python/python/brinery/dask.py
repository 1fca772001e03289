"""brinery as a serializer for Dask distributed.

Importing this module registers two serialization families with
``distributed.protocol`` (``register()`` does the same and is idempotent), so a client
switches with three lines::

    import brinery.dask
    serializers = ["brinery", "dask", "pickle"]
    client = Client(cluster, serializers=serializers, deserializers=serializers)

``"brinery"`` writes plain brinery streams; ``"brinery-cross-version"`` writes them with
``cross_version=True``, so that functions, lambdas, closures and ``__main__`` classes
also run where the scheduler or the workers use another CPython minor version than the
client (a client on 3.11, workers on 3.13, and back). Name one of them first in the
client's ``serializers`` (and ``deserializers``); Dask sends family names with each
request, so a worker answers a client in the family that client chose.

What then goes through brinery:

- data the client sends and receives over its own connections: ``scatter``, results
  from ``gather``/``Future.result``, exceptions; protocol 5 buffers (NumPy arrays,
  ``bytes``, ``PickleBuffer``) travel as Dask frames beside the stream, never copied
  into it;
- the task graph leaving that client (``submit``, ``map``, ``compute``): Dask encodes
  graphs with its default ``["dask", "pickle"]`` whatever the client's ``serializers``;
  this module hooks the ``"dask"`` family for graph expressions and uses brinery when
  the current client (``Client.current()``) lists one of its families. Each object
  brinery stores by value (a function, a class, an instance of a by-value class) is
  sealed in a stream of its own inside the graph: the scheduler keeps it sealed (it
  never builds user code, whatever its version) and forwards it to the worker that runs
  the task, where it is loaded. (A scheduler with in-process workers, as in
  ``LocalCluster(processes=False)``, opens them itself: Dask hands those workers their
  tasks without pickling.) If it cannot be loaded there (bytecode of another
  version without ``cross_version``, source the worker's version cannot compile), the
  worker gets a stand-in that raises ``pickle.UnpicklingError`` naming the object and
  both versions when the task calls or uses it: the task fails with that error on the
  client, and the worker keeps running.

Every process that decodes these messages must have imported this module: workers
(``dask worker --preload brinery.dask``, ``LocalCluster(preload=["brinery.dask"])`` or
``client.register_plugin(brinery.dask.WorkerPlugin())``) and the scheduler
(``dask scheduler --preload brinery.dask``; a ``LocalCluster`` scheduler lives in the
client's process already). Streams are plain pickles: decoding needs stock
``pickle.loads`` only, the import is what tells Dask the family's name.

Not covered: workers exchange dependencies (results one task passes to another) with
their own default serializers; distributed offers no hook for that, so a function or a
``__main__`` object passed from task to task between workers on different versions
does not load there (cloudpickle writes bytecode for one version). ``Client.run``,
``Client.run_on_scheduler`` and plugins are always pickled by Dask itself. Dask warns
(``VersionMismatchWarning``) when the client, scheduler and workers differ in Python
version; with ``"brinery-cross-version"`` that warning is expected.
"""

import pickle as _pickle
import sys as _sys
import threading as _threading
import types as _types

import distributed as _distributed
from dask._expr import Expr as _Expr
from distributed.protocol.serialize import (
    dask_deserialize as _dask_deserialize,
    dask_serialize as _dask_serialize,
    families as _families,
    register_serialization_family as _register_serialization_family,
)
from distributed.core import Status as _Status
from distributed.utils import ensure_memoryview as _ensure_memoryview
from distributed.worker import Worker as _Worker

import brinery as _brinery
from brinery.pool._codec import wants_by_value as _wants_by_value

__all__ = [
    "CROSS_VERSION_FAMILY",
    "FAMILY",
    "SchedulerPlugin",
    "WorkerPlugin",
    "dumps",
    "loads",
    "register",
]

FAMILY = "brinery"
CROSS_VERSION_FAMILY = "brinery-cross-version"

_HERE = _sys.implementation.cache_tag


def _protocol(context):
    return (context or {}).get("pickle-protocol") or _pickle.HIGHEST_PROTOCOL


def _encode(write, protocol, family):
    """``(header, frames)`` with the stream ``write(protocol, buffer_callback)`` made
    first and each protocol 5 buffer as a frame of its own."""
    frames = [None]
    writeable = []
    if protocol >= 5:
        def on_buffer(buf):
            view = _ensure_memoryview(buf)
            frames.append(view)
            writeable.append(not view.readonly)
        frames[0] = write(protocol, on_buffer)
    else:
        frames[0] = write(protocol, None)
    return {"serializer": family, "writeable": tuple(writeable)}, frames


def dumps(obj, context=None, *, cross_version=False):
    """The families' encoder: ``(header, frames)`` with the brinery stream first and each
    protocol 5 buffer as a frame of its own (a view of the object's memory, no copy).
    ``cross_version=True`` is the ``"brinery-cross-version"`` family."""
    family = CROSS_VERSION_FAMILY if cross_version else FAMILY

    def write(protocol, buffer_callback):
        return _brinery.dumps(obj, protocol, buffer_callback=buffer_callback,
                              cross_version=cross_version)
    return _encode(write, _protocol(context), family)


def _dumps_cross_version(obj, context=None):
    return dumps(obj, context, cross_version=True)


def loads(header, frames):
    """The families' decoder: stock ``pickle.loads`` with the frames as its buffers,
    restoring each buffer's writeable flag (a copy only when a read-only frame must
    become writeable, as in Dask's own pickle family)."""
    buffers = []
    for frame, writeable in zip(frames[1:], header["writeable"]):
        view = _ensure_memoryview(frame)
        if writeable and view.readonly:
            view = memoryview(bytearray(view))
        elif not writeable and not view.readonly:
            view = view.toreadonly()
        buffers.append(view)
    return _pickle.loads(frames[0], buffers=buffers)


# -- the task graph --------------------------------------------------------------------

def _client_family():
    """The brinery family the current client lists first, or None."""
    try:
        client = _distributed.Client.current()
    except ValueError:
        return None
    for name in client._serializers or ():
        if name in (FAMILY, CROSS_VERSION_FAMILY):
            return name
    return None


def _label(obj):
    if isinstance(obj, type):
        kind, named = "class", obj
    elif type(obj) is _types.FunctionType:
        kind, named = "function", obj
    else:
        kind, named = "instance of", type(obj)
    name = f"{getattr(named, '__module__', '?')}.{getattr(named, '__qualname__', '?')}"
    return f"{kind} {name}"


class _GraphPickler(_brinery.Pickler):
    """Seals each object brinery stores by value in a stream of its own, loaded by
    ``_sealed`` (see the module docstring)."""

    def reducer_override(self, obj):
        t = type(obj)
        if t is _types.FunctionType or issubclass(t, type):
            if not _wants_by_value(obj):
                return NotImplemented
        else:
            # An instance: sealed whole when its class is by value (asked once per class).
            sealed = self.sealed_types.get(t)
            if sealed is None:
                sealed = self.sealed_types[t] = t.__module__ != "builtins" and _wants_by_value(t)
            if not sealed:
                return NotImplemented
        stream = _brinery.dumps(obj, self.sealed_protocol, cross_version=self.sealed_cross_version)
        return _sealed, (stream, _label(obj), _HERE, self.sealed_cross_version)


def _graph_dumps(expr, context=None):
    # NotImplementedError hands the graph on to the next family ("pickle"), as Dask
    # does for every type a family declines.
    family = _client_family()
    if family is None:
        raise NotImplementedError("brinery is not in the current client's serializers")
    cross_version = family == CROSS_VERSION_FAMILY

    def write(protocol, buffer_callback):
        pickler = _GraphPickler()
        pickler._init(None, protocol, buffer_callback=buffer_callback, cross_version=cross_version)
        pickler.sealed_protocol = protocol
        pickler.sealed_cross_version = cross_version
        pickler.sealed_types = {}
        return pickler.dumps(expr)
    return _encode(write, _protocol(context), family)


_decoding = _threading.local()


_GONE = frozenset({_Status.closing, _Status.closed, _Status.failed})


def _inproc_workers():
    """Whether a worker runs in this process on an ``inproc://`` address (a
    ``LocalCluster(processes=False)``): Dask hands its tasks over without pickling, so a
    sealed object would reach the task unopened."""
    return any(
        str(getattr(w, "address", None) or "").startswith("inproc://") and w.status not in _GONE
        for w in list(_Worker._instances)
    )


def _graph_loads(header, frames):
    """The graph's decoder (on the scheduler): sealed objects stay sealed, unless tasks
    may go to an in-process worker (then they are opened here)."""
    if _inproc_workers():
        return loads(header, frames)
    _decoding.graph = getattr(_decoding, "graph", 0) + 1
    try:
        return loads(header, frames)
    finally:
        _decoding.graph -= 1


def _sealed(stream, label, tag, cross_version):
    """A sealed object: kept sealed while a graph is decoded, loaded anywhere else
    (``tag``: the writer's ``sys.implementation.cache_tag``)."""
    if getattr(_decoding, "graph", 0):
        return _Sealed(stream, label, tag, cross_version)
    try:
        return _pickle.loads(stream)
    except Exception as e:
        return _Unloadable(_load_failure(label, tag, cross_version, e))


def _load_failure(label, tag, cross_version, error):
    where = f"written on {tag}, loaded on {_HERE}"
    hint = ""
    if tag != _HERE and not cross_version:
        hint = (f'; to run it on another Python version send it through the '
                f'"{CROSS_VERSION_FAMILY}" family')
    return f"cannot load {label} ({where}): {type(error).__name__}: {error}{hint}"


class _Sealed:
    """A by-value object inside a graph on the scheduler: its stream, passed on as is."""

    __slots__ = ("stream", "label", "tag", "cross_version")

    def __init__(self, stream, label, tag, cross_version):
        self.stream, self.label, self.tag = stream, label, tag
        self.cross_version = cross_version

    def __reduce__(self):
        return _sealed, (self.stream, self.label, self.tag, self.cross_version)

    def __call__(self, *args, **kwargs):
        obj = _pickle.loads(self.stream)
        return obj(*args, **kwargs)

    def __repr__(self):
        return f"<sealed {self.label}>"


class _Unloadable:
    """What a worker gets for a sealed object that does not load there: calling it or
    reading an attribute raises the load's error (so the task fails with it). Dunder
    lookups raise ``AttributeError`` as for any object lacking them, so that probes such
    as ``hasattr(x, "__dask_graph__")`` on the worker still work."""

    __slots__ = ("message",)

    def __init__(self, message):
        self.message = message

    def __call__(self, *args, **kwargs):
        raise _pickle.UnpicklingError(self.message)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise _pickle.UnpicklingError(self.message)

    def __reduce__(self):
        raise _pickle.UnpicklingError(self.message)

    def __repr__(self):
        return f"<unloadable: {self.message}>"


def register():
    """Registers the ``"brinery"`` and ``"brinery-cross-version"`` families and the graph
    hook; calling it again is a no-op."""
    if _families.get(FAMILY, (None, None))[0] is dumps:
        return
    _register_serialization_family(FAMILY, dumps, loads)
    _register_serialization_family(CROSS_VERSION_FAMILY, _dumps_cross_version, loads)
    _dask_serialize.register(_Expr)(_graph_dumps)
    _dask_deserialize.register(_Expr)(_graph_loads)


class WorkerPlugin(_distributed.WorkerPlugin):
    """Registers brinery on every worker, present and future (restarted ones included):
    ``client.register_plugin(brinery.dask.WorkerPlugin())``. Unpickling the plugin on
    the worker imports this module, which is what registers."""

    name = "brinery"

    def setup(self, worker):
        register()


class SchedulerPlugin(_distributed.SchedulerPlugin):
    """The same for a scheduler started without ``--preload brinery.dask``:
    ``client.register_plugin(brinery.dask.SchedulerPlugin())`` before the first task."""

    name = "brinery-scheduler"

    async def start(self, scheduler):
        register()


register()
