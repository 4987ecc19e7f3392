"""Crashes found by the fuzzer whose fix is in flight or not yet assigned, by signature.

``tests/test_fuzz.py`` expects-to-fail a target only while every failure it finds matches one
of these signatures; any other failure fails the test. Remove an entry once its fix has
landed (the test then enforces it: a reproducer for each is in the corpus).
"""

from __future__ import annotations

__all__ = ["KNOWN", "known_issue"]

#: (issue item, what, a substring of the failure's traceback)
KNOWN: tuple[tuple[str, str, str], ...] = ()


def known_issue(traceback: str) -> str | None:
    """The known issue a failure's traceback matches, or None."""
    for item, what, signature in KNOWN:
        if signature in traceback:
            return f"{item}: {what}"
    return None
