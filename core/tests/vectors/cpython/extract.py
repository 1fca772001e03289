"""Extracts CPython's own unpickling corpus from Lib/test/pickletester.py.

Writes, next to this script:
  dataN.pickle             DATA0..DATA4
  dataN.pickletester.dis   their DATAn_DIS text from pickletester.py
  dataN.dis                what this Python's pickletools.dis prints for them
  bad.txt                  every stream an AbstractUnpickleTests test hands to
                           check_unpickling_error, one per line:
                           "<test name> <hex bytes> <exception classes CPython accepts>"

The bad streams are collected by running the tests themselves against pickle.loads (the
C unpickler) with check_unpickling_error recording its argument, so nothing is copied by
hand and every recorded stream is one CPython really rejects. Run with python3.11:

    python3 core/tests/vectors/cpython/extract.py
"""

import io
import os
import pickle
import pickletools
import sys
import unittest

from test import pickletester

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(HERE, name), mode) as f:
        f.write(data)


def main():
    for n in range(5):
        write(f"data{n}.pickle", getattr(pickletester, f"DATA{n}"))
        # The DATAn_DIS literals are not raw strings, so pickletools' "\x80" opcode
        # column became the character U+0080; put the escape back.
        dis = getattr(pickletester, f"DATA{n}_DIS")
        dis = "".join(f"\\x{ord(c):02x}" if 0x80 <= ord(c) <= 0xff else c for c in dis)
        write(f"data{n}.pickletester.dis", dis)
        # pickletester's texts predate the "(as N)" notes pickletools now prints after
        # MEMOIZE; dataN.dis is what this Python's pickletools.dis prints.
        out = io.StringIO()
        pickletools.dis(getattr(pickletester, f"DATA{n}"), out=out)
        write(f"data{n}.dis", out.getvalue())

    recorded = []

    class Recorder(pickletester.AbstractUnpickleTests, unittest.TestCase):
        bad_stack_errors = (pickle.UnpicklingError, IndexError)
        truncated_errors = (pickle.UnpicklingError, EOFError, AttributeError,
                            ValueError, struct_error())

        def loads(self, data, **kwargs):
            return pickle.loads(data, **kwargs)

        def check_unpickling_error(self, errors, data):
            if not isinstance(errors, tuple):
                errors = (errors,)
            with self.assertRaises(errors):
                self.loads(data)
            names = ",".join(sorted({e.__name__ for e in errors}))
            recorded.append((self._testMethodName, data, names))

    names = sorted(n for n in dir(Recorder) if n.startswith("test_"))
    suite = unittest.TestSuite(Recorder(n) for n in names)
    result = unittest.TextTestRunner(stream=open(os.devnull, "w")).run(suite)
    if result.errors or result.failures:
        for test, tb in result.errors + result.failures:
            print(test, tb, file=sys.stderr)
        sys.exit("some pickletester tests failed under the recorder")

    seen = set()
    lines = []
    for test, data, errors in recorded:
        if data in seen:
            continue
        seen.add(data)
        lines.append(f"{test} {data.hex() or '-'} {errors}\n")
    write("bad.txt", "".join(lines))
    print(f"{len(lines)} bad streams, DATA0-4 written to {HERE}")


def struct_error():
    import struct
    return struct.error


if __name__ == "__main__":
    main()
