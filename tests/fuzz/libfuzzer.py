"""One target under atheris (libFuzzer, coverage-guided): ``python -m fuzz.libfuzzer TARGET
[--argv0 SCRIPT] [--preload MODULE] [libFuzzer flags] [corpus dirs]``. ``python -m fuzz``
runs it per target; libFuzzer re-executes ``SCRIPT`` (a wrapper that runs this module with the
same target) for ``-merge=1``.

actorkit and the targets are imported under atheris' instrumentation, so the coverage of
their Python code steers the mutations (msgspec's C decoders are exercised but not measured).
"""

from __future__ import annotations

import importlib
import sys

import atheris


def main(argv: list[str]) -> None:
    name, *rest = argv[1:]
    argv0, preload = argv[0], None
    if rest[:1] == ["--argv0"]:
        argv0, rest = rest[1], rest[2:]
    if rest[:1] == ["--preload"]:
        preload, rest = rest[1], rest[2:]
    with atheris.instrument_imports(include=["actorkit", "fuzz"]):
        from fuzz.targets import TARGETS

        fn = TARGETS[name].load()
    if preload:
        importlib.import_module(preload)
    atheris.Setup([argv0, *rest], fn)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
