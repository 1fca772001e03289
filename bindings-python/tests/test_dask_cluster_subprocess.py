"""brinery inside a real Dask cluster: a LocalCluster with two worker processes on this
machine (the scheduler lives in this process, as in every LocalCluster), a client that
sends and receives through the "brinery" family, a worker killed mid-task, and a script
run as ``__main__`` in a subprocess for true ``__main__`` classes."""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest

distributed = pytest.importorskip("distributed", reason="distributed is not installed")
np = pytest.importorskip("numpy")

import dask  # noqa: E402
from dask._expr import LLGExpr  # noqa: E402
from dask._task_spec import Task  # noqa: E402
from distributed.protocol import serialize, to_serialize  # noqa: E402

import brinery.dask  # noqa: E402

SERIALIZERS = ["brinery", "dask", "pickle"]
TIMEOUT = 30
MB = 1 << 20

_CONFIG = {
    "distributed.comm.timeouts.connect": "10s",
    "distributed.comm.timeouts.tcp": "20s",
    # A killed worker is noticed by its nanny at once; keep the heartbeat-based
    # fallback short too.
    "distributed.scheduler.worker-ttl": "15s",
}


@pytest.fixture(scope="module")
def cluster():
    with dask.config.set(_CONFIG):
        with distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            preload=["brinery.dask"],
            silence_logs=40,
        ) as c:
            yield c


@pytest.fixture(scope="module")
def client(cluster):
    # deserializers=["brinery"] alone: anything a worker sends back in another family
    # fails to decode here, so passing tests prove the results came through brinery.
    with distributed.Client(cluster, serializers=SERIALIZERS, deserializers=["brinery"],
                            timeout="20s") as c:
        c.wait_for_workers(2, timeout=TIMEOUT)
        yield c


def test_graph_leaves_the_client_as_a_brinery_stream(client):
    expr = LLGExpr({"k": Task("k", lambda a: a + 1, 1)})
    with client.as_current():
        header, frames = serialize(to_serialize(expr), on_error="raise")
    assert header["serializer"] == "dask"
    assert header["sub-header"]["serializer"] == "brinery"
    assert pickle.loads(frames[0]).dsk["k"]() == 2


def test_lambda_and_closure_tasks(client):
    base = 10
    assert client.submit(lambda a: a + base, 1).result(timeout=TIMEOUT) == 11
    futures = client.map(lambda a: a * base, range(5))
    assert client.gather(futures) == [0, 10, 20, 30, 40]


def _make_parity():
    # even and odd close over each other: the closure cells form a cycle.
    def even(n):
        return True if n == 0 else odd(n - 1)

    def odd(n):
        return False if n == 0 else even(n - 1)

    return even, odd


def test_cyclic_closure_task_and_result(client):
    even, odd = _make_parity()
    assert client.submit(even, 10).result(timeout=TIMEOUT) is True
    assert client.submit(odd, 10).result(timeout=TIMEOUT) is False
    # A function made on the worker comes back by value and runs here.
    even2, odd2 = client.submit(_make_parity).result(timeout=TIMEOUT)
    assert even2(4) and odd2(3)


