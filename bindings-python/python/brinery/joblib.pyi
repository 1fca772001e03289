from joblib._parallel_backends import AutoBatchingMixin, ParallelBackendBase

NAME: str

class BrineryBackend(AutoBatchingMixin, ParallelBackendBase):
    start_method: str
    def __init__(
        self,
        nesting_level: int | None = ...,
        inner_max_num_threads: int | None = ...,
        start_method: str = ...,
        **backend_kwargs: object,
    ) -> None: ...

def register() -> None: ...
def shutdown(wait: bool = ...) -> None: ...
