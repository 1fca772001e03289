"""Canonical text ("ctext") of a plain Python value, as defined in README.md.

Shared by generate.py (which writes the expected values) and the tests that check what
CPython makes of brinery's streams, so both sides render values the same way.
"""

MEMOIZED = (str, bytes, bytearray, list, tuple, dict, set, frozenset)


def is_memoized(obj):
    return isinstance(obj, MEMOIZED) and not (type(obj) is tuple and len(obj) == 0)


def children(obj):
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out.append(k)
            out.append(v)
        return out
    return []


def count_visits(root):
    """How many times each memoized object is reached, depth first."""
    counts = {}

    def walk(obj):
        if is_memoized(obj):
            key = id(obj)
            counts[key] = counts.get(key, 0) + 1
            if counts[key] > 1:
                return
        for child in children(obj):
            walk(child)

    walk(root)
    return counts


def esc_str(s):
    out = []
    for ch in s:
        cp = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 0x20 <= cp <= 0x7E:
            out.append(ch)
        else:
            out.append("\\u{%x}" % cp)
    return "".join(out)


def esc_bytes(b):
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif c == 0x22:
            out.append('\\"')
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def ctext(root):
    counts = count_visits(root)
    labels = {}

    def render(obj):
        shared = is_memoized(obj) and counts.get(id(obj), 0) > 1
        if shared:
            if id(obj) in labels:
                return "#%d#" % labels[id(obj)]
            labels[id(obj)] = len(labels)
            prefix = "#%d=" % labels[id(obj)]
        else:
            prefix = ""
        return prefix + render_body(obj)

    def render_body(obj):
        t = type(obj)
        if obj is None:
            return "None"
        if t is bool:
            return "True" if obj else "False"
        if t is int:
            return str(obj)
        if t is float:
            return repr(obj)
        if t is str:
            return 's"%s"' % esc_str(obj)
        if t is bytes:
            return 'b"%s"' % esc_bytes(obj)
        if t is bytearray:
            return 'bytearray(b"%s")' % esc_bytes(obj)
        if t is list:
            return "[%s]" % ", ".join(render(x) for x in obj)
        if t is tuple:
            if len(obj) == 1:
                return "(%s,)" % render(obj[0])
            return "(%s)" % ", ".join(render(x) for x in obj)
        if t is dict:
            return "{%s}" % ", ".join(
                "%s: %s" % (render(k), render(v)) for k, v in obj.items()
            )
        if t is set:
            return "set{%s}" % ", ".join(render(x) for x in obj)
        if t is frozenset:
            return "frozenset{%s}" % ", ".join(render(x) for x in obj)
        raise TypeError("not plain data: %r" % t)

    return render(root)


def is_plain(root):
    seen = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if obj is None or type(obj) in (bool, int, float, str, bytes, bytearray):
            continue
        if type(obj) in (list, tuple, dict, set, frozenset):
            stack.extend(children(obj))
            continue
        return False
    return True
