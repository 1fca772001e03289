"""``brinery.safe_loads``: equal to ``pickle.loads`` on plain data and the standard
types (checked by re-pickling both results, which compares values, sharing and cycles at
once), refuses anything outside the allowlist with the offending global and its byte
offset, and keeps every allocation bounded."""

import collections
import datetime
import decimal
import fractions
import json
import pickle
import uuid
from pathlib import Path

import pytest

import brinery
from brinery.safe import DEFAULT_ALLOW, default_max_alloc

VECTORS = Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors"

STANDARD_CASES = {"complex", "datetime", "decimal", "ordereddict", "range", "uuid",
                  "inband_picklebuffer"}


def same(a, b):
    """Equal values with the same sharing and cycles: identical pickles."""
    return pickle.dumps(a, protocol=5) == pickle.dumps(b, protocol=5)


def vector_cases():
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    for case in manifest["cases"]:
        if not (case["plain"] or case["name"] in STANDARD_CASES):
            continue
        for p in case["protocols"]:
            yield case["name"], p


@pytest.mark.parametrize("name,protocol", list(vector_cases()))
def test_cpython_vectors_load_as_pickle_loads(name, protocol):
    data = (VECTORS / f"{name}.p{protocol}.pickle").read_bytes()
    try:
        want = pickle.loads(data)
    except Exception as e:  # a vector CPython itself refuses (e.g. non-ASCII py2 str)
        with pytest.raises(pickle.UnpicklingError):
            brinery.safe_loads(data)
        assert e is not None
        return
    got = brinery.safe_loads(data)
    assert same(got, want), (name, protocol)


class Plain:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return type(other) is Plain and other.x == self.x


class WithSlots:
    __slots__ = ("a", "b")

    def __getstate__(self):
        return None, {"a": self.a, "b": self.b}

    def __eq__(self, other):
        return (self.a, self.b) == (other.a, other.b)


STANDARD = [
    datetime.date(2024, 2, 29), datetime.time(1, 2, 3, 4), datetime.timedelta(days=-3, seconds=5),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
    datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2), "X")),
    datetime.timezone.utc, decimal.Decimal("-1.50"), decimal.Decimal("NaN"),
    fractions.Fraction(-7, 3), collections.OrderedDict([("b", 1), ("a", [2])]),
    collections.deque([1, 2], maxlen=5), collections.Counter("abracadabra"),
    collections.defaultdict(list, {"k": [1]}), uuid.UUID("12345678-1234-5678-1234-567812345678"),
    complex(1.5, -2), range(1, 10, 3), slice(1, None, 2), {1, 2}, frozenset("ab"),
    bytearray(b"\x00\xff"), b"bytes", ..., NotImplemented, None, int, dict,
]


@pytest.mark.parametrize("protocol", range(6))
def test_standard_types_round_trip(protocol):
    for v in STANDARD:
        got = brinery.safe_loads(pickle.dumps(v, protocol=protocol))
        assert (got == v or same(got, v)) and type(got) is type(v), (v, protocol)


@pytest.mark.parametrize("protocol", range(6))
def test_shared_references_and_cycles(protocol):
    shared = [1]
    cyc = []
    cyc.append(cyc)
    t = ([],)
    t[0].append(t)
    d = {}
    d["self"] = d
    for v in ([shared, shared, (shared,)], cyc, t, d, [t, t]):
        got = brinery.safe_loads(pickle.dumps(v, protocol=protocol))
        assert same(got, v)
    got = brinery.safe_loads(pickle.dumps([shared, shared], protocol=protocol))
    assert got[0] is got[1]
    got = brinery.safe_loads(pickle.dumps(t, protocol=protocol))
    assert got[0][0] is got


@pytest.mark.parametrize("protocol", range(6))
def test_classes_are_refused_with_name_and_offset_then_allowed(protocol):
    data = pickle.dumps([1, Plain(2)], protocol=protocol)
    name = f"{__name__}.Plain"
    with pytest.raises(brinery.UnsafePickleError) as info:
        brinery.safe_loads(data)
    err = info.value
    assert isinstance(err, pickle.UnpicklingError)
    assert err.global_name == name
    assert err.offset == [f.offset for f in brinery.scan(data).imports if f.target == name][0]
    assert f"global {name} is not allowed at byte {err.offset}" == str(err)
    assert brinery.safe_loads(data, allow=[Plain]) == [1, Plain(2)]
    assert brinery.safe_loads(data, allow=[name]) == [1, Plain(2)]


@pytest.mark.parametrize("protocol", range(6))
def test_slot_state_and_reconstructor_for_allowed_classes(protocol):
    w = WithSlots()
    w.a, w.b = 1, [2]
    got = brinery.safe_loads(pickle.dumps(w, protocol=protocol), allow=[WithSlots])
    assert got == w


