"""The scanner's verdict against what CPython's unpickler actually imports: a seeded
fuzz run over mutations of the shared vectors, the malicious corpus and the hostile
streams of issue #20.

For each stream a fresh CPython (the peer, in a subprocess) loads it twice, without
running anything the stream names:

- ``pickle.loads(bytes)``, under an audit hook that records the first
  ``pickle.find_class`` and aborts the load right there (nothing is imported);
- ``pickle.Unpickler(io.BytesIO(data)).load()``, the C unpickler reading a file,
  whose ``find_class`` records every global and returns an inert stub, so the whole
  stream is traced (this is the reader that frames can fool).

The property: when ``brinery.scan`` says ``safe`` (``python -m brinery scan`` would exit
0), every global CPython imported on either path is on the safe list. Streams CPython
rejects are compared up to where it stopped."""

import json
import random
import subprocess
import sys
from pathlib import Path

import brinery
from brinery.safe import DEFAULT_ALLOW

VECTORS = Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors"

PEER = r"""
import io, json, pickle, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
# A hang guard, not a measurement: the run takes a few seconds.
resource.setrlimit(resource.RLIMIT_CPU, (120, 120))

class Abort(Exception):
    pass

first = []

def hook(event, args):
    if event == "pickle.find_class" and armed[0]:
        first.append(py3(args[0], args[1], proto[0]))
        raise Abort()

armed = [False]
proto = [0]
sys.addaudithook(hook)

class Stub:
    def __init__(self, *a, **k):
        pass
    def __call__(self, *a, **k):
        return Stub()
    def __setstate__(self, state):
        pass
    def __reduce__(self):
        return (Stub, ())
    def append(self, x):
        pass
    def extend(self, x):
        pass
    def __setitem__(self, k, v):
        pass

import _compat_pickle

def py3(module, name, proto):
    # What pickle's own find_class maps Python 2 names to (below protocol 3).
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return "%s.%s" % (module, name)

class Tracer(pickle.Unpickler):
    def find_class(self, module, name):
        self.seen.append(py3(module, name, self.proto))
        return Stub

out = []
for line in sys.stdin:
    data = bytes.fromhex(line.strip())
    # The protocol the stream declares (pickle maps names below 3).
    proto[0] = data[1] if len(data) > 1 and data[0] == 0x80 else 0
    first.clear()
    armed[0] = True
    try:
        pickle.loads(data)
    except BaseException:
        pass
    armed[0] = False
    t = Tracer(io.BytesIO(data))
    t.seen = []
    t.proto = proto[0]
    try:
        t.load()
    except BaseException:
        pass
    out.append([first[:1], t.seen])
json.dump(out, sys.stdout)
"""


def corpus():
    base = []
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    for case in manifest["cases"]:
        for p in case["protocols"]:
            path = VECTORS / f"{case['name']}.p{p}.pickle"
            if path.exists() and path.stat().st_size <= 4096:
                base.append(path.read_bytes())
    malicious = json.loads((VECTORS / "malicious" / "manifest.json").read_text())
    for case in malicious:
        base.append((VECTORS / "malicious" / f"{case['name']}.pickle").read_bytes())
    hostile = json.loads((VECTORS / "hostile" / "streams.json").read_text())["cases"]
    for case in hostile:
        # Leave out the streams whose point is exhausting the peer (planted calls with
        # huge arguments, int(Decimal), DAGs CPython hashes for minutes, deep nesting):
        # the peer would not finish, and they name only safe-listed globals anyway.
        if case["len"] <= 4096 and case["item"] not in (1, 2, 3, 4, 7, 9):
            base.append(b"".join(bytes.fromhex(h) * n for h, n in case["parts"]))
    return base


def mutate(rng, data, other):
    data = bytearray(data)
    interesting = b"\x00\x01\x7f\x80\xff(.012aestuRbciogphqjr\x81\x85\x8a\x8c\x93\x94\x95\n"
    for _ in range(1 + rng.randrange(4)):
        n = len(data)
        op = rng.randrange(6)
        if op == 0 and n:
            data[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            data[rng.randrange(n)] = interesting[rng.randrange(len(interesting))]
        elif op == 2:
            data.insert(rng.randrange(n + 1), interesting[rng.randrange(len(interesting))])
        elif op == 3 and n:
            i = rng.randrange(n)
            del data[i:i + 1 + rng.randrange(min(8, n - i))]
        elif op == 4 and other:
            i = rng.randrange(len(other))
            chunk = other[i:i + 1 + rng.randrange(32)]
            at = rng.randrange(n + 1)
            data[at:at] = chunk
        elif op == 5 and n:
            del data[rng.randrange(n):]
    return bytes(data)


def test_scan_never_passes_what_cpython_imports_subprocess():
    rng = random.Random(20)
    base = corpus()
    streams = list(base)
    for i in range(3000):
        streams.append(mutate(rng, base[i % len(base)], base[rng.randrange(len(base))]))
    r = subprocess.run([sys.executable, "-c", PEER],
                       input="\n".join(s.hex() for s in streams).encode(),
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    results = json.loads(r.stdout)
    assert len(results) == len(streams)
    misses = []
    imported = 0
    for data, (first, traced) in zip(streams, results):
        names = set(first) | set(traced)
        imported += bool(names)
        if brinery.scan(data).severity == "safe":
            unsafe = sorted(n for n in names if n not in DEFAULT_ALLOW)
            if unsafe:
                misses.append(f"{data.hex()}: scan says safe, CPython imports {unsafe}")
    assert not misses, "\n".join(misses[:20])
    assert imported > 500, imported
