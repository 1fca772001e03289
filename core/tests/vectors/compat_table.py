"""Writes ``core/src/compat_table.rs``: the Python 2 <-> Python 3 name tables that
``pickle`` applies with ``fix_imports=True`` (CPython's ``_compat_pickle``), as sorted
Rust statics. ``generate.py`` calls it; ``cargo xtask codegen`` runs it on its own
(``python3 core/tests/vectors/compat_table.py``)."""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PATH = os.path.join(REPO, "core", "src", "compat_table.rs")

HEADER = [
    "//! Python 3 to Python 2 names for `GLOBAL` below protocol 3, as `pickle` writes them",
    "//! with `fix_imports=True` (CPython's `_compat_pickle`), and the reverse for reading.",
    "//! Generated from `_compat_pickle` by `core/tests/vectors/generate.py`; do not edit by hand.",
    "",
    "/// A `(module, name)` pair.",
    "pub(crate) type Name = (&'static str, &'static str);",
    "",
]


def rust_str(s):
    """A Rust string literal for ``s``."""
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def table_lines():
    """The file's lines, before rustfmt."""
    import _compat_pickle as cp

    lines = list(HEADER)

    def static(title, name, item_type, rows):
        lines.append("/// %s" % title)
        lines.append("pub(crate) static %s: &[%s] = &[" % (name, item_type))
        lines.extend("    %s," % row for row in rows)
        lines.append("];")
        lines.append("")

    def pairs(table):
        return [
            "((%s, %s), (%s, %s))" % (rust_str(m), rust_str(n), rust_str(m2), rust_str(n2))
            for (m, n), (m2, n2) in sorted(table.items())
        ]

    def modules(table):
        return ["(%s, %s)" % (rust_str(m), rust_str(m2)) for m, m2 in sorted(table.items())]

    static("`(python3 module, name) -> (python2 module, name)`, sorted.",
           "REVERSE_NAME_MAPPING", "(Name, Name)", pairs(cp.REVERSE_NAME_MAPPING))
    static("`python3 module -> python2 module`, sorted.", "REVERSE_IMPORT_MAPPING",
           "(&str, &str)", modules(cp.REVERSE_IMPORT_MAPPING))
    static("`(python2 module, name) -> (python3 module, name)`, sorted.", "NAME_MAPPING",
           "(Name, Name)", pairs(cp.NAME_MAPPING))
    static("`python2 module -> python3 module`, sorted.", "IMPORT_MAPPING",
           "(&str, &str)", modules(cp.IMPORT_MAPPING))
    return lines


def write_compat_table(path=PATH):
    """Writes the table to ``path`` and formats it with rustfmt when it is on PATH."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(table_lines()).rstrip("\n") + "\n")
    rustfmt = shutil.which("rustfmt")
    if rustfmt:
        subprocess.run([rustfmt, "--edition", "2021", path], check=True)
    else:
        print("rustfmt not found: %s is not formatted" % path, file=sys.stderr)


if __name__ == "__main__":
    write_compat_table()
