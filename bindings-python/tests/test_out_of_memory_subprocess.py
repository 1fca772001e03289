"""Running out of memory in the middle of a dump raises ``MemoryError``, as ``pickle``
does, and leaves the interpreter working: never an abort. Each child caps its address
space a little above what it already uses (``RLIMIT_AS``), at headrooms that make
different allocations fail first (the memo table, the growing ``bytes`` result,
Python's own objects)."""

import sys

import pytest

from helpers import run_python

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc are Linux")

CHILD = """
import pickle, resource, sys
import brinery

kind, headroom_mb = sys.argv[1], int(sys.argv[2])
if kind == "payloads":
    data = [bytes([i % 251]) * 1024 for i in range(60_000)]  # a 60 MB result
else:
    data = [str(i) for i in range(400_000)]  # 400,000 memo entries, a 3 MB result

def vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize"):
                return int(line.split()[1]) * 1024

limit = vm_size() + headroom_mb * 2**20
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
outcome = []
for dumps in (brinery.dumps, pickle.dumps):
    try:
        ok = len(dumps(data, 5)) > 0
        outcome.append("ok" if ok else "empty")
    except MemoryError:
        outcome.append("MemoryError")
resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
# Still working: a small dump after the failed one.
assert brinery.dumps([1, "a", b"b"], 5) == pickle.dumps([1, "a", b"b"], 5)
print(" ".join(outcome))
"""


@pytest.mark.parametrize(
    "kind, headrooms",
    [("payloads", [5, 20, 40, 60, 80, 110]), ("memo", [1, 3, 6, 12, 20, 40])],
)
def test_a_dump_out_of_memory_raises_memory_error(kind, headrooms):
    seen = set()
    for mb in headrooms:
        out = run_python(CHILD.replace("sys.argv[1], int(sys.argv[2])", f"{kind!r}, {mb}"))
        brinery_outcome, pickle_outcome = out.decode().split()
        assert brinery_outcome in ("ok", "MemoryError"), (mb, out)
        seen.add(brinery_outcome)
    # The headrooms straddle the dump's needs: some fail, the largest succeeds.
    assert seen == {"ok", "MemoryError"}, (kind, seen)


SETTER_CHILD = """
import io, resource, sys
import brinery

headroom_mb = HEADROOM
data = [str(i) for i in range(400_000)]
memo = {id(o): (i, o) for i, o in enumerate(data)}
p = brinery.Pickler(io.BytesIO(), 5)
with open("/proc/self/status") as f:
    vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize"))
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (vm + headroom_mb * 2**20, hard))
try:
    p.memo = memo
    outcome = "ok"
except MemoryError:
    outcome = "MemoryError"
resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
if outcome == "ok":
    # Accepted means all of it was taken: the next dump does not fail for it.
    p.dump(data[:3])
print(outcome)
"""


def test_a_memo_too_big_to_set_is_refused_when_set():
    seen = set()
    for mb in (1, 2, 4, 8, 16, 32):
        seen.add(run_python(SETTER_CHILD.replace("HEADROOM", str(mb))).decode().strip())
    assert seen <= {"ok", "MemoryError"} and "ok" in seen, seen


SAFE_CHILD = """
import resource
from brinery import safe

n = 16 << 20
data = b"\\x80\\x04(" + b"K\\x07" * n + b"l."  # a 16-million-item list in 32 MB
with open("/proc/self/status") as f:
    vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize"))
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (vm + 96 * 2**20, hard))
try:
    safe.safe_loads(data)
    outcome = "ok"
except MemoryError as e:
    outcome = "MemoryError" if "at byte" in str(e) else f"MemoryError without offset: {e}"
resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
assert safe.safe_loads(b"\\x80\\x04(K\\x01K\\x02l.") == [1, 2]
print(outcome)
"""


def test_safe_loads_out_of_memory_raises_memory_error_with_the_offset():
    # The decoder's stack and tree outgrow the cap (8 bytes an item and more, where the
    # stream has 2): `MemoryError` naming the byte, as the core reports it, not an abort.
    assert run_python(SAFE_CHILD).decode().strip() == "MemoryError"
