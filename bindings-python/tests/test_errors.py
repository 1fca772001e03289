"""Errors name the path inside the dumped object and keep the cause."""

import pickle
import sys

import pytest

import brinery


def test_generator_in_closure_names_the_path():
    def gen():
        yield 1

    g = gen()

    def callback():
        return g

    class Job:
        pass

    job = Job()
    job.callback = callback
    with pytest.raises(brinery.PicklingError) as info:
        brinery.dumps({"jobs": [0, 1, job]})
    msg = str(info.value)
    assert msg == "obj['jobs'][2].callback.__closure__[0]: cannot pickle 'generator' object"
    assert isinstance(info.value.__cause__, TypeError)
    assert isinstance(info.value, pickle.PicklingError)


def test_deep_list_raises_recursion_error_like_pickle():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        pickle.dumps(deep)
    with pytest.raises(RecursionError):
        brinery.dumps(deep)


def test_recursion_limit_is_honoured():
    nested = []
    for _ in range(300):
        nested = [nested]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        with pytest.raises(RecursionError):
            brinery.dumps(nested)
    finally:
        sys.setrecursionlimit(old)
    assert brinery.dumps(nested) == pickle.dumps(nested)


def test_thread_local_is_not_picklable():
    import threading

    with pytest.raises(brinery.PicklingError, match=r"obj\[1\]: cannot pickle '_thread._local' object"):
        brinery.dumps([1, threading.local()])


def test_error_path_is_each_dumps_own():
    # The walker's stack of path segments is reused from one dump to the next on a
    # thread: a failed deep dump must leave nothing behind for the next one's path.
    bad = threading_local()
    with pytest.raises(brinery.PicklingError, match=r"^obj\['a'\]\[0\]\['b'\]\[1\]: "):
        brinery.dumps({"a": [{"b": [0, bad]}]})
    assert brinery.dumps({"a": [1]}) == pickle.dumps({"a": [1]})
    with pytest.raises(brinery.PicklingError, match=r"^obj\[1\]: "):
        brinery.dumps([0, bad])
    with pytest.raises(brinery.PicklingError, match=r"^obj: "):
        brinery.dumps(bad)


def threading_local():
    import threading

    return threading.local()