def test_default_allowlist_is_all_safe_for_the_scanner():
    from brinery import _brinery  # noqa: F401 (the scanner judges the same names)

    for g in DEFAULT_ALLOW:
        module, name = g.split(".", 1)
        stream = f"c{module}\n{name}\n.".encode()
        assert brinery.scan(stream).severity == "safe", g


@pytest.mark.parametrize("stream,why", [
    (b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x40\x85R.", "int size"),
    (b"\x80\x02c__builtin__\nlist\nc__builtin__\nrange\nK\x00J\xff\xff\xff\x7f\x86R\x85R.", "range"),
    (b"\x80\x02cfractions\nFraction\nU\x0b1e999999999\x85R.", "only n or n/d"),
    (b"\x80\x02c_codecs\nencode\nU\x01xU\x09hex_codec\x86R.", "encoding"),
])
def test_amplifying_calls_of_allowed_globals_are_refused(stream, why):
    with pytest.raises(brinery.UnsafePickleError, match=why):
        brinery.safe_loads(stream)


def test_build_on_a_class_is_refused():
    stream = b"\x80\x02cdatetime\ndate\nN}U\x03maxK\x01s\x86b."
    with pytest.raises(brinery.UnsafePickleError, match="class or module"):
        brinery.safe_loads(stream)
    assert datetime.date.max == datetime.date(9999, 12, 31)


def test_calls_of_built_objects_are_refused_before_anything_runs():
    # datetime.timedelta(1)(): refused by the check, nothing called.
    stream = b"\x80\x02cdatetime\ntimedelta\nK\x01\x85R)R."
    with pytest.raises(brinery.UnsafePickleError, match="call of an object the stream built at byte 27"):
        brinery.safe_loads(stream)


def test_decode_errors_carry_the_offset():
    with pytest.raises(brinery.UnpicklingError) as info:
        brinery.safe_loads(b"\x80\x02]q\x00(K\x01K\x02")
    assert info.value.offset == 10
    assert isinstance(info.value, pickle.UnpicklingError)
    with pytest.raises(brinery.UnpicklingError, match="unknown opcode 0xff at byte 2"):
        brinery.safe_loads(b"\x80\x02\xff")
    with pytest.raises(brinery.UnpicklingError, match="persistent id"):
        brinery.safe_loads(b"Pabc\n.")


def test_decode_errors_carry_the_code_of_the_core_table():
    """``code`` is the core's name for the failure: C's status is ``BRINERY_DECODE_<code>``
    (``BRINERY_<code>`` for a refused global), read here from the committed header."""
    header = (Path(__file__).parents[2] / "bindings-c" / "include" / "brinery.h").read_text()
    cases = [
        (b"\x80\x02X\x10\x00\x00\x00ab", {}, "TRUNCATED"),
        (b"\x80\x02\xff", {}, "UNKNOWN_OPCODE"),
        (b"\x80\x02K\x01", {}, "NO_STOP"),
        (b"\x80\x02h\x07.", {}, "MEMO_KEY_MISSING"),
        (b"(" * 200 + b"N" + b"l" * 200 + b".", {"max_depth": 50}, "TOO_DEEP"),
        (b"\x80\x04N" + b"\x94" * 100 + b".", {"max_memo": 10}, "MEMO_LIMIT"),
        (b"cos\nsystem\n.", {}, "FORBIDDEN_GLOBAL"),
    ]
    for stream, kwargs, code in cases:
        with pytest.raises(brinery.UnpicklingError) as info:
            brinery.safe_loads(stream, **kwargs)
        assert info.value.code == code, (stream, str(info.value))
        status = "BRINERY_" + code if code == "FORBIDDEN_GLOBAL" else "BRINERY_DECODE_" + code
        assert f"{status} = " in header
    # Failures only Python has carry no code.
    with pytest.raises(brinery.UnpicklingError) as info:
        brinery.safe_loads(b"Pabc\n.")
    assert info.value.code is None
    with pytest.raises(brinery.UnpicklingError) as info:
        brinery.safe_loads(b"\x80\x02cdatetime\ndate\nK\x00K\x00K\x00\x87R.")
    assert info.value.code is None


def test_failing_constructors_become_unpickling_errors_with_cause():
    stream = b"\x80\x02cdatetime\ndate\nK\x00K\x00K\x00\x87R."
    with pytest.raises(brinery.UnpicklingError) as info:
        brinery.safe_loads(stream)
    assert isinstance(info.value.__cause__, ValueError)


def test_extension_codes_resolve_through_the_registry_and_the_allowlist():
    import copyreg

    stream = b"\x80\x02\x82\x7fK\x01K\x02\x86R."
    with pytest.raises(brinery.UnsafePickleError, match="extension code 127"):
        brinery.safe_loads(stream)
    copyreg.add_extension("builtins", "complex", 127)
    try:
        assert brinery.safe_loads(stream) == complex(1, 2)
        copyreg.remove_extension("builtins", "complex", 127)
        copyreg.add_extension("posix", "system", 127)
        with pytest.raises(brinery.UnsafePickleError, match="posix.system") as info:
            brinery.safe_loads(stream)
        assert info.value.offset == 2
    finally:
        copyreg.clear_extension_cache()
        for key, code in list(copyreg._extension_registry.items()):
            if code == 127:
                copyreg.remove_extension(*key, 127)


def test_buffers_and_encoding_as_pickle_loads():
    bufs = [pickle.PickleBuffer(b"abc"), pickle.PickleBuffer(bytearray(b"de"))]
    data = pickle.dumps(bufs, protocol=5, buffer_callback=lambda b: False)
    got = brinery.safe_loads(data, buffers=[b"abc", bytearray(b"de")])
    assert [bytes(b) for b in got] == [b"abc", b"de"]
    with pytest.raises(brinery.UnpicklingError):
        brinery.safe_loads(data)
    py2 = b"U\x03\xe9t\xe9."
    assert brinery.safe_loads(py2, encoding="latin1") == "été" == pickle.loads(py2, encoding="latin1")
    assert brinery.safe_loads(py2, encoding="bytes") == b"\xe9t\xe9"
    with pytest.raises(brinery.UnpicklingError):
        brinery.safe_loads(py2)


def test_depth_memo_and_allocation_limits():
    deep = b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b"."
    assert brinery.safe_loads(deep, max_depth=6000)
    with pytest.raises(brinery.UnpicklingError, match="limit of 100"):
        brinery.safe_loads(deep, max_depth=100)
    marks = b"(" * 200 + b"N" + b"l" * 200 + b"."
    with pytest.raises(brinery.UnpicklingError, match="limit of 50"):
        brinery.safe_loads(marks, max_depth=50)
    memo = b"\x80\x04N" + b"\x94" * 100 + b"."
    with pytest.raises(brinery.UnpicklingError, match="memo"):
        brinery.safe_loads(memo, max_memo=10)
    big = pickle.dumps([b"x" * 10_000] * 3)
    with pytest.raises(brinery.UnpicklingError, match="limit"):
        brinery.safe_loads(big, max_alloc=5_000)
    assert len(brinery.safe_loads(big)) == 3
    assert default_max_alloc(1024) == (1 << 20) + 64 * 1024


def test_safe_load_reads_a_file(tmp_path):
    p = tmp_path / "x.pickle"
    p.write_bytes(pickle.dumps({"a": datetime.date(2020, 1, 1)}))
    with open(p, "rb") as f:
        assert brinery.safe_load(f) == {"a": datetime.date(2020, 1, 1)}


HOSTILE_KB = {
    "sets": b"\x80\x04](" + b"\x8f" * 1017 + b"e.",
    "dups": b"\x80\x02]" + b"2a" * 510 + b".",
    "memo": b"\x80\x02Nr\xff\xff\xff\x7f(" + b"j\xff\xff\xff\x7f" * 200 + b"l.",
    "claim": b"\x80\x04\x8e\x00\x00\x00\x00\x01\x00\x00\x00" + b"A" * 1012 + b".",
    "deep": b"\x80\x02" + b"]" * 510 + b"a" * 509 + b".",
    "dicts": b"\x80\x02](" + b"}" * 1018 + b"e.",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_KB))
