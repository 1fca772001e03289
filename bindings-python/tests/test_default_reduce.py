"""Instances whose type keeps ``object``'s default reduction are written without calling
``__reduce_ex__``; the bytes must not change. Importable classes: brinery's bytes equal
``pickle.dumps``'s at protocols 2-5 (0 and 1 never take the fast path; checked too). ``__main__`` classes (stored by value, so stock
pickle cannot be the oracle): the fast path against the generic one, forced through a
dispatch table, then loaded with stock pickle in a child without brinery."""

import _queue
import collections
import copyreg
import dataclasses
import io
import os
import pickle
import threading
import weakref

import pytest

import brinery
from helpers import load_without_brinery, run_python

PKG = os.path.join(os.path.dirname(__file__), "..", "python")
PROTOCOLS = range(2, pickle.HIGHEST_PROTOCOL + 1)


class Plain:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class Empty:
    pass


class Slotted:
    __slots__ = ("a", "b")


class SlottedChild(Slotted):
    __slots__ = ("c", "__private")


class SlotsAndDict:
    __slots__ = ("a", "__dict__", "__weakref__")


class WithWeakref:
    __slots__ = ("__weakref__", "x")


@dataclasses.dataclass
class Point:
    x: int
    y: float
    tags: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class SlotPoint:
    x: int
    y: int


@dataclasses.dataclass(frozen=True)
class Frozen:
    x: int


class GetState(Plain):
    def __getstate__(self):
        return {"only": 1}


class Reduce(Plain):
    def __reduce__(self):
        return (Reduce, ())


class ReduceEx(Plain):
    def __reduce_ex__(self, proto):
        return (ReduceEx, (), {"p": proto})


class NewArgs(Plain):
    def __new__(cls, *args, **kw):
        return super().__new__(cls)

    def __getnewargs__(self):
        return (1, 2)


class NewArgsEx(Plain):
    def __new__(cls, *args, **kwargs):
        return super().__new__(cls)

    def __getnewargs_ex__(self):
        return (1,), {"k": 2}


class GetAttr(Plain):
    def __getattr__(self, name):
        if name == "__getstate__":
            return lambda: {"from": "getattr"}
        raise AttributeError(name)


class GetAttribute(Plain):
    def __getattribute__(self, name):
        if name == "__getstate__":
            return lambda: {"from": "getattribute"}
        return super().__getattribute__(name)


class MyList(list):
    pass


class MyDict(dict):
    pass


class MyInt(int):
    pass


class Meta(type):
    pass


class WithMeta(Plain, metaclass=Meta):
    pass


class Registered(Plain):
    pass


def reduce_registered(obj):
    return (Registered, (), {"via": "copyreg"})


def sample_objects():
    shared = Plain(v=1)
    rec = Plain()
    rec.me = rec
    slotted = Slotted()
    slotted.a = 1  # b unset
    child = SlottedChild()
    child.a, child.c = 1, [2]
    child._SlottedChild__private = "p"
    sad = SlotsAndDict()
    sad.a, sad.z = 1, 2
    ww = WithWeakref()
    ww.x = 3
    inst_getstate = Plain(v=2)
    inst_getstate.__dict__["__getstate__"] = dict  # called as the instance's __getstate__
    inst_reduce_ex = Plain(v=3)
    inst_reduce_ex.__dict__["__reduce_ex__"] = lambda proto: (Plain, (), {"p": proto})
    ml = MyList([1, 2])
    ml.attr = 3
    md = MyDict(a=1)
    md.attr = 4
    mi = MyInt(5)
    mi.attr = 6
    shared_dict = Plain(q=1)
    return {
        "plain": Plain(a=1, b="x", c=[1.5, None]),
        "empty": Empty(),
        "empty_after_del": (lambda o: (o.__dict__.clear(), o)[1])(Plain(a=1)),
        "shared": [shared, shared, {"again": shared}],
        "recursive": rec,
        "slotted": slotted,
        "slotted_empty": Slotted(),
        "child": child,
        "slots_and_dict": sad,
        "weakref_slot": ww,
        "dataclasses": [Point(i, i / 2, ["t"] * i) for i in range(4)],
        "slot_dataclass": SlotPoint(1, 2),
        "frozen": Frozen(3),
        "getstate": GetState(a=1),
        "reduce": Reduce(a=1),
        "reduce_ex": ReduceEx(a=1),
        "newargs": NewArgs(a=1),
        "newargs_ex": NewArgsEx(a=1),
        "getattr": GetAttr(a=1),
        "getattribute": GetAttribute(a=1),
        "instance_getstate": inst_getstate,
        "instance_reduce_ex": inst_reduce_ex,
        "list_sub": ml,
        "dict_sub": md,
        "int_sub": mi,
        "meta": WithMeta(a=2),
        "dict_and_instance": [shared_dict, shared_dict.__dict__],
        "ordered": collections.OrderedDict(a=Plain(x=1)),
    }


