"""The chunked paths of brinery.Pool (map, imap, imap_unordered, starmap, map_async with a
chunksize): what decides that a chunk may go as a stock pickle (``PlainWriter``), a
starmap chunk sent as columns, and that every shape of chunk comes back whole, in order,
with the error of the right item, on real workers."""

import collections
import enum
import itertools
import pickle
import time

import pytest

from brinery._brinery import chunk_pickles, columns, place_results, plain_results
from brinery.pool._codec import lead_opcodes
from brinery.pool import Pool
from brinery.pool._codec import THRESHOLD, PlainWriter

WAIT = 30  # seconds; no test may block longer


def args_of(*args):
    return args


def big(n):
    return bytes([n % 256]) * THRESHOLD


def slow_fail(x):
    if x == 10:
        time.sleep(0.5)  # (the later chunk's error arrives first)
        raise ValueError("first")
    if x == 500:
        raise ValueError("later")
    return x


class Colour(enum.IntEnum):
    RED = 1


class Opaque:
    def __eq__(self, other):
        return type(other) is Opaque


Pair = collections.namedtuple("Pair", "a b")


@pytest.fixture(params=["fork", "spawn"])
def pool(request):
    with Pool(2, start_method=request.param) as p:
        yield p


@pytest.mark.parametrize(
    "value",
    [
        [1, 2.5, None, True, "s", b"b", 3j],
        [(1, "a"), (2, "b")],
        {"k": [1, {2, 3}, frozenset({4})], 5: bytearray(b"x")},
        (lambda shared: [shared, shared, (shared,)])([1, 2]),
        [[[[[1]]]]],
    ],
)
def test_plain_writer_writes_the_stock_pickle_of_plain_values(value):
    writer = PlainWriter()
    message = (1, 7, value)
    data = writer.dumps(message, value)
    assert data == pickle.dumps(message, 5)
    assert pickle.loads(data) == message


@pytest.mark.parametrize(
    "value",
    [
        [1, lambda: 1],  # by value in brinery; stock pickle would name it
        [1, Opaque()],
        [Colour.RED],  # (an int subclass)
        [Pair(1, 2)],  # (a tuple subclass)
        [b"x", [big(1)]],  # large bytes go out of band
        [pickle.PickleBuffer(big(2))],
    ],
)
def test_plain_writer_refuses_what_brinery_would_write_otherwise(value):
    writer = PlainWriter()
    assert writer.dumps((1, 7, value), value) is None
    # Nothing of the failed attempt is left behind: the next message is whole.
    assert writer.dumps((1, 7, [1, 2]), [1, 2]) == pickle.dumps((1, 7, [1, 2]), 5)


def test_plain_writer_names_the_allowed_function_only():
    writer = PlainWriter()
    assert writer.dumps((1, len, [1]), [1]) is None
    data = writer.dumps((1, len, [1]), [1], allowed=len)
    assert pickle.loads(data) == (1, len, [1])
    assert writer.dumps((1, len, [len]), [len], allowed=abs) is None


def test_columns_of_a_chunk_of_equal_tuples_and_nothing_else():
    assert columns([(1, "a"), (2, "b"), (3, "c")]) == ([1, 2, 3], ["a", "b", "c"])
    assert columns([(1,)]) == ([1],)
    for chunk in ([], [()], [(1,), (2, 3)], [(1,), [2]], [Pair(1, 2)], [1], ["ab"]):
        assert columns(chunk) is None, chunk


def test_starmap_chunks_of_every_shape_in_subprocess(pool):
    shapes = [
        [(i, i + 1) for i in range(50)],  # columns
        [(i,) * (i % 3) for i in range(50)],  # lengths differ
        [[i, i] for i in range(50)],  # lists
        [Pair(i, -i) for i in range(50)],  # a tuple subclass
        ["ab", "cd", (1, 2)],  # any iterable unpacks
        [(i, Opaque()) for i in range(20)],  # not plain: the full encoder
        [(i, big(i)) for i in range(3)],  # large bytes: out of band
    ]
    for chunk in shapes:
        want = list(itertools.starmap(args_of, chunk))
        for chunksize in (1, 7, None):
            assert pool.starmap(args_of, chunk, chunksize) == want
            assert pool.starmap_async(args_of, chunk, chunksize).get(WAIT) == want
    xs, ys = list(range(100)), list(range(100, 200))
    assert list(pool.map(pow, xs, ys, [7] * 100, chunksize=8)) == [pow(x, y, 7) for x, y in zip(xs, ys)]


def test_chunks_of_large_values_both_ways_in_subprocess(pool):
    xs = list(range(6))
    assert pool.map_async(big, xs, chunksize=4).get(WAIT) == [big(x) for x in xs]
    assert list(pool.imap(len, [big(x) for x in xs], chunksize=4)) == [THRESHOLD] * 6


def test_map_async_values_in_place_and_the_error_of_the_first_chunk_in_subprocess(pool):
    xs = list(range(1003))
    for chunksize in (1, 7, 100, 1000, None):
        assert pool.map_async(abs, xs, chunksize).get(WAIT) == xs
    errors = []
    r = pool.map_async(slow_fail, xs, chunksize=5, error_callback=errors.append)
    with pytest.raises(ValueError, match="first"):
        r.get(WAIT)
    assert [str(e) for e in errors] == ["first"]


