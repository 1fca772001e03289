"""The `cargo xtask demo` showcase: the cases that break pickle, cloudpickle and dill,
run for real against each library installed, side by side with brinery.

Run with no arguments to print the table. Each cell runs in its own subprocess (so that
the functions and classes it pickles really live in `__main__`, as they do in a user's
script or notebook) with a time limit, and reports what actually happened.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIBS = ["pickle", "cloudpickle", "dill", "brinery"]
CELL_TIMEOUT = 30.0


# ---- what runs inside one cell's subprocess ---------------------------------------------


def dumps(lib, obj):
    if lib == "pickle":
        import pickle

        return pickle.dumps(obj)
    if lib == "cloudpickle":
        import cloudpickle

        return cloudpickle.dumps(obj)
    if lib == "dill":
        import dill

        return dill.dumps(obj, recurse=True)
    import brinery

    return brinery.dumps(obj)


class CellError(Exception):
    """What went wrong inside a cell, already phrased for the table."""


def run_fresh(data, check, block=None):
    """Loads `data` with stock `pickle.loads` in a fresh interpreter and evaluates
    `check` on it (as `obj`). `block` names a module made unimportable there."""
    code = textwrap.dedent(
        f"""
        import pickle, sys
        if {block!r}:
            sys.modules[{block!r}] = None
        obj = pickle.loads(sys.stdin.buffer.read())
        result = {check}
        print("RESULT", result)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, timeout=CELL_TIMEOUT
    )
    if out.returncode != 0:
        last = out.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise CellError(last[0] if last else f"exit {out.returncode}")
    return out.stdout.decode().split("RESULT", 1)[1].strip()


def spawn_child(payloads, checks, queue):
    """Entry point of a `spawn` child: loads each payload with stock pickle (the
    library that made it is importable) and calls it; reports the last result."""
    import pickle

    try:
        result = None
        for data, call in zip(payloads, checks):
            obj = pickle.loads(data)
            result = eval(call, {"obj": obj})
        queue.put(("ok", repr(result)))
    except BaseException as e:  # report anything, the parent prints it
        queue.put(("err", f"{type(e).__name__}: {e}"))


def in_spawn_child(payloads, checks):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=spawn_child, args=(payloads, checks, queue))
    p.start()
    try:
        status, value = queue.get(timeout=CELL_TIMEOUT)
    finally:
        p.join(5)
    if status != "ok":
        raise CellError(value)
    return value


def case_lambda(lib):
    return run_fresh(dumps(lib, lambda x: x + 1), "obj(41)")


def case_mutual_recursion(lib):
    def make():
        def is_even(n):
            return True if n == 0 else is_odd(n - 1)

        def is_odd(n):
            return False if n == 0 else is_even(n - 1)

        return is_even

    return run_fresh(dumps(lib, make()), "obj(10)")


def case_local_class(lib):
    def make():
        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y

            def norm2(self):
                return self.x * self.x + self.y * self.y

        return Point(3, 4)

    return run_fresh(dumps(lib, make()), "obj.norm2()")


def case_stdlib_only(lib):
    scale = 3

    def times(x):
        return x * scale

    return run_fresh(dumps(lib, times), "obj(14)", block=lib if lib != "pickle" else None)


def case_main_class_spawn(lib, cls):
    return in_spawn_child([dumps(lib, cls(20))], ["obj.double()"])


def case_initializer_spawn(lib, init, task):
    if lib == "brinery":
        import brinery

        with brinery.Pool(1, start_method="spawn", initializer=init) as pool:
            return repr(pool.submit(task).result(timeout=CELL_TIMEOUT))
    # Any pool pickles the initializer and each task separately: do exactly that.
    return in_spawn_child([dumps(lib, init), dumps(lib, task)], ["obj()", "obj()"])


def _suicide():
    os.kill(os.getpid(), signal.SIGKILL)


def _square(x):
    return x * x


def case_worker_killed(lib):
    if lib == "pickle":
        import multiprocessing as mp

        with mp.get_context("fork").Pool(2) as pool:
            dead = pool.apply_async(_suicide)
            ok = pool.apply_async(_square, (7,))
            try:
                dead.get(timeout=5)
            except mp.TimeoutError:
                return "!hangs forever (multiprocessing.Pool)"
            return repr(ok.get(timeout=5))
    if lib in ("cloudpickle", "dill"):
        if lib == "cloudpickle":
            import loky

            ex = loky.get_reusable_executor(max_workers=2)
            name = "loky"
        else:
            from concurrent.futures import ProcessPoolExecutor

            ex = ProcessPoolExecutor(2)
            name = "ProcessPoolExecutor"
        dead = ex.submit(_suicide)
        try:
            dead.result(timeout=10)
        except Exception:
            pass
        try:
            return f"{ex.submit(_square, 7).result(timeout=10)!r}"
        except Exception as e:
            return f"!whole pool broken ({name}: {type(e).__name__})"
        finally:
            ex.shutdown(wait=False)
    import brinery

    with brinery.Pool(2) as pool:
        dead = pool.submit(_suicide)
        ok = pool.submit(_square, 7)
        try:
            dead.result(timeout=10)
            return "!killed task reported success"
        except Exception as e:
            died = type(e).__name__
        return f"{ok.result(timeout=10)!r}; killed task: {died}"


