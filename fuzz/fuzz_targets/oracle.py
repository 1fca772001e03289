"""The CPython side of the ``scan_cpython`` fuzz target: which globals CPython's C
unpickler resolves for a stream, traced without importing or running any of them.

``trace(data)`` runs ``data`` through ``pickle.Unpickler`` twice with a ``find_class``
that records each ``(module, name)`` and returns an inert stub class instead of
importing anything, so the whole stream is traced (calls, ``BUILD`` and ``APPENDS`` on
the stub do nothing):

- as ``pickle.loads(bytes)`` reads it: from a file whose first ``read`` returns the
  whole stream, so the unpickler's buffer holds all of it, as it does for ``loads``
  (frames are then only skipped, never re-read);
- as ``pickle.load(file)`` reads it: from ``io.BytesIO``, where the unpickler reads
  each frame into its buffer and re-reads from the file at the frame's end.

It also runs the real ``pickle.loads(data)`` under an audit hook that records the first
``pickle.find_class`` event and aborts there (nothing is imported): the first global of
the ``loads`` trace must be that one, which checks that the whole-stream file reads as
``loads`` does. Not for loading anything: no global is ever resolved.
"""

import _compat_pickle
import io
import pickle
import resource
import sys

# A stream may claim a memo index of 2**31 (CPython grows its memo to it) or a 4 GiB
# bytes payload: such allocations fail with MemoryError here instead of swapping.
_AS = 1536 << 20
resource.setrlimit(resource.RLIMIT_AS, (_AS, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _ignore(*args, **kwargs):
    return None


class Stub:
    """What every traced global resolves to: a class whose instances accept any call,
    state or items, so the unpickler walks on to the stream's next global."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return Stub()

    __setstate__ = staticmethod(_ignore)
    append = staticmethod(_ignore)
    extend = staticmethod(_ignore)
    add = staticmethod(_ignore)

    def __setitem__(self, key, value):
        pass


class _Tracer(pickle.Unpickler):
    def __init__(self, file, seen):
        super().__init__(file)
        self.seen = seen

    def find_class(self, module, name):
        self.seen.append((module, name))
        return Stub


class _Whole:
    """A file whose first ``read`` returns the whole stream, then end of file."""

    def __init__(self, data):
        self.data = data

    def read(self, n=-1):
        data, self.data = self.data, b""
        return data

    def readline(self, n=-1):
        return self.read()

    def readinto(self, buf):
        return 0


class _First(Exception):
    pass


_hooked = [False]


def _audit(event, args):
    if _hooked[0] and event == "pickle.find_class":
        raise _First(str(args[0]), str(args[1]))


sys.addaudithook(_audit)


def mapped(module, name):
    """``(module, name)`` as the unpickler maps Python 2 names below protocol 3."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _run(file):
    seen = []
    try:
        _Tracer(file, seen).load()
    except Exception:
        pass
    return [(m, n, *mapped(m, n)) for m, n in seen]


def trace(data):
    """``(loads_globals, file_globals, first)``: each global list holds
    ``(module, name, mapped_module, mapped_name)`` in the order resolved; ``first`` is
    the ``(module, name)`` the real ``pickle.loads`` resolves first, or ``None``."""
    loads = _run(_Whole(data))
    file = _run(io.BytesIO(data))
    first = None
    _hooked[0] = True
    try:
        pickle.loads(data)
    except _First as e:
        first = e.args
    except Exception:
        pass
    finally:
        _hooked[0] = False
    return loads, file, first