def test_lazy_calls_over_a_list_in_subprocess(pool):
    xs = list(range(1000))
    assert list(pool.imap(abs, xs, chunksize=7)) == xs
    assert sorted(pool.imap_unordered(abs, xs, chunksize=7)) == xs
    it = pool.imap(abs, xs, chunksize=100)
    assert [next(it) for _ in range(150)] == xs[:150]
    assert list(it) == xs[150:]


def test_more_tasks_than_the_window_all_come_back_in_subprocess(pool):
    # 10,000 tasks against a window of 4,096: once full, the window is topped up a batch
    # at a time as results are taken (imap) or arrive (map).
    xs = list(range(10_000))
    assert list(pool.imap(abs, iter(xs))) == xs
    assert sorted(pool.imap_unordered(abs, xs)) == xs
    assert list(pool.map(abs, xs, chunksize=1)) == xs


# Every scalar form chunk_pickles writes (and place_results/plain_results read), beside
# values it leaves to the usual path: big ints, lone surrogates, int and str subclasses,
# a complex, a tuple.
class Tag(str):
    pass


SCALARS = [0, 255, 256, 65535, 65536, -1, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)]
SCALARS += [1.5, -0.0, float("inf"), "", "abc", "é" * 127, "x" * 255, None, True, False]
# (strs of 256 bytes and more are left to the stock pickler, whose memo writes a long str
# repeated through a chunk once)
OTHERS = [2**64, -(2**64), "\ud800", Tag("t"), enum.IntEnum("E", "A").A, 1j, (1, "a"), b"raw", "x" * 256, "é" * 128]


def test_chunk_pickles_load_as_the_stock_pickle_of_the_slice():
    items = SCALARS * 60
    lead = lead_opcodes(1, abs)
    assert pickle.loads(b"\x80\x05" + lead + b"N\x87.") == (1, abs, None)
    mains = chunk_pickles(items, range(0, len(items), 500), 500, lead, False, 3)
    assert len(mains) == 3
    for i, main in zip(range(0, len(items), 500), mains):
        kind, fn, chunk = pickle.loads(main)
        assert (kind, fn) == (1, abs) and repr(chunk) == repr(items[i : i + 500])
        assert [type(x) for x in chunk] == [type(x) for x in items[i : i + 500]]
        # a worker's reply of the same values, read back natively
        reply = chunk_pickles(chunk, (0,), len(chunk), lead_opcodes(True), False, 2)[0]
        assert repr(plain_results(reply)) == repr(chunk)
        out = [None] * (len(chunk) + 2)
        assert place_results(reply, out, 1) and repr(out[1:-1]) == repr(chunk)
        assert not place_results(reply, out, 3)  # (does not fit)
        assert plain_results(pickle.dumps((True, chunk), 5)) is None
    for other in OTHERS:  # written only up to the chunk holding it
        assert len(chunk_pickles([1] * 20 + [other], range(0, 30, 10), 10, b"", False, 1)) == 2
    # a long str repeated through a chunk goes to the stock pickler, which writes it once
    long = "y" * 100_000
    assert chunk_pickles([long] * 1000, [0], 1000, b"", False, 1) == []
    assert len(pickle.dumps([long] * 1000, 5)) < 2 * len(long)
    # starmap columns: tuples of one length only
    assert pickle.loads(chunk_pickles([(1, "a"), (2, "b")], [0], 2, b"", True, 1)[0]) == (([1, 2], ["a", "b"]),)
    assert chunk_pickles([(1,), (1, 2)], [0], 2, b"", True, 1) == []
    # a tuple of more than three items (MARK ... TUPLE), and four columns
    lead = lead_opcodes(1, 2, 3)
    assert pickle.loads(chunk_pickles([(1, 2, 3, "x")] * 3, [0], 3, lead, True, 4)[0]) == (
        1, 2, 3, ([1] * 3, [2] * 3, [3] * 3, ["x"] * 3),
    )


def test_every_scalar_and_other_values_through_every_chunked_call_in_subprocess(pool):
    xs = (SCALARS + OTHERS) * 30
    want = [ident(x) for x in xs]
    for chunksize in (8, 100, 1000):
        assert _typed(pool.map(ident, xs, chunksize=chunksize)) == _typed(want)
        assert _typed(pool.imap(ident, xs, chunksize=chunksize)) == _typed(want)
        assert _typed(pool.map_async(ident, xs, chunksize).get(WAIT)) == _typed(want)
        assert _typed(pool.starmap(ident, [(x,) for x in xs], chunksize)) == _typed(want)
        assert sorted(map(repr, pool.imap_unordered(ident, xs, chunksize=chunksize))) == sorted(map(repr, want))
    # only plain scalars: the native paths both ways
    ys = SCALARS * 100
    assert _typed(pool.map_async(ident, ys, 500).get(WAIT)) == _typed(ys)
    assert _typed(pool.map(ident, ys, chunksize=500)) == _typed(ys)


def ident(x):
    return x


def _typed(values):
    return [(type(v), repr(v)) for v in values]
