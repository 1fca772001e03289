"""Classes stored by value load as the class a process already has (the one it dumped,
or one it loaded before), as with cloudpickle, while streams stay deterministic and
load without brinery."""

import dataclasses
import enum
import gc
import os
import pickle
import subprocess
import sys

import pytest

import brinery
from helpers import load_without_brinery, run_python

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")


def round_trip(obj):
    return pickle.loads(brinery.dumps(obj))


def make_point():
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    return Point


def test_local_dataclass_instances_compare_equal_after_a_round_trip():
    Point = make_point()
    p = round_trip(Point(1, 2))
    assert type(p) is Point
    assert p == Point(1, 2)
    assert round_trip(Point) is Point


def test_local_enum_members_keep_their_identity():
    class Color(enum.Enum):
        RED = 1
        GREEN = 2

    assert round_trip(Color.RED) is Color.RED
    assert round_trip([Color.GREEN, Color]) == [Color.GREEN, Color]


def test_distinct_classes_with_identical_definitions_stay_distinct():
    A, B = make_point(), make_point()
    assert A is not B
    a, b = round_trip(A(1, 1)), round_trip(B(1, 1))
    assert type(a) is A and type(b) is B


def test_same_name_different_contents_get_different_classes():
    def make(k):
        class K:
            value = k

        return K

    one, two = make(1), make(2)
    assert round_trip(one) is one and round_trip(two) is two
    assert round_trip(two()).value == 2


def test_the_registry_holds_classes_weakly():
    Point = make_point()
    brinery.dumps(Point)
    before = len(brinery._classes)
    del Point
    gc.collect()
    assert len(brinery._classes) < before


def test_stream_still_loads_without_brinery_as_a_new_class():
    Point = make_point()
    out = load_without_brinery(
        brinery.dumps(Point(3, 4)),
        "import dataclasses\nprint(type(obj).__name__, obj.x + obj.y, dataclasses.is_dataclass(obj))",
    )
    assert out.split() == ["Point", "7", "True"]


CHILD = r"""
import pickle, sys
sys.path.insert(0, {pkg!r})
import brinery
first = pickle.loads(sys.stdin.buffer.read())
# A second stream of the same class, loaded in this process: the class loaded first.
again = pickle.loads(brinery.dumps(first))
assert type(again) is type(first)
# What this process sends back carries the key it received.
sys.stdout.buffer.write(brinery.dumps(first))
"""


