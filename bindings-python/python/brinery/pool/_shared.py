"""How ``multiprocessing``'s shared objects cross to pool workers that are already
running: the reducer table of the pool's codec (``_worker_codec``), which plain
``brinery.dumps`` never consults, so outside a pool these objects still refuse to
pickle as ``multiprocessing`` says they should.

What crosses is the kernel object, never a copy:

- while the pool encodes, ``multiprocessing`` is told a child is being spawned
  (``spawning()``), so ``Queue``, ``JoinableQueue``, ``SimpleQueue``, ``Condition``,
  ``Event``, ``Barrier``, ``Value``/``Array`` reduce themselves as for a child it starts;
  their pipe ends travel as descriptors (``SCM_RIGHTS``, like any ``Connection``);
- a semaphore (``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore`` and those inside
  the objects above) by its name, opened again with ``sem_open``. A semaphore made under
  the ``fork`` context has no name (it is unlinked at birth): it is reachable only in a
  process forked after it was made, where it lies at the same address; the receiver
  checks that the page there maps the same semaphore file, and refuses otherwise;
- a ``Value``, ``Array``, ``RawValue`` or ``RawArray`` by its type and the descriptor
  and span of its ``multiprocessing.heap`` arena, mapped again; the descriptor is closed
  when the mapping is collected;
- a ``Queue``, ``JoinableQueue`` or ``SimpleQueue`` as its state (the above); the receiver
  keeps the last few it received, by pipe inode, and gives a task the one it has when the
  same queue comes again (``_rebuild_queue``);
- ``shared_memory.SharedMemory`` (and ``ShareableList``) by name, as it pickles anyway,
  but opened untracked in a worker: the worker's resource tracker must not unlink the
  parent's segment when the worker exits.

``context()`` is a ``multiprocessing`` context whose objects can always be passed.

A worker killed while its task holds a passed lock (``Lock``, ``RLock``,
``BoundedSemaphore``, a ``Condition``'s lock, a ``Semaphore`` it left at zero) leaves
it taken, and nothing will release it: the ``WorkerDiedError`` of that task names each
such object by its path in the task's arguments (``locks_in`` records them when the task
is sent, ``name_held_locks`` looks at them when the death is reported); the guide says
what to do. The parent does not release them itself: only the user knows whether what
a lock guarded is consistent.

Outside a pool (``brinery.dumps``, ``Pickler``, sessions: every dump goes through the
reducer table of ``_byvalue``) these objects are refused with a ``SharedObjectError``
naming the object and its path (``refusals``): a byte stream cannot carry a descriptor.
``multiprocessing`` would raise its own ``RuntimeError`` for most of them, and would
pickle a ``Connection`` as its bare descriptor number, meaningless anywhere else.
"""

import collections
import os
import pickle
import sys

from .._errors import SharedObjectError

__all__ = ["context", "locks_in", "name_held_locks", "rebuild", "reduce", "refusals", "spawning", "SharedObjectError"]




_FIX = (
    "create it with brinery.pool.context() (or multiprocessing.get_context('spawn')), "
    "whose semaphores keep their names, or under start_method='fork' before the pool starts"
)


class _Passing:
    """Stands in for ``multiprocessing``'s spawning ``Popen`` while the pool encodes: a
    descriptor handed to ``DupFd`` travels as an ``Fd``, which has ``detach()``."""

    def duplicate_for_child(self, fd):
        return fd

    def DupFd(self, fd):  # noqa: N802 - multiprocessing's name
        from ._codec import Fd

        return Fd(fd)


_PASSING = _Passing()


class spawning:
    """``with spawning():`` the objects of ``multiprocessing`` (if it is loaded) reduce
    as for a child being started. Does nothing where it is not loaded."""

    __slots__ = ("ctx", "before")

    def __enter__(self):
        ctx = self.ctx = sys.modules.get("multiprocessing.context")
        if ctx is not None and hasattr(ctx, "set_spawning_popen"):
            self.before = ctx.get_spawning_popen()
            ctx.set_spawning_popen(_PASSING)
        else:
            self.ctx = None
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.set_spawning_popen(self.before)


