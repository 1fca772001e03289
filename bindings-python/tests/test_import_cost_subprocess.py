"""What `import brinery` costs: a spawned pool worker imports brinery, so every module it
pulls in is paid once per worker start. The pool, the safe loader, the class registry
and the reductions for `dataclasses`/`typing` come in only when used; these tests fail
if an eager import creeps back, and check that the lazily added pieces still work."""

import json

from helpers import load_without_brinery, run_python

# Heavy modules that neither `import brinery` nor a spawned worker's start may import.
HEAVY = ["concurrent.futures", "inspect", "dataclasses", "typing", "hashlib", "logging", "traceback"]


def _imported_after(statement):
    code = f"""
        import json, sys
        before = set(sys.modules)
        {statement}
        print(json.dumps(sorted(set(sys.modules) - before)))
    """
    return set(json.loads(run_python(code)))


def test_import_brinery_stays_light():
    new = _imported_after("import brinery")
    assert not new & set(HEAVY), sorted(new & set(HEAVY))
    assert "brinery.pool" not in new and "brinery.safe" not in new


def test_spawned_worker_entry_point_stays_light():
    # (brinery._worker: where a parent of an older brinery starts its workers)
    for entry in ("brinery.pool._worker", "brinery._worker"):
        new = _imported_after(f"from {entry} import main")
        assert not new & set(HEAVY), (entry, sorted(new & set(HEAVY)))
        assert "brinery.pool._pool" not in new, entry


def test_first_dumps_stays_light():
    new = _imported_after("import brinery; brinery.dumps(lambda x: x + 1)")
    assert not new & set(HEAVY), sorted(new & set(HEAVY))


def test_lazy_names_resolve_to_the_real_objects():
    import brinery
    import brinery.pool
    import brinery.safe

    assert brinery.Pool is brinery.pool.Pool
    assert brinery.safe_loads is brinery.safe.safe_loads
    assert brinery.scan is brinery.safe.scan
    assert set(brinery.__all__) <= set(dir(brinery))
    for name in brinery.__all__:
        assert getattr(brinery, name) is not None
    try:
        brinery.no_such_name
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("a missing attribute must raise AttributeError")


def test_dataclass_sentinels_reduce_when_dataclasses_comes_after_the_first_dump():
    # The first dump happens before `dataclasses` exists in the process; the class dumped
    # afterwards still gets its fields' MISSING sentinel back as the real one.
    code = """
        import sys
        import brinery
        brinery.dumps([1, 2])
        assert "dataclasses" not in sys.modules
        import dataclasses, typing
        @dataclasses.dataclass
        class Point:
            x: int
            tags: list = dataclasses.field(default_factory=list)
        T = typing.TypeVar("T", bound=int)
        sys.stdout.buffer.write(brinery.dumps((Point, T, dataclasses.MISSING)))
    """
    data = run_python(code)
    out = load_without_brinery(
        data,
        """
        import dataclasses
        Point, T, missing = obj
        print(Point(3), missing is dataclasses.MISSING,
              dataclasses.fields(Point)[0].default is dataclasses.MISSING,
              T.__name__, T.__bound__ is int, T.__module__)
        """,
    )
    assert out.split() == ["Point(x=3,", "tags=[])", "True", "True", "T", "True", "__main__"], out


