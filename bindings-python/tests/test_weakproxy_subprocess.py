"""``weakref.proxy`` objects: a proxy whose referent the stream also holds strongly
loads as a live proxy of the loaded referent (in either order), a live proxy whose
referent the stream does not otherwise hold loads as its referent (as with ``pickle``),
and a dead proxy is refused naming its path. Streams load with stock pickle in a child
process where brinery is blocked."""

import io
import pickle
import pickletools
import weakref

import pytest

import brinery
from helpers import load_without_brinery

# Defined in the child too (by reference); the child's `__main__` is its `-c` code.
CHILD_PRELUDE = """
import weakref
"""


class Thing:
    def __init__(self, name):
        self.name = name

    def hello(self):
        return "hello " + self.name


class Callable_:
    def __call__(self, x):
        return x * 2


class Tagged(list):
    pass


def shout(x):
    return x.upper()


class Node:
    def __init__(self, name, parent=None):
        self.name = name
        self.parent = weakref.proxy(parent) if parent is not None else None
        self.children = []
        if parent is not None:
            parent.children.append(self)


CHECK_PROXY = """
import weakref
def is_proxy_of(p, target):
    assert type(p) in (weakref.ProxyType, weakref.CallableProxyType), type(p)
    assert weakref.getweakrefcount(target) >= 1
    # The proxy is alive and sees the very object: its referent is `target`.
    assert weakref.proxy(target) is p, (p, target)
"""


def child(data, check):
    out = load_without_brinery(data, CHILD_PRELUDE + CHECK_PROXY + check + "\nprint('ok')\n")
    assert out.strip().endswith("ok"), out


@pytest.mark.parametrize("protocol", [1, 2, 3, 4, 5])
def test_referent_written_before_the_proxy_loads_a_proxy(protocol):
    x = Thing("x")
    data = brinery.dumps([x, weakref.proxy(x)], protocol=protocol, by_value=["test_weakproxy_subprocess"])
    child(data, """
x, p = obj
is_proxy_of(p, x)
assert p.hello() == "hello x" and type(x).__name__ == "Thing"
""")


@pytest.mark.parametrize("protocol", [1, 2, 3, 4, 5])
def test_referent_written_after_the_proxy_loads_a_proxy(protocol):
    x = Thing("x")
    data = brinery.dumps([weakref.proxy(x), x], protocol=protocol, by_value=["test_weakproxy_subprocess"])
    child(data, """
p, x = obj
is_proxy_of(p, x)
assert p.name == "x"
""")


def test_proxies_in_a_dict_and_repeated_proxies():
    x = Thing("x")
    p = weakref.proxy(x)
    data = brinery.dumps({"p": p, "q": p, "obj": x}, by_value=["test_weakproxy_subprocess"])
    child(data, """
is_proxy_of(obj["p"], obj["obj"])
assert obj["p"] is obj["q"]
""")


def test_a_proxy_of_a_list_subclass():
    t = Tagged([1, 2, 3])
    data = brinery.dumps([weakref.proxy(t), t], by_value=["test_weakproxy_subprocess"])
    child(data, """
p, t = obj
is_proxy_of(p, t)
assert len(p) == 3 and list(t) == [1, 2, 3] and type(t).__name__ == "Tagged"
""")


def test_a_proxy_of_a_callable_instance_is_a_callable_proxy():
    c = Callable_()
    data = brinery.dumps([weakref.proxy(c), c], by_value=["test_weakproxy_subprocess"])
    child(data, """
p, c = obj
assert type(p) is weakref.CallableProxyType
is_proxy_of(p, c)
assert p(21) == 42
""")


def test_proxies_of_a_function_and_a_class_held_by_the_stream():
    # By value (a test module named by_value) and by reference (a stdlib function).
    import os.path

    data = brinery.dumps(
        [weakref.proxy(shout), shout, weakref.proxy(Thing), Thing, os.path.join, weakref.proxy(os.path.join)],
        by_value=["test_weakproxy_subprocess"],
    )
    child(data, """
import os.path
pf, f, pc, c, j, pj = obj
is_proxy_of(pf, f)
is_proxy_of(pc, c)
assert type(pf) is weakref.CallableProxyType and pf("a") == "A"
assert pc("n").hello() == "hello n"
assert j is os.path.join and pj("a", "b") == os.path.join("a", "b")
""")


def test_a_cycle_through_a_proxy_to_the_parent():
    root = Node("root")
    Node("a", root)
    Node("b", root)
    data = brinery.dumps(root, by_value=["test_weakproxy_subprocess"])
    child(data, """
root = obj
for c in root.children:
    is_proxy_of(c.parent, root)
    assert c.parent.name == "root"
assert root.parent is None and [c.name for c in root.children] == ["a", "b"]
""")
    # The children alone: the parent is held strongly only through its proxies, so each
    # child's parent loads as the parent itself (shared).
    data = brinery.dumps(root.children, by_value=["test_weakproxy_subprocess"])
    child(data, """
a, b = obj
assert type(a.parent).__name__ == "Node" and a.parent is b.parent
assert a.parent.children[0] is a
""")


def test_a_proxy_whose_referent_is_not_held_loads_as_the_referent():
    x = Thing("x")
    data = brinery.dumps([weakref.proxy(x), weakref.proxy(x)], by_value=["test_weakproxy_subprocess"])
    child(data, """
a, b = obj
assert type(a).__name__ == "Thing" and a is b and a.name == "x"
""")
    # A function or a class alone behind a proxy: the function or class itself.
    data = brinery.dumps([weakref.proxy(shout), weakref.proxy(Thing)], by_value=["test_weakproxy_subprocess"])
    child(data, """
f, c = obj
assert type(f).__name__ == "function" and f("a") == "A"
assert isinstance(c, type) and c("z").hello() == "hello z"
""")


