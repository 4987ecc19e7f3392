"""The counter as a Restate virtual object, served by hypercorn (HTTP/2) for the benchmark."""

from __future__ import annotations

import restate  # type: ignore[import-not-found]

counter = restate.VirtualObject("counter")


@counter.handler()
async def increment(ctx: restate.ObjectContext, amount: int) -> int:
    count: int = (await ctx.get("count")) or 0
    count += amount
    ctx.set("count", count)
    return count


app = restate.app(services=[counter])
