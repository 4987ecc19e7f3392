"""Optional extras: a missing one fails with the exact ``pip install`` to run."""

from __future__ import annotations

import importlib
import sys

__all__ = ["EXTRAS", "MissingExtra", "require"]

# extra → modules it provides
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("starlette", "uvicorn"),
    "client": ("httpx",),
    "cli": ("rich",),
}


class MissingExtra(SystemExit):
    """Raised (exit status 1) after printing which ``pip install`` fixes it."""


def require(extra: str, command: str) -> None:
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            print(
                f"actorkit {command} needs the {extra!r} extra ({module} is not installed).\n"
                f"Install it with:  pip install 'actorkit[{extra}]'",
                file=sys.stderr,
            )
            raise MissingExtra(1) from None
