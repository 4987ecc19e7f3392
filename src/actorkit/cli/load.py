"""Load ``module:attr`` or ``path/to/app.py:attr`` — the registry a command serves."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from actorkit.registry import Registry

__all__ = ["AppLoadError", "load_registry"]


class AppLoadError(Exception):
    pass


def load_registry(target: str) -> Registry:
    """``"app:registry"`` → the ``Registry`` named ``registry`` in module ``app``."""
    module_part, _, attr = target.partition(":")
    attr = attr or "registry"
    if not module_part:
        raise AppLoadError(f"expected MODULE:ATTRIBUTE (e.g. app:registry), got {target!r}")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if module_part.endswith(".py") or os.sep in module_part:
        path = Path(module_part).resolve()
        if not path.is_file():
            raise AppLoadError(f"no such file: {module_part}")
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))  # like `python app.py`: siblings import
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            if exc.name and module_part.startswith(exc.name):
                raise AppLoadError(f"cannot import module {module_part!r}: {exc}") from None
            raise
    registry = getattr(module, attr, None)
    if not isinstance(registry, Registry):
        raise AppLoadError(f"{module_part}:{attr} is not an actorkit Registry")
    return registry
