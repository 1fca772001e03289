"""The "brinery" joblib backend through real joblib and scikit-learn: lambdas and
`__main__` estimators by value, batches, generators, cancellation after a failure, a
crashed worker against loky's, and a `GridSearchCV` scored the same as on loky."""

import os
import time

import pytest

joblib = pytest.importorskip("joblib")

import brinery.joblib  # noqa: E402
from brinery.pool import WorkerDiedError  # noqa: E402
from helpers import run_python  # noqa: E402

Parallel, delayed = joblib.Parallel, joblib.delayed


@pytest.fixture(scope="module", autouse=True)
def _pools():
    yield
    brinery.joblib.shutdown()


def test_import_brinery_does_not_import_joblib():
    out = run_python("import sys, brinery; brinery.dumps(1); print('joblib' in sys.modules)")
    assert out.strip() == b"False"


def test_lambdas_and_closures_in_batches():
    base = 100
    with joblib.parallel_config(backend="brinery", n_jobs=2):
        auto = Parallel()(delayed(lambda x: x + base)(i) for i in range(50))
        fixed = Parallel(batch_size=7)(delayed(lambda x: x * 2)(i) for i in range(50))
    assert auto == [i + 100 for i in range(50)]
    assert fixed == [i * 2 for i in range(50)]


def test_runs_on_brinery_workers():
    with joblib.parallel_config(backend="brinery", n_jobs=2):
        pids = set(Parallel()(delayed(os.getpid)() for _ in range(8)))
    assert os.getpid() not in pids
    pool = brinery.joblib._pool(2, "fork")
    assert pids <= set(pool.worker_pids())


@pytest.mark.parametrize("return_as", ["generator", "generator_unordered"])
def test_generators(return_as):
    with joblib.parallel_config(backend="brinery", n_jobs=2):
        gen = Parallel(return_as=return_as)(delayed(lambda x: x * x)(i) for i in range(20))
        out = list(gen)
    if return_as == "generator":
        assert out == [i * i for i in range(20)]
    else:
        assert sorted(out) == [i * i for i in range(20)]


def test_spawn_start_method():
    with joblib.parallel_config(backend="brinery", n_jobs=2, start_method="spawn"):
        assert Parallel()(delayed(lambda x: -x)(i) for i in range(6)) == [0, -1, -2, -3, -4, -5]


def _wait_for(path, limit=60.0):
    end = time.monotonic() + limit
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.01)


def test_a_failed_task_cancels_the_batches_not_started(tmp_path):
    go = str(tmp_path / "go")

    def task(i):
        if i == 0:
            # Slower than the pool's 5 ms queue budget, so no worker is sent more than
            # its running task and one queued (a fast task would let the pool queue
            # more at its worker before joblib cancels).
            time.sleep(0.1)
            raise ValueError("task 0 fails")
        _wait_for(go)  # the others hold their worker until the call has failed
        open(tmp_path / f"ran-{i}", "w").close()
        return i

    # Three workers: a pool of its own, with no task timed yet.
    with joblib.parallel_config(backend="brinery", n_jobs=3):
        with pytest.raises(ValueError, match="task 0 fails"):
            Parallel(batch_size=1, pre_dispatch="all")(delayed(task)(i) for i in range(30))
    open(go, "w").close()
    pool = brinery.joblib._pool(3, "fork")
    assert pool.submit(int, "1").result(timeout=60) == 1
    # What a worker had (running, or queued at it) may still run; the other batches
    # were cancelled.
    ran = list(tmp_path.glob("ran-*"))
    assert len(ran) <= 6, ran


# The task that dies waits (a little) for the other to start, so that both usually run
# side by side; the other one takes a few seconds.
def _crash_or_sleep(i, started, done):
    if i == 0:
        _wait_for(started, limit=5.0)
        os.kill(os.getpid(), 9)
    open(started, "w").close()
    time.sleep(3.0)
    open(done, "w").close()
    return i


def test_a_crashed_worker_fails_its_task_only_where_loky_kills_the_call(tmp_path):
    runs = {}
    for backend in ("loky", "brinery"):
        started, done = str(tmp_path / f"{backend}-started"), str(tmp_path / f"{backend}-done")
        with joblib.parallel_config(backend=backend, n_jobs=2):
            with pytest.raises(Exception) as info:
                Parallel(batch_size=1)(delayed(_crash_or_sleep)(i, started, done) for i in range(2))
        runs[backend] = (info.value, os.path.exists(done))
        if backend == "brinery":
            _wait_for(done)
            runs[backend] += (os.path.exists(done),)
    err, finished_first = runs["loky"]
    assert type(err).__name__ == "TerminatedWorkerError", err
    assert not finished_first  # loky failed the call at once, every worker killed
    err, _, finished = runs["brinery"]
    assert isinstance(err, WorkerDiedError) and "SIGKILL" in str(err), err
    assert finished  # the other task still ran to its end
    # Both backends run the next call.
    for backend in ("brinery", "loky"):
        with joblib.parallel_config(backend=backend, n_jobs=2):
            assert Parallel()(delayed(abs)(-i) for i in range(4)) == [0, 1, 2, 3]


GRID_SEARCH = """
    import sys
    import joblib
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    import brinery.joblib

    class NearestCentroid(BaseEstimator, ClassifierMixin):
        def __init__(self, shrink=0.0):
            self.shrink = shrink
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            centre = X.mean(axis=0)
            self.centroids_ = np.array([
                (1 - self.shrink) * X[y == c].mean(axis=0) + self.shrink * centre
                for c in self.classes_])
            return self
        def predict(self, X):
            d = ((X[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
            return self.classes_[d.argmin(axis=1)]

    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    pipe = make_pipeline(FunctionTransformer(lambda a: np.tanh(a)), StandardScaler(),
                         NearestCentroid())
    grid = {"nearestcentroid__shrink": [0.0, 0.2, 0.5, 0.8]}
    scores = {}
    for backend in sys.argv[1:]:
        with joblib.parallel_config(backend=backend, n_jobs=2):
            search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
        scores[backend] = search.cv_results_["mean_test_score"].round(12).tolist()
    print(scores)
    assert len(set(map(tuple, scores.values()))) == 1, scores
    print("same")
"""


def test_grid_search_over_a_lambda_and_a_main_estimator_scores_as_on_loky(tmp_path):
    script = tmp_path / "grid.py"
    import textwrap

    script.write_text(textwrap.dedent(GRID_SEARCH))
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(script), "loky", "brinery"], capture_output=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    assert out.stdout.decode().splitlines()[-1] == "same"
