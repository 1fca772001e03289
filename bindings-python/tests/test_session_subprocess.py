"""`brinery.dump_session`/`load_session` from scripts: a session saved in one `python`,
restored into another with brinery, and read with stock pickle where brinery is absent.
The same in a Jupyter kernel is in test_notebook_kernel_subprocess.py."""

import pickle
import warnings

import pytest

import brinery
from helpers import NO_BRINERY, run_python

# A script's session: every kind of name, shared references, and two that cannot be
# pickled (an open socket, a generator).
SESSION = """
    import collections, dataclasses, enum, functools, math, socket, sys, warnings
    import brinery

    counter = 0
    shared = [1, 2, 3]
    alias = shared
    table = {"shared": shared}
    scale = 10

    def bump():
        global counter
        counter += 1
        return counter

    def scaled(x):
        return x * scale

    square = lambda x: x * x

    def make_adder(n):
        def add(x):
            return x + n
        return add

    add5 = make_adder(5)

    @dataclasses.dataclass
    class Point:
        x: int
        y: int
        def norm2(self):
            return self.x ** 2 + self.y ** 2

    class Color(enum.Enum):
        RED = 1
        GREEN = 2

    origin = Point(0, 0)
    far = Point(3, 4)
    points = [origin, far, origin]
    favourite = Color.GREEN
    sqrt = math.sqrt
    partial_pow = functools.partial(pow, 2)
    Pair = collections.namedtuple("Pair", "a b")
    pair = Pair(1, "one")
    sock = socket.socket()
    gen = (i for i in range(3))
    big = bytes(range(256)) * 1000

    def save():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            brinery.dump_session(sys.argv[1], exclude=["save"])
        return [str(w.message).splitlines()[0] for w in caught]

    print(save())
    sock.close()
"""


@pytest.fixture(scope="module")
def session_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("session") / "session.pkl"
    import subprocess
    import sys
    import textwrap

    out = subprocess.run([sys.executable, "-c", textwrap.dedent(SESSION), str(path)],
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    assert "2 name(s) left out of the session" in out.stdout.decode()
    return path


def test_restored_into_a_fresh_script_with_brinery(session_file):
    out = run_python(f"""
        import warnings, brinery
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            skipped = brinery.load_session({str(session_file)!r})
        assert sorted(skipped) == ["gen", "sock"], skipped
        assert "socket" in skipped["sock"] and "generator" in skipped["gen"], skipped
        assert len(caught) == 1 and issubclass(caught[0].category, brinery.SessionWarning)
        # Functions of the session use this module's globals, as before the save.
        assert bump.__globals__ is globals()
        assert (bump(), bump(), counter) == (1, 2, 2)
        scale = 3
        assert scaled(2) == 6
        # Shared references stay shared, across names and inside values.
        assert alias is shared and table["shared"] is shared and points[0] is points[2]
        assert square(7) == 49 and add5(1) == 6
        assert far.norm2() == 25 and isinstance(far, Point) and Point.__module__ == "__main__"
        assert favourite is Color.GREEN
        assert sqrt(16.0) == 4.0 and partial_pow(3) == 8 and pair.b == "one"
        assert big == bytes(range(256)) * 1000
        assert "brinery" not in skipped and "sock" not in globals()
        assert "In" not in globals()
        print("ok")
    """)
    assert out.strip() == b"ok"


def test_read_with_stock_pickle_where_brinery_is_absent(session_file):
    out = run_python(f"""
        {NO_BRINERY.strip()}
        import pickle
        with open({str(session_file)!r}, "rb") as f:
            ns = pickle.load(f)
        assert "brinery" not in ns and "sock" not in ns and "gen" not in ns
        assert ns["alias"] is ns["shared"]
        assert ns["bump"]() == 1 and ns["bump"]() == 2
        assert ns["far"].norm2() == 25 and ns["add5"](1) == 6
        # Or into a module: the functions keep the dict the stream gave them.
        globals().update(ns)
        assert square(3) == 9 and favourite.name == "GREEN"
        print("ok")
    """)
    assert out.strip() == b"ok"


def test_loaded_into_a_named_module_and_excluded_names(session_file, tmp_path):
    # Saved from a module other than __main__, with names excluded by pattern; a
    # function that reads an excluded name still gets it.
    out = run_python(f"""
        import sys, types, brinery
        m = types.ModuleType("lab")  # not importable: its functions go by value
        exec("limit = 4\\ntmp_a = 1\\ntmp_b = 2\\n"
             "def capped(x):\\n    return min(x, limit) + tmp_a\\n", vars(m))
        data = brinery.dump_session(module=m, exclude=["tmp_*", "limit"])
        target = types.ModuleType("restored")
        assert brinery.load_session(data, module=target) == {{}}
        assert "tmp_b" not in vars(target)
        assert target.capped(10) == 5 and target.capped.__globals__ is vars(target)
        assert target.limit == 4  # read by capped, so it came along
        print("ok")
    """)
    assert out.strip() == b"ok"


def test_value_that_fails_in_its_own_reduce_is_skipped():
    class Refuses:
        def __reduce__(self):
            raise RuntimeError("no pickling for me")

    import types

    m = types.ModuleType("refusing")
    m.good = [1, 2]
    m.bad = Refuses()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = brinery.dump_session(module=m)
    assert "bad" in str(caught[0].message)
    assert pickle.loads(data) == {"good": [1, 2]}
    target = types.ModuleType("t")
    with pytest.warns(brinery.SessionWarning, match="no pickling for me"):
        skipped = brinery.load_session(data, module=target)
    assert list(skipped) == ["bad"] and target.good == [1, 2]


def test_not_a_session():
    with pytest.raises(pickle.UnpicklingError, match="not a brinery session"):
        brinery.load_session(pickle.dumps({"a": 1}) + bytes(16))
