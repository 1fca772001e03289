"""``Pickler.fast``, pickle's memo-less mode: data gives ``pickle``'s bytes exactly, a
cycle through lists and dicts is CPython's ``ValueError``, and by-value definitions keep
their memo (shared globals, recursive closures) so fast streams still load without
brinery."""

import io
import pickle

import pytest

import brinery
from helpers import NO_BRINERY, run_python

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def fast_dump(pickler_class, obj, proto):
    f = io.BytesIO()
    p = pickler_class(f, proto)
    p.fast = True
    p.dump(obj)
    return f.getvalue()


class Point:
    def __init__(self, x):
        self.x = x
        self.tags = ["t"]


def shared_data():
    s = "shared text"
    inner = [1, 2.5, s]
    return [
        {"a": inner, "b": (inner, s), "c": {"k": s}, "d": inner},
        frozenset({1, 2}),
        {3, 4},
        b"bytes",
        bytearray(b"ba"),
        2**100,
        pickle.PickleError,
        Point(1),
        Point(2),
        (),
        "x" * 70_000,
    ]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_fast_bytes_equal_pickle(proto):
    data = shared_data()
    ours = fast_dump(brinery.Pickler, data, proto)
    assert ours == fast_dump(pickle.Pickler, data, proto)
    import pickletools
    ops = {op.name for op, _, _ in pickletools.genops(ours)}
    assert not ops & {"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET"}
    assert pickle.loads(ours)[0]["a"] == [1, 2.5, "shared text"]


def test_fast_shared_objects_are_copies():
    inner = [1]
    back = pickle.loads(fast_dump(brinery.Pickler, [inner, inner], 5))
    assert back == [[1], [1]] and back[0] is not back[1]


def test_fast_off_by_default_and_switchable():
    f = io.BytesIO()
    p = brinery.Pickler(f, 5)
    assert p.fast is False
    inner = [1]
    p.dump([inner, inner])
    back = pickle.loads(f.getvalue())
    assert back[0] is back[1]


@pytest.mark.parametrize("make_cycle", ["list", "dict", "instance", "deep"])
def test_fast_cycle_is_value_error_like_pickle(make_cycle):
    if make_cycle == "list":
        obj = [1]
        obj.append(obj)
    elif make_cycle == "dict":
        obj = {}
        obj["me"] = [obj]
    elif make_cycle == "instance":
        obj = Point(1)
        obj.tags.append(obj)
    else:
        obj = cur = []
        for _ in range(120):
            nxt = []
            cur.append(nxt)
            cur = nxt
        cur.append(obj)
    for cls in (pickle.Pickler, brinery.Pickler):
        with pytest.raises(ValueError, match="fast mode: can't pickle cyclic objects"):
            fast_dump(cls, obj, 5)


def test_fast_deep_acyclic_nesting_is_fine():
    obj = cur = []
    for _ in range(300):
        nxt = [{}]
        cur.append(nxt)
        cur = nxt
    assert fast_dump(brinery.Pickler, obj, 5) == fast_dump(pickle.Pickler, obj, 5)


def test_fast_subclass_attribute_and_by_value_main_subprocess():
    # A __main__ script: recursive closures, a shared module namespace and a class stored
    # by value, dumped in fast mode and loaded where brinery cannot be imported.
    script = """
        import io, sys, brinery
        counter = 0
        def init():
            global counter
            counter = 41
        def bump():
            return counter + 1
        def make():
            def even(n):
                return n == 0 or odd(n - 1)
            def odd(n):
                return n != 0 and even(n - 1)
            return even
        class Local:
            def __init__(self):
                self.items = [1, 2]
            def total(self):
                return sum(self.items)
        class FastPickler(brinery.Pickler):
            def __init__(self, *args):
                super().__init__(*args)
                self.fast = True
        f = io.BytesIO()
        FastPickler(f, 5).dump((init, bump, make(), Local(), Local()))
        sys.stdout.buffer.write(f.getvalue())
    """
    data = run_python(script)
    out = run_python(
        NO_BRINERY
        + "import pickle\n"
        + "init, bump, even, a, b = pickle.loads(sys.stdin.buffer.read())\n"
        + "init()\n"
        + "assert init.__globals__ is bump.__globals__\n"
        + "assert bump() == 42 and even(10) and not even(7)\n"
        + "assert type(a) is type(b) and a.total() == 3 and a.items is not b.items\n"
        + "print('ok')\n",
        stdin=data,
    )
    assert out.decode().strip() == "ok"


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_fast_with_persistent_id_equals_pickle(proto):
    def make(base):
        class P(base):
            def persistent_id(self, obj):
                return f"ext-{obj}" if isinstance(obj, str) and obj.startswith("ext") else None

        return P

    s = "shared"
    data = [s, s, "ext1", {"k": [s, "ext2"]}, (1, s)]
    outs = []
    for base in (pickle.Pickler, brinery.Pickler):
        f = io.BytesIO()
        p = make(base)(f, proto)
        p.fast = True
        p.dump(data)
        outs.append(f.getvalue())
    assert outs[0] == outs[1]


def test_fast_class_attribute_does_not_switch_it_on_like_pickle():
    # pickle.Pickler's `fast` is an instance slot: a subclass's class attribute shadows
    # the descriptor and leaves the pickler memoizing. brinery gives the same bytes.
    inner = [1]
    outs = []
    for base in (pickle.Pickler, brinery.Pickler):
        class P(base):
            fast = True
        f = io.BytesIO()
        P(f, 5).dump([inner, inner])
        outs.append(f.getvalue())
    assert outs[0] == outs[1]
    back = pickle.loads(outs[1])
    assert back[0] is back[1]
