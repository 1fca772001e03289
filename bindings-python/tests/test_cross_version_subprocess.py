"""Streams across the supported CPythons, in both directions: plain data and objects
stored by reference written by brinery on one interpreter load with stock pickle on
every other; a stream holding by-value code written on one minor version fails on
another before any code object is built, with an error naming both versions.

The interpreters come from ``BRINERY_TEST_PYTHONS`` (set by ``cargo xtask test``: the
venv python of each supported CPython found, each with its own build of brinery).
Run by hand without it, the test is skipped, saying so."""

import ast
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from helpers import NO_BRINERY

HERE = sys.implementation.cache_tag


def _tag_of(python):
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return out.stdout.strip()


def _others():
    listed = [p for p in os.environ.get("BRINERY_TEST_PYTHONS", "").split(os.pathsep) if p]
    found = {}
    for python in listed:
        tag = _tag_of(python)
        if tag != HERE:
            found[tag] = python
    return found


OTHERS = _others()
needs_others = pytest.mark.skipif(
    not OTHERS, reason="no other CPython in BRINERY_TEST_PYTHONS (cargo xtask test sets it)"
)

# Built the same way on each side; compared as text (`show`).
OBJECTS = """
import collections, datetime, decimal, fractions, os.path, uuid
OBJECTS = [
    None, True, False, 0, -1, 255, 2**31, -2**63, 2**100, -2**200, 1.5, float("inf"),
    "", "text", "é\\u2603\\U0001f600", b"", b"\\x00\\xff" * 300, bytearray(b"ab"),
    (), (1,), (1, 2), [1, [2, [3]]], {"a": 1, "b": [2.5, None]}, {1, 2, 3}, frozenset({"x"}),
    collections.OrderedDict(a=1, b=2), collections.Counter("hello"),
    datetime.date(2026, 12, 6), datetime.datetime(2026, 12, 6, 21, 30, 1, 5),
    decimal.Decimal("3.14159"), fractions.Fraction(22, 7),
    uuid.UUID(int=12345678901234567890), os.path.join, collections.defaultdict,
]
def show(o):
    # The same text on every version (3.12 changed OrderedDict's repr).
    if callable(o) and not isinstance(o, type):
        return f"{o.__module__}.{o.__qualname__}"
    if isinstance(o, dict):
        return f"{type(o).__name__}:{ascii([(k, show(v)) for k, v in o.items()])}"
    return ascii(o)
"""


def run(python, code, stdin=b""):
    r = subprocess.run(
        [python, "-c", textwrap.dedent(code)], input=stdin, capture_output=True, timeout=120
    )
    return r


def expected_text():
    ns = {}
    exec(OBJECTS, ns)
    return [ns["show"](o) for o in ns["OBJECTS"]]


@needs_others
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_data_written_here_loads_on_every_other_python(protocol):
    import brinery

    ns = {}
    exec(OBJECTS, ns)
    data = brinery.dumps(ns["OBJECTS"], protocol)
    for tag, python in sorted(OTHERS.items()):
        r = run(
            python,
            NO_BRINERY
            + OBJECTS
            + "import pickle, sys\n"
            + "for o in pickle.loads(sys.stdin.buffer.read()): print(show(o))\n",
            data,
        )
        assert r.returncode == 0, (tag, r.stderr.decode())
        assert r.stdout.decode().splitlines() == expected_text(), tag


@needs_others
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_data_written_on_every_other_python_loads_here(protocol):
    for tag, python in sorted(OTHERS.items()):
        r = run(
            python,
            OBJECTS + f"import sys, brinery\nsys.stdout.buffer.write(brinery.dumps(OBJECTS, {protocol}))\n",
        )
        assert r.returncode == 0, (tag, r.stderr.decode())
        ns = {}
        exec(OBJECTS, ns)
        loaded = pickle.loads(r.stdout)
        assert [ns["show"](o) for o in loaded] == expected_text(), tag


# The loader records every global the stream asks for, then loads.
RECORDING_LOADER = NO_BRINERY + """
import io, pickle, sys
asked = []
class Recording(pickle.Unpickler):
    def find_class(self, module, name):
        asked.append(f"{module}.{name}")
        return super().find_class(module, name)
try:
    Recording(io.BytesIO(sys.stdin.buffer.read())).load()
except Exception as e:
    print(type(e).__name__, e)
else:
    print("loaded")
print(asked)
"""

LAMBDA_WRITER = """
import sys, brinery
k = 3
sys.stdout.buffer.write(brinery.dumps(lambda x: x * k))
"""


def check_refused(out, writer_tag, loader_tag):
    first, asked = out.splitlines()
    asked = ast.literal_eval(asked)
    assert first.startswith("ModuleNotFoundError"), out
    assert writer_tag in first and loader_tag in first, first
    # Refused before any code object was built (its constructor never even looked up),
    # and by the guard itself.
    assert "types.CodeType" not in asked, asked
    assert asked[-3:] == ["importlib.import_module", "builtins.getattr", "sys.implementation"], asked


@needs_others
def test_by_value_code_written_here_is_refused_elsewhere_naming_both():
    import brinery

    k = 3
    data = brinery.dumps(lambda x: x * k)
    for tag, python in sorted(OTHERS.items()):
        r = run(python, RECORDING_LOADER, data)
        assert r.returncode == 0, r.stderr.decode()
        check_refused(r.stdout.decode(), HERE, tag)


@needs_others
def test_by_value_code_written_elsewhere_is_refused_here_naming_both():
    for tag, python in sorted(OTHERS.items()):
        w = run(python, LAMBDA_WRITER)
        assert w.returncode == 0, w.stderr.decode()
        r = run(sys.executable, RECORDING_LOADER, w.stdout)
        assert r.returncode == 0, r.stderr.decode()
        check_refused(r.stdout.decode(), tag, HERE)


@needs_others
def test_by_value_code_loads_on_its_own_version():
    # The control: the same check lets the writer's own interpreter through.
    for tag, python in sorted(OTHERS.items()):
        w = run(python, LAMBDA_WRITER)
        r = run(python, NO_BRINERY + "import pickle, sys\nprint(pickle.loads(sys.stdin.buffer.read())(14))\n", w.stdout)
        assert r.stdout.strip() == b"42", (tag, r.stderr.decode())
