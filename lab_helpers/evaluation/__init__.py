"""Defences measured: each at several settings, attacked and judged, with the model's accuracy beside; one inversion run; lab 08's attacker with a prior."""

from ..lazy import attach_stub

# the names it exports are listed once, in __init__.pyi; each module loads on first use of one of them
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
