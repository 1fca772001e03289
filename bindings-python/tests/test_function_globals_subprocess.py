"""What a by-value function carries of the world around it: only the globals its code
reads (not every name in ``co_names``), the package its relative imports resolve
against, the submodules it reaches through attributes, and a home when it has no
``__module__`` at all. Each stream is loaded with stock pickle in a child where brinery
cannot be imported."""

import os
import pickle
import textwrap
import warnings

import pytest

import brinery
from helpers import load_without_brinery, run_python

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(os.path.dirname(HERE), "python")


def dump_script(script, pythonpath=()):
    env = {"PYTHONPATH": os.pathsep.join([PKG, *pythonpath, os.environ.get("PYTHONPATH", "")])}
    return run_python(script, env=env)


def test_attribute_names_are_not_globals_subprocess():
    # `sys.exit` puts "exit" in co_names; the module global `exit` must stay out.
    data = dump_script(
        """
        import sys
        import brinery

        class Unpicklable:
            def __reduce__(self):
                raise RuntimeError("must not be pickled")

        exit = Unpicklable()

        def leave(code):
            sys.exit(code)

        sys.stdout.buffer.write(brinery.dumps(leave))
        """
    )
    assert b"Unpicklable" not in data
    out = load_without_brinery(
        data,
        """
        try:
            obj(3)
        except SystemExit as e:
            print("exit", e.code)
        """,
    )
    assert out.split() == ["exit", "3"]


def test_relative_imports_of_a_package_local_function_subprocess(tmp_path):
    pkg = tmp_path / "relpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            """
            from . import helpers

            def package_level():
                def greet():
                    from .helpers import hello
                    return hello("package")
                return greet
            """
        )
    )
    (pkg / "helpers.py").write_text(
        textwrap.dedent(
            """
            def hello(who):
                return "hello from " + who

            def module_level():
                def greet():
                    from . import helpers
                    return helpers.hello("module")
                return greet
            """
        )
    )
    data = dump_script(
        """
        import sys
        import brinery
        import relpkg

        fns = [relpkg.package_level(), relpkg.helpers.module_level()]
        sys.stdout.buffer.write(brinery.dumps(fns))
        """,
        pythonpath=[str(tmp_path)],
    )
    check = f"sys.path.insert(0, {str(tmp_path)!r})\nprint(obj[0]()); print(obj[1]())"
    out = load_without_brinery(data, check)
    assert out.splitlines() == ["hello from package", "hello from module"]


def test_submodules_reached_through_attributes_are_imported_subprocess():
    data = dump_script(
        """
        import sys
        import xml.etree.ElementTree
        import brinery

        def tag_of_global(text):
            return xml.etree.ElementTree.fromstring(text).tag

        def scope():
            import xml.dom.minidom
            def tag_of_closure(text):
                return xml.dom.minidom.parseString(text).documentElement.tagName
            return tag_of_closure

        # A `None` entry marks an import known to fail: never imported by the stream.
        sys.modules["xml.etree.not_there"] = None

        def never_called():
            return xml.etree.not_there

        sys.stdout.buffer.write(brinery.dumps([tag_of_global, scope(), never_called]))
        """
    )
    out = load_without_brinery(
        data,
        """
        assert "xml.etree.ElementTree" in sys.modules
        print(obj[0]("<a/>"), obj[1]("<b/>"))
        """,
    )
    assert out.split() == ["a", "b"]


def test_function_and_class_without_module_subprocess():
    ns = {}
    exec("def double(x):\n    return x * 2\n", ns)
    double = ns["double"]
    assert double.__module__ is None
    Bare = type("Bare", (), {"__module__": None, "value": 5})
    # Finding no module means looking in every loaded one; numpy's deprecated
    # `numpy.linalg.linalg` warns on attribute access, which must not reach the user.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("numpy.linalg.linalg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = brinery.dumps([double, Bare])
    assert [str(c.message) for c in caught] == []
    assert load_without_brinery(data, "print(obj[0](21), obj[1].value)").split() == ["42", "5"]


def test_loaded_function_dumps_to_the_same_bytes():
    k = 3

    def scaled(x):
        return x * k + len(PKG)

    first = brinery.dumps(scaled)
    again = brinery.dumps(pickle.loads(first))
    assert again == first
