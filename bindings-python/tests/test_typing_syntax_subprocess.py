"""typing's definitions from ``__main__`` stored by value on every supported CPython:
``Generic`` classes keep ``__parameters__``; where the interpreter has PEP 695
(``type X = ...``, ``class C[T]``, ``def f[T]``) type aliases, generic aliases and
recursive aliases come back whole with their parameters, functions keep
``__type_params__``; where it has PEP 696 defaults they come back too; 3.13's
``__static_attributes__``/``__firstlineno__`` survive. Each stream is written by a
``__main__`` script and loaded by stock pickle in a fresh interpreter without brinery.
Features are detected by compiling their syntax, never by the version number."""

import textwrap

import pytest

from helpers import load_without_brinery, run_python


def compiles(source):
    try:
        compile(textwrap.dedent(source), "<probe>", "exec")
    except SyntaxError:
        return False
    return True


PEP_695 = compiles("type X = int\nclass C[T]: pass\ndef f[T](): pass\n")
PEP_696 = compiles("type X[T = int] = list[T]\n")


def dump_main(script):
    """Runs ``script`` as ``__main__`` and returns what it wrote to stdout."""
    return run_python(script)


def test_generic_class_keeps_its_parameters_subprocess():
    data = dump_main(
        """
        import sys, typing, brinery
        T = typing.TypeVar("T")
        K = typing.TypeVar("K", str, bytes)
        class Box(typing.Generic[T]):
            def __init__(self, v):
                self.v = v
        class Pair(Box[T], typing.Generic[T, K]):
            pass
        sys.stdout.buffer.write(brinery.dumps([Box, Pair, Box[int], Pair[int, str]]))
        """
    )
    out = load_without_brinery(
        data,
        """
        import typing
        Box, Pair, box_int, pair_int_str = obj
        (T,) = Box.__parameters__
        assert T.__name__ == "T" and T.__module__ == "__main__", T
        assert Pair.__parameters__[0] is T and Pair.__parameters__[1].__constraints__ == (str, bytes)
        assert typing.get_origin(box_int) is Box and typing.get_args(box_int) == (int,)
        assert typing.get_args(pair_int_str) == (int, str)
        assert Box[str](3).v == 3 and typing.get_args(Box[str]) == (str,)
        print("ok")
        """,
    )
    assert out.strip() == "ok"


@pytest.mark.skipif(not PEP_695, reason="this interpreter has no PEP 695 syntax")
def test_type_aliases_by_value_subprocess():
    data = dump_main(
        """
        import sys, brinery
        type Alias = list[int]
        type Pair[K] = tuple[K, K]
        type Json = dict[str, Json] | list[Json] | int | str | None
        type Bounded[N: int, S: (str, bytes)] = dict[N, S]
        type Call[**P, R] = tuple[P, R]
        type Many[*Ts] = tuple[*Ts]
        sys.stdout.buffer.write(brinery.dumps([Alias, Pair, Json, Bounded, Call, Many, Pair[int]]))
        """
    )
    out = load_without_brinery(
        data,
        """
        import typing
        Alias, Pair, Json, Bounded, Call, Many, pair_int = obj
        for a in obj[:6]:
            assert type(a).__name__ == "TypeAliasType" and a.__module__ == "__main__", a
        assert Alias.__name__ == "Alias" and Alias.__value__ == list[int] and Alias.__type_params__ == ()
        (K,) = Pair.__type_params__
        assert K.__name__ == "K" and K.__infer_variance__
        # The value refers to the alias's own parameter, as in the original.
        assert Pair.__value__ == tuple[K, K] and Pair.__value__.__args__[0] is K
        assert typing.get_origin(pair_int) is Pair and typing.get_args(pair_int) == (int,)
        # A recursive alias refers to itself.
        assert typing.get_args(typing.get_args(Json.__value__)[0])[1] is Json
        N, S = Bounded.__type_params__
        assert N.__bound__ is int and S.__constraints__ == (str, bytes)
        assert Bounded.__value__ == dict[N, S]
        P, R = Call.__type_params__
        assert type(P).__name__ == "ParamSpec" and type(R).__name__ == "TypeVar"
        (Ts,) = Many.__type_params__
        assert type(Ts).__name__ == "TypeVarTuple"
        print("ok")
        """,
    )
    assert out.strip() == "ok"


