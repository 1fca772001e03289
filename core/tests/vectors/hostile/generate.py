"""Writes streams.json: the hostile streams of issue #20, which every safe decoder and
the scanner are tested against (core/tests/*.rs, bindings-python/tests/test_safe*.py,
bindings-node/test/hostile.test.js, bindings-c/tests/test_hostile.c).

Run with any Python 3: `python3 core/tests/vectors/hostile/generate.py`. The streams
are assembled by hand (CPython's pickler never writes them); none is executed here.

Each entry: `name`, `item` (the numbered item of the issue), `note`, `parts` (the
stream is the concatenation of each `[hex, count]` part repeated `count` times, so
a 176 KB stream takes a line), `len`, and what is expected of it:

- `scan`: the least severity `brinery.scan` must report (`"unknown"` or
  `"dangerous"`, for which `python -m brinery scan` exits non-zero, or `"safe"` for
  the streams stock `pickle.loads` rejects harmlessly with a `TypeError`).
- `safe`: `"refused"` (an error: `UnsafePickleError` or `UnpicklingError`) for
  `safe_loads` with the default allowlist, or `"value"`.
- `scan_limit`: for a stream over a default limit of the safe loaders (the core's
  `Limits::for_input`: depth 10,000, its size written out as a tree), the limit the
  scan reports (`"depth"` or `"expands"`) and the offset where the safe loaders refuse
  it; the scan is then at least `"unknown"`.
- `allow`: the extra `allow=` names the stream is meant for, if any.
- `node`, `c`: `"error"` when `loads` / `brinery_loads` must fail with a coded error.
"""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def g(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def unicode(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b if len(b) < 256 else b"X" + struct.pack("<I", len(b)) + b


def long(n):
    b = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(b)]) + b


cases = []


def case(name, item, note, stream, scan, safe, **extra):
    if isinstance(stream, bytes):
        parts = [[stream.hex(), 1]]
    else:
        parts = [[p.hex(), n] for p, n in stream]
    total = sum(len(bytes.fromhex(h)) * n for h, n in parts)
    if "scan_limit" in extra:
        # Depth and expanded size are measured on the whole value: at its STOP.
        extra["scan_limit"] = [extra["scan_limit"], total - 1]
    cases.append(dict(name=name, item=item, note=note, parts=parts, len=total, scan=scan,
                      safe=safe, **extra))


P2 = b"\x80\x02"
P4 = b"\x80\x04"

# 1. A planted __setstate__: BUILD writes an allowed global into an OrderedDict's
# __dict__, a second BUILD makes the loader call it with an unchecked argument.
plant = P2 + g("collections", "OrderedDict") + b")R}" + unicode("__setstate__")
case("planted_setstate_bytearray", 1, "bytearray(10**9) through a planted __setstate__",
     plant + g("builtins", "bytearray") + b"sb" + b"J\x00\xca\x9a\x3b" + b"b.",
     "unknown", "refused")
case("planted_setstate_list_range", 1, "list(range(10**8)) through a planted __setstate__",
     plant + g("builtins", "list") + b"sb" + g("builtins", "range") + b"J\x00\xe1\xf5\x05\x85R"
     + b"b.", "unknown", "refused")
case("planted_setstate_fraction", 1, "Fraction('1e10000000') through a planted __setstate__",
     plant + g("fractions", "Fraction") + b"sb" + unicode("1e10000000") + b"b.",
     "unknown", "refused")
# 1b. The same through APPENDS: a planted `extend`.
case("planted_extend", 1, "list(range(10**8)) through a planted extend",
     P2 + g("collections", "OrderedDict") + b")R}" + unicode("extend") + g("builtins", "list")
     + b"sb(" + g("builtins", "range") + b"J\x00\xe1\xf5\x05\x85Re.", "unknown", "refused")

# 2. int(Decimal("1e1000000")): 30-75 s of CPU.
case("int_of_huge_decimal", 2, "int(decimal.Decimal('1e1000000'))",
     P2 + g("builtins", "int") + g("decimal", "Decimal") + unicode("1e1000000") + b"\x85R\x85R.",
     "unknown", "refused")
case("decimal_tuple_exponent", 2, "Decimal((0, (1,), 10**6))",
     P2 + g("decimal", "Decimal") + b"K\x00K\x01\x85J\x40\x42\x0f\x00\x87\x85R.",
     "unknown", "refused")

