import concurrent.futures as _cf
import multiprocessing.context
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from .._errors import PoolClosedError as PoolClosedError
from .._errors import PoolError as PoolError
from .._errors import RemoteError as RemoteError
from .._errors import SharedObjectError as SharedObjectError
from .._errors import StageError as StageError
from ._exceptions import BrokenWorkersError as BrokenWorkersError
from ._exceptions import WaitTimeoutError as WaitTimeoutError
from ._exceptions import WorkerDiedError as WorkerDiedError

_T = TypeVar("_T")
_P = ParamSpec("_P")
_Context = str | multiprocessing.context.BaseContext | None

STAGE_NAMES: list[str]

# Defined in private modules (`_results`, `_shared`, `_worker_codec`); stubbed here, where
# they are public.
class RemoteTraceback(Exception):
    tb: str
    def __init__(self, tb: str) -> None: ...

class AsyncResult(_cf.Future[_T]):
    def get(self, timeout: float | None = ...) -> _T: ...
    def wait(self, timeout: float | None = ...) -> None: ...
    def ready(self) -> bool: ...
    def successful(self) -> bool: ...

class MapResult(AsyncResult[list[_T]]): ...

class OrderedResults(Iterator[_T]):
    def __iter__(self) -> OrderedResults[_T]: ...
    def __next__(self) -> _T: ...
    def next(self, timeout: float | None = ...) -> _T: ...
    def close(self) -> None: ...

class UnorderedResults(Iterator[_T]):
    def __iter__(self) -> UnorderedResults[_T]: ...
    def __next__(self) -> _T: ...
    def next(self, timeout: float | None = ...) -> _T: ...
    def close(self) -> None: ...



def context() -> multiprocessing.context.SpawnContext: ...

class Fd:
    fd: int
    def __init__(self, fd: int) -> None: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...
    def detach(self) -> int: ...
    def __enter__(self) -> Fd: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

class Pool(_cf.Executor):
    def __init__(
        self,
        processes: int | None = ...,
        initializer: Callable[..., object] | None = ...,
        initargs: Iterable[Any] = ...,
        maxtasksperchild: int | None = ...,
        *,
        start_method: str | None = ...,
        max_tasks_per_child: int | None = ...,
        task_timeout: float | None = ...,
        max_workers: int | None = ...,
        mp_context: _Context = ...,
        context: _Context = ...,
        python: str | os.PathLike[str] | None = ...,
    ) -> None: ...
    def submit(
        self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> AsyncResult[_T]: ...
    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: float | None = ...,
        chunksize: int | None = ...,
        progress: bool = ...,
    ) -> OrderedResults[_T]: ...
    def shutdown(self, wait: bool = ..., *, cancel_futures: bool = ...) -> None: ...
    def apply_async(
        self,
        fn: Callable[..., _T],
        args: Iterable[Any] = ...,
        kwds: Mapping[str, Any] | None = ...,
        callback: Callable[[_T], object] | None = ...,
        error_callback: Callable[[BaseException], object] | None = ...,
    ) -> AsyncResult[_T]: ...
    def apply(
        self, fn: Callable[..., _T], args: Iterable[Any] = ..., kwds: Mapping[str, Any] | None = ...
    ) -> _T: ...
    def map_async(
        self,
        fn: Callable[[Any], _T],
        iterable: Iterable[Any],
        chunksize: int | None = ...,
        callback: Callable[[list[_T]], object] | None = ...,
        error_callback: Callable[[BaseException], object] | None = ...,
    ) -> MapResult[_T]: ...
    def starmap(
        self, fn: Callable[..., _T], iterable: Iterable[Iterable[Any]], chunksize: int | None = ...
    ) -> list[_T]: ...
    def starmap_async(
        self,
        fn: Callable[..., _T],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = ...,
        callback: Callable[[list[_T]], object] | None = ...,
        error_callback: Callable[[BaseException], object] | None = ...,
    ) -> MapResult[_T]: ...
    def imap(
        self, fn: Callable[[Any], _T], iterable: Iterable[Any], chunksize: int = ..., *, progress: bool = ...
    ) -> OrderedResults[_T]: ...
    def imap_unordered(
        self, fn: Callable[[Any], _T], iterable: Iterable[Any], chunksize: int = ...
    ) -> UnorderedResults[_T]: ...
    def close(self) -> None: ...
    def join(self) -> None: ...
    def terminate(self) -> None: ...
    def worker_pids(self) -> list[int]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

