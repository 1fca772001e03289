"""A Dask cluster whose workers run other CPython minor versions than the client: one
scheduler in this process and one ``dask worker --preload brinery.dask`` subprocess per
interpreter in ``BRINERY_TEST_PYTHONS`` (set by ``cargo xtask test``), each named by its
``cache_tag``. A client script run as ``__main__`` (so its functions and classes exist
nowhere else) on each interpreter sends closures, lambdas, recursive closures, a class
with methods and a dataclass to every worker on another version through the
``"brinery-cross-version"`` family, and gets results back; the same task through the
plain ``"brinery"`` family fails on the worker with brinery's error naming the function
and both versions, and the worker keeps running. Skipped when no other interpreter
with ``distributed`` and brinery is listed."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

distributed = pytest.importorskip("distributed", reason="distributed is not installed")

import dask  # noqa: E402

import brinery.dask  # noqa: E402

HERE = sys.implementation.cache_tag
TIMEOUT = 60
_PROBE = "import sys, distributed, brinery.dask; print(sys.implementation.cache_tag)"


def _interpreters():
    """``{cache_tag: python}`` for this interpreter and each listed one that can run a
    brinery worker."""
    found = {HERE: sys.executable}
    listed = [p for p in os.environ.get("BRINERY_TEST_PYTHONS", "").split(os.pathsep) if p]
    for python in listed:
        r = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            found.setdefault(r.stdout.strip(), python)
    return found


PYTHONS = _interpreters()
pytestmark = [
    pytest.mark.skipif(
        len(PYTHONS) < 2,
        reason="no other CPython with distributed and brinery in BRINERY_TEST_PYTHONS "
        "(cargo xtask test python sets it)",
    ),
    # The client, scheduler and workers differ in Python version on purpose.
    pytest.mark.filterwarnings("ignore:Mismatched versions found"),
]

_CONFIG = {
    "distributed.comm.timeouts.connect": "20s",
    "distributed.comm.timeouts.tcp": "30s",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The scheduler's address once a worker per interpreter has joined."""
    log_dir = tmp_path_factory.mktemp("dask_workers")
    procs = []
    with dask.config.set(_CONFIG), distributed.LocalCluster(
        n_workers=0, processes=True, dashboard_address=None, silence_logs=40,
    ) as local:
        try:
            for tag, python in PYTHONS.items():
                log = open(log_dir / f"{tag}.log", "wb")
                procs.append((subprocess.Popen(
                    [python, "-m", "dask", "worker", local.scheduler_address,
                     "--name", tag, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                     "--death-timeout", "60", "--preload", "brinery.dask"],
                    stdout=log, stderr=subprocess.STDOUT,
                ), log))
            with distributed.Client(local, timeout="30s") as c:
                try:
                    c.wait_for_workers(len(PYTHONS), timeout=TIMEOUT)
                except TimeoutError:
                    logs = "\n".join(p.read_text()[-2000:] for p in log_dir.iterdir())
                    raise AssertionError(f"workers did not join:\n{logs}") from None
            yield local.scheduler_address
        finally:
            for p, _ in procs:
                p.terminate()
            for p, log in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=20)
                log.close()


