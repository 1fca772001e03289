"""``python -m brinery dis|scan FILE`` run as real subprocesses: output, and exit status
0 (nothing dangerous), 1 (dangerous or code construction found), 2 (unreadable)."""

import io
import json
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors"


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "brinery", *args], input=stdin,
                          capture_output=True, timeout=60)


def test_dis_prints_what_pickletools_prints(tmp_path):
    data = pickle.dumps({"a": [1, 2.5, "x", (None, True)]}, protocol=4)
    p = tmp_path / "x.pickle"
    p.write_bytes(data)
    want = io.StringIO()
    pickletools.dis(data, out=want)
    r = run("dis", str(p))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == want.getvalue()


def test_dis_of_garbage_and_missing_files_exit_2(tmp_path):
    p = tmp_path / "bad.pickle"
    p.write_bytes(b"\x80\x02\xff")
    r = run("dis", str(p))
    assert r.returncode == 2 and b"unknown opcode" in r.stderr
    assert run("dis", str(tmp_path / "missing")).returncode == 2
    assert run("scan", str(tmp_path / "missing")).returncode == 2


def test_scan_of_a_malicious_stream_exits_1_with_offsets():
    p = VECTORS / "malicious" / "os_system_reduce_p2.pickle"
    r = run("scan", str(p))
    assert r.returncode == 1
    out = r.stdout.decode()
    assert "severity: dangerous" in out
    assert "       2: GLOBAL       dangerous posix.system" in out
    assert "REDUCE       dangerous posix.system" in out


def test_scan_of_all_the_corpus_exits_1():
    for case in json.loads((VECTORS / "malicious" / "manifest.json").read_text()):
        r = run("scan", str(VECTORS / "malicious" / f"{case['name']}.pickle"))
        assert r.returncode == 1, case["name"]
        assert case["dangerous"] in r.stdout.decode()


@pytest.mark.parametrize("name", ["datetime.p2", "decimal.p4", "dict_mixed_keys.p0", "uuid.p5"])
def test_scan_of_benign_vectors_exits_0(name):
    r = run("scan", str(VECTORS / f"{name}.pickle"))
    assert r.returncode == 0, r.stdout
    assert b"severity: safe" in r.stdout


def test_scan_reads_stdin_and_reports_where_it_stopped():
    r = run("scan", "-", stdin=b"\x80\x02cos\nsystem\n")
    assert r.returncode == 1
    assert b"stopped: stream ended without STOP at byte 13" in r.stdout


HOSTILE = Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors" / "hostile"


@pytest.mark.parametrize(
    "case", json.loads((HOSTILE / "streams.json").read_text())["cases"], ids=lambda c: c["name"])
def test_scan_fails_closed_on_every_hostile_stream(case, tmp_path):
    data = b"".join(bytes.fromhex(h) * n for h, n in case["parts"])
    r = run("scan", "-", stdin=data)
    if case["scan"] == "dangerous":
        assert r.returncode == 1, r.stdout
    elif case["scan"] == "unknown":
        assert r.returncode in (1, 3), r.stdout
    else:
        # Scanned "safe" yet stock pickle cannot load it (a list as a dict key): the
        # scan stops there, and fails closed.
        assert r.returncode == 3, r.stdout
    if r.returncode:
        assert b" at byte " in r.stderr
    if "scan_limit" in case:
        # Over a default limit of safe_loads: unknown (3), with the limit and where.
        _, offset = case["scan_limit"]
        assert r.returncode == 3, r.stdout
        assert f" at byte {offset} (safe_loads refuses the stream)".encode() in r.stderr


def test_scan_help_lists_the_exit_statuses():
    r = run("scan", "--help")
    assert r.returncode == 0
    lines = r.stdout.decode().split("exit status:")[1].splitlines()
    statuses = [line.split()[0] for line in lines if line[:3].strip().isdigit()]
    assert statuses == ["0", "1", "3", "2"]
    assert "over a default limit of" in r.stdout.decode()


def test_scan_exit_statuses_are_distinct_for_unknown_and_dangerous():
    unknown = b"\x80\x04\x8c\x05pydoc\x8c\x06locate\x93\x8c\x01x\x85R."
    r = run("scan", "-", stdin=b"\x80\x02cmyapp\nThing\n)R.")
    assert r.returncode == 3 and b"unknown: myapp.Thing at byte 2" in r.stderr
    r = run("scan", "-", stdin=unknown)
    assert r.returncode == 1 and b"dangerous: pydoc.locate at byte 17" in r.stderr
