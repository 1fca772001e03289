"""brinery as a serializer for Dask distributed.

Importing this module registers a ``"brinery"`` serialization family with
``distributed.protocol`` (``register()`` does the same and is idempotent), so a client
switches with three lines::

    import brinery.dask
    serializers = ["brinery", "dask", "pickle"]
    client = Client(cluster, serializers=serializers, deserializers=serializers)

What then goes through brinery:

- data the client sends and receives over its own connections: ``scatter``, results
  from ``gather``/``Future.result``, exceptions; protocol 5 buffers (NumPy arrays,
  ``bytes``, ``PickleBuffer``) travel as Dask frames beside the stream, never copied
  into it;
- the task graph leaving that client (``submit``, ``map``, ``compute``): functions,
  lambdas, closures and ``__main__`` classes are stored by value by brinery instead of
  cloudpickle. Dask encodes graphs with its default ``["dask", "pickle"]`` whatever
  the client's ``serializers``; this module hooks the ``"dask"`` family for graph
  expressions and uses brinery when the current client (``Client.current()``) lists
  ``"brinery"`` in its serializers.

Every process that decodes these messages must have imported this module: workers
(``dask worker --preload brinery.dask``, ``LocalCluster(preload=["brinery.dask"])`` or
``client.register_plugin(brinery.dask.WorkerPlugin())``) and the scheduler
(``dask scheduler --preload brinery.dask``; a ``LocalCluster`` scheduler lives in the
client's process already). Streams are plain pickles: decoding needs stock
``pickle.loads`` only, the import is what tells Dask the family's name.

Not covered: the scheduler re-encodes each task for its worker with Dask's own
``ToPickle`` (cloudpickle for anything defined in ``__main__``), and workers exchange
dependencies with their own default serializers; distributed offers no hook for either.
"""

import pickle as _pickle

import distributed as _distributed
from dask._expr import Expr as _Expr
from distributed.protocol.serialize import (
    dask_deserialize as _dask_deserialize,
    dask_serialize as _dask_serialize,
    families as _families,
    register_serialization_family as _register_serialization_family,
)
from distributed.utils import ensure_memoryview as _ensure_memoryview

import brinery as _brinery

__all__ = ["FAMILY", "SchedulerPlugin", "WorkerPlugin", "dumps", "loads", "register"]

FAMILY = "brinery"


def dumps(obj, context=None):
    """The family's encoder: ``(header, frames)`` with the brinery stream first and each
    protocol 5 buffer as a frame of its own (a view of the object's memory, no copy)."""
    protocol = (context or {}).get("pickle-protocol") or _pickle.HIGHEST_PROTOCOL
    frames = [None]
    writeable = []
    if protocol >= 5:
        def on_buffer(buf):
            view = _ensure_memoryview(buf)
            frames.append(view)
            writeable.append(not view.readonly)
        frames[0] = _brinery.dumps(obj, protocol, buffer_callback=on_buffer)
    else:
        frames[0] = _brinery.dumps(obj, protocol)
    return {"serializer": FAMILY, "writeable": tuple(writeable)}, frames


def loads(header, frames):
    """The family's decoder: stock ``pickle.loads`` with the frames as its buffers,
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


def _client_wants_brinery():
    try:
        client = _distributed.Client.current()
    except ValueError:
        return False
    return FAMILY in (client._serializers or ())


def _expr_dumps(expr, context=None):
    # NotImplementedError hands the graph on to the next family ("pickle"), as Dask
    # does for every type a family declines.
    if not _client_wants_brinery():
        raise NotImplementedError("brinery is not in the current client's serializers")
    return dumps(expr, context)


def register():
    """Registers the ``"brinery"`` family and the graph hook; calling it again is a no-op."""
    if _families.get(FAMILY, (None, None))[0] is dumps:
        return
    _register_serialization_family(FAMILY, dumps, loads)
    _dask_serialize.register(_Expr)(_expr_dumps)
    _dask_deserialize.register(_Expr)(loads)


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
