"""The "brinery" serialization family on its own, inside this process: frames,
buffers out of band, registration, and the graph hook's choice of family. The cluster
tests are in test_dask_cluster_subprocess.py."""

import operator
import pickle
import sys

import pytest

distributed = pytest.importorskip("distributed", reason="distributed is not installed")
np = pytest.importorskip("numpy")

import msgpack  # noqa: E402  (a dependency of distributed)
from dask._expr import LLGExpr  # noqa: E402
from dask._task_spec import Task  # noqa: E402
from distributed.protocol import deserialize, serialize, to_serialize  # noqa: E402
from distributed.protocol import pickle as dpickle  # noqa: E402
from distributed.protocol.serialize import families  # noqa: E402

import brinery.dask  # noqa: E402
from helpers import load_without_brinery  # noqa: E402

MB = 1 << 20


def test_import_registers_the_families():
    assert families["brinery"][:2] == (brinery.dask.dumps, brinery.dask.loads)
    assert families["brinery-cross-version"][1] is brinery.dask.loads


def test_register_is_idempotent():
    before = dict(families)
    brinery.dask.register()
    brinery.dask.register()
    assert families == before


def test_50mb_array_travels_as_its_own_frame_without_a_copy():
    x = np.arange(50 * MB // 8, dtype="float64")
    header, frames = serialize(x, serializers=["brinery"])
    assert header["serializer"] == "brinery"
    assert len(frames) == 2
    assert len(frames[0]) < 1000  # the stream holds the array's metadata only
    assert memoryview(frames[1]).nbytes == x.nbytes
    assert np.shares_memory(np.frombuffer(frames[1], dtype="float64"), x)
    msgpack.dumps(header)  # headers cross the wire as msgpack
    y = deserialize(header, frames)
    assert np.array_equal(x, y)
    assert np.shares_memory(y, np.frombuffer(frames[1], dtype="float64"))


def test_writeable_flags_survive():
    ro = np.arange(10)
    ro.flags.writeable = False
    rw = np.arange(10)
    header, frames = serialize((ro, rw), serializers=["brinery"], iterate_collection=False)
    assert header["writeable"] == (False, True)
    # A receiver may hand over frames in either state; loads restores the sender's.
    frames = [frames[0], bytearray(frames[1]), bytes(frames[2])]
    a, b = deserialize(header, frames)
    assert not a.flags.writeable and b.flags.writeable
    assert np.array_equal(a, ro) and np.array_equal(b, rw)


def test_peer_protocol_below_5_keeps_buffers_in_band():
    header, frames = brinery.dask.dumps(np.arange(4), context={"pickle-protocol": 4})
    assert len(frames) == 1 and header["writeable"] == ()
    assert pickle.loads(frames[0]).tolist() == [0, 1, 2, 3]


def test_streams_load_with_stock_pickle():
    offset = 7

    def add(a):
        return a + offset

    header, frames = serialize(add, serializers=["brinery"])
    assert pickle.loads(frames[0])(1) == 8


def _graph():
    return LLGExpr({"k": Task("k", lambda a: a + 1, 1)})


def _graph_family():
    header, frames = serialize(to_serialize(_graph()), on_error="raise")
    if header["serializer"] == "dask":
        return header["sub-header"]["serializer"], header, frames
    return header["serializer"], header, frames


def test_graph_uses_pickle_without_a_brinery_client():
    family, _, _ = _graph_family()
    assert family == "pickle"


# A cloudpickle round trip in the same process (Dask does one when it fingerprints
# arguments) re-sets the class's attributes, leaving dataclass fields whose default is a
# copy of dataclasses.MISSING; brinery must still store the class, mapping the copy back
# to the module's own sentinel.
def test_dataclass_after_a_cloudpickle_round_trip():
    import dataclasses

    cloudpickle = pytest.importorskip("cloudpickle")

    @dataclasses.dataclass
    class Point:
        x: int = 0

    pickle.loads(cloudpickle.dumps(Point))
    # Loaded where brinery is absent, so the class is rebuilt from the stream (here it
    # would load as `Point` itself, which cloudpickle's round trip altered).
    out = load_without_brinery(
        brinery.dumps(Point(3)),
        "import dataclasses\n"
        "f = dataclasses.fields(obj)[0]\n"
        "print(obj.x, f.default, f.default_factory is dataclasses.MISSING)",
    )
    assert out.split() == ["3", "0", "True"]


# -- the graph: by-value objects sealed for the scheduler --------------------------------


def _sealed_graph(monkeypatch, family, dsk):
    """The graph ``dsk`` as a client listing ``family`` sends it."""
    monkeypatch.setattr(brinery.dask, "_client_family", lambda: family)
    header, frames = serialize(to_serialize(LLGExpr(dsk)), on_error="raise")
    assert header["serializer"] == "dask"
    assert header["sub-header"]["serializer"] == family
    return header, frames


@pytest.mark.parametrize("family", ["brinery", "brinery-cross-version"])
def test_scheduler_keeps_by_value_objects_sealed_and_passes_them_on(monkeypatch, family):
    offset = 5
    add = lambda a: a + offset  # noqa: E731
    header, frames = _sealed_graph(monkeypatch, family, {
        "a": Task("a", add, 1),
        "b": Task("b", add, 2),
        "c": Task("c", operator.add, 3, 4),
    })
    # Decoded as the scheduler does: the lambda stays a sealed stream (one object for
    # both tasks), the importable function is itself.
    dsk = deserialize(header, frames).dsk
    sealed = dsk["a"].func
    assert type(sealed).__name__ == "_Sealed" and dsk["b"].func is sealed
    assert "function " + __name__ + ".test_scheduler_keeps" in repr(sealed)
    assert sealed.cross_version == (family == "brinery-cross-version")
    assert dsk["c"].func is operator.add
    # The scheduler re-encodes each task with Dask's pickle; the worker gets the lambda.
    task = dpickle.loads(dpickle.dumps(dsk["b"]))
    assert task.func(10) == 15 and task() == 7
    # Decoded anywhere else, the graph holds the function itself.
    assert pickle.loads(frames[0]).dsk["a"]() == 6


def test_main_class_instances_are_sealed_whole(monkeypatch):
    import dataclasses

    @dataclasses.dataclass
    class Point:
        x: int

    header, frames = _sealed_graph(monkeypatch, "brinery-cross-version", {
        "k": Task("k", operator.attrgetter("x"), Point(4)),
    })
    arg = deserialize(header, frames).dsk["k"].args[0]
    assert type(arg).__name__ == "_Sealed" and "instance of" in arg.label
    assert dpickle.loads(dpickle.dumps(deserialize(header, frames).dsk["k"]))() == 4


def test_unloadable_object_raises_naming_it_and_both_versions():
    # A sealed stream that fails to load (here: not a pickle) becomes a stand-in: the
    # task that calls or uses it fails with the reason; probes for dunders still work.
    stand_in = brinery.dask._sealed(b"not a pickle", "function __main__.f", "cpython-399", False)
    here = sys.implementation.cache_tag
    with pytest.raises(pickle.UnpicklingError) as e:
        stand_in(1)
    message = str(e.value)
    assert message.startswith("cannot load function __main__.f (written on cpython-399, "
                              f"loaded on {here}): UnpicklingError"), message
    assert '"brinery-cross-version" family' in message
    with pytest.raises(pickle.UnpicklingError, match="cannot load function __main__.f"):
        stand_in.items  # noqa: B018
    assert not hasattr(stand_in, "__dask_graph__")
    # Already cross-version: no advice to use the family it came through.
    stand_in = brinery.dask._sealed(b"not a pickle", "function __main__.f", "cpython-399", True)
    with pytest.raises(pickle.UnpicklingError) as e:
        stand_in()
    assert "family" not in str(e.value)


def test_cross_version_family_writes_source(monkeypatch):
    def f(a):
        return a * 3

    plain = brinery.dask.dumps(f)
    header, frames = serialize(f, serializers=["brinery-cross-version"])
    assert header["serializer"] == "brinery-cross-version"
    assert deserialize(header, frames)(2) == 6
    assert b"return a * 3" in frames[0] and b"return a * 3" not in plain[1][0]


def test_in_process_workers_get_opened_objects():
    # LocalCluster(processes=False): Dask hands tasks to its workers without pickling,
    # so the scheduler opens sealed objects itself (a sealed argument would reach the
    # task as is).
    import dataclasses

    @dataclasses.dataclass
    class Point:
        x: int

        def norm(self):
            return abs(self.x)

    families = ["brinery", "dask", "pickle"]
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None,
                                  silence_logs=40) as cluster, \
            distributed.Client(cluster, serializers=families, deserializers=families) as c:
        k = 3
        assert c.submit(lambda a: a + k, 1).result(timeout=30) == 4
        assert c.submit(lambda p: p.norm(), Point(-4)).result(timeout=30) == 4
    assert not brinery.dask._inproc_workers()
