"""Reductions for synchronisation objects (``threading``'s locks, conditions,
semaphores, events, barriers and threads, ``queue``'s queues), which stock ``pickle``
refuses (``cannot pickle '_thread.lock' object``), so that caches, clients and handlers
holding one can be stored.

Each is stored as a fresh object of the same kind, never as something held by a
thread: the threads of the dumping process do not exist where the stream loads.

- ``Lock``, ``RLock`` and ``Condition`` load released, with no waiters (a held lock's
  owner is a thread that is not there; a lock shared by several objects, such as a
  ``queue.Queue``'s mutex and its three conditions, stays shared);
- what is data and not ownership is kept: a ``Semaphore``'s count, an ``Event``'s flag,
  a queue's items and its unfinished-task count (``Semaphore``, ``BoundedSemaphore``,
  ``Event`` and ``queue.Queue`` need nothing here: stored as their attributes, their
  conditions and locks go through the reductions below);
- a ``Barrier`` loads with the same parties, action and timeout, and no thread waiting;
- a ``Thread`` loads as a thread that has not been started, with the same target,
  arguments, name and daemon flag (a thread that has finished has dropped its target
  and loads without one): a thread is an activity of the process that ran it.

Reductions name only standard-library callables.
"""

import _thread
import collections
import functools
import gc
import operator
import pickle
import threading

from ._reducers import Call

__all__ = ["queue_table", "table"]


def _lock(lock):
    return _thread.allocate_lock, ()


def _rlock(lock):
    return type(lock), ()


def _condition(cond):
    return threading.Condition, (cond._lock,)


def _barrier(barrier):
    return threading.Barrier, (barrier.parties, barrier._action, barrier._timeout)


def _thread_object(t):
    make = functools.partial(
        threading.Thread,
        target=getattr(t, "_target", None),
        name=t.name,
        args=getattr(t, "_args", ()),
        kwargs=getattr(t, "_kwargs", None) or None,
        daemon=t.daemon,
    )
    return make, ()


def table():
    """The reductions of ``threading``'s types, keyed by type."""
    return {
        type(_thread.allocate_lock()): _lock,
        _thread.RLock: _rlock,
        threading._PyRLock: _rlock,
        threading.Condition: _condition,
        threading.Barrier: _barrier,
        threading.Thread: _thread_object,
    }


def _simple_queue_items(q):
    """The items of a ``queue.SimpleQueue``, oldest first, read without taking them out
    (through the garbage collector, the only way to them): 3.11 and 3.12 keep them at
    the end of one list, 3.13 in a ring buffer it visits in order."""
    refs = [r for r in gc.get_referents(q) if r is not type(q)]
    size = q.qsize()
    if len(refs) == 1 and type(refs[0]) is list and len(refs[0]) >= size:
        items = refs[0][len(refs[0]) - size :]
    else:
        items = refs
    if len(items) != size:
        raise pickle.PicklingError("cannot read the items of a queue.SimpleQueue")
    return items


def _simple_queue(q):
    # `SimpleQueue()`, then `collections.deque(map(q.put, items), 0)` to fill it, then
    # the queue itself: `operator.getitem((queue, filled), 0)`.
    made = Call(type(q))
    fill = Call(collections.deque, Call(map, Call(getattr, made, "put"), _simple_queue_items(q)), 0)
    return operator.getitem, ((made, fill), 0)


def queue_table():
    """The reductions of ``queue``'s types (added once ``queue`` is imported)."""
    import queue

    return {queue.SimpleQueue: _simple_queue}
