"""Rebuilding by-value classes: a base's ``__init_subclass__`` that took class keywords
(``class B(A, flag=True)``), and ``TypeVar``, ``ParamSpec``, ``TypeVarTuple`` and
``NewType`` keeping their ``__module__``."""

import os
import textwrap

import brinery
from helpers import NO_BRINERY, run_python

PKG = os.path.join(os.path.dirname(__file__), "..", "python")

MAIN_SCRIPT = r'''
import sys, typing
import brinery

class A:
    registry = []
    def __init_subclass__(cls, flag, **kw):
        super().__init_subclass__(**kw)
        cls.flag = flag
        A.registry.append(cls)

class B(A, flag=True):
    pass

class C(B, flag=False):
    def m(self):
        return self.flag

T = typing.TypeVar("T", bound=int)

class Box(typing.Generic[T]):
    pass

P = typing.ParamSpec("P", bound=int)
Ts = typing.TypeVarTuple("Ts")
UserId = typing.NewType("UserId", int)

def make_local():
    Local = typing.NewType("Local", str)
    return Local

class Variadic(typing.Generic[typing.Unpack[Ts]]):
    pass

sys.stdout.buffer.write(brinery.dumps([A, B, C, T, Box, P, Ts, UserId, make_local(), Variadic,
                                       typing.Callable[P, UserId]]))
'''

CHECKS = r'''
A, B, C, T, Box, P, Ts, UserId, Local, Variadic, call = obj
assert B.flag is True and C.flag is False and C().m() is False
assert A.registry == [B, C] and B.__bases__ == (A,) and C.__bases__ == (B,)
# The hook is back in place: new subclasses in this process go through it.
class D(A, flag=3):
    pass
assert D.flag == 3 and A.registry == [B, C, D]
assert "__init_subclass__" not in B.__dict__ and "__init_subclass__" not in C.__dict__
assert T.__module__ == "__main__" and T.__bound__ is int and Box.__parameters__ == (T,)
import typing
assert type(P) is typing.ParamSpec and P.__module__ == "__main__" and P.__bound__ is int
assert type(Ts) is typing.TypeVarTuple and Ts.__module__ == "__main__"
assert Variadic.__parameters__ == (Ts,)
assert type(UserId) is typing.NewType and UserId.__module__ == "__main__"
assert UserId(7) == 7 and UserId.__supertype__ is int and repr(UserId) == "__main__.UserId"
assert Local.__qualname__ == "Local" and Local.__supertype__ is str and Local("x") == "x"
assert typing.get_args(call) == (P, UserId)
print("ok")
'''


def test_init_subclass_keywords_and_typevar_module_subprocess():
    env = {"PYTHONPATH": PKG + os.pathsep + os.environ.get("PYTHONPATH", "")}
    data = run_python(MAIN_SCRIPT, env=env)
    # Loaded from a module other than __main__: TypeVar would take that module's name.
    code = NO_BRINERY + "DATA = sys.stdin.buffer.read()\n"
    code += "exec(" + repr(CHECKS_LOADER) + ", {'__name__': 'loader', 'sys': sys})\n"
    assert run_python(code, stdin=data).decode().strip() == "ok"


CHECKS_LOADER = "obj = __import__('pickle').loads(sys.modules['__main__'].DATA)\n" + CHECKS

BASES = """
registry = []

class Strict:
    def __init_subclass__(cls, kind, **kw):
        super().__init_subclass__(**kw)
        cls.kind = kind
        registry.append(cls.__name__)

class Soft:
    def __init_subclass__(cls, kind="soft", **kw):
        super().__init_subclass__(**kw)
        cls.kind = kind
        registry.append(cls.__name__)
"""


def test_importable_base_hook_subprocess(tmp_path, monkeypatch):
    (tmp_path / "subclass_hooks.py").write_text(BASES)
    monkeypatch.syspath_prepend(str(tmp_path))
    import subclass_hooks

    class Needs(subclass_hooks.Strict, kind="x"):
        pass

    class Optional(subclass_hooks.Soft, kind="y"):
        pass

    data = brinery.dumps([Needs, Optional])
    code = NO_BRINERY + textwrap.dedent("""
    import pickle, subclass_hooks
    Needs, Optional = pickle.loads(sys.stdin.buffer.read())
    assert Needs.kind == "x" and Optional.kind == "y"
    # Strict's hook could not run without its keyword; Soft's ran as for any subclass.
    assert subclass_hooks.registry == ["Optional"]
    assert isinstance(subclass_hooks.Strict.__dict__["__init_subclass__"], classmethod)
    class Later(subclass_hooks.Strict, kind="z"):
        pass
    assert Later.kind == "z" and subclass_hooks.registry == ["Optional", "Later"]
    print("ok")
    """)
    out = run_python(code, stdin=data, env={"PYTHONPATH": str(tmp_path)})
    assert out.decode().strip() == "ok"
