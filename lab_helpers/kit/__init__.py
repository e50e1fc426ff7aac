"""The kit's own tooling: the command line, doctor, building labs from solutions, prepare, present, grading with nbgrader, and the class-target commands."""

from ..lazy import attach_stub

# the names it exports are listed once, in __init__.pyi; each module loads on first use of one of them
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
