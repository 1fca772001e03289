"""``Pickler(namespaces=True)``: an initializer and a worker function loaded from two
streams into one fresh process share their module's globals."""

import os

from helpers import run_python

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")

SCRIPT = r'''
import io, sys
import brinery

foo = None

def init(value):
    global foo
    foo = value

def work():
    return foo

def dump(obj):
    buf = io.BytesIO()
    brinery.Pickler(buf, namespaces=True).dump(obj)
    return buf.getvalue()

a, b = dump(init), dump(work)
sys.stdout.buffer.write(len(a).to_bytes(4, "little") + a + b)
'''

LOADER = r'''
import sys
sys.modules["brinery"] = None
import importlib.util
spec = importlib.util.spec_from_file_location("ns", sys.argv[0] if False else NSFILE)
ns = importlib.util.module_from_spec(spec); spec.loader.exec_module(ns)
data = sys.stdin.buffer.read()
n = int.from_bytes(data[:4], "little")
init = ns.loads(data[4:4 + n])
work = ns.loads(data[4 + n:])
init(42)
print(work(), init.__globals__ is work.__globals__)
'''


def test_initializer_global_seen_by_worker_function_subprocess():
    data = run_python(SCRIPT, env={"PYTHONPATH": PKG})
    loader = LOADER.replace("NSFILE", repr(os.path.join(PKG, "brinery", "_namespaces.py")))
    out = run_python(loader, stdin=data).decode().split()
    assert out == ["42", "True"]