def test_one_kb_stream_stays_within_the_bound_subprocess(name):
    """Peak RSS of a fresh interpreter loading the stream grows by less than twice the
    default allocation bound (tree plus objects) plus interpreter noise."""
    import subprocess
    import sys

    data = HOSTILE_KB[name]
    assert len(data) <= 1100
    code = (
        "import resource, sys, brinery\n"
        "data = sys.stdin.buffer.read()\n"
        "brinery.safe_loads(b'\\x80\\x04K\\x01.')\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    v = brinery.safe_loads(data)\nexcept Exception as e:\n    v = e\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) * 1024)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    grew = int(r.stdout)
    assert grew < 2 * default_max_alloc(len(data)) + (4 << 20), (name, grew)


def test_deep_tuples_and_lists_are_limit_errors_not_crashes():
    tuples = b"\x80\x02cos\nsystem\n" + b"\x85" * 200_000 + b"."
    with pytest.raises(brinery.UnsafePickleError, match="os.system"):
        brinery.safe_loads(tuples)
    assert brinery.scan(tuples).severity == "dangerous"
    with pytest.raises(brinery.UnpicklingError, match="nesting deeper than the limit of 10000"):
        brinery.safe_loads(b"\x80\x02N" + b"\x85" * 200_000 + b".")
    lists = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."
    with pytest.raises(brinery.UnpicklingError, match="nesting"):
        brinery.safe_loads(lists)


def test_str_with_a_codec_is_refused():
    stream = b"\x80\x02c__builtin__\nstr\nC\x01xU\x04idna\x86R."
    with pytest.raises(brinery.UnsafePickleError, match="encoding"):
        brinery.safe_loads(stream)
    ok = b"\x80\x02c__builtin__\nstr\nC\x01xU\x06latin1\x86R."
    assert brinery.safe_loads(ok) == "x"
