"""Class hooks survive a by-value round trip (issue #24, section 2): a base's
``__init_subclass__`` that took class keywords, a metaclass that takes keywords, and
``__set_name__`` descriptors. The loaded classes end up as defined, the hooks stay in
place for classes defined after loading, and no stand-in is left behind, whether the
stream loads in a fresh interpreter (with or without brinery) or in the process that
dumped it."""

import enum
import pickle
import textwrap

import pytest

import brinery
from helpers import NO_BRINERY, run_python

MAIN_SCRIPT = r'''
import abc, enum, sys
import brinery

REGISTRY = {}

class Base:
    def __init_subclass__(cls, *, kind, **kw):
        super().__init_subclass__(**kw)
        REGISTRY[kind] = cls

class CsvReader(Base, kind="csv"):
    def read(self):
        return "csv"

class Meta(type):
    def __new__(mcls, name, bases, ns, *, tag):
        cls = super().__new__(mcls, name, bases, ns)
        cls.tag = tag
        return cls
    def __init__(cls, name, bases, ns, **kw):
        super().__init__(name, bases, ns)

class Tagged(metaclass=Meta, tag="t"):
    def hello(self):
        return "hello " + self.tag

class Prepared(type):
    @classmethod
    def __prepare__(mcls, name, bases, *, order):
        return {"order": order}
    def __new__(mcls, name, bases, ns, **kw):
        return super().__new__(mcls, name, bases, ns)

class Ordered(metaclass=Prepared, order=3):
    pass

class AbstractMeta(abc.ABCMeta):
    def __new__(mcls, name, bases, ns, *, flavour):
        cls = super().__new__(mcls, name, bases, ns)
        cls.flavour = flavour
        return cls

class Shape(metaclass=AbstractMeta, flavour="round"):
    @abc.abstractmethod
    def area(self): ...

class Field:
    made = 0
    def __set_name__(self, owner, name):
        Field.made += 1
        self.name = name
        owner.fields = getattr(owner, "fields", ()) + (name,)
    def __get__(self, obj, owner=None):
        return self if obj is None else obj.__dict__.get(self.name, "unset")

class Record:
    a = Field()
    b = Field()

class Strict(enum.Flag, boundary=enum.STRICT):
    R = 1
    W = 2

which = sys.argv[1]
objs = {
    "all": [Base, CsvReader, CsvReader(), Tagged, Ordered, Shape, Record, Strict.W],
    "sub": [CsvReader],
    "base": [Base],
}[which]
sys.stdout.buffer.write(brinery.dumps(objs))
'''

CHECK_HOOK = r'''
def no_stand_in(*classes):
    for c in classes:
        assert c.__dict__.get("__init_subclass__") is not dict, c
        assert getattr(c, "__init_subclass__", None) is not dict, c
'''

CHECK_ALL = CHECK_HOOK + r'''
Base, CsvReader, reader, Tagged, Ordered, Shape, Record, W = obj
no_stand_in(Base, CsvReader, Tagged, Ordered, Shape, Record)
hook = Base.__dict__["__init_subclass__"]
assert isinstance(hook, classmethod) and hook.__func__.__name__ == "__init_subclass__"
REGISTRY = hook.__func__.__globals__["REGISTRY"]
assert REGISTRY == {"csv": CsvReader} and reader.read() == "csv"
assert type(reader) is CsvReader and CsvReader.__bases__ == (Base,)
# Subclasses defined after loading go through the hook, keywords and all.
class JsonReader(Base, kind="json"):
    pass
assert REGISTRY == {"csv": CsvReader, "json": JsonReader}
try:
    class Nameless(Base):
        pass
except TypeError as e:
    assert "kind" in str(e)
else:
    raise AssertionError("the hook must still require its keyword")

Meta = type(Tagged)
assert Meta.__name__ == "Meta" and Tagged.tag == "t" and Tagged().hello() == "hello t"
class Again(metaclass=Meta, tag="u"):
    pass
assert Again.tag == "u" and type(Again) is Meta

Prepared = type(Ordered)
assert Prepared.__name__ == "Prepared" and Ordered.order == 3
class Later(metaclass=Prepared, order=9):
    pass
assert Later.order == 9

import abc
assert isinstance(Shape, abc.ABCMeta) and Shape.flavour == "round"
assert Shape.__abstractmethods__ == frozenset({"area"})
try:
    Shape()
except TypeError:
    pass
else:
    raise AssertionError("an abstract class must stay abstract")
class Square(Shape, flavour="square"):
    def area(self):
        return 4
assert Square().area() == 4 and Square.flavour == "square"

Field = type(Record.__dict__["a"])
# `__set_name__` ran when the class was defined, not again when it was rebuilt.
assert Field.made == 2 and Record.fields == ("a", "b"), (Field.made, Record.fields)
assert Record.a.name == "a" and Record.b.name == "b"
r = Record()
r.__dict__["b"] = 5
assert r.a == "unset" and r.b == 5
class Another:
    c = Field()
assert Field.made == 3 and Another.fields == ("c",) and Another.c.name == "c"

import enum
Strict = type(W)
assert Strict._boundary_ is enum.STRICT and W.value == 2
try:
    Strict(8)
except ValueError:
    pass
else:
    raise AssertionError("STRICT must refuse unknown bits")
print("ok")
'''

