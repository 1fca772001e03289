#!/usr/bin/env python3
"""Regenerates brinery's shared pickle test vectors with CPython (3.11).

Run ``python3 core/tests/vectors/generate.py``. It writes, next to itself, one file per
case and protocol (the exact ``pickle.dumps`` bytes and the exact ``pickletools.dis``
text), the expected decoded value of every plain-data case in canonical text ("ctext"),
a JSON description of each plain-data case's object graph, handcrafted Python 2-era
streams with what ``pickle.loads`` makes of them, and ``manifest.json`` listing all of it.
``README.md`` documents the formats. It also regenerates ``core/src/compat_table.rs``
from ``_compat_pickle``.

The output is deterministic: the script re-executes itself with ``PYTHONHASHSEED=0`` so
that the iteration order of sets and frozensets of strs and bytes is stable.
"""

import collections
import copyreg
import datetime
import decimal
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import types
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compat_table import write_compat_table  # noqa: E402
from ctext import children, ctext, is_memoized, is_plain  # noqa: E402

if os.environ.get("PYTHONHASHSEED") != "0":
    env = dict(os.environ, PYTHONHASHSEED="0")
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)

HERE = os.path.dirname(os.path.abspath(__file__))
ALL_PROTOCOLS = [0, 1, 2, 3, 4, 5]

# ---- classes for the non-plain cases, under a stable module name --------------------

MODULE_NAME = "brinery_vectors"
vectors_module = types.ModuleType(MODULE_NAME)
sys.modules[MODULE_NAME] = vectors_module


def in_module(cls):
    cls.__module__ = MODULE_NAME
    setattr(vectors_module, cls.__qualname__, cls)
    return cls


@in_module
class Point:
    """Pickled through copyreg's extension registry (EXT1/EXT2/EXT4)."""

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __repr__(self):
        return "Point(%r)" % (self.__dict__,)


@in_module
class Stateful:
    """An instance with ``__getstate__`` (BUILD with a custom state)."""

    def __init__(self, name):
        self.name = name

    def __getstate__(self):
        return {"name": self.name, "version": 2}

    def __setstate__(self, state):
        self.name = state["name"]


@in_module
class KwOnly:
    """``__getnewargs_ex__`` with keyword arguments gives NEWOBJ_EX at protocol 4+."""

    def __new__(cls, a, *, b):
        self = object.__new__(cls)
        self.a = a
        self.b = b
        return self

    def __getnewargs_ex__(self):
        return (self.a,), {"b": self.b}


@in_module
class Document:
    """Stored outside the pickle and referred to by a persistent id."""

    def __init__(self, key):
        self.key = key


@in_module
class Wide2:
    """Registered with a two-byte extension code (EXT2)."""


@in_module
class Wide4:
    """Registered with a four-byte extension code (EXT4)."""


copyreg.add_extension(MODULE_NAME, "Point", 0x42)
copyreg.add_extension(MODULE_NAME, "Wide2", 300)
copyreg.add_extension(MODULE_NAME, "Wide4", 70000)


class PersistentPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Document):
            return self.make_pid(obj)
        return None


class StrPidPickler(PersistentPickler):
    def make_pid(self, doc):
        return "doc:%s" % doc.key


class TuplePidPickler(PersistentPickler):
    def make_pid(self, doc):
        return ("doc", doc.key)


# ---- JSON description of an object graph ------------------------------------------


