"""Instructions per ``brinery.dumps`` of plain containers, counted by callgrind: the
figure to compare before and after a change to the walker's container loops, where
timings on a shared machine are too noisy to see a few percent.

Run from the repo root: ``.venv/bin/python bindings-python/benches/walker_counts.py``
(needs ``valgrind``). For each case it runs this script under
``valgrind --tool=callgrind`` twice, dumping the object ``REPEAT`` times and 0 times, and
prints the difference divided by ``REPEAT``: building the object, starting Python and
importing brinery cancel out (``PYTHONHASHSEED=0``, so that string hashes do not vary
between runs). ``walker_counts.py run CASE N`` is the inner script.
"""

import os
import re
import subprocess
import sys
import tempfile

import brinery

PROTO = 5
REPEAT = 4


class Items(list):
    """A list subclass: its items go through the walker's iterator loop."""


class Entries(dict):
    """A dict subclass: its entries go through the walker's iterator loop."""


CASES = {
    "100,000 ints in a list": lambda: list(range(100_000)),
    "50,000 str -> int dict": lambda: {f"key{i}": i for i in range(50_000)},
    "50,000 ints in a set": lambda: set(range(50_000)),
    "10,000 small dicts in a list": lambda: [
        {"id": i, "name": f"n{i}", "score": i * 0.5} for i in range(10_000)
    ],
    "50,000 ints in a list subclass": lambda: Items(range(50_000)),
    "50,000 str -> int dict subclass": lambda: Entries(
        {f"key{i}": i for i in range(50_000)}
    ),
}


def run(case, n):
    obj = CASES[case]()
    for _ in range(n):
        brinery.dumps(obj, PROTO)


def instructions(case, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "run",
                case,
                str(n),
            ],
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with open(out) as f:
            text = f.read()
    return int(re.search(r"^summary: (\d+)", text, re.M).group(1))


def main():
    if sys.argv[1:2] == ["run"]:
        run(sys.argv[2], int(sys.argv[3]))
        return
    for case in CASES:
        per_dump = (instructions(case, REPEAT) - instructions(case, 0)) / REPEAT
        print(f"{case}: {per_dump / 1e6:.3f}M instructions per dumps()", flush=True)


if __name__ == "__main__":
    main()
