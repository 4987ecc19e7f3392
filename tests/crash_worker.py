"""Driver script for ``test_crash.py``: a real process that the test ``kill -9``s.

    python tests/crash_worker.py run DATA_DIR LOG_FILE N_ACTORS
        Increments counters ``counter["0"] … counter[N-1]`` forever, one task per actor.
        Before each call it appends ``A <actor>`` to LOG_FILE, after the reply ``K <actor>
        <count>``; each line is one unbuffered ``write`` so a kill never loses a line that
        was written. Prints ``ready`` once the storage is open.

    python tests/crash_worker.py report DATA_DIR N_ACTORS
        Prints the counters as JSON (``{"0": count, …}``; 0 for actors never created).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from actorkit import Actor, ActorError, Registry, action


class Counter(Actor):
    state = {"count": 0}

    @action
    def increment(self) -> int:
        self.state["count"] += 1
        return int(self.state["count"])

    @action
    def get(self) -> int:
        return int(self.state["count"])


registry = Registry(Counter)


async def run(data_dir: str, log_path: str, n_actors: int) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    async with registry.test_client(f"sqlite:///{data_dir}") as client:
        print("ready", flush=True)

        async def pump(i: int) -> None:
            handle = client.get_or_create(Counter, str(i))
            while True:
                os.write(fd, f"A {i}\n".encode())
                count = await handle.increment()
                os.write(fd, f"K {i} {count}\n".encode())

        await asyncio.gather(*(pump(i) for i in range(n_actors)))


async def report(data_dir: str, n_actors: int) -> None:
    counts: dict[str, int] = {}
    async with registry.test_client(f"sqlite:///{data_dir}") as client:
        for i in range(n_actors):
            try:
                counts[str(i)] = await client.get(Counter, str(i)).get()
            except ActorError as err:
                if err.code != "actor_not_found":
                    raise
                counts[str(i)] = 0
    print(json.dumps(counts), flush=True)


def main(argv: list[str]) -> None:
    data_dir = os.path.abspath(argv[1])
    if argv[0] == "run":
        asyncio.run(run(data_dir, argv[2], int(argv[3])))
    elif argv[0] == "report":
        asyncio.run(report(data_dir, int(argv[2])))
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
