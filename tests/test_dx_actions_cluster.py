"""Internal actions in a cluster (two real nodes on PostgreSQL): safe by default.

Without the cluster secret a call forwarded from another node cannot prove it comes from an
actor — a client can send the same request, chain header included — so only calls that
start on the owner's node are inside; with it, a peer's actor code is inside too. See
docs/actions.md#internal-actions.
"""

from __future__ import annotations

import httpx
import pytest

from actorkit import ActorError, AsyncClient
from apps.dx_actions_app import Notes
from cluster_fixtures import ClusterFactory

APP = "tests/apps/dx_actions_app.py:registry"


async def test_internal_actions_across_nodes(cluster: ClusterFactory) -> None:
    nodes = cluster(2, app=APP)
    async with AsyncClient(nodes[0].url) as a, AsyncClient(nodes[1].url) as b:
        # Each node activates what it is asked for first: "t" and "u" on node 0, "c" on 1.
        target_id = await a.get_or_create(Notes, "t").resolve()
        assert await a.get_or_create(Notes, "t").expired() == []
        assert await a.get_or_create(Notes, "u").expired() == []
        assert await b.get_or_create(Notes, "c").expired() == []
        for client in (a, b):  # a client, on the owner's node or forwarded
            with pytest.raises(ActorError) as info:
                await client.get(Notes, "t").expire()
            assert info.value.code == "action_not_found"
        # A forged chain header does not make a client "inside".
        async with httpx.AsyncClient() as raw:
            for node in nodes:
                forged = await raw.post(
                    f"{node.url}/actors/{target_id}/actions/expire",
                    json={"args": ["forged"]},
                    headers={"x-actorkit-chain": "node:1:secret", "x-actorkit-hops": "1"},
                )
                assert forged.status_code == 404, forged.text
                assert forged.json()["code"] == "action_not_found"
        # An actor on the same node calls it; one on the other node is treated as a client.
        assert await a.get(Notes, "u").expire_other("t") == ["from u"]
        with pytest.raises(ActorError) as info:
            await b.get(Notes, "c").expire_other("t")
        assert info.value.code == "action_not_found"
        assert await b.get(Notes, "t").expired() == ["from u"]


async def test_internal_actions_across_nodes_with_the_cluster_secret(
    cluster: ClusterFactory,
) -> None:
    """With ``ACTORKIT_CLUSTER_SECRET`` a peer's actor code is inside; clients still are not."""
    nodes = cluster(2, app=APP, env={"ACTORKIT_CLUSTER_SECRET": "s3cret"})
    async with AsyncClient(nodes[0].url) as a, AsyncClient(nodes[1].url) as b:
        await a.get_or_create(Notes, "t").resolve()  # owned by node 0
        assert await b.get_or_create(Notes, "c").expired() == []  # owned by node 1
        assert await b.get(Notes, "c").expire_other("t") == ["from c"]
        for client in (a, b):
            with pytest.raises(ActorError) as info:
                await client.get(Notes, "t").expire()
            assert info.value.code == "action_not_found"
