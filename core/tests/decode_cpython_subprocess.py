"""Peer for core/tests/decode_cpython_subprocess.rs: reads length-prefixed pickle streams
on stdin and writes, one line each, what CPython's pickle.loads makes of them: the value
in ctext (core/tests/vectors/README.md), "OBJECT" when it holds something other than
plain data, or "ERROR <exception class>". Only the globals CPython writes for plain data
may be loaded (find_class refuses the rest), so mutated streams cannot run code.
"""

import _codecs
import copyreg
import pickle
import resource
import struct
import sys

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


PLAIN = (type(None), bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset)
MEMOIZED = (str, bytes, bytearray, list, dict, set, frozenset)


def memoized(v):
    return isinstance(v, MEMOIZED) or (type(v) is tuple and len(v) > 0)


def children(v):
    if type(v) in (list, tuple, set, frozenset):
        return list(v)
    if type(v) is dict:
        return [x for kv in v.items() for x in kv]
    return []


def ctext(root):
    counts = {}
    todo = [root]
    while todo:
        v = todo.pop()
        if type(v) not in PLAIN:
            raise TypeError("not plain")
        if memoized(v):
            counts[id(v)] = counts.get(id(v), 0) + 1
            if counts[id(v)] > 1:
                continue
        todo.extend(reversed(children(v)))
    shared = {k for k, n in counts.items() if n > 1}
    labels = {}
    out = []

    def esc_str(s):
        r = []
        for ch in s:
            c = ord(ch)
            if ch == "\\":
                r.append("\\\\")
            elif ch == '"':
                r.append('\\"')
            elif 0x20 <= c <= 0x7E:
                r.append(ch)
            else:
                r.append("\\u{%x}" % c)
        return 's"' + "".join(r) + '"'

    def esc_bytes(b):
        r = []
        for c in b:
            if c == 0x5C:
                r.append("\\\\")
            elif c == 0x22:
                r.append('\\"')
            elif 0x20 <= c <= 0x7E:
                r.append(chr(c))
            else:
                r.append("\\x%02x" % c)
        return 'b"' + "".join(r) + '"'

    def walk(v, depth):
        if depth > 400:
            raise RecursionError("too deep")
        if id(v) in shared and memoized(v):
            if id(v) in labels:
                out.append("#%d#" % labels[id(v)])
                return
            labels[id(v)] = len(labels)
            out.append("#%d=" % labels[id(v)])
        t = type(v)
        if v is None:
            out.append("None")
        elif t is bool:
            out.append("True" if v else "False")
        elif t is int:
            out.append(str(v))
        elif t is float:
            out.append(repr(v))
        elif t is str:
            out.append(esc_str(v))
        elif t is bytes:
            out.append(esc_bytes(v))
        elif t is bytearray:
            out.append("bytearray(" + esc_bytes(v) + ")")
        elif t is dict:
            out.append("{")
            for i, (k, x) in enumerate(v.items()):
                if i:
                    out.append(", ")
                walk(k, depth + 1)
                out.append(": ")
                walk(x, depth + 1)
            out.append("}")
        else:
            open_, close = {list: ("[", "]"), tuple: ("(", ")"), set: ("set{", "}"),
                            frozenset: ("frozenset{", "}")}[t]
            if t is tuple and len(v) == 1:
                close = ",)"
            out.append(open_)
            for i, x in enumerate(v):
                if i:
                    out.append(", ")
                walk(x, depth + 1)
            out.append(close)

    walk(root, 0)
    return "".join(out)


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
        except (TypeError, RecursionError):
            lines.append("OBJECT")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
