"""Writes the corpus of malicious pickles that brinery's scanner must flag and its safe
loaders must reject without running anything.

Run from anywhere with the Python the vectors are made with (3.11):

    python3 core/tests/vectors/malicious/generate.py

Every payload that runs (``"runs": true`` in ``manifest.json``) creates the file
``brinery-pwned`` in the current directory when loaded with stock ``pickle.loads``;
``bindings-python/tests/test_safe_malicious.py`` proves that in a subprocess (so the
corpus cannot silently rot into harmless bytes) and that brinery never creates it.
``"dangerous"`` names the global the scanner must report as dangerous (or as code
construction, ``"severity": "code"``). ``"setup": "extension"`` payloads need
``copyreg.add_extension("posix", "system", 0xBEEF)`` in the loading process.
"""

import json
import marshal
import os
import pickle
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SENTINEL = "brinery-pwned"
TOUCH = f"touch {SENTINEL}"
OPEN = f"open({SENTINEL!r}, 'w').close()"


def u(s):
    """SHORT_BINUNICODE."""
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def binbytes(b):
    return b"B" + struct.pack("<I", len(b)) + b


class _Reduce:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def dumps_reduce(func, args, protocol):
    return pickle.dumps(_Reduce(func, args), protocol=protocol)


def cases():
    out = []

    def add(name, data, dangerous, runs=True, severity="dangerous", setup=None, note="",
            cache_tag=None):
        case = dict(name=name, data=data, dangerous=dangerous, runs=runs,
                    severity=severity, setup=setup, note=note)
        if cache_tag:
            # Runs only on the interpreter that made it (marshalled bytecode).
            case["cache_tag"] = cache_tag
        out.append(case)

    for p in (0, 2, 4):
        add(f"os_system_reduce_p{p}", dumps_reduce(os.system, (TOUCH,), p), "posix.system",
            note="os.system through REDUCE, as pickle writes it")
    add("os_system_py2_names", b"cos\nsystem\n(S'" + TOUCH.encode() + b"'\ntR.", "os.system",
        note="GLOBAL with the os module name, protocol 0")
    add("subprocess_popen_reduce", dumps_reduce(__import__("subprocess").Popen,
                                                (["touch", SENTINEL],), 2),
        "subprocess.Popen")
    add("subprocess_popen_newobj",
        b"\x80\x02csubprocess\nPopen\n]" + u("touch") + b"a" + u(SENTINEL) + b"a\x85\x81.",
        "subprocess.Popen", runs=False,
        note="NEWOBJ calls Popen.__new__ only; flagged all the same")
    add("eval_reduce", b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00" + u("builtins") + u("eval")
        + b"\x93" + binunicode(OPEN) + b"\x85R.", "builtins.eval")
    add("exec_inst_p0", b"(S\"" + OPEN.encode() + b"\"\ni__builtin__\nexec\n.", "builtins.exec",
        note="INST with arguments calls the global")
    add("exec_obj_p1", b"(c__builtin__\nexec\nX" + struct.pack("<I", len(OPEN)) + OPEN.encode()
        + b"o.", "builtins.exec", note="OBJ calls the global after the mark")
    add("getattr_import_chain",
        b"c__builtin__\ngetattr\n(c__builtin__\n__import__\n(S'os'\ntRS'system'\ntR(S'"
        + TOUCH.encode() + b"'\ntR.", "builtins.getattr",
        note="getattr(__import__('os'), 'system')(cmd)")
    add("getattr_static_name",
        b"\x80\x02c__builtin__\ngetattr\ncos\npath\nU\x06systemq\x00\x86R.", "builtins.getattr",
        runs=False, note="getattr(os.path, 'system'): resolves statically to a bad name")
    inner = dumps_reduce(os.system, (TOUCH,), 2)
    add("nested_pickle_loads", b"\x80\x02c_pickle\nloads\n" + binbytes(inner) + b"\x85R.",
        "_pickle.loads", note="pickle.loads of a nested malicious pickle")
    add("stack_global_memo",
        b"\x80\x04" + u("posix") + b"\x94" + u("system") + b"\x94" + b"00" + b"h\x00h\x01\x93"
        + u(TOUCH) + b"\x85R.", "posix.system",
        note="STACK_GLOBAL over strings fetched from the memo")
    add("stack_global_memo_put_get_p4",
        b"\x80\x04(" + u("os") + b"q\x07" + u("sys") + b"q\x081" + b"h\x07" + u("system")
        + b"\x93" + u(TOUCH) + b"\x85R.", "os.system",
        note="memo entries written inside a discarded mark")
    add("ext_code", b"\x80\x02\x83\xef\xbe" + u(TOUCH) + b"\x85R.", "extension code 48879",
        setup="extension", note="EXT2 0xBEEF, registered as posix.system by the loader")
    code = marshal.dumps(compile(OPEN, "<payload>", "exec"))
    add("code_construction",
        b"\x80\x02ctypes\nFunctionType\ncmarshal\nloads\n" + binbytes(code) + b"\x85R}"
        + u("__builtins__") + b"c__builtin__\n__import__\nU\x08builtins\x85Rs\x86R)R.",
        "types.FunctionType",
        note="a function built from marshalled code, then called",
        cache_tag=sys.implementation.cache_tag)
    add("partial_os_system",
        b"\x80\x02cfunctools\npartial\ncposix\nsystem\n" + u(TOUCH) + b"\x86R)R.",
        "posix.system", note="functools.partial(os.system, cmd)()")
    add("build_sets_module_attribute",
        b"\x80\x02cos\npath\nN}" + u("sep") + u("!") + b"s\x86b.", "os.path", runs=False,
        note="BUILD with slot state on a module: setattr(os.path, 'sep', '!')")
    add("shutil_rmtree", b"\x80\x02cshutil\nrmtree\n" + u("/nonexistent-brinery") + b"\x85R.",
        "shutil.rmtree", runs=False, note="not run by the control test: it deletes")
    add("runpy_run_module", b"\x80\x02crunpy\n_run_code\n" + u(OPEN) + b"}\x86R.",
        "runpy._run_code")
    add("socket_create", b"\x80\x02csocket\nsocket\n)R.", "socket.socket", runs=False)
    add("ctypes_cdll", b"\x80\x02cctypes\nCDLL\nN\x85R.", "ctypes.CDLL", runs=False)
    add("importlib_import", b"\x80\x02cimportlib\nimport_module\nU\x02os\x85R.",
        "importlib.import_module", runs=False)
    add("sys_modules_build", b"\x80\x02csys\nmodules\n.", "sys.modules", runs=False)
    add("pty_spawn", b"\x80\x02cpty\nspawn\nU\x04true\x85R.", "pty.spawn", runs=False)
    add("truncated_after_payload", dumps_reduce(os.system, (TOUCH,), 2)[:-3], "posix.system",
        runs=False, note="cut before STOP: still reported up to the cut")
    return out


def main():
    if sys.version_info[:2] != (3, 11):
        sys.exit("generate the corpus with Python 3.11 (the marshalled code is version-bound)")
    manifest = []
    for c in cases():
        data = c.pop("data")
        (HERE / f"{c['name']}.pickle").write_bytes(data)
        manifest.append(c)
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(manifest)} malicious pickles to {HERE}")


if __name__ == "__main__":
    main()
