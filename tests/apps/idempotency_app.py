"""The app the idempotency tests serve: a ledger that counts how often its actions ran.

``state["runs"]`` counts committed runs; ``vars["executions"]`` counts every execution of
actor code in this process, including ones that were rolled back. ``add`` returns the run
number it got, so a repeat that was answered from the first outcome is visible as such.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from actorkit import Actor, ActorOptions, Registry, UserError, action


class Ledger(Actor):
    state = {"runs": 0, "total": 0}
    options = ActorOptions(idempotency_max_keys=100)

    def create_vars(self) -> dict[str, Any]:
        return {"executions": 0, "waiting": 0, "gate": asyncio.Event()}

    def _add(self, amount: int) -> dict[str, int]:
        self.vars["executions"] += 1
        self.state["runs"] += 1
        self.state["total"] += amount
        return {"run": self.state["runs"], "total": self.state["total"], "pid": os.getpid()}

    @action
    def add(self, amount: int) -> dict[str, int]:
        return self._add(amount)

    @action
    async def held_add(self, amount: int) -> dict[str, int]:
        """Like ``add``, but only once ``release()`` was called."""
        self.vars["waiting"] += 1
        await self.vars["gate"].wait()
        return self._add(amount)

    @action(interleave=True)
    def release(self) -> None:
        self.vars["gate"].set()

    @action
    def refuse(self, amount: int) -> None:
        self.vars["executions"] += 1
        self.state["total"] += amount  # rolled back with the error
        raise UserError("refused", code="refused", metadata={"execution": self.vars["executions"]})

    @action
    def total(self) -> int:
        return int(self.state["total"])

    @action(interleave=True)
    def counts(self) -> dict[str, int]:
        return {
            "runs": self.state["runs"],
            "total": self.state["total"],
            "executions": self.vars["executions"],
            "waiting": self.vars["waiting"],
        }


registry = Registry(Ledger)
