"""Chaos tooling (test code, not product code): the fault proxy, the seeded chaos runs of
``scripts/chaos`` and the soak of ``scripts/soak``. See docs/reliability.md."""
