"""Functions of a module stored by value use the rebuilt module's dict as their
``__globals__``, whether the module or its functions come first in the stream, so
``global`` statements and later assignments to the module are seen by all of them."""

import sys
import textwrap
import types

import brinery
from helpers import load_without_brinery

SOURCE = """
X = 5

def f():
    return X + 1

def set_x(v):
    global X
    X = v

class C:
    def m(self):
        return f()
"""

CHECK_MODULE = """
def check(m, f=None):
    assert m.f.__globals__ is m.__dict__ and m.set_x.__globals__ is m.__dict__
    assert m.C.m.__globals__ is m.__dict__ and m.__name__ == NAME
    assert f is None or f is m.f
    m.set_x(10)
    assert (m.X, m.f(), m.C().m()) == (10, 11, 11)
    m.X = 20
    assert m.f() == 21
"""


def dynamic_module():
    mod = types.ModuleType("dyn_globals")
    exec(SOURCE, mod.__dict__)
    return mod


def run_checks(obj, code):
    prelude = "NAME = 'dyn_globals'\n" + textwrap.dedent(CHECK_MODULE)
    out = load_without_brinery(brinery.dumps(obj), prelude + textwrap.dedent(code) + "\nprint('ok')\n")
    assert out.strip() == "ok"


def test_module_first_subprocess():
    run_checks(dynamic_module(), "check(obj)")


def test_function_first_subprocess():
    mod = dynamic_module()
    run_checks([mod.f, mod.C, mod], "check(obj[2], obj[0]); assert obj[1] is obj[2].C")


def test_functions_without_module_share_one_module_namespace_subprocess():
    mod = dynamic_module()
    run_checks([mod.f, mod.set_x, mod.C], """
    f, set_x, C = obj
    assert f.__globals__ is set_x.__globals__ is C.m.__globals__
    assert f.__globals__["__name__"] == NAME
    set_x(7)
    assert f() == 8 and C().m() == 8
    """)


def test_registered_module_subprocess(tmp_path, monkeypatch):
    (tmp_path / "dyn_globals.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import dyn_globals

    try:
        # The child cannot import it: everything comes from the stream.
        data = brinery.dumps([dyn_globals.f, dyn_globals], by_value=[dyn_globals])
        prelude = "NAME = 'dyn_globals'\n" + textwrap.dedent(CHECK_MODULE)
        out = load_without_brinery(data, prelude + "check(obj[1], obj[0])\nprint('ok')\n")
        assert out.strip() == "ok"
    finally:
        sys.modules.pop("dyn_globals", None)


def test_main_functions_keep_a_plain_dict_subprocess():
    # __main__'s functions get a fresh namespace, never the loader's __main__.
    code = compile("def g():\n    return 1\n", "<main>", "exec")
    ns = {"__name__": "__main__"}
    exec(code, ns)
    out = load_without_brinery(brinery.dumps(ns["g"]), """
    import __main__
    assert obj.__globals__ is not __main__.__dict__ and obj() == 1
    print(type(obj.__globals__).__name__)
    """)
    assert out.strip() == "dict"
