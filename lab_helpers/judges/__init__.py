"""Referees independent of the target, for reconstructed faces: an evaluator CNN, a correlation judge, a lineup, and the closer-than-any-public-face check."""

from ..lazy import attach_stub

# the names it exports are listed once, in __init__.pyi; each module loads on first use of one of them
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
