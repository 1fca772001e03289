"""By-value objects defined in a ``__main__`` script, dumped in one subprocess and
loaded with stock pickle in another where brinery cannot be imported."""

import os
import sys

from helpers import load_without_brinery, run_python

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(os.path.dirname(HERE), "python")

MAIN_SCRIPT = r'''
import abc, dataclasses, enum, functools, sys, typing
import brinery

G = 10

def make(i):
    def inner(x):
        return x + i + G
    return inner

def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)

def outer():
    def even(n):
        return True if n == 0 else odd(n - 1)
    def odd(n):
        return False if n == 0 else even(n - 1)
    return even

def self_ref():
    def f(n):
        return 0 if n == 0 else 1 + f(n - 1)
    return f

def with_defaults(a, b=2, *, c=3) -> int:
    "doc of with_defaults"
    return a + b + c
with_defaults.tag = "tagged"

class Base:
    def hello(self):
        return "base"

class Child(Base):
    k = 3
    def hello(self):
        return "child+" + super().hello()
    @property
    def p(self):
        return self.k
    @classmethod
    def cm(cls):
        return cls.k
    @staticmethod
    def sm():
        return 7

class Meta(type):
    def describe(cls):
        return "meta:" + cls.__name__

class WithMeta(metaclass=Meta):
    pass

class Slotted:
    __slots__ = ("a", "b")
    def __init__(self):
        self.a, self.b = 1, 2

class Color(enum.Enum):
    RED = 1
    GREEN = 2

class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2

class Perm(enum.Flag):
    R = 4
    W = 2

@dataclasses.dataclass
class Pt:
    x: int
    y: int = 2

class NT(typing.NamedTuple):
    a: int
    b: str = "z"

class TD(typing.TypedDict):
    a: int

T = typing.TypeVar("T")

class Box(typing.Generic[T]):
    def __init__(self, v):
        self.v = v

class Proto(typing.Protocol):
    def run(self) -> int: ...

class A(abc.ABC):
    @abc.abstractmethod
    def f(self): ...

A.register(Pt)

lam = lambda y: y * 2

@functools.singledispatch
def fmt(x):
    return "obj"

@fmt.register
def _(x: int):
    return "int"

@fmt.register(list)
def _(x):
    return "list:" + ",".join(fmt(i) for i in x)

class Shape:
    @functools.singledispatchmethod
    def area(self, x):
        return "any"
    @area.register
    def _(self, x: str):
        return "str " + x

fmt([1])  # fills the dispatch cache (a WeakKeyDictionary) before the dump

objs = {
    "closure": make(5), "fact": fact, "mutual": outer(), "self_ref": self_ref(),
    "defaults": with_defaults, "child": Child(), "cls": Child, "meta": WithMeta,
    "slotted": Slotted(), "colors": [Color.RED, Color.RED, Color, Level.HIGH, Perm.R | Perm.W],
    "pt": Pt(1), "pts": [Pt(i) for i in range(3)], "nt": NT(1), "td": TD, "box": Box(3),
    "proto": Proto, "A": A, "lam": lam, "pt_cls": Pt, "fmt": fmt, "shape": Shape,
}
sys.stdout.buffer.write(brinery.dumps(objs))
'''