def test_a_referent_held_only_from_inside_its_own_copy_is_not_held():
    # `x.me = x`: the only path to `x` from outside is the proxy, so it loads as `x`.
    x = Thing("x")
    x.me = x
    data = brinery.dumps([weakref.proxy(x)], by_value=["test_weakproxy_subprocess"])
    child(data, """
(x,) = obj
assert type(x).__name__ == "Thing" and x.me is x
""")


def test_a_proxy_as_a_closure_cell_of_a_by_value_function():
    x = Thing("x")
    p = weakref.proxy(x)

    def greet():
        return p.hello()

    data = brinery.dumps([greet, x], by_value=["test_weakproxy_subprocess"])
    child(data, """
greet, x = obj
is_proxy_of(greet.__closure__[0].cell_contents, x)
assert greet() == "hello x"
""")


def test_dump_to_a_file_holds_the_stream_until_the_proxies_are_settled():
    big = ["s" * 20 + str(i) for i in range(20000)]  # past the write size
    x = Thing("x")
    for order in ([big, weakref.proxy(x), x], [big, weakref.proxy(x)]):
        f = io.BytesIO()
        brinery.dump(order, f, by_value=["test_weakproxy_subprocess"])
        assert f.getvalue() == brinery.dumps(order, by_value=["test_weakproxy_subprocess"])
        pickletools.dis(pickletools.optimize(f.getvalue()), out=io.StringIO())
        loaded = pickle.loads(f.getvalue())
        if len(order) == 3:
            assert type(loaded[1]) is weakref.ProxyType and loaded[1].name == "x"
        else:
            assert type(loaded[1]) is Thing


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_proxy_met_after_the_stream_grew_in_its_result_is_settled(protocol):
    # Past 256 KiB `dumps` writes the stream into its result as it goes (short payloads
    # as soon as they are read, the open frame's header fixed when it closes); a proxy
    # met after that keeps the rest in memory until its referent is settled.
    big = [bytes([i % 251]) * 300 for i in range(2000)]
    x, y = Thing("x"), Thing("y")
    # `y` is not held: its proxy's call is rewritten to load it as `y` at the end.
    order = [big, weakref.proxy(x), weakref.proxy(y), big[:3], b"y" * 300, "z" * 700, x]
    data = brinery.dumps(order, protocol=protocol, by_value=["test_weakproxy_subprocess"])
    f = io.BytesIO()
    brinery.dump(order, f, protocol=protocol, by_value=["test_weakproxy_subprocess"])
    assert f.getvalue() == data
    for loads in (pickle.loads, pickle._loads):
        loaded = loads(data)
        assert loaded[0] == big and loaded[3] == big[:3] and loaded[4] == b"y" * 300
        assert type(loaded[1]) is weakref.ProxyType and weakref.proxy(loaded[6]) is loaded[1]
        assert type(loaded[2]) is Thing and loaded[2].name == "y"


def test_streams_with_proxies_are_deterministic():
    x, y = Thing("x"), Thing("y")
    objs = [weakref.proxy(x), weakref.proxy(y), y]
    assert brinery.dumps(objs) == brinery.dumps(objs)
    loaded = pickle.loads(brinery.dumps(objs))
    assert type(loaded[0]) is Thing and type(loaded[1]) is weakref.ProxyType


def test_a_dead_proxy_is_refused_naming_its_path():
    x = Thing("x")
    p = weakref.proxy(x)
    del x
    with pytest.raises(pickle.PicklingError) as e:
        brinery.dumps({"jobs": [1, p]})
    assert isinstance(e.value, brinery.PicklingError)
    assert "obj['jobs'][1]" in str(e.value) and "dead weakref.proxy" in str(e.value), str(e.value)


def test_proxies_at_frame_edges_are_settled():
    # A proxy whose memo fetch opens a new frame (the frame header goes in before it).
    def opens_frame(data):
        ops = [op.name for op, _, _ in pickletools.genops(data)]
        return any(a == "FRAME" and b == "LONG_BINGET" for a, b in zip(ops, ops[1:]))

    a, b = Thing("a"), Thing("b")
    for held in (False, True):
        for n in range(65000, 66000):
            objs = [weakref.proxy(a), "s" * n, weakref.proxy(b)] + ([b] if held else [])
            data = brinery.dumps(objs, protocol=4)
            if opens_frame(data):
                break
        else:
            raise AssertionError("no padding puts a proxy at the start of a frame")
        got = pickle.loads(data)
        assert type(got[0]) is Thing and got[0].name == "a"
        if held:
            assert type(got[2]) is weakref.ProxyType and weakref.proxy(got[3]) is got[2]
        else:
            assert type(got[2]) is Thing and got[2].name == "b"


def test_a_dispatch_table_entry_for_proxies_wins():
    x = Thing("x")

    class Custom(brinery.Pickler):
        dispatch_table = {weakref.ProxyType: lambda p: (str, ("custom " + p.name,))}

    f = io.BytesIO()
    Custom(f).dump([weakref.proxy(x), x])
    assert pickle.loads(f.getvalue())[0] == "custom x"


def test_protocol_0_and_fast_mode_write_a_proxy_as_its_referent():
    x = Thing("x")
    got = pickle.loads(brinery.dumps([weakref.proxy(x), x], protocol=0))
    assert type(got[0]) is Thing and got[0] is got[1]
    f = io.BytesIO()
    p = brinery.Pickler(f)
    p.fast = True
    p.dump([weakref.proxy(x)])
    got = pickle.loads(f.getvalue())
    assert type(got[0]) is Thing and got[0].name == "x"
