"""Typed use of every public name of brinery, checked by ``mypy --strict`` (the
``types`` step of ``cargo xtask test``), as ``bindings-node/test/typescript.test.js`` checks
``index.d.ts`` with ``tsc --strict``. Never run; a stub that drifts from the API, or a
public name without one, fails the check. ``assert_type`` pins what users get back.
"""

import io
import pickle
from typing import Any, assert_type

import brinery
import brinery.dask
import brinery.joblib
import brinery.pool
import brinery.safe
from brinery import _brinery
from brinery import (
    DEFAULT_PROTOCOL,
    HIGHEST_PROTOCOL,
    Pickler,
    PicklingError,
    PicklingRecursionError,
    Pool,
    SessionWarning,
    UnpicklingError,
    UnsafePickleError,
)
from brinery.pool import (
    AsyncResult,
    BrokenWorkersError,
    Fd,
    MapResult,
    PoolClosedError,
    PoolError,
    RemoteError,
    RemoteTraceback,
    SharedObjectError,
    StageError,
    WaitTimeoutError,
    WorkerDiedError,
    context,
)
from brinery.safe import DEFAULT_ALLOW, Finding, Scan, default_max_alloc


def square(x: int) -> int:
    return x * x


def add(x: int, y: int) -> int:
    return x + y


def native() -> None:
    assert_type(_brinery.HIGHEST_PROTOCOL, int)
    assert_type(_brinery.default_allowlist(), list[str])
    assert_type(_brinery.default_limits(0), tuple[int, int, int])


def pickling() -> None:
    assert_type(HIGHEST_PROTOCOL + DEFAULT_PROTOCOL, int)
    data = brinery.dumps(square, protocol=5, by_value=["__main__"], cross_version=False)
    assert_type(data, bytes)
    buffers: list[pickle.PickleBuffer] = []
    brinery.dump([1], io.BytesIO(), buffer_callback=buffers.append)
    p = Pickler(io.BytesIO(), 5, namespaces=True)
    p.dump(1)
    assert_type(p.dumps(1), bytes)
    assert_type(p.protocol, int)
    p.clear_memo()
    assert_type(p.memo.copy(), dict[int, tuple[int, Any]])
    obj: object = brinery.loads(data)
    obj = brinery.load(io.BytesIO(data))
    brinery.register_pickle_by_value(pickle)
    brinery.unregister_pickle_by_value(pickle)
    assert_type(brinery.list_registry_pickle_by_value(), set[str])
    session = brinery.dump_session(None, "__main__", exclude=["_*"])
    assert_type(session, bytes | None)
    assert_type(brinery.load_session(b"", "__main__"), dict[str, str])
    errors: tuple[type[Exception], ...] = (PicklingError, PicklingRecursionError)
    warning: type[Warning] = SessionWarning
    print(obj, errors, warning)


def safe() -> None:
    value: Any = brinery.safe_loads(b"", allow=["collections.OrderedDict", dict], max_depth=10)
    value = brinery.safe_load(io.BytesIO(), encoding="bytes")
    value = brinery.safe.safe_loads(bytearray(), buffers=[b""], max_memo=1, max_alloc=1 << 20)
    assert_type(DEFAULT_ALLOW, frozenset[str])
    assert_type(default_max_alloc(10), int)
    assert_type(brinery.safe.DEFAULT_MAX_DEPTH, int)
    report = brinery.scan(memoryview(b""))
    assert_type(report, Scan)
    assert_type(report.dangerous, bool)
    first: Finding = report.flagged("dangerous")[0]
    assert_type(first.offset, int)
    assert_type(report.error, tuple[str, int] | None)
    assert_type(report.limit, tuple[str, int] | None)
    assert_type(brinery.safe.dis(b""), str)
    try:
        print(value)
    except UnsafePickleError as e:
        assert_type(e.global_name, str | None)
    except UnpicklingError as e:
        assert_type(e.offset, int | None)
        assert_type(e.code, str | None)


def pools() -> None:
    with Pool(2, start_method="spawn", task_timeout=1.5, python=None) as pool:
        fut = pool.submit(add, 1, 2)
        assert_type(fut, AsyncResult[int])
        assert_type(fut.get(timeout=1), int)
        assert_type(fut.result(), int)
        assert_type(list(pool.map(square, [1, 2], chunksize=2)), list[int])
        assert_type(pool.apply(add, (1, 2)), int)
        many = pool.map_async(square, range(3), callback=print, error_callback=print)
        assert_type(many, MapResult[int])
        assert_type(many.get(), list[int])
        assert_type(pool.starmap(add, [(1, 2)]), list[int])
        assert_type(pool.starmap_async(add, [(1, 2)]).get(), list[int])
        for n in pool.imap(square, [1], progress=True):
            assert_type(n, int)
        assert_type(pool.imap_unordered(square, [1]).next(timeout=1.0), int)
        assert_type(pool.worker_pids(), list[int])
    pool.close()
    pool.join()
    pool.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    with Fd(0) as fd:
        assert_type(fd.fileno(), int)
    ctx = context()
    Pool(1, context=ctx).shutdown()
    brinery.pool.Pool(max_workers=1, mp_context="fork").shutdown()
    caught: tuple[type[BaseException], ...] = (
        BrokenWorkersError,
        PoolClosedError,
        PoolError,
        RemoteError,
        RemoteTraceback,
        SharedObjectError,
        StageError,
        WaitTimeoutError,
        WorkerDiedError,
    )
    print(caught)


def integrations() -> None:
    brinery.dask.register()
    header, frames = brinery.dask.dumps([1])
    assert_type(brinery.dask.FAMILY, str)
    assert_type(brinery.dask.CROSS_VERSION_FAMILY, str)
    header, frames = brinery.dask.dumps(lambda x: x, cross_version=True)
    print(brinery.dask.loads(header, frames))
    brinery.joblib.register()
    brinery.joblib.shutdown(wait=True)
    backend = brinery.joblib.BrineryBackend(start_method="fork")
    assert_type(backend.start_method, str)