def test_sample_objects_load():
    # The oracle is only meaningful when stock pickle can load what it wrote.
    objs = sample_objects()
    for proto in PROTOCOLS:
        back = pickle.loads(pickle.dumps(objs, proto))
        assert back["plain"].c == [1.5, None]


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("name", sorted(sample_objects()))
def test_bytes_equal_pickle(name, proto):
    # A fresh set each time: copyreg caches __slotnames__ on first use.
    obj = sample_objects()[name]
    expected = pickle.dumps(obj, proto)
    assert brinery.dumps(obj, proto) == expected
    # Twice: the second dump finds __slotnames__ cached (the fast path's precondition).
    assert brinery.dumps(sample_objects()[name], proto) == pickle.dumps(sample_objects()[name], proto)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_all_together_equal_pickle(proto):
    objs = sample_objects()
    assert brinery.dumps(objs, proto) == pickle.dumps(objs, proto)


@pytest.mark.parametrize("proto", [0, 1])
def test_low_protocols_equal_pickle(proto):
    objs = {k: v for k, v in sample_objects().items() if "slot" not in k and k not in ("child", "weakref_slot")}
    assert brinery.dumps(objs, proto) == pickle.dumps(objs, proto)


@pytest.mark.parametrize("proto", [0, 1])
def test_low_protocols_store_slotted_instances_pickle_refuses(proto):
    # copyreg._reduce_ex refuses __slots__ without __getstate__ below protocol 2; brinery
    # writes object.__reduce_ex__(2)'s reduction, whose copyreg.__newobj__ is a plain
    # REDUCE there, so stock pickle loads it.
    s = SlottedChild()
    s.a, s.c = 1, [2]
    with pytest.raises(TypeError, match="__slots__"):
        pickle.dumps(s, proto)
    data = brinery.dumps([s, s], proto)
    assert b"\x81" not in data  # no NEWOBJ at these protocols
    a, b = pickle.loads(data)
    assert a is b and type(a) is SlottedChild and (a.a, a.c) == (1, [2])
    assert not hasattr(a, "b")
    # A class with its own reduction keeps it: its error is the one raised.
    class Own:
        __slots__ = ("x",)

        def __reduce_ex__(self, proto):
            raise TypeError("Own refuses")

    with pytest.raises(TypeError, match="Own refuses"):
        brinery.dumps(Own(), proto)


