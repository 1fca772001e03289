"""Property tests for ``brinery.safe_loads``: generated plain data comes back equal at
every protocol, and random or mutated bytes only ever raise exceptions (a crash would
take pytest down with it)."""

import math
import pickle

from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st

import brinery

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text() | st.binary() | st.complex_numbers(allow_nan=False))
hashable = st.recursive(scalars, lambda c: st.tuples(c, c) | st.frozensets(c, max_size=4),
                        max_leaves=8)
plain = st.recursive(
    scalars | st.builds(bytearray, st.binary()),
    lambda c: (st.lists(c, max_size=6) | st.tuples(c, c) | st.dictionaries(hashable, c, max_size=5)
               | st.sets(hashable, max_size=5) | st.frozensets(hashable, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(plain, st.integers(0, 5))
def test_plain_data_round_trips(value, protocol):
    assert brinery.safe_loads(pickle.dumps(value, protocol=protocol)) == value


def ok_or_error(data):
    try:
        brinery.safe_loads(data)
    except (pickle.UnpicklingError, ValueError, TypeError, OverflowError, RecursionError, MemoryError):
        pass
    try:
        brinery.scan(data)
    except Exception as e:  # scan never raises on bytes
        raise AssertionError(f"scan raised {e!r}") from e


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data):
    ok_or_error(data)
    ok_or_error(b"\x80\x04" + data)


SEEDS = [pickle.dumps(v, protocol=p) for p in range(6) for v in (
    [1, "a", b"b", (2.5, None)], {"k": {1, 2}, "f": frozenset("xy")}, [[[]]] * 3,
    {i: str(i) for i in range(30)}, complex(1, 2), range(4), math.pi)]


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                         min_size=1, max_size=4))
def test_mutated_pickles_never_crash(seed, edits):
    b = bytearray(seed)
    for i, v in edits:
        b[i % len(b)] = v
    ok_or_error(bytes(b))
    ok_or_error(bytes(b[: edits[0][0] % len(b)]))
