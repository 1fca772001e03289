"""Dataclasses whose fields are slots (``slots=True``, with and without
``weakref_slot=True``, frozen, inheriting from a slotted base, ``__slots__`` by hand) and
plain ``__slots__`` classes with ``__weakref__``/``__dict__`` slots, defined in
``__main__`` and stored by value: a plain stream loads in a fresh process on its own
version, and a ``cross_version=True`` stream on every interpreter in
``BRINERY_TEST_PYTHONS`` (set by ``cargo xtask test``), in both directions. Loading is
with stock pickle, brinery blocked."""

import os
import subprocess
import sys
import textwrap

import pytest

from helpers import NO_BRINERY

HERE = sys.executable
PYTHONS = [p for p in os.environ.get("BRINERY_TEST_PYTHONS", "").split(os.pathsep) if p] or [HERE]
OTHERS = [p for p in PYTHONS if os.path.realpath(p) != os.path.realpath(HERE)]


def venv_name(python):
    return os.path.basename(os.path.dirname(os.path.dirname(python))) if isinstance(python, str) else "none"


WRITER = '''
import dataclasses, sys
import brinery

@dataclasses.dataclass(slots=True)
class Point:
    x: int
    y: int = 2
    def total(self):
        return self.x + self.y

@dataclasses.dataclass(slots=True, weakref_slot=True)
class Weak:
    name: str = "w"

@dataclasses.dataclass(slots=True, frozen=True)
class Frozen:
    a: int
    b: tuple = (1,)

@dataclasses.dataclass(slots=True)
class Base:
    x: int = 0

@dataclasses.dataclass(slots=True)
class Child(Base):
    y: int = 1
    def both(self):
        return (self.x, self.y)

@dataclasses.dataclass
class ByHand:
    __slots__ = ("v",)
    v: int

class Plain:
    __slots__ = ("a", "__weakref__", "__dict__")
    def __init__(self, a):
        self.a = a

plain = Plain(1)
plain.extra = "e"
OBJECTS = [Point, Weak, Frozen, Base, Child, ByHand, Plain,
           Point(7), Frozen(1, (2,)), Child(5), Weak("v"), ByHand(3), plain]
sys.stdout.buffer.write(brinery.dumps(OBJECTS, cross_version=sys.argv[1] == "cross"))
'''

CHECKS = '''
import copy, dataclasses, weakref
Point, Weak, Frozen, Base, Child, ByHand, Plain, p, f, c, w, b, plain = obj
assert type(p) is Point and p == Point(7) and p.total() == 9 and repr(p) == "Point(x=7, y=2)"
assert Point.__slots__ == ("x", "y") and not hasattr(Point(1), "__dict__")
assert Point.__match_args__ == ("x", "y") and [f_.name for f_ in dataclasses.fields(Point)] == ["x", "y"]
try:
    Point(1).z = 3
except AttributeError:
    pass
else:
    raise AssertionError("slots: no __dict__")
ww = Weak("k")
assert weakref.ref(ww)() is ww and not hasattr(ww, "__dict__") and w == Weak("v")
assert type(f) is Frozen and f == Frozen(1, (2,)) and hash(f) == hash(Frozen(1, (2,)))
try:
    f.a = 2
except dataclasses.FrozenInstanceError:
    pass
else:
    raise AssertionError("frozen")
assert copy.deepcopy(f) == f and copy.copy(Frozen(4)).b == (1,)
assert type(c) is Child and c.both() == (5, 1) and Child(2, 3).both() == (2, 3)
assert isinstance(c, Base) and Child.__slots__ == ("y",) and not hasattr(c, "__dict__")
assert repr(Child()) == "Child(x=0, y=1)" and Base().x == 0
assert b == ByHand(3) and ByHand.__slots__ == ("v",) and not hasattr(b, "__dict__")
assert type(plain) is Plain and plain.a == 1 and plain.extra == "e"
assert weakref.ref(plain)() is plain and Plain(2).a == 2
print("ok")
'''


def write(python, tmp_path, mode):
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    r = subprocess.run([python, str(script), mode], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def load(python, data):
    code = NO_BRINERY + "import pickle, sys\nobj = pickle.loads(sys.stdin.buffer.read())\n" + CHECKS
    r = subprocess.run([python, "-c", code], input=data, capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == b"ok", r.stderr.decode()


def test_plain_stream_loads_in_a_fresh_process(tmp_path):
    load(HERE, write(HERE, tmp_path, "plain"))


@pytest.mark.parametrize("loader", PYTHONS, ids=venv_name)
def test_cross_version_stream_written_here_loads_on_each_python(loader, tmp_path):
    load(loader, write(HERE, tmp_path, "cross"))


@pytest.mark.skipif(not OTHERS, reason="no other CPython in BRINERY_TEST_PYTHONS (cargo xtask test sets it)")
@pytest.mark.parametrize("writer", OTHERS, ids=venv_name)
def test_cross_version_stream_written_elsewhere_loads_here(writer, tmp_path):
    load(HERE, write(writer, tmp_path, "cross"))


def test_cross_version_streams_are_deterministic(tmp_path):
    assert write(HERE, tmp_path, "cross") == write(HERE, tmp_path, "cross")
