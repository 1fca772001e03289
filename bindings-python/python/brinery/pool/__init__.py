"""``brinery.Pool``: a process pool that is a ``concurrent.futures.Executor`` and speaks
``multiprocessing.Pool``'s calls too.

Workers are forked (``start_method="fork"``, running Python's fork hooks as ``os.fork()``
does, at a moment no other thread is inside brinery's native code) or spawned as fresh
interpreters (``"spawn"``) by the Rust crate ``brinery-pool``, which supervises them: a worker that dies fails only the task it was
running, with an error naming the exit code or signal and the stage the task was in, and
is replaced. The first worker starts at once, the others when a task finds no idle
worker or shortly after (``Config::ramp_up``). A task ``submit`` sends to an idle worker
goes there straight from the calling thread, whose wait for the result reads the
reply itself (``AsyncResult``). Tasks travel as brinery pickles: functions and classes that plain pickle can
only name (``__main__``, lambdas, closures) go by value, once per worker; their globals
live in the worker for its whole life (what the initializer sets with ``global`` is seen
by later tasks). OS resources travel as file descriptors; large buffers through shared
memory.

``map`` follows ``Executor.map``: every task runs whether or not its iterator of results
(in order) is used, though only a window of them is in flight at a time
(``list(pool.map(f, xs))`` is ``multiprocessing.Pool.map``, and ``map_async(f,
xs).get()`` too). ``imap``/``imap_unordered`` submit lazily; ``starmap``
returns a list; ``apply_async`` and ``submit`` return an ``AsyncResult``, a
``concurrent.futures.Future`` that also has ``get``/``wait``/``ready``/``successful``
(``_results``). Work given after ``close()``/``shutdown()`` raises ``PoolClosedError``,
both the ``RuntimeError`` of ``Executor`` and the ``ValueError`` of
``multiprocessing.Pool``. Pools still open when the interpreter exits finish their
submitted tasks first, as executors do.

Raw descriptors (``os.pipe()`` ends are ints) must be wrapped as ``brinery.pool.Fd(fd)``
to be passed; sockets, open files and ``multiprocessing.connection.Connection`` objects
are recognised as they are. The worker gets its own duplicate, wrapped the same way.
``multiprocessing``'s queues, locks, semaphores, events, conditions, barriers, shared
values and arrays and shared memory pass as they are, as the same kernel objects
(``_shared``); ``context()`` makes ones that can always be passed.

The package's modules: ``_pool`` (the ``Pool`` class and its public calls), ``_tasks``
(encoding tasks and decoding results in the parent), ``_driver`` (the event loop's
thread and starting workers), ``_results`` and ``_feed`` (futures, ``map`` batches,
``imap`` iterators and the window that feeds them), ``_progress`` (the progress bar),
``_codec`` (the message format shared by both sides), ``_shared`` (``multiprocessing``'s
shared objects), ``_worker`` (the worker process) and ``_exceptions``.

Every public name is loaded on first use: a spawned worker imports
``brinery.pool._worker``, and with it this file, and must not pay for the parent's half
(``concurrent.futures``, ``threading``...). Public classes report ``brinery.pool`` as
their module, the one path that every brinery version has, so pickled streams naming
them (an exception, an ``Fd``) load with older and newer brinery alike.
"""

# Public name -> the private module defining it.
_PUBLIC = {
    "AsyncResult": "_results",
    "BrokenWorkersError": "_exceptions",
    "Fd": "_codec",
    "MapResult": "_results",
    "OrderedResults": "_results",
    "Pool": "_pool",
    "PoolClosedError": "brinery._errors",
    "PoolError": "brinery._errors",
    "RemoteError": "brinery._errors",
    "RemoteTraceback": "_results",
    "STAGE_NAMES": "_driver",
    "SharedObjectError": "brinery._errors",
    "StageError": "brinery._errors",
    "UnorderedResults": "_results",
    "WaitTimeoutError": "_exceptions",
    "WorkerDiedError": "_exceptions",
    "context": "_shared",
}

__all__ = [
    "AsyncResult",
    "BrokenWorkersError",
    "Fd",
    "context",
    "MapResult",
    "Pool",
    "PoolClosedError",
    "PoolError",
    "RemoteError",
    "RemoteTraceback",
    "SharedObjectError",
    "StageError",
    "WaitTimeoutError",
    "WorkerDiedError",
]


def __getattr__(name):
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'brinery.pool' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module if "." in module else f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