SESSION_SAVE = """
import enum, socket, sys
class Mode(enum.Enum):
    TRAIN = 1
mode = Mode.TRAIN
scale = 21
double = lambda x: x * 2
conn = socket.socket()
if sys.argv[1] == "dill":
    import dill
    dill.dump_module(sys.argv[2])
else:
    import warnings, brinery
    warnings.simplefilter("ignore")
    brinery.dump_session(sys.argv[2])
"""

SESSION_LOAD = """
import sys, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "dill":
    import dill
    dill.load_module(sys.argv[2])
else:
    import brinery
    brinery.load_session(sys.argv[2])
print("RESULT", double(scale), mode.name, "conn" in globals())
"""


def case_session(lib):
    if lib not in ("dill", "brinery"):
        return "!no session API"
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "session.pkl")
        for code in (SESSION_SAVE, SESSION_LOAD):
            out = subprocess.run([sys.executable, "-c", code, lib, path], capture_output=True,
                                 timeout=CELL_TIMEOUT)
            if out.returncode != 0:
                last = out.stderr.decode(errors="replace").strip().splitlines()[-1:]
                raise CellError(("saving: " if code is SESSION_SAVE else "loading: ")
                                + (last[0] if last else f"exit {out.returncode}"))
        result = out.stdout.decode().split("RESULT", 1)[1].split()
        return f"{result[0]}; {result[1]}, socket left out" if result[2] == "False" else result[0]


def _put(q, x):
    q.put(x)
    return True


def case_queue_to_running_worker(lib):
    """A ``multiprocessing.Queue`` (the default context's) handed to a worker that is
    already running, then read back in the parent."""
    import multiprocessing as mp

    q = mp.Queue()
    name = {"pickle": "multiprocessing.Pool", "cloudpickle": "loky", "dill": "ProcessPoolExecutor"}
    try:
        if lib == "pickle":
            with mp.Pool(2) as pool:
                pool.apply(_square, (2,))  # the workers are running
                pool.apply_async(_put, (q, 7)).get(timeout=10)
        elif lib in ("cloudpickle", "dill"):
            if lib == "cloudpickle":
                import loky

                ex = loky.get_reusable_executor(max_workers=2)
            else:
                from concurrent.futures import ProcessPoolExecutor

                ex = ProcessPoolExecutor(2)
            try:
                ex.submit(_square, 2).result(timeout=10)
                ex.submit(_put, q, 7).result(timeout=10)
            finally:
                ex.shutdown(wait=False)
        else:
            import brinery

            with brinery.Pool(2) as pool:
                pool.submit(_square, 2).result(timeout=10)
                pool.submit(_put, q, 7).result(timeout=10)
        return repr(q.get(timeout=10))
    except Exception as e:  # noqa: BLE001 - the cell reports it
        return f"!{name.get(lib, lib)}: {type(e).__name__}: {e}"


def _crash_or_sleep(i, started, done):
    # Task 0 kills its worker once task 1 has started beside it; task 1 takes 2 s.
    if i == 0:
        for _ in range(100):
            if os.path.exists(started):
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    open(started, "w").close()
    time.sleep(2.0)
    open(done, "w").close()
    return i


def case_joblib_worker_killed(lib):
    """``joblib.Parallel`` on the library's backend (pickle: ``multiprocessing``,
    cloudpickle: loky, joblib's default) while one task kills its worker: the call fails
    either way (joblib raises the first error), but does the task beside it finish?"""
    backend = {"pickle": "multiprocessing", "cloudpickle": "loky", "brinery": "brinery"}.get(lib)
    if backend is None:
        return "!no joblib backend"
    import tempfile

    import joblib

    if lib == "brinery":
        import brinery.joblib  # noqa: F401 - registers the backend
    with tempfile.TemporaryDirectory() as d:
        started, done = os.path.join(d, "started"), os.path.join(d, "done")
        try:
            with joblib.parallel_config(backend=backend, n_jobs=2):
                joblib.Parallel(batch_size=1, timeout=CELL_TIMEOUT)(
                    joblib.delayed(_crash_or_sleep)(i, started, done) for i in range(2))
            return "!the call reported success"
        except Exception as e:  # noqa: BLE001 - the cell reports it
            error = type(e).__name__
        if error == "TimeoutError":
            return f"!{backend}: the call hangs until its {CELL_TIMEOUT:.0f} s timeout"
        for _ in range(60):
            if os.path.exists(done):
                return f"finished; the killed one: {error}"
            time.sleep(0.1)
        return f"!{backend}: {error}, the task beside it lost"


