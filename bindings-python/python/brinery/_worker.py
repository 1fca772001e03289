"""The spawned pool worker's entry point where brinery before the ``brinery.pool``
package had it: a parent running an older brinery (``Pool(python=)`` naming this
interpreter) starts its workers with ``from brinery._worker import main``. The worker
itself is ``brinery.pool._worker``."""

from .pool._worker import main, serve_forked

__all__ = ["main", "serve_forked"]
