"""Crashes found by the fuzzer whose fix is in flight or not yet assigned, by signature.

``tests/test_fuzz.py`` expects-to-fail a target only while every failure it finds matches one
of these signatures; any other failure fails the test. Remove an entry once its fix has
landed (the test then enforces it: a reproducer for each is in the corpus).
"""

from __future__ import annotations

__all__ = ["KNOWN", "known_issue"]

#: (issue item, what, a substring of the failure's traceback)
KNOWN: tuple[tuple[str, str, str], ...] = (
    (
        "issue 14, item 6",
        "JSON/msgpack nested ~1,000 deep: uncaught RecursionError",
        "RecursionError: maximum recursion depth exceeded while deserializing",
    ),
    (
        "issue 14, item 6",
        "JSON nested ~1,000 deep in the X-Actorkit-Params header or the key query (json.loads)",
        "RecursionError: maximum recursion depth exceeded while decoding a JSON",
    ),
    (
        "found by scripts/fuzz (server/fastpath.py)",
        "X-Actorkit-Hops of more than 4,300 digits: int() raises ValueError out of the app",
        "hops = int(value) if value.isdigit() else 0",
    ),
    (
        "found by scripts/fuzz (server/forward.py forwarded_hops)",
        "X-Actorkit-Hops with a non-ASCII digit ('\\xb2') or > 4,300 digits: 500",
        "return int(value) if value and value.isdigit() else 0",
    ),
    (
        "issue 14, item 5",
        "a text frame on an actorkit.msgpack connection: TypeError",
        "TypeError: a bytes-like object is required, not 'str'",
    ),
)


def known_issue(traceback: str) -> str | None:
    """The known issue a failure's traceback matches, or None."""
    for item, what, signature in KNOWN:
        if signature in traceback:
            return f"{item}: {what}"
    return None
