"""Standard-library objects stock pickle refuses but cloudpickle stores (descriptors,
property/classmethod/staticmethod, dict views, WeakSet, memoryview, bound methods that
cannot be found by name), and the `__builtins__` entry of by-value globals: each is
dumped here and checked in a fresh interpreter where brinery cannot be imported."""

import collections
import datetime
import functools
import fractions
import pickle
import sys
import textwrap
import weakref

import pytest

import brinery
from helpers import load_without_brinery


def check_in_child(obj, check_code):
    code = textwrap.dedent(check_code) + "\nprint('done')\n"
    out = load_without_brinery(brinery.dumps(obj), code)
    assert out.strip().endswith("done"), out


def test_property_classmethod_staticmethod_outside_a_class():
    def getter(self):
        return self.x * 2

    def twice(cls, v):
        return (cls.__name__, v * 2)

    def plain(v):
        return v + 1

    check_in_child(
        {"p": property(getter, None, None, "the doc"), "c": classmethod(twice),
         "s": staticmethod(plain)},
        """
        class K:
            x = 21
            p = obj["p"]
            c = obj["c"]
            s = obj["s"]
        assert type(obj["p"]) is property and obj["p"].__doc__ == "the doc"
        assert K().p == 42
        assert K.c(5) == ("K", 10)
        assert K.s(1) == 2
        """,
    )


def test_dict_views_keep_their_contents_and_type():
    d = {"a": 1, "b": [2], 3: "c"}
    od = collections.OrderedDict([("z", 1), ("y", 2)])
    views = [d.keys(), d.values(), d.items(), od.keys(), od.values(), od.items()]
    check_in_child(
        views,
        f"""
        expected = {[[type(v).__name__, list(v)] for v in views]!r}
        assert [[type(v).__name__, list(v)] for v in obj] == expected, obj
        """,
    )


def test_memoryview_contents_format_shape_and_writability():
    ro = memoryview(b"abcdef")
    rw = memoryview(bytearray(b"xyz"))
    ints = memoryview(bytearray(range(24))).cast("i", (2, 3))
    check_in_child(
        [ro, rw, ints],
        f"""
        ro, rw, ints = obj
        assert ro.tobytes() == b"abcdef" and ro.readonly
        assert rw.tobytes() == b"xyz" and not rw.readonly
        assert ints.format == "i" and ints.shape == (2, 3)
        assert ints.tolist() == {ints.tolist()!r}
        """,
    )


def test_memoryview_whose_format_cannot_be_rebuilt_is_refused_at_dump():
    import ctypes

    odd = memoryview((ctypes.c_int * 2)(1, 2))  # format '<i', which cast() refuses
    assert odd.format != "i"
    with pytest.raises(Exception):
        brinery.dumps(odd)


def test_weakset_items_survive_when_the_stream_holds_them():
    class Item:
        pass

    a, b = Item(), Item()
    check_in_child(
        {"items": [a, b], "ws": weakref.WeakSet([a, b])},
        """
        assert len(obj["ws"]) == 2
        assert set(map(id, obj["ws"])) == set(map(id, obj["items"]))
        """,
    )


def test_weak_dictionaries_keep_the_entries_the_stream_holds():
    class Key:
        pass

    class Value:
        pass

    k1, k2, v1, v2 = Key(), Key(), Value(), Value()
    check_in_child(
        {"held": [k1, v1], "wk": weakref.WeakKeyDictionary({k1: "one", k2: "two"}),
         "wv": weakref.WeakValueDictionary({"a": v1, "b": v2})},
        """
        import weakref
        assert type(obj["wk"]) is weakref.WeakKeyDictionary
        assert type(obj["wv"]) is weakref.WeakValueDictionary
        # Only what something else in the stream holds outlives the load.
        assert list(obj["wk"].items()) == [(obj["held"][0], "one")]
        assert list(obj["wv"].items()) == [("a", obj["held"][1])]
        """,
    )


def test_mappingproxy_stays_a_view_of_its_own_dict():
    import types

    backing = {"x": 1}
    check_in_child(
        [backing, types.MappingProxyType(backing), types.MappingProxyType({"y": 2})],
        """
        backing, proxy, other = obj
        assert dict(proxy) == {"x": 1} and dict(other) == {"y": 2}
        backing["z"] = 3
        assert proxy["z"] == 3
        """,
    )