def graph_json(root):
    """An arena of nodes; memoized objects are one node however often they are reached."""
    nodes = []
    ids = {}

    def node(obj):
        if is_memoized(obj) and id(obj) in ids:
            return ids[id(obj)]
        index = len(nodes)
        nodes.append(None)
        if is_memoized(obj):
            ids[id(obj)] = index
        t = type(obj)
        if obj is None:
            nodes[index] = ["none"]
        elif t is bool:
            nodes[index] = ["bool", obj]
        elif t is int:
            if -(2**63) <= obj < 2**63:
                nodes[index] = ["int", str(obj)]
            else:
                size = (obj.bit_length() + 8) // 8
                le = obj.to_bytes(size, "little", signed=True)
                while len(le) > 1 and ((le[-1] == 0 and le[-2] < 0x80) or
                                       (le[-1] == 0xFF and le[-2] >= 0x80)):
                    le = le[:-1]
                nodes[index] = ["int", str(obj), le.hex()]
        elif t is float:
            nodes[index] = ["float", struct.pack(">d", obj).hex()]
        elif t is str:
            try:
                obj.encode("utf-8")
                nodes[index] = ["str", obj]
            except UnicodeEncodeError:
                nodes[index] = ["surrogate_str", obj.encode("utf-8", "surrogatepass").hex()]
        elif t is bytes:
            nodes[index] = ["bytes", obj.hex()]
        elif t is bytearray:
            nodes[index] = ["bytearray", obj.hex()]
        elif t in (list, tuple, set, frozenset):
            nodes[index] = [t.__name__, [node(x) for x in obj]]
        elif t is dict:
            nodes[index] = ["dict", [[node(k), node(v)] for k, v in obj.items()]]
        else:
            raise TypeError("not plain data: %r" % t)
        return index

    root_index = node(root)
    return {"root": root_index, "nodes": nodes}


# ---- the cases --------------------------------------------------------------------


