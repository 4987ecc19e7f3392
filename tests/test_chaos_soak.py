"""The soak's verdict (tests/chaos/soak.py): flat, growing memory, leaking files, stalled.
The soak itself is ``scripts/soak`` (30 minutes; too long for the test suite)."""

from __future__ import annotations

from chaos.soak import Sample, verdict


def samples(rss: list[int], fds: list[int], ok: list[int] | None = None) -> list[Sample]:
    ok = ok or list(range(0, 100 * len(rss), 100))
    return [
        Sample(10.0 * i, r, f, o, 0) for i, (r, f, o) in enumerate(zip(rss, fds, ok, strict=True))
    ]


def test_soak_verdict_ignores_the_warm_up_and_noise() -> None:
    # A climb during the warm-up (the first fifth), then noise around a level.
    rss = [40_000, 50_000, 60_000, 61_000, 60_500, 61_200, 60_800, 61_000, 60_900, 61_100]
    fds = [20, 30, 32, 31, 33, 32, 30, 31, 33, 32]
    flat, lines = verdict(samples(rss, fds))
    assert flat, lines


def test_soak_verdict_catches_growing_memory() -> None:
    rss = [60_000 + 3_000 * i for i in range(15)]
    flat, lines = verdict(samples(rss, [30] * 15))
    assert not flat
    assert any("RSS" in line and "GROWING" in line for line in lines)


def test_soak_verdict_catches_leaking_files() -> None:
    fds = [30 + 5 * i for i in range(15)]
    flat, lines = verdict(samples([60_000] * 15, fds))
    assert not flat
    assert any("open files" in line and "GROWING" in line for line in lines)


def test_soak_verdict_catches_a_server_that_stopped_answering() -> None:
    ok = [100 * min(i, 8) for i in range(15)]
    flat, lines = verdict(samples([60_000] * 15, [30] * 15, ok))
    assert not flat
    assert "no call succeeded in the last third" in lines
