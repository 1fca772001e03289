#!/usr/bin/env python3
"""brinery against Dask's default serializers on one Dask cluster, in one run.

Run from the repository root, in the venv where brinery and distributed are installed:

    python bindings-python/benches/dask_compare.py

One LocalCluster (two worker processes, one thread each, ``--preload brinery.dask``)
and three clients on it: Dask's default (``["dask", "pickle"]``, cloudpickle for
``__main__`` code), brinery (``["brinery", "dask", "pickle"]``) and brinery
cross-version (``["brinery-cross-version", ...]``: code travels with its source; the
workers run this interpreter, so they load the bytecode). This script is ``__main__``,
so its functions and classes travel by value, as a user's would.

Figures, best of a few repeats, brinery / default ratios last:
- graph bytes: what ``submit`` sends the scheduler for one task whose closure holds a
  ``__main__`` class and a small table (the client-side graph encoding);
- submit one by one: N ``submit`` calls then ``gather``, tasks per second;
- map: one ``map`` over N inputs then ``gather``, tasks per second;
- result bytes and results: a ``__main__`` object holding 20k ``__main__`` records,
  encoded in this process by each client's families, then computed on a worker and
  fetched (one object: Dask encodes the items of a top-level list, tuple or dict one by
  one, whatever the family, which is slow for both);
- 50 MB array: ``scatter``, a task, ``gather``.
With a brinery client, by-value objects in the graph travel sealed in brinery streams
that the scheduler forwards inside Dask's pickle; with the default client, the
scheduler re-encodes them with cloudpickle.
"""

import sys
import time

import distributed
import numpy as np
from distributed.protocol import serialize, to_serialize

import brinery.dask

N_SUBMIT = 200
N_MAP = 1000
N_RECORDS = 20_000
REPEATS = 2
MB = 1 << 20


class Scaler:
    def __init__(self, factor, table):
        self.factor = factor
        self.table = table

    def apply(self, x):
        return x * self.factor + self.table[x % len(self.table)]


class Record:
    def __init__(self, i):
        self.id = i
        self.name = f"row{i}"
        self.values = [i, i + 1.5, -i]


class Table:
    def __init__(self, records):
        self.records = records

    def __len__(self):
        return len(self.records)


def make_task():
    scaler = Scaler(3, {i: i * i for i in range(200)})

    def task(x):
        return scaler.apply(x)

    return task


def make_table(n):
    return Table([Record(i) for i in range(n)])


def graph_bytes(client, fn):
    from dask._expr import LLGExpr
    from dask._task_spec import Task

    expr = LLGExpr({"k": Task("k", fn, 1)})
    with client.as_current():
        header, frames = serialize(to_serialize(expr), on_error="raise")
    family = header.get("sub-header", header)["serializer"]
    return family, sum(memoryview(f).nbytes for f in frames)


def best(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def submit_one_by_one(client, fn):
    def run():
        with client.as_current():
            futures = [client.submit(fn, i, pure=False) for i in range(N_SUBMIT)]
            client.gather(futures)
    return N_SUBMIT / best(run)


def map_many(client, fn):
    def run():
        with client.as_current():
            client.gather(client.map(fn, range(N_MAP), pure=False))
    return N_MAP / best(run)


def result_bytes(serializers):
    header, frames = serialize(make_table(N_RECORDS), serializers=serializers)
    return sum(memoryview(f).nbytes for f in frames)


def encode_table(serializers):
    table = make_table(N_RECORDS)
    return 1 / best(lambda: serialize(table, serializers=serializers), repeats=5)


def fetch_table(client):
    def run():
        with client.as_current():
            t = client.submit(make_table, N_RECORDS, pure=False).result(timeout=120)
            assert len(t) == N_RECORDS
    return 1 / best(run)


def array_round_trip(client, x):
    def run():
        with client.as_current():
            [fx] = client.scatter([x])
            y = client.submit(np.negative, fx, pure=False).result(timeout=120)
            assert y.nbytes == x.nbytes
    return 1 / best(run)


def main():
    x = np.random.default_rng(0).random(50 * MB // 8)
    task = make_task()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, preload=["brinery.dask"],
                                  silence_logs=40) as cluster:
        default = distributed.Client(cluster, set_as_default=False)
        ours = distributed.Client(cluster, set_as_default=False,
                                  serializers=["brinery", "dask", "pickle"],
                                  deserializers=["brinery", "dask", "pickle"])
        portable = ["brinery-cross-version", "dask", "pickle"]
        xv = distributed.Client(cluster, set_as_default=False, serializers=portable,
                                deserializers=portable)
        with default, ours, xv:
            default.wait_for_workers(2, timeout=60)
            for c in (default, ours, xv):  # first contact: workers load every path
                with c.as_current():
                    c.gather(c.map(task, range(20), pure=False))
            rows = []
            graphs = [graph_bytes(c, task) for c in (default, ours, xv)]
            assert [g[0] for g in graphs] == ["pickle", "brinery", "brinery-cross-version"]
            rows.append(("graph bytes, one closure task", *[g[1] for g in graphs], "bytes"))
            families = (None, ["brinery", "dask", "pickle"], portable)
            rows.append((f"result bytes, {N_RECORDS // 1000}k records",
                         *[result_bytes(f) for f in families], "bytes"))
            rows.append((f"encode {N_RECORDS // 1000}k records here",
                         *[encode_table(f) for f in families], "per s"))
            for name, measure, unit in (
                (f"submit x{N_SUBMIT} then gather", lambda c: submit_one_by_one(c, task), "tasks/s"),
                (f"map x{N_MAP} then gather", lambda c: map_many(c, task), "tasks/s"),
                (f"fetch {N_RECORDS // 1000}k records", fetch_table, "per s"),
                ("50 MB array scatter+task+gather", lambda c: array_round_trip(c, x), "per s"),
            ):
                print(f"measuring {name}", file=sys.stderr, flush=True)
                rows.append((name, measure(default), measure(ours), measure(xv), unit))
    print("ratio = brinery / default (bytes: lower is better; rates: higher is better);"
          " xv = the brinery-cross-version client")
    print(f"{'workload':34} {'default':>12} {'brinery':>12} {'xv':>12} {'unit':>8}"
          f" {'ratio':>7} {'xv ratio':>8}")
    for name, d, o, x, unit in rows:
        print(f"{name:34} {d:12.1f} {o:12.1f} {x:12.1f} {unit:>8} {o / d:7.2f} {x / d:8.2f}")


if __name__ == "__main__":
    main()