def plain_cases():
    cases = []

    def case(name, obj, protocols=ALL_PROTOCOLS, note=""):
        cases.append({"name": name, "obj": obj, "protocols": protocols, "note": note})

    # scalars
    case("none", None)
    case("true", True)
    case("false", False)
    ints = {
        "int_0": 0, "int_1": 1, "int_255": 255, "int_256": 256, "int_65535": 65535,
        "int_65536": 65536, "int_2p31_minus_1": 2**31 - 1, "int_2p31": 2**31,
        "int_neg_2p31": -(2**31), "int_neg_2p31_minus_1": -(2**31) - 1, "int_neg_1": -1,
        "int_neg_256": -256, "int_2p63_minus_1": 2**63 - 1, "int_2p63": 2**63,
        "int_neg_2p63": -(2**63), "int_neg_2p63_minus_1": -(2**63) - 1, "int_2p64": 2**64,
        "int_neg_2p64": -(2**64), "int_2p70": 2**70, "int_neg_2p40": -(2**40),
        "int_2p31_times_255": 255 * 2**31, "int_128": 128, "int_neg_128": -128,
        "int_300_digits": int("7" * 300), "int_neg_300_digits": -int("3" * 300),
        "int_2p2039": 2**2039, "int_2p2040_minus_1": 2**2040 - 1,
    }
    for name, value in ints.items():
        case(name, value)
    floats = {
        "float_0": 0.0, "float_neg_0": -0.0, "float_1_5": 1.5, "float_1e16": 1e16,
        "float_1e_5": 1e-5, "float_inf": float("inf"), "float_neg_inf": float("-inf"),
        "float_nan": float("nan"), "float_third": 1 / 3, "float_1e22": 1e22,
        "float_neg_1_25e_300": -1.25e-300, "float_123456789_0": 123456789.0,
    }
    for name, value in floats.items():
        case(name, value)

    # str
    case("str_empty", "")
    case("str_ascii", "hello, world")
    case("str_latin1", "caf\xe9 \xff\xa0")
    case("str_bmp", "\u20ac\u4e2d\u6587\uffff")
    case("str_astral", "\U0001f600\U0010ffff")
    case("str_controls", "\n\r\\\x00\x1a")
    case("str_quotes", "it's \"quoted\" \\u0041")
    case("str_lone_surrogate", "\ud800")
    case("str_surrogates_mixed", "a\udcff\ud83d\ude00b")
    case("str_70000", ("0123456789" * 7000)[:69990] + "\u20ac" * 10)

    # bytes / bytearray
    case("bytes_empty", b"")
    case("bytes_short", b"\x00\x01abc\x7f\x80\xff\\'\"")
    case("bytes_255", bytes(range(255)))
    case("bytes_256", bytes(range(256)))
    case("bytes_70000", bytes(32 + i % 95 for i in range(69990)) + bytes(range(246, 256)))
    case("bytearray_empty", bytearray())
    case("bytearray_short", bytearray(b"\x00xyz\xff"))
    case("bytearray_300", bytearray(range(256)) + bytearray(44))

    # lists, dicts, tuples
    for n in (0, 1, 2, 999, 1000, 1001, 2500):
        case("list_%d" % n, [i % 300 for i in range(n)])
    for n in (0, 1, 2, 999, 1000, 1001, 2000, 2500):
        case("dict_%d" % n, {i: i % 7 for i in range(n)})
    for n in range(6):
        case("tuple_%d" % n, tuple(range(10, 10 + n)))
    case("tuple_nested", ((), ((),), (1, (2, (3,)))))
    case(
        "nested",
        {"a": [1, 2.5, None, {"b": (True, False)}], "c": {"d": [[], {}, ()]},
         "e": b"raw", "f": "text"},
    )

    # sets and frozensets
    case("set_empty", set())
    case("set_ints", {1, 2, 3, 1000, -5})
    case("set_strs", {"apple", "banana", "cherry", "date"})
    case("frozenset_empty", frozenset())
    case("frozenset_ints", frozenset({7, 8, 9}))
    case("frozenset_strs", frozenset({"x", "yy", "zzz"}))
    case("set_1000", set(range(1000)))
    case("set_1001", set(range(1001)))
    case("frozenset_1000", frozenset(range(1000)))
    case("set_one", {"only"})
    case("set_of_frozensets", {frozenset({1, 2}), frozenset(), frozenset({"a"})})

    # shared references
    lst = [1, 2]
    case("shared_list", [lst, lst])
    dct = {"k": "v"}
    case("shared_dict", [dct, dct])
    s = "shared string"
    case("shared_str", [s, s])
    tup = (1, "two")
    case("shared_tuple", [tup, tup])
    st = {1, 2}
    case("shared_set", [st, st, frozenset(st)])
    b = b"shared bytes"
    case("shared_bytes", [b, b, bytearray(b"x")])
    fs = frozenset({1})
    case("shared_frozenset", (fs, [fs], {fs: fs}))
    inner = [0]
    case("shared_deep", {"a": [inner, (inner,)], "b": inner})

    # cycles
    cyc_list = []
    cyc_list.append(cyc_list)
    case("cycle_list", cyc_list)
    cyc_dict = {}
    cyc_dict["self"] = cyc_dict
    case("cycle_dict", cyc_dict)
    holder = []
    cyc_tuple = (holder, 5)
    holder.append(cyc_tuple)
    case("cycle_tuple_in_list", holder)
    case("cycle_tuple_root", cyc_tuple, note="the root is the tuple; its list refers back")
    holder2 = []
    big_tuple = (1, 2, 3, holder2)
    holder2.append(big_tuple)
    case("cycle_tuple4", [big_tuple], note="a recursive tuple of 4 items (MARK ... POP_MARK)")
    holder3 = []
    nested_t = ((holder3,),)
    holder3.append(nested_t)
    case("cycle_tuple_nested", nested_t, note="recursion through two tuple levels")
    keys = ["k%d" % i for i in range(300)]
    case("memo_over_256", [keys, list(reversed(keys))],
         note="memo indexes past 255: LONG_BINPUT and LONG_BINGET")

    # sizes that exercise framing
    case("frames_structure", ["%05d-" % i + "x" * 494 for i in range(300)],
         note="about 150 KB: several FRAMEs at protocol 4+")
    case("frames_big_bytes", [b"head", b"a" * (200 * 1024), b"tail"],
         protocols=[3, 4, 5], note="a 200 KiB payload written outside any frame")
    case("frames_big_str", ["head", "b" * (70 * 1024), "tail"],
         protocols=[4, 5], note="a 70 KiB str payload written outside any frame")
    case("frames_exact_boundary", [b"c" * (64 * 1024 - 40), b"d" * 100, "e" * 30, 1],
         protocols=[4, 5], note="a frame that crosses 64 KiB inside a list")

    # mixed
    case("bools_and_bigints", [True, 2**100, False, -(2**100), True, 2**64 - 1, 0, -1])
    case(
        "dict_mixed_keys",
        {1: "one", (2, 3): "tuple", frozenset({4}): "frozenset", "s": 5, None: 6,
         1.5: 7, b"b": 8, (): 9, False: 10},
    )
    case("deep_nesting", nest(100))
    return cases


