"""Objects of the interpreter's machinery that stock pickle refuses (issue #24, section
5): the type objects ``types`` names, ``classmethod_descriptor`` objects (and so
``type.__dict__``), dict views that keep viewing their dict, capsules found again by
import. Each stream loads in a fresh
interpreter where brinery cannot be imported."""

import collections
import datetime
import gc
import types

import pytest

import brinery
from test_sync_objects_subprocess import check_in_child

TYPE_NAMES = [
    "FrameType", "GeneratorType", "TracebackType", "CoroutineType", "AsyncGeneratorType",
    "MethodWrapperType", "WrapperDescriptorType", "ClassMethodDescriptorType",
    "MethodDescriptorType", "BuiltinFunctionType", "CellType", "CodeType", "FunctionType",
]


def test_type_objects_of_the_interpreter_subprocess():
    check_in_child(
        [getattr(types, name) for name in TYPE_NAMES],
        f"""
        import types
        assert obj == [getattr(types, n) for n in {TYPE_NAMES!r}]
        """,
    )


def test_classmethod_descriptors_and_type_dict_subprocess():
    prepare = type.__dict__["__prepare__"]
    fromkeys = dict.__dict__["fromkeys"]
    check_in_child(
        [prepare, fromkeys, type.__dict__, list(iter(type.__dict__.items()))[:3]],
        """
        prepare, fromkeys, type_dict, first = obj
        assert prepare is type.__dict__["__prepare__"] and fromkeys is dict.__dict__["fromkeys"]
        assert dict(type_dict) == dict(type.__dict__)
        assert first == list(type.__dict__.items())[:3]
        """,
    )


def test_dict_views_keep_viewing_the_loaded_dict_subprocess():
    d = {"a": 1}
    od = collections.OrderedDict(x=1)
    check_in_child(
        [d, d.keys(), d.values(), d.items(), od, od.keys(), od.items(), {"z": 0}.keys()],
        """
        d, k, v, i, od, ok, oi, lone = obj
        d["b"] = 2
        od["y"] = 2
        assert list(k) == ["a", "b"] and list(v) == [1, 2] and list(i) == [("a", 1), ("b", 2)]
        assert list(ok) == ["x", "y"] and list(oi) == [("x", 1), ("y", 2)]
        assert list(lone) == ["z"] and type(lone) is type({}.keys())
        """,
    )


def test_capsule_is_found_again_by_import_subprocess():
    check_in_child(
        {"capi": datetime.datetime_CAPI},
        """
        import datetime
        assert obj["capi"] is datetime.datetime_CAPI
        """,
    )


def test_capsule_that_cannot_be_imported_is_refused():
    import ctypes

    raw = ctypes.pythonapi.PyCapsule_New
    raw.restype = ctypes.py_object
    raw.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    orphan = raw(1, b"nowhere.to_be_found", None)
    with pytest.raises(brinery.PicklingError, match=r"obj\[0\]: cannot pickle capsule 'nowhere"):
        brinery.dumps([orphan])
