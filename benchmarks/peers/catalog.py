"""The systems in the table, how each is configured, and what each guarantees."""

from __future__ import annotations

from benchmarks.peers import systems as s

# RivetKit 2.3 "tuned": the machine sets RUST_BACKTRACE=1, which makes the engine capture a
# backtrace for every internal error value; the engine's gateway leaves Nagle on unless
# told (tcp_nodelay); its actor-create and WebSocket rate limits are raised out of the way.
# (Found with `rivet-engine config show`; the runner's own socket to the engine still has
# Nagle on, and no setting for it was found.)
_UNLIMITED = "1000000"
RIVET_TUNED: dict[str, str | None] = {
    "RUST_BACKTRACE": None,
    "RUST_LIB_BACKTRACE": None,
    "RUST_LOG": None,
    "NODE_ENV": "production",
    "RIVET__GUARD__TCP_NODELAY": "true",
    "RIVET__PEGBOARD__ACTOR_CREATE_RATE_LIMIT_REQUESTS": _UNLIMITED,
    "RIVET__PEGBOARD__ACTOR_CREATE_RATE_LIMIT_DRIP_RATE_MS": "1",
    "RIVET__PEGBOARD__GATEWAY_WEBSOCKET_RATE_LIMIT_REQUESTS": _UNLIMITED,
    "RIVET__PEGBOARD__GATEWAY_WEBSOCKET_RATE_LIMIT_DRIP_RATE_MS": "1",
    "RIVET__PEGBOARD__ENVOY_WEBSOCKET_RATE_LIMIT_REQUESTS": _UNLIMITED,
    "RIVET__PEGBOARD__ENVOY_WEBSOCKET_RATE_LIMIT_DRIP_RATE_US": "1",
    "RIVET__PEGBOARD__GATEWAY_WEBSOCKET_OPEN_TIMEOUT_MS": "60000",
}

SYSTEMS: list[s.System] = [
    s.System(
        "actorkit", "actorkit", [],
        "durable by default: a reply leaves only after its state change is group-committed "
        "to SQLite (WAL)",
        s.run_actorkit,
    ),
    s.System(
        "actorkit-relaxed", "actorkit (relaxed)", [],
        "relaxed mode (state_save_interval=1.0), like-for-like with RivetKit's throttle: "
        "state saved at most once a second, replies not held",
        s.run_actorkit,
        env_changes={"ACTORKIT_BENCH_RELAXED": "1"},
    ),
    s.System(
        "rivetkit-2.3", "RivetKit 2.3 (tuned)", ["rivetkit-2.3"],
        "state saved on a 1 s throttle after the reply: an acknowledged change can be lost "
        "on a crash",
        s.run_rivet23,
        env_changes=RIVET_TUNED,
    ),
    s.System(
        "rivetkit-2.3-as-installed", "RivetKit 2.3 (as installed)", ["rivetkit-2.3"],
        "as above",
        s.run_rivet23,
        workloads=["w1_http", "w2_concurrent"],
        skip_note="as-installed run limited to workloads 1 and 2 (see the tuned column)",
        env_changes={"RUST_BACKTRACE": "1"},
    ),
    s.System(
        "rivetkit-2.2.1", "RivetKit 2.2.1 (file system)", ["rivetkit-2.2.1"],
        "file-system driver, state saved on a 1 s throttle after the reply: an acknowledged "
        "change can be lost on a crash",
        s.run_rivet221,
        env_changes={"NODE_ENV": "production"},
    ),
    s.System(
        "restate", "Restate", ["restate-sdk", "restate-server"],
        "durable: each invocation's state change is journaled to its log (RocksDB WAL, fsync "
        "on) before the reply",
        s.run_restate,
        unsupported={
            "w1_ws": ("n/a", "no WebSocket calls (HTTP ingress only)"),
            "w4_broadcast": ("n/a", "no events to connected clients"),
            "w5_cold_wake": ("n/a", "no in-memory actors: state is loaded per invocation"),
        },
    ),
    s.System(
        "ray", "Ray", ["ray"],
        "not durable: state lives in the actor's process memory only",
        s.run_ray,
        unsupported={
            "w1_ws": ("n/a", "no WebSocket calls (Ray's own RPC only)"),
            "w4_broadcast": ("n/a", "no events to connected clients"),
            "w5_cold_wake": ("n/a", "actors do not sleep (one process each, until killed)"),
        },
    ),
    s.System(
        "durable-actors", "durable-actors", ["durable-actors"],
        "persisted fields in a SQLite database per actor",
        s.run_durable,
        unsupported={
            "w1_ws": ("not-measured", "its WebSocket carries messages to on_message, not "
                      "action calls; not wired up in this harness"),
            "w4_broadcast": ("not-measured", "it has Actor.broadcast; not wired up in this "
                             "harness"),
            "w5_cold_wake": ("not-measured", "its idle eviction is not configurable from the "
                             "app; not measured"),
        },
    ),
]

NOT_MEASURED = {
    "Reboot": "not installable here: its local runtime needs Docker/Envoy",
    "Dapr": "not installable here: the CLI downloads the daprd sidecar and placement "
            "binaries from GitHub (no registry package)",
    "Temporal": "not installable here: the dev server/CLI binary is downloaded from GitHub "
                "(no registry package)",
}
