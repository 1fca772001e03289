"""Plain data gives exactly the bytes of ``pickle.dumps`` at every protocol."""

import collections
import io
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import brinery

shared = [1, 2]
cyclic = []
cyclic.append(cyclic)
cyclic_tuple = ([],)
cyclic_tuple[0].append(cyclic_tuple)

VALUES = [
    None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31, 2**63,
    -(2**63) - 1, 2**1000, -(2**1000), 1.5, -0.0, float("inf"), float("nan"),
    "", "abc", "\ud800 lone", "é" * 300, "x" * 70000, b"", b"abc", b"x" * 300,
    b"y" * 70000, bytearray(b"ab"), bytearray(), [], [1], list(range(2500)),
    (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), {}, {1: 2}, {i: str(i) for i in range(2000)},
    {i: i for i in range(1000)}, set(), {1, 2}, set(range(1000)), set(range(2001)),
    frozenset(), frozenset({1, 2}), [shared, shared, (shared, shared)], cyclic,
    cyclic_tuple, object, len, pickle.dumps, type(None), NotImplemented, ...,
    range(3), complex(1, 2), [{"a": i, "b": str(i) * 5, "c": [1.5, True]} for i in range(20000)],
]

# More than 64 KiB, so frames split: they must split exactly where CPython splits them.
NESTED_BIG = [[{"a": i, "b": [1.5, True]} for i in range(20000)]]
SOME_BIG = [NESTED_BIG, NESTED_BIG[0], [{"k": i} for i in range(50000)]]


@pytest.mark.parametrize("proto", [4, 5])
@pytest.mark.parametrize("which", range(len(SOME_BIG)))
def test_big_frames_identical(which, proto):
    value = SOME_BIG[which]
    assert brinery.dumps(value, proto) == pickle.dumps(value, proto)


@pytest.mark.parametrize("proto", range(6))
def test_nested_big_loads_equal(proto):
    assert pickle.loads(brinery.dumps(NESTED_BIG, proto)) == NESTED_BIG


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_bytes_identical_to_pickle(value, proto):
    assert brinery.dumps(value, proto) == pickle.dumps(value, proto)


def test_default_protocol_matches_pickle():
    assert brinery.dumps({"a": [1, 2]}) == pickle.dumps({"a": [1, 2]})


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.binary(),
    lambda children: st.lists(children) | st.tuples(children, children)
    | st.dictionaries(st.text() | st.integers(), children)
    | st.frozensets(st.integers()),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(value=plain, proto=st.integers(0, 5))
def test_bytes_identical_to_pickle_hypothesis(value, proto):
    assert brinery.dumps(value, proto) == pickle.dumps(value, proto)


def test_dump_to_file_matches_dumps(tmp_path):
    value = [{"k": i} for i in range(50000)]
    path = tmp_path / "x.pkl"
    with open(path, "wb") as f:
        brinery.dump(value, f, 5)
    assert path.read_bytes() == pickle.dumps(value, 5)


def test_protocol_5_out_of_band_buffers():
    buf = pickle.PickleBuffer(b"hello world")
    got = []
    data = brinery.dumps(buf, 5, buffer_callback=lambda b: got.append(b) or False)
    assert data == pickle.dumps(buf, 5, buffer_callback=lambda b: False)
    assert bytes(pickle.loads(data, buffers=got)) == b"hello world"


class BigBytes(bytes):
    pass


class MakesBigBytes:
    """Reduces to a bytes object made on the fly: nothing but the stream refers to it."""

    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        return (BigBytes, (bytes([self.n % 251]) * (70000 + self.n),))


