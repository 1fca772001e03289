"""Objects whose reductions return anything at all (random reduce tuples of random
values, strings naming nothing, iterators of the wrong shape), dumped at every protocol
by ``dumps`` and by a ``Pickler`` whose ``persistent_id``, ``reducer_override`` and
``dispatch_table`` answer at random too: each dump succeeds or raises an ``Exception``.
Never a ``BaseException`` that is not one (PyO3's ``PanicException``), never a
``SystemError`` (a native error returned without its exception set), never a crash."""

import copyreg
import functools
import io
import operator
import random

import pytest

import brinery


class Plain:
    pass


class Evil:
    """Reduces to what ``rnd`` makes of it, differently each time it is asked."""

    def __init__(self, rnd):
        self.rnd = rnd

    def __reduce_ex__(self, proto):
        r = self.rnd.random()
        if r < 0.1:
            return value(self.rnd)
        if r < 0.2:
            return self.rnd.choice(["Plain", "no_such_name", ""])
        return tuple(value(self.rnd) for _ in range(self.rnd.randrange(1, 7)))


def atom(rnd):
    pool = [None, 0, 1, -1, 2**70, 1.5, "s", b"b", (), [], {}, Plain, int, object,
            copyreg.__newobj__, copyreg.__newobj_ex__, copyreg._reconstructor,
            "__newobj__", len, (Plain,), [1], {"a": 1}, set(), frozenset(), Plain(),
            functools.partial(int), operator.itemgetter(0), lambda: 0]
    r = rnd.random()
    if r < 0.05:
        return Evil(rnd)
    if r < 0.1:
        return iter(rnd.choice([[1, 2], [(1, 2)], [1], [(1, 2, 3)], []]))
    return rnd.choice(pool)


def value(rnd, depth=0):
    if depth > 2 or rnd.random() < 0.5:
        return atom(rnd)
    n = rnd.randrange(5)
    kind = rnd.randrange(3)
    if kind == 0:
        return tuple(value(rnd, depth + 1) for _ in range(n))
    if kind == 1:
        return [value(rnd, depth + 1) for _ in range(n)]
    return {str(i): value(rnd, depth + 1) for i in range(n)}


def survives(dump):
    try:
        dump()
    except SystemError as e:  # pragma: no cover - the failure being tested for
        pytest.fail(f"SystemError: {e}")
    except Exception:
        pass
    except BaseException as e:  # pragma: no cover - the failure being tested for
        pytest.fail(f"{type(e).__module__}.{type(e).__qualname__}: {e}")


@pytest.mark.parametrize("seed", range(4))
def test_dumps_of_hostile_reductions(seed):
    rnd = random.Random(seed)
    for _ in range(300):
        obj = [Evil(rnd) for _ in range(rnd.randrange(1, 3))]
        for proto in (0, 2, 5):
            survives(lambda: brinery.dumps(obj, proto))


class Hooks(brinery.Pickler):
    """A pickler whose hooks answer at random."""

    def __init__(self, f, proto, rnd, **kw):
        super().__init__(f, proto, **kw)
        self.rnd = rnd

    def persistent_id(self, obj):
        r = self.rnd.random()
        if r < 0.7:
            return None
        if r < 0.8:
            raise ValueError("refused")
        return value(self.rnd)

    def reducer_override(self, obj):
        r = self.rnd.random()
        if r < 0.7:
            return NotImplemented
        if r < 0.75:
            raise KeyError("refused")
        if r < 0.85:
            return value(self.rnd)
        return tuple(value(self.rnd) for _ in range(self.rnd.randrange(1, 7)))


@pytest.mark.parametrize("seed", range(4))
def test_pickler_hooks_answering_at_random(seed):
    rnd = random.Random(100 + seed)
    for _ in range(150):
        obj = value(rnd)
        for proto in range(6):
            callback = None
            if proto == 5 and rnd.random() < 0.5:
                callback = lambda b: rnd.choice([None, True, False, 0, 1, b])  # noqa: E731
            p = Hooks(io.BytesIO(), proto, rnd, buffer_callback=callback)
            if rnd.random() < 0.3:
                p.dispatch_table = {
                    Plain: lambda o: value(rnd),
                    int: lambda o: rnd.choice([(int, (1,)), "Plain", None, 5]),
                }
            p.fast = rnd.random() < 0.2

            def dump_twice():
                p.dump(obj)
                if rnd.random() < 0.3:
                    p.memo = rnd.choice([{}, {1: 2}, {1: (1,)}, {1: (0, value(rnd))}, None, 5])
                p.dump(obj)

            survives(dump_twice)