def test_main_dataclass_at_protocols_0_and_1_subprocess():
    # A dataclass's __dataclass_params__ and Fields have __slots__: at protocols 0 and 1
    # stock pickle (and cloudpickle) cannot store a __main__ dataclass by value.
    script = "import brinery, dataclasses, sys\n" + """
@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int = 2
    def norm(self):
        return self.x + self.y

sys.stdout.buffer.write(brinery.dumps([Point(1), Point(3, 4)], int(sys.stdin.read())))
"""
    env = {"PYTHONPATH": PKG + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for proto in (0, 1):
        data = run_python(script, env=env, stdin=str(proto).encode())
        out = load_without_brinery(data, """
        import dataclasses
        p, q = obj
        assert p.norm() == 3 and q.norm() == 7 and dataclasses.is_dataclass(p)
        assert type(p).__dataclass_params__.frozen and [f.name for f in dataclasses.fields(p)] == ["x", "y"]
        try:
            p.x = 5
        except dataclasses.FrozenInstanceError:
            print("ok")
        """)
        assert out.strip() == "ok", proto


def test_copyreg_dispatch_table_wins():
    copyreg.pickle(Registered, reduce_registered)
    try:
        obj = [Registered(a=1), Registered(a=2)]
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            assert brinery.dumps(obj, proto) == pickle.dumps(obj, proto)
    finally:
        del copyreg.dispatch_table[Registered]
    assert pickle.loads(brinery.dumps(Registered(a=1))).a == 1


def test_pickler_dispatch_table_and_reducer_override():
    obj = [Plain(a=1), Point(1, 2.0), Plain(b=2)]
    table = {Plain: lambda o: (Plain, (), {"table": True})}

    class TableB(brinery.Pickler):
        dispatch_table = table

    class TableP(pickle.Pickler):
        dispatch_table = table

    class DeclineB(brinery.Pickler):
        def reducer_override(self, o):
            return NotImplemented

    class DeclineP(pickle.Pickler):
        def reducer_override(self, o):
            return NotImplemented

    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        for ours, theirs in ((TableB, TableP), (DeclineB, DeclineP)):
            a, b = io.BytesIO(), io.BytesIO()
            ours(a, proto).dump(obj)
            theirs(b, proto).dump(obj)
            assert a.getvalue() == b.getvalue()


class Mutated(Plain):
    pass


class Mutator:
    """Gives ``Mutated`` a ``__getstate__`` while it is being pickled."""

    def __reduce__(self):
        Mutated.__getstate__ = lambda self: {"changed": True}
        return (Mutator, ())


def test_class_changed_during_and_between_dumps():
    def fresh():
        for attr in ("__getstate__", "__reduce__"):
            if attr in Mutated.__dict__:
                delattr(Mutated, attr)

    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        fresh()
        obj = [Mutated(a=1), Mutator(), Mutated(a=2)]
        expected = pickle.dumps(obj, proto)
        fresh()
        assert brinery.dumps(obj, proto) == expected
        assert pickle.loads(expected)[2].changed is True
        # One Pickler, the class changed between its dumps.
        fresh()
        p = brinery.Pickler(None, proto)
        first = p.dumps(Mutated(a=3))
        Mutated.__reduce__ = lambda self: (Mutated, (), {"reduced": 1})
        second = p.dumps(Mutated(a=3))
        assert pickle.loads(first).a == 3
        assert pickle.loads(second).reduced == 1
        fresh()


class QueueSub(_queue.SimpleQueue):
    """A Python subclass of a C type with fields of its own: no default reduction."""


def test_unpicklable_layouts_still_refused():
    # Twice each: the second time finds __slotnames__ cached and the type's verdict made.
    for obj in (threading.local(), weakref.ref(Plain), QueueSub(), QueueSub()):
        with pytest.raises(TypeError):
            pickle.dumps(obj, 4)
        with pytest.raises(pickle.PicklingError):
            brinery.dumps(obj, 4)


MAIN_SCRIPT = r'''
import collections, copyreg, dataclasses, io, sys
import brinery

@dataclasses.dataclass
class Record:
    name: str
    id: int
    score: float
    other: object = None

@dataclasses.dataclass(slots=True)
class Slot:
    a: int
    b: list

class Plain:
    pass

def objects():
    recs = [Record(f"r{i}", i, i * 0.25) for i in range(50)]
    recs[3].other = recs[4]
    recs[5].other = recs[5]
    p = Plain()
    p.x = recs[0]
    p.__dict__["extra"] = {"k": Slot(1, [2])}
    return [recs, Slot(3, [4]), p, Record]

class Generic(brinery.Pickler):
    """Every instance of the __main__ classes through its own __reduce_ex__."""
    def __init__(self, file, proto):
        super().__init__(file, proto)
        self.dispatch_table = collections.ChainMap(
            {t: (lambda o, p=proto: o.__reduce_ex__(p)) for t in (Record, Slot, Plain)},
            copyreg.dispatch_table)

out = {}
for proto in range(2, 6):
    fast = brinery.dumps(objects(), proto)
    buf = io.BytesIO()
    Generic(buf, proto).dump(objects())
    out[proto] = (fast, buf.getvalue())
import pickle
sys.stdout.buffer.write(pickle.dumps(out))
'''


def test_main_dataclass_fast_path_equals_generic_subprocess():
    env = {"PYTHONPATH": PKG + os.pathsep + os.environ.get("PYTHONPATH", "")}
    streams = pickle.loads(run_python(MAIN_SCRIPT, env=env))
    for proto, (fast, generic) in streams.items():
        assert fast == generic, proto
        out = load_without_brinery(fast, """
        recs, slot, p, Record = obj
        assert [r.id for r in recs] == list(range(50)) and recs[7].score == 1.75
        assert recs[3].other is recs[4] and recs[5].other is recs[5]
        assert isinstance(recs[0], Record) and recs[1] == Record("r1", 1, 0.25)
        assert (slot.a, slot.b) == (3, [4]) and not hasattr(slot, "__dict__")
        assert p.x is recs[0] and p.extra["k"].b == [2]
        print("ok")
        """)
        assert out.strip() == "ok"
