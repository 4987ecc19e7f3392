"""Simulated power loss (``tests/powerloss``): the runtime is SIGKILLed at a seeded random
I/O step and every write it had not synced is rolled back, as a disk would lose it. The
short form of ``scripts/powerloss`` (which runs 200 and more)."""

from __future__ import annotations

from pathlib import Path

from powerloss.harness import run_losses

LOSSES = 20


def test_powerloss_default_mode_loses_no_acknowledged_write(tmp_path: Path) -> None:
    report = run_losses(tmp_path, "durable", LOSSES, seed=14)
    assert report.problems == []
    assert report.losses == LOSSES
    assert report.acks > LOSSES  # the losses came while writes were being acknowledged
    assert report.undone > 0  # and they did discard unsynced writes
    assert report.lost == 0


def test_powerloss_default_mode_survives_a_disk_that_kept_some_unsynced_sectors(
    tmp_path: Path,
) -> None:
    # Harsher: each unsynced sector (and truncate) may also have been written back, in any
    # combination: torn and reordered writes. SQLite's WAL checksums must reject them.
    report = run_losses(tmp_path, "durable", LOSSES // 2, seed=41, keep_some=True)
    assert report.problems == []
    assert report.kept > 0
    assert report.lost == 0


def test_powerloss_shim_discards_writes_that_were_never_synced(tmp_path: Path) -> None:
    # The self-test: after one durable write per actor the driver goes synchronous=OFF, so
    # the same kill -9 that keeps every acknowledged write (the page cache survives it)
    # loses the later ones after the rollback. A shim that did nothing would pass the
    # default-mode test vacuously.
    killed = run_losses(tmp_path / "kill", "unsafe", 3, seed=3, roll=False)
    assert killed.problems == []
    assert killed.acks > 0
    assert killed.lost == 0

    lost = run_losses(tmp_path / "loss", "unsafe", 3, seed=3)
    assert lost.problems == []
    assert lost.losses == 3
    assert lost.undone > 0  # writes to synced files undone, not only new files removed
    assert lost.lost > 0


def test_powerloss_relaxed_mode_loses_only_its_window(tmp_path: Path) -> None:
    # Relaxed mode replies before saving, so losses are expected, but only of writes the
    # save interval had not yet covered: no lost write was followed, more than one interval
    # later, by the commits that must have carried it (see powerloss.harness._Books).
    report = run_losses(tmp_path, "relaxed", 5, seed=5)
    assert report.problems == []
    assert report.losses == 5
    assert report.acks > 0
    assert report.beyond_window == 0
