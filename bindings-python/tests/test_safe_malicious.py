"""The malicious corpus (``core/tests/vectors/malicious/``) against real peers: stock
``pickle.loads`` in a subprocess really runs each payload (it creates
``brinery-pwned``), and ``brinery.safe_loads`` refuses every one without creating it;
``brinery.scan`` flags each with its global. By-value streams from cloudpickle, dill and
brinery are classified as code construction and refused; their plain data loads."""

import copyreg
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import brinery

CORPUS = Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors" / "malicious"
CASES = json.loads((CORPUS / "manifest.json").read_text())
SENTINEL = "brinery-pwned"


def data(case):
    return (CORPUS / f"{case['name']}.pickle").read_bytes()


@pytest.mark.parametrize("case", [c for c in CASES if c["runs"]], ids=lambda c: c["name"])
def test_payload_runs_under_stock_pickle_in_a_subprocess(case, tmp_path):
    made_for = case.get("cache_tag")
    if made_for and made_for != sys.implementation.cache_tag:
        pytest.skip(f"marshalled code of {made_for} only runs there")
    setup = "import copyreg\ncopyreg.add_extension('posix', 'system', 0xBEEF)\n" \
        if case["setup"] == "extension" else ""
    code = f"{setup}import pickle, sys\npickle.loads(sys.stdin.buffer.read())\n"
    subprocess.run([sys.executable, "-c", code], input=data(case), cwd=tmp_path,
                   capture_output=True, timeout=60)
    assert (tmp_path / SENTINEL).exists(), case["name"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_safe_loads_refuses_without_running(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    registered = case["setup"] == "extension"
    if registered:
        copyreg.add_extension("posix", "system", 0xBEEF)
    try:
        with pytest.raises(pickle.UnpicklingError) as info:
            brinery.safe_loads(data(case))
    finally:
        if registered:
            copyreg.remove_extension("posix", "system", 0xBEEF)
    assert not (tmp_path / SENTINEL).exists()
    err = info.value
    assert isinstance(err, brinery.UnpicklingError)
    if case["name"] != "truncated_after_payload":
        assert isinstance(err, brinery.UnsafePickleError), err
        assert err.offset is not None
        assert f"at byte {err.offset}" in str(err)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_scan_flags_the_payload(case):
    s = brinery.scan(data(case))
    assert s.dangerous
    assert case["dangerous"] in {f.target for f in s.flagged("code")}


def by_value_lambda():
    offset = 3
    return lambda x: x + offset


@pytest.mark.parametrize("lib", ["cloudpickle", "dill", "brinery"])
def test_by_value_streams_are_code_construction_and_refused(lib, tmp_path):
    mod = pytest.importorskip(lib)
    stream = mod.dumps(by_value_lambda())
    s = brinery.scan(stream)
    assert s.severity in ("code", "dangerous"), s.flagged("unknown")
    assert any(f.severity == "code" for f in s.imports), s.imports
    with pytest.raises(brinery.UnsafePickleError):
        brinery.safe_loads(stream)


PLAIN = {"ints": [1, 2**70], "text": "é", "nested": ({"a": None}, 1.5), "set": {1, 2}}


@pytest.mark.parametrize("lib", ["cloudpickle", "dill", "brinery"])
def test_by_value_libraries_plain_data_is_safe(lib):
    mod = pytest.importorskip(lib)
    stream = mod.dumps(PLAIN)
    assert brinery.scan(stream).severity == "safe"
    assert brinery.safe_loads(stream) == PLAIN


def test_nothing_was_created_in_the_test_directory():
    assert not os.path.exists(SENTINEL)
