"""Big dumps of mid-sized payloads in their steady state, brinery against pickle.

    python bindings-python/benches/steady_sizes.py [MB SIZE ...] [--processes 5]

For each output of MB megabytes made of SIZE-byte ``bytes`` objects, each library runs
12 dumps in each of ``--processes`` fresh processes (the libraries taking turns); a
process's figure is the median of its last nine dumps (the first ones fault the output
in), and the figure printed is the median over the processes, with their range. At
the sizes where pickle's growing buffer lands on memory the process already has,
neither library faults a page and the time is one memory-bound copy, which moves by up
to 2x from one process to the next: ``compare_sizes.py``'s best-of rounds alone cannot
tell the libraries apart there (issue 26, item 2). Defaults: 10 MB of 256 B, 15 and 20
MB of 512 B, 20 MB of 1 KiB and 256 B.
"""

import argparse
import os
import statistics
import subprocess
import sys

CHILD = """
import sys, time, pickle, brinery
mb, size = int(sys.argv[1]), int(sys.argv[2])
obj = [bytes([i % 251]) * size for i in range(mb * 1024000 // size)]
dumps = pickle.dumps if sys.argv[3] == "pickle" else brinery.dumps
ts = []
for _ in range(12):
    t = time.thread_time()
    dumps(obj, 5)
    ts.append(time.thread_time() - t)
ts = sorted(ts[3:])
print(ts[len(ts) // 2])
"""

DEFAULT = [(10, 256), (15, 512), (20, 512), (20, 1024), (20, 256)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, help="pairs of MB and payload size")
    quick = bool(os.environ.get("BRINERY_BENCH_QUICK"))
    ap.add_argument("--processes", type=int, default=3 if quick else 5)
    args = ap.parse_args()
    pairs = list(zip(args.sizes[::2], args.sizes[1::2])) or DEFAULT
    print(f"Python {sys.version.split()[0]}: median over {args.processes} processes of each one's steady dumps")
    for mb, size in pairs:
        res = {"brinery": [], "pickle": []}
        for _ in range(args.processes):
            for lib in res:
                out = subprocess.run([sys.executable, "-c", CHILD, str(mb), str(size), lib],
                                     env=dict(os.environ), capture_output=True, text=True, check=True)
                res[lib].append(float(out.stdout))
        b, p = (statistics.median(res[lib]) for lib in ("brinery", "pickle"))
        ranges = "  ".join(f"{lib} {min(v) * 1e3:.2f}-{max(v) * 1e3:.2f}" for lib, v in res.items())
        print(f"  {mb:4} MB of {size:5} B   brinery {b * 1e3:7.2f} ms   pickle {p * 1e3:7.2f} ms   {b / p:5.2f}x   ({ranges})")


if __name__ == "__main__":
    main()
