from collections.abc import Callable, Iterable
from typing import IO, Any, NamedTuple

from ._errors import UnpicklingError as UnpicklingError
from ._errors import UnsafePickleError as UnsafePickleError

_Data = bytes | bytearray | memoryview
_Allow = str | type | Callable[..., Any] | Iterable[str | type | Callable[..., Any]]

DEFAULT_ALLOW: frozenset[str]
DEFAULT_MAX_DEPTH: int
SEVERITIES: tuple[str, ...]

def default_max_alloc(size: int) -> int: ...
def safe_loads(
    data: _Data,
    *,
    allow: _Allow | None = ...,
    buffers: Iterable[Any] | None = ...,
    encoding: str = ...,
    max_depth: int | None = ...,
    max_memo: int | None = ...,
    max_alloc: int | None = ...,
) -> Any: ...
def safe_load(
    file: IO[bytes],
    *,
    allow: _Allow | None = ...,
    buffers: Iterable[Any] | None = ...,
    encoding: str = ...,
    max_depth: int | None = ...,
    max_memo: int | None = ...,
    max_alloc: int | None = ...,
) -> Any: ...

class Finding(NamedTuple):
    offset: int
    opcode: str
    target: str
    severity: str
    reason: str

class Scan:
    imports: list[Finding]
    calls: list[Finding]
    severity: str
    protocol: int | None
    end: int | None
    error: tuple[str, int] | None
    limit: tuple[str, int] | None
    def __init__(self, raw: dict[str, Any]) -> None: ...
    def flagged(self, level: str = ...) -> list[Finding]: ...
    @property
    def dangerous(self) -> bool: ...

def scan(data: _Data) -> Scan: ...
def dis(data: _Data) -> str: ...
