"""The package imports and matches pickle's constants and exception types."""

import pickle

import brinery


def test_import_and_constants():
    assert brinery.HIGHEST_PROTOCOL == pickle.HIGHEST_PROTOCOL
    assert brinery.DEFAULT_PROTOCOL == pickle.DEFAULT_PROTOCOL
    assert issubclass(brinery.PicklingError, pickle.PicklingError)
    assert brinery.loads is pickle.loads
