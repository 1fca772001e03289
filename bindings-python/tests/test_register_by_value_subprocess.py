"""``register_pickle_by_value``: an importable module's functions and classes go by
value, so a process that cannot import the module can still load them."""

import importlib
import sys

import pytest

import brinery
from helpers import load_without_brinery


@pytest.fixture
def tmp_module(tmp_path, monkeypatch):
    (tmp_path / "brinery_regmod.py").write_text(
        "SCALE = 3\n"
        "def triple(x):\n"
        "    return x * SCALE\n"
        "class Box:\n"
        "    def __init__(self, v):\n"
        "        self.v = v\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("brinery_regmod")
    yield mod
    sys.modules.pop("brinery_regmod", None)


def test_registered_module_by_value_subprocess(tmp_module):
    assert b"brinery_regmod" in brinery.dumps(tmp_module.triple)  # by reference
    brinery.register_pickle_by_value(tmp_module)
    try:
        data = brinery.dumps([tmp_module.triple, tmp_module.Box(7)])
    finally:
        brinery.unregister_pickle_by_value(tmp_module)
    out = load_without_brinery(data, "print(obj[0](2), obj[1].v)")
    assert out.split() == ["6", "7"]


def test_by_value_argument_subprocess(tmp_module):
    data = brinery.dumps(tmp_module.triple, by_value=[tmp_module])
    assert load_without_brinery(data, "print(obj(5))").strip() == "15"


def test_unregister_unknown_module_raises(tmp_module):
    with pytest.raises(ValueError):
        brinery.unregister_pickle_by_value(tmp_module)


def test_registry_is_listed_and_errors_read_as_cloudpickle_s(tmp_module):
    assert brinery.list_registry_pickle_by_value() == set()
    brinery.register_pickle_by_value(tmp_module)
    try:
        assert brinery.list_registry_pickle_by_value() == {"brinery_regmod"}
    finally:
        brinery.unregister_pickle_by_value(tmp_module)
    assert brinery.list_registry_pickle_by_value() == set()
    with pytest.raises(ValueError, match="^Input should be a module object, got brinery_regmod instead$"):
        brinery.register_pickle_by_value("brinery_regmod")
    with pytest.raises(ValueError, match="is not registered for pickle by value"):
        brinery.unregister_pickle_by_value(tmp_module)


def test_typevar_of_a_module_registered_through_its_package_subprocess(tmp_path, monkeypatch):
    pkg = tmp_path / "brinery_regpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "kinds.py").write_text("import typing\nItem = typing.TypeVar('Item', bound=int)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kinds = importlib.import_module("brinery_regpkg.kinds")
    package = sys.modules["brinery_regpkg"]
    brinery.register_pickle_by_value(package)
    try:
        data = brinery.dumps(kinds.Item)
    finally:
        brinery.unregister_pickle_by_value(package)
        for name in ("brinery_regpkg.kinds", "brinery_regpkg"):
            sys.modules.pop(name, None)
    assert load_without_brinery(data, "print(obj.__name__, obj.__bound__.__name__)").split() == ["Item", "int"]