def test_50mb_array_round_trip(client):
    x = np.random.default_rng(0).random(50 * MB // 8)
    header, frames = serialize(x, serializers=SERIALIZERS)
    assert header["serializer"] == "brinery"
    assert [len(memoryview(f).cast("B")) < 1000 for f in frames] == [True, False]
    assert memoryview(frames[1]).nbytes == x.nbytes

    [fx] = client.scatter([x])
    y = client.submit(lambda a: a * 2, fx).result(timeout=TIMEOUT)
    assert y.nbytes == x.nbytes
    assert np.array_equal(y, x * 2)


def test_exception_comes_back_through_brinery(client):
    def fail(a):
        raise ValueError(f"bad {a}")

    with pytest.raises(ValueError, match="bad 3"):
        client.submit(fail, 3).result(timeout=TIMEOUT)


def _slow_once(path):
    # First attempt: announce its worker's pid, then sleep until killed. Any later
    # attempt finds the file and returns at once.
    import os
    import time

    if os.path.exists(path):
        return "retried", os.getpid()
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(path + ".tmp", path)
    time.sleep(60)
    return "never killed", os.getpid()


def test_worker_killed_mid_task_then_retry_succeeds_subprocess(client, tmp_path):
    path = str(tmp_path / "pid")
    future = client.submit(_slow_once, path, retries=1, pure=False)
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    with open(path) as f:
        victim = int(f.read())
    os.kill(victim, signal.SIGKILL)
    outcome, pid = future.result(timeout=TIMEOUT)
    assert outcome == "retried"
    assert pid != victim
    # The nanny restarts the killed worker; the preload registers brinery there too.
    client.wait_for_workers(2, timeout=TIMEOUT)
    assert sorted(client.gather(client.map(lambda a: -a, [1, 2]))) == [-2, -1]


# A script run as __main__: its classes exist nowhere else, so every worker gets them
# by value. Workers register brinery through a plugin here (no preload).
MAIN_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys

    import distributed
    import brinery.dask

    SERIALIZERS = ["brinery", "dask", "pickle"]


    @dataclasses.dataclass
    class Point:
        x: int
        y: int

        def norm1(self):
            return abs(self.x) + abs(self.y)


    class Box:
        def __init__(self, items):
            self.items = items

        def total(self):
            return sum(self.items)


    def check(name, fn):
        try:
            out[name] = {"ok": fn()}
        except Exception as e:
            out[name] = {"error": f"{type(e).__name__}: {e}"}


    if __name__ == "__main__":
        out = {}
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=40,
        ) as cluster, distributed.Client(
            cluster, serializers=SERIALIZERS, deserializers=["brinery"], timeout="20s",
        ) as client:
            client.wait_for_workers(2, timeout=30)
            client.register_plugin(brinery.dask.WorkerPlugin())
            registered = client.run(
                lambda: "brinery" in __import__(
                    "distributed.protocol.serialize", fromlist=["families"]).families
            )
            out["workers_registered"] = {"ok": sorted(registered.values())}

            def box_round_trip():
                b = client.submit(lambda b: Box(b.items + [b.total()]), Box([1, 2]),
                                  pure=False).result(timeout=30)
                return [type(b).__name__, type(b).__module__, b.items, b.total()]
            check("main_class_argument_and_result", box_round_trip)

            def point_argument():
                return client.submit(lambda p: [p.x, p.y, p.norm1()], Point(3, -4),
                                     pure=False).result(timeout=30)
            check("main_dataclass_argument", point_argument)

            def point_result():
                p = client.submit(lambda p: Point(p.y, p.x), Point(3, -4),
                                  pure=False).result(timeout=30)
                return [type(p).__name__, dataclasses.asdict(p), p.norm1()]
            check("main_dataclass_result", point_result)

            def point_tokenized():
                # Default pure=True: Dask tokenizes the arguments first.
                return client.submit(lambda p: p.norm1(), Point(1, 2)).result(timeout=30)
            check("main_dataclass_pure_submit", point_tokenized)
        json.dump(out, sys.stdout)
    """
)


@pytest.fixture(scope="module")
def main_script_results(tmp_path_factory):
    script = tmp_path_factory.mktemp("dask_main") / "main_script.py"
    script.write_text(MAIN_SCRIPT)
    r = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=120,
                       cwd=script.parent)
    assert r.returncode == 0, r.stderr.decode()[-4000:]
    return json.loads(r.stdout)


def _ok(results, name):
    assert "error" not in results[name], results[name]["error"]
    return results[name]["ok"]


def test_worker_plugin_registers_every_worker_subprocess(main_script_results):
    assert _ok(main_script_results, "workers_registered") == [True, True]


def test_main_class_argument_and_result_subprocess(main_script_results):
    assert _ok(main_script_results, "main_class_argument_and_result") == [
        "Box", "__main__", [1, 2, 3], 6,
    ]


def test_main_dataclass_argument_subprocess(main_script_results):
    assert _ok(main_script_results, "main_dataclass_argument") == [3, -4, 7]


def test_main_dataclass_result_subprocess(main_script_results):
    assert _ok(main_script_results, "main_dataclass_result") == [
        "Point", {"x": -4, "y": 3}, 7,
    ]


def test_main_dataclass_pure_submit_subprocess(main_script_results):
    assert _ok(main_script_results, "main_dataclass_pure_submit") == 3


def _dask_cli(*args, log):
    return subprocess.Popen([sys.executable, "-m", "dask", *args],
                            stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("scheduler_registration", ["preload", "plugin"])
def test_cli_scheduler_and_worker_subprocess(tmp_path, scheduler_registration):
    # The deployment path: `dask scheduler`/`dask worker` in their own processes. Workers
    # preload brinery.dask; the scheduler either preloads it too or gets it from the
    # client as a SchedulerPlugin, and then decodes the client's brinery graphs.
    sched_file = str(tmp_path / "scheduler.json")
    sched_args = ["--preload", "brinery.dask"] if scheduler_registration == "preload" else []
    procs = []
    try:
        with open(tmp_path / "cli.log", "wb") as log:
            procs.append(_dask_cli("scheduler", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", sched_file, *sched_args, log=log))
            procs.append(_dask_cli("worker", "--scheduler-file", sched_file,
                                   "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                                   "--death-timeout", "30", "--preload", "brinery.dask",
                                   log=log))
            deadline = time.monotonic() + TIMEOUT
            while not os.path.exists(sched_file):
                assert time.monotonic() < deadline, (tmp_path / "cli.log").read_text()
                time.sleep(0.1)
            with distributed.Client(scheduler_file=sched_file, serializers=SERIALIZERS,
                                    deserializers=["brinery"], timeout="20s") as c:
                c.wait_for_workers(1, timeout=TIMEOUT)
                k = 5
                if scheduler_registration == "plugin":
                    # Without it the scheduler cannot read the graph: Dask says so.
                    with pytest.raises(RuntimeError, match="deserialization of the task graph"):
                        c.submit(lambda a: a * k, 1).result(timeout=TIMEOUT)
                    c.register_plugin(brinery.dask.SchedulerPlugin())
                even, _ = _make_parity()
                assert c.submit(lambda a: (a * k, even(a)), 4).result(timeout=TIMEOUT) == (
                    20, True)
                assert c.run_on_scheduler(
                    lambda: "brinery" in sys.modules["distributed.protocol.serialize"].families
                )
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
