"""actorkit: stateful actors for Python.

Example::

    from actorkit import Actor, Registry, action

    class Counter(Actor):
        state = {"count": 0}

        @action
        def increment(self, amount: int = 1) -> int:
            self.state["count"] += amount
            return self.state["count"]

    registry = Registry(Counter)
"""

from actorkit._runtime.actor import Actor, action, blocking
from actorkit._runtime.auth import AuthRequest
from actorkit.client.base import ActorHandle, AsyncClient
from actorkit.client.sync import Client
from actorkit.errors import ActorError, ActorkitError, FencedError, StorageError, UserError
from actorkit.options import ActorOptions, Limits
from actorkit.registry import Registry

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "ActorError",
    "ActorHandle",
    "ActorOptions",
    "ActorkitError",
    "AsyncClient",
    "AuthRequest",
    "Client",
    "FencedError",
    "Limits",
    "Registry",
    "StorageError",
    "UserError",
    "__version__",
    "action",
    "blocking",
]
