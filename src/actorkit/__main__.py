"""``python -m actorkit`` ≡ the ``actorkit`` command."""

from __future__ import annotations

import sys

from actorkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