def _large_payloads():
    text = "é" * 100000
    blob = b"b" * 200000
    return [
        blob, text, "\ud800" + "x" * 70000, bytearray(b"y" * 80000), "small",
        b"z" * 65536, b"w" * 65535, "v" * 65536, [text, blob, text], BigBytes(b"s" * 90000),
        [MakesBigBytes(i) for i in range(5)], {"k": blob, "t": (text, blob)},
    ]


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_large_payloads_identical_in_dumps_and_dump(proto, tmp_path):
    # Payloads of a frame or more are not copied into the encoder's buffer but spliced
    # in from their objects at the end (or written to the file as they are): the bytes
    # must be exactly pickle's, with memo references to them and temporaries among them.
    value = _large_payloads()
    if proto == 5:
        value.append(pickle.PickleBuffer(b"q" * 90000))
    expected = pickle.dumps(value, proto)
    assert brinery.dumps(value, proto) == expected
    assert brinery.Pickler(None, proto).dumps(value) == expected
    path = tmp_path / "big.pkl"
    with open(path, "wb") as f:
        brinery.dump(value, f, proto)
    assert path.read_bytes() == expected
    writes = []

    class Recorder:
        def write(self, data):
            writes.append(bytes(data))
            return len(data)

    brinery.Pickler(Recorder(), proto).dump(value)
    assert b"".join(writes) == expected
    assert pickle.loads(expected) == pickle.loads(b"".join(writes))


class _Recorder:
    def __init__(self):
        self.writes = []

    def write(self, data):
        self.writes.append(bytes(data))
        return len(data)


@pytest.mark.parametrize("proto", [4, 5])
def test_dump_writes_each_frame_as_pickle_dump_does(proto):
    # Frames go to the file as they are committed, one write each, none for the header
    # alone: the same calls, byte for byte, as pickle.dump makes.
    value = [{"name": f"item{i}", "id": i, "tags": ["a", i]} for i in range(20000)]
    oracle = _Recorder()
    pickle.dump(value, oracle, proto)
    for dump in (brinery.dump, lambda v, f, p: brinery.Pickler(f, p).dump(v)):
        ours = _Recorder()
        dump(value, ours, proto)
        assert [len(w) for w in ours.writes] == [len(w) for w in oracle.writes]
        assert ours.writes == oracle.writes


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_dump_of_many_mid_sized_payloads_makes_few_large_writes(proto):
    # Payloads under 64 KiB are copied into the run of stream around them rather than
    # written one call each; bigger ones are written as their own objects.
    value = [bytes([i % 251]) * 4096 for i in range(600)] + [b"L" * (1 << 17)] * 2
    value += ["t%d" % i * 700 for i in range(300)] + [bytes([i]) * 70000 for i in range(3)]
    ours = _Recorder()
    brinery.dump(value, ours, proto)
    stream = b"".join(ours.writes)
    assert stream == pickle.dumps(value, proto)
    sizes = [len(w) for w in ours.writes]
    # About one write per 64 KiB of stream, plus the runs between big payloads...
    assert len(sizes) <= len(stream) // (1 << 16) + 8, sizes
    # ...and none much larger than 64 KiB but the big payloads themselves: the stream
    # is written as it is made, not held to the end. (At protocol 0 bytes are escaped
    # text, written inside the run like any opcode.)
    if proto >= 1:
        assert all(n < 1 << 17 or w in value for n, w in zip(sizes, ours.writes)), sizes


def test_dump_takes_what_pickle_dump_takes():
    with pytest.raises(TypeError, match="'write' attribute"):
        brinery.dump([1], object())
    with pytest.raises(ValueError, match="buffer_callback"):
        brinery.dump([1], io.BytesIO(), 4, buffer_callback=lambda b: None)
    got = []
    f = io.BytesIO()
    brinery.dump(pickle.PickleBuffer(b"oob" * 10), f, 5, buffer_callback=got.append)
    assert bytes(pickle.loads(f.getvalue(), buffers=got)) == b"oob" * 10
    f = io.BytesIO()
    brinery.dump(3, f)
    assert f.getvalue() == pickle.dumps(3)