# 3. Shared structures: a DAG of lists (each level holds the previous twice), and a
# dict key that is a DAG of tuples.
levels = 60
dag = [(P2 + b"]q\x00", 1)]
for i in range(1, levels):
    # [prev, prev] memoized as i
    dag.append((b"0h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"\x86q" + bytes([i]), 1))
case("dag_tuples", 3, f"a tuple DAG {levels} levels deep (2**{levels} leaves as a tree)",
     dag + [(b".", 1)], "unknown", "refused", scan_limit="expands")
keys = [(P2 + b"}N", 1), (b"K\x01K\x01\x86q\x00", 1)]
for i in range(1, 40):
    keys.append((b"0h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"\x86q" + bytes([i]), 1))
case("dag_tuple_dict_key", 3, "a dict key that is a 40-level tuple DAG (hashing walks 2**40 leaves)",
     [(P2 + b"}", 1)] + keys[1:] + [(b"N", 1), (b"s.", 1)], "unknown", "refused", node="error",
     scan_limit="expands")

# 4. copyreg._reconstructor(bytearray, bytearray, 10**9).
case("reconstructor_bytearray", 4, "copyreg._reconstructor(bytearray, bytearray, 10**9)",
     P2 + g("copyreg", "_reconstructor") + g("builtins", "bytearray")
     + g("builtins", "bytearray") + b"J\x00\xca\x9a\x3b\x87R.", "unknown", "refused")

# 5. Process-wide side effects.
case("build_safeuuid_singleton", 5, "BUILD on the uuid.SafeUUID(0) singleton",
     P2 + g("uuid", "SafeUUID") + b"K\x00\x85R}" + unicode("_value_") + unicode("pwned")
     + b"sb.", "dangerous", "refused")
case("build_global_function", 5, "BUILD on textwrap.indent (allowed) rewrites its defaults",
     P2 + g("textwrap", "indent") + b"}(" + unicode("__qualname__") + unicode("pwned")
     + unicode("__defaults__") + b"K\x01\x85u" + b"b.", "unknown", "refused",
     allow=["textwrap.indent"])

# 6. NEWOBJ_EX on str with encoding="idna" as a keyword.
case("newobj_ex_idna", 6, "str.__new__(str, b'x', encoding='idna') through NEWOBJ_EX",
     P4 + b"\x8c\x08builtins\x8c\x03str\x93" + b"C\x01x\x85}" + unicode("encoding")
     + unicode("idna") + b"s\x92.", "unknown", "refused")

# 7. bytes(bytes(...bytes("x"))) nested 44,000 deep (Node recursed without a limit).
depth = 44_000
case("nested_bytes_calls", 7, f"bytes(bytes(...)) nested {depth} deep",
     [(P2 + b"cbuiltins\nbytes\nq\x00", 1), (b"h\x00", depth - 1), (b"X\x01\x00\x00\x00x", 1),
      (b"\x85R", depth), (b".", 1)], "unknown", "refused",
     scan_limit="depth")

# 8. dict: "object" with DAG tuple keys: the same stream as dag_tuple_dict_key.

# 9. pickle_to_json: repeated references written in full every time.
jl = [(P2 + b"]q\x00(K\x01K\x02e", 1)]
for i in range(1, 30):
    jl.append((b"0]q" + bytes([i]) + b"(h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"e", 1))
case("dag_lists", 9, "a list DAG 30 levels deep: JSON of the tree would be 2**30 items",
     jl + [(b".", 1)], "unknown", "refused", scan_limit="expands")

# 10. STACK_GLOBAL('uuid', 'os.system'): a wildcard allowlist must not admit it.
case("stack_global_dotted", 10, "STACK_GLOBAL('uuid', 'os.system')",
     P4 + unicode("uuid") + unicode("os.system") + b"\x93" + unicode("true") + b"\x85R.",
     "dangerous", "refused", allow=["uuid.*"], node="error", c="error")

# 11. JSON that json_to_pickle rejected.
case("list_as_dict_key", 11, "a list used as a dict key", bytes.fromhex("80047d5d4e732e"),
     "safe", "refused")
case("newline_in_global_name", 11, "a global name with a newline (STACK_GLOBAL)",
     P4 + unicode("mod") + unicode("a\nb") + b"\x93.", "unknown", "refused")

# 12. Live payloads the scanner let through with exit 0.
live = [
    ("uuid", "_get_command_stdout"), ("pydoc", "pipepager"), ("imaplib", "IMAP4_stream"),
    ("timeit", "timeit"), ("cProfile", "run"), ("bdb", "Bdb.run"), ("trace", "Trace.runctx"),
    ("doctest", "run_docstring_examples"), ("logging.config", "dictConfig"),
    ("pydoc", "locate"), ("_operator", "attrgetter"), ("pickle", "_loads"),
    ("yaml", "unsafe_load"), ("codecs", "open"), ("_pyio", "open"), ("pathlib", "Path.touch"),
    ("zipfile", "ZipFile"), ("logging", "FileHandler"),
]
for m, n in live:
    case(f"live_{m}_{n}".replace(".", "_"), 12, f"{m}.{n}('x')",
         P4 + unicode(m) + unicode(n) + b"\x93" + unicode("x") + b"\x85R.", "unknown", "refused")

# 13. A BINUNICODE whose length runs across a FRAME boundary. pickle.loads reads one
# str and then a bytes value (SHORT_BINBYTES) over the payload; pickle.load(file) (the
# C unpickler reading from a file) drops the frame's last 2 bytes and reads the str
# from the frame end, and so executes the payload: os.system('true').
payload = g("os", "system") + unicode("true") + b"\x85R"
after = b"\x00" * 6 + b"C" + bytes([len(payload)]) + payload + b"00N."
frame = b"X" + struct.pack("<I", 8) + b"\x00\x00"
case("frame_hides_global", 13, "BINUNICODE across a FRAME end hides GLOBAL os.system + REDUCE",
     P4 + b"\x95" + struct.pack("<Q", len(frame)) + frame + after, "dangerous", "refused",
     node="error", c="error")

with open(os.path.join(HERE, "streams.json"), "w") as f:
    json.dump({"cases": cases}, f, indent=1)
    f.write("\n")
print(f"{len(cases)} streams")
