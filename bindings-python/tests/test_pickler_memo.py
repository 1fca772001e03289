"""``Pickler.memo`` and ``clear_memo()`` behave as ``pickle.Pickler``'s: the memo lives
from one ``dump()`` to the next, so the streams of one pickler are read back by one
unpickler; ``clear_memo()`` starts over. Checked byte for byte against ``pickle``."""

import io
import pickle

import pytest

import brinery
from helpers import NO_BRINERY, run_python

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def shared_data():
    s = "shared text"
    inner = [1, 2.5, s]
    return {"a": inner, "b": (inner, s), "c": {"k": s}}


def dump_twice(pickler_class, obj, proto, clear_between=False):
    f = io.BytesIO()
    p = pickler_class(f, proto)
    p.dump(obj)
    first = f.getvalue()
    if clear_between:
        p.clear_memo()
    p.dump(obj)
    return first, f.getvalue()[len(first):], p


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_second_dump_uses_memo_like_pickle(proto):
    obj = shared_data()
    ours = dump_twice(brinery.Pickler, obj, proto)
    theirs = dump_twice(pickle.Pickler, obj, proto)
    assert ours[:2] == theirs[:2]
    assert ours[1] != ours[0] and len(ours[1]) < len(ours[0])
    # One unpickler reads both streams; the second gives the very same object back.
    u = pickle.Unpickler(io.BytesIO(ours[0] + ours[1]))
    first = u.load()
    assert first == obj and u.load() is first


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_clear_memo_starts_over(proto):
    obj = shared_data()
    first, second, p = dump_twice(brinery.Pickler, obj, proto, clear_between=True)
    assert first == second == pickle.dumps(obj, proto)
    p.memo.clear()
    assert p.memo.copy() == {}


def test_memo_copy_matches_pickle():
    obj = shared_data()
    ours, theirs = brinery.Pickler(io.BytesIO(), 4), pickle.Pickler(io.BytesIO(), 4)
    ours.dump(obj)
    theirs.dump(obj)
    mine, stock = ours.memo.copy(), theirs.memo.copy()
    assert mine.keys() == stock.keys()
    for k in stock:
        assert mine[k][0] == stock[k][0] and mine[k][1] is stock[k][1]


@pytest.mark.parametrize("source", ["brinery", "pickle", "dict"])
def test_priming_memo(source):
    obj = shared_data()
    maker = brinery.Pickler if source == "brinery" else pickle.Pickler
    first = maker(io.BytesIO(), 4)
    first.dump(obj)
    f = io.BytesIO()
    primed = brinery.Pickler(f, 4)
    primed.memo = first.memo.copy() if source == "dict" else first.memo
    primed.dump(obj)
    expected = io.BytesIO()
    stock = pickle.Pickler(expected, 4)
    stock.memo = first.memo.copy()
    stock.dump(obj)
    assert f.getvalue() == expected.getvalue()


def test_memo_assignment_errors():
    p = brinery.Pickler(io.BytesIO())
    with pytest.raises(TypeError):
        p.memo = [1, 2]
    with pytest.raises(TypeError):
        p.memo = {1: "not a pair"}
    with pytest.raises(TypeError):
        del p.memo


def test_dumps_method_is_self_contained():
    obj = shared_data()
    p = brinery.Pickler(io.BytesIO(), 5)
    p.dump(obj)
    before = p.memo.copy()
    assert p.dumps(obj) == pickle.dumps(obj, 5)
    assert p.memo.copy() == before


def test_memo_keeps_objects_alive():
    f = io.BytesIO()
    p = brinery.Pickler(f, 4)
    p.dump([object.__new__(type("Temp", (), {"__module__": "__main__"})) for _ in range(3)])
    import gc

    gc.collect()
    assert all(obj is not None for _, obj in p.memo.copy().values())
    # Dumping new objects after the first ones died must not hit stale memo entries.
    p.dump([[i] for i in range(100)])
    u = pickle.Unpickler(io.BytesIO(f.getvalue()))
    u.load()
    assert u.load() == [[i] for i in range(100)]


def test_later_dumps_share_function_globals_subprocess():
    ns = {"__name__": "__main__"}
    exec("X = 1\ndef get():\n    return X\ndef put(v):\n    global X\n    X = v\n", ns)
    f = io.BytesIO()
    p = brinery.Pickler(f, 5)
    p.dump(ns["get"])
    p.dump(ns["put"])
    p.dump([ns["get"], ns["put"]])
    code = NO_BRINERY + """
import io, pickle
u = pickle.Unpickler(io.BytesIO(sys.stdin.buffer.read()))
get, put, both = u.load(), u.load(), u.load()
assert get.__globals__ is put.__globals__ and both == [get, put]
put(5)
assert get() == 5
print("ok")
"""
    assert run_python(code, stdin=f.getvalue()).decode().strip() == "ok"


@pytest.mark.parametrize("sizes", [(200_000, 3, 200_000, 3), (3, 100_000, 10, 100_000, 2)])
def test_a_thread_reusing_its_memo_table_across_dump_sizes_writes_pickles_bytes(sizes):
    # One thread's dumps reuse one memo table while they are big and drop it after a
    # small one: every stream still shares and references exactly as pickle's does.
    for n in sizes:
        shared = [b"x" * (i % 300) for i in range(n)]
        obj = [shared, shared[: n // 2], {"one": shared[5] if n > 5 else None}]
        out = brinery.dumps(obj, 5)
        assert out == pickle.dumps(obj, 5)
        back = pickle.loads(out)
        assert back == obj
        if n > 5:
            assert back[0][5] is back[2]["one"]
        assert all(back[1][i] is back[0][i] for i in range(n // 2))


def _strided(kind, n):
    # Objects laid out at one regular address stride each: pymalloc blocks of one size
    # class, malloc'd blocks just past pymalloc's 512 bytes, and page-sized blocks, so
    # their addresses pick memo slots in a regular pattern (neighbours, or one slot in
    # every 64 / 256), the layouts that pile up in an open-addressing table.
    if kind == "one size class":
        return [(i, i) for i in range(n)]
    if kind == "just past pymalloc":
        return [tuple(range(i, i + 61)) for i in range(n)]
    if kind == "page-sized":
        return [bytes([i % 251]) * 4063 for i in range(n)]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["one size class", "just past pymalloc", "page-sized"])
def test_memo_of_objects_at_a_regular_stride_shares_as_pickle(kind):
    # Every object is met twice (the second time a memo hit) and once more through a
    # dict, in dumps that grow the table from empty and then reuse it: a probe that lost
    # an entry would write an object twice, one that ran on would hang.
    n = 3_000 if kind == "page-sized" else 60_000
    objs = _strided(kind, n)
    obj = [objs, objs[::-1], {i: objs[i] for i in range(0, n, 7)}]
    for proto in (2, 5):
        for _ in range(2):
            out = brinery.dumps(obj, proto)
            assert out == pickle.dumps(obj, proto)
    back = pickle.loads(out)
    assert back[0][n - 1] is back[1][0] and back[2][7] is back[0][7]
    f = io.BytesIO()
    p = brinery.Pickler(f, 5)
    p.dump(objs[: n // 2])
    p.dump(objs)
    assert len(p.memo.copy()) == n + 2
    u = pickle.Unpickler(io.BytesIO(f.getvalue()))
    first, second = u.load(), u.load()
    assert all(first[i] is second[i] for i in range(n // 2))
