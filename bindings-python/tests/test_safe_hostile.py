"""The hostile streams of issue #20 (``core/tests/vectors/hostile/streams.json``, shared
with the core, C and Node tests) against ``safe_loads`` and ``scan``.

Each stream is loaded in a fresh interpreter whose peak RSS is measured: it must give
a value or a clean ``UnpicklingError`` with an offset, grow the process by less than
100 MB, and change no process state (``uuid.SafeUUID.safe``, ``textwrap.indent``).
Time is bounded by the decoders' own limits, not asserted: the subprocess timeout is a
hang guard only."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import brinery

HOSTILE = Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors" / "hostile"
CASES = json.loads((HOSTILE / "streams.json").read_text())["cases"]
SEVERITIES = ("safe", "unknown", "code", "dangerous")
NO_OFFSET = {"list_as_dict_key"}


def stream(case):
    return b"".join(bytes.fromhex(h) * n for h, n in case["parts"])


def test_streams_match_their_manifest():
    for case in CASES:
        assert len(stream(case)) == case["len"], case["name"]


RUN_ONE = r"""
import json, resource, sys, textwrap, uuid
import brinery
case = json.loads(sys.argv[1])
data = sys.stdin.buffer.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    brinery.safe_loads(data, allow=case.get("allow"))
    out = {"outcome": "value"}
except brinery.UnpicklingError as e:
    out = {"outcome": "refused", "type": type(e).__name__, "offset": e.offset, "message": str(e)}
out["grew_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
out["side_effects"] = [
    uuid.SafeUUID.safe.value != 0,
    textwrap.indent.__qualname__ != "indent",
    textwrap.indent.__defaults__ != (None,),
]
print(json.dumps(out))
"""


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_safe_loads_is_bounded_and_leaves_no_trace_subprocess(case):
    r = subprocess.run([sys.executable, "-c", RUN_ONE, json.dumps(case)], input=stream(case),
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    out = json.loads(r.stdout)
    assert out["outcome"] == case["safe"], out
    if out["outcome"] == "refused":
        assert out["type"] in ("UnpicklingError", "UnsafePickleError"), out
        # Refusals carry the offset of the opcode (or of the object's opcode) at fault;
        # an unhashable dict key is found while filling a dict, which has none.
        if case["name"] not in NO_OFFSET:
            assert out["offset"] is not None and 0 <= out["offset"] < case["len"], out
            assert out["message"].endswith(f"at byte {out['offset']}"), out
    assert out["grew_kb"] < 100 * 1024, out
    assert out["side_effects"] == [False, False, False], out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_scan_flags_every_stream_at_its_severity(case):
    s = brinery.scan(stream(case))
    assert SEVERITIES.index(s.severity) >= SEVERITIES.index(case["scan"]), s
    # Over a default limit of safe_loads exactly when the manifest says so, and where
    # safe_loads refuses it (the same core limits: `Limits::for_input`).
    if "scan_limit" in case:
        kind, offset = case["scan_limit"]
        assert s.limit is not None and s.limit[1] == offset, s.limit
        words = {"depth": "nesting deeper than the limit of 10000",
                 "expands": "value expands to more than"}[kind]
        assert s.limit[0].startswith(words), s.limit
        assert any(f.offset == offset and f.severity == "unknown" for f in s.calls), s.calls
    else:
        assert s.limit is None, s.limit


def test_allow_wildcards_follow_the_core_rule():
    # `module.*` admits that module's own public top-level names only: the same rule
    # as the C and Node bindings (brinery_core::Allowlist).
    import textwrap

    wrapper = b"\x80\x02ctextwrap\nTextWrapper\n."
    assert brinery.safe_loads(wrapper, allow=["textwrap.*"]) is textwrap.TextWrapper
    for stream, name, offset in [
        (b"\x80\x02ctextwrap\n_whitespace\n.", "textwrap._whitespace", 2),
        (b"\x80\x02ctextwrap\nre.compile\n.", "textwrap.re.compile", 2),
        (b"\x80\x04\x8c\x08textwrap\x94\x8c\nre.compile\x94\x93.", "textwrap.re.compile", 26),
    ]:
        with pytest.raises(brinery.UnsafePickleError) as e:
            brinery.safe_loads(stream, allow=["textwrap.*"])
        assert (e.value.global_name, e.value.offset) == (name, offset)

