"""`brinery_pickle_to_json` against CPython's `json.dumps(pickle.loads(data))`, and the
JSON writer's base64 against `base64.b64encode`, on the same CPython-made streams:

    python3 bindings-c/benches/compare_json.py [path/to/libbrinery.so ...]

(default: `target/release/libbrinery.so`, after `cargo xtask develop`). Each library
is timed in alternating rounds in this one process (ctypes costs one call per stream),
best of each; prints MB/s of pickle stream and the ratio brinery / CPython (above 1 is
faster), then the whole call on one 16 MiB `bytes` in GB/s of payload beside
`base64.b64encode` of the same payload, timed in the same rounds, and their ratio. Given two libraries (a build before a change and one after), times both.
BRINERY_BENCH_ROUNDS sets the number of rounds (5).

The streams are those of `bindings-node/bench/cpython_loads.py` plus `bytes`: 2,000
`bytes` of 4 KiB and 20 of 1 MiB, which JSON carries as base64. Not a test: nothing
here asserts a speed.
"""

import base64
import ctypes
import importlib.util
import json
import os
import pickle
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load(path):
    lib = ctypes.CDLL(path)
    lib.brinery_pickle_to_json.restype = ctypes.c_void_p
    lib.brinery_pickle_to_json.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p]
    lib.brinery_string_free.argtypes = [ctypes.c_void_p]
    err = ctypes.create_string_buffer(4096)

    def to_json(data):
        out = lib.brinery_pickle_to_json(data, len(data), None, err)
        if not out:
            raise RuntimeError("brinery_pickle_to_json failed")
        lib.brinery_string_free(out)

    return to_json


def streams():
    spec = importlib.util.spec_from_file_location(
        "cpython_loads", os.path.join(ROOT, "bindings-node", "bench", "cpython_loads.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = {name: pickle.dumps(obj, protocol=4) for name, obj in mod.streams().items()}
    rnd = random.Random(7)
    blobs = [rnd.randbytes(4096) for _ in range(2000)] + [rnd.randbytes(1 << 20) for _ in range(20)]
    out["bytes"] = pickle.dumps(blobs, protocol=4)
    return out


def best(fn, data, budget=0.3):
    fn(data)
    b = float("inf")
    spent = 0.0
    runs = 0
    while spent < budget or runs < 3:
        t0 = time.perf_counter()
        fn(data)
        dt = time.perf_counter() - t0
        b = min(b, dt)
        spent += dt
        runs += 1
    return b


def cpython(data):
    json.dumps(pickle.loads(data), separators=(",", ":"))


def main(argv):
    libs = argv or [os.path.join(ROOT, "target", "release", "libbrinery.so")]
    fns = [load(p) for p in libs]
    data = streams()
    # `pickle.loads` + `json.dumps` cannot read bytes: give CPython the base64 step.
    def cpython_bytes(d):
        json.dumps([base64.b64encode(b).decode() for b in pickle.loads(d)], separators=(",", ":"))

    rounds = int(os.environ.get("BRINERY_BENCH_ROUNDS", "5"))
    times = {n: [float("inf")] * (len(fns) + 1) for n in data}
    # The whole call on one 16 MiB `bytes` against `b64encode` of it, in the same rounds.
    blob = random.Random(8).randbytes(16 << 20)
    one = pickle.dumps(blob, protocol=4)
    b64 = [float("inf")] * (len(fns) + 1)
    load0 = os.getloadavg()[0]
    for _ in range(rounds):
        for name, d in data.items():
            ref = cpython_bytes if name == "bytes" else cpython
            times[name][0] = min(times[name][0], best(ref, d))
            for i, fn in enumerate(fns):
                times[name][i + 1] = min(times[name][i + 1], best(fn, d))
        b64[0] = min(b64[0], best(base64.b64encode, blob))
        for i, fn in enumerate(fns):
            b64[i + 1] = min(b64[i + 1], best(fn, one))
    print(f"{'stream':8} {'MB':>6} {'CPython MB/s':>13} " + " ".join(f"{'lib' + str(i) + ' MB/s':>11} {'ratio':>6}" for i in range(len(fns))))
    for name, d in data.items():
        mb = len(d) / 1e6
        row = f"{name:8} {mb:6.1f} {mb / times[name][0]:13.1f} "
        row += " ".join(f"{mb / t:11.1f} {times[name][0] / t:5.2f}x" for t in times[name][1:])
        print(row)
    print(f"base64.b64encode of 16 MiB: {len(blob) / b64[0] / 1e9:.2f} GB/s; "
          "brinery_pickle_to_json of one 16 MiB bytes (decode and base64, the whole call): "
          + ", ".join(f"lib{i} {len(blob) / t / 1e9:.2f} GB/s {b64[0] / t:.2f}x"
                      for i, t in enumerate(b64[1:])))
    print(f"{rounds} rounds; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}; libraries: {', '.join(libs)}")


if __name__ == "__main__":
    main(sys.argv[1:])
