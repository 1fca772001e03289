"""Attributes of instances whose type inherits its reduction from a type written in C
(an ``ndarray``, ``datetime`` or ``Decimal`` subclass): stock pickle and cloudpickle
lose them; brinery sets them back, and the stream still loads with stock pickle where
brinery is absent. A type whose own Python code defines the reduction keeps what it
chose to store, and an instance with nothing in its ``__dict__`` is written byte for
byte as pickle writes it."""

import datetime
import decimal
import pickle

import numpy as np

import brinery
from helpers import load_without_brinery, run_python


class Day(datetime.date):
    pass


def test_empty_dict_keeps_pickles_bytes():
    assert brinery.dumps(Day(2026, 12, 6)) == pickle.dumps(Day(2026, 12, 6))


def test_attributes_survive_in_the_same_process():
    d = Day(2026, 12, 6)
    d.note = "release"
    back = pickle.loads(brinery.dumps(d))
    assert back == d and back.note == "release" and type(back) is Day
    assert not hasattr(pickle.loads(pickle.dumps(d)), "note")  # what pickle does


def test_c_reduced_subclasses_keep_their_attributes_subprocess():
    data = run_python(
        """
        import datetime, decimal, sys
        import numpy as np
        import brinery

        class TestArray(np.ndarray):
            pass

        class Money(decimal.Decimal):
            pass

        class Stamp(datetime.datetime):
            pass

        class Cached:
            def __init__(self, x):
                self.x = x
            def __reduce__(self):  # leaves `cache` out on purpose
                return (Cached, (self.x,))

        a = np.arange(6).view(TestArray)
        a.color = "green"
        m = Money("1.25")
        m.currency = "EUR"
        s = Stamp(2026, 12, 6, 23, 0)
        s.zone_name = "UTC"
        s.owner = s  # refers back to itself
        c = Cached(3)
        c.cache = "large"
        sys.stdout.buffer.write(brinery.dumps([a, m, s, c]))
        """
    )
    out = load_without_brinery(
        data,
        """
        a, m, s, c = obj
        assert type(a).__name__ == "TestArray" and a.color == "green" and a.tolist() == [0, 1, 2, 3, 4, 5]
        assert str(m) == "1.25" and m.currency == "EUR"
        assert s.zone_name == "UTC" and s.owner is s and s.hour == 23
        assert c.x == 3 and not hasattr(c, "cache")
        print("ok")
        """,
    )
    assert out.strip() == "ok"


def test_numpy_subclass_round_trip_in_process():
    a = np.zeros(3).view(type("Tagged", (np.ndarray,), {}))
    a.unit = "m"
    back = pickle.loads(brinery.dumps(a))
    assert back.unit == "m" and back.shape == (3,)
    m = decimal.Decimal("2")
    assert pickle.loads(brinery.dumps(m)) == m
