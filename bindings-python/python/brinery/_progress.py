"""The progress bar ``brinery.Pool.map``/``imap`` draw on stderr with ``progress=True``."""

import sys
import time


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.last = 0.0

    def advance(self, n):
        self.done += n
        now = time.monotonic()
        if now - self.last >= 0.1 or self.done == self.total:
            self.last = now
            self.draw(now)

    def draw(self, now):
        rate = self.done / max(now - self.start, 1e-9)
        if self.total:
            frac = self.done / self.total
            bar = "#" * int(frac * 30)
            line = f"\r[{bar:<30}] {self.done}/{self.total} ({rate:,.0f}/s)"
        else:
            line = f"\r{self.done} done ({rate:,.0f}/s)"
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self):
        self.draw(time.monotonic())
        sys.stderr.write("\n")
        sys.stderr.flush()
