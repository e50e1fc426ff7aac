"""Subpackages export their names lazily: a name's module loads on first use, so importing a subpackage does no work.

The same pattern as scientific Python's `lazy_loader` (scikit-image, NetworkX): each subpackage's `__init__.py`
lists, module by module, the names it exports; `from lab_helpers.attacks import invert_white_box` then imports
`lab_helpers.attacks.mi_face` and nothing else, so a lab that needs no PyTorch never loads it.
"""
from __future__ import annotations

import importlib
from typing import Callable


def attach(package: str, exports: dict[str, list[str]]) -> tuple[Callable, Callable, list[str]]:
    """(__getattr__, __dir__, __all__) for a subpackage that exports `exports` = {module: [names]} lazily."""
    home = {name: module for module, names in exports.items() for name in names}
    if len(home) != sum(len(names) for names in exports.values()):
        raise ValueError(f"{package}: a name is exported by two modules")

    def __getattr__(name: str):
        if name in home:
            return getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(home)

    return __getattr__, __dir__, sorted(home)
