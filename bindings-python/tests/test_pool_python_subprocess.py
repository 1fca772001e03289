"""``brinery.Pool(python=PATH)``: workers spawned on another CPython minor version (from
``BRINERY_TEST_PYTHONS``, set by ``cargo xtask test``), with tasks written
``cross_version=True`` so that by-value functions and classes run there. Skipped when no
other interpreter is listed."""

import os
import subprocess
import sys

import pytest

import brinery

HERE = sys.implementation.cache_tag
WAIT = 60


def _other():
    for python in (p for p in os.environ.get("BRINERY_TEST_PYTHONS", "").split(os.pathsep) if p):
        tag = subprocess.run(
            [python, "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout.strip()
        if tag != HERE:
            return python
    return None


OTHER = _other()
needs_other = pytest.mark.skipif(
    OTHER is None, reason="no other CPython in BRINERY_TEST_PYTHONS (cargo xtask test sets it)"
)


def test_python_with_fork_is_refused():
    with pytest.raises(ValueError, match="python="):
        brinery.Pool(1, start_method="fork", python=sys.executable)


@needs_other
def test_by_value_functions_and_classes_run_on_another_python_in_subprocess():
    offset = 3

    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

        def norm2(self):
            return self.x * self.x + self.y * self.y + offset

    def setup():
        global started
        started = "yes"

    with brinery.Pool(2, setup, python=OTHER) as pool:
        version = pool.submit(lambda: sys.implementation.cache_tag).result(WAIT)
        assert version != HERE
        assert list(pool.map(lambda x: x + offset, range(5))) == [3, 4, 5, 6, 7]
        assert pool.submit(Point(1, 2).norm2).result(WAIT) == 8
        back = pool.submit(lambda: Point(3, 4)).result(WAIT)
        assert isinstance(back, Point) and back.norm2() == 28
        assert pool.submit(lambda: globals().get("started")).result(WAIT) == "yes"
        with pytest.raises(ZeroDivisionError):
            pool.submit(lambda: 1 / 0).result(WAIT)
