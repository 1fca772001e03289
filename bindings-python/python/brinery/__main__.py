"""``python -m brinery dis FILE`` and ``python -m brinery scan FILE``.

``dis`` prints the disassembly (as ``pickletools.dis``); ``scan`` prints every global the
stream would import and every call it would make, with byte offsets and severities.
``FILE`` may be ``-`` for standard input.

``scan`` fails closed, so its exit status can gate a pipeline: 0 only when every global
the stream names is on the known-safe list (the one ``safe_loads`` allows by default)
and the scan read the whole stream; 1 when a global or call is ``dangerous`` or builds
``code`` (or the framing hides opcodes); 3 when anything is ``unknown`` (a global on
no list, a stream over a default limit of ``safe_loads``, which refuses it, or a stream
the scan could not read to its end); 2 when the input cannot be read. ``dis`` exits 0, or 2 when the input cannot be read or is not a valid pickle.
"""

import argparse
import sys

from .safe import UnpicklingError, dis, scan


#: ``scan`` exit statuses besides 0 (every global known safe).
EXIT_DANGEROUS = 1
EXIT_UNREADABLE = 2
EXIT_UNKNOWN = 3

SCAN_EXIT_STATUSES = f"""\
exit status:
  0  every global is on the known-safe list (safe_loads' default), and the stream
     was read to its STOP under every default limit of safe_loads
  {EXIT_DANGEROUS}  a global or call is dangerous or builds code, or the framing hides opcodes
  {EXIT_UNKNOWN}  a global on no list, a stream over a default limit of safe_loads (which
     refuses it), or a stream not read to its end
  {EXIT_UNREADABLE}  the input cannot be read
"""


def _read(path):
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def _dis(data):
    try:
        sys.stdout.write(dis(data))
    except UnpicklingError as e:
        print(f"brinery dis: {e}", file=sys.stderr)
        return 2
    return 0


def _scan(data):
    s = scan(data)
    size = s.end if s.end is not None else len(data)
    print(f"protocol {s.protocol}, {size} bytes, severity: {s.severity}")
    for title, items in (("imports", s.imports), ("calls", s.calls)):
        print(f"{title}:" if items else f"{title}: none")
        for f in items:
            print(f"  {f.offset:>8}: {f.opcode:<12} {f.severity:<9} {f.target} ({f.reason})")
    if s.error is not None:
        message, offset = s.error
        print(f"stopped: {message} at byte {offset}")
        print(f"unreadable: {message} at byte {offset}", file=sys.stderr)
    if s.limit is not None:
        message, offset = s.limit
        print(f"limit: {message} at byte {offset} (safe_loads refuses the stream)",
              file=sys.stderr)
    for f in s.flagged("unknown"):
        print(f"{f.severity}: {f.target} at byte {f.offset} ({f.reason})", file=sys.stderr)
    if s.dangerous:
        return EXIT_DANGEROUS
    if s.severity != "safe" or s.error is not None:
        return EXIT_UNKNOWN
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m brinery", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("dis", "print the disassembly"),
                        ("scan", "list imports and calls, flag the dangerous ones")):
        p = sub.add_parser(name, help=help_, description=help_,
                           epilog=SCAN_EXIT_STATUSES if name == "scan" else None,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("file", help="a pickle file, or - for standard input")
    args = parser.parse_args(argv)
    try:
        data = _read(args.file)
    except OSError as e:
        print(f"brinery {args.command}: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    return _dis(data) if args.command == "dis" else _scan(data)


if __name__ == "__main__":
    sys.exit(main())
