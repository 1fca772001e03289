"""Deeply nested objects: every depth up to ``sys.getrecursionlimit()`` dumps, on the
main thread and on threads with small stacks, on every supported CPython (3.12 stopped
counting C levels against that limit, and its fixed C limit would refuse or crash
first); past the limit the error is both ``RecursionError`` and ``PicklingError``. The
streams load with stock ``pickle.loads``, which does not recurse."""

import pickle
import sys
import threading

import pytest

import brinery
from helpers import run_python

DEPTH = 10_000


class Node:
    def __init__(self, nxt):
        self.next = nxt


def nested_lists(n):
    x = []
    for _ in range(n):
        x = [x]
    return x


def nested_dicts(n):
    x = {}
    for _ in range(n):
        x = {"k": x}
    return x


def nested_tuples(n):
    x = ()
    for _ in range(n):
        x = (x,)
    return x


def linked_nodes(n):
    x = None
    for _ in range(n):
        x = Node(x)
    return x


def chained_closures(n):
    def base():
        return 0

    f = base
    for _ in range(n):
        f = (lambda g: (lambda: g() + 1))(f)
    return f


def depth_of(obj):
    """How deep ``obj`` nests, walked without recursion."""
    d = 0
    while True:
        if isinstance(obj, (list, tuple)) and obj:
            obj = obj[0]
        elif isinstance(obj, dict) and obj:
            obj = obj["k"]
        elif isinstance(obj, Node):
            obj = obj.next
        else:
            return d
        d += 1


KINDS = {
    "lists": nested_lists,
    "dicts": nested_dicts,
    "tuples": nested_tuples,
    "instances": linked_nodes,
}


@pytest.fixture
def high_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(DEPTH * 5)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def in_thread(fn, stack_size):
    """Runs ``fn`` on a new thread with ``stack_size`` bytes of stack; returns its
    result or raises its exception."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # handed back to the test
            out["error"] = e

    old = threading.stack_size(stack_size)
    try:
        t = threading.Thread(target=run)
        t.start()
    finally:
        threading.stack_size(old)
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_deep_data_dumps_on_the_main_thread(kind, high_limit):
    obj = KINDS[kind](DEPTH)
    back = pickle.loads(brinery.dumps(obj))
    assert depth_of(back) == DEPTH


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_deep_data_dumps_on_a_small_stack_thread(kind, high_limit):
    obj = KINDS[kind](DEPTH)
    data = in_thread(lambda: brinery.dumps(obj), 256 * 1024)
    assert depth_of(pickle.loads(data)) == DEPTH


def test_deep_closures_dump_on_both(high_limit):
    f = chained_closures(DEPTH // 2)
    for data in (brinery.dumps(f), in_thread(lambda: brinery.dumps(f), 256 * 1024)):
        assert pickle.loads(data)() == DEPTH // 2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_past_the_limit_is_a_recursion_and_pickling_error(kind):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        obj = KINDS[kind](400)
        with pytest.raises(RecursionError) as info:
            brinery.dumps(obj)
    finally:
        sys.setrecursionlimit(old)
    err = info.value
    assert isinstance(err, brinery.PicklingRecursionError)
    assert isinstance(err, pickle.PicklingError) and isinstance(err, brinery.PicklingError)
    assert "sys.getrecursionlimit() (300)" in str(err)
    # The same object dumps once the limit allows it.
    assert depth_of(pickle.loads(brinery.dumps(obj))) == 400


def test_a_million_linked_nodes_and_100k_nested_lists_subprocess():
    # In a child: the walk of a million nodes holds a few hundred MB of stack segments.
    out = run_python(
        """
        import pickle, sys
        import brinery
        class Node:
            __slots__ = ("next",)
            def __init__(self, nxt):
                self.next = nxt
        head = None
        for _ in range(1_000_000):
            head = Node(head)
        nested = []
        for _ in range(100_000):
            nested = [nested]
        sys.setrecursionlimit(3_000_000)
        for obj in (head, nested):
            back = pickle.loads(brinery.dumps(obj))
            n = 0
            while back:
                back = back.next if isinstance(back, Node) else back[0]
                n += 1
            print(n)
        """
    )
    assert out.split() == [b"1000000", b"100000"]
