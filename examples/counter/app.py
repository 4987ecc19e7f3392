"""A durable counter served over HTTP on http://127.0.0.1:6420 (state under ./.actorkit).

    python examples/counter/app.py            # or: actorkit dev examples/counter/app.py:registry

Then, from another terminal::

    actorkit call counter my-counter increment 5
    curl -X POST http://127.0.0.1:6420/actors/<actor_id>/actions/increment \\
         -H 'content-type: application/json' -d '{"args": [5]}'
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from actorkit import Actor, Registry, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self, amount: int = 1) -> int:
        self.state["count"] += amount
        self.broadcast("count", self.state["count"])
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])

    def on_request(self, request: Request) -> Any:
        # Raw HTTP: GET /actors/{id}/request/count
        return {"count": self.state["count"], "path": request.url.path}


registry = Registry(Counter)

if __name__ == "__main__":
    registry.run()
