"""Model Inversion Lab helpers: the plumbing behind the notebooks, in subpackages that follow the story.

data -> targets -> defences -> service -> attacks -> judges -> evaluation -> governance -> exam -> ui -> kit:
each subpackage imports only from those before it. A lesson imports a name from the subpackage that holds
the idea (`from lab_helpers.attacks import invert_white_box`); the few names every lab uses are here too.
Names here load on first use, so `import lab_helpers` does no work and pulls in no heavy library.
"""
from __future__ import annotations

import importlib

__version__ = "0.2.0"

# the few names every lab uses -> the subpackage (or shared module) that holds them
_EXPORTS = {"load_faces": "data", "load_people": "data", "placeholder": "ui", "percent": "formatting"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lab_helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
