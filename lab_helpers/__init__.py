"""Model Inversion Lab helpers: the plumbing behind the notebooks, in subpackages that follow the story.

data -> targets -> defences -> service -> attacks -> judges -> evaluation -> governance -> classroom -> exam -> ui
-> kit: each subpackage imports only from those before it. A lesson imports a name from the subpackage that holds
the idea (`from lab_helpers.attacks import invert_white_box`); the few names every lab uses are here too.
Every name loads on first use, so `import lab_helpers` does no work and pulls in no heavy library.
"""
from __future__ import annotations

from .lazy import attach

__version__ = "0.2.0"

# the few names every lab uses, by the subpackage (or shared module) that holds them
__getattr__, __dir__, __all__ = attach(__name__, {"data": ["load_faces", "load_people"], "ui": ["placeholder"],
                                                  "formatting": ["percent"]})
