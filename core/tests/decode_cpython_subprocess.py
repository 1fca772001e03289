"""Peer for core/tests/decode_cpython_subprocess.rs: reads length-prefixed pickle streams
on stdin and writes, one line each, what CPython's pickle.loads makes of them: the value
in ctext (core/tests/vectors/README.md), "OBJECT" when it holds something other than
plain data, or "ERROR <exception class>". Only the globals CPython writes for plain data
may be loaded (find_class refuses the rest), so mutated streams cannot run code.
"""

import os
import pickle
import resource
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors"))
from ctext import ctext  # noqa: E402 - the one renderer, shared with generate.py

ALLOWED = {
    ("builtins", n) for n in ("set", "frozenset", "bytes", "bytearray", "list", "tuple", "dict")
} | {("_codecs", "encode"), ("copyreg", "_reconstructor")}


class Refused(Exception):
    pass


class Safe(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise Refused(f"{module}.{name}")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise Refused("persistent id")


def main():
    sys.setrecursionlimit(10000)
    # A mutated LONG_BINPUT key can make CPython's array memo ask for gigabytes; fail
    # that fast with MemoryError instead of paging for a minute.
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    data = sys.stdin.buffer.read()
    pos = 0
    lines = []
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        stream = data[pos + 4 : pos + 4 + n]
        pos += 4 + n
        try:
            v = Safe(__import__("io").BytesIO(stream)).load()
        except Refused:
            lines.append("OBJECT")
            continue
        except BaseException as e:  # noqa: BLE001 - every failure is an answer here
            lines.append("ERROR " + type(e).__name__)
            continue
        try:
            lines.append(ctext(v))
        except (TypeError, RecursionError):  # not plain data, or nested too deep to render
            lines.append("OBJECT")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