def reduce(obj, fds, inherits):
    """The persistent id of a shared ``multiprocessing`` object (recording descriptors in
    ``fds``), or None. ``inherits``: whether the receiver may be a process forked from
    this one after an unnamed semaphore was made."""
    synchronize = sys.modules.get("multiprocessing.synchronize")
    if synchronize is not None and isinstance(obj, synchronize.SemLock):
        return _reduce_semaphore(obj, inherits)
    queues = sys.modules.get("multiprocessing.queues")
    if queues is not None and type(obj) in (queues.Queue, queues.JoinableQueue, queues.SimpleQueue):
        # (its state's pipe ends and semaphores get persistent ids of their own)
        return ("brinery.mp", "queue", type(obj), obj.__getstate__())
    heap = sys.modules.get("multiprocessing.heap")
    if heap is not None:
        if type(obj) is heap.Arena and obj.fd >= 0:  # (a Barrier's counters, say)
            fds.append(obj.fd)
            return ("brinery.mp", "arena", len(fds) - 1, obj.size)
        ctypes = sys.modules.get("ctypes")
        if ctypes is not None and isinstance(obj, _CTYPES or _ctypes_bases(ctypes)):
            return _reduce_ctype(obj, fds)
    shm = sys.modules.get("multiprocessing.shared_memory")
    if shm is not None:
        if type(obj) is shm.SharedMemory:
            return ("brinery.mp", "shm", obj.name, obj.size)
        if type(obj) is shm.ShareableList:
            return ("brinery.mp", "list", obj.shm.name)
    return None


_CTYPES = None


def _ctypes_bases(ctypes):
    global _CTYPES
    _CTYPES = (ctypes._SimpleCData, ctypes.Array, ctypes.Structure, ctypes.Union)
    return _CTYPES


def _reduce_ctype(obj, fds):
    """A ``RawValue``/``RawArray`` (also inside ``Value``/``Array``): its type, and the
    arena descriptor and span of its heap block (``sharedctypes.reduce_ctype``'s data,
    flattened)."""
    from multiprocessing import heap

    wrapper = getattr(obj, "_wrapper", None)
    if not isinstance(wrapper, heap.BufferWrapper):
        return None  # an ordinary ctypes object: pickled as a copy, as by pickle
    (arena, start, stop), size = wrapper._state
    if isinstance(obj, sys.modules["ctypes"].Array):
        type_, length = obj._type_, obj._length_
    else:
        type_, length = type(obj), None
    fds.append(arena.fd)
    return ("brinery.mp", "ctype", type_, length, len(fds) - 1, arena.size, start, stop, size)


def _reduce_semaphore(obj, inherits):
    sl = obj._semlock
    state = (sl.handle, sl.kind, sl.maxvalue, sl.name)
    if sl.name is not None:
        return ("brinery.mp", "sem", type(obj), state, None)
    what = type(obj).__name__
    if not inherits:
        raise SharedObjectError(
            f"cannot pass a multiprocessing.{what} made under the 'fork' context to a spawned "
            f"worker: its semaphore was unlinked when it was made, so only processes forked "
            f"after it can reach it; {_FIX}"
        )
    return ("brinery.mp", "sem", type(obj), state, _mapping(sl.handle))


