"""``brinery.dumps(..., cross_version=True)``: by-value code written on one CPython
minor version runs on another, in both directions, loaded with stock pickle and brinery
blocked. Every pair of the interpreters in ``BRINERY_TEST_PYTHONS`` (set by ``cargo
xtask test``) is covered: this suite writes on its own interpreter and loads on each,
and loads here what each other one writes. Also: the source branch builds nothing on
the writer's own version, streams are deterministic, and a function without source is
refused when dumping."""

import os
import pickle
import subprocess
import sys
import textwrap

import pytest

import brinery
from helpers import NO_BRINERY

HERE = sys.executable


def _pythons():
    listed = [p for p in os.environ.get("BRINERY_TEST_PYTHONS", "").split(os.pathsep) if p]
    return listed or [HERE]


PYTHONS = _pythons()
OTHERS = [p for p in PYTHONS if os.path.realpath(p) != os.path.realpath(HERE)]


def venv_name(python):
    """The venv folder a python is in (`.venv-3.12`), for test ids."""
    return os.path.basename(os.path.dirname(os.path.dirname(python))) if isinstance(python, str) else "none"

WRITER = '''
import sys, functools, enum, asyncio, dataclasses
import brinery

COUNTER = [0]

def deco(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return f(*a, **k) * 2
    return wrapper

@deco
def doubled(x, y: int = 1, *, z: "int" = 2) -> int:
    """Doubles a sum."""
    return x + y + z

def make():
    def even(n): return True if n == 0 else odd(n - 1)
    def odd(n): return False if n == 0 else even(n - 1)
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)
    k = 10
    add, mul = (lambda v: v + k), (lambda v: v * k)
    return even, odd, fact, add, mul

class Base:
    def greet(self):
        return "base"

class Shape(Base):
    class Inner:
        def value(self):
            return "inner"
    def __init__(self, side):
        self.side = side
    def greet(self):
        return super().greet() + ":shape" + self.__secret()
    def __secret(self):
        return "!"
    @property
    def area(self):
        return self.side ** 2
    @staticmethod
    def unit():
        return Shape(1)
    @classmethod
    def named(cls):
        return cls.__name__

@dataclasses.dataclass(order=True)
class Point:
    x: int
    y: int = 0
    tags: list = dataclasses.field(default_factory=list)
    def norm1(self):
        return abs(self.x) + abs(self.y)

@dataclasses.dataclass(frozen=True)
class Frozen:
    name: str
    def __repr__(self):
        return f"<{self.name}>"

class Color(enum.Enum):
    RED = 1
    def describe(self):
        return f"{self.name}={self.value}"

def gen(n):
    for i in range(n):
        yield i * i

async def agen(n):
    await asyncio.sleep(0)
    return n + 1

def bump():
    COUNTER[0] += 1
    return COUNTER[0]

def read():
    return COUNTER[0]

OBJECTS = [doubled, *make(), Shape, Point, Frozen, Color, gen, agen, bump, read]
if __name__ == "__main__":
    sys.stdout.buffer.write(brinery.dumps(OBJECTS, cross_version=True))
'''

CHECKS = '''
import asyncio
doubled, even, odd, fact, add, mul, Shape, Point, Frozen, Color, gen, agen, bump, read = obj
assert doubled(1) == 8 and doubled(1, 2, z=3) == 12, doubled(1)
assert doubled.__wrapped__(1) == 4 and doubled.__name__ == "doubled"
assert doubled.__doc__ == "Doubles a sum."
w = doubled.__wrapped__
assert w.__defaults__ == (1,) and w.__kwdefaults__ == {"z": 2}
assert w.__annotations__ == {"y": int, "z": "int", "return": int}, w.__annotations__
assert even(10) and odd(7) and not odd(4) and fact(5) == 120
assert add(1) == 11 and mul(2) == 20 and add.__qualname__ == "make.<locals>.<lambda>"
s = Shape(3)
assert s.area == 9 and s.greet() == "base:shape!", s.greet()
assert Shape.unit().side == 1 and Shape.named() == "Shape" and Shape.Inner().value() == "inner"
p = Point(3, -4)
assert p.norm1() == 7 and p == Point(3, -4) and p.tags == [] and p.tags is not Point(1).tags
assert repr(p) == "Point(x=3, y=-4, tags=[])" and Point(1) < Point(2) and Point.__match_args__ == ("x", "y", "tags")
f = Frozen("a")
assert repr(f) == "<a>" and hash(f) == hash(Frozen("a"))
try:
    f.name = "b"
except Exception as e:
    assert type(e).__name__ == "FrozenInstanceError", e
else:
    raise AssertionError("frozen")
assert Color.RED.describe() == "RED=1" and Color(1) is Color.RED
assert list(gen(4)) == [0, 1, 4, 9] and asyncio.run(agen(1)) == 2
# One globals namespace for the module's functions, as in a plain stream.
assert bump() == 1 and bump() == 2 and read() == 2
assert bump.__globals__ is read.__globals__
print("ok")
'''


