"""The streams for bench/compare.js, and CPython's own `pickle.loads` speed on them.

    python3 cpython_loads.py gen DIR          write DIR/NAME.pickle for every stream
    python3 cpython_loads.py time FILE...     print {"FILE": MB/s, ...} as JSON
    python3 cpython_loads.py dumps FILE...    the same for `pickle.dumps` of each
                                              file's value (MB/s of the stream it makes)

Each file is timed for BRINERY_BENCH_MIN_TIME seconds (default 1) of CPU time (as
compare.js times Node), best of the runs.

The streams are made by CPython (protocol 4, `pickle.dumps` defaults) from seeded random
data, so every library decodes the same bytes.
"""

import json
import os
import pickle
import random
import sys
import time


def streams():
    rnd = random.Random(6)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 12)))
             for _ in range(5000)]

    def sentence():
        return " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 6)))

    strings = [sentence() for _ in range(200_000)]
    ints = [rnd.choice((rnd.randint(0, 255), rnd.randint(256, 65535),
                        rnd.randint(-2**31, 2**31 - 1))) for _ in range(1_000_000)]
    records = [{"id": i, "name": sentence(), "score": rnd.random() * 100,
                "active": rnd.random() < 0.5, "tags": [rnd.choice(words) for _ in range(3)]}
               for i in range(50_000)]
    return {"strings": strings, "ints": ints, "records": records}


def best_rate(data, min_time=float(os.environ.get("BRINERY_BENCH_MIN_TIME", "1.0")), fn=None):
    loads = fn or pickle.loads
    arg = pickle.loads(data) if fn else data
    loads(arg)
    best = float("inf")
    spent = 0.0
    runs = 0
    while spent < min_time or runs < 3:
        t0 = time.process_time()
        loads(arg)
        dt = max(time.process_time() - t0, 1e-6)
        best = min(best, dt)
        spent += dt
        runs += 1
    return len(data) / best / 1e6


def main(argv):
    if argv[:1] == ["gen"]:
        out = argv[1]
        os.makedirs(out, exist_ok=True)
        for name, obj in streams().items():
            with open(os.path.join(out, name + ".pickle"), "wb") as f:
                f.write(pickle.dumps(obj, protocol=4))
    elif argv[:1] == ["time"]:
        rates = {}
        for path in argv[1:]:
            with open(path, "rb") as f:
                rates[path] = best_rate(f.read())
        print(json.dumps(rates))
    elif argv[:1] == ["dumps"]:
        rates = {}
        for path in argv[1:]:
            with open(path, "rb") as f:
                rates[path] = best_rate(f.read(), fn=lambda v: pickle.dumps(v, protocol=4))
        print(json.dumps(rates))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