CLIENT_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, operator, sys, warnings

    import dask
    import distributed
    import brinery.dask
    from distributed.versions import VersionMismatchWarning

    # The client, scheduler and workers differ in Python version on purpose.
    warnings.filterwarnings("ignore", category=VersionMismatchWarning)

    TIMEOUT = 60


    def make_adder(k):
        def add(a):
            return a + k
        return add


    def make_parity():
        def even(n):
            return True if n == 0 else odd(n - 1)

        def odd(n):
            return False if n == 0 else even(n - 1)
        return even, odd


    def make_fact():
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)
        return fact


    class Box:
        def __init__(self, items):
            self.items = items

        def total(self):
            return sum(self.items)

        def grown(self):
            return Box(self.items + [self.total()])


    @dataclasses.dataclass
    class Point:
        x: int
        y: int = 0

        def norm1(self):
            return abs(self.x) + abs(self.y)


    def checks(client, worker):
        out = {}

        def check(name, fn):
            try:
                out[name] = {"ok": fn()}
            except Exception as e:
                out[name] = {"error": f"{type(e).__name__}: {e}"}

        def run(fn, *args):
            return client.submit(fn, *args, workers=[worker], pure=False).result(TIMEOUT)

        check("runs_there", lambda: run(lambda: sys.implementation.cache_tag))
        check("closure", lambda: run(make_adder(7), 1))
        add, mul = (lambda v: v + 1), (lambda v: v * 10)
        check("two_lambdas_on_one_line", lambda: [run(add, 4), run(mul, 4)])
        check("map_closure", lambda: client.gather(client.map(
            make_adder(10), range(4), workers=[worker], pure=False)))
        check("compute_delayed", lambda: client.compute(
            dask.delayed(make_fact())(5), workers=[worker]).result(TIMEOUT))
        even, odd = make_parity()
        check("recursive_closures", lambda: [run(even, 10), run(odd, 10), run(make_fact(), 6)])

        def made_there():
            # Closures the worker makes from code it compiled from source come back.
            even2, odd2 = run(make_parity)
            return [even2(4), odd2(3), even2(3)]
        check("closures_made_on_the_worker", made_there)

        def box():
            b = run(lambda b: b.grown(), Box([1, 2]))
            return [type(b).__name__, type(b).__module__, b.items, b.total()]
        check("main_class_argument_and_result", box)
        check("dataclass_argument", lambda: run(lambda p: [p.x, p.y, p.norm1()], Point(3, -4)))

        def point():
            p = run(lambda p: Point(p.y, p.x), Point(3, -4))
            return [repr(p), dataclasses.asdict(p), p.norm1(), p == Point(-4, 3)]
        check("dataclass_result", point)
        return out


    if __name__ == "__main__":
        address, workers = sys.argv[1], json.loads(sys.argv[2])
        out = {}
        families = ["brinery-cross-version", "dask", "pickle"]
        with distributed.Client(address, serializers=families, deserializers=families,
                                timeout="30s") as client:
            for w in workers:
                out[w] = checks(client, w)
        # Without the option: the worker gets bytecode of this version.
        families = ["brinery", "dask", "pickle"]
        with distributed.Client(address, serializers=families, deserializers=families,
                                timeout="30s") as client:
            for w in workers:
                try:
                    got = client.submit(lambda a: a + 1, 1, workers=[w], pure=False).result(TIMEOUT)
                    out[w]["plain_family"] = {"ok": got}
                except Exception as e:
                    out[w]["plain_family"] = {"error": f"{type(e).__name__}: {e}"}
                # The worker is still there and runs what needs no code of this version.
                out[w]["alive_after"] = {"ok": client.submit(
                    operator.add, 1, 2, workers=[w], pure=False).result(TIMEOUT)}
        json.dump(out, sys.stdout)
    """
)


@pytest.fixture(scope="module")
def results(cluster, tmp_path_factory):
    """``{client_tag: {worker_tag: {check: {"ok": value} | {"error": text}}}}``: the
    client script run on each interpreter against every worker on another one."""
    folder = tmp_path_factory.mktemp("dask_client")
    script = folder / "client_script.py"
    script.write_text(CLIENT_SCRIPT)
    out = {}
    for tag, python in PYTHONS.items():
        others = [t for t in PYTHONS if t != tag]
        started = time.monotonic()
        r = subprocess.run([python, str(script), cluster, json.dumps(others)],
                           capture_output=True, timeout=300, cwd=folder)
        assert r.returncode == 0, f"client on {tag}:\n{r.stderr.decode()[-4000:]}"
        out[tag] = json.loads(r.stdout)
        out[tag]["seconds"] = time.monotonic() - started
    return out


def _pairs():
    return [(c, w) for c in PYTHONS for w in PYTHONS if c != w]


def _ok(results, client, worker, name):
    got = results[client][worker][name]
    assert "error" not in got, f"client {client}, worker {worker}: {got['error']}"
    return got["ok"]


def _pair_id(p):
    return f"client-{p[0]}-worker-{p[1]}" if isinstance(p, tuple) else "none"


@pytest.fixture(params=_pairs(), ids=_pair_id)
def pair(request):
    return request.param


def test_task_runs_on_the_other_version(results, pair):
    assert _ok(results, *pair, "runs_there") == pair[1]


def test_main_closure_and_two_lambdas_on_one_line(results, pair):
    assert _ok(results, *pair, "closure") == 8
    assert _ok(results, *pair, "two_lambdas_on_one_line") == [5, 40]


def test_map_and_compute(results, pair):
    assert _ok(results, *pair, "map_closure") == [10, 11, 12, 13]
    assert _ok(results, *pair, "compute_delayed") == 120


def test_recursive_closures(results, pair):
    assert _ok(results, *pair, "recursive_closures") == [True, False, 720]
    assert _ok(results, *pair, "closures_made_on_the_worker") == [True, True, False]


def test_main_class_with_methods_both_ways(results, pair):
    assert _ok(results, *pair, "main_class_argument_and_result") == [
        "Box", "__main__", [1, 2, 3], 6,
    ]


def test_main_dataclass_both_ways(results, pair):
    assert _ok(results, *pair, "dataclass_argument") == [3, -4, 7]
    assert _ok(results, *pair, "dataclass_result") == [
        "Point(x=-4, y=3)", {"x": -4, "y": 3}, 7, True,
    ]


def test_plain_family_fails_with_brinery_error_naming_function_and_versions(results, pair):
    client, worker = pair
    got = results[client][worker]["plain_family"]
    assert "error" in got, got
    message = got["error"]
    assert message.startswith("UnpicklingError: cannot load function __main__.<lambda>"), message
    assert f"written on {client}, loaded on {worker}" in message, message
    assert "brinery-cross-version" in message, message
    # The worker survived the failed task.
    assert _ok(results, client, worker, "alive_after") == 3
