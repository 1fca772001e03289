"""The progress bar ``brinery.Pool.map``/``imap`` draw with ``progress=True``: one line
on stderr, or, in a Jupyter kernel, one display updated in place (a notebook keeps every
stderr write as output)."""

import sys
import time


class Progress:
    """A one-line progress bar, redrawn at most ten times a second."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.last = 0.0
        self.display = _NotebookLine() if _in_kernel() else None

    def advance(self, n):
        self.done += n
        now = time.monotonic()
        if now - self.last >= 0.1 or self.done == self.total:
            self.last = now
            self.draw(now)

    def line(self, now):
        rate = self.done / max(now - self.start, 1e-9)
        if self.total:
            frac = self.done / self.total
            bar = "#" * int(frac * 30)
            return f"[{bar:<30}] {self.done}/{self.total} ({rate:,.0f}/s)"
        return f"{self.done} done ({rate:,.0f}/s)"

    def draw(self, now):
        if self.display is not None:
            self.display.show(self.line(now))
            return
        sys.stderr.write("\r" + self.line(now))
        sys.stderr.flush()

    def close(self):
        self.draw(time.monotonic())
        if self.display is None:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _in_kernel():
    """True when stderr is a Jupyter kernel's output stream."""
    return type(sys.stderr).__module__.startswith("ipykernel.")


class _NotebookLine:
    """One ``text/plain`` display, replaced on each redraw (``update_display_data``)."""

    def __init__(self):
        self.handle = None

    def show(self, text):
        from IPython.display import display

        bundle = {"text/plain": text}
        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)