def test_large_payloads_with_a_kept_memo():
    # A Pickler's memo outlives a dump: a payload met again in a later dump is a GET,
    # exactly as stock pickle.Pickler writes it, and the first stream stays intact.
    blob = b"m" * 300000
    text = "t" * 100000
    writes = []

    class Recorder:
        def write(self, data):
            writes.append(bytes(data))

    ours = brinery.Pickler(Recorder(), 4)
    oracle_file = io.BytesIO()
    oracle = pickle.Pickler(oracle_file, 4)
    for value in ([blob], [blob, text, blob], [text]):
        writes.clear()
        ours.dump(value)
        start = oracle_file.tell()
        oracle.dump(value)
        assert b"".join(writes) == oracle_file.getvalue()[start:]


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("fix_imports", [True, False])
def test_fix_imports_as_pickle(proto, fix_imports):
    # Below protocol 3, fix_imports writes Python 2 names (__builtin__.xrange for range);
    # off, the Python 3 names stay. Every entry point takes it as pickle's do.
    value = [range, set([1]), bytearray(b"x"), ValueError, collections.OrderedDict(a=1)]
    expected = pickle.dumps(value, proto, fix_imports=fix_imports)
    assert brinery.dumps(value, proto, fix_imports=fix_imports) == expected
    assert brinery.Pickler(None, proto, fix_imports=fix_imports).dumps(value) == expected
    f = io.BytesIO()
    brinery.dump(value, f, proto, fix_imports=fix_imports)
    assert f.getvalue() == expected
    f = io.BytesIO()
    brinery.Pickler(f, proto, fix_imports=fix_imports).dump(value)
    assert f.getvalue() == expected
    assert pickle.loads(expected) == value


def test_arguments_taken_as_pickle_takes_them():
    # brinery.dumps/dump are the native functions themselves: their keywords must still
    # behave as pickle's (flags by truth value, protocol None = the default, keywords
    # after the protocol only) and as the Python wrapper they replaced did.
    value = [range, {"a": (1, 2.5)}, b"x" * 3000]
    for flag in (0, 1, "", "yes", None, [], [0]):
        expected = pickle.dumps(value, 2, fix_imports=flag)
        assert brinery.dumps(value, 2, fix_imports=flag) == expected
        f = io.BytesIO()
        brinery.dump(value, f, 2, fix_imports=flag)
        assert f.getvalue() == expected
    assert brinery.dumps(value, None) == pickle.dumps(value)
    assert brinery.dumps(value, -1) == pickle.dumps(value, -1)
    assert brinery.dumps(value, protocol=3) == pickle.dumps(value, 3)
    with pytest.raises(TypeError):
        brinery.dumps(value, 5, True)
    with pytest.raises(TypeError):
        brinery.dumps(value, 5, nonsense=True)
    with pytest.raises(ValueError, match="pickle protocol must be <= 5"):
        brinery.dumps(value, 6)
    with pytest.raises(TypeError, match="'write'"):
        brinery.dump(value, object())
    # by_value takes module objects or names, in any iterable; plain data ignores it.
    assert brinery.dumps(value, 5, by_value=[collections]) == pickle.dumps(value, 5)
    assert brinery.dumps(value, 5, by_value=iter(["collections"])) == pickle.dumps(value, 5)
    with pytest.raises(TypeError):
        brinery.dumps(value, 5, by_value=3)


# Short str and bytes payloads are copied in fixed-size pieces: every length around
# those pieces (and non-ASCII text, whose UTF-8 is longer than the str) must come out as
# pickle writes it.
SHORT_PAYLOADS = (
    [b"b" * n for n in range(40)]
    + ["s" * n for n in range(40)]
    + ["é" * n for n in range(20)]
    + ["x" * n + "€" for n in range(30)]
)


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_short_payloads_of_every_length_identical(proto):
    assert brinery.dumps(SHORT_PAYLOADS, proto) == pickle.dumps(SHORT_PAYLOADS, proto)
    for value in SHORT_PAYLOADS:
        assert brinery.dumps(value, proto) == pickle.dumps(value, proto)


