"""Enums stored by value (issue #24, section 3): members keep the attributes their
class's ``__init__`` or ``__new__`` gave them, and ``StrEnum``, ``IntFlag``, the
functional API, aliases, ``_missing_`` and ``_generate_next_value_`` keep working, in a
fresh interpreter without brinery and in the process that dumped them."""

import pickle

from helpers import NO_BRINERY, run_python

MAIN_SCRIPT = r'''
import enum, sys
import brinery

class Planet(enum.Enum):
    EARTH = (5.97e24, 6.37e6)
    MARS = (6.42e23, 3.39e6)
    def __init__(self, mass, radius):
        self.mass = mass
        self.radius = radius
    @property
    def gravity(self):
        return 6.67e-11 * self.mass / self.radius ** 2

class Currency(enum.Enum):
    def __new__(cls, symbol, code):
        obj = object.__new__(cls)
        obj._value_ = code
        obj.symbol = symbol
        return obj
    USD = ("$", "usd")
    EUR = ("€", "eur")

class Color(enum.StrEnum):
    RED = enum.auto()
    GREEN = enum.auto()
    CRIMSON = "red"

class Perm(enum.IntFlag):
    R = 4
    W = 2
    X = 1

class Shape(enum.Enum):
    SQUARE = 1
    CIRCLE = 2
    @classmethod
    def _missing_(cls, value):
        return cls.SQUARE if value == "box" else None

class Upper(enum.Enum):
    @staticmethod
    def _generate_next_value_(name, start, count, last_values):
        return name.upper() + "!"
    A = enum.auto()

Animal = enum.Enum("Animal", "CAT DOG")
Animal.__module__ = "__main__"

sys.stdout.buffer.write(brinery.dumps(
    [Planet.EARTH, Planet, Currency.USD, Color.CRIMSON, Color, Perm.R | Perm.W, Shape,
     Upper, Animal.DOG]))
'''

CHECKS = r'''
import enum
earth, Planet, usd, crimson, Color, rw, Shape, Upper, dog = obj
assert earth is Planet.EARTH and earth.mass == 5.97e24 and earth.radius == 6.37e6
assert Planet.MARS.mass == 6.42e23 and round(earth.gravity, 1) == 9.8
assert earth.value == (5.97e24, 6.37e6) and Planet((5.97e24, 6.37e6)) is earth
Currency = type(usd)
assert usd.symbol == "$" and Currency.EUR.symbol == "€" and Currency("usd") is usd
assert usd.value == "usd" and list(Currency) == [usd, Currency.EUR]
assert crimson is Color.RED and Color.RED == "red" and Color.GREEN == "green"
assert list(Color) == [Color.RED, Color.GREEN] and isinstance(Color.RED, str)
assert Color.__members__["CRIMSON"] is Color.RED
Perm = type(rw)
assert rw == 6 and Perm.W in rw and Perm.X not in rw and rw | Perm.X == 7
assert isinstance(rw, int) and list(Perm) == [Perm.R, Perm.W, Perm.X]
assert Shape("box") is Shape.SQUARE and Shape(2) is Shape.CIRCLE
try:
    Shape("ball")
except ValueError:
    pass
else:
    raise AssertionError("_missing_ said no")
assert Upper.A.value == "A!"
Animal = type(dog)
assert dog.value == 2 and list(Animal.__members__) == ["CAT", "DOG"]
print("ok")
'''


def test_enum_members_keep_their_attributes_without_brinery_subprocess():
    data = run_python(MAIN_SCRIPT)
    code = NO_BRINERY + "import pickle\nobj = pickle.loads(sys.stdin.buffer.read())\n" + CHECKS
    assert run_python(code, stdin=data).decode().strip() == "ok"


def test_enum_members_keep_their_identity_and_attributes_in_process():
    import enum

    import brinery

    def make():
        class Planet(enum.Enum):
            EARTH = (5.97e24, 6.37e6)

            def __init__(self, mass, radius):
                self.mass = mass
                self.moons = ["luna"]

        return Planet

    Planet = make()
    earth = pickle.loads(brinery.dumps(Planet.EARTH))
    assert earth is Planet.EARTH and earth.moons == ["luna"]