def test_descriptors_of_class_namespaces_load_as_the_same_objects():
    check_in_child(
        [type.__dict__["__abstractmethods__"], type.__dict__["__basicsize__"],
         object.__dict__["__class__"]],
        """
        assert obj[0] is type.__dict__["__abstractmethods__"]
        assert obj[1] is type.__dict__["__basicsize__"]
        assert obj[2] is object.__dict__["__class__"]
        """,
    )


def test_getset_descriptor_of_a_by_value_class():
    class Local:
        pass

    check_in_child(
        [Local, Local.__dict__["__dict__"]],
        """
        cls, desc = obj
        assert desc is vars(cls)["__dict__"]
        """,
    )


def test_bound_method_held_by_its_own_object():
    class Foo:
        def __init__(self):
            def f2(self):
                return self

            self.f2 = f2.__get__(self)

    check_in_child(Foo(), "assert obj.f2() is obj")


def test_bound_method_found_by_name_is_written_exactly_as_pickle_writes_it():
    method = fractions.Fraction(1, 3).limit_denominator
    for protocol in range(2, 6):
        assert brinery.dumps(method, protocol) == pickle.dumps(method, protocol)


def test_bound_method_of_a_local_class_and_a_classmethod():
    class Counter:
        def __init__(self):
            self.n = 41

        def bump(self):
            self.n += 1
            return self.n

        @classmethod
        def name(cls):
            return cls.__name__

    check_in_child([Counter().bump, Counter.name], "assert obj[0]() == 42 and obj[1]() == 'Counter'")


def test_by_value_globals_have_builtins_for_c_level_imports():
    def parse():
        import datetime as dt

        return dt.datetime.strptime("04-01-1943", "%d-%m-%Y").isoformat()

    assert parse() == datetime.datetime(1943, 1, 4).isoformat()
    check_in_child(
        parse,
        """
        assert "__builtins__" in obj.__globals__
        assert obj() == "1943-01-04T00:00:00", obj()
        """,
    )


def test_lru_cache_function_by_value_keeps_recursion_size_and_typed():
    @functools.lru_cache(maxsize=128, typed=True)
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    fib(10)  # the cache itself is not stored
    check_in_child(
        fib,
        """
        assert obj.cache_info().currsize == 0
        assert obj(80) == 23416728348467685
        assert obj.cache_parameters() == {"maxsize": 128, "typed": True}
        assert obj.__name__ == "fib" and obj.__wrapped__(1) == 1
        """,
    )


def test_importable_lru_cache_function_is_written_as_pickle_writes_it():
    import fnmatch

    f = fnmatch._compile_pattern
    assert type(f) is functools._lru_cache_wrapper
    for protocol in range(6):
        assert brinery.dumps(f, protocol) == pickle.dumps(f, protocol)


def test_abc_abstract_descriptors_keep_their_kind_subprocess():
    import abc

    def make():
        class Shape(abc.ABC):
            @abc.abstractclassmethod
            def unit(cls): ...

            @abc.abstractstaticmethod
            def sides(): ...

            @abc.abstractproperty
            def area(self): ...

        return Shape

    data = brinery.dumps(make())
    out = load_without_brinery(
        data,
        """
        print(*(type(vars(obj)[n]).__name__ for n in ("unit", "sides", "area")))
        print(*sorted(obj.__abstractmethods__))
        """,
    )
    assert out.splitlines() == [
        "abstractclassmethod abstractstaticmethod abstractproperty",
        "area sides unit",
    ]


def test_standard_streams_load_as_the_loading_process_own_subprocess():
    data = brinery.dumps([functools.partial(print, file=sys.stderr), sys.stdout])
    out = load_without_brinery(data, "print(obj[0].keywords['file'] is sys.stderr, obj[1] is sys.stdout)")
    assert out.split() == ["True", "True"]


