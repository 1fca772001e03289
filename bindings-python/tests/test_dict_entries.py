"""Dict entries are read straight from CPython's table (``encode/dict_entries.rs``) on
every supported CPython: in ``PyDict_Next``'s order for every kind of table (``str``
keys, other keys, an instance's split table, deleted entries, 1-, 2- and 4-byte
indices), and as ``pickle`` reads them when saving a value changes the dict, even when
the dict gets another table of the same size. ``pickle`` is the oracle throughout.

The namespaces brinery walks itself (a module by value, attributes a C reduction
forgets, a state applied by ``safe_loads``) may change while they are walked without
the walk panicking (PyO3's dict iterator does on a dict that changes size)."""

import datetime
import pickle

import pytest

import brinery
from brinery import _brinery


def test_reader_is_on_for_this_interpreter():
    # Off, every dict would still pickle right, through `PyDict_Next`, only slower: the
    # layout check at import found something it did not expect.
    assert _brinery._direct_dict_reader()


def with_holes(d, every):
    """``d`` with every ``every``-th entry deleted, the first and last included."""
    keys = list(d)
    for i, k in enumerate(keys):
        if i % every == 0 or i == len(keys) - 1:
            del d[k]
    return d


class Slots:
    def __init__(self):
        self.a = 1
        self.b = "two"
        self.c = [3]


def split_dict():
    obj = Slots()
    Slots()  # a second instance, so the keys stay shared
    return obj.__dict__


TABLES = {
    "str keys": lambda: {f"k{i}": i for i in range(7)},
    "int keys": lambda: {i: str(i) for i in range(7)},
    "mixed keys": lambda: {"a": 1, 2: "b", (3,): None, 4.5: b"x"},
    "str keys with holes": lambda: with_holes({f"k{i}": i for i in range(40)}, 3),
    "int keys with holes": lambda: with_holes({i: i for i in range(40)}, 4),
    "all deleted but one": lambda: with_holes({"a": 1, "b": 2, "c": 3}, 2),
    "2-byte indices": lambda: with_holes({f"k{i}": i for i in range(3000)}, 7),
    "4-byte indices": lambda: with_holes({i: i for i in range(50_000)}, 11),
    "split table": split_dict,
    "split table with a deletion": lambda: (lambda d: (d.pop("a"), d)[1])(split_dict()),
    "empty after deletions": lambda: with_holes({"a": 1}, 1),
}


@pytest.mark.parametrize("proto", [1, 2, 5])
@pytest.mark.parametrize("table", TABLES)
def test_entries_in_pickle_order(table, proto):
    d = TABLES[table]()
    assert brinery.dumps(d, proto) == pickle.dumps(d, proto)
    assert brinery.loads(brinery.dumps(d, proto)) == d


class Mutate:
    """Pickles as 0, and on the way changes the dict it is in with ``action``."""

    def __init__(self, target, action):
        self.target = target
        self.action = action

    def __reduce__(self):
        self.action(self.target)
        return (int, ())


def refill(d):
    n = len(d)
    d.clear()
    d.update({f"x{i}": i for i in range(n)})


def churn(d):
    # Grows the table past its room and shrinks back: same size, another table.
    for i in range(200):
        d[f"tmp{i}"] = i
    for i in range(200):
        del d[f"tmp{i}"]


def to_general(d):
    # A non-str key turns a table of str keys into a general one (another table).
    del d[next(iter(d))]
    d[12345] = "int key"


def swap_one(d):
    del d[next(iter(d))]
    d["appended"] = 1


ACTIONS = {
    "replace a value": lambda d: d.__setitem__(list(d)[-1], "replaced"),
    "delete and append": swap_one,
    "clear and refill": refill,
    "grow and shrink back": churn,
    "str table to general": to_general,
}


@pytest.mark.parametrize("proto", [1, 5])
@pytest.mark.parametrize("n, at", [(3, 0), (3, 1), (8, 4), (1001, 2), (1001, 1000)])
@pytest.mark.parametrize("action", ACTIONS)
def test_dict_changed_while_saved_as_pickle_reads_it(action, n, at, proto):
    def make():
        d = {f"k{i}": i for i in range(n)}
        d[f"k{at}"] = Mutate(d, ACTIONS[action])
        return d

    try:
        theirs = pickle.dumps(make(), proto)
    except RuntimeError as e:
        with pytest.raises(RuntimeError) as ours:
            brinery.dumps(make(), proto)
        assert str(ours.value).startswith(str(e))
        return
    assert brinery.dumps(make(), proto) == theirs


# Namespaces brinery walks itself (not `save_dict`'s runs) may change while their values
# are saved, too: they are walked over a copy, so the dump neither panics nor fails.


class AddsTo:
    """Pickles as 0, and on the way sets an attribute on ``target``."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        setattr(self.target, "added_while_saved", 1)
        return (int, ())


def test_module_by_value_changed_while_saved():
    import types

    m = types.ModuleType("brinery_test_dynamic_module")
    m.a = AddsTo(m)
    m.b = "kept"
    back = pickle.loads(brinery.dumps(m))
    assert (back.a, back.b) == (0, "kept")


class Day(datetime.date):
    """A subclass of a C type whose reduction forgets ``__dict__`` (brinery sets it back
    attribute by attribute)."""


def test_attributes_outside_a_c_reduction_changed_while_saved():
    day = Day(2026, 12, 7)
    day.first = AddsTo(day)
    day.second = "kept"
    back = pickle.loads(brinery.dumps(day))
    assert back == day and (back.first, back.second) == (0, "kept")


class Target:
    def __setattr__(self, name, value):
        # Given the dict being applied, changes it.
        if isinstance(value, dict):
            value["more"] = 1
        object.__setattr__(self, name, value)


class AsTarget:
    """Pickles as a ``Target`` whose state is ``(None, slots)``, applied with setattr."""

    def __init__(self, slots):
        self.slots = slots

    def __reduce__(self):
        return (Target, (), (None, self.slots))


def test_safe_loads_state_changed_by_setattr():
    slots = {"b": 2}
    slots["a"] = slots  # so `Target.__setattr__` gets the dict being applied
    stream = pickle.dumps(AsTarget(slots), 2)
    back = brinery.safe_loads(stream, allow=[f"{__name__}.Target"])
    assert back.b == 2 and back.a["more"] == 1 and back.a["b"] == 2
