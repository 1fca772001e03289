"""Containers are written in ``_pickle.c``'s runs (``MARK ... APPENDS``/``SETITEMS``/
``ADDITEMS`` of up to 1000 items), byte for byte, through every batching loop: exact
lists, dicts and sets, list and dict subclasses and the items of a ``__reduce__`` tuple
(the iterator loops), at the lengths where runs begin and end, also when saving an item
changes the container, and with as many calls of an iterator's ``__next__`` as
``pickle`` makes."""

import pickle

import pytest

import brinery

LENGTHS = [1, 2, 3, 999, 1000, 1001, 1002, 1999, 2000, 2001]


class Items(list):
    """A list subclass: its items go through the iterator loop."""


class Entries(dict):
    """A dict subclass: its entries go through the iterator loop."""


class Reduced:
    """Reduces to list items and dict items given as iterators."""

    def __init__(self, items, entries):
        self.items = items
        self.entries = entries

    def __reduce__(self):
        return (Reduced, (None, None), None, iter(self.items), iter(self.entries))


KINDS = {
    "list": lambda n: list(range(n)),
    "list subclass": lambda n: Items(range(n)),
    "dict": lambda n: {f"k{i}": i for i in range(n)},
    "dict subclass": lambda n: Entries({f"k{i}": i for i in range(n)}),
    "set": lambda n: set(range(n)),
    "frozenset": lambda n: frozenset(range(n)),
    "reduce items": lambda n: Reduced(list(range(n)), []),
    "reduce entries": lambda n: Reduced([], [(f"k{i}", i) for i in range(n)]),
}


@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("kind", KINDS)
def test_runs_identical_to_pickle(kind, n, proto):
    value = KINDS[kind](n)
    assert brinery.dumps(value, proto) == pickle.dumps(value, proto)


class Resize:
    """Pickles as 0, and on the way resizes the list it is in to ``size`` items."""

    def __init__(self, target, size):
        self.target = target
        self.size = size

    def __reduce__(self):
        del self.target[self.size :]
        self.target.extend(range(len(self.target), self.size))
        return (int, ())


def resized(length, at, size):
    value = list(range(length))
    value[at] = Resize(value, size)
    return value


@pytest.mark.parametrize("proto", [1, 2, 5])
@pytest.mark.parametrize(
    "length, at, size",
    [
        (1, 0, 5),  # a single item stays a single item: APPEND, the rest never written
        (2, 0, 1),  # shrinks to one under its first item: MARK item APPENDS
        (2, 0, 0),
        (5, 2, 3),  # the run ends where the list now ends
        (3, 1, 1500),  # grows past a run's end: the next run follows
        (1000, 999, 1000),
        (1000, 999, 1001),  # the last item of a full run adds one: a run of one follows
        (1500, 10, 1000),  # shrinks to a full run
    ],
)
def test_list_resized_while_saved_as_pickle_does(length, at, size, proto):
    ours = brinery.dumps(resized(length, at, size), proto)
    assert ours == pickle.dumps(resized(length, at, size), proto)


class Grow:
    """Pickles as 0, and adds an entry to the dict it is in."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        self.target["added"] = 1
        return (int, ())


# Not a dict of one entry: `_pickle.c` does not check its size after it (brinery does).
@pytest.mark.parametrize("proto", [1, 5])
@pytest.mark.parametrize("n", [2, 1000, 1001])
def test_dict_that_changes_size_is_refused_as_pickle_does(n, proto):
    def make():
        value = {f"k{i}": i for i in range(n)}
        value["k0"] = Grow(value)
        return value

    with pytest.raises(RuntimeError) as theirs:
        pickle.dumps(make(), proto)
    with pytest.raises(RuntimeError) as ours:
        brinery.dumps(make(), proto)
    assert str(ours.value).startswith(str(theirs.value))


class Counting:
    """An iterator over ``items`` that counts the calls of ``__next__``."""

    def __init__(self, items):
        self.items = iter(items)
        self.calls = 0

    def __iter__(self):
        return self

    def __next__(self):
        self.calls += 1
        return next(self.items)


class CountedReduce:
    def __init__(self, items, entries):
        self.items = Counting(items)
        self.entries = Counting(entries)

    def __reduce__(self):
        return (CountedReduce, ([], []), None, self.items, self.entries)


@pytest.mark.parametrize("proto", [0, 1, 5])
@pytest.mark.parametrize("n", [0, 1, 2, 1000, 1001, 2000])
def test_iterators_called_as_often_as_by_pickle(n, proto):
    def make():
        return CountedReduce(range(n), [(i, i) for i in range(n)])

    theirs, ours = make(), make()
    assert brinery.dumps(ours, proto) == pickle.dumps(theirs, proto)
    assert (ours.items.calls, ours.entries.calls) == (
        theirs.items.calls,
        theirs.entries.calls,
    )