@pytest.mark.skipif(not PEP_695, reason="this interpreter has no PEP 695 syntax")
def test_generic_functions_and_classes_keep_type_params_subprocess():
    data = dump_main(
        """
        import sys, brinery
        def first[T](xs: list[T]) -> T:
            return xs[0]
        class Box[T: int]:
            def __init__(self, v: T):
                self.v = v
            def get(self) -> T:
                return self.v
        sys.stdout.buffer.write(brinery.dumps([first, Box, Box[bool]]))
        """
    )
    out = load_without_brinery(
        data,
        """
        import typing
        first, Box, box_bool = obj
        (T,) = first.__type_params__
        assert T.__name__ == "T" and first.__annotations__ == {"xs": list[T], "return": T}
        assert first([4, 5]) == 4
        (U,) = Box.__type_params__
        assert U.__bound__ is int and Box.__parameters__ == (U,)
        assert Box(3).get() == 3 and typing.get_args(box_bool) == (bool,)
        print("ok")
        """,
    )
    assert out.strip() == "ok"


@pytest.mark.skipif(not PEP_696, reason="this interpreter has no PEP 696 defaults")
def test_type_parameter_defaults_subprocess():
    data = dump_main(
        """
        import sys, typing, brinery
        type Seq[T = int] = list[T]
        class Box[T = str]:
            pass
        V = typing.TypeVar("V", default=bytes)
        sys.stdout.buffer.write(brinery.dumps([Seq, Box, V]))
        """
    )
    out = load_without_brinery(
        data,
        """
        Seq, Box, V = obj
        (T,) = Seq.__type_params__
        assert T.has_default() and T.__default__ is int and Seq.__value__ == list[T]
        assert Box.__type_params__[0].__default__ is str
        assert V.has_default() and V.__default__ is bytes
        print("ok")
        """,
    )
    assert out.strip() == "ok"


def test_compiler_class_attributes_survive_subprocess():
    # 3.13 records `__static_attributes__` and `__firstlineno__` in a class's namespace;
    # wherever the interpreter has them, the loaded class has the same.
    data = dump_main(
        """
        import sys, pickle, brinery
        class Point:
            def __init__(self, x):
                self.x = x
                self.y = -x
        names = ("__static_attributes__", "__firstlineno__")
        mine = {n: Point.__dict__[n] for n in names if n in Point.__dict__}
        sys.stdout.buffer.write(pickle.dumps((brinery.dumps(Point), mine)))
        """
    )
    import pickle

    stream, mine = pickle.loads(data)
    out = load_without_brinery(
        stream,
        f"""
        mine = {mine!r}
        for name, value in mine.items():
            assert obj.__dict__[name] == value, (name, obj.__dict__.get(name))
        p = obj(2)
        assert (p.x, p.y) == (2, -2)
        print("ok", sorted(mine))
        """,
    )
    assert out.startswith("ok")

    class Probe:
        def __init__(self):
            self.a = 1

    # Not vacuous where the interpreter records them.
    assert set(mine) == {n for n in ("__static_attributes__", "__firstlineno__") if n in Probe.__dict__}


def test_typing_objects_without_importing_typing_subprocess():
    # PEP 695 makes TypeVars and aliases with no `import typing` in the program: the
    # reductions are there all the same.
    if not PEP_695:
        pytest.skip("this interpreter has no PEP 695 syntax")
    data = dump_main(
        """
        import sys, brinery
        assert "typing" not in sys.modules
        class Box[T]:
            pass
        type Alias[K] = dict[K, Box[K]]
        sys.stdout.buffer.write(brinery.dumps([Box, Alias]))
        """
    )
    out = load_without_brinery(
        data,
        """
        Box, Alias = obj
        (K,) = Alias.__type_params__
        assert Alias.__value__.__args__[1].__args__ == (K,)
        assert Box.__type_params__[0].__name__ == "T"
        print("ok")
        """,
    )
    assert out.strip() == "ok"