CASES = [
    ("lambda", "a lambda"),
    ("mutual", "mutually recursive inner functions"),
    ("local_class", "a class defined inside a function"),
    ("main_class_spawn", "class under `if __name__ == '__main__'` to a spawn worker"),
    ("initializer", "initializer sets a global, later task reads it (spawn)"),
    ("no_library", "stream loaded where the library is not importable"),
    ("killed", "a worker killed mid-task: does the rest still run?"),
    ("session", "session (enum, lambda, open socket) saved, restored anew"),
    ("queue", "a Queue handed to a worker that is already running"),
    ("joblib", "joblib: a worker killed mid-call, the task beside it?"),
]

EXPECTED = {
    "lambda": "42",
    "mutual": "True",
    "local_class": "25",
    "main_class_spawn": "40",
    "initializer": "'set by init'",
    "no_library": "42",
    "killed": "49",
    "session": "42",
    "queue": "7",
    "joblib": "finished",
}


def run_cell(case, lib):
    __import__(lib)
    if case == "lambda":
        return case_lambda(lib)
    if case == "mutual":
        return case_mutual_recursion(lib)
    if case == "local_class":
        return case_local_class(lib)
    if case == "no_library":
        return case_stdlib_only(lib)
    if case == "killed":
        return case_worker_killed(lib)
    if case == "session":
        return case_session(lib)
    if case == "queue":
        return case_queue_to_running_worker(lib)
    if case == "joblib":
        return case_joblib_worker_killed(lib)
    raise AssertionError(case)


# ---- the driver -------------------------------------------------------------------------


def cell(case, lib):
    """Runs one cell in a subprocess; returns (ok, short text)."""
    try:
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--cell", case, lib],
            capture_output=True,
            timeout=CELL_TIMEOUT * 2,
            cwd=HERE,
        )
    except subprocess.TimeoutExpired:
        return False, "hangs"
    text = out.stdout.decode(errors="replace").strip().splitlines()
    line = text[-1] if text else ""
    if line.startswith("MISSING"):
        return None, "not installed"
    if line.startswith("OK "):
        value = line[3:]
        if value.startswith("!"):
            return False, value[1:]
        want = EXPECTED[case]
        return value.split(";")[0].strip() == want, value
    err = out.stderr.decode(errors="replace").strip().splitlines()
    return False, (line[4:] if line.startswith("ERR ") else (err[-1] if err else "failed"))


def shorten(text, width):
    return text if len(text) <= width else text[: width - 1] + "…"


def main():
    width = 34
    print(f"{'case':<58}" + "".join(f"{lib:<{width}}" for lib in LIBS))
    print("-" * (58 + width * len(LIBS)))
    for case, title in CASES:
        row = f"{title:<58}"
        for lib in LIBS:
            ok, text = cell(case, lib)
            mark = "-" if ok is None else ("ok" if ok else "FAIL")
            row += f"{shorten(mark + ' ' + text, width - 2):<{width}}"
        print(row, flush=True)
    print()
    print("ok = right result; FAIL = the error or behaviour seen (each cell ran for real).")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--cell":
        case, lib = sys.argv[2], sys.argv[3]
        try:
            __import__(lib)
        except ImportError:
            print("MISSING")
            sys.exit(0)

        # Defined here, under the `__main__` guard, as in a notebook or a script: a spawn
        # child re-importing this file never sees them.
        class Doubler:
            def __init__(self, n):
                self.n = n

            def double(self):
                return self.n * 2

        def init():
            global shared_setting
            shared_setting = "set by init"

        def task():
            return shared_setting

        try:
            start = time.perf_counter()
            if case == "main_class_spawn":
                result = case_main_class_spawn(lib, Doubler)
            elif case == "initializer":
                result = case_initializer_spawn(lib, init, task)
            else:
                result = run_cell(case, lib)
            print(f"OK {result}")
        except BaseException as e:
            msg = str(e).strip().splitlines()
            msg = msg[-1] if msg else ""
            print(f"ERR {msg}" if isinstance(e, CellError) else f"ERR {type(e).__name__}: {msg}")
        sys.exit(0)
    main()