CHECKS = r'''
o = obj
assert o["closure"](1) == 16
assert o["fact"](5) == 120
assert o["mutual"](10) is True and o["mutual"](7) is False
assert o["self_ref"](4) == 4
f = o["defaults"]
assert f(1) == 6 and f(1, c=0) == 3 and f.__doc__ == "doc of with_defaults" and f.tag == "tagged"
assert f.__annotations__ == {"return": int} and f.__module__ == "__main__"
assert o["closure"].__globals__ is o["fact"].__globals__
assert o["child"].hello() == "child+base" and o["child"].p == 3
assert o["cls"].cm() == 3 and o["cls"].sm() == 7
assert o["meta"].describe() == "meta:WithMeta"
assert (o["slotted"].a, o["slotted"].b) == (1, 2)
c = o["colors"]
assert c[0] is c[1] and c[0] is c[2].RED and c[2](2).name == "GREEN"
assert int(c[3]) == 2 and c[4].value == 6
import dataclasses
assert o["pt"] == o["pt_cls"](1) and [p.x for p in o["pts"]] == [0, 1, 2]
assert [f.name for f in dataclasses.fields(o["pt"])] == ["x", "y"]
assert o["nt"] == (1, "z") and o["nt"].b == "z"
assert o["td"].__annotations__ == {"a": int}
assert o["box"].v == 3
assert issubclass(o["pt_cls"], o["A"])
assert o["lam"](4) == 8
fmt = o["fmt"]
assert (fmt("s"), fmt(3), fmt([1, "a"])) == ("obj", "int", "list:int,obj")
assert fmt.registry[int] is fmt.dispatch(int) and fmt.__wrapped__.__module__ == "__main__"
fmt.register(float, lambda x: "float")  # still one registry behind fmt and fmt.registry
assert fmt(1.5) == "float" and float in fmt.registry
assert o["shape"]().area("q") == "str q" and o["shape"]().area(2) == "any"
print("ok")
'''


def dump_main_script(script, env=None):
    env = dict(env or {})
    env["PYTHONPATH"] = PKG + os.pathsep + os.environ.get("PYTHONPATH", "")
    return run_python(script, env=env)


def test_main_objects_round_trip_subprocess():
    data = dump_main_script(MAIN_SCRIPT)
    assert load_without_brinery(data, CHECKS).strip() == "ok"


def test_stream_names_only_stdlib_globals_subprocess():
    data = dump_main_script(MAIN_SCRIPT)
    code = """
    import io, pickle, sys
    sys.modules["brinery"] = None
    seen = set()
    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            seen.add(module)
            return super().find_class(module, name)
    Recording(io.BytesIO(sys.stdin.buffer.read())).load()
    top = {m.split(".")[0] for m in seen}
    print(sorted(top - set(sys.stdlib_module_names)))
    """
    assert run_python(code, stdin=data).decode().strip() == "[]"


def test_deterministic_across_hash_seeds_subprocess():
    script = MAIN_SCRIPT.replace("sys.stdout.buffer.write(brinery.dumps(objs))",
                                 "sys.stdout.buffer.write(brinery.dumps([make(1), Child, Color, Pt(1), {'a', 'b'} and lam]))")
    a = dump_main_script(script, env={"PYTHONHASHSEED": "1"})
    b = dump_main_script(script, env={"PYTHONHASHSEED": "2"})
    assert a == b


def test_version_mismatch_gives_clear_error_subprocess():
    data = dump_main_script(MAIN_SCRIPT)
    other = "cpython-3" + str(sys.version_info[1] + 1) + "X"
    tag = sys.implementation.cache_tag.encode()
    forged = data.replace(b"\x8c" + bytes([len(tag)]) + tag, b"\x8c" + bytes([len(other)]) + other.encode(), 1)
    code = """
    import pickle, sys
    try:
        pickle.loads(sys.stdin.buffer.read())
    except ModuleNotFoundError as e:
        print(e)
    """
    out = run_python(code, stdin=forged).decode()
    assert f"load it with Python {sys.version_info[0]} minor {sys.version_info[1]}" in out


def test_locals_by_value_round_trip_subprocess():
    import brinery

    k = 4

    def local(x):
        return x * k

    class Local:
        def m(self):
            return local(2)

    data = brinery.dumps((local, Local()))
    assert load_without_brinery(data, "print(obj[0](3), obj[1].m())").split() == ["12", "8"]


def test_dynamic_module_by_value_importable_by_reference_subprocess():
    import json
    import types

    import brinery

    mod = types.ModuleType("dyn_mod")
    exec("X = 5\ndef f():\n    return X + 1\n", mod.__dict__)
    data = brinery.dumps([mod, json])
    out = load_without_brinery(data, "print(obj[0].X, obj[1].dumps([1]))")
    assert out.split() == ["5", "[1]"]
