"""Sessions and joblib against their peers, in one run: `brinery.dump_session` against
`dill.dump_module` (time, size, what each kept) and a scikit-learn `GridSearchCV` on the
brinery joblib backend against loky.

    .venv/bin/python bindings-python/benches/session_compare.py

Each session is built in a fresh `python` (its objects really live in `__main__`), saved
five times with each library (best time kept), then loaded in another fresh `python`.
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap

SESSION = """
    import collections, dataclasses, enum, math, socket, sys, time
    import numpy as np

    weights = np.random.default_rng(0).random((500, 200))
    labels = [f"row-{i}" for i in range(20000)]
    same = labels
    config = {"lr": 0.1, "layers": [64, 32], "labels": labels}
    scale = 2.5
    def predict(x):
        return (weights @ x) * scale
    norm = lambda v: math.sqrt(sum(t * t for t in v))
    def make_adder(n):
        return lambda x: x + n
    add3 = make_adder(3)
    @dataclasses.dataclass
    class Run:
        name: str
        score: float
    runs = [Run(f"r{i}", i / 10) for i in range(1000)]
    class Mode(enum.Enum):
        TRAIN = 1
        EVAL = 2
    mode = Mode.EVAL
    Pair = collections.namedtuple("Pair", "a b")
    pairs = [Pair(i, -i) for i in range(1000)]
    {extra}

    lib, path = sys.argv[1], sys.argv[2]
    best = float("inf")
    error = ""
    for _ in range(5):
        t = time.perf_counter()
        try:
            if lib == "brinery":
                import warnings, brinery
                warnings.simplefilter("ignore")
                brinery.dump_session(path, exclude=["lib", "path", "best", "error", "t", "brinery", "warnings"])
            else:
                import dill
                dill.dump_module(path)
        except Exception as e:
            error = f"{{type(e).__name__}}: {{str(e)[:60]}}"
            break
        best = min(best, time.perf_counter() - t)
    print(json.dumps({{"time": best, "error": error,
                      "size": os.path.getsize(path) if not error else 0}}))
"""

LOAD = """
    import sys, time, json, warnings
    lib, path = sys.argv[1], sys.argv[2]
    warnings.simplefilter("ignore")
    t = time.perf_counter()
    if lib == "brinery":
        import brinery
        skipped = list(brinery.load_session(path))
    else:
        import dill
        dill.load_module(path)
        skipped = []
    took = time.perf_counter() - t
    kept = sorted(n for n in ("weights", "labels", "predict", "norm", "add3", "runs", "mode", "pairs", "conn")
                  if n in globals())
    ok = same is labels and predict(weights[0][:200]).shape == (500,) and add3(1) == 4
    print(json.dumps({"time": took, "kept": kept, "skipped": skipped, "ok": bool(ok)}))
"""


def run(code, *args):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                         capture_output=True, text=True, timeout=600)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def sessions():
    print("| session | library | save (best of 5) | size | load | kept after load |")
    print("|---|---|---|---|---|---|")
    for title, extra in [("no socket", ""), ("with an open socket", "conn = socket.socket()")]:
        code = "import json, os\n" + textwrap.dedent(SESSION).replace("{extra}", extra)
        code = code.replace("{{", "{").replace("}}", "}")
        for lib in ("dill", "brinery"):
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "session.pkl")
                saved = run(code, lib, path)
                if saved.get("error"):
                    print(f"| {title} | {lib} | fails: {saved['error']} | | | nothing |")
                    continue
                loaded = run(LOAD, lib, path)
                if loaded.get("error"):
                    kept = f"load fails: {loaded['error'][:60]}"
                    load = ""
                else:
                    kept = ", ".join(loaded["kept"]) + (f"; left out: {', '.join(loaded['skipped'])}"
                                                        if loaded["skipped"] else "")
                    load = f"{loaded['time'] * 1000:.0f} ms"
                print(f"| {title} | {lib} | {saved['time'] * 1000:.0f} ms | "
                      f"{saved['size'] / 1e6:.2f} MB | {load} | {kept} |")


GRID = """
    import sys, time
    import joblib, numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.linear_model import LogisticRegression
    import brinery.joblib

    class Clip(BaseEstimator):
        def __init__(self, limit=3.0):
            self.limit = limit
        def fit(self, X, y=None):
            return self
        def transform(self, X):
            return np.clip(X, -self.limit, self.limit)

    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    pipe = make_pipeline(FunctionTransformer(lambda a: a * 1.0), Clip(), StandardScaler(),
                         LogisticRegression(max_iter=200))
    grid = {"clip__limit": [1.0, 2.0, 3.0, 4.0], "logisticregression__C": [0.1, 1.0, 10.0]}
    backend = sys.argv[1]
    times = []
    for _ in range(3):
        t = time.perf_counter()
        with joblib.parallel_config(backend=backend, n_jobs=2):
            s = GridSearchCV(pipe, grid, cv=5).fit(X, y)
        times.append(time.perf_counter() - t)
    print(backend, f"first {times[0]:.2f} s, best {min(times):.2f} s, best score {s.best_score_:.4f}")
"""


def grid():
    print()
    print("GridSearchCV, 12 candidates x 5 folds, n_jobs=2 (first call includes worker start):")
    for backend in ("loky", "brinery"):
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(GRID), backend],
                             capture_output=True, text=True, timeout=600)
        print(" ", out.stdout.strip() or out.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    sessions()
    grid()