def _mid_sized_stream(n):
    # Past 256 KiB a stream goes into its bytes object as frames commit, and from then
    # on payloads of 512 bytes to 2 KiB are spliced in from their objects too: sizes on
    # both sides of both limits, shared (memo GETs) and not, str and bytes.
    sizes = [255, 256, 511, 512, 513, 1024, 2047, 2048, 2049]
    items = []
    for i in range(n):
        size = sizes[i % len(sizes)]
        items.append(bytes([i % 251]) * size)
        items.append(chr(0x61 + i % 26) * (size - 1) + "é")
        items.append(i)
    shared = b"shared" * 200
    return [items, shared, [shared, items[:50]], "tail"]


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_growing_stream_with_mid_sized_payloads_identical(proto, tmp_path):
    value = _mid_sized_stream(1500)
    expected = pickle.dumps(value, proto)
    assert len(expected) > 2 * 1024 * 1024
    # Twice: the second call starts from the first one's size.
    assert brinery.dumps(value, proto) == expected
    assert brinery.dumps(value, proto) == expected
    assert brinery.Pickler(None, proto).dumps(value) == expected
    path = tmp_path / "mid.pkl"
    with open(path, "wb") as f:
        brinery.dump(value, f, proto)
    assert path.read_bytes() == expected
    # A small dump after a big one on the same thread is unaffected.
    assert brinery.dumps(["small", b"x" * 600], proto) == pickle.dumps(["small", b"x" * 600], proto)


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_persistent_id_declining_everything_equals_pickle(proto):
    # persistent_id sees every object, leaves included; those it declines are saved as
    # without it (memo hits, bytes as reductions below protocol 3).
    def make(base):
        class P(base):
            def persistent_id(self, obj):
                return None

        return P

    s = "shared"
    b = b"bytes"
    inner = [s, b, 1.5]
    data = [s, s, b, b, inner, inner, {"k": (inner, s)}, None, True, 2**70, bytearray(b"ba")]
    outs = []
    for base in (pickle.Pickler, brinery.Pickler):
        f = io.BytesIO()
        make(base)(f, proto).dump(data)
        outs.append(f.getvalue())
    assert outs[0] == outs[1]


def _random_big_stream(seed):
    # Past 256 KiB `dumps` writes into its result as it goes: payloads under 1 KiB on
    # average are copied in one by one (the open frame's header fixed when it closes),
    # longer ones with their frames, and payloads of 64 KiB or more outside frames. A
    # random mix of all of them, with repeats (memo GETs) and nesting.
    import random

    rng = random.Random(seed)
    items, seen, total = [], [], 0
    while total < 700_000:
        kind = rng.random()
        size = rng.choice([rng.randrange(0, 40), rng.randrange(200, 1100), rng.randrange(1000, 5000)])
        if kind < 0.35:
            item = bytes([rng.randrange(256)]) * size
        elif kind < 0.6:
            item = rng.choice(["a", "é", "€", "x"]) * size
        elif kind < 0.7 and seen:
            item = rng.choice(seen)
        elif kind < 0.8:
            item = [bytes(rng.randrange(1, 600)), rng.randrange(-(2**40), 2**40), "k" * rng.randrange(300)]
        elif kind < 0.82:
            item = b"L" * rng.choice([65_535, 65_536, 70_000])
            size = len(item)
        else:
            item = rng.randrange(-(2**70), 2**70)
        items.append(item)
        if rng.random() < 0.1:
            seen.append(item)
        total += size + 8
    return items


@pytest.mark.parametrize("seed", range(4))
def test_random_streams_past_the_growing_size_identical(seed):
    value = _random_big_stream(seed)
    for proto in (2, 3, 4, 5):
        expected = pickle.dumps(value, proto)
        assert len(expected) > 512 * 1024
        assert brinery.dumps(value, proto) == expected, proto
    assert brinery.Pickler(None, 5).dumps(value) == pickle.dumps(value, 5)