def nest(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def nonplain_cases():
    cases = []

    def case(name, obj, protocols=ALL_PROTOCOLS, note="", pickler=None):
        cases.append({"name": name, "obj": obj, "protocols": protocols, "note": note,
                      "pickler": pickler})

    case("ordereddict", collections.OrderedDict([("b", 1), ("a", [2])]))
    case("datetime", datetime.datetime(2024, 2, 29, 13, 45, 30, 123456))
    case("decimal", decimal.Decimal("-3.14159"))
    case("complex", complex(1.5, -2.0))
    case("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678"))
    case("extension", [Point(1, 2), Point(3, 4)],
         note="copyreg.add_extension('%s', 'Point', 0x42)" % MODULE_NAME)
    case("extension_wide", [Wide2, Wide4, Wide2()], protocols=[2, 3, 4, 5],
         note="copyreg extension codes 300 (EXT2) and 70000 (EXT4)")
    case("getstate", Stateful("widget"))
    case("newobj_ex", KwOnly(1, b="two"), protocols=[2, 3, 4, 5],
         note="NEWOBJ_EX at protocol 4+; copyreg.__newobj_ex__ reduction at 2-3")
    case("persid_str", ["before", Document(7), "after"], pickler=StrPidPickler,
         note="persistent_id returns the str 'doc:<key>'")
    case("persid_tuple", ["before", Document(7), Document(7)], protocols=[1, 2, 3, 4, 5],
         pickler=TuplePidPickler, note="persistent_id returns the tuple ('doc', key)")
    case("oob_buffers",
         [pickle.PickleBuffer(bytearray(b"writable buffer")),
          pickle.PickleBuffer(b"readonly buffer"), b"in band"],
         protocols=[5], note="protocol 5 out-of-band buffers via buffer_callback")
    case("inband_picklebuffer",
         [pickle.PickleBuffer(bytearray(b"writable")), pickle.PickleBuffer(b"readonly")],
         protocols=[5], note="PickleBuffer without buffer_callback: in-band BYTEARRAY8/BYTES")
    case("range", range(1, 10, 2))
    case("same_module_classes",
         [collections.OrderedDict(a=1), collections.Counter("abca"), Stateful("s"),
          KwOnly(2, b=3), collections.OrderedDict(b=2)],
         protocols=[2, 3, 4, 5], note="classes of one module share the module name's memo entry")
    case("list_subclass_state", [collections.UserList([1, 2]), types.SimpleNamespace(x=1, y=[2])])
    case("global_function", [len, pickle.dumps])
    return cases


# ---- Python 2-era streams ---------------------------------------------------------


