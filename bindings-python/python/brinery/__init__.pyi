import pickle
from collections.abc import Callable, Iterable
from types import ModuleType
from os import PathLike
from typing import IO, Any

from ._errors import PicklingError as PicklingError
from ._errors import PicklingRecursionError as PicklingRecursionError
from ._errors import SessionWarning as SessionWarning
from .pool import Pool as Pool
from .safe import UnpicklingError as UnpicklingError
from .safe import UnsafePickleError as UnsafePickleError
from .safe import safe_load as safe_load
from .safe import safe_loads as safe_loads
from .safe import scan as scan

HIGHEST_PROTOCOL: int
DEFAULT_PROTOCOL: int

loads = pickle.loads
load = pickle.load

def dumps(
    obj: Any,
    protocol: int | None = ...,
    *,
    fix_imports: bool = ...,
    buffer_callback: Callable[[pickle.PickleBuffer], Any] | None = ...,
    by_value: Iterable[ModuleType | str] = ...,
    cross_version: bool = ...,
) -> bytes: ...
def dump(
    obj: Any,
    file: IO[bytes],
    protocol: int | None = ...,
    *,
    fix_imports: bool = ...,
    buffer_callback: Callable[[pickle.PickleBuffer], Any] | None = ...,
    by_value: Iterable[ModuleType | str] = ...,
    cross_version: bool = ...,
) -> None: ...

class Pickler:
    fast: bool
    def __init__(
        self,
        file: IO[bytes] | None = ...,
        protocol: int | None = ...,
        *,
        fix_imports: bool = ...,
        buffer_callback: Callable[[pickle.PickleBuffer], Any] | None = ...,
        by_value: Iterable[ModuleType | str] = ...,
        namespaces: bool = ...,
        cross_version: bool = ...,
    ) -> None: ...
    @property
    def protocol(self) -> int: ...
    def dump(self, obj: Any) -> None: ...
    def dumps(self, obj: Any) -> bytes: ...
    def clear_memo(self) -> None: ...
    @property
    def memo(self) -> PicklerMemoProxy: ...
    @memo.setter
    def memo(self, value: PicklerMemoProxy | dict[int, tuple[int, Any]]) -> None: ...

class PicklerMemoProxy:
    def clear(self) -> None: ...
    def copy(self) -> dict[int, tuple[int, Any]]: ...

def register_pickle_by_value(module: ModuleType) -> None: ...
def unregister_pickle_by_value(module: ModuleType) -> None: ...
def list_registry_pickle_by_value() -> set[str]: ...

def dump_session(
    file: str | PathLike[str] | IO[bytes] | None = ...,
    module: str | ModuleType = ...,
    *,
    exclude: Iterable[str] = ...,
    protocol: int | None = ...,
) -> bytes | None: ...
def load_session(
    file: str | PathLike[str] | IO[bytes] | bytes,
    module: str | ModuleType = ...,
) -> dict[str, str]: ...