def test_a_wrapped_standard_stream_is_named_not_closed_at_every_protocol(monkeypatch):
    # Below protocol 2, copyreg's reduction of a Python subclass of TextIOWrapper (as
    # pytest's captured stderr is) wraps it in a throwaway TextIOWrapper that closes it.
    import gc
    import io

    class Wrapped(io.TextIOWrapper):
        pass

    stream = Wrapped(io.BytesIO())
    monkeypatch.setattr(sys, "stderr", stream)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        data = brinery.dumps(stream, protocol)
        gc.collect()
        assert not stream.closed, protocol
        assert pickle.loads(data) is stream


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_open_text_file_loads_as_its_contents_at_its_position_subprocess(tmp_path, protocol):
    path = tmp_path / "notes.txt"
    path.write_text("héllo\nwörld\r\nend", encoding="utf-8")
    with open(path, "r+", encoding="utf-8") as f:
        f.readline()  # past a non-ASCII line: tell() is a byte cookie, not an index
        cookie = f.tell()
        data = brinery.dumps(f, protocol)
        assert f.tell() == cookie and f.readline() == "wörld\n"
    assert b"brinery" not in data
    out = load_without_brinery(
        data,
        f"""
        import io
        assert type(obj) is io.StringIO, type(obj)
        assert obj.name == {str(path)!r}, obj.name
        assert obj.tell() == 6, obj.tell()
        assert obj.read() == "wörld\\nend", obj.getvalue()
        obj.seek(0)
        assert obj.read(6) == "héllo\\n"
        obj.write("!")  # an ordinary in-memory file
        print("ok")
        """,
    )
    assert out.split() == ["ok"]


@pytest.mark.parametrize("mode", ["rb", "r+b", "ab+"])
def test_open_binary_file_loads_as_bytesio_at_its_position_subprocess(tmp_path, mode):
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with open(path, mode) as f:
        f.seek(300)
        data = brinery.dumps({"f": f, "again": f})
        assert f.tell() == 300
    out = load_without_brinery(
        data,
        """
        import io
        f = obj["f"]
        assert type(f) is io.BytesIO and obj["again"] is f
        assert f.tell() == 300 and f.read(2) == bytes([44, 45])
        assert f.getvalue() == bytes(range(256)) * 4
        print("ok")
        """,
    )
    assert out.split() == ["ok"]


def test_unbuffered_file_and_empty_file(tmp_path):
    (tmp_path / "empty").write_text("")
    (tmp_path / "raw").write_bytes(b"raw bytes")
    with open(tmp_path / "empty") as e, open(tmp_path / "raw", "rb", buffering=0) as r:
        e2, r2 = pickle.loads(brinery.dumps([e, r]))
    assert e2.read() == "" and r2.read() == b"raw bytes"


def test_files_that_cannot_be_stored_say_why_with_their_path(tmp_path):
    path = tmp_path / "out.txt"
    with open(path, "w") as f:
        with pytest.raises(brinery.PicklingError, match=r"obj\['log'\]: cannot pickle file .*out.txt.*not open for reading \(mode 'w'\)"):
            brinery.dumps({"log": f})
    with pytest.raises(pickle.PicklingError, match=r"cannot pickle closed file .*out.txt"):
        brinery.dumps(f)
    with open(path, "ab") as f:
        with pytest.raises(pickle.PicklingError, match="not open for reading"):
            brinery.dumps(f)
    r, w = __import__("os").pipe()
    with open(r, "rb") as rf, open(w, "wb") as wf:
        with pytest.raises(pickle.PicklingError, match="cannot seek"):
            brinery.dumps(rf)
        with pytest.raises(pickle.PicklingError, match="not open for reading"):
            brinery.dumps(wf)


def test_terminal_is_refused():
    pty = pytest.importorskip("pty")
    import os

    leader, follower = pty.openpty()
    try:
        with open(follower, closefd=False) as tty:
            with pytest.raises(pickle.PicklingError, match="is a terminal"):
                brinery.dumps(tty)
    finally:
        os.close(leader)
        os.close(follower)


def test_cached_property_of_a_by_value_class_subprocess():
    # Its lock cannot be pickled (cloudpickle fails here); it is made anew, and the name
    # __set_name__ gave it comes back, so the cache lands under the right attribute.
    class Report:
        calls = 0

        def __init__(self, n):
            self.n = n

        @functools.cached_property
        def total(self):
            """The sum, computed once."""
            type(self).calls += 1
            return sum(range(self.n))

    r = Report(10)
    assert r.total == 45
    check_in_child(
        [Report, r, Report.__dict__["total"]],
        """
        import functools
        Report, r, prop = obj
        assert r.__dict__["total"] == 45 and r.total == 45
        fresh = Report(5)
        assert fresh.total == 10 and fresh.total == 10 and Report.calls == 2, Report.calls
        assert type(prop) is functools.cached_property and prop.attrname == "total"
        assert prop.__doc__ == "The sum, computed once." and prop is Report.__dict__["total"]
        """,
    )
