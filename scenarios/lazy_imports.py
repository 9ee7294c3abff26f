"""Deferred imports: lazy package attributes, and a function run right after a module is first
imported (a post-import hook).

``lazy_attributes`` gives a package a PEP 562 ``__getattr__`` that imports a name's module
on first use, so ``import scenarios`` / ``import agents`` stay cheap.

``import scenarios`` must leave our ids in Gymnasium's registry, but importing
Gymnasium (and NumPy under it) is most of the time a listing or a refused name
takes. So where Gymnasium is not imported yet, the registration waits for it:
a finder on ``sys.meta_path`` wraps Gymnasium's loader so that the ids are
registered the moment ``import gymnasium`` completes, before any caller can
ask it to make one. (``wrapt.register_post_import_hook`` does the same; this is
the dozen lines of it we need, without the dependency.)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds ``name`` with the other finders, and wraps its loader to call ``callback`` after it."""

    def __init__(self, name: str, callback: Callable[[], None]) -> None:
        self.name, self.callback = name, callback

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once: the real finders do the finding
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader, callback = spec.loader, self.callback
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            callback()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def when_imported(name: str, callback: Callable[[], None]) -> None:
    """Call ``callback()`` once ``name`` is imported: now if it already is, else right after its import."""
    if name in sys.modules:
        callback()
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


def lazy_attributes(package: str, table: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``table`` maps each name to the module that
    defines it, imported on first use and cached in ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(importlib.import_module(table[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module '{package}' has no attribute '{name}'")

    return __getattr__