def write(python, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    r = subprocess.run([python, str(script)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def load(python, data):
    code = NO_BRINERY + "import pickle, sys\nobj = pickle.loads(sys.stdin.buffer.read())\n" + CHECKS
    return subprocess.run([python, "-c", code], input=data, capture_output=True, timeout=120)


@pytest.mark.parametrize("loader", PYTHONS, ids=venv_name)
def test_written_here_runs_on_each_python(loader, tmp_path):
    data = write(HERE, tmp_path)
    r = load(loader, data)
    assert r.returncode == 0 and r.stdout.strip() == b"ok", r.stderr.decode()


@pytest.mark.skipif(not OTHERS, reason="no other CPython in BRINERY_TEST_PYTHONS (cargo xtask test sets it)")
@pytest.mark.parametrize("writer", OTHERS, ids=venv_name)
def test_written_elsewhere_runs_here(writer, tmp_path):
    data = write(writer, tmp_path)
    r = load(HERE, data)
    assert r.returncode == 0 and r.stdout.strip() == b"ok", r.stderr.decode()


def test_streams_are_deterministic(tmp_path):
    assert write(HERE, tmp_path) == write(HERE, tmp_path)


def test_same_version_builds_nothing_from_source(tmp_path):
    # On the writer's interpreter the source branch compiles and runs empty text.
    data = write(HERE, tmp_path)
    code = NO_BRINERY + textwrap.dedent(
        """
        import builtins, pickle, sys
        seen = []
        real_compile = builtins.compile
        def spying(source, *a, **k):
            seen.append(source)
            return real_compile(source, *a, **k)
        builtins.compile = spying
        pickle.loads(sys.stdin.buffer.read())
        assert seen and all(s == "" for s in seen), seen
        print(len(seen))
        """
    )
    r = subprocess.run([HERE, "-c", code], input=data, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert int(r.stdout) >= 10


def test_a_function_without_source_is_refused():
    ns = {}
    exec("def made(x):\n    return x + 1\n", ns)
    with pytest.raises(brinery.PicklingError, match=r"no source for 'made'"):
        brinery.dumps(ns["made"], cross_version=True)
    # Without the option it is stored as usual.
    assert pickle.loads(brinery.dumps(ns["made"]))(1) == 2


SYNTAX_WRITER = '''
import sys, brinery
def uses_new_syntax():
    type Alias = list[int]
    return Alias
sys.stdout.buffer.write(brinery.dumps(uses_new_syntax, cross_version=True))
'''


def _has_type_statement(python):
    r = subprocess.run([python, "-c", "compile('type X = int', '', 'exec')"], capture_output=True)
    return r.returncode == 0


def test_source_the_loader_cannot_compile_names_function_and_versions(tmp_path):
    writers = [p for p in PYTHONS if _has_type_statement(p)]
    loaders = [p for p in PYTHONS if not _has_type_statement(p)]
    if not writers or not loaders:
        pytest.skip("needs a writer with the `type` statement and a loader without it")
    script = tmp_path / "syntax.py"
    script.write_text(textwrap.dedent(SYNTAX_WRITER))
    w = subprocess.run([writers[0], str(script)], capture_output=True, timeout=120)
    assert w.returncode == 0, w.stderr.decode()
    r = subprocess.run(
        [loaders[0], "-c", NO_BRINERY + "import pickle, sys\npickle.loads(sys.stdin.buffer.read())"],
        input=w.stdout, capture_output=True, timeout=120,
    )
    err = r.stderr.decode()
    assert r.returncode != 0 and "SyntaxError" in err, err
    assert "uses_new_syntax" in err and "written on cpython-3" in err and "compiled on cpython-3" in err, err
