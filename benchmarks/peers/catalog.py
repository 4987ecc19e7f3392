"""The systems in the table, how each is configured, and what each guarantees."""

from __future__ import annotations

from benchmarks.peers import systems as s

SYSTEMS: list[s.System] = [
    s.System(
        "actorkit", "actorkit", [],
        "durable by default: a reply leaves only after its state change is group-committed "
        "to SQLite (WAL)",
        s.run_actorkit,
    ),
    s.System(
        "rivetkit-2.3", "RivetKit 2.3 (tuned)", ["rivetkit-2.3"],
        "state saved on a 1 s throttle after the reply: an acknowledged change can be lost "
        "on a crash",
        s.run_rivet23,
        # The machine sets RUST_BACKTRACE=1, which makes the engine capture a backtrace for
        # every internal error value; the engine's guard leaves Nagle on unless told.
        env_changes={"RUST_BACKTRACE": None, "RUST_LIB_BACKTRACE": None, "RUST_LOG": None,
                     "RIVET__GUARD__TCP_NODELAY": "true", "NODE_ENV": "production"},
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
    ),
    s.System(
        "ray", "Ray", ["ray"],
        "not durable: state lives in the actor's process memory only",
        s.run_ray,
    ),
    s.System(
        "durable-actors", "durable-actors", ["durable-actors"],
        "persisted fields in a SQLite database per actor",
        s.run_durable,
    ),
]

NOT_MEASURED = {
    "Reboot": "not installable here: its local runtime needs Docker/Envoy",
    "Dapr": "not installable here: the CLI downloads the daprd sidecar and placement "
            "binaries from GitHub (no registry package)",
    "Temporal": "not installable here: the dev server/CLI binary is downloaded from GitHub "
                "(no registry package)",
}