def py2_streams():
    return [
        ("py2_string_ascii", b"(lp0\nS'abc'\np1\naS\"it's\"\np2\naS'tab\\there\\n'\np3\na.",
         "STRING with escapes, ascii content"),
        ("py2_string_nonascii", b"(lp0\nS'caf\\xe9'\np1\naS'\\x00\\\\'\np2\na.",
         "STRING whose escapes decode to non-ascii bytes"),
        ("py2_binstring", b"\x80\x01]q\x00(T\x03\x00\x00\x00abcq\x01T\x02\x00\x00\x00\xc3\xa9q\x02e.",
         "BINSTRING, ascii and non-ascii"),
        ("py2_short_binstring", b"\x80\x02]q\x00(U\x03abcq\x01U\x04\xff\x00\xe9\x80q\x02h\x01e.",
         "SHORT_BINSTRING with non-ascii bytes, memoized and fetched"),
        ("py2_short_binstring_ascii", b"\x80\x02}q\x00(U\x01aK\x01U\x01bK\x02u.",
         "a dict with SHORT_BINSTRING keys"),
        ("py2_int_bools", b"(lp0\nI01\naI00\naI42\naI-7\na.", "INT with I01/I00 booleans"),
        ("py2_long", b"(lp0\nL123456789012345678901234567890L\naL-5L\naL0L\na.",
         "LONG text form with the L suffix"),
        ("py2_inst", b"(S'ab'\ni__builtin__\nlist\np0\n.",
         "INST: list('ab') via __builtin__.list"),
        ("py2_obj", b"(c__builtin__\ntuple\n(lp0\nI1\naI2\nao.",
         "OBJ: tuple([1, 2])"),
        ("py2_inst_class", b"(I3\nI4\ni%s\nPoint\np0\n." % MODULE_NAME.encode(),
         "INST of a class: Point(3, 4)"),
        ("py2_text_containers",
         b"(dp0\nS'a'\np1\nI1\nsS'b'\np2\n(I2\nI3\ntp3\nsS'c'\np4\n(I4\nlp5\ns"
         b"S'd'\np6\n(S'k'\nI5\ndp7\ns.",
         "protocol 0 DICT/LIST/TUPLE text forms and SETITEM"),
        ("py2_builtin_globals",
         b"(lp0\nc__builtin__\nset\np1\n((lp2\nI1\naI2\natp3\nRp4\na"
         b"c__builtin__\nfrozenset\np5\n((lp6\nS'x'\np7\natp8\nRp9\na.",
         "__builtin__.set and frozenset globals with REDUCE"),
        ("py2_xrange", b"c__builtin__\nxrange\n(I0\nI5\nI1\ntR.",
         "__builtin__.xrange maps to builtins.range"),
        ("py2_reconstructor_set",
         b"ccopy_reg\n_reconstructor\np0\n(c__builtin__\nset\np1\ng1\n(lp2\nI1\naI2\natp3\nRp4\n.",
         "copy_reg._reconstructor(set, set, [1, 2])"),
        ("py2_reconstructor_class",
         b"ccopy_reg\n_reconstructor\np0\n(c%s\nPoint\np1\nc__builtin__\nobject\np2\nNtp3\n"
         b"Rp4\n(dp5\nS'x'\np6\nI1\nsS'y'\np7\nI2\nsb." % MODULE_NAME.encode(),
         "a Python 2 new-style instance at protocol 0"),
        ("py2_unicode", b"(lp0\nVcaf\\u00e9\np1\naX\x02\x00\x00\x00\xc3\xa9q\x02a.",
         "UNICODE and BINUNICODE are str under every encoding"),
        ("py2_dup_pop", b"(I1\nI2\n1]2aN0.",
         "POP_MARK, DUP (a list appended to itself) and POP, which CPython never writes"),
        ("py2_datetime",
         b"\x80\x02cdatetime\ndatetime\nq\x00U\n\x07\xdf\x01\x02\x03\x04\x05\x00\x00\x06"
         b"q\x01\x85q\x02Rq\x03.",
         "datetime(2015, 1, 2, 3, 4, 5, 6) as Python 2 writes it"),
    ]


# ---- writing ----------------------------------------------------------------------


def dis_text(data):
    out = io.StringIO()
    pickletools.dis(data, out=out)
    return out.getvalue()


