"""Loading side of ``Pickler(namespaces=True)`` streams.

A long-lived process keeps one globals dict per by-value module for its whole life, so
a function loaded from one stream sees the globals an initializer loaded from another
stream set. ``persistent_load`` resolves ``("brinery.ns", module)`` to that dict and
applies ``("brinery.fill", module, {name: value})`` with setdefault semantics (names the
namespace already has are kept).
"""

import builtins
import pickle

__all__ = ["NAMESPACES", "Unpickler", "loads", "namespace", "persistent_load"]

NAMESPACES: dict = {}


def namespace(module_name):
    """The worker-lifetime globals dict of ``module_name``."""
    ns = NAMESPACES.get(module_name)
    if ns is None:
        ns = NAMESPACES[module_name] = {"__name__": module_name, "__builtins__": builtins}
    return ns


def persistent_load(pid):
    if isinstance(pid, tuple) and pid:
        if pid[0] == "brinery.ns" and len(pid) == 2:
            return namespace(pid[1])
        if pid[0] == "brinery.fill" and len(pid) == 3:
            ns = namespace(pid[1])
            for k, v in pid[2].items():
                ns.setdefault(k, v)
            return None
    raise pickle.UnpicklingError(f"unsupported persistent id: {pid!r}")


class Unpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves brinery namespace persistent ids."""

    def persistent_load(self, pid):
        return persistent_load(pid)


def loads(data):
    import io

    return Unpickler(io.BytesIO(data)).load()
