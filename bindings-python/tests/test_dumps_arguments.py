"""``brinery.dumps`` takes its arguments as ``pickle.dumps`` does, whichever way they are
passed: ``dumps(obj)`` and ``dumps(obj, protocol)`` go through a short path of their
own, every other spelling through the full parser; both write the same bytes and raise
the same errors. Checked against ``pickle.dumps``."""

import inspect
import pickle

import pytest

import brinery

VALUE = {"name": "item", "id": 1, "score": 0.5, "tags": ["a", "b", 1], "ok": True}


class IntSub(int):
    pass


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((VALUE,), {}),
        ((VALUE, None), {}),
        ((VALUE, 0), {}),
        ((VALUE, 2), {}),
        ((VALUE, 5), {}),
        ((VALUE, -1), {}),
        ((VALUE, True), {}),  # (a bool is an int: protocol 1)
        ((VALUE, IntSub(3)), {}),
        ((VALUE,), {"protocol": 4}),
        ((), {"obj": VALUE, "protocol": 3}),
        ((VALUE, 2), {"fix_imports": False}),
    ],
)
def test_every_spelling_writes_pickles_bytes(args, kwargs):
    assert brinery.dumps(*args, **kwargs) == pickle.dumps(*args, **kwargs)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((), {}),
        ((VALUE, 6), {}),
        ((VALUE, 2**70), {}),
        ((VALUE, -(2**70)), {}),
        ((VALUE, "5"), {}),
        ((VALUE, 5.0), {}),
        ((VALUE, 5, True), {}),
        ((VALUE,), {"protocl": 5}),
        ((VALUE, 4), {"buffer_callback": list}),
    ],
)
def test_every_bad_spelling_raises_what_pickle_raises(args, kwargs):
    with pytest.raises(Exception) as ours:
        brinery.dumps(*args, **kwargs)
    with pytest.raises(Exception) as theirs:
        pickle.dumps(*args, **kwargs)
    assert isinstance(ours.value, type(theirs.value)), (ours.value, theirs.value)


def test_an_error_while_pickling_comes_out_of_the_short_path():
    def gen():
        yield 1

    with pytest.raises(pickle.PicklingError):
        brinery.dumps([gen()])
    with pytest.raises(pickle.PicklingError):
        brinery.dumps([gen()], 5)


def test_it_looks_like_a_builtin_with_its_signature_and_docs():
    assert brinery.dumps.__name__ == "dumps"
    assert brinery.dumps.__module__ == "brinery._brinery"
    assert str(inspect.signature(brinery.dumps)) == (
        "(obj, protocol=None, *, fix_imports=True, buffer_callback=None, by_value=(), "
        "cross_version=False)"
    )
    assert brinery.dumps.__doc__.startswith("Return the pickle of ``obj`` as bytes.")
