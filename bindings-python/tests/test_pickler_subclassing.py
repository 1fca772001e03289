"""``brinery.Pickler`` subclassed the way ``pickle.Pickler`` is: configured by
``__init__`` (not ``__new__``), so a subclass's ``__init__`` may take arguments of its
own and hand ``Pickler.__init__`` the ones it needs, in any order; calling ``__init__``
again reconfigures the pickler and empties its memo; a subclass that never calls it gets
a ``PicklingError`` at ``dump``. Each case runs the same subclass code over both classes
and compares the bytes."""

import io
import pickle

import pytest

import brinery

BASES = [pickle.Pickler, brinery.Pickler]
VALUE = {"name": "item", "tags": ["a", "a"], "n": 3}


def tagged(base):
    class Tagged(base):
        """Extra positional and keyword arguments before and after the file."""

        def __init__(self, tag, file, *, note="", protocol=None):
            self.tag = tag
            self.note = note
            super().__init__(file, protocol)

    return Tagged


def cloudpickle_like(base):
    class Like(base):
        """The signature cloudpickle's Pickler has, passing keywords on."""

        def __init__(self, file, protocol=None, buffer_callback=None):
            super().__init__(file, protocol=protocol, buffer_callback=buffer_callback)

    return Like


def test_subclass_init_with_arguments_of_its_own():
    out = []
    for base in BASES:
        f = io.BytesIO()
        p = tagged(base)("t", f, note="n", protocol=2)
        p.dump(VALUE)
        assert (p.tag, p.note) == ("t", "n")
        out.append(f.getvalue())
    assert out[0] == out[1]
    assert pickle.loads(out[1]) == VALUE


def test_subclass_passing_keywords_on():
    out = []
    for base in BASES:
        f = io.BytesIO()
        buffers = []
        p = cloudpickle_like(base)(f, 5, buffers.append)
        p.dump([pickle.PickleBuffer(b"abc"), VALUE])
        out.append((f.getvalue(), [bytes(b) for b in buffers]))
    assert out[0] == out[1]


@pytest.mark.parametrize("base", BASES, ids=["pickle", "brinery"])
def test_init_again_reconfigures_and_empties_the_memo(base):
    first, second = io.BytesIO(), io.BytesIO()
    p = base(first, 4)
    p.dump(VALUE)
    p.dump(VALUE)  # a memo hit: `GET`
    p.__init__(second, 2)
    p.dump(VALUE)  # a stream of its own again, at the new protocol
    assert second.getvalue() == pickle.dumps(VALUE, 2)
    if base is brinery.Pickler:
        assert p.protocol == 2


@pytest.mark.parametrize("base", BASES, ids=["pickle", "brinery"])
def test_subclass_that_never_calls_init(base):
    class Forgetful(base):
        def __init__(self, file):
            self.file = file

    with pytest.raises(pickle.PicklingError) as e:
        Forgetful(io.BytesIO()).dump(1)
    assert str(e.value) == "Pickler.__init__() was not called by Forgetful.__init__()"


def test_a_bad_argument_to_init_is_refused_as_by_pickle():
    for bad in ({"protocol": "x"}, {"protocol": 2, "buffer_callback": list.append}):
        with pytest.raises((TypeError, ValueError)) as theirs:
            pickle.Pickler(io.BytesIO(), **bad)
        with pytest.raises(type(theirs.value)):
            brinery.Pickler(io.BytesIO(), **bad)