def write_bytes(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def write_text(name, text):
    with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def dumps_with(obj, protocol, pickler=None, buffer_callback=None):
    f = io.BytesIO()
    cls = pickler or pickle.Pickler
    cls(f, protocol=protocol, buffer_callback=buffer_callback).dump(obj)
    return f.getvalue()


def clean():
    for entry in os.listdir(HERE):
        path = os.path.join(HERE, entry)
        if entry in ("generate.py", "ctext.py", "README.md", ".gitignore") or os.path.isdir(path):
            continue
        os.remove(path)


def main():
    clean()
    manifest = {"python": sys.version.split()[0], "cases": [], "py2": []}

    for c in plain_cases():
        obj = c["obj"]
        assert is_plain(obj), c["name"]
        files = {}
        for p in c["protocols"]:
            data = pickle.dumps(obj, protocol=p)
            assert dumps_with(obj, p) == data
            write_bytes("%s.p%d.pickle" % (c["name"], p), data)
            write_text("%s.p%d.dis" % (c["name"], p), dis_text(data))
            files[str(p)] = "%s.p%d.pickle" % (c["name"], p)
        write_text(c["name"] + ".txt", ctext(obj) + "\n")
        write_text(c["name"] + ".json",
                   json.dumps(graph_json(obj), ensure_ascii=False, separators=(",", ":"))
                   + "\n")
        entry = {"name": c["name"], "plain": True, "protocols": c["protocols"],
                 "txt": c["name"] + ".txt", "json": c["name"] + ".json"}
        if c["note"]:
            entry["note"] = c["note"]
        manifest["cases"].append(entry)

    for c in nonplain_cases():
        done, failed = [], {}
        buffers = {}
        for p in c["protocols"]:
            bufs = []
            callback = bufs.append if c["name"] == "oob_buffers" else None
            try:
                data = dumps_with(c["obj"], p, c["pickler"], callback)
            except Exception as e:  # recorded, not hidden: some objects need a protocol
                failed[str(p)] = type(e).__name__
                continue
            write_bytes("%s.p%d.pickle" % (c["name"], p), data)
            write_text("%s.p%d.dis" % (c["name"], p), dis_text(data))
            done.append(p)
            if bufs:
                names = []
                for i, buf in enumerate(bufs):
                    fname = "%s.p%d.buf%d" % (c["name"], p, i)
                    write_bytes(fname, bytes(buf.raw()))
                    names.append({"file": fname, "readonly": buf.raw().readonly})
                buffers[str(p)] = names
        entry = {"name": c["name"], "plain": False, "protocols": done}
        if failed:
            entry["unpicklable"] = failed
        if buffers:
            entry["buffers"] = buffers
        if c["note"]:
            entry["note"] = c["note"]
        manifest["cases"].append(entry)

    for name, data, note in py2_streams():
        write_bytes(name + ".pickle", data)
        entry = {"name": name, "pickle": name + ".pickle", "note": note}
        try:
            write_text(name + ".dis", dis_text(data))
            entry["dis"] = name + ".dis"
        except Exception as e:  # pickletools.dis cannot show non-ascii STRING args
            entry["dis_error"] = type(e).__name__
        results = {}
        for enc in ("ascii", "latin1", "bytes"):
            try:
                value = pickle.loads(data, encoding=enc)
            except Exception as e:
                write_text("%s.%s.error" % (name, enc), type(e).__name__ + "\n")
                results[enc] = {"error": type(e).__name__}
                continue
            if is_plain(value):
                write_text("%s.%s.txt" % (name, enc), ctext(value) + "\n")
                results[enc] = {"txt": "%s.%s.txt" % (name, enc)}
            else:
                results[enc] = {"not_plain": "%s: %r" % (type(value).__qualname__, value)}
        entry["results"] = results
        manifest["py2"].append(entry)

    write_text("manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    write_compat_table()


if __name__ == "__main__":
    main()