def _mapping(address):
    """``(device, inode)`` of the file mapped at ``address`` in this process, or None."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                span, _, _, dev, inode = line.split(None, 5)[:5]
                lo, hi = span.split("-")
                if int(lo, 16) <= address < int(hi, 16):
                    return dev, inode
    except OSError:
        pass
    return None


# Semaphores reached through an inherited mapping, kept for this process's life: closing
# one (sem_close) would unmap the page the inherited objects use too.
_INHERITED = {}


def rebuild(pid, fds):
    """The object a ``("brinery.mp", ...)`` persistent id stands for."""
    kind = pid[1]
    if kind == "sem":
        return _rebuild_semaphore(*pid[2:])
    if kind == "queue":
        return _rebuild_queue(pid[2], pid[3])
    if kind == "ctype":
        return _rebuild_ctype(pid, fds)
    if kind == "arena":
        return _rebuild_arena(fds, *pid[2:])
    if kind == "shm":
        from multiprocessing.shared_memory import SharedMemory

        try:
            return SharedMemory(pid[2], size=pid[3], track=False)
        except TypeError:  # (before Python 3.13, no track=)
            with _untracked():
                return SharedMemory(pid[2], size=pid[3])
    if kind == "list":
        from multiprocessing.shared_memory import ShareableList

        with _untracked():
            return ShareableList(name=pid[2])
    raise pickle.UnpicklingError(f"unknown multiprocessing object {kind!r}")


# The queues this process received last, by kernel object, kept alive between tasks: a
# queue sent with every task is then one object here, with one feeder thread and one
# pair of descriptors, not a copy per task whose thread and pipe ends linger until the
# thread gets to run (a worker running tasks back to back was seen holding thousands).
_QUEUES = collections.OrderedDict()
_QUEUES_KEPT = 8
_QUEUES_PID = [None]


def _rebuild_queue(cls, state):
    connection = sys.modules["multiprocessing.connection"]
    reader = next(x for x in state if isinstance(x, connection.Connection))
    st = os.fstat(reader.fileno())
    key = (cls, st.st_dev, st.st_ino)
    if _QUEUES_PID[0] != os.getpid():  # (a forked child's copies have no feeder thread)
        _QUEUES.clear()
        _QUEUES_PID[0] = os.getpid()
    q = _QUEUES.get(key)
    if q is not None and _usable(q):
        _QUEUES.move_to_end(key)
        return q  # (this message's copies of its descriptors close as `state` goes)
    q = cls.__new__(cls)
    q.__setstate__(state)
    _QUEUES[key] = q
    _QUEUES.move_to_end(key)
    while len(_QUEUES) > _QUEUES_KEPT:
        _QUEUES.popitem(last=False)
    return q


def _usable(q):
    """Whether a kept queue can serve another task (no task closed it)."""
    if getattr(q, "_closed", False) or q._reader.closed:
        return False
    thread = getattr(q, "_thread", None)
    return thread is None or thread.is_alive()


def _rebuild_ctype(pid, fds):
    from multiprocessing import heap, sharedctypes

    _, _, type_, length, i, arena_size, start, stop, size = pid
    arena = _rebuild_arena(fds, i, arena_size)
    wrapper = heap.BufferWrapper.__new__(heap.BufferWrapper)
    wrapper._state = ((arena, start, stop), size)
    return sharedctypes.rebuild_ctype(type_, wrapper, length)


def _rebuild_arena(fds, i, size):
    from multiprocessing import heap, util

    fd, fds[i] = fds[i], -1
    arena = heap.Arena(size, fd)
    util.Finalize(arena, os.close, (fd,))  # (an arena given a descriptor leaves it open)
    return arena


def _rebuild_semaphore(cls, state, mapping):
    if mapping is None:
        obj = cls.__new__(cls)
        obj.__setstate__(state)
        return obj
    key = (cls, state[0], mapping)
    obj = _INHERITED.get(key)
    if obj is None:
        if _mapping(state[0]) != mapping:
            raise SharedObjectError(
                f"cannot use a multiprocessing.{cls.__name__} made under the 'fork' context "
                f"in process {os.getpid()}: its semaphore was unlinked when it was made, and "
                f"this process was not forked after it; {_FIX}"
            )
        obj = _INHERITED[key] = cls.__new__(cls)
        obj.__setstate__(state)
    return obj


class _untracked:
    """``with _untracked():`` shared memory opened here is not registered with this
    process's resource tracker, which would unlink it when this process exits (the
    process that created it registered it already)."""

    def __enter__(self):
        from multiprocessing import resource_tracker

        self.tracker = resource_tracker
        self.register = resource_tracker.register
        resource_tracker.register = _ignore

    def __exit__(self, *exc):
        self.tracker.register = self.register


def _ignore(name, rtype):
    pass


# What each kind holds that a byte stream cannot carry, by module and type name.
_HOLDS = {
    "multiprocessing.synchronize": {
        "Lock": "a semaphore",
        "RLock": "a semaphore",
        "Semaphore": "a semaphore",
        "BoundedSemaphore": "a semaphore",
        "Condition": "semaphores",
        "Event": "semaphores",
        "Barrier": "semaphores and shared memory",
    },
    "multiprocessing.queues": {
        "Queue": "a pipe's descriptors and semaphores",
        "JoinableQueue": "a pipe's descriptors and semaphores",
        "SimpleQueue": "a pipe's descriptors and a semaphore",
    },
    "multiprocessing.connection": {"Connection": "a pipe's or socket's descriptor"},
    "multiprocessing.sharedctypes": {
        "Synchronized": "shared memory (by descriptor) and a semaphore",
        "SynchronizedArray": "shared memory (by descriptor) and a semaphore",
        "SynchronizedString": "shared memory (by descriptor) and a semaphore",
    },
    "multiprocessing.heap": {
        "BufferWrapper": "shared memory (by descriptor)",
        "Arena": "shared memory (by descriptor)",
    },
}

# The heap's types are parts of another object: name what the user made.
_PART_OF = {"BufferWrapper": "the buffer of a multiprocessing RawValue, RawArray, Value or Array",
            "Arena": "a multiprocessing heap arena (of a RawValue, RawArray, Value or Array)"}


def refusals(module):
    """The reducer table entries refusing ``module``'s objects in a byte stream (one of
    ``_HOLDS``). Each gives the object's own reduction while ``multiprocessing`` (or
    the pool, ``spawning``) is passing objects to a child."""
    mod = sys.modules[module]
    return {getattr(mod, name): _refuse for name in _HOLDS[module] if hasattr(mod, name)}


def _refuse(obj):
    ctx = sys.modules.get("multiprocessing.context")
    if ctx is not None and ctx.get_spawning_popen() is not None:
        return obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    tp = type(obj)
    what = _PART_OF.get(tp.__name__, f"a multiprocessing.{tp.__name__}")
    holds = _HOLDS.get(tp.__module__, {}).get(tp.__name__, "a kernel object")
    raise SharedObjectError(
        f"cannot pickle {what}: it holds {holds}, and a byte stream cannot carry a "
        f"descriptor or a semaphore; pass it as an argument of a brinery.Pool task (or in "
        f"initargs), where it crosses as the same kernel object, or give it to a process "
        f"that inherits it (multiprocessing.Process(args=...))"
    )


_LOCK_KINDS = frozenset({"Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition"})
_LEAVES = frozenset({int, float, complex, str, bytes, bool, type(None)})
_WALK_LIMIT = 10_000  # objects looked at per task, at most


def locks_in(payload, call):
    """``[(path, lock)]``: the ``multiprocessing`` locks, semaphores and conditions in a
    task's ``payload`` (``(args, kwargs)`` for a call, else a chunk), by the path the
    caller would write, through tuples, lists, dicts and instance attributes (not into
    ``multiprocessing``'s own objects, whose locks are theirs)."""
    found = []
    budget = [_WALK_LIMIT]
    seen = set()
    roots = (("args", payload[0]), ("kwargs", payload[1])) if call else (("chunk", payload),)
    for path, x in roots:
        _find_locks(x, path, found, seen, budget)
    return found


def _find_locks(x, path, found, seen, budget):
    t = type(x)
    if t in _LEAVES or id(x) in seen or budget[0] <= 0:
        return
    budget[0] -= 1
    seen.add(id(x))
    module = getattr(t, "__module__", "")
    if module == "multiprocessing.synchronize" and t.__name__ in _LOCK_KINDS:
        found.append((path, x))
    elif module.startswith("multiprocessing"):
        return
    elif t is tuple or t is list:
        for i, y in enumerate(x):
            _find_locks(y, f"{path}[{i}]", found, seen, budget)
    elif t is dict:
        for k, v in x.items():
            _find_locks(v, f"{path}[{k!r}]", found, seen, budget)
    else:
        attrs = getattr(x, "__dict__", None)
        if type(attrs) is dict:
            for k, v in attrs.items():
                _find_locks(v, f"{path}.{k}", found, seen, budget)


def _left_taken(obj):
    """Whether a lock the dead task had is taken now by someone other than this process
    (for a ``Semaphore``, whether it is at zero)."""
    kind = type(obj).__name__
    lock = obj._lock if kind == "Condition" else obj
    sl = lock._semlock
    try:
        if sl._count() > 0:  # (this process holds it)
            return False
        value = sl._get_value()
    except (AttributeError, OSError, NotImplementedError):
        return False
    if kind == "Semaphore":
        return value == 0
    return value < (sl.maxvalue if kind == "BoundedSemaphore" else 1)


def name_held_locks(out, locks):
    """``out`` (a task's outcome), its message extended when its worker died leaving
    some of ``locks`` (from ``locks_in``) taken."""
    if not locks or out[1] or out[2] != "died":
        return out
    taken = [f"{path} (a multiprocessing.{type(obj).__name__})" for path, obj in locks if _left_taken(obj)]
    if not taken:
        return out
    them = "it" if len(taken) == 1 else "them"
    note = (
        f"; it left {', '.join(taken)} taken, and the dead process cannot release {them}: "
        f"a Lock or semaphore, release it from the parent once what it guarded is known to "
        f"be consistent; an RLock (or a Condition on one) only its owner can release, so "
        f"replace it (see 'A lock held by a worker that dies' in the guide)"
    )
    return (out[0], out[1], out[2], f"{out[3]}{note}")


def context():
    """A ``multiprocessing`` context whose ``Queue()``, ``Lock()``, ``Value()``... can be
    passed to pool workers under either start method: its semaphores keep their names
    until they are collected (the resource tracker unlinks any left at exit). It is
    ``multiprocessing``'s ``spawn`` context: its ``Process`` spawns."""
    import multiprocessing

    return multiprocessing.get_context("spawn")
