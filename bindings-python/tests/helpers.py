"""Running streams in fresh interpreters where brinery cannot be imported."""

import os
import subprocess
import sys
import textwrap

# Put first in every child: brinery must not be importable there.
NO_BRINERY = "import sys; sys.modules['brinery'] = None\n"


def run_python(code, *, stdin=b"", env=None, check=True):
    """Runs ``code`` in a fresh ``python``; returns its stdout as bytes."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=120,
    )
    if check and r.returncode != 0:
        raise AssertionError(f"child failed ({r.returncode}):\n{r.stderr.decode()}")
    return r.stdout


def load_without_brinery(data, check_code):
    """Loads ``data`` with stock pickle in a child without brinery, binds it to ``obj``,
    runs ``check_code`` and returns its stdout as text."""
    code = NO_BRINERY + "import pickle\nobj = pickle.loads(sys.stdin.buffer.read())\n"
    code += textwrap.dedent(check_code)
    return run_python(code, stdin=data).decode()
