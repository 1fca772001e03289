"""Open files, stored as a snapshot: a readable, seekable file opened on disk loads as an
in-memory file (``io.StringIO`` for text, ``io.BytesIO`` for binary) holding the file's
whole contents, at the same position and with the same ``name`` (cloudpickle stores
text files this way; binary files are stored the same way here).

The standard streams load as the loading process's own (``getattr(sys, "stdout")``).
Closed files, terminals, pipes and files not opened for reading cannot be stored and
raise ``PicklingError`` saying why. The file itself is left at the position it had.

Pool workers do not use this: the pool passes open files as descriptors.
"""

import io
import sys

from ._errors import PicklingError

__all__ = ["binary_file", "text_file"]

_STD_STREAMS = ("stdout", "stderr", "stdin", "__stdout__", "__stderr__", "__stdin__")


def _std_stream(f):
    for name in _STD_STREAMS:
        if getattr(sys, name, None) is f:
            return getattr, (sys, name)
    return None


def _check_storable(f):
    name = getattr(f, "name", None)
    what = f"file {name!r}" if name is not None else "file"
    if f.closed:
        raise PicklingError(f"cannot pickle closed {what}")
    if f.isatty():
        raise PicklingError(f"cannot pickle {what}: it is a terminal")
    if not f.readable():
        mode = getattr(f, "mode", "?")
        raise PicklingError(f"cannot pickle {what}: not open for reading (mode {mode!r})")
    if not f.seekable():
        raise PicklingError(f"cannot pickle {what}: it cannot seek (a pipe or socket?)")
    return what


def _snapshot(f, what):
    """The whole contents and the position in them, in the file's own units (characters
    for text), with ``f`` left where it was."""
    try:
        cookie = f.tell()
        f.seek(0)
        whole = f.read()
        f.seek(cookie)
        # A text file's tell() is an opaque cookie, not a character index: the index is
        # how much of the contents lies before it.
        position = len(whole) - len(f.read())
        f.seek(cookie)
    except (OSError, ValueError) as e:
        raise PicklingError(f"cannot pickle {what}: reading it failed: {e}") from e
    return whole, position


def _attributes(f):
    name = getattr(f, "name", None)
    return {"name": name} if isinstance(name, str) else None


def text_file(f):
    """Reduction of an ``io.TextIOWrapper``."""
    std = _std_stream(f)
    if std is not None:
        return std
    what = _check_storable(f)
    contents, position = _snapshot(f, what)
    # `StringIO.__setstate__((value, newline, position, dict))`; newline "" keeps the
    # contents as read (the file already translated its line endings).
    return io.StringIO, (), (contents, "", position, _attributes(f))


def binary_file(f):
    """Reduction of a binary file (``BufferedReader``, ``BufferedRandom``,
    ``BufferedWriter``, ``FileIO``): refused unless readable."""
    what = _check_storable(f)
    contents, position = _snapshot(f, what)
    # `BytesIO.__setstate__((value, position, dict))`.
    return io.BytesIO, (), (contents, position, _attributes(f))
