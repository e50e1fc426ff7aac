"""Lab 07: a model card whose leakage numbers the attacks compute, a privacy review, and a release gate."""

from ..lazy import attach_stub

# the names it exports are listed once, in __init__.pyi; each module loads on first use of one of them
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