CHECK_SUB = CHECK_HOOK + r'''
[CsvReader] = obj
Base = CsvReader.__bases__[0]
no_stand_in(Base, CsvReader)
REGISTRY = Base.__dict__["__init_subclass__"].__func__.__globals__["REGISTRY"]
assert REGISTRY == {"csv": CsvReader}
class TsvReader(Base, kind="tsv"):
    pass
assert REGISTRY["tsv"] is TsvReader
print("ok")
'''

CHECK_BASE = CHECK_HOOK + r'''
# The hook's globals hold the registry, which holds the subclass: a cycle back to Base.
[Base] = obj
REGISTRY = Base.__dict__["__init_subclass__"].__func__.__globals__["REGISTRY"]
CsvReader = REGISTRY["csv"]
no_stand_in(Base, CsvReader)
assert CsvReader.__bases__ == (Base,) and CsvReader().read() == "csv"
class TsvReader(Base, kind="tsv"):
    pass
assert set(REGISTRY) == {"csv", "tsv"}
print("ok")
'''


@pytest.mark.parametrize("with_brinery", [False, True], ids=["stock-pickle", "brinery-installed"])
@pytest.mark.parametrize(
    "which,check",
    [("all", CHECK_ALL), ("sub", CHECK_SUB), ("base", CHECK_BASE)],
    ids=["everything", "subclass-only", "base-only"],
)
def test_hooks_intact_after_loading_in_a_fresh_interpreter_subprocess(which, check, with_brinery):
    data = run_python(MAIN_SCRIPT.replace("sys.argv[1]", repr(which)))
    code = (NO_BRINERY if not with_brinery else "import sys\n")
    code += "import pickle\nobj = pickle.loads(sys.stdin.buffer.read())\n"
    code += textwrap.dedent(check)
    assert run_python(code, stdin=data).decode().strip() == "ok"


# The same hooks, loaded in the process that defined them (classes from this module are
# stored by value as it is registered below).
REGISTRY = {}


class Base:
    def __init_subclass__(cls, *, kind, **kw):
        super().__init_subclass__(**kw)
        REGISTRY[kind] = cls


class CsvReader(Base, kind="csv"):
    pass


def test_local_subclass_of_a_by_value_base_loads_in_the_same_process():
    def make():
        class Local(Base, kind="local"):
            def who(self):
                return "local"

        return Local

    hook = Base.__dict__["__init_subclass__"]
    local = make()
    for obj in ([local], [Base, CsvReader, local], [CsvReader, local()]):
        data = brinery.dumps(obj, by_value=[__name__])
        loaded = pickle.loads(data)
        assert Base.__dict__["__init_subclass__"] is hook
        assert loaded[-1].who() == "local" if not isinstance(loaded[-1], type) else True

    class After(Base, kind="after"):
        pass

    assert REGISTRY["after"] is After and REGISTRY["csv"] is CsvReader


def test_set_name_is_not_called_again_in_the_same_process():
    calls = []

    class Described:
        def __set_name__(self, owner, name):
            calls.append(name)

    class Holder:
        x = Described()

    assert calls == ["x"]
    loaded = pickle.loads(brinery.dumps(Holder))
    assert loaded is Holder and calls == ["x"]


def test_flag_boundary_is_kept():
    class Strict(enum.IntFlag, boundary=enum.STRICT):
        R = 1
        W = 2

    data = brinery.dumps(Strict)
    code = NO_BRINERY + textwrap.dedent("""
    import enum, pickle
    Strict = pickle.loads(sys.stdin.buffer.read())
    assert Strict._boundary_ is enum.STRICT and Strict(3) == 3
    try:
        Strict(8)
    except ValueError:
        print("ok")
    """)
    assert run_python(code, stdin=data).decode().strip() == "ok"
