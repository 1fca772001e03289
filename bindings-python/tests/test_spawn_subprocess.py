"""A class defined under ``if __name__ == "__main__":`` in a script, sent to a
``multiprocessing`` spawn child as a brinery stream, works there."""

import os
import subprocess
import sys

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")

SCRIPT = r'''
import multiprocessing as mp
import pickle


def run_in_child(data, queue):
    obj = pickle.loads(data)
    queue.put(obj["point"].norm2() + obj["scale"](3))


if __name__ == "__main__":
    import brinery

    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

        def norm2(self):
            return self.x * self.x + self.y * self.y

    factor = 10
    data = brinery.dumps({"point": Point(3, 4), "scale": lambda v: v * factor})
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=run_in_child, args=(data, q))
    p.start()
    print(q.get(timeout=60))
    p.join(60)
    print(p.exitcode)
'''


def test_main_guard_class_in_spawn_child_subprocess(tmp_path):
    script = tmp_path / "spawn_main.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=PKG)
    r = subprocess.run([sys.executable, str(script)], capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().split() == ["55", "0"]