def test_a_class_sent_to_another_process_and_back_is_the_original():
    Point = make_point()
    r = subprocess.run(
        [sys.executable, "-c", CHILD.format(pkg=PKG)],
        input=brinery.dumps(Point(5, 6)),
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    back = pickle.loads(r.stdout)
    assert type(back) is Point and back == Point(5, 6)


MAIN = r"""
import enum, sys
sys.path.insert(0, {pkg!r})
import brinery

class Mode(enum.Enum):
    ON = 1

class Plain:
    pass

sys.stdout.buffer.write(brinery.dumps([Mode.ON, Plain, Plain()]))
"""


def test_streams_with_lookups_stay_deterministic_across_hash_seeds():
    outs = {
        run_python(MAIN.format(pkg=PKG), env={"PYTHONHASHSEED": seed}) for seed in ("1", "2", "3")
    }
    assert len(outs) == 1


_BUMPS = 0


def make_worker_class():
    class Base:
        def who(self):
            return "base"

    class Worker(Base):
        def who(self):
            return "worker+" + super().who()

        def bump(self):
            global _BUMPS
            _BUMPS += 1
            return _BUMPS

    return Worker


RELOADING_CHILD = r"""
import pickle, struct, sys
sys.path.insert(0, {pkg!r})
import brinery

data = sys.stdin.buffer.read()
n = struct.unpack("<I", data[:4])[0]
kept = pickle.loads(data[4:4 + n])
print(kept.who(), kept.bump(), kept.bump())
again = pickle.loads(data[4 + n:])
print(type(again) is type(kept), kept.echo(7), kept.who(), kept.bump())
"""


def test_a_loaded_copy_takes_the_changes_of_the_class_sent_again_subprocess():
    # A worker that loaded a class keeps one class for it; a later stream of the same
    # class (changed where it was defined) updates that copy, as cloudpickle does: the
    # instances it holds see the new method, `super()` still works in them, and the
    # methods run with the new stream's globals.
    import struct

    Worker = make_worker_class()
    first = brinery.dumps(Worker())
    Worker.echo = lambda self, x: x * 6
    second = brinery.dumps(Worker())
    r = subprocess.run(
        [sys.executable, "-c", RELOADING_CHILD.format(pkg=PKG)],
        input=struct.pack("<I", len(first)) + first + second,
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().splitlines() == ["worker+base 1 2", "True 42 worker+base 1"]


def test_loading_never_changes_a_class_defined_in_this_process():
    Worker = make_worker_class()
    who = Worker.__dict__["who"]
    assert round_trip(Worker) is Worker
    assert Worker.__dict__["who"] is who


def make_interning_class():
    class Joiner:
        """Names and equal string values, where interning decides what is memoized."""

        arg_1 = "join"

        def join(self, arg_1):
            return arg_1

    Joiner.join.arg_1 = "join"
    return Joiner


ECHO_CHILD = r"""
import pickle, sys
sys.path.insert(0, {pkg!r})
import brinery
sys.stdout.buffer.write(brinery.dumps(pickle.loads(sys.stdin.buffer.read())))
"""


def echo_through_child(data):
    r = subprocess.run(
        [sys.executable, "-c", ECHO_CHILD.format(pkg=PKG)],
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def test_a_class_loaded_elsewhere_dumps_to_the_same_bytes_subprocess():
    # The child has never seen the class: it rebuilds it from the stream, and its dump
    # of that rebuilt class must be the stream it was given.
    Joiner = make_interning_class()
    data = brinery.dumps(Joiner)
    assert echo_through_child(data) == data


def test_dynamic_typevar_keeps_its_identity_subprocess():
    import typing

    T = typing.TypeVar("T", bound=int)
    assert round_trip(T) is T
    first, second = round_trip((T, T))
    assert first is second is T
    assert pickle.loads(echo_through_child(brinery.dumps(T))) is T
    out = load_without_brinery(brinery.dumps(T), "print(type(obj).__name__, obj.__name__, obj.__bound__.__name__)")
    assert out.split() == ["TypeVar", "T", "int"]


@pytest.mark.parametrize("kind", ["ParamSpec", "TypeVarTuple", "NewType"])
def test_dynamic_typing_variables_keep_their_identity_subprocess(kind):
    import typing

    made = {
        "ParamSpec": lambda: typing.ParamSpec("P", bound=int),
        "TypeVarTuple": lambda: typing.TypeVarTuple("Ts"),
        "NewType": lambda: typing.NewType("UserId", int),
    }[kind]
    v = made()
    assert round_trip(v) is v
    first, second = round_trip((v, v))
    assert first is second is v
    assert pickle.loads(echo_through_child(brinery.dumps(v))) is v
    # Another definition with the same name is another object.
    other = made()
    assert round_trip(other) is other
    out = load_without_brinery(brinery.dumps([v, v]), "print(type(obj[0]).__name__, obj[0] is obj[1])")
    assert out.split() == [kind, "True"]


REDEFINED_CLASS_SCRIPT = """
import brinery

def setup():
    global tag
    tag = "set by the initializer"

tag = "parent"

class Greeter:
    def hi(self):
        return "v1"

old = Greeter()

def make():
    return Greeter()

with brinery.Pool(1, setup, start_method={method!r}) as pool:
    print(pool.submit(lambda: Greeter().hi()).result())
    print(pool.submit(lambda: isinstance(make(), Greeter)).result())

    class Greeter:
        def hi(self):
            return "v2"

    print(pool.submit(lambda: Greeter().hi()).result())
    print(pool.submit(Greeter().hi).result())
    print(pool.submit(old.hi).result())
    print(pool.submit(lambda: Greeter().hi()).result())
    print(pool.submit(lambda: tag).result() == "set by the initializer")
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_pool_worker_follows_a_class_redefined_in_a_script_subprocess(method):
    out = run_python(REDEFINED_CLASS_SCRIPT.format(method=method)).decode().split()
    assert out == ["v1", "True", "v2", "v2", "v1", "v2", "True"], out
