import concurrent.futures as _cf
import multiprocessing.context
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from ._errors import PoolClosedError as PoolClosedError
from ._errors import PoolError as PoolError
from ._errors import RemoteError as RemoteError
from ._errors import StageError as StageError
from ._pool_errors import BrokenWorkersError as BrokenWorkersError
from ._pool_errors import WaitTimeoutError as WaitTimeoutError
from ._pool_errors import WorkerDiedError as WorkerDiedError
from ._results import AsyncResult as AsyncResult
from ._results import MapResult as MapResult
from ._results import OrderedResults as OrderedResults
from ._results import RemoteTraceback as RemoteTraceback
from ._results import UnorderedResults as UnorderedResults
from ._shared import SharedObjectError as SharedObjectError
from ._shared import context as context
from ._worker_codec import Fd as Fd

_T = TypeVar("_T")
_P = ParamSpec("_P")
_Context = str | multiprocessing.context.BaseContext | None

STAGE_NAMES: list[str]

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

